//! `imbridge migrate` end to end: the real binary copies an app's data
//! between providers built from a config file — the embedded provider, or a
//! vendor provider pointed at an emulator (imbridge serving the vendor's
//! dialect over its own store). Data is seeded through the source's own API
//! and read back through the target's own API, then compared field by
//! field; a field may differ only where the run's report lists it as not
//! carried between the pair. Also: a second run copies nothing, `verify`,
//! bad input, lazy passwords, kill -9 halfway through 5,000 users.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{Imbridge, Setup, APP_KEY};
use crate::migrate_sites::{text, Kind, Site};

/// A migration config: `sites`' providers, imbridge's store in `dir`.
pub struct Migration {
    /// The config file.
    pub config: PathBuf,
    /// Where it lives (and the report files).
    pub dir: tempfile::TempDir,
}

impl Migration {
    /// A config with the providers of `sites`.
    pub fn new(sites: &[&Site]) -> Migration {
        let dir = tempfile::tempdir().unwrap();
        let providers: Vec<String> = sites.iter().map(|s| s.provider()).collect();
        let text = format!(
            "app_key = \"{APP_KEY}\"\nmappings = \"{}\"\n\n[store]\npath = \"{}\"\n\n{}",
            crate::harness::repo().join("mappings").display(),
            dir.path().join("state.db").display(),
            providers.join("\n")
        );
        let config = dir.path().join("migrate.toml");
        std::fs::write(&config, text).unwrap();
        Migration { config, dir }
    }

    /// The store file.
    pub fn store(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    /// The `imbridge migrate` command of this config with `args`.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_imbridge"));
        c.arg("migrate")
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("RUST_LOG", "warn")
            .kill_on_drop(true);
        c
    }

    /// Runs `imbridge migrate ARGS --report FILE`; returns the exit code,
    /// stdout, stderr and the JSON report.
    pub async fn run(&self, args: &[&str]) -> Outcome {
        let report = self.dir.path().join("report.json");
        let _ = std::fs::remove_file(&report);
        let out = self
            .command(args)
            .arg("--report")
            .arg(&report)
            .output()
            .await
            .unwrap();
        let json = std::fs::read(&report)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            report: json,
        }
    }

    /// Copies from `from` to `to` (with `extra` arguments), asserting exit 0.
    pub async fn copy(&self, from: &Site, to: &Site, extra: &[&str]) -> Outcome {
        let mut args = vec!["--from", from.kind.name(), "--to", to.kind.name()];
        args.extend_from_slice(extra);
        let o = self.run(&args).await;
        assert_eq!(o.code, 0, "migrate failed:\n{}\n{}", o.stdout, o.stderr);
        o
    }

    /// `imbridge migrate verify` of the pair.
    pub async fn verify(&self, from: &Site, to: &Site, extra: &[&str]) -> Outcome {
        let mut args = vec!["verify", "--from", from.kind.name(), "--to", to.kind.name()];
        args.extend_from_slice(extra);
        self.run(&args).await
    }
}

/// What a run of `imbridge migrate` gave.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code.
    pub code: i32,
    /// The human report.
    pub stdout: String,
    /// Progress lines and errors.
    pub stderr: String,
    /// The JSON report (`Null` when none was written).
    pub report: Value,
}

impl Outcome {
    /// The report's row of `kind`.
    pub fn kind(&self, kind: &str) -> &Value {
        self.report["kinds"]
            .as_array()
            .and_then(|ks| ks.iter().find(|k| k["kind"] == kind))
            .unwrap_or_else(|| panic!("no kind {kind} in {}", self.report))
    }

