//! Work before trust: a request is answered before its body is read when
//! the head alone decides it — no route takes it, or every route it could
//! take authenticates from the head (HTTP Basic, signature headers, a token
//! in a header) and refuses its credentials. A client without credentials
//! cannot make imbridge read, hold or parse a body; the connection is
//! closed after the answer (the body stays unread). Credentials the head
//! settles are checked once: the verdict goes on to the pipeline.

use std::sync::Arc;

use super::request::header_object;
use super::route::{Lookup, RouteTable};
use super::{handle, InboundRequest};
use crate::auth::{AuthInput, InboundAuth, Verdict};
use crate::canonical::ErrorKind;
use crate::mapping::template::document;

/// What the head decided: the request answered, or handed back to be read
/// and handled.
pub enum Early {
    /// Answered from the head.
    Answered(handle::Handled),
    /// Read the body, then [`handle::handle`] it (with the head's verdict).
    Read(InboundRequest, Option<HeadVerdict>),
}

/// The verdict of a scheme on the request's head, for the pipeline to use
/// instead of checking again when the route it selects has that scheme.
pub struct HeadVerdict {
    /// The scheme that reached it.
    pub auth: Arc<InboundAuth>,
    /// Its verdict (a signature not yet recorded against replays).
    pub verdict: Verdict,
}

/// Decides `req` from its head when it can (its body is not looked at).
pub async fn decide(table: &RouteTable, req: InboundRequest, now_ms: i64) -> Early {
    let (frontend, candidates) = match table.lookup(&req.method, &req.path) {
        Lookup::Found(f, c) => (f, c),
        // No route: the answer needs no body.
        _ => return Early::Answered(handle::handle(table, req, None, now_ms).await),
    };
    let input = document([("headers", header_object(&req.headers))]);
    let cx = AuthInput {
        headers: &req.headers,
        input: &input,
        params: &frontend.binding.params,
        now_ms,
        frontend: &frontend.name,
        store: frontend.store.as_deref(),
    };
    let mut refused = None;
    for candidate in &candidates {
        let auth = &candidate.route.auth;
        match auth.check_head(&cx).await {
            Some(Ok(verdict)) => {
                let head = HeadVerdict {
                    auth: auth.clone(),
                    verdict,
                };
                return Early::Read(req, Some(head));
            }
            Some(Err(err)) if err.kind == ErrorKind::Unauthenticated => {
                refused.get_or_insert((candidate.route.clone(), err));
            }
            // Not decided by the head, or not a refusal of the credentials
            // (the pipeline checks again and answers in the route's plan).
            _ => return Early::Read(req, None),
        }
    }
    match refused {
        Some((route, err)) => Early::Answered(handle::refused(frontend, &route, err, now_ms)),
        None => Early::Read(req, None),
    }
}
