//! Reading a request body under a size cap: the declared Content-Length is
//! checked before reading, chunked bodies are counted while reading, and
//! `Expect: 100-continue` is answered first.

use bytes::{Bytes, BytesMut};
use pingora::protocols::http::ServerSession;

use crate::frontend::Body;

/// Reads the whole body, or stops at the cap. Read errors (client gone,
/// timeout) are reported as `Err` with a message for the log.
pub async fn read_capped(session: &mut ServerSession, cap: usize) -> Result<Body, String> {
    let declared = session
        .get_header(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > cap) {
        session.set_keepalive(None);
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
                .map_err(|e| format!("writing 100 Continue failed: {e}"))?;
        }
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(cap));
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > cap {
                    session.set_keepalive(None);
                    return Ok(Body::TooLarge(cap));
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(Body::Complete(Bytes::from(buf))),
            Err(e) => return Err(format!("reading the request body failed: {e}")),
        }
    }
}