    /// `entity.field` of every field the report lists as not carried.
    pub fn not_carried(&self) -> Vec<String> {
        self.report["not_carried"]
            .as_array()
            .map(|gaps| {
                gaps.iter()
                    .map(|g| format!("{}.{}", text(&g["entity"]), text(&g["field"])))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Entities copied or updated, all kinds.
    pub fn written(&self) -> u64 {
        self.report["kinds"]
            .as_array()
            .map(|ks| {
                ks.iter()
                    .map(|k| k["copied"].as_u64().unwrap_or(0) + k["updated"].as_u64().unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0)
    }
}

/// Whether two values are the same, an absent value being the same as an
/// empty one (`""`, `0`, `false`, `{}`, `[]`).
fn same(a: &Value, b: &Value) -> bool {
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    };
    a == b || (empty(a) && empty(b))
}

/// Compares what the source and the target show, field by field: a value
/// of the source may differ on the target only when the run listed its
/// field as not carried, or its kind as one the pair cannot copy. Returns
/// how many values were compared equal.
pub fn compare(source: &Value, target: &Value, run: &Outcome) -> usize {
    let pair = format!(
        "{} -> {}",
        text(&run.report["from"]),
        text(&run.report["to"])
    );
    let gaps = run.not_carried();
    let copied = |kind: &str| run.kind(kind)["status"] == "done";
    let carried = |entity: &str, field: &str| !gaps.contains(&format!("{entity}.{field}"));
    let equal = std::cell::Cell::new(0);
    let check = |what: &str, entity: &str, field: &str, s: &Value, t: &Value| {
        if s.is_null() || !carried(entity, field) {
            return;
        }
        assert!(same(s, t), "{pair}: {what} {field}: source {s}, target {t}");
        equal.set(equal.get() + 1);
    };
    let each = |v: &Value| v.as_object().cloned().unwrap_or_default();
    if copied("users") {
        for (name, su) in each(&source["users"]) {
            let tu = &target["users"][&name];
            assert!(
                tu.is_object(),
                "{pair}: user {name} missing on the target: {target}"
            );
            for (field, v) in each(&su) {
                check(&format!("user {name}"), "user", &field, &v, &tu[&field]);
            }
        }
    }
    if copied("friends") {
        for (name, sf) in each(&source["friends"]) {
            for (friend, notes) in each(&sf) {
                let tf = &target["friends"][&name][&friend];
                assert!(
                    tf.is_object(),
                    "{pair}: friend {name} → {friend} missing: {target}"
                );
                equal.set(equal.get() + 1);
                for (field, v) in each(&notes) {
                    check(
                        &format!("friend {name} → {friend}"),
                        "friend",
                        &field,
                        &v,
                        &tf[&field],
                    );
                }
            }
        }
    }
    if copied("blacklists") {
        for (name, sb) in each(&source["blacklists"]) {
            assert_eq!(
                sb, target["blacklists"][&name],
                "{pair}: blacklist of {name}"
            );
            equal.set(equal.get() + 1);
        }
    }
    for (what, kind, members, entity, member) in [
        ("groups", "groups", "members", "group", "member"),
        (
            "rooms",
            "chatrooms",
            "room_members",
            "chatroom",
            "room_member",
        ),
    ] {
        if !copied(kind) {
            continue;
        }
        for (name, sg) in each(&source[what]) {
            let tg = &target[what][&name];
            assert!(
                tg.is_object(),
                "{pair}: {entity} {name} missing on the target: {target}"
            );
            for (field, v) in each(&sg) {
                if field != "members" {
                    check(&format!("{entity} {name}"), entity, &field, &v, &tg[&field]);
                } else if copied(members) {
                    for (user, sm) in each(&v) {
                        let tm = &tg["members"][&user];
                        assert!(
                            tm.is_object(),
                            "{pair}: member {user} of {entity} {name} missing: {tg}"
                        );
                        equal.set(equal.get() + 1);
                        for (f, mv) in each(&sm) {
                            check(
                                &format!("member {user} of {entity} {name}"),
                                member,
                                &f,
                                &mv,
                                &tm[&f],
                            );
                        }
                    }
                }
            }
        }
    }
    equal.get()
}

/// Migrates from a seeded `from` to `to`, reads both back and compares
/// them; then a second run copies nothing and `verify` agrees. Returns the
/// first run's outcome.
pub async fn migrate_and_compare(m: &Migration, from: &Site, to: &Site, extra: &[&str]) -> Outcome {
    let run = m.copy(from, to, extra).await;
    let source = from.read(&[]).await;
    let mut target = to.read(&Site::room_ids(&source)).await;
    if matches!(to.kind, Kind::Rongcloud | Kind::Easemob) {
        target = crate::migrate_sites::with_records(target, &m.store(), to.kind.name());
    }
    let compared = compare(&source, &target, &run);
    assert!(
        compared >= 15,
        "{} -> {}: only {compared} values compared\nsource {source}\ntarget {target}\n{}",
        from.kind.name(),
        to.kind.name(),
        run.stdout
    );
    let again = m.copy(from, to, extra).await;
    assert_eq!(again.written(), 0, "a second run wrote:\n{}", again.stdout);
    assert!(again.stdout.contains("nothing to copy"), "{}", again.stdout);
    let verified = m.verify(from, to, extra).await;
    assert_eq!(
        verified.code, 0,
        "verify:\n{}\n{}",
        verified.stdout, verified.stderr
    );
    run
}

#[tokio::test]
async fn migrate_embedded_to_jmessage_copies_once_and_verify_sees_changes_behind_its_back() {
    let (from, to) = (Site::start(Kind::Embedded), Site::start(Kind::Jmessage));
    from.seed().await;
    let m = Migration::new(&[&from, &to]);
    let run = migrate_and_compare(&m, &from, &to, &[]).await;
    assert_eq!(run.kind("users")["copied"], 4, "{}", run.stdout);
    assert_eq!(run.kind("groups")["copied"], 2, "{}", run.stdout);
    assert_eq!(run.kind("members")["copied"], 3, "{}", run.stdout);
    assert_eq!(run.kind("chatrooms")["copied"], 1, "{}", run.stdout);
    assert_eq!(run.kind("messages")["status"], "unsupported");
    // JMessage cannot read a user's forbidden state back: listed, not hidden.
    assert!(run.not_carried().contains(&"user.disabled".to_string()));
    // Every user waits for a password on the target, and the report says so.
    assert_eq!(run.report["password_pending"]["count"], 4);
    // Behind imbridge's back: a nickname changes, a member leaves.
    let jm = to.server.jm();
    jm.put("/v1/users/u2", Some(json!({"nickname": "Deux"})))
        .await
        .expect_empty(204);
    let groups = jm.get("/v1/users/u3/groups/").await.expect(200);
    let gid = groups.json[0]["gid"].as_i64().unwrap();
    jm.post(
        &format!("/v1/groups/{gid}/members"),
        json!({"remove": ["u3"]}),
    )
    .await
    .expect_empty(204);
    let v = m.verify(&from, &to, &[]).await;
    assert_eq!(v.code, 1, "{}\n{}", v.stdout, v.stderr);
    assert_eq!(v.report["total"], 2, "{}", v.stdout);
    let diffs = v.report["differences"].to_string();
    assert!(
        diffs.contains(
            "\"entity\":\"user u2\",\"field\":\"nickname\",\"source\":\"Dos\",\"target\":\"Deux\""
        ),
        "{diffs}"
    );
    assert!(diffs.contains("member u3 of group"), "{diffs}");
    assert!(v.stdout.contains("2 difference(s)"), "{}", v.stdout);
    // A copy brings the target back.
    let fix = m.copy(&from, &to, &[]).await;
    assert_eq!(fix.kind("users")["updated"], 1, "{}", fix.stdout);
    assert_eq!(fix.kind("members")["copied"], 1, "{}", fix.stdout);
    assert_eq!(m.verify(&from, &to, &[]).await.code, 0);
}

#[tokio::test]
async fn migrate_refuses_bad_input_before_writing_anything() {
    let (from, to) = (Site::start(Kind::Embedded), Site::start(Kind::Jmessage));
    from.seed().await;
    let rc = Site::start(Kind::Rongcloud);
    let m = Migration::new(&[&from, &to, &rc]);
    let refused = async |args: &[&str], message: &str| {
        let o = m.run(args).await;
        assert_eq!(o.code, 2, "{args:?}: {o:?}");
        assert!(o.stderr.contains(message), "{args:?}: {}", o.stderr);
        assert!(o.report.is_null(), "{args:?} wrote a report");
    };
    refused(
        &["--from", "embedded", "--to", "easemob"],
        "unknown provider `easemob` (configured: embedded, jmessage, rongcloud)",
    )
    .await;
    refused(
        &["--from", "jmessage", "--to", "jmessage"],
        "two different providers",
    )
    .await;
    refused(
        &[
            "--from",
            "embedded",
            "--to",
            "jmessage",
            "--only",
            "users,avatars",
        ],
        "unknown kind `avatars`",
    )
    .await;
    // A kind the pair cannot copy, asked for.
    refused(
        &[
            "--from", "embedded", "--to", "jmessage", "--only", "messages",
        ],
        "messages: pair embedded -> jmessage cannot migrate messages: target jmessage cannot message.import",
    )
    .await;
    // RongCloud cannot list users: the file is required, and said so.
    refused(
        &["--from", "rongcloud", "--to", "jmessage", "--only", "users"],
        "source rongcloud cannot list users: export the app's user ids, one per line, and pass --users FILE",
    )
    .await;
    let missing = m.dir.path().join("nobody.txt");
    refused(
        &[
            "--from",
            "rongcloud",
            "--to",
            "jmessage",
            "--users",
            missing.to_str().unwrap(),
        ],
        "cannot read the users file",
    )
    .await;
    let binary = m.dir.path().join("binary.txt");
    std::fs::write(&binary, b"# exported\nu1\nu2\xff\n").unwrap();
    refused(
        &[
            "--from",
            "rongcloud",
            "--to",
            "jmessage",
            "--users",
            binary.to_str().unwrap(),
        ],
        "line 3: not UTF-8",
    )
    .await;
    // Nothing reached the target.
    to.server.jm().get("/v1/users/u1").await.expect(404);
    // The plan says what would happen and writes nothing.
    let plan = m
        .run(&["--from", "embedded", "--to", "rongcloud", "--dry-run"])
        .await;
    assert_eq!(plan.code, 0, "{plan:?}");
    assert_eq!(plan.kind("users")["status"], "planned");
    assert_eq!(plan.kind("friends")["status"], "planned");
    assert!(
        plan.stdout
            .contains("user.birthday: target rongcloud does not keep it"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("dry run: nothing was written"),
        "{}",
        plan.stdout
    );
    assert!(!m.store().exists() || plan.report["resumed"] == false);
}

/// A target that goes down mid-run: the run stops with a clear message and
/// exit 1, saying where; the next run, with the target back, resumes and
/// finishes, nothing made twice.
#[tokio::test]
async fn a_target_down_mid_run_stops_cleanly_and_the_rerun_finishes() {
    let from = Site::start(Kind::Embedded);
    from.seed().await;
    let to = Site::start(Kind::Jmessage);
    let m = Migration::new(&[&from, &to]);
    // Users go over; then the target dies.
    m.copy(&from, &to, &["--only", "users"]).await;
    let Site { kind, server } = to;
    let (setup, text) = server.stop();
    let down = m
        .run(&["--from", "embedded", "--to", "jmessage", "--patience", "2"])
        .await;
    assert_eq!(down.code, 1, "{down:?}");
    assert!(down.stdout.contains("stopped: "), "{}", down.stdout);
    assert!(
        down.stdout.contains("run the same command again to resume"),
        "{}",
        down.stdout
    );
    assert!(
        down.report["stopped"]
            .as_str()
            .unwrap_or_default()
            .contains("jmessage"),
        "{}",
        down.report
    );
    let to = Site {
        kind,
        server: Imbridge::start_text(setup, &text),
    };
    let up = migrate_and_compare(&m, &from, &to, &[]).await;
    assert_eq!(up.report["resumed"], true, "{}", up.stdout);
}

/// A user copied without a password logs in through imbridge with the
/// password the source knows; from then on the target accepts it directly.
#[tokio::test]
async fn lazy_passwords_follow_users_at_their_first_login() {
    use crate::easemob::{APP, ORG};
    let target = Site::start(Kind::Easemob);
    // A: the app's server — JMessage (to seed) on the embedded provider, and
    // haorenao (user + password per call) on the Easemob target.
    let setup = Setup::new();
    let text = setup.head("") + &target.provider() + &format!(
        "\n[frontends.jmessage]\nprovider = \"embedded\"\n[frontends.jmessage.params]\nmaster_secret = \"{}\"\n\
         [frontends.haorenao]\nprovider = \"easemob\"\n",
        crate::harness::MASTER_SECRET
    );
    let config = setup.dir.path().join("imbridge.toml");
    std::fs::write(&config, &text).unwrap();
    let a = Imbridge::start_text(setup, &text);
    a.jm()
        .post(
            "/v1/users/",
            json!([{"username": "amy", "password": "amy-secret-1"},
                                   {"username": "bob", "password": "bob-secret-1"}]),
        )
        .await
        .expect(201);
    let m = Migration {
        config,
        dir: tempfile::tempdir().unwrap(),
    };
    let run = m
        .run(&["--from", "embedded", "--to", "easemob", "--only", "users"])
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.report["password_pending"]["count"], 2, "{}", run.stdout);
    let token = |user: &str, password: &str| {
        let http = a.http.clone();
        let url = format!("{}/{ORG}/{APP}/token", target.server.base);
        let body = json!({"grant_type": "password", "username": user, "password": password});
        async move { crate::harness::Answer::of(crate::harness::json_body(http.post(url), &body)).await }
    };
    // On the target directly, the old password does not work yet.
    token("amy", "amy-secret-1").await.expect(400);
    let login = async |user: &str, password: &str| {
        a.post_form(
            "/im/user_get_token/",
            &[("username", user), ("password", password)],
        )
        .await
    };
    // A wrong password stays wrong (the source refuses it too).
    let wrong = login("amy", "not-it").await.expect(200);
    assert_eq!(wrong.json["ret"], "failed", "{}", wrong.text);
    token("amy", "not-it").await.expect(400);
    // The right one: accepted through imbridge, and now set on the target.
    let ok = login("amy", "amy-secret-1").await.expect(200);
    assert_eq!(ok.json["ret"], "ok", "{}", ok.text);
    token("amy", "amy-secret-1").await.expect(200);
    // bob has not logged in: still pending, still listed.
    let pending = m
        .run(&["--from", "embedded", "--to", "easemob", "--only", "users"])
        .await;
    assert_eq!(
        pending.report["password_pending"]["count"], 1,
        "{}",
        pending.stdout
    );
    assert_eq!(pending.report["password_pending"]["users"], json!(["bob"]));
    let metrics = a.metrics().await;
    assert!(
        metrics.contains(
            "imbridge_migrate_lazy_passwords_total{outcome=\"set\",provider=\"easemob\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "imbridge_migrate_lazy_passwords_total{outcome=\"refused\",provider=\"easemob\"} 1"
        ),
        "{metrics}"
    );
}

/// How many items of `kind` the store's checkpoint says are done.
fn done(store: &Path, kind: &str) -> i64 {
    let Ok(c) = deadpool_sqlite::rusqlite::Connection::open(store) else {
        return 0;
    };
    c.busy_timeout(Duration::from_secs(2)).ok();
    c.query_row(
        "SELECT done FROM migrate_checkpoints WHERE kind = ?1",
        [kind],
        |r| r.get(0),
    )
    .unwrap_or(0)
}

/// Runs `imbridge migrate --from embedded --to TO` and kills it (SIGKILL)
/// once the store's checkpoint of `kind` passes `at` items; returns how
/// many were done then.
pub async fn kill_at(m: &Migration, to: &str, kind: &str, at: i64) -> i64 {
    let mut child = m
        .command(&["--from", "embedded", "--to", to, "--concurrency", "4"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while done(&m.store(), kind) < at {
        assert!(Instant::now() < deadline, "{kind} never reached {at}");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before {kind} reached {at}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    done(&m.store(), kind)
}

/// Registers `n` users `k00000`.. on the embedded site through its
/// WildfireChat admin API (no passwords to hash), 16 at a time.
pub async fn many_users(site: &Site, n: usize) {
    use futures::stream::{self, StreamExt};
    let wf = site.server.wf();
    stream::iter(0..n)
        .map(|i| {
            let wf = wf.clone();
            async move {
                let u = format!("k{i:05}");
                let a = wf
                    .post(
                        "/admin/user/create",
                        Some(json!({"userId": u, "name": u, "displayName": format!("N{i}")})),
                    )
                    .await;
                assert_eq!(a.json["code"], 0, "{}", a.text);
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
}

/// Kill -9 halfway through 5,000 users: the rerun resumes where the
/// checkpoint says, and the end result equals an uninterrupted run — every
/// user once, with its profile — and the report says what was resumed.
#[tokio::test]
async fn kill_9_halfway_through_5000_users_then_rerun_equals_an_uninterrupted_run() {
    const USERS: usize = 5000;
    let (from, to) = (Site::start(Kind::Embedded), Site::start(Kind::Wildfire));
    many_users(&from, USERS).await;
    let m = Migration::new(&[&from, &to]);
    let at = kill_at(&m, "wildfire", "users", (USERS / 2) as i64).await;
    assert!(at < USERS as i64, "killed too late: {at}");
    let last = m
        .copy(&from, &to, &["--only", "users", "--concurrency", "4"])
        .await;
    assert_eq!(last.report["resumed"], true, "{}", last.stdout);
    let users = last.kind("users");
    assert!(
        users["resumed"]["done"].as_u64().unwrap() >= at as u64,
        "{}",
        last.stdout
    );
    assert_eq!(users["items"], USERS as u64, "{}", last.stdout);
    // Made once each: by the killed run or by this one (the page the kill
    // interrupted is found made already).
    let made = users["copied"].as_u64().unwrap() + users["skipped"].as_u64().unwrap();
    assert_eq!(made, USERS as u64, "{}", last.stdout);
    assert_eq!(users["failed"], 0, "{}", last.stdout);
    assert!(last.stdout.contains("resumed after"), "{}", last.stdout);
    // Everyone is there with their profile: what an uninterrupted run makes.
    let v = m.verify(&from, &to, &["--only", "users"]).await;
    assert_eq!(v.code, 0, "{}", v.stdout);
    assert_eq!(v.kind_items("users"), USERS as u64);
    let wf = to.server.wf();
    let last_user = wf
        .post("/admin/user/get_info", Some(json!({"userId": "k04999"})))
        .await;
    assert_eq!(
        last_user.json["result"]["displayName"], "N4999",
        "{}",
        last_user.text
    );
    // Every user is pending exactly once.
    assert_eq!(last.report["password_pending"]["count"], USERS as u64);
}

/// Kill -9 halfway through groups on a target that assigns group ids
/// (JMessage): the rerun makes none twice — the pair of a group made just
/// before the kill is found again — and members end up right.
#[tokio::test]
async fn kill_9_halfway_through_groups_makes_no_group_twice() {
    const USERS: usize = 30;
    const GROUPS: usize = 300;
    let (from, to) = (Site::start(Kind::Embedded), Site::start(Kind::Jmessage));
    let jm = from.server.jm();
    let users: Vec<Value> = (0..USERS)
        .map(|i| json!({"username": format!("k{i:05}"), "password": "pw"}))
        .collect();
    jm.post("/v1/users/", json!(users)).await.expect(201);
    for g in 0..GROUPS {
        let members: Vec<String> = (1..4).map(|j| format!("k{:05}", (g + j) % USERS)).collect();
        jm.post(
            "/v1/groups/",
            json!({"owner_username": format!("k{:05}", g % USERS), "name": format!("g{g}"), "members_username": members}),
        )
        .await
        .expect(201);
    }
    let m = Migration::new(&[&from, &to]);
    m.copy(&from, &to, &["--only", "users"]).await;
    let at = kill_at(&m, "jmessage", "groups", (GROUPS / 2) as i64).await;
    assert!(at < GROUPS as i64, "killed too late: {at}");
    let last = m.copy(&from, &to, &["--concurrency", "4"]).await;
    assert_eq!(
        last.kind("groups")["items"],
        GROUPS as u64,
        "{}",
        last.stdout
    );
    assert!(last.kind("groups")["resumed"]["done"].as_u64().unwrap() >= at as u64);
    let listed = to
        .server
        .jm()
        .get("/v1/groups/?start=0&count=500")
        .await
        .expect(200);
    assert_eq!(
        listed.json["total"], GROUPS as u64,
        "a group was made twice: {}",
        listed.text
    );
    let v = m.verify(&from, &to, &[]).await;
    assert_eq!(v.code, 0, "{}", v.stdout);
    assert_eq!(v.kind_items("members"), GROUPS as u64);
}

impl Outcome {
    /// Items a verify report compared for `kind`.
    pub fn kind_items(&self, kind: &str) -> u64 {
        self.kind(kind)["items"].as_u64().unwrap_or(0)
    }
}

/// After a copy to a target that gives groups its own ids, the app's
/// frontend switched to the target (a live migration in cut-over at 100 %)
/// keeps answering the group ids the app has always seen.
#[tokio::test]
async fn a_frontend_switched_to_the_target_keeps_the_apps_group_ids() {
    let (from, to) = (Site::start(Kind::Rongcloud), Site::start(Kind::Easemob));
    from.seed().await;
    // A: the app's JMessage frontend (integer group ids) on RongCloud.
    let setup = Setup::new();
    let frontend = format!(
        "\n[frontends.jmessage]\nprovider = \"rongcloud\"\n[frontends.jmessage.params]\nmaster_secret = \"{}\"\n",
        crate::harness::MASTER_SECRET
    );
    let toml = setup.head("") + &from.provider() + &to.provider() + &frontend;
    let config = setup.dir.path().join("imbridge.toml");
    std::fs::write(&config, &toml).unwrap();
    let a = Imbridge::start_text(setup, &toml);
    let seen = a.jm().get("/v1/users/u1/groups/").await.expect(200);
    let gid = seen.json[0]["gid"].as_i64().expect("an integer gid");
    assert_eq!(seen.json[0]["name"], "team", "{}", seen.text);
    // Copy the app to Easemob with A's own config (the same store).
    let m = Migration {
        config,
        dir: tempfile::tempdir().unwrap(),
    };
    let users = m.dir.path().join("users.txt");
    std::fs::write(&users, crate::migrate_sites::USERS.join("\n")).unwrap();
    let run = m
        .run(&[
            "--from",
            "rongcloud",
            "--to",
            "easemob",
            "--users",
            users.to_str().unwrap(),
        ])
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // Switch: everything served by Easemob, ids translated back.
    let (setup, config_text) = a.stop();
    let switched = config_text
        + "[frontends.jmessage.migration]\nto = \"easemob\"\nmode = \"cutover\"\npercent = 100\n";
    let a = Imbridge::start_text(setup, &switched);
    let again = a.jm().get("/v1/users/u1/groups/").await.expect(200);
    assert_eq!(again.json[0]["gid"], gid, "{}", again.text);
    let members = a
        .jm()
        .get(&format!("/v1/groups/{gid}/members/"))
        .await
        .expect(200);
    let mut names: Vec<String> = members
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|m| text(&m["username"]))
        .collect();
    names.sort();
    assert_eq!(names, ["u1", "u2", "u3"], "{}", members.text);
    // It is Easemob's group that answered: its id there is not the app's.
    let at_easemob = to.read(&[]).await;
    assert!(at_easemob["groups"]["team"].is_object(), "{at_easemob}");
    let calls = a.metrics().await;
    assert!(
        calls.contains(
            "imbridge_provider_calls_total{op=\"group.members.list\",provider=\"easemob\""
        ),
        "{calls}"
    );
}
