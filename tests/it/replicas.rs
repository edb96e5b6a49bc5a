//! Three imbridge replicas (the real binary, one process each) behind
//! haproxy on one PostgreSQL cluster, all on loopback ports of the test's
//! own: the proof that imbridge scales out. [`Replicas`] is the machinery
//! (the harness starts it for tests run with [`on_replicas`]); the tests
//! below check what only several replicas can break.

use std::cell::RefCell;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{
    free_port, on_postgres_with, repo, wait_for_port, Answer, Hx, Imbridge, Jm, Rc, Setup, Wf,
    APP_KEY, MASTER_SECRET,
};
use crate::jm::*;
use crate::pg::Postgres;

/// How many replicas a test runs.
pub const REPLICAS: usize = 3;

thread_local! {
    /// Requests each replica of the last [`Replicas`] dropped on this thread
    /// answered (none for a replica that was killed).
    static SERVED: RefCell<Vec<Option<f64>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `test` (a `#[tokio::test]` of the suite) with every server it
/// starts through the harness replaced by three replicas behind haproxy
/// on one PostgreSQL cluster (requests go through the balancer, spread
/// round-robin); then checks that every replica still running answered
/// requests.
pub fn on_replicas(test: fn()) {
    SERVED.take();
    on_postgres_with(true, test);
    let served = SERVED.take();
    assert_eq!(served.len(), REPLICAS, "the test started no replicas");
    for (i, n) in served.iter().enumerate() {
        assert!(
            n.is_none_or(|n| n > 0.0),
            "replica {i} answered no request: {served:?}"
        );
    }
}

/// One replica: `imbridge serve` with its own API and admin ports.
struct Replica {
    child: Option<Child>,
    port: u16,
    admin_port: u16,
}

/// The replicas and their balancer; everything is stopped when dropped.
pub struct Replicas {
    replicas: Vec<Replica>,
    haproxy: Child,
    /// haproxy's statistics page (which replicas it sees up).
    stats_port: u16,
    /// The PostgreSQL cluster they share.
    pub pg: Arc<Postgres>,
}

impl Replicas {
    /// Starts [`REPLICAS`] replicas of `text` (a config with its databases
    /// on `setup.pg`) at once, replica 0 with `setup.admin_port` as its
    /// admin port, and haproxy on `setup.port` in front of their API ports.
    pub fn start(setup: &Setup, text: &str) -> Replicas {
        let config = setup.dir.path().join("replicas.toml");
        std::fs::write(&config, text).expect("config written");
        Self::start_file(setup, &config, &[])
    }

    /// [`Replicas::start`] with the config file `config`, each replica with
    /// the variables `env` set.
    pub fn start_file(setup: &Setup, config: &Path, env: &[(&str, String)]) -> Replicas {
        let pg = setup
            .pg
            .clone()
            .expect("replicas share a PostgreSQL cluster");
        let dir = setup.dir.path().to_owned();
        let mut replicas: Vec<Replica> = (0..REPLICAS)
            .map(|i| Replica {
                child: None,
                port: free_port(),
                admin_port: if i == 0 {
                    setup.admin_port
                } else {
                    free_port()
                },
            })
            .collect();
        // All at once: their migrations meet at the advisory lock.
        for (i, r) in replicas.iter_mut().enumerate() {
            r.child = Some(spawn(config, env, &dir, i, r.port, r.admin_port));
        }
        for r in &replicas {
            wait_for_port(r.port);
            wait_for_port(r.admin_port);
        }
        let stats_port = free_port();
        let haproxy = haproxy(&dir, setup.port, stats_port, &replicas);
        wait_for_port(setup.port);
        let cluster = Replicas {
            replicas,
            haproxy,
            stats_port,
            pg,
        };
        cluster.wait_all_up();
        cluster
    }

    /// The API base URL of replica `i` (not through the balancer).
    pub fn base(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.replicas[i].port)
    }

    /// The API port of replica `i`.
    pub fn port(&self, i: usize) -> u16 {
        self.replicas[i].port
    }

    /// Requests replica `i` answered so far (its `imbridge_requests_total`).
    pub async fn served(&self, i: usize) -> f64 {
        requests_total(&self.metrics_of(i).await)
    }

    /// The metrics pages of every running replica, one after the other.
    pub async fn metrics(&self) -> String {
        let mut pages = String::new();
        for (i, r) in self.replicas.iter().enumerate() {
            if r.child.is_some() {
                pages.push_str(&self.metrics_of(i).await);
            }
        }
        pages
    }

    /// The metrics page of replica `i`.
    async fn metrics_of(&self, i: usize) -> String {
        let url = format!("http://127.0.0.1:{}/metrics", self.replicas[i].admin_port);
        reqwest::get(url)
            .await
            .expect("metrics answer")
            .text()
            .await
            .expect("metrics body")
    }

    /// Kills replica `i` with SIGKILL and waits until it is gone.
    pub fn kill_9(&mut self, i: usize) {
        if let Some(mut child) = self.replicas[i].child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
        }
    }

    /// Waits (at most 30 s) until haproxy's health checks see every replica
    /// up, so that requests spread over all of them from the start.
    fn wait_all_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let stats = get_now(self.stats_port, "/stats;csv").unwrap_or_default();
            let up = stats
                .lines()
                .filter(|l| l.starts_with("imbridge,r"))
                .filter(|l| l.split(',').nth(17) == Some("UP"))
                .count();
            if up == REPLICAS {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "haproxy sees {up} of {REPLICAS} replicas up:\n{stats}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        let served = self
            .replicas
            .iter()
            .map(|r| r.child.as_ref().and_then(|_| served_now(r.admin_port)))
            .collect();
        SERVED.set(served);
        let _ = self.haproxy.kill();
        let _ = self.haproxy.wait();
        for r in &mut self.replicas {
            if let Some(mut child) = r.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// `imbridge_requests_total` of the replica whose admin port is `port`, read
/// without a runtime (from `Drop`).
fn served_now(port: u16) -> Option<f64> {
    get_now(port, "/metrics").map(|text| requests_total(&text))
}

/// The answer (head and body) to `GET path` on a loopback port, read
/// without a runtime.
fn get_now(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    conn.write_all(request.as_bytes()).ok()?;
    let mut text = String::new();
    conn.read_to_string(&mut text).ok()?;
    Some(text)
}

/// The sum of `imbridge_requests_total` in a metrics page.
fn requests_total(text: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("imbridge_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn spawn(
    config: &Path,
    env: &[(&str, String)],
    dir: &Path,
    i: usize,
    port: u16,
    admin_port: u16,
) -> Child {
    let log = std::fs::File::create(dir.join(format!("replica{i}.log"))).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_imbridge"))
        .args(["serve", "--config"])
        .arg(config)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("IMBRIDGE_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "IMBRIDGE_SERVER__ADMIN_LISTEN",
            format!("127.0.0.1:{admin_port}"),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("imbridge starts")
}

/// haproxy on `port` (its statistics on `stats_port`), round-robin over the
/// replicas' API ports, each
/// checked on its admin `/healthz` every 100 ms (liveness: a database
/// outage must reach callers as their dialect's error, not take every
/// replica out of the balancer); a connection that fails is retried on
/// another replica (a request that reached one is not).
fn haproxy(dir: &Path, port: u16, stats_port: u16, replicas: &[Replica]) -> Child {
    let servers: String = replicas
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                "    server r{i} 127.0.0.1:{} check port {}\n",
                r.port, r.admin_port
            )
        })
        .collect();
    let cfg = format!(
        "global
    maxconn 2000
    log stderr format short local0 info
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
frontend stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /stats
frontend api
    bind 127.0.0.1:{port}
    default_backend imbridge
backend imbridge
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 100ms fall 2 rise 1
{servers}"
    );
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, cfg).expect("haproxy config");
    let log = std::fs::File::create(dir.join("haproxy.log")).expect("haproxy log");
    Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("haproxy is installed (.ci/setup --tests) and on the PATH")
}

