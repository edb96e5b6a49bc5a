//! The Grafana dashboards in `dashboards/` proven on a real Prometheus
//! (Debian's `prometheus`, installed by `.ci/setup --tests`; the test fails
//! when it is missing).
//!
//! Prometheus scrapes the admin listeners of two imbridge servers (and the
//! metrics of an `imbridge migrate` run, `--metrics-listen`) every
//! second: B stands in for three vendors (JMessage, Easemob, RongCloud on
//! listeners of their own), A serves JMessage frontends on four vendor
//! providers plus WildfireChat on the embedded store. Between A and two of
//! B's listeners sits a small hand-written HTTP proxy that delays, hangs,
//! answers garbage or refuses tokens when the path asks for it. Mixed traffic
//! runs twice (so every counter has grown between scrapes): successes, client
//! errors, a route no frontend owns, an operation the provider cannot run, a
//! slow vendor, a timeout, an unreachable vendor, a garbage answer, token
//! cache hits, misses, fetches, fetch failures and invalidations, and good
//! and broken reloads. Then every PromQL expression of every panel of every
//! dashboard (template variables as `.*`, `$__rate_interval` as 1m) must
//! return data with at least one finite value, every template variable query
//! must find values, and the same expressions with concrete variable values
//! must be valid.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::harness::{
    body_text, free_port, repo, wait_for_port, Imbridge, Jm, Setup, APP_KEY, MASTER_SECRET,
};
use crate::wire::{closing, read_message};

/// Everything must be done within this time.
const BUDGET: Duration = Duration::from_secs(240);
/// What `$__rate_interval` and `$__interval` become.
const RATE_INTERVAL: &str = "1m";
/// A's timeout of one vendor call: generous, so that only the call that
/// hangs (`HANG`) times out, also when a loaded machine makes a chained call
/// slow.
const TIMEOUT_MS: u64 = 8000;
/// How long the proxy holds requests for "hang" paths before dropping them:
/// well beyond `TIMEOUT_MS`.
const HANG: Duration = Duration::from_secs(60);
/// How long the proxy delays requests for "slow" paths.
const SLOW: Duration = Duration::from_millis(300);

// ---- Prometheus -----------------------------------------------------------------------

