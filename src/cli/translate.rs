//! `imbridge translate`: what a request in a dialect becomes — the route, the
//! canonical operation and, for a configured vendor provider, the calls it
//! would make (with every answer stubbed as an empty success, so later calls
//! that use earlier answers show what they can; secrets redacted: the
//! provider's params, credential headers, and password and secret fields
//! such as a registered user's password). Nothing is sent anywhere.

use std::time::Duration;

use http::{HeaderMap, Method};
use serde_json::{json, Value};

use crate::config::{Config, ProviderConfig};
use crate::frontend::offline::offline_op;
use crate::mapping::compile::compile_dir;
use crate::mapping::inbound;
use crate::mapping::outbound::offline::CallRef;
use crate::mapping::outbound::store::Memory;
use crate::mapping::outbound::token::{self, Token};
use crate::mapping::outbound::{offline, Answer, Binding};
use crate::provider::vendor::auth::static_headers;

/// What to translate (the `translate` command's arguments).
#[derive(Debug, clap::Args)]
pub struct Request {
    /// Frontend name in the config.
    #[arg(long)]
    pub frontend: String,
    /// HTTP method.
    #[arg(long, default_value = "GET")]
    pub method: String,
    /// Path with query string.
    #[arg(long)]
    pub path: String,
    /// A header, `name: value` (repeatable).
    #[arg(long = "header")]
    pub headers: Vec<String>,
    /// The body (JSON or form text).
    #[arg(long)]
    pub body: Option<String>,
    /// Show the calls of this provider instead of the frontend's.
    #[arg(long)]
    pub provider: Option<String>,
    /// The authenticated user (auth itself is not run).
    #[arg(long)]
    pub caller: Option<String>,
}

/// Fields whose values are credentials wherever they appear (a user's
/// password in a registration, a client secret in a token request).
fn secret_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("password") || name.contains("secret")
}

/// The values of credential fields in `value` (to redact them wherever else
/// they turn up: forms, URLs).
fn secret_values(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| secret_values(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if secret_field(k) => out.push(s.clone()),
                    other => secret_values(other, out),
                }
            }
        }
        _ => {}
    }
}

/// `value` with every secret value and every member named in `credentials`
/// (headers that carry credentials, matched ignoring case) redacted.
fn redact(mut value: Value, secrets: &[String], credentials: &[&str]) -> Value {
    match &mut value {
        Value::String(s) => {
            for secret in secrets.iter().filter(|s| s.len() >= 3) {
                if s.contains(secret.as_str()) {
                    *s = s.replace(secret.as_str(), "**REDACTED**");
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| *v = redact(v.take(), secrets, credentials)),
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let credential = credentials.iter().any(|c| c.eq_ignore_ascii_case(k))
                    || (secret_field(k) && (v.is_string() || v.is_number()));
                *v = if credential {
                    Value::String("**REDACTED**".into())
                } else {
                    redact(v.take(), secrets, credentials)
                };
            }
        }
        _ => {}
    }
    value
}

