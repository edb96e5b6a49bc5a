//! One vendor call as data: the request a step makes (`Outgoing`, built from
//! the step's templates) and the answer it gets (`Answer`). Sending is the
//! provider's job; nothing here does I/O.

use http::Method;
use serde_json::Value;

use super::plan::{BodyPlan, Request};
use crate::canonical::{Error, ErrorKind, Reason, Result, Source};
use crate::mapping::template::eval::scalar_text;
use crate::mapping::template::{document, eval, eval_item, EvalEnv, Template};

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Method.
    pub method: Method,
    /// Path and query string, below the provider's base URL.
    pub target: String,
    /// Headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Payload,
    /// Safe to retry.
    pub idempotent: bool,
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Payload {
    /// None.
    Empty,
    /// JSON.
    Json(Value),
    /// Form fields (repeated keys allowed).
    Form(Vec<(String, String)>),
    /// Multipart: text fields and files (attachment slots).
    Multipart(Vec<(String, MultipartValue)>),
}

/// A multipart field.
#[derive(Debug, Clone)]
pub enum MultipartValue {
    /// Text.
    Text(String),
    /// A file uploaded with the inbound request.
    File(usize),
}

/// A vendor answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body as JSON (null when empty).
    pub body: Value,
    /// Headers.
    pub headers: Value,
}

impl Answer {
    /// The answer as templates see it: `{status, body, headers}`.
    pub fn into_json(self) -> Value {
        document([
            ("status", Value::from(self.status)),
            ("body", self.body),
            ("headers", self.headers),
        ])
    }
}

/// An `upstream_error` blamed on the provider.
pub fn upstream(message: String) -> Error {
    Error::new(ErrorKind::UpstreamError, message).with_source(Source::Provider)
}

/// Flattens an object into form/query pairs; arrays repeat the key.
pub fn pairs(value: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Value::Object(map) = value {
        for (k, v) in map {
            match v {
                Value::Null => {}
                Value::Array(items) => {
                    out.extend(items.iter().map(|i| (k.clone(), scalar_text(i))))
                }
                other => out.push((k.clone(), scalar_text(other))),
            }
        }
    }
    out
}

/// The request a step makes (with `item` as `@` in foreach steps);
/// `provider` names the provider in errors.
pub fn build(
    step: &Request,
    env: &EvalEnv,
    item: Option<&Value>,
    provider: &str,
) -> Result<Outgoing> {
    let run = |t: &Template| -> Result<Option<Value>> {
        match item {
            Some(i) => eval_item(t, env, i),
            None => eval(t, env),
        }
        .map_err(|e| {
            Error::invalid(
                Reason::Param,
                format!("cannot build the {provider} call: {e}"),
            )
        })
    };
    let mut target = run(&step.path)?
        .map(|v| scalar_text(&v))
        .unwrap_or_default();
    if let Some(q) = &step.query {
        let fields = pairs(&run(q)?.unwrap_or(Value::Null));
        if !fields.is_empty() {
            target.push(if target.contains('?') { '&' } else { '?' });
            target.push_str(
                &form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&fields)
                    .finish(),
            );
        }
    }
    let mut headers = Vec::new();
    for (name, t) in &step.headers {
        if let Some(v) = run(t)? {
            headers.push((name.clone(), scalar_text(&v)));
        }
    }
    let body = match &step.body {
        None => Payload::Empty,
        Some(BodyPlan::Json(t)) => Payload::Json(run(t)?.unwrap_or(Value::Null)),
        Some(BodyPlan::Form(t)) => Payload::Form(pairs(&run(t)?.unwrap_or(Value::Null))),
        Some(BodyPlan::Multipart(t)) => {
            Payload::Multipart(multipart(run(t)?.unwrap_or(Value::Null)))
        }
    };
    Ok(Outgoing {
        method: step.method.clone(),
        target,
        headers,
        body,
        idempotent: step.idempotent,
    })
}

/// Multipart fields from an object: members that are uploads (`{slot, ...}`)
/// are files, others text.
fn multipart(value: Value) -> Vec<(String, MultipartValue)> {
    let Value::Object(map) = value else {
        return Vec::new();
    };
    map.into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v.get("slot").and_then(Value::as_u64) {
            Some(slot) => (k, MultipartValue::File(slot as usize)),
            None => (k, MultipartValue::Text(scalar_text(&v))),
        })
        .collect()
}
