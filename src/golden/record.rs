//! Recording golden cases from a running imbridge, opt-in: with
//! `GOLDEN_RECORD_DIR=DIR` in its environment, imbridge appends to
//! `DIR/<pid>.jsonl` one golden case (in the case file format, as JSON) per
//! route it serves — the request and the operation it became, the result or
//! error and the response it rendered — and per operation a vendor provider
//! runs: the canonical request, the vendor's answers and imbridge's records
//! it read, the calls it made and the result or error. `imbridge test
//! --record DIR` keeps the cases that pass offline (`super::recorded`).
//!
//! Each case states the "now" (and fresh id) it ran at, so its expectation
//! is what the running imbridge produced, not a replay. Off by default: a
//! request then costs one load of a static. Recording writes synchronously
//! and keeps tokens out (auth headers are dropped, secret params are not
//! written): it is for test runs, never for serving.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Map, Value};

use crate::canonical::{Error, Op, Output};
use crate::mapping::inbound::{self, Reply};
use crate::mapping::outbound::store::StoreCall;
use crate::mapping::outbound::{token, Answer, Binding, Outgoing, StoreAction};
use crate::mapping::plan::Dialect;

/// The environment variable naming the directory recordings go to.
pub const ENV: &str = "GOLDEN_RECORD_DIR";

/// The largest inbound body a recorded case keeps.
const MAX_BODY: usize = 16 * 1024;

/// Where recorded cases go.
pub struct Recorder {
    file: Mutex<std::fs::File>,
    /// The last token fetch answer per provider: the first answer of its
    /// cases (golden cases fetch a token before the first call).
    tokens: Mutex<BTreeMap<String, Value>>,
}

static RECORDER: OnceLock<Option<Recorder>> = OnceLock::new();

/// The recorder, when `GOLDEN_RECORD_DIR` names a directory it can write to.
pub fn recorder() -> Option<&'static Recorder> {
    RECORDER.get_or_init(open).as_ref()
}

fn open() -> Option<Recorder> {
    let dir = std::path::PathBuf::from(std::env::var_os(ENV)?);
    let path = dir.join(format!("{}.jsonl", std::process::id()));
    let opened = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
    });
    match opened {
        Ok(file) => Some(Recorder {
            file: Mutex::new(file),
            tokens: Mutex::default(),
        }),
        Err(e) => {
            tracing::warn!("cannot record golden cases in {}: {e}", path.display());
            None
        }
    }
}

impl Recorder {
    /// Appends one case of `dialect`, bound with `params`.
    fn write(&self, dialect: &Dialect, side: &str, params: Value, case: Value) {
        let line = json!({"dialect": dialect.name, "side": side, "params": params, "case": case});
        let mut text = line.to_string();
        text.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = file.write_all(text.as_bytes()) {
            tracing::warn!("cannot record a golden case: {e}");
        }
    }

    /// An inbound request that became `outcome`: an inbound case.
    pub fn inbound(
        &self,
        dialect: &Dialect,
        config: &Value,
        request: &Request,
        now_ms: i64,
        outcome: Result<&Op, &Error>,
    ) {
        let mut inbound = request.case.clone();
        inbound["now"] = json!(now_ms);
        let (what, expect) = match outcome {
            Ok(op) => (
                op.name().as_str().to_string(),
                json!({"op": op.name().as_str(), "request": op.to_json()}),
            ),
            Err(e) => (error_name(e), json!({"error": error_expect(e)})),
        };
        let name = format!(
            "{} {} becomes {what}",
            inbound["method"].as_str().unwrap_or_default(),
            inbound["path"].as_str().unwrap_or_default()
        );
        let case = json!({"name": name, "inbound": inbound, "expect": expect});
        self.write(dialect, "inbound", public(config), case);
    }

