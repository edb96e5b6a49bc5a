//! Token auth as the mapping file describes it: the call that fetches a
//! token, and reading the token and its lifetime from the answer. Caching,
//! single-flight fetching and refreshing are the provider's job.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::binding::Binding;
use super::call::{build, upstream, Answer, Outgoing};
use super::errors;
use super::plan::{OutboundAuth, TokenAuth};
use crate::canonical::{Error, Result};
use crate::mapping::template::eval::scalar_text;
use crate::mapping::template::{eval, EvalEnv};

/// A token and how long to keep it.
#[derive(Debug, Clone)]
pub struct Token {
    /// Header value (prefix included).
    pub header_value: Arc<str>,
    /// How long it may be used.
    pub ttl: Duration,
}

/// The binding's token scheme, if it authenticates with fetched tokens.
pub fn scheme(binding: &Binding) -> Option<&TokenAuth> {
    match &binding.outbound().auth {
        OutboundAuth::Token(t) => Some(t),
        _ => None,
    }
}

fn scheme_or_error(binding: &Binding) -> Result<&TokenAuth> {
    scheme(binding).ok_or_else(|| Error::internal("not a token scheme"))
}

/// The call that fetches a token.
pub fn request(binding: &Binding, now_ms: i64, fresh_id: i64) -> Result<Outgoing> {
    let t = scheme_or_error(binding)?;
    let doc = binding.document(Value::Null, fresh_id);
    let env = EvalEnv {
        doc: &doc,
        codes: None,
        now_ms,
    };
    let fetch = t
        .fetch
        .request()
        .ok_or_else(|| Error::internal("a token fetch is a vendor call"))?;
    build(fetch, &env, None, &binding.provider)
}

/// The token in the answer to [`request`]: an error when the fetch step's
/// or the dialect's error rules say so, or when the answer holds no token.
pub fn read(binding: &Binding, answer: Answer, now_ms: i64) -> Result<Token> {
    let t = scheme_or_error(binding)?;
    let outbound = binding.outbound();
    let status = answer.status;
    let answer = answer.into_json();
    let rules = [&t.fetch.errors[..], &outbound.errors.rules];
    errors::check(
        status,
        &answer,
        &outbound.errors,
        &rules,
        &binding.provider,
        now_ms,
    )?;
    let mut doc = binding.document(Value::Null, 0);
    doc["last"] = answer;
    let env = EvalEnv {
        doc: &doc,
        codes: None,
        now_ms,
    };
    let token = eval(&t.token, &env)
        .ok()
        .flatten()
        .map(|v| scalar_text(&v))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            upstream(format!(
                "provider {} answered the token request without a token",
                binding.provider
            ))
        })?;
    let lifetime = t
        .expires_in
        .as_ref()
        .and_then(|e| eval(e, &env).ok().flatten())
        .and_then(|v| v.as_i64().or_else(|| scalar_text(&v).parse().ok()))
        .filter(|s| *s > 0)
        .map_or(t.default_ttl, |s| Duration::from_secs(s as u64));
    Ok(Token {
        header_value: format!("{}{}", t.prefix, token).into(),
        ttl: lifetime
            .saturating_sub(t.margin)
            .max(Duration::from_secs(1)),
    })
}
