//! Property tests over every route of every dialect, as an attacker would
//! send them: one real imbridge on the embedded provider, raw HTTP/1.1 over
//! TCP (so `.`, `..` and percent-encodings reach it unchanged), and for each
//! route of the compiled mappings (method × path pattern) generated bodies
//! (JSON with the dialect's own field names and wrong types, deep nesting,
//! huge arrays, invalid UTF-8, forms, multipart, random bytes), headers,
//! query strings and path segments, with valid credentials or without.
//!
//! Every request must be answered within [`ANSWER_WITHIN`], in the dialect's
//! error shape unless it succeeded, with no `internal` outcome, and nothing
//! may panic anywhere in the process.
//!
//! `IMBRIDGE_PROP_CASES` (cases per route, default 6) and
//! `IMBRIDGE_PROP_SEED` (default fixed) make longer or other runs; a failure
//! prints the seed and route to run it again.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use imbridge::mapping::plan::Segment;
use proptest::prelude::*;
use proptest::test_runner::{Config as Cases, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::harness::{repo, Imbridge, ALL_FRONTENDS, APP_KEY, MASTER_SECRET, WILDFIRE_SECRET};

/// How long one answer may take (debug build, loaded machine).
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// One method and path pattern of one route.
#[derive(Debug, Clone)]
struct Target {
    frontend: &'static str,
    route: String,
    method: String,
    segments: Vec<Segment>,
}

/// What a dialect's routes are driven with: the field names its mapping
/// reads from bodies and queries, and a path prefix it owns.
struct Dialect {
    fields: Vec<String>,
    prefix: String,
}

/// Every route of every served dialect, from the compiled mappings, and
/// each dialect by frontend name.
fn targets() -> (Vec<Target>, HashMap<&'static str, Dialect>) {
    let (dialects, _) = imbridge::mapping::compile::compile_dir(&repo().join("mappings"));
    let mut out = Vec::new();
    let mut fields = HashMap::new();
    for frontend in ALL_FRONTENDS {
        let d = dialects.iter().find(|d| d.name == *frontend).unwrap();
        let inbound = d.inbound.as_ref().unwrap();
        for route in &inbound.routes {
            for method in &route.methods {
                for pattern in &route.patterns {
                    out.push(Target {
                        frontend,
                        route: route.name.clone(),
                        method: method.to_string(),
                        segments: pattern.segments.clone(),
                    });
                }
            }
        }
        let text =
            std::fs::read_to_string(repo().join(format!("mappings/{frontend}.yaml"))).unwrap();
        let dialect = Dialect {
            fields: field_names(&text),
            prefix: inbound.prefixes[0].trim_end_matches('/').to_string(),
        };
        fields.insert(*frontend, dialect);
    }
    (out, fields)
}

/// The names after `$.body.` and `$.query.` in a mapping file.
fn field_names(text: &str) -> Vec<String> {
    let mut names = BTreeSet::new();
    for marker in ["$.body.", "$.query."] {
        for (i, _) in text.match_indices(marker) {
            let name: String = text[i + marker.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names.into_iter().collect()
}

/// Percent-encodes every byte but unreserved ones.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A path segment or query value: ordinary ids, dots, encoded slashes and
/// dots, NULs, invalid UTF-8, numbers out of range, very long ones.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_]{1,12}",
        Just("1".to_string()),
        Just(".".to_string()),
        Just("..".to_string()),
        Just("%2e%2e".to_string()),
        Just("%2E".to_string()),
        Just("..%2F..%2Fetc%2Fpasswd".to_string()),
        Just("a%00b".to_string()),
        Just("%ff%fe%c3%28".to_string()),
        Just("%zz".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("1e999".to_string()),
        "\\PC{1,12}".prop_map(|s| encode(&s)),
        (1usize..5000).prop_map(|n| "x".repeat(n)),
    ]
}

/// A JSON value of any type, nested a little.
fn any_json(keys: Vec<String>) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,24}".prop_map(Value::from),
        (0usize..20_000).prop_map(|n| Value::from("y".repeat(n))),
    ];
    let keys = prop::sample::select(keys);
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            prop::collection::btree_map(keys.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A request body and the content type it is sent with.
#[derive(Debug, Clone)]
enum Body {
    /// A JSON object of the dialect's fields (credentials may be added).
    Object(serde_json::Map<String, Value>),
    /// Bytes as they are.
    Raw(Vec<u8>),
    /// Form fields (credentials may be added).
    Form(Vec<(String, String)>),
}

fn body(keys: Vec<String>) -> impl Strategy<Value = Body> {
    let object = prop::collection::btree_map(
        prop::sample::select(keys.clone()),
        any_json(keys.clone()),
        0..10,
    )
    .prop_map(|m| Body::Object(m.into_iter().collect()));
    let deep = (1usize..3000, any::<bool>()).prop_map(|(depth, arrays)| {
        let (open, close) = if arrays { ("[", "]") } else { ("{\"a\":", "}") };
        Body::Raw(format!("{}1{}", open.repeat(depth), close.repeat(depth)).into_bytes())
    });
    let huge = prop_oneof![Just(99_999usize), Just(100_001), 1usize..150_000].prop_map(|n| {
        let mut b = b"[".to_vec();
        b.extend(std::iter::repeat_n(&b"1,"[..], n).flatten());
        b.extend_from_slice(b"1]");
        Body::Raw(b)
    });
    let key = prop::sample::select(keys);
    let bad_utf8 = (key.clone(), prop::collection::vec(128u8..=255, 1..16)).prop_map(|(k, bad)| {
        let mut b = format!("{{\"{k}\":\"").into_bytes();
        b.extend(bad);
        b.extend_from_slice(b"\"}");
        Body::Raw(b)
    });
    let form = prop::collection::vec((key.clone(), hostile_text()), 0..8).prop_map(Body::Form);
    let bytes = prop::collection::vec(any::<u8>(), 0..512).prop_map(Body::Raw);
    prop_oneof![
        4 => object,
        1 => deep,
        1 => huge,
        1 => bad_utf8,
        2 => form,
        1 => bytes,
    ]
}

/// The content type a body is sent with, sometimes a wrong one.
fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        6 => Just(None),
        1 => Just(Some("application/json".to_string())),
        1 => Just(Some("application/x-www-form-urlencoded".to_string())),
        1 => Just(Some("multipart/form-data; boundary=xyz".to_string())),
        1 => Just(Some("multipart/form-data".to_string())),
        1 => Just(Some("text/plain; charset=utf-7".to_string())),
        1 => "[ -~]{0,40}".prop_map(Some),
    ]
}

