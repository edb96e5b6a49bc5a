//! `imbridge migrate` end to end: the real binary copies an app's data
//! between providers built from a config file — the embedded store, or a
//! vendor provider pointed at an emulator (imbridge serving the vendor's
//! dialect over its own store). Data is seeded through the source's own API
//! and read back through the target's own API, then compared field by
//! field; a field may differ only when the run's report lists it as not
//! carried between the pair.

use std::path::PathBuf;

use serde_json::{json, Map, Value};

use crate::harness::{Imbridge, Jm, Setup, APP_KEY, MASTER_SECRET};

/// The providers a site can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The embedded store (seeded and read through a JMessage frontend).
    Embedded,
    /// JMessage.
    Jmessage,
}

impl Kind {
    /// The provider's name in the migration config.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Embedded => "embedded",
            Kind::Jmessage => "jmessage",
        }
    }
}

/// One side of a migration: a running server whose store holds the data.
pub struct Site {
    /// Which provider.
    pub kind: Kind,
    /// The server: a vendor emulator, or a JMessage frontend over the
    /// embedded store the migration uses.
    pub server: Imbridge,
}

impl Site {
    /// Starts the site.
    pub fn start(kind: Kind) -> Site {
        let setup = Setup::new();
        let text = setup.config_for(&["jmessage"], "");
        Site {
            kind,
            server: Imbridge::start_text(setup, &text),
        }
    }

    /// The site's `[providers.NAME]` table for the migration config.
    pub fn provider(&self) -> String {
        let name = self.kind.name();
        match self.kind {
            Kind::Embedded => format!(
                "[providers.{name}]\nkind = \"embedded\"\npath = \"{}\"\nmedia_dir = \"{}\"\n",
                self.server.db_path().display(),
                self.server.setup.dir.path().join("media").display()
            ),
            Kind::Jmessage => format!(
                "[providers.{name}]\nkind = \"vendor\"\ndialect = \"jmessage\"\nbase_url = \"{}\"\ntimeout_ms = 5000\n\n\
                 [providers.{name}.params]\napp_key = \"{APP_KEY}\"\nmaster_secret = \"{MASTER_SECRET}\"\n",
                self.server.base
            ),
        }
    }

    fn jm(&self) -> Jm {
        self.server.jm()
    }

    /// Seeds the test data through the site's own API.
    pub async fn seed(&self) {
        let jm = self.jm();
        let users = json!([
            {"username": "u1", "password": "pw-u1", "nickname": "Uno", "avatar": "https://img.example/u1.png",
             "birthday": "1990-01-24", "gender": 1, "signature": "sig one", "region": "north",
             "address": "1 Main St", "extras": {"vip": true}},
            {"username": "u2", "password": "pw-u2", "nickname": "Dos", "gender": 2},
            {"username": "u3", "password": "pw-u3", "nickname": "Tres"},
            {"username": "u4", "password": "pw-u4", "nickname": "Cuatro"}
        ]);
        jm.post("/v1/users/", users).await.expect(201);
        jm.put("/v1/users/u4/forbidden?disable=true", None)
            .await
            .expect_empty(204);
        jm.post("/v1/users/u1/friends", json!(["u2", "u3"]))
            .await
            .expect_empty(201);
        jm.put(
            "/v1/users/u1/friends",
            Some(json!([{"username": "u2", "note_name": "Buddy", "others": "met at school"}])),
        )
        .await
        .expect_empty(204);
        jm.put("/v1/users/u2/blacklist", Some(json!(["u4"])))
            .await
            .expect_empty(204);
        let team = jm
            .post(
                "/v1/groups/",
                json!({"owner_username": "u1", "name": "team", "members_username": ["u2", "u3"],
                       "desc": "the team", "avatar": "https://img.example/team.png", "flag": 2}),
            )
            .await
            .expect(201);
        let gid = team.json["gid"].as_i64().expect("a gid");
        jm.put(
            &format!("/v1/groups/messages/{gid}/silence?status=true"),
            Some(json!(["u3"])),
        )
        .await
        .expect_empty(204);
        jm.post(
            "/v1/groups/",
            json!({"owner_username": "u2", "name": "club", "members_username": ["u4"]}),
        )
        .await
        .expect(201);
        let room = jm
            .post(
                "/v1/chatroom/",
                json!({"owner_username": "u1", "name": "hall", "description": "big hall",
                       "members_username": ["u2", "u3"]}),
            )
            .await
            .expect(201);
        let rid = room.json["chatroom_id"].as_i64().expect("a room id");
        jm.put(&format!("/v1/chatroom/{rid}/forbidden/u3?status=1"), None)
            .await
            .expect_empty(204);
    }