    /// A response rendered for `route`: a render case (`input` without its
    /// headers).
    pub fn render(
        &self,
        binding: &inbound::Binding,
        route: &str,
        outcome: Result<(&Op, &Output), &Error>,
        input: &Value,
        now_ms: i64,
        reply: &Reply,
    ) {
        let Ok(body) = (match &reply.body[..] {
            [] => Ok(Value::Null),
            b => serde_json::from_slice::<Value>(b),
        }) else {
            return;
        };
        let mut input = input.clone();
        if let Some(doc) = input.as_object_mut() {
            doc.remove("headers");
        }
        let mut render = json!({"route": route, "input": input, "now": now_ms});
        let name = match outcome {
            Ok((op, result)) => {
                render["request"] = op.to_json();
                render["result"] = result.to_json();
                format!("{route} renders its result")
            }
            Err(e) => {
                render["error"] = json!(e);
                format!("{route} renders {}", error_name(e))
            }
        };
        let expect = json!({"status": reply.status, "body": body});
        let case = json!({"name": name, "render": render, "expect": expect});
        self.write(&binding.dialect, "render", public(&binding.config), case);
    }

    /// The answer to a token fetch of `provider`.
    pub fn token(&self, provider: &str, answer: &Answer) {
        let answer = json!({"status": answer.status, "body": answer.body});
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.insert(provider.to_string(), answer);
    }

    /// An operation a vendor provider ran: an outbound case (none when it
    /// used a token whose fetch was not seen).
    pub fn outbound(&self, tape: Tape, outcome: &Result<Output, Error>) {
        let Tape {
            binding_params,
            dialect,
            provider,
            token,
            op,
            request,
            now_ms,
            fresh_id,
            mut answers,
            records,
            calls,
            ..
        } = tape;
        if token && !answers.is_empty() {
            let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
            let Some(fetched) = tokens.get(&provider) else {
                return;
            };
            answers.insert(0, fetched.clone());
        }
        let mut outbound =
            json!({"op": op, "request": request, "now": now_ms, "fresh_id": fresh_id});
        if !answers.is_empty() {
            outbound["answers"] = Value::Array(answers);
        }
        if !records.is_empty() {
            outbound["records"] = Value::Array(records);
        }
        let (name, expect) = match outcome {
            Ok(result) => (
                format!("{op} on the vendor"),
                json!({"calls": calls, "result": result.to_json()}),
            ),
            Err(e) => (
                format!("{op} on the vendor fails as {}", error_name(e)),
                json!({"calls": calls, "error": error_expect(e)}),
            ),
        };
        let case = json!({"name": name, "outbound": outbound, "expect": expect});
        self.write(&dialect, "outbound", binding_params, case);
    }
}

/// `kind/reason` of an error.
fn error_name(e: &Error) -> String {
    match e.reason {
        Some(r) => format!("{}/{}", e.kind.as_str(), r.as_str()),
        None => e.kind.as_str().to_string(),
    }
}

/// An error as a case expects it: kind and reason.
fn error_expect(e: &Error) -> Value {
    json!({"kind": e.kind.as_str(), "reason": e.reason.map(|r| r.as_str())})
}

/// The non-secret params of a binding (`$.config`), as strings.
fn public(config: &Value) -> Value {
    let params: Map<String, Value> = config
        .as_object()
        .into_iter()
        .flatten()
        // `app_uuid` follows from `app_key`.
        .filter(|(k, v)| v.is_string() && *k != "app_uuid")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(params)
}

/// An inbound request as a case states it: method, path with query, the
/// headers that are not credentials, the body (JSON, else raw text).
pub struct Request {
    case: Value,
}

/// Headers a recorded case leaves out: credentials, signatures and what the
/// transport sets.
fn dropped(header: &str) -> bool {
    const WORDS: [&str; 8] = [
        "auth",
        "sign",
        "nonce",
        "timestamp",
        "token",
        "secret",
        "key",
        "cookie",
    ];
    const TRANSPORT: [&str; 6] = [
        "host",
        "content-length",
        "user-agent",
        "accept",
        "accept-encoding",
        "connection",
    ];
    WORDS.iter().any(|w| header.contains(w)) || TRANSPORT.contains(&header)
}

