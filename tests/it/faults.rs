//! A vendor provider that fails: nothing listening, a vendor that accepts
//! and never answers, HTTP 500, an answer that is not JSON. Each time the
//! caller gets its own dialect's `upstream_unavailable` / `upstream_error`
//! in bounded time, the metrics count the failure, and once the vendor is
//! healthy again the next call succeeds.
//!
//! A (all seed frontends, provider `vendor` of dialect wildfire) calls a
//! small hand-written TCP server standing between A and B (the WildfireChat
//! emulator): it misbehaves as told, or passes requests on to B.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{free_port, Answer, Imbridge, Setup, ALL_FRONTENDS, WILDFIRE_SECRET};
use crate::wire::{closing, read_message};

/// A's timeout of one vendor call.
const TIMEOUT_MS: u64 = 400;

/// What the fault server does with a request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// Accept, read, never answer.
    Hang,
    /// HTTP 500 with an empty body (WildfireChat's answer to unknown paths).
    Error500,
    /// HTTP 200 with an HTML page.
    Garbage,
    /// Pass the request on to the vendor and its answer back.
    Forward,
}

/// The misbehaving server in front of the vendor.
struct FaultServer {
    mode: Arc<Mutex<Mode>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultServer {
    /// Listens on `port`, passing requests to `vendor` (`127.0.0.1:PORT`)
    /// when forwarding.
    async fn start(port: u16, vendor: String, mode: Mode) -> FaultServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let mode = Arc::new(Mutex::new(mode));
        let shared = mode.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    return;
                };
                let mode = *shared.lock().unwrap();
                tokio::spawn(serve(conn, mode, vendor.clone()));
            }
        });
        FaultServer { mode, task }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut conn: TcpStream, mode: Mode, vendor: String) {
    let Some(request) = read_message(&mut conn).await else {
        return;
    };
    let answer = match mode {
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        Mode::Error500 => {
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .to_vec()
        }
        Mode::Garbage => {
            let page = "<html><body>502 Bad Gateway (nginx)</body></html>";
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            )
            .into_bytes()
        }
        Mode::Forward => {
            let mut upstream = TcpStream::connect(&vendor).await.unwrap();
            upstream.write_all(&closing(&request)).await.unwrap();
            let Some(answer) = read_message(&mut upstream).await else {
                return;
            };
            closing(&answer)
        }
    };
    let _ = conn.write_all(&answer).await;
    let _ = conn.shutdown().await;
}

/// B (the WildfireChat emulator) and A, whose provider calls `port`.
fn chain_through(port: u16) -> (Imbridge, Imbridge) {
    chain_with(port, "")
}

/// [`chain_through`] with `provider_lines` added to A's provider table.
fn chain_with(port: u16, provider_lines: &str) -> (Imbridge, Imbridge) {
    let b = Setup::new();
    let b_text = b.config_for(
        &[],
        &format!("[frontends.wildfire.params]\nsecret = \"{WILDFIRE_SECRET}\"\n"),
    );
    let vendor = Imbridge::start_text(b, &b_text);
    let a = Setup::new();
    let provider = format!(
        "[providers.vendor]\nkind = \"vendor\"\ndialect = \"wildfire\"\nbase_url = \"http://127.0.0.1:{port}\"\n\
         timeout_ms = {TIMEOUT_MS}\nconnect_timeout_ms = {TIMEOUT_MS}\nretries = 1\n{provider_lines}\n\n\
         [providers.vendor.params]\nsecret = \"{WILDFIRE_SECRET}\"\n"
    );
    let text = a.config_on(ALL_FRONTENDS, "vendor", &provider);
    (vendor, Imbridge::start_text(a, &text))
}

fn vendor_addr(vendor: &Imbridge) -> String {
    format!("127.0.0.1:{}", vendor.setup.port)
}