/// A Prometheus server on loopback with its own config and data dir, killed
/// on drop.
struct Prometheus {
    child: Child,
    base: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (`host:port` of admin listeners)
    /// every second; panics when it is not installed.
    async fn start(targets: &[String]) -> Prometheus {
        let binary = which("prometheus").unwrap_or_else(|| {
            panic!(
                "`prometheus` is not installed: run `.ci/setup --tests` \
                 (it installs Debian's prometheus package)"
            )
        });
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        let list = targets
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: imbridge\n    static_configs:\n      - targets: [{list}]\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        let p = Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = p
                .http
                .get(format!("{}/-/ready", p.base))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return p;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus did not get ready: {}",
                p.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// An instant query; returns `data` of a successful answer, or the error.
    async fn query(&self, expr: &str) -> Result<Value, String> {
        let r = self
            .http
            .get(format!("{}/api/v1/query", self.base))
            .query(&[("query", expr)])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let body: Value = r.json().await.map_err(|e| e.to_string())?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        Ok(body["data"].clone())
    }

    /// The vector or scalar samples of a query, as (labels, value).
    async fn samples(&self, expr: &str) -> Result<Vec<(Value, f64)>, String> {
        let data = self.query(expr).await?;
        let value = |v: &Value| -> f64 {
            v[1].as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(f64::NAN)
        };
        match data["resultType"].as_str() {
            Some("vector") => Ok(data["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (s["metric"].clone(), value(&s["value"])))
                .collect()),
            Some("scalar") => Ok(vec![(Value::Null, value(&data["result"]))]),
            other => Err(format!("unexpected result type {other:?}")),
        }
    }

    /// Waits until every target has been scraped, successfully, after now.
    /// The 90th percentile of `histogram` over JMessage's `user.get` calls.
    async fn user_get_p90(&self, histogram: &str) -> Vec<(Value, f64)> {
        self.samples(&format!(
            r#"histogram_quantile(0.9, sum by (le) (rate({histogram}_bucket{{frontend="jmessage",op="user.get"}}[{RATE_INTERVAL}])))"#
        ))
        .await
        .unwrap()
    }

    async fn scraped_after_now(&self, targets: usize, deadline: Instant) {
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        loop {
            // timestamp() of a plain selector is the scrape's time (of an
            // expression it would be the evaluation time).
            let scraped = self
                .samples(r#"timestamp(up{job="imbridge"})"#)
                .await
                .unwrap_or_default();
            let up = self
                .samples(r#"up{job="imbridge"}"#)
                .await
                .unwrap_or_default();
            if scraped.len() == targets
                && scraped.iter().all(|(_, t)| *t > now)
                && up.iter().all(|(_, v)| *v == 1.0)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no fresh scrape of {targets} targets: {scraped:?} {up:?}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

// ---- A misbehaving proxy in front of the vendor ----------------------------------------

/// An HTTP/1.1 proxy in front of a vendor stand-in: requests whose path
/// contains `slow` are delayed, `hang` never answered, `garbage` answered
/// with an HTML page, `expireme` refused with 401 (a token the vendor no
/// longer knows); token requests (`/token`) fail with 500 while
/// `fail_tokens` is above zero. Everything else passes through.
struct FaultProxy {
    port: u16,
    fail_tokens: Arc<AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    async fn start(upstream: String) -> FaultProxy {
        let port = free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let fail_tokens = Arc::new(AtomicU32::new(0));
        let shared = fail_tokens.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve(conn, upstream.clone(), shared.clone()));
            }
        });
        FaultProxy {
            port,
            fail_tokens,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(conn: &mut TcpStream, status: &str, content_type: &str, body: &str) {
    let reply = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(reply.as_bytes()).await;
    let _ = conn.shutdown().await;
}

async fn serve(mut conn: TcpStream, upstream: String, fail_tokens: Arc<AtomicU32>) {
    let Some(request) = read_message(&mut conn).await else {
        return;
    };
    let line =
        String::from_utf8_lossy(&request[..request.iter().position(|b| *b == b'\r').unwrap_or(0)])
            .to_string();
    let path = line.split(' ').nth(1).unwrap_or_default().to_string();
    if path.contains("hang") {
        tokio::time::sleep(HANG).await;
        return;
    }
    if path.contains("garbage") {
        return answer(&mut conn, "200 OK", "text/html", "<html>maintenance</html>").await;
    }
    if path.contains("expireme") {
        return answer(
            &mut conn,
            "401 Unauthorized",
            "application/json",
            r#"{"error":"unauthorized","error_description":"token expired"}"#,
        )
        .await;
    }
    if path.ends_with("/token")
        && fail_tokens
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    {
        return answer(
            &mut conn,
            "500 Internal Server Error",
            "application/json",
            "{}",
        )
        .await;
    }
    if path.contains("slow") {
        tokio::time::sleep(SLOW).await;
    }
    let Ok(mut up) = TcpStream::connect(&upstream).await else {
        return;
    };
    if up.write_all(&closing(&request)).await.is_err() {
        return;
    }
    let mut reply = Vec::new();
    let _ = up.read_to_end(&mut reply).await;
    let _ = conn.write_all(&reply).await;
    let _ = conn.shutdown().await;
}

// ---- The imbridge setup -----------------------------------------------------------------

/// The Easemob org, app and credentials of B's Easemob listener.
const EM: [(&str, &str); 4] = [
    ("org_name", "prom-org"),
    ("app_name", "prom-app"),
    ("client_id", "YXA6prom-client-id"),
    ("client_secret", "YXA6prom-client-secret"),
];
const RC_SECRET: &str = "prom-rc-secret";

/// The running servers.
struct Stack {
    vendor: Imbridge,
    proxy: Imbridge,
    /// Ports of A's extra listeners: JMessage on Easemob, on RongCloud, on
    /// a vendor that is down.
    on_easemob: Jm,
    on_rongcloud: Jm,
    on_down: Jm,
    /// JMessage on the vendor, migrating to A's embedded store (cut-over at
    /// 50 %, every read shadowed) and to the vendor that is down.
    migrating: Jm,
    migrating_to_down: Jm,
    em_proxy: FaultProxy,
    _jm_proxy: FaultProxy,
    mappings: PathBuf,
    original: String,
    /// `imbridge migrate` from B's RongCloud to A's embedded provider, slowed
    /// down (`--rate 2`) so that it runs for the whole test, serving its
    /// metrics on `copy_port` (killed when the stack drops).
    _copy: tokio::process::Child,
    copy_port: u16,
    /// The port of the vendor that is down, held bound without listening:
    /// connections to it are refused, and no other test can take it.
    _dead: TcpSocket,
}

fn params(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k} = \"{v}\"\n"))
        .collect()
}

/// A JMessage frontend of A on a listener of its own, on `provider`.
fn jm_frontend(name: &str, port: u16, provider: &str) -> String {
    format!(
        "[frontends.{name}]\ndialect = \"jmessage\"\nlisten = \"127.0.0.1:{port}\"\nprovider = \"{provider}\"\n\n\
         [frontends.{name}.params]\nmaster_secret = \"{MASTER_SECRET}\"\n\n"
    )
}

/// Back-off after a failed vendor token fetch, in milliseconds.
const TOKEN_BACKOFF_MS: u64 = 200;

fn vendor_provider(name: &str, dialect: &str, base_url: &str, params_text: &str) -> String {
    format!(
        "[providers.{name}]\nkind = \"vendor\"\ndialect = \"{dialect}\"\nbase_url = \"{base_url}\"\n\
         timeout_ms = {TIMEOUT_MS}\nretries = 0\ntoken_backoff_ms = {TOKEN_BACKOFF_MS}\n\n\
         [providers.{name}.params]\n{params_text}\n"
    )
}

/// The anchor in jmessage.yaml that reloads edit.
const ANCHOR: &str = "      path: /v1/sdkregister/status\n      response:\n        body:\n";

impl Stack {
    async fn start() -> Stack {
        // B: JMessage on its main listener, Easemob and RongCloud on two more.
        let b = Setup::new();
        let (b_em, b_rc) = (free_port(), free_port());
        let b_text = b.config_for(
            &[],
            &format!(
                "[frontends.jmessage]\nprovider = \"embedded\"\n\n[frontends.jmessage.params]\nmaster_secret = \"{MASTER_SECRET}\"\n\n\
                 [frontends.easemob]\ndialect = \"easemob\"\nprovider = \"embedded\"\nlisten = \"127.0.0.1:{b_em}\"\n\n\
                 [frontends.easemob.params]\n{em}\n\
                 [frontends.rongcloud]\nprovider = \"embedded\"\nlisten = \"127.0.0.1:{b_rc}\"\n\n\
                 [frontends.rongcloud.params]\napp_secret = \"{RC_SECRET}\"\n",
                em = params(&EM),
            ),
        );
        let vendor = Imbridge::start_text(b, &b_text);
        wait_for_port(b_em);
        wait_for_port(b_rc);
        let jm_proxy = FaultProxy::start(format!("127.0.0.1:{}", vendor.setup.port)).await;
        let em_proxy = FaultProxy::start(format!("127.0.0.1:{b_em}")).await;

        // A: reads its mappings from a copy that reloads edit.
        let a = Setup::new();
        let mappings = a.dir.path().join("mappings");
        std::fs::create_dir_all(&mappings).unwrap();
        for entry in std::fs::read_dir(repo().join("mappings")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "yaml") {
                std::fs::copy(&path, mappings.join(path.file_name().unwrap())).unwrap();
            }
        }
        let original = std::fs::read_to_string(mappings.join("jmessage.yaml")).unwrap();
        assert!(original.contains(ANCHOR), "the reload anchor moved");
        let (p_em, p_rc, p_down) = (free_port(), free_port(), free_port());
        let (p_live, p_live_down) = (free_port(), free_port());
        let dead = TcpSocket::new_v4().unwrap();
        dead.bind(([127, 0, 0, 1], 0).into()).unwrap();
        let dead_port = dead.local_addr().unwrap().port();
        let mut extra = String::new();
        extra += &vendor_provider(
            "jm",
            "jmessage",
            &jm_proxy.url(),
            &params(&[("app_key", APP_KEY), ("master_secret", MASTER_SECRET)]),
        );
        extra += &vendor_provider("em", "easemob", &em_proxy.url(), &params(&EM));
        extra += &vendor_provider(
            "rc",
            "rongcloud",
            &format!("http://127.0.0.1:{b_rc}"),
            &params(&[("app_key", APP_KEY), ("app_secret", RC_SECRET)]),
        );
        extra += &vendor_provider(
            "down",
            "jmessage",
            &format!("http://127.0.0.1:{dead_port}"),
            &params(&[("app_key", APP_KEY), ("master_secret", MASTER_SECRET)]),
        );
        extra += &jm_frontend("jm-easemob", p_em, "em");
        extra += &jm_frontend("jm-rongcloud", p_rc, "rc");
        extra += &jm_frontend("jm-down", p_down, "down");
        extra += &jm_frontend("jm-live", p_live, "jm");
        extra += "[frontends.jm-live.migration]\nto = \"embedded\"\nmode = \"cutover\"\npercent = 50\nshadow_sample = 1.0\n\n";
        extra += &jm_frontend("jm-live-down", p_live_down, "jm");
        extra += "[frontends.jm-live-down.migration]\nto = \"down\"\nmode = \"shadow\"\nshadow_sample = 1.0\n\n";
        extra += "[frontends.wildfire]\nprovider = \"embedded\"\n\n[frontends.wildfire.params]\nsecret = \"123456\"\n";
        let text = a.config_on(&["jmessage"], "jm", &extra).replace(
            &format!("mappings = \"{}\"", repo().join("mappings").display()),
            &format!("mappings = \"{}\"", mappings.display()),
        );
        let file = a.dir.path().join("imbridge.toml");
        std::fs::write(&file, text).unwrap();
        let proxy = Imbridge::start_file(a, &file);
        for port in [p_em, p_rc, p_down, p_live, p_live_down] {
            wait_for_port(port);
        }
        // Users the source has not (failures), then some it has (copies, once
        // `prepare` registered them), then more it has not.
        let ids: Vec<String> = (0..20)
            .map(|i| format!("ghost{i}"))
            .chain(["alice", "bob", "slowpoke"].map(String::from))
            .chain((20..400).map(|i| format!("ghost{i}")))
            .collect();
        let users = proxy.setup.dir.path().join("users.txt");
        std::fs::write(&users, ids.join("\n")).unwrap();
        let copy_port = free_port();
        let copy = tokio::process::Command::new(env!("CARGO_BIN_EXE_imbridge"))
            .args(["migrate", "--config"])
            .arg(&file)
            .args([
                "--from", "rc", "--to", "embedded", "--only", "users", "--rate", "2", "--users",
            ])
            .arg(&users)
            .arg("--metrics-listen")
            .arg(format!("127.0.0.1:{copy_port}"))
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("imbridge migrate starts");
        Stack {
            vendor,
            proxy,
            on_easemob: Jm::for_port(p_em),
            on_rongcloud: Jm::for_port(p_rc),
            on_down: Jm::for_port(p_down),
            migrating: Jm::for_port(p_live),
            migrating_to_down: Jm::for_port(p_live_down),
            em_proxy,
            _jm_proxy: jm_proxy,
            mappings,
            original,
            _copy: copy,
            copy_port,
            _dead: dead,
        }
    }

    fn targets(&self) -> Vec<String> {
        vec![
            format!("127.0.0.1:{}", self.proxy.setup.admin_port),
            format!("127.0.0.1:{}", self.vendor.setup.admin_port),
            format!("127.0.0.1:{}", self.copy_port),
        ]
    }

    /// Rewrites A's jmessage.yaml with `line` added to the status answer.
    fn edit(&self, line: &str) {
        let text = self
            .original
            .replacen(ANCHOR, &format!("{ANCHOR}          {line}\n"), 1);
        std::fs::write(self.mappings.join("jmessage.yaml"), text).unwrap();
    }

    async fn reload(&self) -> u16 {
        self.proxy
            .http
            .post(format!("{}/reload", self.proxy.admin))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Users every round reads.
    async fn prepare(&self) {
        let users = json!([
            {"username": "alice", "password": "password"},
            {"username": "bob", "password": "password"},
            {"username": "slowpoke", "password": "password"},
        ]);
        // B's dialects share its store: the users exist for all three.
        self.proxy.register(users).await;
        self.on_easemob.get("/v1/users/alice").await.expect(200);
        self.on_rongcloud.get("/v1/users/alice").await.expect(200);
    }

    /// One round of mixed traffic; every kind of series grows.
    async fn traffic(&self, round: u32) {
        let jm = self.proxy.jm();
        // Successes through the JMessage vendor, with a big message body.
        for _ in 0..3 {
            jm.get("/v1/users/alice").await.expect(200);
        }
        let text = "x".repeat(5000);
        jm.post(
            "/v1/messages",
            json!({"version": 1, "target_type": "single", "target_id": "bob", "from_type": "user",
                   "from_id": "alice", "msg_type": "text", "msg_body": {"text": text}}),
        )
        .await
        .expect(201);
        // Client errors: an unknown user (the vendor's 404), bad credentials,
        // a wrong method, a path no frontend owns.
        jm.get("/v1/users/nobody")
            .await
            .expect_jm_error(404, 899002);
        jm.with_auth(Some((APP_KEY, "wrong-secret")))
            .get("/v1/users/alice")
            .await
            .expect(401);
        jm.call(reqwest::Method::PATCH, "/v1/users/alice", None)
            .await;
        self.proxy
            .get(&format!("/nowhere/unmatched-path-{round}"))
            .await
            .expect(404);
        // A slow vendor, a vendor that never answers, garbage.
        for _ in 0..3 {
            jm.get("/v1/users/slowpoke").await.expect(200);
        }
        let a = jm.get("/v1/users/hangman").await;
        assert!(a.status >= 500, "{} {}", a.status, a.text);
        let a = jm.get("/v1/users/garbage").await;
        assert!(a.status >= 500, "{} {}", a.status, a.text);
        // An unreachable vendor.
        let a = self.on_down.get("/v1/users/alice").await;
        assert!(a.status >= 500, "{} {}", a.status, a.text);
        // What RongCloud cannot do.
        self.on_rongcloud.get("/v1/users/alice").await.expect(200);
        self.on_rongcloud
            .post("/v1/users/alice/groupsShield", json!({"add": [1]}))
            .await
            .expect(501);
        // Easemob's token: hits, a token the vendor refuses (invalidated),
        // whose refetch fails, then a miss and a good fetch.
        for _ in 0..3 {
            self.on_easemob.get("/v1/users/alice").await.expect(200);
        }
        self.em_proxy.fail_tokens.store(1, Ordering::SeqCst);
        let a = self.on_easemob.get("/v1/users/expireme").await;
        assert!(a.status >= 400, "{} {}", a.status, a.text);
        // No fetch during the back-off: refused at once.
        self.on_easemob.get("/v1/users/bob").await.expect(503);
        tokio::time::sleep(Duration::from_millis(TOKEN_BACKOFF_MS + 50)).await;
        self.on_easemob.get("/v1/users/bob").await.expect(200);
        // Live migrations: writes recorded and applied (or retried: the
        // target is down), reads shadowed (matching, or failing on the
        // target that is down), calls on both sides of the cut-over.
        for (i, jm) in [&self.migrating, &self.migrating_to_down]
            .into_iter()
            .enumerate()
        {
            let names: Vec<String> = (0..6).map(|n| format!("live{i}r{round}n{n}")).collect();
            let users: Vec<Value> = names
                .iter()
                .map(|n| json!({"username": n, "password": "password"}))
                .collect();
            jm.post("/v1/users/", Value::Array(users)).await.expect(201);
            for n in &names {
                jm.put(&format!("/v1/users/{n}"), Some(json!({"nickname": "Live"})))
                    .await
                    .expect(204);
                jm.get(&format!("/v1/users/{n}")).await.expect(200);
            }
        }
        // The embedded store.
        let wf = self.proxy.wf();
        for _ in 0..2 {
            let a = wf.post("/admin/get_setting", Some(json!({"id": 1}))).await;
            assert_eq!(a.status, 200, "{}", a.text);
        }
        // A good reload, a broken one, a good one again.
        self.edit(&format!("version: {round}"));
        assert_eq!(self.reload().await, 200);
        self.edit("version: {$nope: 1}");
        assert_eq!(self.reload().await, 422);
        self.edit(&format!("version: {}", round + 100));
        assert_eq!(self.reload().await, 200);
    }
}

// ---- Dashboards ----------------------------------------------------------------------------

/// A dashboard panel query.
struct PanelQuery {
    dashboard: String,
    panel: String,
    expr: String,
}

fn panels<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
    for p in list.as_array().into_iter().flatten() {
        out.push(p);
        panels(&p["panels"], out);
    }
}

/// Every dashboard file with its JSON.
fn dashboards() -> Vec<(String, Value)> {
    let dir = repo().join("dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let json = serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, json)
        })
        .collect()
}

fn substitute(expr: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = expr
        .replace("$__rate_interval", RATE_INTERVAL)
        .replace("$__interval", RATE_INTERVAL)
        .replace("$__range", RATE_INTERVAL);
    // Longest names first, `${name}` before `$name`.
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for name in names {
        out = out
            .replace(&format!("${{{name}}}"), &vars[name])
            .replace(&format!("${name}"), &vars[name]);
    }
    assert!(!out.contains('$'), "unsubstituted variable in {out}");
    out
}

/// `label_values(expr, label)` as PromQL: `group by (label) (expr)`.
fn label_values(query: &str) -> (String, String) {
    let inner = query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not a label_values query: {query}"));
    let (expr, label) = inner.rsplit_once(',').expect("label_values(metric, label)");
    (expr.trim().to_string(), label.trim().to_string())
}

/// Checks the structure the dashboards promise and returns their queries and
/// template variables (name → label_values query).
fn dashboard_queries() -> (Vec<PanelQuery>, Vec<(String, String, String)>) {
    let mut queries = Vec::new();
    let mut variables = Vec::new();
    let all = dashboards();
    assert_eq!(all.len(), 6, "one file per dashboard");
    for (name, d) in &all {
        assert!(
            d["schemaVersion"].as_i64().unwrap_or(0) >= 36,
            "{name}: schemaVersion"
        );
        assert_eq!(d["__inputs"][0]["pluginId"], "prometheus", "{name}");
        let vars = d["templating"]["list"].as_array().expect("templating");
        assert!(
            vars.iter().any(|v| v["name"] == "datasource"
                && v["type"] == "datasource"
                && v["query"] == "prometheus"),
            "{name}: no prometheus datasource variable"
        );
        for v in vars.iter().filter(|v| v["type"] == "query") {
            assert_eq!(v["datasource"]["uid"], "${datasource}", "{name}");
            let q = v["query"]["query"]
                .as_str()
                .or(v["query"].as_str())
                .unwrap();
            variables.push((
                name.clone(),
                v["name"].as_str().unwrap().to_string(),
                q.to_string(),
            ));
        }
        let mut list = Vec::new();
        panels(&d["panels"], &mut list);
        for p in list.into_iter().filter(|p| p["type"] != "row") {
            let title = p["title"].as_str().unwrap_or_default().to_string();
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{name}: {title}");
            let targets = p["targets"].as_array().filter(|t| !t.is_empty());
            let targets = targets.unwrap_or_else(|| panic!("{name}: {title} has no query"));
            for t in targets {
                let expr = t["expr"].as_str().expect("a PromQL expr");
                for metric in metric_names(expr) {
                    assert!(
                        exported(&metric),
                        "{name}: {title} uses {metric}, which imbridge does not export"
                    );
                }
                queries.push(PanelQuery {
                    dashboard: name.clone(),
                    panel: title.clone(),
                    expr: expr.to_string(),
                });
            }
        }
    }
    (queries, variables)
}

/// Every metric `src/metrics.rs` registers (histograms without suffix).
const EXPORTED: &[&str] = &[
    "imbridge_requests_total",
    "imbridge_request_duration_seconds",
    "imbridge_provider_duration_seconds",
    "imbridge_overhead_duration_seconds",
    "imbridge_requests_in_flight",
    "imbridge_request_size_bytes",
    "imbridge_response_size_bytes",
    "imbridge_provider_calls_total",
    "imbridge_provider_call_duration_seconds",
    "imbridge_token_cache_total",
    "imbridge_reloads_total",
    "imbridge_config_last_reload_success_timestamp_seconds",
    "imbridge_config_last_reload_successful",
    "imbridge_migration_writes_total",
    "imbridge_migration_applied_total",
    "imbridge_migration_shadow_reads_total",
    "imbridge_migration_calls_total",
    "imbridge_migration_outbox_entries",
    "imbridge_migration_outbox_oldest_age_seconds",
    "imbridge_migration_cutover_percent",
    "imbridge_migrate_entities_total",
    "imbridge_migrate_errors_total",
    "imbridge_migrate_running",
    "imbridge_connections",
    "imbridge_connections_rejected_total",
    "imbridge_timeouts_total",
    "imbridge_admin_unauthorized_total",
    "imbridge_migrate_lazy_passwords_total",
    "imbridge_logins_throttled_total",
    "imbridge_provider_circuit_state",
    "imbridge_provider_rejections_total",
    "imbridge_provider_in_flight",
];

/// Whether imbridge exports `metric` (a histogram's series included).
fn exported(metric: &str) -> bool {
    let base = ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| metric.strip_suffix(suffix))
        .filter(|base| EXPORTED.contains(base));
    EXPORTED.contains(&metric) || base.is_some()
}

