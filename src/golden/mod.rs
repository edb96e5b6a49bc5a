//! Golden tests of mapping files, offline: `mappings/tests/<dialect>/*.yaml`
//! hold named cases — an inbound request and the canonical operation it must
//! become; a canonical result (or error) and the response it must render; a
//! canonical operation, the vendor's answers, and the calls and result the
//! outbound half must make of them. `imbridge test` runs them with no
//! network, through the same compiled plans the server runs.
//!
//! ```yaml
//! params: {master_secret: test}        # frontend/provider params (optional)
//! cases:
//!   - name: register one user
//!     inbound: {method: POST, path: /v1/users/, body: [{username: a, password: secret}]}
//!     expect: {op: user.register, request: {users: [...], require_password: true}}
//!   - name: not found renders 899002
//!     render: {route: user.get, error: {kind: not_found, reason: user, message: no}}
//!     expect: {status: 404, body: {error: {code: 899002, message: no}}}
//!   - name: get a user from JMessage
//!     outbound: {op: user.get, request: {username: a}, answers: [{status: 200, body: {...}}]}
//!     expect: {calls: [{method: GET, path: /v1/users/a}], result: {...}}
//!   - name: a group's description comes from imbridge's records
//!     outbound:
//!       op: group.get
//!       request: {group_id: g1}
//!       records: [{kind: group, key: g1, value: {desc: d}}]   # the store before
//!       answers: [...]                                       # vendor calls only
//!     expect: {calls: [..., {store: get, kind: group, key: g1}], result: {...}}
//! ```
//!
//! Store calls are answered from records in memory
//! (`mapping::outbound::store::Memory`), seeded by `records:`; they are
//! listed among the calls.
//!
//! `expect` is read strictly: an unknown key is an error, an inbound case
//! states `op` (with `request`) or `error`, an outbound case states its
//! `calls` and `result` or `error`. An expected error is `{kind, reason}`
//! and, optionally, `message_contains`: a substring of the error's message.
//! Every case runs at the same "now" (`NOW_MS`): `$now` in an expected
//! result matches it.
//!
//! Coverage: a route is covered by a passing inbound case that reaches its
//! operation or a passing render case naming it; an outbound operation by a
//! passing outbound case of it. `imbridge test` lists what no case covers.

pub mod record;
mod recorded;

pub use recorded::{write as write_recorded, Written};

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::{HeaderMap, Method};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Secret;
use crate::canonical::{Error, OpName};
use crate::frontend::offline::offline_op;
use crate::mapping::compile::compile_dir;
use crate::mapping::inbound::{self, render};
use crate::mapping::outbound::offline::CallRef;
use crate::mapping::outbound::store::Memory;
use crate::mapping::outbound::{offline, token, Answer, Binding, Outgoing, Payload};
use crate::mapping::plan::Dialect;

/// "Now" in every golden case (`$now`, times), so answers are stable.
pub const NOW_MS: i64 = 1_700_000_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default)]
    params: BTreeMap<String, String>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    inbound: Option<InboundCase>,
    #[serde(default)]
    render: Option<RenderCase>,
    #[serde(default)]
    outbound: Option<OutboundCase>,
    expect: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InboundCase {
    method: String,
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<Value>,
    /// A raw body (form, malformed JSON, ...) instead of JSON.
    #[serde(default)]
    raw: Option<String>,
    /// The authenticated user, for per-user auth (auth itself is not run).
    #[serde(default)]
    caller: Option<String>,
    /// "Now" in ms (recorded cases), else [`NOW_MS`].
    #[serde(default)]
    now: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RenderCase {
    route: String,
    #[serde(default)]
    request: Option<Value>,
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error: Option<Error>,
    #[serde(default)]
    input: Option<Value>,
    /// "Now" in ms (recorded cases), else [`NOW_MS`].
    #[serde(default)]
    now: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboundCase {
    op: String,
    request: Value,
    #[serde(default)]
    answers: Vec<CannedAnswer>,
    /// Records the store holds before the operation runs.
    #[serde(default)]
    records: Vec<SeedRecord>,
    /// "Now" in ms (recorded cases), else [`NOW_MS`].
    #[serde(default)]
    now: Option<i64>,
    /// What `$.fresh_id` shows (recorded cases), else "now".
    #[serde(default)]
    fresh_id: Option<i64>,
}

/// A record of the store, as a case seeds it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedRecord {
    kind: String,
    key: String,
    value: Value,
    /// When it was first written (ms), else "now".
    #[serde(default)]
    created: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CannedAnswer {
    #[serde(default = "ok_status")]
    status: u16,
    body: Value,
}

fn ok_status() -> u16 {
    200
}

/// An expected canonical error: kind and reason compared exactly, the
/// message only when `message_contains` is given (as a substring).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorExpect {
    kind: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    message_contains: Option<String>,
}

/// What an inbound case expects: the operation (and its request) or an error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InboundExpect {
    #[serde(default)]
    op: Option<String>,
    #[serde(default)]
    request: Option<Value>,
    #[serde(default)]
    error: Option<ErrorExpect>,
}

