//! Reading a request body under a size cap: the declared Content-Length is
//! checked before reading, chunked bodies are counted while reading, and
//! `Expect: 100-continue` is answered first. An oversized body is read on and
//! discarded up to twice the cap (for at most a few seconds), so that the
//! client, still sending, can read the 413 instead of a connection reset; the
//! connection is closed afterwards. The body must keep up with its
//! [`BodyDeadline`] (a minimum rate after a grace time).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use pingora::protocols::http::ServerSession;
use tokio::time::timeout_at;

use super::conn::BodyDeadline;
use crate::frontend::Body;

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// It came slower than the minimum rate.
    TooSlow,
    /// The client went away or sent a malformed body (a message for the log).
    Failed(String),
}

/// How long an oversized body is drained before the connection is dropped.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Reads the whole body, or stops at the cap.
pub async fn read_capped(
    session: &mut ServerSession,
    cap: usize,
    deadline: BodyDeadline,
) -> Result<Body, BodyError> {
    let declared = session
        .get_header(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let drain_budget = cap.saturating_mul(2);
    if declared.is_some_and(|n| n > cap) {
        session.set_keepalive(None);
        if declared.is_some_and(|n| n <= drain_budget) {
            drain(session, drain_budget).await;
        }
        return Ok(Body::TooLarge(cap));
    }
    let expects_continue = session
        .get_header(http::header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if expects_continue {
        if let ServerSession::H1(h1) = session {
            h1.write_continue_response()
                .await
                .map_err(|e| BodyError::Failed(format!("writing 100 Continue failed: {e}")))?;
        }
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(cap));
    loop {
        let Ok(read) = timeout_at(deadline.after(buf.len()), session.read_request_body()).await
        else {
            return Err(BodyError::TooSlow);
        };
        match read {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > cap {
                    session.set_keepalive(None);
                    drain(
                        session,
                        drain_budget.saturating_sub(buf.len() + chunk.len()),
                    )
                    .await;
                    return Ok(Body::TooLarge(cap));
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(Body::Complete(Bytes::from(buf))),
            Err(e) => {
                return Err(BodyError::Failed(format!(
                    "reading the request body failed: {e}"
                )))
            }
        }
    }
}

/// Reads and drops up to `budget` more bytes, for at most `DRAIN_TIME`.
async fn drain(session: &mut ServerSession, budget: usize) {
    let mut left = budget;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Ok(Some(chunk)) = session.read_request_body().await {
            if chunk.len() >= left {
                break;
            }
            left -= chunk.len();
        }
    })
    .await;
}
