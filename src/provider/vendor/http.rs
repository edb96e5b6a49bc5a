//! One vendor HTTP call: sending a request the mapping built on the pooled
//! client with a timeout, reading the answer under a cap.

use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::Url;
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
    /// `base_url` parsed once (see [`parse_base`]).
    pub base: Option<Url>,
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
        let method = out.method.clone();
        let req = match self.base.as_ref().and_then(|b| below(b, &out.target)) {
            Some(url) => self.client.request(method, url),
            // reqwest parses it, and says what is wrong with it.
            None => {
                let url = format!("{}{}", self.base_url.trim_end_matches('/'), out.target);
                self.client.request(method, url)
            }
        };
        send_once(req, out, ctx, self.max_bytes, &self.provider, self.timeout).await
    }
}

/// `base_url` parsed, when the URL of a call is its path with the call's
/// path and query appended (a base with no query or fragment), so that
/// calls do not parse the scheme and host again.
pub fn parse_base(base_url: &str) -> Option<Url> {
    // Trailing blanks would end up inside the joined URL (parsing drops them
    // only at the ends).
    if base_url.ends_with(|c: char| c <= ' ') {
        return None;
    }
    Url::parse(base_url)
        .ok()
        .filter(|u| u.query().is_none() && u.fragment().is_none() && !u.cannot_be_a_base())
}

/// The URL of `target` (a path with an optional query) below `base`: the
/// URL that parsing the base URL and `target` written one after the other
/// gives. None for other targets (a fragment, no leading `/`).
fn below(base: &Url, target: &str) -> Option<Url> {
    if !target.starts_with('/') || target.contains('#') {
        return None;
    }
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let mut url = base.clone();
    url.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
    url.set_query(query);
    Some(url)
}

/// Sends a request once.
async fn send_once(
    req: reqwest::RequestBuilder,
    out: &Outgoing,
    ctx: &CallContext,
    max_bytes: usize,
    provider: &str,
    timeout: Duration,
) -> Sent {
    let mut req = req.timeout(timeout);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_url_is_the_base_and_target_parsed_together() {
        let bases = [
            "http://127.0.0.1:9",
            "http://127.0.0.1:9/",
            "https://a1.easemob.com/org/app/",
            "http://h:80/api//",
            "http://user:pw@h/a/..",
            "http://h/a/.",
        ];
        let targets = [
            "/v1/users/javen",
            "/v1/users/ja%20ven?x=1&y=a b",
            "/a/../b?q=%zz",
            "//x/y",
            "/s p\\a/\u{e9}?\u{e9}=\u{e9}",
            "/v1?",
        ];
        for b in bases {
            let parsed = parse_base(b).expect(b);
            for t in targets {
                let whole = Url::parse(&format!("{}{t}", b.trim_end_matches('/'))).unwrap();
                assert_eq!(below(&parsed, t), Some(whole), "{b} + {t}");
            }
        }
        let parsed = parse_base("http://h").unwrap();
        assert_eq!(below(&parsed, "x"), None);
        assert_eq!(below(&parsed, "/x#y"), None);
        assert_eq!(parse_base("http://h/?a=1"), None);
        assert_eq!(parse_base("http://h "), None);
        assert_eq!(parse_base("not a url"), None);
    }
}