/// Translates; returns the JSON report.
pub async fn translate(config: &Config, req: &Request) -> Result<Value, String> {
    let fc = config
        .frontends
        .get(&req.frontend)
        .ok_or_else(|| format!("no frontend `{}` in the config", req.frontend))?;
    let (dialects, diags) = compile_dir(&config.mappings);
    if !diags.is_empty() {
        return Err(crate::mapping::diag::render(&diags));
    }
    let find = |name: &str| dialects.iter().find(|d| d.name == name).cloned();
    let dialect =
        find(fc.dialect(&req.frontend)).ok_or("the frontend's dialect has no mapping file")?;
    let binding =
        inbound::Binding::new(&req.frontend, dialect, &config.app_key_of(fc), &fc.params)?;
    let method = Method::from_bytes(req.method.to_ascii_uppercase().as_bytes())
        .map_err(|e| e.to_string())?;
    let mut headers = HeaderMap::new();
    for h in &req.headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| format!("header `{h}` is not name: value"))?;
        headers.insert(
            http::HeaderName::from_bytes(k.trim().as_bytes()).map_err(|e| e.to_string())?,
            v.trim()
                .parse()
                .map_err(|_| format!("bad header value in `{h}`"))?,
        );
    }
    if req.body.is_some() && !headers.contains_key(http::header::CONTENT_TYPE) {
        headers.insert(
            http::header::CONTENT_TYPE,
            "application/json".parse().expect("static"),
        );
    }
    let (route, op) = offline_op(
        &binding,
        method,
        &req.path,
        headers,
        req.body.clone().unwrap_or_default().into_bytes(),
        req.caller.as_deref(),
        chrono::Utc::now().timestamp_millis(),
    )
    .await
    .map_err(|e| format!("frontend `{}`: {e}", req.frontend))?;
    // Passwords the caller sent (a registration, a password change) are
    // redacted like the configured secrets.
    let request = op.to_json();
    let mut caller_secrets = Vec::new();
    secret_values(&request, &mut caller_secrets);
    let mut report = json!({
        "frontend": req.frontend,
        "route": route.name,
        "op": op.name().as_str(),
        "request": redact(request, &caller_secrets, &[]),
    });
    let provider_name = req.provider.clone().unwrap_or_else(|| fc.provider.clone());
    match config.providers.get(&provider_name) {
        Some(ProviderConfig::Vendor(cfg)) => {
            let dialect = find(&cfg.dialect).ok_or("the provider's dialect has no mapping file")?;
            let binding = Binding::new(&provider_name, dialect.clone(), &cfg.params)?;
            let outbound = binding.outbound();
            let credentials = outbound.auth.credential_headers();
            let secrets: Vec<String> = cfg
                .params
                .values()
                .map(|s| s.expose().to_string())
                .chain(caller_secrets)
                .collect();
            let now_ms = chrono::Utc::now().timestamp_millis();
            let mut sent = Vec::new();
            // A token scheme's fetch is shown first; the calls carry a
            // stand-in token (redacted like the real one would be).
            let token = match token::scheme(&binding) {
                Some(_) => {
                    sent.push(token::request(&binding, now_ms, now_ms).map_err(|e| e.to_string())?);
                    Some(Token {
                        header_value: "**REDACTED**".into(),
                        ttl: Duration::ZERO,
                    })
                }
                None => None,
            };
            let mut memory = Memory::default();
            let mut stored = Vec::new();
            let outcome = offline::run(&binding, &op, now_ms, now_ms, token, |call| match call {
                CallRef::Store(c) => {
                    stored.push((sent.len(), c.to_json()));
                    memory.apply(c, now_ms)
                }
                CallRef::Vendor(out) => {
                    sent.push(out.clone());
                    Answer {
                        status: 200,
                        body: json!({}),
                        headers: json!({}),
                    }
                }
            });
            let mut calls = Vec::new();
            let mut stored = stored.into_iter().peekable();
            for (i, mut out) in sent.into_iter().enumerate() {
                while let Some((_, call)) = stored.next_if(|(at, _)| *at == i) {
                    calls.push(call);
                }
                let auth = static_headers(&outbound.auth, &binding.params, now_ms);
                out.headers.extend(auth.map_err(|e| e.to_string())?);
                let mut call = crate::golden::call_json(&out);
                let base = cfg.base_url.trim_end_matches('/');
                call["url"] = Value::String(format!("{base}{}", out.target));
                call["headers"] = Value::Object(
                    out.headers
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect(),
                );
                calls.push(call);
            }
            calls.extend(stored.map(|(_, call)| call));
            report["provider"] = Value::String(provider_name);
            report["calls"] = redact(Value::Array(calls), &secrets, &credentials);
            report["note"] = Value::String("vendor answers were stubbed as `200 {}` and store calls ran on empty records in memory: later calls that use earlier answers show what they can".into());
            if let Err(e) = outcome {
                report["outcome"] = Value::String(format!("with stubbed answers: {e}"));
            }
        }
        Some(ProviderConfig::Embedded(_)) => {
            report["provider"] = Value::String(provider_name);
            report["calls"] = json!([]);
            report["note"] =
                Value::String("the embedded provider runs in-process: no outbound requests".into());
        }
        None => return Err(format!("no provider `{provider_name}` in the config")),
    }
    Ok(report)
}