/// The value of one sample of the Prometheus text (0 when absent).
fn sample(metrics: &str, name: &str, labels: &str) -> f64 {
    let key = format!("{name}{{{labels}}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

/// Calls `user.get` through JMessage and haorenao (and the wildfire
/// frontend), asserting each answers `kind` in its dialect, in bounded time.
async fn expect_failure(a: &Imbridge, kind: &str) {
    let (status, wf_code) = match kind {
        "upstream_unavailable" => (503, 249),
        "upstream_error" => (502, 4),
        other => panic!("{other}"),
    };
    // Two attempts of at most TIMEOUT_MS each, a backoff, and slack.
    let bound = Duration::from_millis(2 * TIMEOUT_MS + 2500);
    let started = Instant::now();
    let jm = a.jm().get("/v1/users/tom").await;
    let took = started.elapsed();
    assert!(took < bound, "JMessage answered after {took:?}");
    let jm = jm.expect_jm_error(status, 899000);
    assert!(
        jm.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("vendor"),
        "{}",
        jm.text
    );

    let started = Instant::now();
    let hr = a.get("/cmd/?cmd=get_userinfo&username=tom").await;
    assert!(
        started.elapsed() < bound,
        "haorenao took {:?}",
        started.elapsed()
    );
    let hr = hr.expect(status);
    assert_eq!(hr.json["ret"], "failed", "{}", hr.text);
    assert!(
        hr.json["reason"].as_str().unwrap().contains("vendor"),
        "{}",
        hr.text
    );

    let started = Instant::now();
    let wf = a
        .wf()
        .post("/admin/user/get_info", Some(json!({"userId": "tom"})))
        .await;
    assert!(
        started.elapsed() < bound,
        "wildfire took {:?}",
        started.elapsed()
    );
    let wf = wf.expect(200);
    assert_eq!(wf.json["code"], wf_code, "{}", wf.text);
}

/// After the vendor recovered: a registration and a read go through.
async fn expect_recovered(a: &Imbridge) {
    a.register(json!([{"username": "tom", "password": "tom-pw", "nickname": "Tom"}]))
        .await;
    let got: Answer = a.jm().get("/v1/users/tom").await.expect(200);
    assert_eq!(got.json["nickname"], "Tom");
    let hr = a
        .get("/cmd/?cmd=get_userinfo&username=tom")
        .await
        .expect(200);
    assert_eq!(hr.json["ret"], "ok");
}

/// Asserts the provider calls of `user.get` with `status` (two attempts per
/// failed request: retries = 1; three requests) and the failed requests.
async fn expect_counted(a: &Imbridge, status: &str, calls: f64, outcome: &str) {
    let m = a.metrics().await;
    let n = sample(
        &m,
        "imbridge_provider_calls_total",
        &format!("op=\"user.get\",provider=\"vendor\",status=\"{status}\""),
    );
    assert_eq!(n, calls, "provider calls with status {status}:\n{m}");
    for (frontend, route) in [
        ("jmessage", "user.get"),
        ("haorenao", "cmd.get_userinfo"),
        ("wildfire", "user.get"),
    ] {
        let n = sample(
            &m,
            "imbridge_requests_total",
            &format!(
                "frontend=\"{frontend}\",op=\"user.get\",outcome=\"{outcome}\",route=\"{route}\""
            ),
        );
        assert_eq!(n, 1.0, "{frontend} requests with outcome {outcome}:\n{m}");
    }
}

#[tokio::test]
async fn a_vendor_refusing_connections_is_unavailable_until_it_is_back() {
    let port = free_port();
    let (vendor, a) = chain_through(port);
    expect_failure(&a, "upstream_unavailable").await;
    expect_counted(&a, "unreachable", 6.0, "upstream_unavailable").await;
    // The vendor comes (back) up on that port.
    let _up = FaultServer::start(port, vendor_addr(&vendor), Mode::Forward).await;
    expect_recovered(&a).await;
}

#[tokio::test]
async fn a_vendor_that_never_answers_times_out() {
    let port = free_port();
    let (vendor, a) = chain_through(port);
    let fault = FaultServer::start(port, vendor_addr(&vendor), Mode::Hang).await;
    let started = Instant::now();
    expect_failure(&a, "upstream_unavailable").await;
    // Each of the three requests waited for its two timed-out attempts.
    assert!(
        started.elapsed() >= Duration::from_millis(3 * 2 * TIMEOUT_MS),
        "{:?}",
        started.elapsed()
    );
    expect_counted(&a, "timeout", 6.0, "upstream_unavailable").await;
    fault.set(Mode::Forward);
    expect_recovered(&a).await;
}

#[tokio::test]
async fn a_vendor_answering_500_is_an_upstream_error() {
    let port = free_port();
    let (vendor, a) = chain_through(port);
    let fault = FaultServer::start(port, vendor_addr(&vendor), Mode::Error500).await;
    expect_failure(&a, "upstream_error").await;
    // A 500 is not retried (only 502-504 and transport failures are).
    expect_counted(&a, "500", 3.0, "upstream_error").await;
    fault.set(Mode::Forward);
    expect_recovered(&a).await;
}

#[tokio::test]
async fn a_vendor_answering_something_else_than_json_is_an_upstream_error() {
    let port = free_port();
    let (vendor, a) = chain_through(port);
    let fault = FaultServer::start(port, vendor_addr(&vendor), Mode::Garbage).await;
    expect_failure(&a, "upstream_error").await;
    expect_counted(&a, "garbage", 6.0, "upstream_error").await;
    fault.set(Mode::Forward);
    expect_recovered(&a).await;
}

/// A vendor that hangs, under more callers than the provider's slots: the
/// extra callers are refused at once, the others cut at the operation
/// deadline; after three such failures the circuit opens and callers are
/// refused without a call (their dialect's 503); once the vendor is back, a
/// probe after the cool-down closes it.
#[tokio::test]
async fn a_hanging_vendor_opens_the_circuit_and_a_probe_closes_it() {
    let port = free_port();
    let guard = "deadline_ms = 600\nmax_concurrency = 2\nqueue_ms = 100\n\
                 breaker_failures = 3\nbreaker_cooldown_ms = 1500";
    let (vendor, a) = chain_with(port, guard);
    let fault = FaultServer::start(port, vendor_addr(&vendor), Mode::Hang).await;
    let rejections = |m: &str, reason: &str| {
        sample(
            m,
            "imbridge_provider_rejections_total",
            &format!("provider=\"vendor\",reason=\"{reason}\""),
        )
    };
    let state = |m: &str| sample(m, "imbridge_provider_circuit_state", "provider=\"vendor\"");
    assert_eq!(state(&a.metrics().await), 0.0);

    // Four at once on two slots: two refused after the queue wait, two cut
    // at the deadline (two attempts of 400 ms would take 800 ms and more).
    let jm = a.jm();
    let started = Instant::now();
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let jm = jm.clone();
            tokio::spawn(async move {
                let a = jm.get("/v1/users/tom").await;
                (a.status, a.json["error"]["code"].clone(), Instant::now())
            })
        })
        .collect();
    let mut ends = Vec::new();
    for c in calls {
        let (status, code, end) = c.await.unwrap();
        assert_eq!((status, code), (503, json!(899000)));
        ends.push(end.duration_since(started));
    }
    ends.sort();
    assert!(ends[1] < Duration::from_millis(500), "{ends:?}");
    assert!(ends[3] < Duration::from_millis(1500), "{ends:?}");
    let m = a.metrics().await;
    assert_eq!(rejections(&m, "concurrency"), 2.0, "{m}");
    assert_eq!(rejections(&m, "deadline"), 2.0, "{m}");
    assert_eq!(state(&m), 0.0);

    // The third failure opens the circuit.
    jm.get("/v1/users/tom").await.expect_jm_error(503, 899000);
    let m = a.metrics().await;
    assert_eq!(state(&m), 2.0, "{m}");
    let calls_before = sample(
        &m,
        "imbridge_provider_calls_total",
        "op=\"user.get\",provider=\"vendor\",status=\"timeout\"",
    );
    // Refused without a call, fast, in every dialect's shape.
    let started = Instant::now();
    jm.get("/v1/users/tom").await.expect_jm_error(503, 899000);
    let hr = a
        .get("/cmd/?cmd=get_userinfo&username=tom")
        .await
        .expect(503);
    assert_eq!(hr.json["ret"], "failed", "{}", hr.text);
    let wf = a
        .wf()
        .post("/admin/user/get_info", Some(json!({"userId": "tom"})))
        .await
        .expect(200);
    assert_eq!(wf.json["code"], 249, "{}", wf.text);
    assert!(started.elapsed() < Duration::from_millis(500));
    let m = a.metrics().await;
    assert_eq!(rejections(&m, "circuit_open"), 3.0, "{m}");
    let calls_after = sample(
        &m,
        "imbridge_provider_calls_total",
        "op=\"user.get\",provider=\"vendor\",status=\"timeout\"",
    );
    assert_eq!(calls_after, calls_before);

    // The vendor is back: after the cool-down, the next call probes and
    // closes the circuit.
    fault.set(Mode::Forward);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    expect_recovered(&a).await;
    assert_eq!(state(&a.metrics().await), 0.0);
}