impl Request {
    /// The request, unless its body cannot be written as text.
    pub fn new(
        method: &http::Method,
        path: &str,
        query: Option<&str>,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Option<Request> {
        if body.len() > MAX_BODY {
            return None;
        }
        let path = match query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        };
        let mut case = json!({"method": method.as_str(), "path": path});
        let mut kept = Map::new();
        for (name, value) in headers {
            if !dropped(name.as_str()) {
                kept.insert(name.to_string(), json!(value.to_str().ok()?));
            }
        }
        let json_type = kept
            .get("content-type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with("application/json"));
        match serde_json::from_slice::<Value>(body) {
            Ok(v) if json_type && !body.is_empty() => {
                kept.remove("content-type");
                case["body"] = v;
            }
            _ if body.is_empty() => {}
            _ => case["raw"] = json!(std::str::from_utf8(body).ok()?),
        }
        if !kept.is_empty() {
            case["headers"] = Value::Object(kept);
        }
        Some(Request { case })
    }

    /// The caller per-user auth found.
    pub fn caller(&mut self, caller: &str) {
        self.case["caller"] = json!(caller);
    }
}

/// An operation under way on a vendor: what it was asked, what it sent and
/// what it was answered.
pub struct Tape {
    binding_params: Value,
    dialect: std::sync::Arc<Dialect>,
    provider: String,
    /// Whether the vendor wants a token (fetched before the first call).
    token: bool,
    op: String,
    request: Value,
    now_ms: i64,
    fresh_id: i64,
    answers: Vec<Value>,
    records: Vec<Value>,
    calls: Vec<Value>,
    /// Records this operation wrote (a later read is not a record before).
    written: BTreeSet<(String, String)>,
}

impl Tape {
    /// Starts recording `op` on `binding` at `now_ms` with `fresh_id`.
    pub fn new(binding: &Binding, op: &Op, now_ms: i64, fresh_id: i64) -> Tape {
        Tape {
            binding_params: public(binding.public_params()),
            dialect: binding.dialect.clone(),
            provider: binding.provider.clone(),
            token: token::scheme(binding).is_some(),
            op: op.name().as_str().to_string(),
            request: op.to_json(),
            now_ms,
            fresh_id,
            answers: Vec::new(),
            records: Vec::new(),
            calls: Vec::new(),
            written: BTreeSet::new(),
        }
    }

    /// A vendor call and its answer.
    pub fn call(&mut self, out: &Outgoing, answer: &Answer) {
        self.calls.push(super::call_json(out));
        self.answers
            .push(json!({"status": answer.status, "body": answer.body}));
    }

    /// A store call and its answer; what it read that this operation did
    /// not write becomes a record the case seeds.
    pub fn store(&mut self, call: &StoreCall, answer: &Answer) {
        self.calls.push(call.to_json());
        let id = (call.kind.clone(), call.key.clone());
        let found = answer.status == 200;
        match call.action {
            StoreAction::Get | StoreAction::Delete if found && !self.written.contains(&id) => {
                self.seed(&call.kind, &call.key, answer.body.clone(), None);
            }
            StoreAction::List if found => {
                for item in answer.body["items"].as_array().into_iter().flatten() {
                    let key = item["key"].as_str().unwrap_or_default().to_string();
                    if !self.written.contains(&(call.kind.clone(), key.clone())) {
                        self.seed(
                            &call.kind,
                            &key,
                            item["value"].clone(),
                            item["created"].as_i64(),
                        );
                    }
                }
            }
            _ => {}
        }
        if matches!(
            call.action,
            StoreAction::Put | StoreAction::Merge | StoreAction::Delete
        ) {
            self.written.insert(id);
        }
    }

    fn seed(&mut self, kind: &str, key: &str, value: Value, created: Option<i64>) {
        let known = self
            .records
            .iter()
            .any(|r| r["kind"] == kind && r["key"] == key);
        if !known {
            let mut record = json!({"kind": kind, "key": key, "value": value});
            if let Some(c) = created {
                record["created"] = json!(c);
            }
            self.records.push(record);
        }
    }
}