    /// What the site's own API shows of the test data, in one shape for
    /// every site: users by name, each user's friends and blacklist, groups
    /// and rooms by name with their members.
    pub async fn read(&self) -> Value {
        let jm = self.jm();
        let get = |path: String| {
            let jm = jm.clone();
            async move { jm.get(&path).await.expect(200).json }
        };
        let mut users = Map::new();
        let (mut friends, mut blacklists) = (Map::new(), Map::new());
        for u in USERS {
            let a = jm.get(&format!("/v1/users/{u}")).await;
            if a.status == 404 {
                continue;
            }
            let mut user = a.expect(200).json;
            strip(&mut user, &["username", "mtime", "ctime"]);
            if let Some(b) = user.get_mut("birthday") {
                // JMessage shows dates as times.
                *b = json!(b.as_str().unwrap_or_default().trim_end_matches(" 00:00:00"));
            }
            users.insert(u.to_string(), user);
            let mut mine = Map::new();
            for f in list(get(format!("/v1/users/{u}/friends")).await) {
                mine.insert(text(&f["username"]), pick(&f, &["note_name", "others"]));
            }
            friends.insert(u.to_string(), Value::Object(mine));
            let blocked: Vec<String> = list(get(format!("/v1/users/{u}/blacklist")).await)
                .iter()
                .map(|b| text(&b["username"]))
                .collect();
            blacklists.insert(u.to_string(), json!(blocked));
        }
        let mut groups = Map::new();
        for g in list(get("/v1/groups/?start=0&count=100".into()).await) {
            let gid = g["gid"].as_i64().expect("a gid");
            let mut group = pick(&g, &["desc", "avatar", "MaxMemberCount"]);
            group["public"] = json!(g["flag"] == 2);
            let mut members = Map::new();
            for m in list(get(format!("/v1/groups/{gid}/members/")).await) {
                let role = if m["flag"] == 1 { "owner" } else { "member" };
                if role == "owner" {
                    group["owner"] = m["username"].clone();
                }
                members.insert(text(&m["username"]), json!({"role": role}));
            }
            group["members"] = Value::Object(members);
            groups.insert(text(&g["name"]), group);
        }
        let mut rooms = Map::new();
        let listed = get("/v1/chatroom?start=0&count=100".into()).await;
        for r in listed["rooms"].as_array().cloned().unwrap_or_default() {
            let id = r["id"].as_i64().expect("a room id");
            let mut room = pick(&r, &["description", "owner_username"]);
            let page = get(format!("/v1/chatroom/{id}/members?start=0&count=100")).await;
            let mut members = Map::new();
            for m in page["users"].as_array().cloned().unwrap_or_default() {
                members.insert(text(&m["username"]), json!({"muted": m["flag"] == 1}));
            }
            room["members"] = Value::Object(members);
            rooms.insert(text(&r["name"]), room);
        }
        json!({"users": users, "friends": friends, "blacklists": blacklists, "groups": groups, "rooms": rooms})
    }
}

/// The test data's users.
const USERS: [&str; 4] = ["u1", "u2", "u3", "u4"];

fn strip(v: &mut Value, keys: &[&str]) {
    if let Some(o) = v.as_object_mut() {
        for k in keys {
            o.remove(*k);
        }
    }
}

