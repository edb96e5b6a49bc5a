//! Live migration through emulator chains: the app speaks JMessage to
//! imbridge A, whose frontend runs on `old` (imbridge B1 emulating JMessage)
//! and migrates to `new` (imbridge B2 emulating WildfireChat, which also
//! serves JMessage on its store so the test can read it back the same way).
//! Writes reach `new` through A's outbox; the sides are compared through
//! their own APIs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{Imbridge, Jm, Setup, APP_KEY, MASTER_SECRET, WILDFIRE_SECRET};
use crate::jm::{create_group, register, sent_id, text_message, usernames};

/// The two vendor stand-ins and the proxy migrating between them.
pub struct Migration {
    /// B1: JMessage over its store (the old vendor).
    pub old: Imbridge,
    /// B2: WildfireChat (and JMessage, for reading back) over its store.
    pub new: Imbridge,
    /// A: the app's JMessage frontend on `old`, migrating to `new`.
    pub proxy: Imbridge,
}

/// A's vendor timeout: long enough that a loaded 2-core CI machine never
/// turns a slow answer into an error (a caller's, or a dead letter for a
/// write that would duplicate), shorter than the worker's 10 s apply limit.
const VENDOR_TIMEOUT_MS: u64 = 8000;

/// The providers and the migration table of A, for vendors at `old` and
/// `new`; `migration` is the body of `[frontends.jmessage.migration]`.
pub fn proxy_config(setup: &Setup, old: &str, new: &str, migration: &str) -> String {
    let extra = format!(
        r#"
[providers.old]
kind = "vendor"
dialect = "jmessage"
base_url = "{old}"
timeout_ms = {VENDOR_TIMEOUT_MS}

[providers.old.params]
app_key = "{APP_KEY}"
master_secret = "{MASTER_SECRET}"

[providers.new]
kind = "vendor"
dialect = "wildfire"
base_url = "{new}"
timeout_ms = {VENDOR_TIMEOUT_MS}

[providers.new.params]
secret = "{WILDFIRE_SECRET}"

[frontends.jmessage.migration]
to = "new"
{migration}
"#
    );
    setup.config_on(&["jmessage"], "old", &extra)
}

impl Migration {
    /// Starts B1, B2 and A with `migration` settings.
    pub fn start(migration: &str) -> Migration {
        let b1 = Setup::new();
        let text = b1.config_for(&["jmessage"], "");
        let old = Imbridge::start_text(b1, &text);
        let b2 = Setup::new();
        let text = b2.config_for(&["wildfire", "jmessage"], "");
        let new = Imbridge::start_text(b2, &text);
        let a = Setup::new();
        let text = proxy_config(&a, &old.base, &new.base, migration);
        let proxy = Imbridge::start_text(a, &text);
        Migration { old, new, proxy }
    }
}