/// Extra headers: odd request ids, obs-text values, junk credentials.
fn headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = prop_oneof![
        Just("x-request-id".to_string()),
        Just("accept".to_string()),
        Just("cookie".to_string()),
        Just("x-forwarded-for".to_string()),
        Just("nonce".to_string()),
        Just("timestamp".to_string()),
        Just("sign".to_string()),
        Just("appkey".to_string()),
        "x-[a-z]{1,10}",
    ];
    let value = prop_oneof![
        "[ -~]{0,64}".prop_map(String::into_bytes),
        prop::collection::vec(128u8..=255, 1..32),
        (1usize..8000).prop_map(|n| vec![b'z'; n]),
    ];
    prop::collection::vec((name, value), 0..4)
}

/// One generated request for a target.
#[derive(Debug, Clone)]
struct Case {
    params: Vec<String>,
    suffix: &'static str,
    query: Vec<(String, String)>,
    headers: Vec<(String, Vec<u8>)>,
    content_type: Option<String>,
    body: Body,
    /// With valid credentials (as far as the dialect has them).
    credentials: bool,
    /// With junk credentials when without valid ones.
    junk_auth: Option<String>,
}

fn case(target: &Target, keys: Vec<String>) -> impl Strategy<Value = Case> {
    let holes = target
        .segments
        .iter()
        .filter(|s| matches!(s, Segment::Param(_)))
        .count();
    (
        prop::collection::vec(hostile_text(), holes),
        prop::sample::select(vec!["", "", "", "/..", "/.", "/../../x", "//", "/%2e%2e/"]),
        prop::collection::vec((prop::sample::select(keys.clone()), hostile_text()), 0..5),
        headers(),
        content_type(),
        body(keys),
        prop::bool::weighted(0.75),
        prop::option::of("[ -~]{0,80}"),
    )
        .prop_map(
            |(params, suffix, query, headers, content_type, body, credentials, junk_auth)| Case {
                params,
                suffix,
                query,
                headers,
                content_type,
                body,
                credentials,
                junk_auth,
            },
        )
}

/// Valid credentials of the test server's dialects.
struct Credentials {
    hx_token: String,
    rc_token: String,
}