fn pick(v: &Value, keys: &[&str]) -> Value {
    Value::Object(
        keys.iter()
            .filter_map(|k| {
                v.get(*k)
                    .filter(|x| !x.is_null())
                    .map(|x| (k.to_string(), x.clone()))
            })
            .collect(),
    )
}

fn list(v: Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

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

    /// Runs `imbridge migrate` with `args` (after `--config`); returns the
    /// exit code, stdout, stderr and the JSON report.
    pub async fn run(&self, args: &[&str]) -> Outcome {
        let report = self.dir.path().join("report.json");
        let _ = std::fs::remove_file(&report);
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_imbridge"))
            .arg("migrate")
            .arg("--config")
            .arg(&self.config)
            .arg("--report")
            .arg(&report)
            .args(args)
            .env("RUST_LOG", "warn")
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

    /// Copies from `from` to `to`, asserting success.
    pub async fn copy(&self, from: &Site, to: &Site) -> Outcome {
        let o = self
            .run(&["--from", from.kind.name(), "--to", to.kind.name()])
            .await;
        assert_eq!(o.code, 0, "migrate failed:\n{}\n{}", o.stdout, o.stderr);
        o
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

/// Compares what the source and the target show, field by field; a field
/// may differ only when listed as not carried (`entity.field`). Returns how
/// many values were compared equal.
pub fn compare(source: &Value, target: &Value, not_carried: &[String]) -> usize {
    let carried = |entity: &str, field: &str| !not_carried.contains(&format!("{entity}.{field}"));
    let mut equal = 0;
    let mut check = |what: String, entity: &str, field: &str, s: &Value, t: &Value| {
        if s.is_null() || !carried(entity, field) {
            return;
        }
        assert_eq!(s, t, "{what}.{field}: source {s}, target {t}");
        equal += 1;
    };
    for (name, su) in source["users"].as_object().expect("users") {
        let tu = &target["users"][name];
        assert!(
            tu.is_object(),
            "user {name} missing on the target: {target}"
        );
        for (field, v) in su.as_object().unwrap() {
            check(format!("user {name}"), "user", field, v, &tu[field]);
        }
    }
    for (name, sf) in source["friends"].as_object().expect("friends") {
        for (friend, notes) in sf.as_object().unwrap() {
            let tf = &target["friends"][name][friend];
            assert!(tf.is_object(), "friend {name} → {friend} missing: {target}");
            for (field, v) in notes.as_object().unwrap() {
                check(
                    format!("friend {name} → {friend}"),
                    "friend",
                    field,
                    v,
                    &tf[field],
                );
            }
        }
    }
    for (name, sb) in source["blacklists"].as_object().expect("blacklists") {
        check(
            format!("blacklist of {name}"),
            "blacklist",
            "users",
            sb,
            &target["blacklists"][name],
        );
    }
    for (what, entity) in [("groups", "group"), ("rooms", "chatroom")] {
        let member = if entity == "group" {
            "member"
        } else {
            "room_member"
        };
        for (name, sg) in source[what].as_object().expect(what) {
            let tg = &target[what][name];
            assert!(
                tg.is_object(),
                "{entity} {name} missing on the target: {target}"
            );
            for (field, v) in sg.as_object().unwrap() {
                if field == "members" {
                    let tm = &tg["members"];
                    for (user, sm) in v.as_object().unwrap() {
                        assert!(
                            tm[user].is_object(),
                            "member {user} of {entity} {name} missing: {tg}"
                        );
                        for (f, mv) in sm.as_object().unwrap() {
                            check(
                                format!("member {user} of {entity} {name}"),
                                member,
                                f,
                                mv,
                                &tm[user][f],
                            );
                        }
                    }
                    continue;
                }
                check(format!("{entity} {name}"), entity, field, v, &tg[field]);
            }
        }
    }
    equal
}

/// The jmessage field names the shared shape uses for canonical ones.
fn canonical(field: &str) -> &str {
    match field {
        "MaxMemberCount" => "max_members",
        "owner_username" => "owner",
        other => other,
    }
}

/// The shape with JMessage's field names replaced by canonical ones.
pub fn normalized(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (canonical(&k).to_string(), normalized(v)))
                .collect(),
        ),
        other => other,
    }
}