/// What a render case expects: the status (200 when left out) and the body
/// (`null` for none).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RenderExpect {
    #[serde(default = "ok_status")]
    status: u16,
    body: Value,
}

/// What an outbound case expects: the vendor calls, and a result or an error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboundExpect {
    calls: Value,
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error: Option<ErrorExpect>,
}

/// `expect` read as `T`, an unknown or missing key named.
fn expectation<T: serde::de::DeserializeOwned>(expect: &Value) -> Result<T, String> {
    T::deserialize(expect).map_err(|e| format!("`expect` is not valid here: {e}"))
}

/// The outcome of one case.
#[derive(Debug)]
pub struct Outcome {
    /// `dialect/file.yaml: case name`.
    pub name: String,
    /// None when it passed, else what differed.
    pub failure: Option<String>,
}

/// What a passing case proves of its dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Covers {
    /// The route at this line of the mapping file.
    Route(usize),
    /// The outbound plan of this operation.
    Operation(OpName),
}

/// A dialect's inbound routes and outbound operations, and those no passing
/// case covers.
#[derive(Debug)]
pub struct Coverage {
    /// Dialect name.
    pub dialect: String,
    /// How many routes the inbound half has.
    pub routes: usize,
    /// Routes without a case, as `name (line N)`.
    pub uncovered_routes: Vec<String>,
    /// How many operations the outbound half plans.
    pub operations: usize,
    /// Operations without a case.
    pub uncovered_operations: Vec<String>,
}

/// What `imbridge test` found.
#[derive(Debug)]
pub struct Report {
    /// Each case, in file order.
    pub outcomes: Vec<Outcome>,
    /// Each dialect's coverage, in name order.
    pub coverage: Vec<Coverage>,
}