/// The request's bytes (head and body), with `Connection: close`.
fn request(target: &Target, case: &Case, creds: &Credentials) -> Vec<u8> {
    let mut params = case.params.iter();
    let mut path = String::new();
    for s in &target.segments {
        path.push('/');
        match s {
            Segment::Literal(l) => path.push_str(l),
            Segment::Param(_) => path.push_str(params.next().unwrap()),
        }
    }
    path.push_str(case.suffix);
    if !case.query.is_empty() {
        let q: Vec<String> = case.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        path.push('?');
        path.push_str(&q.join("&"));
    }
    let mut headers: Vec<(String, Vec<u8>)> = case.headers.clone();
    let mut body = case.body.clone();
    let basic = |user: &str, pw: &str| {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
        format!("Basic {b}").into_bytes()
    };
    if case.credentials {
        match target.frontend {
            "jmessage" => headers.push(("authorization".into(), basic(APP_KEY, MASTER_SECRET))),
            "rongcloud-app" => headers.push((
                "authorization".into(),
                format!("Token {}", creds.rc_token).into_bytes(),
            )),
            "wildfire" => {
                use sha1::Digest;
                let nonce = rand::random::<u32>().to_string();
                let ts = chrono::Utc::now().timestamp_millis().to_string();
                let sign = hex::encode(sha1::Sha1::digest(
                    format!("{nonce}|{WILDFIRE_SECRET}|{ts}").as_bytes(),
                ));
                headers.push(("nonce".into(), nonce.into_bytes()));
                headers.push(("timestamp".into(), ts.into_bytes()));
                headers.push(("sign".into(), sign.into_bytes()));
            }
            _ => {}
        }
        let in_body: &[(&str, &str)] = match target.frontend {
            "easemob-hx" => &[("token", &creds.hx_token)],
            "haorenao" => &[("username", "ann"), ("password", "pw-ann")],
            _ => &[],
        };
        for (k, v) in in_body {
            match &mut body {
                Body::Object(m) => {
                    m.insert(k.to_string(), Value::from(*v));
                }
                Body::Form(f) => f.push((k.to_string(), v.to_string())),
                Body::Raw(_) => {}
            }
        }
    } else if let Some(junk) = &case.junk_auth {
        headers.push(("authorization".into(), junk.clone().into_bytes()));
    }
    let (default_type, bytes) = match body {
        Body::Object(m) => ("application/json", serde_json::to_vec(&m).unwrap()),
        Body::Form(f) => {
            let pairs: Vec<String> = f.iter().map(|(k, v)| format!("{k}={v}")).collect();
            (
                "application/x-www-form-urlencoded",
                pairs.join("&").into_bytes(),
            )
        }
        Body::Raw(b) => ("application/json", b),
    };
    let content_type = case.content_type.as_deref().unwrap_or(default_type);
    let mut out = format!(
        "{} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        target.method,
        bytes.len()
    )
    .into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(&value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&bytes);
    out
}

/// An answer: status and body.
struct Answered {
    status: u16,
    body: Vec<u8>,
}

/// Sends `bytes` and reads the answer; writing and reading go on together
/// (the server may answer from the head and stop reading). `Err` when no
/// answer came in time; `Ok(None)` when the server closed without one.
async fn send(port: u16, bytes: Vec<u8>) -> Result<Option<Answered>, String> {
    let mut conn = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let (mut rd, mut wr) = conn.split();
    let write = async {
        let _ = wr.write_all(&bytes).await;
    };
    let read = async {
        let mut whole = Vec::new();
        let mut chunk = [0u8; 16384];
        loop {
            use tokio::io::AsyncReadExt;
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => whole.extend_from_slice(&chunk[..n]),
            }
        }
        whole
    };
    let (_, whole) = tokio::time::timeout(ANSWER_WITHIN, futures::future::join(write, read))
        .await
        .map_err(|_| format!("no answer within {ANSWER_WITHIN:?}"))?;
    let Some(end) = whole.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&whole[..end]);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head}"))?;
    Ok(Some(Answered {
        status,
        body: whole[end + 4..].to_vec(),
    }))
}

/// The top-level keys of a JSON object body (none for other bodies).
fn keys_of(body: &[u8]) -> Option<BTreeSet<String>> {
    match serde_json::from_slice::<Value>(body).ok()? {
        Value::Object(m) => Some(m.keys().cloned().collect()),
        _ => None,
    }
}

/// Counts panics anywhere in the process (the server runs in it).
fn count_panics() -> Arc<AtomicUsize> {
    let panics = Arc::new(AtomicUsize::new(0));
    let seen = panics.clone();
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        seen.fetch_add(1, Ordering::SeqCst);
        default(info);
    }));
    panics
}