/// A vendor that refuses imbridge's credentials: the token fetch is not
/// repeated by every request (Easemob bans clients that insist), callers
/// get their dialect's 503 meanwhile.
#[tokio::test]
async fn a_vendor_refusing_the_token_fetch_is_asked_again_after_a_back_off() {
    use crate::chain::Chain;
    use crate::easemob::{frontend_table, APP, CLIENT_ID, ORG};
    let chain = Chain::start_with(
        "easemob",
        &frontend_table(),
        "token_backoff_ms = 2000\nbreaker_failures = 0",
        &format!(
            "org_name = \"{ORG}\"\napp_name = \"{APP}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"wrong\"\n"
        ),
    );
    let asked = |m: String| -> f64 {
        m.lines()
            .filter(|l| {
                l.starts_with("imbridge_requests_total{")
                    && l.contains("route=\"token.client_credentials\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let jm = chain.proxy.jm();
    let first = jm.get("/v1/users/tom").await;
    assert!(first.status >= 500, "{}", first.text);
    let started = Instant::now();
    for _ in 0..20 {
        jm.get("/v1/users/tom").await.expect_jm_error(503, 899000);
    }
    // All within the back-off: the vendor was asked once.
    if started.elapsed() < Duration::from_millis(1900) {
        assert_eq!(asked(chain.vendor.metrics().await), 1.0);
    }
    let m = chain.proxy.metrics().await;
    let refused = sample(
        &m,
        "imbridge_provider_rejections_total",
        "provider=\"vendor\",reason=\"token_backoff\"",
    );
    assert!(refused >= 1.0, "{m}");
    // After it, one more fetch (refused again, the back-off doubles).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for _ in 0..5 {
        assert!(jm.get("/v1/users/tom").await.status >= 500);
    }
    assert_eq!(asked(chain.vendor.metrics().await), 2.0);
}