/// The `imbridge_...` identifiers of an expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(at) = expr[i..].find("imbridge_") {
        let start = i + at;
        let quoted = start > 0 && bytes[start - 1] == b'"';
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        if !quoted {
            out.push(expr[start..end].to_string());
        }
        i = end;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_dashboard_query_returns_data_on_a_real_prometheus() {
    let started = Instant::now();
    let deadline = started + BUDGET;
    let (queries, variables) = dashboard_queries();
    assert!(queries.len() >= 30, "only {} panel queries", queries.len());

    let stack = Stack::start().await;
    let prom = Prometheus::start(&stack.targets()).await;
    stack.prepare().await;
    prom.scraped_after_now(stack.targets().len(), deadline)
        .await;
    // Round 1 creates every series; round 2 makes each grow between scrapes.
    for round in 1..=2 {
        stack.traffic(round).await;
        prom.scraped_after_now(stack.targets().len(), deadline)
            .await;
    }

    // The variables find values.
    for (dashboard, name, query) in &variables {
        let (expr, label) = label_values(query);
        let expr = substitute(&expr, &all_vars());
        let found = prom
            .samples(&format!("group by ({label}) ({expr})"))
            .await
            .unwrap_or_else(|e| panic!("{dashboard}: variable {name}: {e}"));
        assert!(
            !found.is_empty(),
            "{dashboard}: variable {name} finds nothing: {query}"
        );
    }

    // Every panel query returns data, with a finite value somewhere.
    let mut failures = Vec::new();
    for q in &queries {
        let expr = substitute(&q.expr, &all_vars());
        match prom.samples(&expr).await {
            Err(e) => failures.push(format!(
                "{} / {}: error {e}\n    {expr}",
                q.dashboard, q.panel
            )),
            Ok(s) if s.is_empty() => failures.push(format!(
                "{} / {}: no data\n    {expr}",
                q.dashboard, q.panel
            )),
            Ok(s) if !s.iter().any(|(_, v)| v.is_finite()) => failures.push(format!(
                "{} / {}: no finite value {s:?}\n    {expr}",
                q.dashboard, q.panel
            )),
            Ok(_) => {}
        }
        // With concrete values the query stays valid.
        let concrete = substitute(&q.expr, &concrete_vars());
        if let Err(e) = prom.query(&concrete).await {
            failures.push(format!(
                "{} / {}: error {e}\n    {concrete}",
                q.dashboard, q.panel
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} panel queries failed:\n{}",
        failures.len(),
        queries.len(),
        failures.join("\n")
    );

    // The data says what the traffic was.
    let values = |s: Vec<(Value, f64)>, label: &str| -> Vec<String> {
        let mut v: Vec<String> = s
            .iter()
            .filter_map(|(m, _)| m[label].as_str().map(String::from))
            .collect();
        v.sort();
        v
    };
    let statuses = values(
        prom.samples(r#"sum by (status) (imbridge_provider_calls_total{status!~"[0-9]+"})"#)
            .await
            .unwrap(),
        "status",
    );
    assert_eq!(statuses, ["garbage", "timeout", "unreachable"]);
    let events = values(
        prom.samples("sum by (event) (imbridge_token_cache_total)")
            .await
            .unwrap(),
        "event",
    );
    assert_eq!(
        events,
        ["fetch", "fetch_failure", "hit", "invalidated", "miss"]
    );
    let outcomes = values(
        prom.samples(r#"sum by (outcome) (imbridge_requests_total{frontend!="none"})"#)
            .await
            .unwrap(),
        "outcome",
    );
    for kind in [
        "ok",
        "not_found",
        "unauthenticated",
        "invalid_argument",
        "unsupported",
        "upstream_error",
        "upstream_unavailable",
    ] {
        assert!(
            outcomes.iter().any(|o| o == kind),
            "no {kind} in {outcomes:?}"
        );
    }
    let reloads = prom
        .samples(r#"sum by (result) (imbridge_reloads_total{trigger="admin"})"#)
        .await
        .unwrap();
    let count = |result: &str| {
        reloads
            .iter()
            .find(|(m, _)| m["result"] == result)
            .map_or(0.0, |(_, v)| *v)
    };
    let text = stack.proxy.metrics().await;
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("reload")).collect();
    assert_eq!(
        (count("ok"), count("failed")),
        (4.0, 2.0),
        "{reloads:?}\n{lines:#?}"
    );
    // The slow vendor shows as provider time, not as imbridge's.
    let p = prom
        .user_get_p90("imbridge_provider_duration_seconds")
        .await;
    assert!(
        p[0].1 >= SLOW.as_secs_f64() / 2.0,
        "provider p90 of user.get: {p:?}"
    );
    let o = prom
        .user_get_p90("imbridge_overhead_duration_seconds")
        .await;
    assert!(
        o[0].1 < p[0].1,
        "overhead {o:?} not below provider time {p:?}"
    );

    // No label value carries a user, a path or anything the callers sent.
    let series = body_text(
        prom.http
            .get(format!("{}/api/v1/series", prom.base))
            .query(&[("match[]", r#"{__name__=~"imbridge_.+"}"#)]),
    )
    .await;
    for word in [
        "alice",
        "bob",
        "slowpoke",
        "hangman",
        "expireme",
        "nobody",
        "unmatched-path",
        "/v1/",
        "wrong-secret",
        "live0r1n0",
    ] {
        assert!(!series.contains(word), "a label carries `{word}`");
    }
    let names = prom
        .query("count by (__name__) ({__name__=~\"imbridge_.+\"})")
        .await
        .unwrap();
    let series_count: usize = prom
        .samples("count({__name__=~\"imbridge_.+\"})")
        .await
        .unwrap()
        .iter()
        .map(|(_, v)| *v as usize)
        .sum();
    assert!(series_count < 5000, "{series_count} series: {names}");
    eprintln!(
        "{} panel queries and {} variables checked on Prometheus in {:.1} s ({series_count} imbridge series)",
        queries.len(),
        variables.len(),
        started.elapsed().as_secs_f64()
    );
}

fn all_vars() -> BTreeMap<String, String> {
    ["instance", "frontend", "provider", "route", "op"]
        .into_iter()
        .map(|n| (n.to_string(), ".*".to_string()))
        .collect()
}

fn concrete_vars() -> BTreeMap<String, String> {
    [
        ("instance", "127.0.0.1:9"),
        ("frontend", "jmessage"),
        ("provider", "jm"),
        ("route", "user.get"),
        ("op", "user.get"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn dashboards_parse_and_use_only_exported_metrics() {
    let (queries, variables) = dashboard_queries();
    assert!(queries.len() >= 30);
    for (_, name, query) in &variables {
        let (expr, _) = label_values(query);
        assert!(
            metric_names(&expr).iter().all(|m| exported(m)),
            "variable {name}: {query}"
        );
    }
    // The list above is the one `src/metrics.rs` registers.
    let source = std::fs::read_to_string(repo().join("src/metrics.rs")).unwrap();
    let mut registered: Vec<&str> = source
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with("imbridge_") && !s.contains(' '))
        .collect();
    registered.sort();
    registered.dedup();
    let mut listed = EXPORTED.to_vec();
    listed.sort();
    assert_eq!(registered, listed);
}