#[tokio::test]
async fn migrate_embedded_to_jmessage_then_again_copies_nothing() {
    let (from, to) = (Site::start(Kind::Embedded), Site::start(Kind::Jmessage));
    from.seed().await;
    let m = Migration::new(&[&from, &to]);
    let first = m.copy(&from, &to).await;
    assert_eq!(first.kind("users")["copied"], 4, "{}", first.stdout);
    assert_eq!(first.kind("groups")["copied"], 2, "{}", first.stdout);
    assert_eq!(first.kind("chatrooms")["copied"], 1, "{}", first.stdout);
    assert_eq!(first.kind("messages")["status"], "unsupported");
    let source = normalized(from.read().await);
    let target = normalized(to.read().await);
    let compared = compare(&source, &target, &first.not_carried());
    assert!(compared >= 20, "only {compared} values compared");
    // JMessage cannot read a user's forbidden state back: listed, not hidden.
    assert!(first.not_carried().contains(&"user.disabled".to_string()));
    // Every user is waiting for a password on the target, and says so.
    assert_eq!(first.report["password_pending"]["count"], 4);
    // Again: nothing to copy, and the report says so.
    let second = m.copy(&from, &to).await;
    assert_eq!(second.written(), 0, "{}", second.stdout);
    assert!(
        second.stdout.contains("nothing to copy"),
        "{}",
        second.stdout
    );
    assert_eq!(
        normalized(to.read().await),
        target,
        "the second run changed the target"
    );
}

#[tokio::test]
async fn migrate_refuses_bad_input_before_writing_anything() {
    let (from, to) = (Site::start(Kind::Embedded), Site::start(Kind::Jmessage));
    from.seed().await;
    let m = Migration::new(&[&from, &to]);
    let unknown = m.run(&["--from", "embedded", "--to", "rongcloud"]).await;
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(
        unknown
            .stderr
            .contains("unknown provider `rongcloud` (configured: embedded, jmessage)"),
        "{}",
        unknown.stderr
    );
    let same = m.run(&["--from", "jmessage", "--to", "jmessage"]).await;
    assert_eq!(same.code, 2, "{same:?}");
    assert!(
        same.stderr.contains("two different providers"),
        "{}",
        same.stderr
    );
    let kind = m
        .run(&[
            "--from",
            "embedded",
            "--to",
            "jmessage",
            "--only",
            "users,avatars",
        ])
        .await;
    assert_eq!(kind.code, 2, "{kind:?}");
    assert!(
        kind.stderr.contains("unknown kind `avatars`"),
        "{}",
        kind.stderr
    );
    let history = m
        .run(&[
            "--from", "embedded", "--to", "jmessage", "--only", "messages",
        ])
        .await;
    assert_eq!(history.code, 2, "{history:?}");
    assert!(
        history.stderr.contains("cannot copy what --only asks for"),
        "{}",
        history.stderr
    );
    assert!(history.stderr.contains("messages: "), "{}", history.stderr);
    let missing = m.dir.path().join("nobody.txt");
    let file = m
        .run(&[
            "--from",
            "embedded",
            "--to",
            "jmessage",
            "--users",
            missing.to_str().unwrap(),
        ])
        .await;
    assert_eq!(file.code, 2, "{file:?}");
    assert!(
        file.stderr.contains("cannot read the users file"),
        "{}",
        file.stderr
    );
    let binary = m.dir.path().join("binary.txt");
    std::fs::write(&binary, b"u1\nu2\xff\n").unwrap();
    let bad = m
        .run(&[
            "--from",
            "embedded",
            "--to",
            "jmessage",
            "--users",
            binary.to_str().unwrap(),
        ])
        .await;
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("line 2: not UTF-8"), "{}", bad.stderr);
    // Nothing reached the target.
    to.server.jm().get("/v1/users/u1").await.expect(404);
}
