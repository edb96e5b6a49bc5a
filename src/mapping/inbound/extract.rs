//! From the input document to the canonical operation: a route's checks and
//! request template, and the fallback operation of create-or-update routes.

use serde_json::{Map, Value};

use super::check;
use crate::canonical::{Error, Op, OpName, Reason};
use crate::mapping::plan::{ResponsePlan, Route};
use crate::mapping::template::{eval, EvalEnv, Template};

/// Runs the route's checks and request template: the canonical operation.
pub fn extract(route: &Route, input: &Value, now_ms: i64) -> Result<Op, Error> {
    for c in &route.checks {
        check::run(c, input)?;
    }
    request_op(&route.request, route.op, input, now_ms)
}

/// When the route's operation failed with an error its `fallback` catches
/// (e.g. the user exists: update instead), the operation to run instead and
/// how to render its result.
pub fn fallback<'r>(
    route: &'r Route,
    err: &Error,
    input: &Value,
    now_ms: i64,
) -> Option<Result<(Op, &'r ResponsePlan), Error>> {
    let f = route.fallback.as_ref().filter(|f| f.catches(err))?;
    Some(request_op(&f.request, f.op, input, now_ms).map(|op| (op, &f.response)))
}

/// Evaluates a request template on the input document and decodes it as `op`.
fn request_op(template: &Template, op: OpName, input: &Value, now_ms: i64) -> Result<Op, Error> {
    let env = EvalEnv {
        doc: input,
        codes: None,
        now_ms,
    };
    let request = eval(template, &env)
        .map_err(|e| Error::invalid(Reason::Param, e.message))?
        .unwrap_or(Value::Object(Map::new()));
    op.decode_request(request)
}
