//! The connections of a listener, from accept to close. pingora hands over
//! each accepted TCP stream; this loop owns it to the end:
//!
//! - at most `max_connections` are open at once; more are answered 503 and
//!   closed at once;
//! - a request's first byte must come within the idle timeout (keep-alive)
//!   or, on a new connection, the header timeout; its whole head within the
//!   header timeout from then (one byte every few seconds does not keep a
//!   connection);
//! - the app answers within the request timeout (body, auth, provider and
//!   rendering together), reading the body under [`BodyDeadline`];
//! - the answer is written within the write timeout (files: plus their size
//!   at the minimum rate);
//! - a body the app did not read is drained briefly, then the connection is
//!   closed rather than reused.
//!
//! Every timeout and refusal is counted in metrics.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::Response;
use pingora::apps::ServerApp;
use pingora::http::ResponseHeader;
use pingora::protocols::http::ServerSession;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::time::{timeout, timeout_at, Instant};

use crate::config::ServerConfig;
use crate::metrics::Metrics;

/// The limits every connection of a listener lives under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most open connections.
    pub max_connections: usize,
    /// Time for a whole request head.
    pub header: Duration,
    /// Body time before the minimum rate applies.
    pub body: Duration,
    /// Slowest accepted body transfer, bytes per second (both ways).
    pub min_rate: u64,
    /// Time to write one answer (files: plus their size at `min_rate`).
    pub write: Duration,
    /// Time an idle keep-alive connection stays open.
    pub idle: Duration,
    /// Time from a request's head to its answer being ready.
    pub request: Duration,
}

impl Limits {
    /// The limits configured in `[server]`.
    pub fn of(cfg: &ServerConfig) -> Self {
        Limits {
            max_connections: cfg.max_connections.max(1),
            header: Duration::from_secs(cfg.header_timeout_secs.max(1)),
            body: Duration::from_secs(cfg.body_timeout_secs.max(1)),
            min_rate: cfg.min_body_rate.max(1),
            write: Duration::from_secs(cfg.write_timeout_secs.max(1)),
            idle: Duration::from_secs(cfg.idle_timeout_secs.max(1)),
            request: Duration::from_secs(cfg.request_timeout_secs.max(1)),
        }
    }

    /// The time `bytes` take at the minimum rate.
    fn at_min_rate(&self, bytes: u64) -> Duration {
        Duration::from_secs_f64(bytes as f64 / self.min_rate as f64)
    }
}

/// When a request body must be complete: `body` after it started, plus the
/// time what arrived so far takes at the minimum rate. A body that keeps
/// coming at least at `min_rate` is never cut; a trickle is.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline {
    start: Instant,
    limits: Limits,
}

impl BodyDeadline {
    /// A body starting now.
    pub fn starting_now(limits: &Limits) -> Self {
        BodyDeadline {
            start: Instant::now(),
            limits: *limits,
        }
    }

    /// The deadline for the next bytes after `received` arrived.
    pub fn after(&self, received: usize) -> Instant {
        self.start + self.limits.body + self.limits.at_min_rate(received as u64)
    }
}

/// What an app answers.
pub enum Answer {
    /// A complete response (with its Content-Length).
    Full(Response<Vec<u8>>),
    /// A response head and a file streamed as its body.
    File {
        /// Status and headers (with the Content-Length of the file).
        head: Response<()>,
        /// The open file.
        file: tokio::fs::File,
        /// Its length.
        len: u64,
    },
}

/// What a listener serves.
#[async_trait]
pub trait App: Send + Sync + 'static {
    /// Answers one request whose head was read; reads the body (if it wants
    /// it) under `body`.
    async fn answer(&self, session: &mut ServerSession, body: BodyDeadline) -> Answer;

    /// The answer when the request timeout passed (the app's `answer` was
    /// dropped).
    fn timed_out(&self, session: &ServerSession) -> Response<Vec<u8>>;
}

/// A listener's connection handling around an [`App`].
pub struct Listener<A> {
    app: A,
    limits: Limits,
    slots: Arc<Semaphore>,
    metrics: Arc<Metrics>,
    /// Metrics label: the listener address, or `admin`.
    label: String,
}

impl<A: App> Listener<A> {
    /// Serves `app` under `limits`.
    pub fn new(app: A, limits: Limits, metrics: Arc<Metrics>, label: String) -> Self {
        Listener {
            app,
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            limits,
            metrics,
            label,
        }
    }

    fn timeout(&self, phase: &str) {
        self.metrics
            .timeouts
            .with_label_values(&[self.label.as_str(), phase])
            .inc();
    }

