//! An inbound HTTP request as the frontend sees it, and its input document:
//! the JSON that route templates read (`$.path`, `$.query`, `$.headers`,
//! `$.body`, `$.files`, `$.caller`, `$.config`). Bodies are parsed by
//! content type: JSON (objects or bare arrays), form-urlencoded (repeated keys
//! become arrays), multipart (text fields into `$.body`, files into `$.files`
//! with their bytes kept beside the document).

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::{Map, Value};

use crate::canonical::model::Upload;
use crate::canonical::{Error, Reason};
use crate::mapping::inbound::{select, Binding, Candidate};
use crate::mapping::plan::Route;
use crate::mapping::template::document;
use crate::provider::Attachment;

/// A request as the server hands it over.
#[derive(Debug)]
pub struct InboundRequest {
    /// Method.
    pub method: Method,
    /// Path, percent-encoded as received.
    pub path: String,
    /// Query string without `?`.
    pub query: Option<String>,
    /// Headers.
    pub headers: HeaderMap,
    /// The body, or the fact that it was over the cap.
    pub body: Body,
    /// Request id (echoed in the response, passed to providers).
    pub request_id: String,
    /// The client's address, when known (failed-login throttling).
    pub client: Option<std::net::IpAddr>,
}

/// A request body as read under the size cap.
#[derive(Debug)]
pub enum Body {
    /// The whole body.
    Complete(Bytes),
    /// The body was larger than the cap and was not read.
    TooLarge(usize),
}

/// Adds members to a JSON object, turning repeated keys into arrays.
pub fn push_repeated(map: &mut Map<String, Value>, key: String, value: Value) {
    match map.get_mut(&key) {
        None => {
            map.insert(key, value);
        }
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}

/// A query string or form body as a JSON object.
pub fn form_object(bytes: &[u8]) -> Value {
    let mut map = Map::new();
    for (k, v) in form_urlencoded::parse(bytes) {
        push_repeated(&mut map, k.into_owned(), Value::String(v.into_owned()));
    }
    Value::Object(map)
}

/// Headers as a JSON object with lowercase names.
pub fn header_object(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for (name, value) in headers {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        push_repeated(&mut map, name.as_str().to_string(), Value::String(text));
    }
    Value::Object(map)
}

/// A parsed body: `$.body`, `$.files` and the uploaded bytes.
pub struct ParsedBody {
    /// What `$.body` holds.
    pub body: Value,
    /// What `$.files` holds.
    pub files: Value,
    /// The uploaded files, by slot.
    pub attachments: Vec<Attachment>,
}

fn bad_body(message: impl Into<String>) -> Error {
    Error::invalid(Reason::Body, message)
}

/// Most nesting levels (arrays and objects) of a JSON body.
pub const MAX_DEPTH: usize = 32;

/// Most values (array items, object members, form fields) in a body.
pub const MAX_ITEMS: usize = 100_000;

/// Refuses a JSON body nested deeper than [`MAX_DEPTH`] or holding more than
/// [`MAX_ITEMS`] values, by one pass over its bytes before any tree is built
/// (a 10 MB array of small numbers would take ~30 times its size parsed).
fn check_json_shape(bytes: &[u8]) -> Result<(), Error> {
    let (mut depth, mut items) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    let message = format!("the JSON body nests deeper than {MAX_DEPTH} levels");
                    return Err(Error::limit(Reason::Body, message));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' => {
                items += 1;
                if items >= MAX_ITEMS {
                    return Err(too_many_items());
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn too_many_items() -> Error {
    Error::limit(
        Reason::Body,
        format!("the body holds more than {MAX_ITEMS} values"),
    )
}

/// Parses a body by its content type.
pub async fn parse_body(headers: &HeaderMap, bytes: Bytes) -> Result<ParsedBody, Error> {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let mut parsed = ParsedBody {
        body: Value::Null,
        files: Value::Object(Map::new()),
        attachments: Vec::new(),
    };
    if mime == "multipart/form-data" {
        parse_multipart(content_type, bytes, &mut parsed).await?;
        return Ok(parsed);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(parsed);
    }
    parsed.body = if mime == "application/x-www-form-urlencoded" {
        if bytes.iter().filter(|&&b| b == b'&').count() >= MAX_ITEMS {
            return Err(too_many_items());
        }
        form_object(&bytes)
    } else {
        check_json_shape(&bytes)?;
        serde_json::from_slice(&bytes).map_err(|e| bad_body(format!("malformed JSON body: {e}")))?
    };
    Ok(parsed)
}

async fn parse_multipart(
    content_type: &str,
    bytes: Bytes,
    out: &mut ParsedBody,
) -> Result<(), Error> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| bad_body("multipart body without a boundary"))?;
    let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(bytes) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut fields = Map::new();
    let mut files = Map::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(bad_body(format!("malformed multipart body: {e}"))),
        };
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(|m| m.to_string());
        let data = field
            .bytes()
            .await
            .map_err(|e| bad_body(format!("malformed multipart body: {e}")))?;
        if filename.is_some() {
            let upload = Upload {
                slot: out.attachments.len(),
                field: name.clone(),
                name: filename.clone(),
                content_type: content_type.clone(),
                size: data.len(),
            };
            out.attachments.push(Attachment {
                field: name.clone(),
                filename,
                content_type,
                bytes: data,
            });
            if !files.contains_key(&name) {
                files.insert(name, serde_json::to_value(upload).unwrap_or(Value::Null));
            }
        } else {
            let text = String::from_utf8_lossy(&data).into_owned();
            push_repeated(&mut fields, name, Value::String(text));
        }
    }
    out.body = Value::Object(fields);
    out.files = Value::Object(files);
    Ok(())
}

