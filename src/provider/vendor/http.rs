//! One vendor HTTP call: sending a request the mapping built on the pooled
//! client with a timeout, reading the answer under a cap.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;

use crate::canonical::{Error, ErrorKind, Reason, Source};
use crate::mapping::outbound::call::upstream;
use crate::mapping::outbound::{Answer, MultipartValue, Outgoing, Payload};
use crate::provider::CallContext;

/// How a call went at the transport level.
pub enum Sent {
    /// An answer arrived.
    Answer(Answer),
    /// No answer: connection failed, or the timeout passed.
    Failed {
        /// Metric label: `unreachable` or `timeout`.
        label: &'static str,
        /// What to tell the client.
        error: Error,
    },
}

/// The vendor's HTTP client: pooled, with timeouts and an answer cap.
pub struct Http {
    /// The pooled client.
    pub client: reqwest::Client,
    /// Base URL the calls' targets are appended to.
    pub base_url: String,
    /// Largest answer read.
    pub max_bytes: usize,
    /// Provider name, for messages.
    pub provider: String,
    /// Timeout of one call.
    pub timeout: Duration,
}

impl Http {
    /// Sends one request (no retry) and reads the answer.
    pub async fn send(&self, out: &Outgoing, ctx: &CallContext) -> Sent {
        let url = format!("{}{}", self.base_url.trim_end_matches('/'), out.target);
        send_once(
            &self.client,
            &url,
            out,
            ctx,
            self.max_bytes,
            &self.provider,
            self.timeout,
        )
        .await
    }
}

/// Sends a request once.
async fn send_once(
    client: &reqwest::Client,
    url: &str,
    out: &Outgoing,
    ctx: &CallContext,
    max_bytes: usize,
    provider: &str,
    timeout: Duration,
) -> Sent {
    let mut req = client.request(out.method.clone(), url).timeout(timeout);
    for (k, v) in &out.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    if !ctx.request_id.is_empty() {
        req = req.header("x-request-id", ctx.request_id.as_str());
    }
    req = match &out.body {
        Payload::Empty => req,
        Payload::Json(v) => req.json(v),
        Payload::Form(fields) => req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(fields)
                    .finish(),
            ),
        Payload::Multipart(fields) => {
            let mut form = reqwest::multipart::Form::new();
            for (name, value) in fields {
                form = match value {
                    MultipartValue::Text(t) => form.text(name.clone(), t.clone()),
                    MultipartValue::File(slot) => match ctx.attachment(*slot) {
                        Some(a) => {
                            // Bytes are shared by every attempt, not copied; the length stays known.
                            let part = || {
                                reqwest::multipart::Part::stream(a.bytes.clone())
                                    .file_name(a.filename.clone().unwrap_or_else(|| "file".into()))
                            };
                            // An unparsable content type is left out, the file name kept.
                            let part = match &a.content_type {
                                Some(ct) => part().mime_str(ct).unwrap_or_else(|_| part()),
                                None => part(),
                            };
                            form.part(name.clone(), part)
                        }
                        None => form,
                    },
                };
            }
            req.multipart(form)
        }
    };
    let started = Instant::now();
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return failure(e, provider, timeout),
    };
    let status = resp.status().as_u16();
    let headers: serde_json::Map<String, Value> = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
            )
        })
        .collect();
    let bytes = match read_capped(resp, max_bytes).await {
        Ok(b) => b,
        Err(ReadError::TooLarge) => {
            return Sent::Failed {
                label: "too_large",
                error: upstream(format!(
                    "provider {provider} answered more than {max_bytes} bytes"
                )),
            }
        }
        Err(ReadError::Http(e)) => {
            return failure(e, provider, timeout.saturating_sub(started.elapsed()))
        }
    };
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            // A success that is not JSON is garbage; an error page keeps its
            // text for the error mapping.
            Err(_) if (200..300).contains(&status) => {
                return Sent::Failed {
                    label: "garbage",
                    error: upstream(format!(
                        "provider {provider} answered with a body that is not JSON"
                    )),
                }
            }
            Err(_) => Value::String(String::from_utf8_lossy(&bytes).chars().take(200).collect()),
        }
    };
    Sent::Answer(Answer {
        status,
        body,
        headers: Value::Object(headers),
    })
}

fn failure(e: reqwest::Error, provider: &str, timeout: Duration) -> Sent {
    if e.is_timeout() {
        Sent::Failed {
            label: "timeout",
            error: Error::new(
                ErrorKind::UpstreamUnavailable,
                format!(
                    "provider {provider} did not answer within {} ms",
                    timeout.as_millis()
                ),
            )
            .with_reason(Reason::Timeout)
            .with_source(Source::Provider),
        }
    } else {
        tracing::warn!(provider, error = %e, "vendor call failed");
        Sent::Failed {
            label: "unreachable",
            error: Error::new(
                ErrorKind::UpstreamUnavailable,
                format!("provider {provider} is unreachable"),
            )
            .with_source(Source::Provider),
        }
    }
}

enum ReadError {
    TooLarge,
    Http(reqwest::Error),
}

async fn read_capped(mut resp: reqwest::Response, max: usize) -> Result<Bytes, ReadError> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(ReadError::Http)? {
        if buf.len() + chunk.len() > max {
            return Err(ReadError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}
