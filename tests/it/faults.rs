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
    let b = Setup::new();
    let b_text = b.config_for(
        &[],
        &format!("[frontends.wildfire.params]\nsecret = \"{WILDFIRE_SECRET}\"\n"),
    );
    let vendor = Imbridge::start_text(b, &b_text);
    let a = Setup::new();
    let provider = format!(
        "[providers.vendor]\nkind = \"vendor\"\ndialect = \"wildfire\"\nbase_url = \"http://127.0.0.1:{port}\"\n\
         timeout_ms = {TIMEOUT_MS}\nconnect_timeout_ms = {TIMEOUT_MS}\nretries = 1\n\n\
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
