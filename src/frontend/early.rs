//! Work before trust: a request is answered before its body is read when
//! the head alone decides it — no route takes it, or every route it could
//! take authenticates from the head (HTTP Basic, signature headers, a token
//! in a header) and refuses its credentials. A client without credentials
//! cannot make imbridge read, hold or parse a body; the connection is
//! closed after the answer (the body stays unread).

use super::request::header_object;
use super::route::{Lookup, RouteTable};
use super::{handle, InboundRequest};
use crate::auth::AuthInput;
use crate::mapping::template::document;

/// What the head decided: the request answered, or handed back to be read
/// and handled.
pub enum Early {
    /// Answered from the head.
    Answered(handle::Handled),
    /// Read the body, then [`handle::handle`] it.
    Read(InboundRequest),
}

/// Decides `req` from its head when it can (its body is not looked at).
pub async fn decide(table: &RouteTable, req: InboundRequest, now_ms: i64) -> Early {
    let (frontend, candidates) = match table.lookup(&req.method, &req.path) {
        Lookup::Found(f, c) => (f, c),
        // No route: the answer needs no body.
        _ => return Early::Answered(handle::handle(table, req, now_ms).await),
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
        match candidate.route.auth.refusal(&cx).await {
            Some(err) => {
                refused.get_or_insert((candidate.route.clone(), err));
            }
            None => return Early::Read(req),
        }
    }
    match refused {
        Some((route, err)) => Early::Answered(handle::refused(frontend, &route, err, now_ms)),
        None => Early::Read(req),
    }
}