/// Whether an answer is JMessage's "service unavailable" (the dialect's
/// `upstream_unavailable`): 503 with `{"error": {"code": 899000, ...}}`.
fn jmessage_unavailable(status: u16, body: &serde_json::Value) -> bool {
    status == 503 && body["error"]["code"] == 899000
}

/// What a write load saw: the ids acknowledged, and each failure by kind.
#[derive(Default)]
struct Outcome {
    acked: Vec<i64>,
    dialect_errors: usize,
    other_failures: Vec<String>,
}

/// A write load's progress, shared by its writers and the test driving it.
#[derive(Default)]
struct Load {
    /// Set to make the writers stop.
    stop: AtomicBool,
    /// Writes acknowledged so far.
    acked: AtomicUsize,
    /// Answers in the dialect's "service unavailable" so far.
    unavailable: AtomicUsize,
}

impl Load {
    /// Waits until `counter` (one of the load's) reaches `n`; at most 30 s.
    async fn reaches(&self, counter: fn(&Load) -> &AtomicUsize, n: usize, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while counter(self).load(Ordering::Relaxed) < n {
            assert!(Instant::now() < deadline, "{what}: never reached {n}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn acked(&self) -> usize {
        self.acked.load(Ordering::Relaxed)
    }
}

/// Creates groups through `jm` (owner `owner`) until `load.stop` is set,
/// for at most 60 s; records what was acknowledged.
async fn create_groups(jm: Jm, owner: &'static str, load: Arc<Load>) -> Outcome {
    let mut out = Outcome::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    for n in 0.. {
        if load.stop.load(Ordering::Relaxed) || Instant::now() > deadline {
            break;
        }
        let body =
            json!({"owner_username": owner, "name": format!("g{n}"), "members_username": []});
        let sent = jm
            .http
            .post(format!("{}/v1/groups/", jm.base))
            .basic_auth(APP_KEY, Some(MASTER_SECRET))
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                match status {
                    201 => {
                        out.acked.push(json["gid"].as_i64().expect("gid"));
                        load.acked.fetch_add(1, Ordering::Relaxed);
                    }
                    _ if jmessage_unavailable(status, &json) => {
                        out.dialect_errors += 1;
                        load.unavailable.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => out.other_failures.push(format!("{status} {text}")),
                }
            }
            Err(e) => out.other_failures.push(e.to_string()),
        }
    }
    out
}

/// Stops `load` and gathers what its writers saw.
async fn finish(load: &Load, writers: Vec<tokio::task::JoinHandle<Outcome>>) -> Outcome {
    load.stop.store(true, Ordering::Relaxed);
    let mut all = Outcome::default();
    for w in writers {
        let out = w.await.expect("writer");
        all.acked.extend(out.acked);
        all.dialect_errors += out.dialect_errors;
        all.other_failures.extend(out.other_failures);
    }
    all
}

/// Asserts every acknowledged group can be read back through `jm`.
async fn all_readable(jm: &Jm, gids: &[i64]) {
    for gid in gids {
        let a = jm.get(&format!("/v1/groups/{gid}")).await;
        assert_eq!(a.status, 200, "acknowledged group {gid} lost: {}", a.text);
    }
}

#[test]
fn a_token_issued_by_one_replica_works_on_the_others() {
    on_replicas(tokens_everywhere);
}

#[tokio::main(flavor = "current_thread")]
async fn tokens_everywhere() {
    let mut im = Imbridge::start();
    im.register(
        json!([{"username": "6", "password": "pw6"}, {"username": "u1", "password": "pw"}]),
    )
    .await;
    let r = im.replicas().expect("replicas");
    let bases: Vec<String> = (0..REPLICAS).map(|i| r.base(i)).collect();
    // easemob-hx: a token from /hx/getToken on one replica, used on each.
    let http = reqwest::Client::new();
    for (i, issuer) in bases.iter().enumerate() {
        let a = Answer::of(http.post(format!("{issuer}/hx/getToken")))
            .await
            .expect(200);
        let token = a.json["data"]["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
        for base in &bases {
            let hx = Hx {
                base: base.clone(),
                http: http.clone(),
                token: token.clone(),
            };
            let a = hx
                .call("/hx/getUserStatus", json!({"username": "u1"}))
                .await
                .expect(200);
            assert_eq!(
                a.json["code"], 200,
                "token of replica {i} on {base}: {}",
                a.text
            );
        }
    }
    // rongcloud-app: a login on replica 1, its token on every replica.
    let login = Answer::of(
        http.post(format!("{}/api/auth/token/", bases[1]))
            .json(&json!({"username": "6", "password": "pw6"})),
    )
    .await
    .expect(200);
    let token = login.json["token"].as_str().expect("token").to_owned();
    for base in &bases {
        let rc = Rc {
            base: base.clone(),
            http: http.clone(),
            token: Some(token.clone()),
            basic: None,
        };
        rc.get("/api/im/token/").await.expect(200);
    }
}

#[test]
fn a_wildfire_signature_replayed_to_another_replica_is_refused() {
    on_replicas(replays_everywhere);
}

#[tokio::main(flavor = "current_thread")]
async fn replays_everywhere() {
    let mut im = Imbridge::start();
    let wf = im.wf();
    let r = im.replicas().expect("replicas");
    let on = |i: usize| Wf {
        base: r.base(i),
        ..wf.clone()
    };
    for first in 0..REPLICAS {
        let signed = wf.fresh();
        let a = on(first)
            .post_signed("/admin/healthcheck", None, Some(&signed))
            .await
            .expect(200);
        assert_eq!(a.json["code"], 0, "{}", a.text);
        for other in (0..REPLICAS).map(|k| (first + k) % REPLICAS) {
            let a = on(other)
                .post_signed("/admin/healthcheck", None, Some(&signed))
                .await
                .expect(200);
            assert_eq!(
                a.json["code"], 243,
                "a signature used on replica {first} accepted again by replica {other}: {}",
                a.text
            );
        }
    }
}

#[test]
fn ids_never_collide_under_concurrent_creates_on_all_replicas() {
    on_replicas(ids_everywhere);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn ids_everywhere() {
    const WRITERS: usize = 4;
    const EACH: usize = 25;
    let mut im = Imbridge::start();
    let jm = im.jm();
    register(&jm, &["tom", "ann"]).await;
    let r = im.replicas().expect("replicas");
    let clients: Vec<Jm> = (0..REPLICAS).map(|i| Jm::for_port(r.port(i))).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WRITERS * REPLICAS {
        let jm = clients[w % REPLICAS].clone();
        tasks.spawn(async move {
            let mut made = (Vec::new(), Vec::new(), Vec::new());
            for n in 0..EACH {
                made.0
                    .push(create_group(&jm, "tom", &format!("g{w}-{n}"), &[]).await);
                made.1
                    .push(create_room(&jm, "ann", &format!("r{w}-{n}"), &[]).await);
                let text = text_message("tom", "single", json!("ann"), &format!("m{w}-{n}"));
                made.2.push(sent_id(&jm, text).await);
            }
            made
        });
    }
    let (mut gids, mut rooms, mut msgs) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(made) = tasks.join_next().await {
        let (g, r, m) = made.expect("a writer failed");
        gids.extend(g);
        rooms.extend(r);
        msgs.extend(m);
    }
    let total = WRITERS * REPLICAS * EACH;
    for (what, ids) in [
        ("group", &mut gids),
        ("chatroom", &mut rooms),
        ("message", &mut msgs),
    ] {
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), total, "{what} ids collided");
    }
    // Every group is there, whichever replica is asked.
    let listed = jm
        .get(&format!("/v1/groups/?start=0&count={}", total + 10))
        .await
        .expect(200);
    assert_eq!(listed.json["total"], total, "{}", listed.text);
}

#[test]
fn a_replica_killed_under_write_load_loses_no_acknowledged_write() {
    on_replicas(kill_one_replica);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn kill_one_replica() {
    let mut im = Imbridge::start();
    let jm = im.jm();
    register(&jm, &["tom"]).await;
    let load = Arc::new(Load::default());
    let writers: Vec<_> = (0..6)
        .map(|_| tokio::spawn(create_groups(jm.clone(), "tom", load.clone())))
        .collect();
    // Let writes land on every replica, then kill one mid-stream.
    load.reaches(|l| &l.acked, 60, "writes before the kill")
        .await;
    let before_kill = im.replicas().expect("replicas").served(1).await;
    assert!(
        before_kill > 0.0,
        "replica 1 served nothing before the kill"
    );
    im.replicas().expect("replicas").kill_9(1);
    let at_kill = load.acked();
    load.reaches(|l| &l.acked, at_kill + 60, "writes after the kill")
        .await;
    let out = finish(&load, writers).await;
    // Only requests in flight on the killed replica may fail (haproxy
    // answers 502 for them, or the connection drops): one per writer at most.
    assert!(
        out.other_failures.len() <= 6,
        "{} failures: {:?}",
        out.other_failures.len(),
        out.other_failures
    );
    assert_eq!(out.dialect_errors, 0, "the database was up all along");
    // The others keep serving, and every acknowledged write is there.
    all_readable(&jm, &out.acked).await;
    for i in [0, 2] {
        let served = im.replicas().expect("replicas").served(i).await;
        assert!(served > 0.0, "replica {i} stopped serving");
    }
    eprintln!(
        "kill -9: {} acknowledged ({at_kill} before the kill), {} failed in flight",
        out.acked.len(),
        out.other_failures.len()
    );
}

#[test]
fn postgres_restarted_under_load_answers_in_dialect_then_recovers() {
    on_replicas(restart_postgres);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn restart_postgres() {
    let mut im = Imbridge::start();
    let jm = im.jm();
    register(&jm, &["tom"]).await;
    let pg = im.replicas().expect("replicas").pg.clone();
    let load = Arc::new(Load::default());
    let writers: Vec<_> = (0..4)
        .map(|_| tokio::spawn(create_groups(jm.clone(), "tom", load.clone())))
        .collect();
    load.reaches(|l| &l.acked, 40, "writes before the outage")
        .await;
    // Down until callers have seen it, then back.
    let down = pg.clone();
    tokio::task::spawn_blocking(move || down.stop())
        .await
        .unwrap();
    load.reaches(|l| &l.unavailable, 8, "errors during the outage")
        .await;
    tokio::task::spawn_blocking(move || pg.restart())
        .await
        .unwrap();
    let back = Instant::now();
    // Full service within seconds.
    loop {
        let a = jm.get("/v1/users/tom").await;
        if a.status == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "no service {:?} after the database came back: {}",
            back.elapsed(),
            a.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered = back.elapsed();
    let at_recovery = load.acked();
    load.reaches(|l| &l.acked, at_recovery + 40, "writes after the outage")
        .await;
    let out = finish(&load, writers).await;
    assert!(
        out.other_failures.is_empty(),
        "answers outside JMessage's dialect: {:?}",
        out.other_failures
    );
    all_readable(&jm, &out.acked).await;
    eprintln!(
        "postgres restart: {} acknowledged, {} dialect errors, service back {recovered:?} after",
        out.acked.len(),
        out.dialect_errors
    );
}

#[test]
fn the_shipped_replicas_config_serves_behind_the_balancer() {
    on_replicas(shipped_config);
}

/// `config/replicas.toml` as shipped, given what docs/operations.md says to
/// give it from the environment (the database URL, secrets, a shared media
/// directory): three replicas of it serve one app through the balancer.
#[tokio::main(flavor = "current_thread")]
async fn shipped_config() {
    let setup = Setup::new();
    let pg = setup.pg.clone().expect("on PostgreSQL");
    let balancer = format!("http://127.0.0.1:{}", setup.port);
    let env = [
        ("IMBRIDGE_STORE__URL", pg.url()),
        ("IMBRIDGE_PROVIDERS__EMBEDDED__URL", pg.url()),
        (
            "IMBRIDGE_PROVIDERS__EMBEDDED__MEDIA_DIR",
            setup.dir.path().join("media").display().to_string(),
        ),
        (
            "IMBRIDGE_PROVIDERS__EMBEDDED__MEDIA_BASE_URL",
            format!("{balancer}/media"),
        ),
        ("IMBRIDGE_APP_KEY", APP_KEY.to_owned()),
        (
            "IMBRIDGE_FRONTENDS__JMESSAGE__PARAMS__MASTER_SECRET",
            MASTER_SECRET.to_owned(),
        ),
    ];
    let config = repo().join("config/replicas.toml");
    let r = Replicas::start_file(&setup, &config, &env);
    let jm = Jm::for_port(setup.port);
    register(&jm, &["tom", "ann"]).await;
    let gid = create_group(&jm, "tom", "shipped", &["ann"]).await;
    let text = text_message("tom", "single", json!("ann"), "hello");
    sent_id(&jm, text).await;
    // What one replica wrote, every replica reads.
    for i in 0..REPLICAS {
        let direct = Jm::for_port(r.port(i));
        let a = direct.get(&format!("/v1/groups/{gid}")).await.expect(200);
        assert_eq!(a.json["name"], "shipped", "replica {i}: {}", a.text);
        direct.get("/v1/users/ann").await.expect(200);
    }
}
