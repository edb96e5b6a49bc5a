//! Wrong passwords in bulk, as an attacker sends them to a real server:
//! failures are counted per user and per client address, further attempts
//! are refused at once in the caller's dialect (haorenao's `{ret: failed}`,
//! rongcloud-app's 429) until the window ends, a correct password is
//! refused too while throttled, and argon2 never runs more than one per
//! core however many guesses arrive at once (memory stays bounded).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Imbridge, Setup};

/// `imbridge_logins_throttled_total{frontend,by}` of a server.
async fn throttled(server: &Imbridge, frontend: &str, by: &str) -> f64 {
    let labels = format!("by=\"{by}\",frontend=\"{frontend}\"");
    server
        .metric("imbridge_logins_throttled_total", &labels)
        .await
}

/// A haorenao call authenticated with `username`/`password`: its `ret` and
/// `reason`.
async fn haorenao_token(server: &Imbridge, username: &str, password: &str) -> (String, String) {
    let a = server
        .post_json(
            "/im/user_get_token/",
            json!({"username": username, "password": password}),
        )
        .await
        .expect(200);
    (
        a.json["ret"].as_str().unwrap().to_string(),
        a.json["reason"].as_str().unwrap().to_string(),
    )
}

/// One user's wrong passwords: after 3 failures even the right password is
/// refused with haorenao's error until the window (2 s) ends; other users
/// are not affected; the refusals are counted.
#[tokio::test]
async fn a_user_is_throttled_after_its_failures_until_the_window_ends() {
    let server = Imbridge::start_with(
        "[logins]\nfailures_per_user = 3\nfailures_per_address = 0\nwindow_secs = 2\n",
    );
    server
        .register(json!([
            {"username": "victim", "password": "right-password"},
            {"username": "bystander", "password": "right-password"},
        ]))
        .await;
    let started = Instant::now();
    for i in 0..3 {
        let (ret, reason) = haorenao_token(&server, "victim", &format!("guess-{i}")).await;
        assert_eq!(ret, "failed");
        assert!(!reason.contains("too many"), "{reason}");
    }
    let (ret, reason) = haorenao_token(&server, "victim", "right-password").await;
    assert_eq!(ret, "failed");
    assert!(reason.contains("too many failed logins"), "{reason}");
    assert_eq!(
        haorenao_token(&server, "bystander", "right-password")
            .await
            .0,
        "ok"
    );
    assert!(throttled(&server, "haorenao", "user").await >= 1.0);
    // After the window the right password works again.
    tokio::time::sleep(
        Duration::from_secs(2).saturating_sub(started.elapsed()) + Duration::from_millis(300),
    )
    .await;
    assert_eq!(
        haorenao_token(&server, "victim", "right-password").await.0,
        "ok"
    );
}

/// Guesses spread over many users from one address: the address is
/// throttled after its failures (rongcloud-app answers 429 with DRF's
/// throttle message), while a user who logged in before keeps working.
#[tokio::test]
async fn an_address_spraying_many_users_gets_429() {
    let server = Imbridge::start_with(
        "[logins]\nfailures_per_user = 0\nfailures_per_address = 5\nwindow_secs = 60\n",
    );
    server
        .register(json!([{"username": "regular", "password": "right-password"}]))
        .await;
    // A regular user logs in first, then uses the token.
    let rc = server.rc("regular", "right-password").await;
    for i in 0..5 {
        let a = server
            .post_json(
                "/api/auth/token/",
                json!({"username": format!("user{i}"), "password": "guess"}),
            )
            .await;
        assert_eq!(a.status, 400, "{}", a.text);
    }
    let a = server
        .post_json(
            "/api/auth/token/",
            json!({"username": "user9", "password": "guess"}),
        )
        .await;
    assert_eq!(a.status, 429, "{}", a.text);
    assert_eq!(a.json, json!({"detail": "Request was throttled."}));
    assert!(throttled(&server, "rongcloud-app", "address").await >= 1.0);
    // Tokens are not passwords: the logged-in user is not throttled.
    let me = rc
        .request(reqwest::Method::GET, "/api/im/token/")
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 200);
}

/// The peak resident memory of this process (the server runs in it), MB.
fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        / 1024
}

/// 80 wrong logins at once, each for another user (no throttle applies, so
/// each runs argon2 with 19 MiB): they queue for one argon2 slot per core
/// instead of taking 1.5 GB at once, and all are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_queue_for_argon2_instead_of_taking_memory() {
    let server = Imbridge::start_in(
        Setup::new(),
        "[logins]\nfailures_per_user = 0\nfailures_per_address = 0\n",
    );
    server
        .register(json!([{"username": "someone", "password": "right-password"}]))
        .await;
    let before = peak_rss_mb();
    let guesses = (0..80).map(|i| {
        let (http, base) = (server.http.clone(), server.base.clone());
        tokio::spawn(async move {
            let a = http
                .post(format!("{base}/im/user_get_token/"))
                .json(&json!({"username": format!("nobody{i}"), "password": "guess"}))
                .send()
                .await
                .unwrap();
            a.json::<serde_json::Value>().await.unwrap()["ret"].clone()
        })
    });
    let answers =
        tokio::time::timeout(Duration::from_secs(120), futures::future::join_all(guesses))
            .await
            .expect("all answered in bounded time");
    for a in answers {
        assert_eq!(a.unwrap(), "failed");
    }
    let grown = peak_rss_mb().saturating_sub(before);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    eprintln!("80 concurrent wrong logins: peak RSS +{grown} MB");
    // One 19 MiB argon2 per core at a time, plus slack for the allocator.
    assert!(
        grown < 20 * cores + 100,
        "peak RSS grew by {grown} MB ({cores} cores)"
    );
}