/// Requests counted with the outcome `internal`: imbridge's own failures.
async fn internal_errors(im: &Imbridge) -> f64 {
    im.metrics()
        .await
        .lines()
        .filter(|l| l.starts_with("imbridge_requests_total{"))
        .filter(|l| l.contains("outcome=\"internal\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn every_route_of_every_dialect_answers_generated_requests_in_its_dialect() {
    let per_route: u32 = env_or("IMBRIDGE_PROP_CASES", 6);
    let seed: u64 = env_or("IMBRIDGE_PROP_SEED", 20261203);
    let panics = count_panics();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _entered = rt.enter();
    let im = Imbridge::start();
    let creds = rt.block_on(async {
        im.register(json!([{"username": "ann", "password": "pw-ann"}]))
            .await;
        Credentials {
            hx_token: im.hx().await.token,
            rc_token: im.rc("ann", "pw-ann").await.token.unwrap(),
        }
    });
    // The error shape of each dialect: its answer to a path under its
    // prefix that no route takes.
    let (targets, fields) = targets();
    let mut shapes = HashMap::new();
    for (frontend, dialect) in &fields {
        let probe = format!(
            "GET {}/imbridge-no-such-route HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            dialect.prefix
        );
        let answer = rt
            .block_on(send(im.setup.port, probe.into_bytes()))
            .unwrap()
            .unwrap();
        let keys = keys_of(&answer.body).expect("dialect errors are JSON objects");
        shapes.insert(*frontend, keys);
    }
    let internals = rt.block_on(internal_errors(&im));
    let started = Instant::now();
    let (requests, unanswered, slowest) =
        (Cell::new(0u64), Cell::new(0u64), Cell::new(Duration::ZERO));
    let statuses = RefCell::new(std::collections::BTreeMap::<u16, u64>::new());
    for (i, target) in targets.iter().enumerate() {
        let keys = fields[target.frontend].fields.clone();
        let shape = &shapes[target.frontend];
        let mut seed_bytes = [0u8; 32];
        seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
        seed_bytes[8..16].copy_from_slice(&(i as u64).to_le_bytes());
        let config = Cases {
            cases: per_route,
            failure_persistence: None,
            max_shrink_iters: 64,
            ..Cases::default()
        };
        let mut runner = TestRunner::new_with_rng(
            config,
            TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
        );
        let result = runner.run(&case(target, keys), |case| {
            let bytes = request(target, &case, &creds);
            // An unread body of up to 1 MiB is drained after an early
            // answer: only a larger one may be reset before it is read.
            let may_reset = bytes.len() > 1 << 20;
            let sent = Instant::now();
            let answer = rt
                .block_on(send(im.setup.port, bytes))
                .map_err(TestCaseError::fail)?;
            slowest.set(slowest.get().max(sent.elapsed()));
            requests.set(requests.get() + 1);
            let Some(answer) = answer else {
                prop_assert!(may_reset, "closed without an answer");
                unanswered.set(unanswered.get() + 1);
                return Ok(());
            };
            *statuses.borrow_mut().entry(answer.status).or_default() += 1;
            let text = String::from_utf8_lossy(&answer.body);
            // Some dialects answer some errors with a 5xx (WildfireChat: an
            // unknown path is a 500): imbridge's own failures are counted.
            if answer.status >= 500 {
                let now = rt.block_on(internal_errors(&im));
                prop_assert!(now == internals, "internal error: {text}");
            }
            if !(200..300).contains(&answer.status) {
                let keys = keys_of(&answer.body);
                prop_assert!(
                    keys.as_ref() == Some(shape),
                    "status {} not in the {} error shape {shape:?}: {text}",
                    answer.status,
                    target.frontend
                );
            } else if !answer.body.is_empty() {
                prop_assert!(
                    serde_json::from_slice::<Value>(&answer.body).is_ok(),
                    "success is not JSON: {text}"
                );
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!(
                "{} {} {:?} (route {}, IMBRIDGE_PROP_SEED={seed}, target {i}): {e}",
                target.frontend, target.method, target.segments, target.route
            );
        }
    }
    let internal = rt.block_on(internal_errors(&im));
    println!(
        "{} targets × {per_route} cases: {} requests in {:?}, slowest {:?}, \
         {} closed unanswered, statuses {:?}",
        targets.len(),
        requests.get(),
        started.elapsed(),
        slowest.get(),
        unanswered.get(),
        statuses.borrow(),
    );
    assert_eq!(panics.load(Ordering::SeqCst), 0, "something panicked");
    assert_eq!(internal, 0.0, "internal outcomes counted");
    // Still serving.
    let ready = rt.block_on(async { reqwest::get(format!("{}/readyz", im.admin)).await });
    assert_eq!(ready.unwrap().status(), 200);
}
