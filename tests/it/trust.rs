//! Work before trust, as an attacker would try it: a 10 MB body announced
//! behind missing or wrong credentials is answered from the head, in the
//! dialect, without imbridge reading the body (the client sends the head and
//! 64 KiB, then waits: a server that read on would wait out its 10 s body
//! grace before answering). Requests with credentials still carry bodies,
//! and a signature checked from the head still counts once against replays.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::harness::{Answer, Imbridge};
use crate::wire::read_message;

/// The announced body: 10 MB.
const ANNOUNCED: usize = 10 * 1024 * 1024;

/// Sends `head_lines` (request line and headers, without the blank line)
/// announcing a 10 MB JSON body, then 64 KiB of it, and waits for the
/// answer: its status, JSON body and how long it took.
async fn announce_huge_body(im: &Imbridge, head_lines: &str) -> (u16, Value, Duration) {
    let mut conn = TcpStream::connect(("127.0.0.1", im.setup.port))
        .await
        .unwrap();
    let head = format!(
        "{head_lines}\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {ANNOUNCED}\r\n\r\n"
    );
    let started = Instant::now();
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut first = vec![b'['];
    first.resize(64 * 1024, b'1');
    // The server may answer and stop reading at any time.
    let _ = conn.write_all(&first).await;
    let answer = tokio::time::timeout(Duration::from_secs(5), read_message(&mut conn))
        .await
        .expect("an answer within 5 s")
        .expect("an answer before the close");
    let took = started.elapsed();
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&answer[..end]);
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = serde_json::from_slice(&answer[end + 4..]).unwrap_or(Value::Null);
    (status, body, took)
}

/// Sum of `imbridge_requests_total` samples of `frontend` with `outcome`.
async fn counted(im: &Imbridge, frontend: &str, outcome: &str) -> f64 {
    im.metrics()
        .await
        .lines()
        .filter(|l| l.starts_with("imbridge_requests_total{"))
        .filter(|l| {
            l.contains(&format!("frontend=\"{frontend}\""))
                && l.contains(&format!("outcome=\"{outcome}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn unauthenticated_huge_bodies_are_refused_unread_in_the_dialect() {
    let im = Imbridge::start();
    let quick = Duration::from_secs(2);

    // JMessage (HTTP Basic): none, and a wrong secret.
    for auth in ["", "\r\nAuthorization: Basic d3Jvbmc6d3Jvbmc="] {
        let (status, body, took) =
            announce_huge_body(&im, &format!("POST /v1/users/ HTTP/1.1{auth}")).await;
        assert_eq!(status, 401, "{body}");
        assert!(body["error"]["code"].is_i64(), "{body}");
        assert!(took < quick, "{took:?}");
    }
    assert_eq!(counted(&im, "jmessage", "unauthenticated").await, 2.0);

    // rongcloud-app (a token in a header): none, and a made-up one.
    for auth in ["", "\r\nAuthorization: Token made-up"] {
        let (status, body, took) =
            announce_huge_body(&im, &format!("POST /api/im/group/ HTTP/1.1{auth}")).await;
        assert_eq!(status, 401, "{body}");
        assert!(body["detail"].is_string(), "{body}");
        assert!(took < quick, "{took:?}");
    }

    // WildfireChat (signature headers): unsigned, and a wrong signature.
    let ts = chrono::Utc::now().timestamp_millis();
    for auth in [
        String::new(),
        format!("\r\nnonce: 1\r\ntimestamp: {ts}\r\nsign: 00"),
    ] {
        let (status, body, took) =
            announce_huge_body(&im, &format!("POST /admin/user/create HTTP/1.1{auth}")).await;
        assert_eq!(status, 200, "{body}");
        assert_ne!(body["code"], json!(0), "{body}");
        assert!(body["code"].is_i64(), "{body}");
        assert!(took < quick, "{took:?}");
    }

    // No route at all: answered unread too.
    let (status, _, took) = announce_huge_body(&im, "POST /nowhere HTTP/1.1").await;
    assert_eq!(status, 404);
    assert!(took < quick, "{took:?}");

    // With credentials, bodies are read and served as before.
    im.register(json!([{"username": "ann", "password": "pw-ann"}]))
        .await;
    let rc = im.rc("ann", "pw-ann").await;
    rc.post_form("/api/im/group/", &[("name", "g")])
        .await
        .expect(201);
    // A signature checked from the head is still used once only.
    let wf = im.wf();
    let fresh = wf.fresh();
    let body = json!({"userId": "wf1", "name": "wf1", "displayName": "W"});
    let first: Answer = wf
        .post_signed("/admin/user/create", Some(body.clone()), Some(&fresh))
        .await
        .expect(200);
    assert_eq!(first.json["code"], 0, "{}", first.text);
    let replay = wf
        .post_signed("/admin/user/create", Some(body), Some(&fresh))
        .await
        .expect(200);
    assert_eq!(replay.json["code"], 243, "{}", replay.text);
}
