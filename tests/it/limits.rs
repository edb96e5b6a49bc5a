//! Connection limits and deadlines, as an attacker meets them on a real
//! listening server over raw TCP: a head sent one byte at a time, a
//! connection that sends nothing, an idle keep-alive connection, more
//! connections than allowed, a body that trickles, a vendor that never
//! answers, a client that never reads its answer. Each is cut at its
//! configured deadline (not later), counted in metrics, and normal requests
//! keep working.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{free_port, Imbridge, Jm, Setup, APP_KEY, MASTER_SECRET};

/// `imbridge_timeouts_total` of the server's API listener in `phase`.
async fn timeouts(server: &Imbridge, phase: &str) -> f64 {
    let labels = format!(
        "listener=\"127.0.0.1:{}\",phase=\"{phase}\"",
        server.setup.port
    );
    server.metric("imbridge_timeouts_total", &labels).await
}

/// Reads until the server closes the connection (or `limit` passes);
/// returns what was read and when the close came.
async fn read_until_closed(conn: &mut TcpStream, limit: Duration) -> (Vec<u8>, Option<Instant>) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (out, Some(Instant::now())),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (out, None),
        }
    }
}

fn basic() -> String {
    use base64::Engine;
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{APP_KEY}:{MASTER_SECRET}"));
    format!("Basic {token}")
}

/// A complete JMessage request on a raw connection.
fn user_get(path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
        basic()
    )
    .into_bytes()
}

async fn connect(server: &Imbridge) -> TcpStream {
    TcpStream::connect(("127.0.0.1", server.setup.port))
        .await
        .unwrap()
}

/// The server still answers a normal request.
async fn still_serves(server: &Imbridge) {
    Jm::for_port(server.setup.port)
        .get("/v1/users/?start=0&count=1")
        .await
        .expect(200);
}