/// Runs every case under `mappings/tests/` against the dialects in `mappings/`.
pub async fn run_dir(mappings: &Path) -> Result<Report, String> {
    let (dialects, diags) = compile_dir(mappings);
    if !diags.is_empty() {
        return Err(crate::mapping::diag::render(&diags));
    }
    let tests = mappings.join("tests");
    let mut report = Report {
        outcomes: Vec::new(),
        coverage: Vec::new(),
    };
    for dialect in &dialects {
        let mut covered = BTreeSet::new();
        let dir = tests.join(&dialect.name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        for file in files {
            report
                .outcomes
                .extend(run_file(dialect, &file, &mut covered).await);
        }
        report.coverage.push(coverage(dialect, &covered));
    }
    report.coverage.sort_by(|a, b| a.dialect.cmp(&b.dialect));
    Ok(report)
}

/// `dialect`'s routes and operations against what the cases `covered`.
fn coverage(dialect: &Dialect, covered: &BTreeSet<Covers>) -> Coverage {
    let routes = dialect.inbound.as_ref().map_or(&[][..], |i| &i.routes[..]);
    let mut operations: Vec<OpName> = dialect
        .outbound
        .as_ref()
        .map(|o| o.ops.keys().copied().collect())
        .unwrap_or_default();
    operations.sort_by_key(|op| op.as_str());
    Coverage {
        dialect: dialect.name.clone(),
        routes: routes.len(),
        uncovered_routes: routes
            .iter()
            .filter(|r| !covered.contains(&Covers::Route(r.line)))
            .map(|r| format!("{} (line {})", r.name, r.line))
            .collect(),
        operations: operations.len(),
        uncovered_operations: operations
            .iter()
            .filter(|op| !covered.contains(&Covers::Operation(**op)))
            .map(|op| op.as_str().to_string())
            .collect(),
    }
}

async fn run_file(
    dialect: &Arc<Dialect>,
    file: &Path,
    covered: &mut BTreeSet<Covers>,
) -> Vec<Outcome> {
    let label = format!(
        "{}/{}",
        dialect.name,
        file.file_name().unwrap_or_default().to_string_lossy()
    );
    let parsed = std::fs::read_to_string(file)
        .map_err(|e| e.to_string())
        .and_then(|text| parse(&text));
    let cases = match parsed {
        Ok(c) => c,
        Err(e) => {
            return vec![Outcome {
                name: label,
                failure: Some(format!("cannot read the case file: {e}")),
            }]
        }
    };
    let mut out = Vec::new();
    for case in &cases.cases {
        let failure = match run_case(dialect, &cases.params, case).await {
            Ok(covers) => {
                covered.extend(covers);
                None
            }
            Err(failure) => Some(failure),
        };
        out.push(Outcome {
            name: format!("{label}: {}", case.name),
            failure,
        });
    }
    out
}

/// A case file's text, read as `imbridge test` reads it.
fn parse(text: &str) -> Result<CaseFile, String> {
    let node = marked_yaml::parse_yaml_with_options(0, text, crate::mapping::yaml::options())
        .map_err(|e| e.to_string())?;
    serde_json::from_value::<CaseFile>(crate::mapping::yaml::to_json(&node))
        .map_err(|e| e.to_string())
}

/// Runs one case: what it covers when it passes, else what differed.
async fn run_case(
    dialect: &Arc<Dialect>,
    params: &BTreeMap<String, String>,
    case: &Case,
) -> Result<Option<Covers>, String> {
    match (&case.inbound, &case.render, &case.outbound) {
        (Some(i), None, None) => inbound(dialect, params, i, &expectation(&case.expect)?).await,
        (None, Some(r), None) => rendered(dialect, params, r, &expectation(&case.expect)?),
        (None, None, Some(o)) => outbound(dialect, params, o, &expectation(&case.expect)?).await,
        _ => Err("a case has exactly one of inbound, render, outbound".into()),
    }
}

/// The case file's params, every other param of the dialect filled with its
/// default or, when required, `test`; optional params without a default stay
/// unset, as in a config that leaves them out.
fn filled(dialect: &Dialect, params: &BTreeMap<String, String>) -> BTreeMap<String, Secret> {
    let mut values: BTreeMap<String, Secret> = params
        .iter()
        .map(|(k, v)| (k.clone(), Secret::new(v.clone())))
        .collect();
    for p in dialect
        .params
        .iter()
        .filter(|p| p.required || p.default.is_some())
    {
        values
            .entry(p.name.clone())
            .or_insert_with(|| Secret::new(p.default.clone().unwrap_or_else(|| "test".into())));
    }
    values
}

/// `dialect` bound as a frontend's, every required param filled.
fn inbound_binding(
    dialect: &Arc<Dialect>,
    params: &BTreeMap<String, String>,
) -> Result<inbound::Binding, String> {
    let values = filled(dialect, params);
    // The frontend's app: the `app_key` param when the file gives one.
    let app = params.get("app_key").map_or("test-app", String::as_str);
    inbound::Binding::new(&dialect.name, dialect.clone(), app, &values)
}

fn differ(what: &str, expected: &Value, got: &Value) -> String {
    format!(
        "{what} differs\n--- expected\n{}\n--- got\n{}",
        serde_json::to_string_pretty(expected).unwrap_or_default(),
        serde_json::to_string_pretty(got).unwrap_or_default()
    )
}

/// `got` against an expected error: kind and reason, then the message.
fn compare_error(want: &ErrorExpect, got: &Error) -> Result<(), String> {
    compare(
        "error",
        &json!({"kind": want.kind, "reason": want.reason}),
        &json!({"kind": got.kind.as_str(), "reason": got.reason.map(|r| r.as_str())}),
    )?;
    match &want.message_contains {
        Some(part) if !got.message.contains(part.as_str()) => Err(format!(
            "the error message {:?} does not contain {part:?}",
            got.message
        )),
        _ => Ok(()),
    }
}

async fn inbound(
    dialect: &Arc<Dialect>,
    params: &BTreeMap<String, String>,
    case: &InboundCase,
    expect: &InboundExpect,
) -> Result<Option<Covers>, String> {
    let binding = inbound_binding(dialect, params)?;
    let method = Method::from_bytes(case.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut headers = HeaderMap::new();
    for (k, v) in &case.headers {
        headers.insert(
            http::HeaderName::from_bytes(k.as_bytes()).map_err(|e| e.to_string())?,
            v.parse().map_err(|_| format!("bad header value for {k}"))?,
        );
    }
    let body = match (&case.raw, &case.body) {
        (Some(raw), _) => raw.clone().into_bytes(),
        (None, Some(v)) => {
            headers
                .entry(http::header::CONTENT_TYPE)
                .or_insert("application/json".parse().expect("static"));
            serde_json::to_vec(v).map_err(|e| e.to_string())?
        }
        (None, None) => Vec::new(),
    };
    let caller = case.caller.as_deref();
    let now = case.now.unwrap_or(NOW_MS);
    let outcome = offline_op(&binding, method, &case.path, headers, body, caller, now).await;
    let want_op = match (&expect.op, &expect.error, &expect.request) {
        (Some(op), None, _) => Some(op.as_str()),
        (None, Some(_), None) => None,
        _ => return Err("`expect` of an inbound case has `op` (and `request`) or `error`".into()),
    };
    match (outcome, &expect.error) {
        (Err(e), Some(want)) => compare_error(want, &e).map(|()| None),
        (Err(e), None) => Err(format!("the request failed: {e}")),
        (Ok((_, op)), Some(_)) => Err(format!(
            "expected an error, got operation {}: {}",
            op.name(),
            op.to_json()
        )),
        (Ok((route, op)), None) => {
            let want_op = want_op.unwrap_or_default();
            if op.name().as_str() != want_op {
                return Err(format!("expected operation {want_op}, got {}", op.name()));
            }
            let want = expect.request.clone().unwrap_or_else(|| json!({}));
            let want = op.name().decode_request(want).map_err(|e| {
                format!(
                    "the expected request is not a valid {want_op}: {}",
                    e.message
                )
            })?;
            compare("canonical request", &want.to_json(), &op.to_json())?;
            Ok(Some(Covers::Route(route.line)))
        }
    }
}

fn compare(what: &str, expected: &Value, got: &Value) -> Result<(), String> {
    if expected == got {
        Ok(())
    } else {
        Err(differ(what, expected, got))
    }
}

fn rendered(
    dialect: &Arc<Dialect>,
    params: &BTreeMap<String, String>,
    case: &RenderCase,
    expect: &RenderExpect,
) -> Result<Option<Covers>, String> {
    let binding = inbound_binding(dialect, params)?;
    let inbound = dialect
        .inbound
        .as_ref()
        .ok_or("the dialect has no inbound half")?;
    let route = inbound
        .routes
        .iter()
        .find(|r| r.name == case.route)
        .ok_or_else(|| format!("no route named {}", case.route))?;
    let mut input = case.input.clone().unwrap_or_else(|| json!({}));
    let now = case.now.unwrap_or(NOW_MS);
    let reply = match (&case.result, &case.error) {
        (Some(result), None) => {
            let request = route
                .op
                .decode_request(case.request.clone().unwrap_or_else(|| json!({})))
                .map_err(|e| format!("`request` is not a valid {}: {}", route.op, e.message))?;
            let result = route.op.decode_result(result.clone()).map_err(|e| {
                format!(
                    "`result` is not a valid result of {}: {}",
                    route.op, e.message
                )
            })?;
            render::success(
                &binding,
                route,
                &route.response,
                &request,
                &result,
                &mut input,
                now,
            )
            .map_err(|e| e.to_string())?
        }
        (None, Some(error)) => render::error(&binding, &route.errors, error, input, now),
        _ => return Err("a render case has exactly one of result, error".into()),
    };
    let body: Value = if reply.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&reply.body).map_err(|e| e.to_string())?
    };
    let got = json!({"status": reply.status, "body": body});
    let want = json!({"status": expect.status, "body": expect.body});
    compare("response", &want, &got)?;
    Ok(Some(Covers::Route(route.line)))
}

