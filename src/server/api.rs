//! The API listener: pingora glue around `frontend::handle`. Reads the request
//! head and the capped body, serves media downloads, hands everything else to
//! the frontend pipeline on the current registry, records metrics and writes
//! the reply with an exact Content-Length and the request id.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use http::{Method, Response};
use pingora::protocols::http::ServerSession;
use tracing::Instrument;

use super::body::{read_capped, BodyError};
use super::conn::{Answer, App, BodyDeadline};
use super::{media, State};
use crate::canonical::{Error, ErrorKind, Reason};
use crate::frontend::early::{self, Early};
use crate::frontend::route::Lookup;
use crate::frontend::{handle, Body, InboundRequest, Reply};
use crate::mapping::inbound::render;
use crate::registry::MEDIA_PREFIX;

/// Serves the frontends of one listener.
pub struct ApiApp {
    /// Shared server state.
    pub state: Arc<State>,
    /// Index of the listener in the registry.
    pub listener: usize,
    /// Its address (metrics label).
    pub addr: String,
}

/// Reads a client-supplied request id if it is short and plain, else makes one.
fn request_id(session: &ServerSession) -> String {
    session
        .get_header("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_string)
}

/// A reply as an HTTP response with its Content-Length and request id.
pub(super) fn to_response(reply: Reply, request_id: &str) -> Response<Vec<u8>> {
    let mut builder = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .header("content-length", reply.body.len())
        .header("x-request-id", request_id)
        .body(reply.body)
        .unwrap_or_else(|_| {
            let mut r = Response::new(Vec::new());
            *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
}

#[async_trait]
impl App for ApiApp {
    async fn answer(&self, session: &mut ServerSession, body: BodyDeadline) -> Answer {
        let started = Instant::now();
        let in_flight = self
            .state
            .metrics
            .in_flight
            .with_label_values(&[self.addr.as_str()]);
        in_flight.inc();
        let id = request_id(session);
        // Every event logged while the request is handled (vendor calls,
        // internal errors) carries its id.
        let span = tracing::info_span!("request", request_id = %id);
        let answer = self
            .serve(session, &id, started, body)
            .instrument(span)
            .await;
        in_flight.dec();
        match answer {
            Served::Reply(reply) => Answer::Full(to_response(reply, &id)),
            Served::File(file) => file.answer(&id),
        }
    }

    fn timed_out(&self, session: &ServerSession) -> Response<Vec<u8>> {
        let head = session.req_header();
        let err = Error::new(ErrorKind::UpstreamUnavailable, "the request timed out");
        let reply = self.dialect_error(&head.method, head.uri.path(), &err);
        to_response(reply, &request_id(session))
    }
}

/// What `serve` produced.
enum Served {
    Reply(Reply),
    File(media::Download),
}

impl ApiApp {
    async fn serve(
        &self,
        session: &mut ServerSession,
        id: &str,
        started: Instant,
        deadline: BodyDeadline,
    ) -> Served {
        let head = session.req_header();
        let method = head.method.clone();
        let path = head.uri.path().to_string();
        let query = head.uri.query().map(str::to_string);
        let headers = head.headers.clone();
        if method == Method::GET {
            let media_id = path
                .strip_prefix('/')
                .and_then(|p| p.strip_prefix(MEDIA_PREFIX))
                .and_then(|p| p.strip_prefix('/'));
            if let Some(media_id) = media_id {
                if let Some(file) = self.media(media_id).await {
                    return Served::File(file);
                }
            }
        }
        let registry = self.state.registry.load();
        let Some(listener) = registry.listeners.get(self.listener) else {
            return Served::Reply(Reply::json(
                503,
                "application/json",
                &serde_json::json!({"error": "listener not configured"}),
            ));
        };
        let req = InboundRequest {
            method,
            path,
            query,
            headers,
            body: Body::Complete(bytes::Bytes::new()),
            request_id: id.to_string(),
            client: session
                .client_addr()
                .and_then(|a| a.as_inet())
                .map(|a| a.ip()),
        };
        let now_ms = chrono::Utc::now().timestamp_millis();
        // Work before trust: what the head decides is answered unread.
        let (handled, body_len) = match early::decide(&listener.table, req, now_ms).await {
            Early::Answered(handled) => (handled, 0),
            Early::Read(mut req, head) => {
                req.body = match read_capped(session, self.state.max_body, deadline).await {
                    Ok(b) => b,
                    Err(e) => {
                        session.set_keepalive(None);
                        let err = match e {
                            BodyError::TooSlow => {
                                self.state
                                    .metrics
                                    .timeouts
                                    .with_label_values(&[self.addr.as_str(), "body"])
                                    .inc();
                                Error::limit(Reason::Body, "the request body came too slowly")
                            }
                            BodyError::Failed(e) => {
                                tracing::warn!(request_id = %id, error = %e, "request body not read");
                                Error::invalid(Reason::Body, "could not read the request body")
                            }
                        };
                        return Served::Reply(self.dialect_error(&req.method, &req.path, &err));
                    }
                };
                let body_len = match &req.body {
                    Body::Complete(b) => b.len(),
                    Body::TooLarge(n) => *n,
                };
                (handle(&listener.table, req, head, now_ms).await, body_len)
            }
        };
        let m = &self.state.metrics;
        let total = started.elapsed();
        let labels = [
            handled.frontend.as_str(),
            handled.route.as_str(),
            handled.op,
        ];
        m.requests
            .with_label_values(&[
                handled.frontend.as_str(),
                handled.route.as_str(),
                handled.op,
                handled.outcome,
            ])
            .inc();
        m.request_duration
            .with_label_values(&labels)
            .observe(total.as_secs_f64());
        m.overhead_duration
            .with_label_values(&labels)
            .observe(total.saturating_sub(handled.provider_time).as_secs_f64());
        if let Some(provider) = &handled.provider {
            m.provider_duration
                .with_label_values(&[
                    handled.frontend.as_str(),
                    provider.as_str(),
                    handled.route.as_str(),
                    handled.op,
                ])
                .observe(handled.provider_time.as_secs_f64());
        }
        m.request_size
            .with_label_values(&[handled.frontend.as_str()])
            .observe(body_len as f64);
        m.response_size
            .with_label_values(&[handled.frontend.as_str()])
            .observe(handled.reply.body.len() as f64);
        // Failures of the provider or of imbridge itself are worth a line at
        // the default level; everything else is debug.
        let failed = [
            ErrorKind::UpstreamError,
            ErrorKind::UpstreamUnavailable,
            ErrorKind::Internal,
        ]
        .iter()
        .any(|k| k.as_str() == handled.outcome);
        // tracing wants a constant level at each call site: one line, two levels.
        macro_rules! access_log {
            ($level:expr, $message:literal) => {
                tracing::event!(
                    $level,
                    request_id = %id,
                    frontend = %handled.frontend,
                    route = %handled.route,
                    op = handled.op,
                    outcome = handled.outcome,
                    status = handled.reply.status,
                    micros = total.as_micros() as u64,
                    $message
                )
            };
        }
        if failed {
            access_log!(tracing::Level::WARN, "request failed");
        } else {
            access_log!(tracing::Level::DEBUG, "request");
        }
        Served::Reply(handled.reply)
    }

    /// `err` in the dialect of the frontend that owns `path` (plain JSON
    /// when none does).
    fn dialect_error(&self, method: &Method, path: &str, err: &Error) -> Reply {
        let registry = self.state.registry.load();
        let frontend = registry.listeners.get(self.listener).and_then(|l| {
            match l.table.lookup(method, path) {
                Lookup::Found(f, _) | Lookup::WrongMethod(f) | Lookup::NoRoute(Some(f)) => {
                    Some(f.clone())
                }
                Lookup::NoRoute(None) => None,
            }
        });
        let now_ms = chrono::Utc::now().timestamp_millis();
        match frontend {
            Some(f) => render::error(
                &f.binding,
                &f.binding.errors(),
                err,
                serde_json::Value::Null,
                now_ms,
            ),
            None => Reply::json(
                match err.kind {
                    ErrorKind::UpstreamUnavailable => 503,
                    ErrorKind::LimitExceeded => 413,
                    _ => 400,
                },
                "application/json",
                &serde_json::json!({"error": {"kind": err.kind.as_str(), "message": err.message}}),
            ),
        }
    }

    async fn media(&self, media_id: &str) -> Option<media::Download> {
        let registry = self.state.registry.load();
        let store = registry.providers.embedded.as_ref()?;
        let (file, content_type) = store.media_file(media_id).await?;
        media::Download::open(&file, &content_type, media_id).await
    }
}
