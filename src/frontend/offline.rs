//! A request taken as far as its canonical operation with no listener, no
//! auth and no provider (`imbridge translate`, golden cases): the same
//! document building and inbound evaluation the pipeline runs.

use std::sync::Arc;

use http::{HeaderMap, Method};
use serde_json::Value;

use super::request::{prepare, Body, InboundRequest, Prepared};
use crate::canonical::{Error, Op, Reason};
use crate::mapping::inbound::routes::segments;
use crate::mapping::inbound::{extract, Binding};
use crate::mapping::plan::Route;

/// What a request becomes on `binding`'s dialect: the route it takes and its
/// canonical operation. Auth is not run; `caller` stands for the user it
/// would have authenticated.
pub async fn offline_op(
    binding: &Binding,
    method: Method,
    path_and_query: &str,
    headers: HeaderMap,
    body: Vec<u8>,
    caller: Option<&str>,
    now_ms: i64,
) -> Result<(Arc<Route>, Op), Error> {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (path_and_query.to_string(), None),
    };
    let found = binding
        .dialect
        .inbound
        .as_ref()
        .map(|i| i.index.find(&method, &segments(&path)));
    let candidates = match found {
        Some(m) if !m.candidates.is_empty() => m.candidates,
        Some(m) if m.path_rank.is_some() => {
            let message = format!("method {method} is not allowed on {path}");
            return Err(Error::invalid(Reason::Method, message));
        }
        _ => {
            let message = format!("no route for {method} {path}");
            return Err(Error::not_found(Reason::Route, message));
        }
    };
    let mut req = InboundRequest {
        method,
        path,
        query,
        headers,
        body: Body::Complete(body.into()),
        request_id: "offline".into(),
        client: None,
    };
    let mut input = Value::Null;
    let Prepared { route, .. } = prepare(binding, candidates, &mut req, &mut input).await?;
    if let Some(c) = caller {
        input["caller"] = Value::String(c.to_string());
    }
    let op = extract(&route, &input, now_ms)?;
    Ok((route, op))
}