/// A request as golden cases write it: method, path (with query) below the
/// vendor's base URL, and the body (form fields as an object, repeated keys
/// as arrays).
pub fn call_json(out: &Outgoing) -> Value {
    let mut call = json!({"method": out.method.as_str(), "path": out.target});
    match &out.body {
        Payload::Empty => {}
        Payload::Json(v) => call["body"] = v.clone(),
        Payload::Form(fields) => {
            let mut map = serde_json::Map::new();
            for (k, v) in fields {
                crate::frontend::request::push_repeated(
                    &mut map,
                    k.clone(),
                    Value::String(v.clone()),
                );
            }
            call["form"] = Value::Object(map);
        }
        Payload::Multipart(fields) => {
            call["multipart"] = Value::Array(
                fields
                    .iter()
                    .map(|(k, _)| Value::String(k.clone()))
                    .collect(),
            );
        }
    }
    call
}

async fn outbound(
    dialect: &Arc<Dialect>,
    params: &BTreeMap<String, String>,
    case: &OutboundCase,
    expect: &OutboundExpect,
) -> Result<Option<Covers>, String> {
    if expect.result.is_some() == expect.error.is_some() {
        return Err("`expect` of an outbound case has exactly one of `result`, `error`".into());
    }
    let op_name =
        OpName::parse(&case.op).ok_or_else(|| format!("unknown operation {}", case.op))?;
    let op = op_name
        .decode_request(case.request.clone())
        .map_err(|e| format!("`request` is not a valid {}: {}", case.op, e.message))?;
    let binding = Binding::new("golden", dialect.clone(), &filled(dialect, params))?;
    let mut answers: VecDeque<CannedAnswer> = case.answers.iter().cloned().collect();
    let now = case.now.unwrap_or(NOW_MS);
    let mut memory = Memory::default();
    for r in &case.records {
        memory.insert(&r.kind, &r.key, r.value.clone(), r.created.unwrap_or(now));
    }
    let mut calls = Vec::new();
    let mut fetched = false;
    let fresh_id = case.fresh_id.unwrap_or(now);
    let outcome = offline::run(&binding, &op, now, fresh_id, None, |call| match call {
        CallRef::Store(c) => {
            calls.push(c.to_json());
            memory.apply(c, now)
        }
        CallRef::Vendor(out) => {
            // A token fetch (auth) is not part of what a case states.
            if token::scheme(&binding).is_some() && !fetched {
                fetched = true;
            } else {
                calls.push(call_json(out));
            }
            let canned = answers.pop_front().unwrap_or(CannedAnswer {
                status: 200,
                body: json!({}),
            });
            Answer {
                status: canned.status,
                body: canned.body,
                headers: json!({}),
            }
        }
    });
    let calls = Value::Array(calls);
    compare("vendor calls", &expect.calls, &calls)?;
    let checked = match (outcome, &expect.error, &expect.result) {
        (Err(e), Some(want), _) => compare_error(want, &e),
        (Err(e), None, _) => Err(format!("the operation failed: {e}")),
        (Ok(out), Some(_), _) => Err(format!("expected an error, got {}", out.to_json())),
        (Ok(out), None, want) => {
            let got = out.to_json();
            let mut want = want.clone().unwrap_or_default();
            bind_now(&mut want, now);
            let want = op_name
                .decode_result(want)
                .map_err(|e| format!("the expected result is not valid: {}", e.message))?;
            compare("result", &want.to_json(), &got)
        }
    };
    checked.map(|()| Some(Covers::Operation(op_name)))
}

/// Every `"$now"` in `want` replaced by the case's "now" in milliseconds.
fn bind_now(want: &mut Value, now: i64) {
    match want {
        Value::String(s) if s == "$now" => *want = json!(now),
        Value::Object(fields) => fields.values_mut().for_each(|v| bind_now(v, now)),
        Value::Array(items) => items.iter_mut().for_each(|v| bind_now(v, now)),
        _ => {}
    }
}
