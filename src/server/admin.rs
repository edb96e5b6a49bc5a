//! The admin listener: `/metrics` (Prometheus text format), `/healthz`
//! (the process answers), `/readyz` (routes loaded, not draining, and every
//! database answering within [`READY_TIMEOUT`]),
//! `POST /reload` (reload config and mappings; 200, or 422 with the problems
//! while the previous version keeps serving), `/migration/...` (live
//! migrations: `crate::live::admin`). With `[server] admin_token`,
//! everything but `/healthz` and `/readyz` needs `Authorization: Bearer
//! <token>`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http::Response;
use pingora::protocols::http::ServerSession;

use super::conn::{Answer, App, BodyDeadline};
use super::State;

/// How long `/readyz` waits for the databases to answer (probes time out
/// after a second or a few).
const READY_TIMEOUT: Duration = Duration::from_secs(2);

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

impl AdminApp {
    /// Whether the request carries the admin token (or none is configured).
    fn authorized(&self, session: &ServerSession) -> bool {
        let config = self.state.config.load();
        let Some(token) = &config.server.admin_token else {
            return true;
        };
        session
            .get_header(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, given) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(given)
            })
            .is_some_and(|given| token.matches(given.trim()))
    }

    /// `/readyz`: 200, or 503 saying why not (no detail of a database's
    /// error: it is logged).
    async fn readiness(&self) -> Response<Vec<u8>> {
        if !self.state.ready.load(Ordering::Acquire) || self.state.draining.load(Ordering::Acquire)
        {
            return reply(503, "text/plain", b"not ready\n".to_vec());
        }
        let providers = self.state.registry.load().providers.clone();
        let checked = tokio::time::timeout(READY_TIMEOUT, providers.databases_ready()).await;
        match checked {
            Ok(Ok(())) => reply(200, "text/plain", b"ready\n".to_vec()),
            Ok(Err((name, e))) => {
                tracing::warn!("readyz: the database of {name} does not answer: {e}");
                let body = format!("not ready: the database of {name} does not answer\n");
                reply(503, "text/plain", body.into_bytes())
            }
            Err(_) => reply(
                503,
                "text/plain",
                b"not ready: the databases did not answer in time\n".to_vec(),
            ),
        }
    }

    async fn route(&self, session: &mut ServerSession, body: BodyDeadline) -> Response<Vec<u8>> {
        let path = session.req_header().uri.path().to_string();
        let method = session.req_header().method.clone();
        match path.as_str() {
            "/healthz" => return reply(200, "text/plain", b"ok\n".to_vec()),
            "/readyz" => return self.readiness().await,
            _ => {}
        }
        if !self.authorized(session) {
            self.state.metrics.admin_unauthorized.inc();
            let mut r = reply(401, "text/plain", b"unauthorized\n".to_vec());
            r.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
            return r;
        }
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
                let body = match super::body::read_capped(session, 1 << 20, body).await {
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
            _ => reply(404, "text/plain", b"not found\n".to_vec()),
        }
    }
}

#[async_trait]
impl App for AdminApp {
    async fn answer(&self, session: &mut ServerSession, body: BodyDeadline) -> Answer {
        Answer::Full(self.route(session, body).await)
    }

    fn timed_out(&self, _session: &ServerSession) -> Response<Vec<u8>> {
        reply(503, "text/plain", b"timed out\n".to_vec())
    }
}
