//! `--metrics-listen ADDR`: a run's metrics at `GET /metrics` (Prometheus
//! text format) while it runs, for the same Prometheus that scrapes the
//! servers (the *migration* dashboard's copy row).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::metrics::Metrics;

/// Serves `metrics` on `addr` until the task is dropped (aborted).
pub async fn serve(addr: &str, metrics: Arc<Metrics>) -> std::io::Result<Exporter> {
    let listener = TcpListener::bind(addr).await?;
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let answer = service_fn(move |req: Request<Incoming>| {
                    let metrics = metrics.clone();
                    async move { Ok::<_, Infallible>(reply(&req, &metrics)) }
                });
                // A client that goes away mid-answer is no concern of the run.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), answer)
                    .await;
            });
        }
    });
    Ok(Exporter(task))
}

fn reply(req: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    let (status, body) = match req.uri().path() {
        "/metrics" => (200, metrics.encode()),
        _ => (404, b"not found\n".to_vec()),
    };
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

/// The exporter's task; stops serving when dropped.
pub struct Exporter(JoinHandle<()>);

impl Drop for Exporter {
    fn drop(&mut self) {
        self.0.abort();
    }
}