/// A head sent one byte every 200 ms never completes a request: the
/// connection is closed at the header deadline (1 s), though bytes keep
/// coming; so is a connection that sends nothing at all.
#[tokio::test]
async fn slow_and_silent_heads_are_cut_at_the_header_deadline() {
    let server = Imbridge::start_in(Setup::new().with_server("header_timeout_secs = 1"), "");
    let mut slow = connect(&server).await;
    let mut silent = connect(&server).await;
    let started = Instant::now();
    let head = user_get("/v1/users/nobody");
    let trickle = async {
        for b in &head {
            if slow.write_all(&[*b]).await.is_err() {
                return Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("the whole head went through");
    };
    let cut = tokio::time::timeout(Duration::from_secs(5), trickle)
        .await
        .expect("cut within 5 s");
    // The write that fails comes after the close; allow one more step.
    let slow_for = cut - started;
    assert!(
        slow_for >= Duration::from_millis(900) && slow_for < Duration::from_millis(2500),
        "slow head cut after {slow_for:?}"
    );
    let (got, closed) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    let silent_for = closed.expect("silent connection closed") - started;
    assert!(got.is_empty());
    assert!(
        silent_for >= Duration::from_millis(900) && silent_for < Duration::from_millis(2500),
        "silent connection closed after {silent_for:?}"
    );
    assert!(timeouts(&server, "header").await >= 2.0);
    still_serves(&server).await;
}

/// A keep-alive connection is reused while active and closed after the idle
/// timeout.
#[tokio::test]
async fn idle_keep_alive_connections_close_after_the_idle_timeout() {
    let server = Imbridge::start_in(Setup::new().with_server("idle_timeout_secs = 1"), "");
    let mut conn = connect(&server).await;
    for _ in 0..3 {
        conn.write_all(&user_get("/v1/users/?start=0&count=1"))
            .await
            .unwrap();
        let answer = crate::wire::read_message(&mut conn)
            .await
            .expect("an answer");
        assert!(
            answer.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    let idle_from = Instant::now();
    let (rest, closed) = read_until_closed(&mut conn, Duration::from_secs(5)).await;
    assert!(rest.is_empty());
    let idle = closed.expect("closed when idle") - idle_from;
    assert!(
        idle >= Duration::from_millis(900) && idle < Duration::from_millis(2500),
        "idle connection closed after {idle:?}"
    );
}

/// Past `max_connections`, new connections get a 503 at once and are
/// counted; once one closes, a new one is served.
#[tokio::test]
async fn connections_over_the_limit_get_503_and_the_server_recovers() {
    let server = Imbridge::start_in(Setup::new().with_server("max_connections = 4"), "");
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = connect(&server).await;
        // A request each, so every connection is surely accepted and open.
        c.write_all(&user_get("/v1/users/?start=0&count=1"))
            .await
            .unwrap();
        crate::wire::read_message(&mut c).await.expect("an answer");
        held.push(c);
    }
    let started = Instant::now();
    let mut extra = connect(&server).await;
    let (answer, closed) = read_until_closed(&mut extra, Duration::from_secs(5)).await;
    assert!(closed.is_some());
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        answer.starts_with(b"HTTP/1.1 503"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let label = format!("listener=\"127.0.0.1:{}\"", server.setup.port);
    assert_eq!(
        server
            .metric("imbridge_connections_rejected_total", &label)
            .await,
        1.0
    );
    assert_eq!(server.metric("imbridge_connections", &label).await, 4.0);
    held.pop();
    // The slot frees when the server sees the close.
    tokio::time::sleep(Duration::from_millis(200)).await;
    still_serves(&server).await;
}

/// A body that trickles below the minimum rate after the grace time is
/// answered with the dialect's error and the connection closed, long before
/// the whole body could have arrived.
#[tokio::test]
async fn a_trickling_body_is_cut_with_the_dialects_error() {
    let server = Imbridge::start_in(
        Setup::new().with_server("body_timeout_secs = 1\nmin_body_rate = 100"),
        "",
    );
    let mut conn = connect(&server).await;
    let head = format!(
        "POST /v1/users/ HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n[",
        basic()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (mut reader, mut writer) = conn.into_split();
    let trickle = tokio::spawn(async move {
        // 20 bytes/s: a fifth of the minimum rate.
        for _ in 0..200 {
            if writer.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(6), reader.read_to_end(&mut answer)).await;
    let took = started.elapsed();
    trickle.abort();
    let text = String::from_utf8_lossy(&answer);
    // Grace 1 s, then 100 B/s against 20 B/s: cut at about 1.25 s.
    assert!(took < Duration::from_secs(4), "answered after {took:?}");
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    let body = &text[text.find("\r\n\r\n").unwrap() + 4..];
    let error: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(error["error"]["code"], json!(899003), "{error}");
    assert!(timeouts(&server, "body").await >= 1.0);
    still_serves(&server).await;
}

/// A vendor that accepts and never answers, with a vendor timeout far
/// beyond the request deadline: the caller gets its dialect's
/// `upstream_unavailable` at the request deadline.
#[tokio::test]
async fn the_request_deadline_answers_in_the_dialect_when_a_vendor_hangs() {
    let vendor_port = free_port();
    let hang = TcpListener::bind(("127.0.0.1", vendor_port)).await.unwrap();
    let hanging = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = hang.accept().await {
            held.push(c);
        }
    });
    let setup = Setup::new().with_server("request_timeout_secs = 1");
    let provider = format!(
        "[providers.vendor]\nkind = \"vendor\"\ndialect = \"jmessage\"\nbase_url = \"http://127.0.0.1:{vendor_port}\"\n\
         timeout_ms = 30000\nretries = 0\n\n[providers.vendor.params]\napp_key = \"k\"\nmaster_secret = \"s\"\n"
    );
    let text = setup.config_on(&["jmessage"], "vendor", &provider);
    let server = Imbridge::start_text(setup, &text);
    let started = Instant::now();
    let answer = Jm::for_port(server.setup.port).get("/v1/users/javen").await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(3000),
        "answered after {took:?}"
    );
    answer.expect(503);
    assert!(timeouts(&server, "request").await >= 1.0);
    hanging.abort();
}

/// A client that downloads a large file and never reads it is cut at the
/// write deadline (write timeout plus the file at the minimum rate).
#[tokio::test]
async fn a_client_that_never_reads_is_cut_at_the_write_deadline() {
    let server = Imbridge::start_in(
        Setup::new()
            .with_server("write_timeout_secs = 1\nmin_body_rate = 8388608")
            .with_embedded("max_media_bytes = 9961472"),
        "",
    );
    let jm = Jm::for_port(server.setup.port);
    // 9 MB, to a client with a tiny receive buffer: more than the server's
    // send buffer takes.
    let uploaded = jm
        .upload("file", "big.bin", vec![7u8; 9 * 1024 * 1024])
        .await
        .expect(200);
    let media_id = uploaded.json["media_id"].as_str().unwrap().to_string();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut conn = socket
        .connect(([127, 0, 0, 1], server.setup.port).into())
        .await
        .unwrap();
    conn.write_all(format!("GET /media/{media_id} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    // Deadline: 1 s + 9 MB at 8 MB/s: 2.1 s.
    let started = Instant::now();
    while timeouts(&server, "write").await < 1.0 {
        assert!(started.elapsed() < Duration::from_secs(10), "never cut");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(2), "cut after {took:?}");
    drop(conn);
    still_serves(&server).await;
}

/// With `admin_token`, `/metrics` and `/reload` need it (a wrong or missing
/// one is a 401, counted); `/healthz` and `/readyz` stay open for probes.
/// An admin listener beyond loopback without a token, or with an empty one,
/// does not start.
#[tokio::test]
async fn the_admin_listener_needs_its_token() {
    let server = Imbridge::start_in(
        Setup::new().with_server("admin_token = \"admin-test-token\""),
        "",
    );
    let get = |path: &str, token: Option<&str>| {
        let mut req = server.http.get(format!("{}{path}", server.admin));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get("/metrics", None).await, 401);
    assert_eq!(get("/metrics", Some("wrong")).await, 401);
    assert_eq!(get("/healthz", None).await, 200);
    assert_eq!(get("/readyz", None).await, 200);
    let reload = server
        .http
        .post(format!("{}/reload", server.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(reload.status().as_u16(), 401);
    let text = server
        .http
        .get(format!("{}/metrics", server.admin))
        .header("authorization", "bearer admin-test-token")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("imbridge_admin_unauthorized_total 3"),
        "{text}"
    );

    let setup = Setup::new();
    let mut config = imbridge::config::Config::from_toml(&setup.config_text("")).unwrap();
    config.server.admin_listen = format!("0.0.0.0:{}", setup.admin_port);
    let refused = imbridge::server::spawn(&config).err().expect("refused");
    assert!(refused.to_string().contains("admin_token"), "{refused}");
    config.server.admin_token = Some(imbridge::auth::Secret::new(" "));
    let refused = imbridge::server::spawn(&config).err().expect("refused");
    assert!(refused.to_string().contains("empty"), "{refused}");
}

/// After SIGTERM the real binary answers `/readyz` 503 for `drain_secs`
/// while still serving requests, then stops.
#[tokio::test]
async fn sigterm_drains_with_readyz_503_before_stopping() {
    use std::process::{Command, Stdio};
    let setup = Setup::new();
    let config = setup.write_config("");
    let mut child = Command::new(env!("CARGO_BIN_EXE_imbridge"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .env("IMBRIDGE_SERVER__DRAIN_SECS", "2")
        .stdout(Stdio::null())
        .spawn()
        .expect("imbridge starts");
    crate::harness::wait_for_port(setup.port);
    crate::harness::wait_for_port(setup.admin_port);
    let http = reqwest::Client::new();
    let readyz = || async {
        http.get(format!("http://127.0.0.1:{}/readyz", setup.admin_port))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .ok()
    };
    assert_eq!(readyz().await, Some(200));
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(readyz().await, Some(503));
    Jm::for_port(setup.port)
        .get("/v1/users/?start=0&count=1")
        .await
        .expect(200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
}

/// Downloads: a checked image is shown inline; a file uploaded as
/// `text/html` (refused by default: here an operator allowed it) comes back
/// as an `application/octet-stream` attachment; both with `nosniff` and a
/// sandboxing CSP, so nothing uploaded runs in the API's origin.
#[tokio::test]
async fn uploaded_files_cannot_become_pages_on_the_api_origin() {
    let setup = Setup::new().with_embedded(r#"media_types = ["text/html", "image/png"]"#);
    let server = Imbridge::start_in(setup, "");
    let jm = Jm::for_port(server.setup.port);
    let page = reqwest::multipart::Part::bytes(b"<script>alert(document.cookie)</script>".to_vec())
        .file_name("x.html")
        .mime_str("text/html")
        .unwrap();
    let html = crate::harness::Answer::of(
        server
            .http
            .post(format!("{}/v1/resource?type=file", server.base))
            .header("authorization", basic())
            .multipart(reqwest::multipart::Form::new().part("filename", page)),
    )
    .await
    .expect(200);
    let image = jm
        .upload("image", "a.png", crate::harness::png(3, 2, [1, 2, 3]))
        .await
        .expect(200);
    for (answer, content_type, attachment) in [
        (html, "application/octet-stream", true),
        (image, "image/png", false),
    ] {
        let id = answer.json["media_id"].as_str().unwrap();
        let resp = server
            .http
            .get(format!("{}/media/{id}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let h = resp.headers();
        assert_eq!(h["content-type"], content_type);
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox"));
        assert_eq!(
            h.get("content-disposition").map(|v| v.to_str().unwrap()),
            attachment.then_some("attachment")
        );
    }
}