/// A request matched to its route (its input document is in the `input`
/// given to [`prepare`]).
pub struct Prepared {
    /// The route chosen (path, method, `when`).
    pub route: Arc<Route>,
    /// Files uploaded with the request.
    pub attachments: Vec<Attachment>,
}

/// Parses the body and chooses among the candidates (route lookup done).
/// `input` receives the document templates read (`$.path`, `$.query`,
/// `$.body`, ...), as far as it got on failure, for error rendering.
pub async fn prepare(
    binding: &Binding,
    candidates: Vec<Candidate>,
    req: &mut InboundRequest,
    input: &mut Value,
) -> Result<Prepared, Error> {
    let bytes = match std::mem::replace(&mut req.body, Body::Complete(Bytes::new())) {
        Body::Complete(b) => b,
        Body::TooLarge(limit) => {
            return Err(Error::limit(
                Reason::Body,
                format!("request body is larger than {limit} bytes"),
            ))
        }
    };
    let query = req
        .query
        .as_deref()
        .map_or_else(|| Value::Object(Map::new()), |q| form_object(q.as_bytes()));
    let url = document([
        ("path", Value::String(req.path.clone())),
        (
            "query",
            Value::String(req.query.clone().unwrap_or_default()),
        ),
    ]);
    *input = document([
        ("method", Value::String(req.method.as_str().to_string())),
        ("url", url),
        ("path", Value::Object(Map::new())),
        ("query", query),
        ("headers", header_object(&req.headers)),
        ("body", Value::Null),
        ("files", Value::Object(Map::new())),
        ("caller", Value::Null),
        ("config", binding.config.clone()),
    ]);
    let ParsedBody {
        body,
        files,
        attachments,
    } = parse_body(&req.headers, bytes).await?;
    input["body"] = body;
    input["files"] = files;
    let route = select(candidates, input)?;
    Ok(Prepared { route, attachments })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", ct.parse().unwrap());
        h
    }

    #[tokio::test]
    async fn json_objects_and_bare_arrays() {
        let p = parse_body(
            &headers("application/json"),
            Bytes::from_static(b"[\"a\",\"b\"]"),
        )
        .await
        .unwrap();
        assert_eq!(p.body, json!(["a", "b"]));
        let p = parse_body(&HeaderMap::new(), Bytes::from_static(b"{\"a\":1}"))
            .await
            .unwrap();
        assert_eq!(p.body, json!({"a": 1}));
        let e = parse_body(&headers("application/json"), Bytes::from_static(b"{\"a\":"))
            .await
            .err()
            .unwrap();
        assert_eq!(e.reason, Some(Reason::Body));
    }

    #[tokio::test]
    async fn deep_or_huge_bodies_are_refused_before_parsing() {
        let limit = |body: String, ct: &str| {
            let headers = headers(ct);
            async move {
                parse_body(&headers, Bytes::from(body))
                    .await
                    .err()
                    .map(|e| (e.kind, e.reason))
            }
        };
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let refused = Some((
            crate::canonical::ErrorKind::LimitExceeded,
            Some(Reason::Body),
        ));
        assert_eq!(limit(nested(MAX_DEPTH), "application/json").await, None);
        assert_eq!(
            limit(nested(MAX_DEPTH + 1), "application/json").await,
            refused
        );
        // Brackets and commas inside strings are text.
        let quoted = format!(
            "{{\"a\": \"{}\\\"{}\"}}",
            "[".repeat(100),
            ",".repeat(MAX_ITEMS)
        );
        assert_eq!(limit(quoted, "application/json").await, None);
        let items = |n: usize| format!("[{}]", vec!["1"; n].join(","));
        assert_eq!(limit(items(MAX_ITEMS), "application/json").await, None);
        assert_eq!(
            limit(items(MAX_ITEMS + 1), "application/json").await,
            refused
        );
        let form = |n: usize| vec!["a=1"; n].join("&");
        let ct = "application/x-www-form-urlencoded";
        assert_eq!(limit(form(MAX_ITEMS), ct).await, None);
        assert_eq!(limit(form(MAX_ITEMS + 1), ct).await, refused);
    }

    #[tokio::test]
    async fn forms_keep_repeated_keys() {
        let p = parse_body(
            &headers("application/x-www-form-urlencoded"),
            Bytes::from_static(b"userId=a&userId=b&name=%E5%90%8D+x"),
        )
        .await
        .unwrap();
        assert_eq!(p.body, json!({"userId": ["a", "b"], "name": "名 x"}));
    }

    #[tokio::test]
    async fn multipart_files_become_attachments() {
        let body = "--XX\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\ng1\r\n--XX\r\nContent-Disposition: form-data; name=\"cover\"; filename=\"c.png\"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n--XX--\r\n";
        let p = parse_body(
            &headers("multipart/form-data; boundary=XX"),
            Bytes::from(body),
        )
        .await
        .unwrap();
        assert_eq!(p.body, json!({"name": "g1"}));
        assert_eq!(p.files["cover"]["slot"], json!(0));
        assert_eq!(p.files["cover"]["size"], json!(7));
        assert_eq!(&p.attachments[0].bytes[..], b"PNGDATA");
    }
}
