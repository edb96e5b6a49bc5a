//! `when`: of the routes matching a request's path and method, the first
//! whose conditions hold on the input document.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value;

use super::routes::Candidate;
use crate::canonical::{Error, Reason};
use crate::mapping::path::{Found, Path};
use crate::mapping::plan::{Condition, Route};
use crate::mapping::template::eval::loose_eq;

/// Picks the first candidate whose `when` conditions hold, binding its path
/// parameters into the input document (`$.path`).
pub fn select(candidates: Vec<Candidate>, input: &mut Value) -> Result<Arc<Route>, Error> {
    for c in candidates {
        input["path"] = Value::Object(
            c.params
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        );
        if c.route.when.iter().all(|cond| holds(cond, input)) {
            return Ok(c.route);
        }
    }
    Err(Error::invalid(
        Reason::Param,
        "the request matches none of the variants of this endpoint (see its documented parameters)",
    ))
}

/// What a path finds, unless missing or null (several matches as an array).
pub(super) fn found<'v>(path: &Path, input: &'v Value) -> Option<Cow<'v, Value>> {
    match path.find(input) {
        Found::Missing => None,
        Found::One(v) => Some(Cow::Borrowed(v)),
        Found::Many(vs) if vs.is_empty() => None,
        Found::Many(vs) => Some(Cow::Owned(Value::Array(vs.into_iter().cloned().collect()))),
    }
    .filter(|v| !v.is_null())
}

fn holds(cond: &Condition, input: &Value) -> bool {
    match cond {
        Condition::Present(path, want) => found(path, input).is_some() == *want,
        Condition::Equals(path, expected) => match found(path, input) {
            Some(v) => loose_eq(&v, expected),
            None => false,
        },
    }
}