    /// One request on `stream`; the stream back when the connection can
    /// serve another.
    async fn one(
        &self,
        mut stream: Stream,
        wait: Duration,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let mut first = [0u8; 1];
        let mut stop = shutdown.clone();
        tokio::select! {
            peeked = timeout(wait, stream.try_peek(&mut first)) => match peeked {
                Ok(Ok(true)) => {}
                Ok(_) => return None,
                Err(_) => {
                    if wait == self.limits.header {
                        self.timeout("header");
                    }
                    return None;
                }
            },
            // Idle connections close when the server shuts down.
            _ = stop.wait_for(|stopping| *stopping) => return None,
        }
        let mut session = ServerSession::new_http1(stream);
        session.set_read_timeout(Some(self.limits.header));
        match timeout(self.limits.header, session.read_request()).await {
            Ok(Ok(true)) => {}
            Ok(_) => return None,
            Err(_) => {
                self.timeout("header");
                return None;
            }
        }
        // The client's own choice (HTTP/1.0, `Connection: close`) stands;
        // otherwise keep the connection for the idle timeout.
        let keep = session.get_keepalive().is_some() && !*shutdown.borrow();
        session.set_keepalive(keep.then_some(self.limits.idle.as_secs()));
        let body = BodyDeadline::starting_now(&self.limits);
        let answer = match timeout(self.limits.request, self.app.answer(&mut session, body)).await {
            Ok(answer) => answer,
            Err(_) => {
                self.timeout("request");
                session.set_keepalive(None);
                Answer::Full(self.app.timed_out(&session))
            }
        };
        let unread = !session.is_body_done();
        if unread {
            session.set_keepalive(None);
        }
        let write_time = match &answer {
            Answer::Full(_) => self.limits.write,
            Answer::File { len, .. } => self.limits.write + self.limits.at_min_rate(*len),
        };
        if !matches!(
            timeout(write_time, write(&mut session, answer)).await,
            Ok(Ok(()))
        ) {
            self.timeout("write");
            return None;
        }
        if unread {
            linger(&mut session).await;
            return None;
        }
        match session.finish().await {
            Ok(Some(reusable)) => Some(reusable.into_parts().0),
            _ => None,
        }
    }
}

#[async_trait]
impl<A: App> ServerApp for Listener<A> {
    async fn process_new(
        self: &Arc<Self>,
        mut stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let Ok(_slot) = self.slots.clone().try_acquire_owned() else {
            self.metrics
                .connections_rejected
                .with_label_values(&[self.label.as_str()])
                .inc();
            refuse(&mut stream).await;
            return None;
        };
        let open = self
            .metrics
            .connections
            .with_label_values(&[self.label.as_str()]);
        open.inc();
        let mut wait = self.limits.header;
        let mut next = Some(stream);
        while let Some(stream) = next {
            next = self.one(stream, wait, shutdown).await;
            wait = self.limits.idle;
        }
        open.dec();
        None
    }
}

/// Writes an answer: head, then body (a file in chunks).
async fn write(session: &mut ServerSession, answer: Answer) -> pingora::Result<()> {
    match answer {
        Answer::Full(response) => {
            let (parts, body) = response.into_parts();
            let head: ResponseHeader = parts.into();
            session.write_response_header(Box::new(head)).await?;
            if !body.is_empty() {
                session.write_response_body(Bytes::from(body), true).await?;
            }
        }
        Answer::File {
            head,
            mut file,
            len,
        } => {
            let (parts, ()) = head.into_parts();
            let head: ResponseHeader = parts.into();
            session.write_response_header(Box::new(head)).await?;
            let mut left = len;
            let mut buf = vec![0u8; 64 * 1024];
            while left > 0 {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = file
                    .read(&mut buf[..want])
                    .await
                    .map_err(|e| pingora::Error::because(pingora::ErrorType::ReadError, "", e))?;
                if n == 0 {
                    // The file shrank under us: the Content-Length cannot be kept.
                    return pingora::Error::e_explain(pingora::ErrorType::ReadError, "file shrank");
                }
                left -= n as u64;
                session
                    .write_response_body(Bytes::copy_from_slice(&buf[..n]), left == 0)
                    .await?;
            }
        }
    }
    Ok(())
}

/// The answer to a connection over the limit.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nretry-after: 1\r\nconnection: close\r\n\r\n";

/// Answers 503 on a connection that gets no slot, without reading from it.
async fn refuse(stream: &mut Stream) {
    let _ = timeout(Duration::from_secs(1), async {
        stream.write_all(BUSY).await?;
        stream.flush().await
    })
    .await;
}

/// Most of an unread body drained after the answer, so that a client still
/// sending reads the answer instead of a connection reset.
const LINGER_BYTES: usize = 1024 * 1024;
/// Longest drain of an unread body.
const LINGER_TIME: Duration = Duration::from_secs(2);

/// Drains what is left of the request body for a short while (the
/// connection is closed afterwards).
async fn linger(session: &mut ServerSession) {
    let deadline = Instant::now() + LINGER_TIME;
    let mut drained = 0;
    while drained < LINGER_BYTES {
        match timeout_at(deadline, session.read_request_body()).await {
            Ok(Ok(Some(chunk))) => drained += chunk.len(),
            _ => break,
        }
    }
}
