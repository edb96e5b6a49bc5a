//! The admin listener: `/metrics` (Prometheus text format), `/healthz`
//! (the process answers), `/readyz` (routes loaded and serving),
//! `POST /reload` (reload config and mappings; 200, or 422 with the problems
//! while the previous version keeps serving), `/migration/...` (live
//! migrations: `crate::live::admin`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use super::State;

/// Serves the admin endpoints.
pub struct AdminApp {
    /// Shared server state.
    pub state: Arc<State>,
}

fn reply(status: u16, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("content-length", body.len())
        .body(body)
        .unwrap_or_default()
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let path = session.req_header().uri.path().to_string();
        let method = session.req_header().method.clone();
        match path.as_str() {
            "/reload" if method == http::Method::POST => {
                match super::reload::reload(&self.state, "admin").await {
                    Ok(()) => reply(200, "application/json", br#"{"result":"ok"}"#.to_vec()),
                    Err(e) => reply(
                        422,
                        "application/json",
                        serde_json::to_vec(&serde_json::json!({"result": "failed", "problems": e}))
                            .unwrap_or_default(),
                    ),
                }
            }
            "/metrics" => reply(
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                self.state.metrics.encode(),
            ),
            p if p.starts_with("/migration/") => {
                let body = match super::body::read_capped(session, 1 << 20).await {
                    Ok(crate::frontend::Body::Complete(b)) => b,
                    _ => return reply(413, "text/plain", b"body too large\n".to_vec()),
                };
                let (status, value) = crate::live::admin::handle(
                    &self.state.registry.load().providers,
                    &self.state.config.load(),
                    &method,
                    p,
                    &body,
                )
                .await;
                reply(
                    status,
                    "application/json",
                    serde_json::to_vec(&value).unwrap_or_default(),
                )
            }
            "/healthz" => reply(200, "text/plain", b"ok\n".to_vec()),
            "/readyz" => {
                if self.state.ready.load(Ordering::Acquire) {
                    reply(200, "text/plain", b"ready\n".to_vec())
                } else {
                    reply(503, "text/plain", b"not ready\n".to_vec())
                }
            }
            _ => reply(404, "text/plain", b"not found\n".to_vec()),
        }
    }
}
