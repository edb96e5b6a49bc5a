//! Turning results and canonical errors into the dialect's responses. Errors
//! are rendered here and only here: status and code come from the dialect's
//! tables, the body from its error template. Internal causes never reach the
//! client (they were logged where they happened).

use serde_json::{json, Value};

use super::Binding;
use crate::canonical::{Error, Op, Output, Reason};
use crate::mapping::plan::{ErrorPlan, ResponsePlan, Route, JSON_CONTENT_TYPE};
use crate::mapping::template::{document, eval, EvalEnv};

/// A response ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Headers besides Content-Length.
    pub headers: Vec<(String, String)>,
    /// Body bytes (empty for none).
    pub body: Vec<u8>,
}

impl Reply {
    /// A JSON reply.
    pub fn json(status: u16, content_type: &str, body: &Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }
}

/// Renders a successful result with `response` (the route's response plan,
/// or its fallback's).
pub fn success(
    binding: &Binding,
    route: &Route,
    response: &ResponsePlan,
    request: &Op,
    result: &Output,
    input: &mut Value,
    now_ms: i64,
) -> Result<Reply, Error> {
    // The input moves into the document and back out, never copied.
    let mut doc = document([
        ("result", result.to_json()),
        ("request", request.to_json()),
        ("input", std::mem::take(input)),
        ("config", binding.config.clone()),
    ]);
    let reply = render_success(binding, route, response, &doc, now_ms);
    *input = doc["input"].take();
    reply
}

fn render_success(
    binding: &Binding,
    route: &Route,
    response: &ResponsePlan,
    doc: &Value,
    now_ms: i64,
) -> Result<Reply, Error> {
    let env = EvalEnv {
        doc,
        codes: Some(route.errors.as_ref()),
        now_ms,
    };
    let content_type = binding.content_type();
    let mut headers = vec![("content-type".to_string(), content_type.to_string())];
    for (name, t) in &response.headers {
        if let Some(v) = eval(t, &env).map_err(|e| render_failure(binding, route, &e))? {
            let text = crate::mapping::template::eval::scalar_text(&v);
            if http::HeaderValue::from_str(&text).is_err() {
                let e = format!("header {name} is not a valid header value");
                return Err(render_failure(binding, route, &e));
            }
            headers.push((name.clone(), text));
        }
    }
    let body = match &response.body {
        None => Vec::new(),
        Some(t) => {
            let value = eval(t, &env)
                .map_err(|e| render_failure(binding, route, &e))?
                .unwrap_or(Value::Null);
            serde_json::to_vec(&value).map_err(Error::internal)?
        }
    };
    if body.is_empty() {
        headers.retain(|(n, _)| n != "content-type");
    }
    Ok(Reply {
        status: response.status,
        headers,
        body,
    })
}

fn render_failure(binding: &Binding, route: &Route, e: &impl std::fmt::Display) -> Error {
    Error::internal(format!(
        "rendering the response of route {} ({}:{}) failed: {e}",
        route.name,
        binding.dialect.file.display(),
        route.line
    ))
}

/// Renders a canonical error in the frontend's dialect.
pub fn error(binding: &Binding, plan: &ErrorPlan, err: &Error, input: Value, now_ms: i64) -> Reply {
    let status = plan.status_for(err.kind, err.reason);
    let code = plan.code(err.kind, err.reason).unwrap_or(Value::Null);
    let error_doc = json!({
        "kind": err.kind.as_str(),
        "reason": err.reason.map(Reason::as_str),
        "code": code,
        "message": plan.message(err.kind, err.reason, &err.message),
        "status": status,
    });
    let Some(body) = &plan.body else {
        return Reply::json(status, binding.content_type(), &json!({"error": error_doc}));
    };
    let doc = document([
        ("error", error_doc.clone()),
        ("input", input),
        ("config", binding.config.clone()),
    ]);
    let env = EvalEnv {
        doc: &doc,
        codes: Some(plan),
        now_ms,
    };
    match eval(body, &env) {
        Ok(Some(v)) => Reply::json(status, binding.content_type(), &v),
        Ok(None) => Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        },
        Err(e) => {
            tracing::error!(dialect = %binding.dialect.name, error = %e, "error body template failed");
            Reply::json(status, binding.content_type(), &json!({"error": error_doc}))
        }
    }
}

/// The answer when no frontend owns the path.
pub fn no_route(method: &str, path: &str) -> Reply {
    Reply::json(
        404,
        JSON_CONTENT_TYPE,
        &json!({"error": {"kind": "not_found", "reason": "route", "message": format!("no route for {method} {path}")}}),
    )
}