/// Outbox entries of A by state.
pub fn outbox(proxy: &Imbridge) -> BTreeMap<String, i64> {
    let db = rusqlite_open(proxy);
    let mut q = db
        .prepare("SELECT state, COUNT(*) FROM outbox GROUP BY state")
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn rusqlite_open(proxy: &Imbridge) -> deadpool_sqlite::rusqlite::Connection {
    let db = deadpool_sqlite::rusqlite::Connection::open(proxy.state_path()).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    db
}

/// Waits until A's outbox holds no live entry; panics with what is left
/// when `stall` passes without an entry applied (the worker is stuck, not
/// slow: a loaded machine applies fewer per second but never none for
/// long). Bounded: each wait of `stall` needs one entry fewer. Dead letters
/// fail the wait too.
pub async fn drained(proxy: &Imbridge, stall: Duration) {
    let live = |left: &BTreeMap<String, i64>| left.values().sum::<i64>();
    let mut fewest = i64::MAX;
    let mut deadline = Instant::now() + stall;
    loop {
        let left = outbox(proxy);
        assert!(
            !left.contains_key("dead"),
            "dead letters: {left:?}: {}",
            dead_letters(proxy)
        );
        if left.is_empty() {
            return;
        }
        if live(&left) < fewest {
            fewest = live(&left);
            deadline = Instant::now() + stall;
        }
        assert!(
            Instant::now() < deadline,
            "outbox stalled for {stall:?}: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn dead_letters(proxy: &Imbridge) -> String {
    let db = rusqlite_open(proxy);
    let mut q = db
        .prepare("SELECT seq, op, error FROM outbox WHERE state = 'dead'")
        .unwrap();
    q.query_map([], |r| {
        Ok(format!(
            "#{} {}: {}",
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?.unwrap_or_default()
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect::<Vec<_>>()
    .join("\n")
}

/// Old group id → new group id, as A paired them.
pub fn group_pairs(proxy: &Imbridge) -> BTreeMap<String, String> {
    let db = rusqlite_open(proxy);
    let mut q = db
        .prepare("SELECT source_id, target_id FROM id_pairs WHERE kind = 'group'")
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// What one side shows of `users` and `groups` (old ids; `pairs` turns them
/// into the side's own): profiles, friends, groups with members, ids of
/// each user's groups in old ids.
pub async fn view(
    jm: &Jm,
    users: &[String],
    groups: &[String],
    pairs: &BTreeMap<String, String>,
) -> Value {
    let here = |g: &str| pairs.get(g).cloned().unwrap_or_else(|| g.to_string());
    let back: BTreeMap<String, String> =
        pairs.iter().map(|(o, n)| (n.clone(), o.clone())).collect();
    let mut out = serde_json::Map::new();
    for u in users {
        let user = jm.get(&format!("/v1/users/{u}")).await;
        let profile = if user.status == 200 {
            json!({"nickname": user.json["nickname"], "gender": user.json["gender"]})
        } else {
            json!(user.status)
        };
        let friends = jm.get(&format!("/v1/users/{u}/friends")).await;
        let friends = if friends.status == 200 {
            json!(usernames(&friends.json))
        } else {
            json!(friends.status)
        };
        let mine = jm.get(&format!("/v1/users/{u}/groups/")).await;
        let mut mine: Vec<String> = if mine.status == 200 {
            mine.json
                .as_array()
                .unwrap()
                .iter()
                .map(|g| {
                    let id = g["gid"].to_string();
                    back.get(&id).cloned().unwrap_or(id)
                })
                .collect()
        } else {
            vec![mine.status.to_string()]
        };
        mine.sort();
        out.insert(
            u.clone(),
            json!({"profile": profile, "friends": friends, "groups": mine}),
        );
    }
    for g in groups {
        let info = jm.get(&format!("/v1/groups/{}", here(g))).await;
        let members = jm.get(&format!("/v1/groups/{}/members/", here(g))).await;
        let mut names = if members.status == 200 {
            usernames(&members.json)
        } else {
            vec![members.status.to_string()]
        };
        names.sort();
        out.insert(
            format!("group {g}"),
            json!({"name": info.json["name"], "owner": info.json["owner_username"], "members": names}),
        );
    }
    Value::Object(out)
}

/// `imbridge migrate verify --from old --to new` on A's config: exit 0 (old
/// and new agree entity by entity, through the id pairs A made).
pub fn verified(proxy: &Imbridge) {
    let (ok, out, err) = verify(proxy);
    assert!(ok, "verify found differences:\n{out}\n{err}");
}

/// Runs `imbridge migrate verify --from old --to new` on A's config.
fn verify(proxy: &Imbridge) -> (bool, String, String) {
    let file = proxy.setup.dir.path().join("verify.toml");
    std::fs::write(&file, &proxy.config).unwrap();
    crate::harness::run_imbridge(&[
        "migrate",
        "verify",
        "--from",
        "old",
        "--to",
        "new",
        "--config",
        file.to_str().unwrap(),
    ])
}

/// Asserts that old and new show the same `users` and `groups`.
pub async fn assert_same(m: &Migration, users: &[String], groups: &[String]) {
    let pairs = group_pairs(&m.proxy);
    let old = view(&m.old.jm(), users, groups, &BTreeMap::new()).await;
    let new = view(&m.new.jm(), users, groups, &pairs).await;
    assert_eq!(old, new, "old and new differ (pairs {pairs:?})");
}

/// A scripted app workload through A's JMessage API: users, profile
/// updates, friends, groups with member changes, messages, a deletion.
/// Returns the users and (old) group ids it touched.
pub async fn workload(jm: &Jm, tag: &str) -> (Vec<String>, Vec<String>) {
    let names: Vec<String> = (0..5).map(|i| format!("{tag}u{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    register(jm, &refs).await;
    for (i, u) in names.iter().enumerate() {
        jm.put(
            &format!("/v1/users/{u}"),
            Some(json!({"nickname": format!("N{i}"), "gender": 2})),
        )
        .await
        .expect(204);
    }
    jm.post(
        &format!("/v1/users/{}/friends", names[0]),
        json!([names[1], names[2]]),
    )
    .await
    .expect(201);
    let g1 = create_group(jm, &names[0], "team", &[&names[1], &names[2]]).await;
    let g2 = create_group(jm, &names[1], "club", &[&names[3]]).await;
    jm.post(
        &format!("/v1/groups/{g1}/members"),
        json!({"add": [names[3]], "remove": [names[2]]}),
    )
    .await
    .expect(204);
    jm.put(&format!("/v1/groups/{g2}"), Some(json!({"name": "club2"})))
        .await
        .expect(204);
    sent_id(
        jm,
        text_message(&names[0], "single", json!(names[1]), "hello"),
    )
    .await;
    sent_id(
        jm,
        text_message(&names[0], "group", json!(g1.to_string()), "hi all"),
    )
    .await;
    jm.put(
        &format!("/v1/users/{}", names[0]),
        Some(json!({"nickname": "final"})),
    )
    .await
    .expect(204);
    jm.delete(&format!("/v1/users/{}", names[4]), None)
        .await
        .expect(204);
    (names, vec![g1.to_string(), g2.to_string()])
}

#[tokio::test]
async fn dual_writes_reach_the_new_provider_in_order() {
    let m = Migration::start("mode = \"dual_write\"");
    let jm = m.proxy.jm();
    let (users, groups) = workload(&jm, "a").await;
    drained(&m.proxy, Duration::from_secs(20)).await;
    assert_same(&m, &users, &groups).await;
    verified(&m.proxy);
    // The new side really has them (not two empty views).
    let n = m
        .new
        .jm()
        .get(&format!("/v1/users/{}", users[0]))
        .await
        .expect(200);
    assert_eq!(n.json["nickname"], "final", "{}", n.text);
    assert_eq!(group_pairs(&m.proxy).len(), 2);
    let metrics = m.proxy.metrics().await;
    assert!(
        metrics.contains("imbridge_migration_applied_total{frontend=\"jmessage\",op=\"group.create\",outcome=\"applied\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("imbridge_migration_writes_total{frontend=\"jmessage\",op=\"user.update\",outcome=\"recorded\"} 6"),
        "{metrics}"
    );
    // Reads are not mirrored.
    assert!(
        !metrics.contains("op=\"user.get\",outcome=\"recorded\""),
        "{metrics}"
    );
    // verify is no rubber stamp: a change behind imbridge's back shows.
    m.new
        .jm()
        .put(
            &format!("/v1/users/{}", users[2]),
            Some(json!({"nickname": "tampered"})),
        )
        .await
        .expect(204);
    let (ok, out, err) = verify(&m.proxy);
    assert!(
        !ok && (out + &err).contains("tampered"),
        "verify missed the change"
    );
}

/// The new provider goes down under load: every caller still gets its
/// answer (from the old one); the outbox holds the writes and drains when
/// the new provider is back, and both sides then agree.
#[tokio::test]
async fn the_new_provider_down_under_load_loses_nothing() {
    let m = Migration::start("mode = \"dual_write\"");
    let (setup, text) = m.new.stop();
    let jm = m.proxy.jm();
    // Load: 4 app clients, each its own workload, bounded in count.
    let runs: Vec<_> = (0..4)
        .map(|i| {
            let jm = jm.clone();
            tokio::spawn(async move { workload(&jm, &format!("d{i}")).await })
        })
        .collect();
    let mut users = Vec::new();
    let mut groups = Vec::new();
    for r in runs {
        let (u, g) = r.await.expect("no caller saw an error");
        users.extend(u);
        groups.extend(g);
    }
    let waiting = outbox(&m.proxy);
    assert!(
        waiting.get("pending").copied().unwrap_or(0) > 40,
        "{waiting:?}"
    );
    assert!(!waiting.contains_key("dead"), "{waiting:?}");
    let retries = m.proxy.metrics().await;
    assert!(retries.contains("outcome=\"retry\""), "{retries}");
    // Back up on the same port and files.
    let new = Imbridge::start_text(setup, &text);
    let m = Migration { new, ..m };
    drained(&m.proxy, Duration::from_secs(30)).await;
    assert_same(&m, &users, &groups).await;
    verified(&m.proxy);
}

/// A write the new provider refuses for good (WildfireChat keeps no
/// signature) is a dead letter at once, with the reason; the operator lists,
/// retries and drops it with `imbridge migrate outbox`.
#[tokio::test]
async fn dead_letters_are_listed_retried_and_dropped() {
    use crate::harness::run_imbridge;
    let m = Migration::start("mode = \"dual_write\"");
    let jm = m.proxy.jm();
    register(&jm, &["ann"]).await;
    jm.put("/v1/users/ann", Some(json!({"signature": "orz"})))
        .await
        .expect(204);
    let deadline = Instant::now() + Duration::from_secs(20);
    while outbox(&m.proxy).get("dead") != Some(&1) || outbox(&m.proxy).len() != 1 {
        assert!(Instant::now() < deadline, "{:?}", outbox(&m.proxy));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let file = m.proxy.setup.dir.path().join("imbridge.toml");
    std::fs::write(&file, &m.proxy.config).unwrap();
    let config = file.to_str().unwrap();
    let (ok, out, err) = run_imbridge(&["migrate", "outbox", "list", "--dead", "--config", config]);
    assert!(ok, "{err}");
    assert!(
        out.contains("user.update") && out.contains("old -> new"),
        "{out}"
    );
    assert!(
        out.contains("keeps no birthday, signature or region"),
        "{out}"
    );
    let seq = out
        .lines()
        .nth(1)
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_string();
    let (ok, out, err) = run_imbridge(&["migrate", "outbox", "retry", &seq, "--config", config]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "1 dead letter(s) back in line");
    // Refused again: a dead letter again.
    let deadline = Instant::now() + Duration::from_secs(20);
    let dead = "imbridge_migration_applied_total{frontend=\"jmessage\",op=\"user.update\",outcome=\"dead\"} 2";
    while !m.proxy.metrics().await.contains(dead) {
        assert!(Instant::now() < deadline, "{}", m.proxy.metrics().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(outbox(&m.proxy).get("dead"), Some(&1));
    let (ok, out, err) = run_imbridge(&[
        "migrate",
        "outbox",
        "drop",
        "--all-dead",
        "--config",
        config,
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "1 dead letter(s) dropped");
    assert!(outbox(&m.proxy).is_empty());
    let (ok, _, err) = run_imbridge(&["migrate", "outbox", "drop", "--config", config]);
    assert!(!ok && err.contains("--all-dead"), "{err}");
    // Users moved by name.
    let (ok, out, err) = run_imbridge(&[
        "migrate",
        "users",
        "add",
        "--frontend",
        "jmessage",
        "bob",
        "ann",
        "--config",
        config,
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "2 user(s) moved to the new provider");
    let (_, out, _) = run_imbridge(&[
        "migrate",
        "users",
        "list",
        "--frontend",
        "jmessage",
        "--config",
        config,
    ]);
    assert_eq!(out, "ann\nbob\n");
    let (ok, _, err) = run_imbridge(&[
        "migrate",
        "users",
        "list",
        "--frontend",
        "nope",
        "--config",
        config,
    ]);
    assert!(
        !ok && err.contains("no [frontends.nope.migration]"),
        "{err}"
    );
}

/// `imbridge serve` as a child process (killed when dropped).
struct Serve(std::process::Child);

impl Serve {
    fn start(setup: &Setup, file: &std::path::Path) -> Serve {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_imbridge"))
            .args(["serve", "--config"])
            .arg(file)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("imbridge starts");
        crate::harness::wait_for_port(setup.port);
        crate::harness::wait_for_port(setup.admin_port);
        Serve(child)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Outbox entries of the state file at `path`: (op, state, error).
fn entries(path: &std::path::Path) -> Vec<(String, String, String)> {
    let db = deadpool_sqlite::rusqlite::Connection::open(path).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut q = db
        .prepare("SELECT op, state, COALESCE(error, '') FROM outbox ORDER BY seq")
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Messages `sender` sent, in an embedded store.
fn messages_from(im: &Imbridge, sender: &str) -> i64 {
    im.db()
        .query_row(
            "SELECT COUNT(*) FROM messages WHERE sender = ?1",
            [sender],
            |r| r.get(0),
        )
        .unwrap()
}

/// imbridge is killed with -9 while its outbox holds entries, two of them
/// in flight to a new provider that accepted the connection and never
/// answered. After the restart every entry is applied exactly once: the
/// pending ones and the in-flight update are applied, the in-flight message
/// (which would duplicate if re-sent blindly) waits in the dead letters
/// until the operator retries it — then it is sent once.
#[tokio::test]
async fn kill_9_with_a_full_outbox_loses_nothing_and_duplicates_nothing() {
    use crate::harness::run_imbridge;
    let b1 = Setup::new();
    let text = b1.config_for(&["jmessage"], "");
    let old = Imbridge::start_text(b1, &text);
    let b2 = Setup::new();
    let text = b2.config_for(&["wildfire", "jmessage"], "");
    let new = Imbridge::start_text(b2, &text);
    let a = Setup::new();
    // A long vendor timeout: a call to the silent server stays in flight.
    let config = proxy_config(&a, &old.base, &new.base, "mode = \"dual_write\"").replacen(
        &format!("timeout_ms = {VENDOR_TIMEOUT_MS}\n\n[providers.new.params]"),
        "timeout_ms = 30000\n\n[providers.new.params]",
        1,
    );
    let file = a.dir.path().join("imbridge.toml");
    std::fs::write(&file, &config).unwrap();
    let state = a.dir.path().join("state.db");
    let serve = Serve::start(&a, &file);
    let jm = Jm::for_port(a.port);
    register(&jm, &["s0", "s1", "r0"]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !entries(&state).is_empty() {
        assert!(Instant::now() < deadline, "{:?}", entries(&state));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The new provider: replaced by a server that accepts and stays silent.
    let (setup2, text2) = new.stop();
    let deadline = Instant::now() + Duration::from_secs(10);
    let silent = loop {
        // The stopped server's socket may take a moment to close.
        match std::net::TcpListener::bind(("127.0.0.1", setup2.port)) {
            Ok(l) => break l,
            Err(e) => assert!(Instant::now() < deadline, "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in silent.incoming().take(8) {
            conns.push(c);
        }
        conns
    });
    sent_id(
        &jm,
        text_message("s0", "single", json!("s1"), "exactly once"),
    )
    .await;
    jm.put("/v1/users/r0", Some(json!({"nickname": "after"})))
        .await
        .expect(204);
    register(&jm, &["w0", "w1"]).await;
    let gid = create_group(&jm, "w0", "late", &["w1"]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while entries(&state).iter().filter(|e| e.1 == "inflight").count() < 3 {
        assert!(Instant::now() < deadline, "{:?}", entries(&state));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = entries(&state);
    assert_eq!(before.len(), 4, "{before:?}");
    drop(serve); // SIGKILL
    drop(held);
    let new = Imbridge::start_text(setup2, &text2);
    let _serve = Serve::start(&a, &file);
    // Past the lease: the message is a dead letter, the rest applied.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let now = entries(&state);
        if now.len() == 1 && now[0].1 == "dead" {
            assert_eq!(now[0].0, "message.send");
            assert!(now[0].2.contains("not re-sent"), "{now:?}");
            break;
        }
        assert!(Instant::now() < deadline, "{now:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let n = new.jm().get("/v1/users/r0").await.expect(200);
    assert_eq!(n.json["nickname"], "after");
    new.jm().get("/v1/users/w1").await.expect(200);
    let pairs = group_pairs_at(&state);
    let members = new
        .jm()
        .get(&format!("/v1/groups/{}/members/", pairs[&gid.to_string()]))
        .await
        .expect(200);
    assert_eq!(usernames(&members.json), ["w0", "w1"]);
    assert_eq!(
        messages_from(&new, "s0"),
        0,
        "the silent server never delivered it"
    );
    // The operator checked the target: retry sends it, once.
    let (ok, out, err) = run_imbridge(&[
        "migrate",
        "outbox",
        "retry",
        "--all-dead",
        "--config",
        file.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "1 dead letter(s) back in line");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !entries(&state).is_empty() {
        assert!(Instant::now() < deadline, "{:?}", entries(&state));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(messages_from(&new, "s0"), 1);
    assert_eq!(messages_from(&old, "s0"), 1);
}

fn group_pairs_at(path: &std::path::Path) -> BTreeMap<String, String> {
    let db = deadpool_sqlite::rusqlite::Connection::open(path).unwrap();
    let mut q = db
        .prepare("SELECT source_id, target_id FROM id_pairs WHERE kind = 'group'")
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The counter of shadow comparisons of `op` with `outcome` (0 when absent).
async fn shadowed(proxy: &Imbridge, op: &str, outcome: &str) -> u64 {
    let line = format!("imbridge_migration_shadow_reads_total{{frontend=\"jmessage\",op=\"{op}\",outcome=\"{outcome}\"}} ");
    proxy
        .metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix(&line).map(|v| v.parse().unwrap()))
        .unwrap_or(0)
}

/// Waits until the comparisons of `op` reach `n` in all.
async fn compared(proxy: &Imbridge, op: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut total = 0;
        for o in ["match", "mismatch", "error", "skipped"] {
            total += shadowed(proxy, op, o).await;
        }
        if total >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{total} of {n} compared: {}",
            proxy.metrics().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Shadow mode: every read (sample 1.0) also runs on the new provider in the
/// background; a clean pair never mismatches, a change made on the new side
/// behind imbridge's back is counted (and the caller still gets the old
/// side's answer).
#[tokio::test]
async fn shadow_reads_count_mismatches_and_none_on_a_clean_pair() {
    let m = Migration::start("mode = \"shadow\"\nshadow_sample = 1.0");
    let jm = m.proxy.jm();
    let (users, groups) = workload(&jm, "s").await;
    drained(&m.proxy, Duration::from_secs(20)).await;
    for u in &users[..4] {
        jm.get(&format!("/v1/users/{u}")).await.expect(200);
        jm.get(&format!("/v1/users/{u}/friends")).await.expect(200);
    }
    jm.get(&format!("/v1/groups/{}/members/", groups[0]))
        .await
        .expect(200);
    compared(&m.proxy, "user.get", 4).await;
    compared(&m.proxy, "friend.list", 4).await;
    compared(&m.proxy, "group.members.list", 1).await;
    for op in ["user.get", "friend.list", "group.members.list"] {
        assert_eq!(
            shadowed(&m.proxy, op, "mismatch").await,
            0,
            "{op}: {}",
            m.proxy.metrics().await
        );
        assert_eq!(
            shadowed(&m.proxy, op, "error").await,
            0,
            "{op}: {}",
            m.proxy.metrics().await
        );
    }
    // The new side changed behind imbridge's back.
    m.new
        .jm()
        .put(
            &format!("/v1/users/{}", users[1]),
            Some(json!({"nickname": "tampered"})),
        )
        .await
        .expect(204);
    let a = jm.get(&format!("/v1/users/{}", users[1])).await.expect(200);
    assert_eq!(a.json["nickname"], "N1", "the caller sees the primary");
    compared(&m.proxy, "user.get", 5).await;
    assert_eq!(shadowed(&m.proxy, "user.get", "mismatch").await, 1);
    assert_eq!(shadowed(&m.proxy, "user.get", "match").await, 4);
}

/// The counter of calls `side` served.
async fn served(proxy: &Imbridge, side: &str) -> u64 {
    let line = format!("imbridge_migration_calls_total{{frontend=\"jmessage\",side=\"{side}\"}} ");
    proxy
        .metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix(&line).map(|v| v.parse().unwrap()))
        .unwrap_or(0)
}

/// Cut-over 0 → 10 → 50 → 100 → 0 percent under load (every user writes and
/// reads back at every step, all users at once): each user's calls go to
/// exactly the side its hash (or the operator's list) says, the user reads
/// its own write back at every step, and after the rollback both sides hold
/// every user's last write. Users moved by name (CLI, admin API) are on
/// the new side whatever the percentage until they are removed.
#[tokio::test]
async fn cutover_steps_and_rollback_keep_each_user_on_one_side_and_lose_nothing() {
    use crate::harness::run_imbridge;
    use imbridge::live::provider::bucket;
    let b1 = Setup::new();
    let text = b1.config_for(&["jmessage"], "");
    let old = Imbridge::start_text(b1, &text);
    let b2 = Setup::new();
    let text = b2.config_for(&["wildfire", "jmessage"], "");
    let new = Imbridge::start_text(b2, &text);
    let a = Setup::new();
    let file = a.dir.path().join("imbridge.toml");
    let base = proxy_config(&a, &old.base, &new.base, "mode = \"cutover\"\npercent = 0");
    let config = move |percent: u8| base.replace("percent = 0", &format!("percent = {percent}"));
    std::fs::write(&file, config(0)).unwrap();
    let users: Vec<String> = (0..40).map(|i| format!("c{i}")).collect();
    let proxy = Imbridge::start_file(a, &file);
    let jm = proxy.jm();
    for u in &users {
        register(&jm, &[u]).await;
    }
    // c0 installed the new app version: on the new side whatever the percentage.
    let (ok, _, err) = run_imbridge(&[
        "migrate",
        "users",
        "add",
        "--frontend",
        "jmessage",
        "c0",
        "--config",
        file.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    tokio::time::sleep(Duration::from_millis(1100)).await; // the moved list is re-read every second
                                                           // c1 too, through the admin API.
    let moved_url = format!("{}/migration/jmessage/users", proxy.admin);
    let r = proxy
        .http
        .post(&moved_url)
        .body(r#"{"users": ["c1"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let listed: Value = proxy
        .http
        .get(&moved_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!({"users": ["c0", "c1"]}));
    let r = proxy.http.post(&moved_url).body("[]").send().await.unwrap();
    assert_eq!(r.status(), 400);
    drained(&proxy, Duration::from_secs(20)).await;
    let mut expected_new = 0;
    let mut moved = vec!["c0", "c1"];
    for (step, percent) in [0u8, 10, 50, 100, 0].into_iter().enumerate() {
        if step == 4 {
            // Full rollback: the moved users come back too.
            let r = proxy
                .http
                .delete(&moved_url)
                .body(r#"{"users": ["c0", "c1"]}"#)
                .send()
                .await
                .unwrap();
            assert_eq!(r.text().await.unwrap(), r#"{"changed":2}"#);
            moved.clear();
        }
        std::fs::write(&file, config(percent)).unwrap();
        let r = proxy
            .http
            .post(format!("{}/reload", proxy.admin))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let on_new: Vec<&String> = users
            .iter()
            .filter(|u| moved.contains(&u.as_str()) || bucket(APP_KEY, u) < percent)
            .collect();
        let (before_old, before_new) = (served(&proxy, "old").await, served(&proxy, "new").await);
        let runs: Vec<_> = users
            .iter()
            .map(|u| {
                let (jm, u) = (jm.clone(), u.clone());
                tokio::spawn(async move {
                    let nick = format!("{u} at {percent}");
                    jm.put(&format!("/v1/users/{u}"), Some(json!({"nickname": nick})))
                        .await
                        .expect(204);
                    let back = jm.get(&format!("/v1/users/{u}")).await.expect(200);
                    assert_eq!(
                        back.json["nickname"],
                        nick.as_str(),
                        "{u} reads its write at {percent}%"
                    );
                })
            })
            .collect();
        for r in runs {
            r.await.unwrap();
        }
        let new_calls = served(&proxy, "new").await - before_new;
        let old_calls = served(&proxy, "old").await - before_old;
        assert_eq!(
            new_calls,
            2 * on_new.len() as u64,
            "at {percent}%: {on_new:?}"
        );
        assert_eq!(
            old_calls,
            2 * (users.len() - on_new.len()) as u64,
            "at {percent}%"
        );
        expected_new += new_calls;
        drained(&proxy, Duration::from_secs(20)).await;
    }
    assert!(
        expected_new > 40,
        "the new side served users at 50% and 100%"
    );
    let metrics = proxy.metrics().await;
    assert!(
        metrics.contains("imbridge_migration_cutover_percent{frontend=\"jmessage\"} 0"),
        "{metrics}"
    );
    // Rolled back, drained: both sides hold every user's last write.
    for u in &users {
        let want = format!("{u} at 0");
        for side in [&old, &new] {
            let got = side.jm().get(&format!("/v1/users/{u}")).await.expect(200);
            assert_eq!(got.json["nickname"], want.as_str());
        }
    }
}
