//! `imbridge migrate` of message history: messages sent through imbridge's
//! JMessage frontend over the embedded provider are imported into an
//! Easemob emulator (Easemob's message import) with their senders, times
//! and contents, group messages into the group's twin; a second run imports
//! nothing; a pair whose target cannot import says so.

use reqwest::Method;
use serde_json::{json, Value};

use crate::migrate::{kill_at, many_users, Migration};
use crate::migrate_sites::{Kind, Site};

/// A message as a store keeps it: sender, target type, target, time, kind
/// and text.
type Row = (String, String, String, i64, String, Value);

/// The messages of a provider's store (imbridge's embedded store behind a
/// site), oldest first. Easemob's REST API reads no history back (only
/// hourly export files), so the emulator's store is where the import shows.
fn messages(site: &Site) -> Vec<Row> {
    let db = site.server.db();
    let mut stmt = db
        .prepare(
            "SELECT sender, target_type, target, created, kind, content FROM messages \
             ORDER BY created, sender, target_type, target, content",
        )
        .unwrap();
    stmt.query_map([], |r| {
        let content: String = r.get(5)?;
        let content: Value = serde_json::from_str(&content).unwrap();
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            json!({"text": content["text"], "extras": content["extras"]}),
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// The target's id of a source group, from the migration's id pairs.
pub fn paired_group(m: &Migration, source: &str) -> String {
    let db = deadpool_sqlite::rusqlite::Connection::open(m.store()).unwrap();
    db.query_row(
        "SELECT target_id FROM id_pairs WHERE kind = 'group' AND source_id = ?1",
        [source],
        |r| r.get(0),
    )
    .unwrap()
}

/// Sends the test's messages through the JMessage frontend over the
/// embedded provider: one-to-one both ways, one with extras, and to a group.
async fn send_messages(site: &Site) -> usize {
    let jm = site.server.jm();
    let groups = jm.get("/v1/users/u1/groups/").await.expect(200);
    let team = groups.json[0]["gid"].as_i64().expect("u1's group");
    let sent = [
        ("u1", "single", json!("u2"), json!({"text": "hello two"})),
        ("u2", "single", json!("u1"), json!({"text": "hi one"})),
        (
            "u1",
            "single",
            json!("u3"),
            json!({"text": "for three", "extras": {"k": "v"}}),
        ),
        ("u1", "group", json!(team), json!({"text": "team news"})),
        ("u2", "group", json!(team), json!({"text": "from two"})),
    ];
    for (from, target_type, target, body) in &sent {
        jm.post(
            "/v1/messages",
            json!({"version": 1, "target_type": target_type, "target_id": target,
                   "from_type": "user", "from_id": from, "msg_type": "text", "msg_body": body}),
        )
        .await
        .expect(201);
    }
    sent.len()
}

#[tokio::test]
async fn migrate_copies_message_history_to_easemob_once() {
    let (from, to) = (Site::start(Kind::Embedded), Site::start(Kind::Easemob));
    from.seed().await;
    let n = send_messages(&from).await;
    // A group made on the target first: the copies' ids differ from the
    // source's, so group messages must find their group through its pair.
    let em = to.em().await;
    em.json(
        Method::POST,
        "/users",
        json!([{"username": "x9", "password": "pw-x9"}]),
    )
    .await;
    em.json(
        Method::POST,
        "/chatgroups",
        json!({"groupname": "pad", "owner": "x9", "members": []}),
    )
    .await;
    let m = Migration::new(&[&from, &to]);
    let run = m.copy(&from, &to, &[]).await;
    let kind = run.kind("messages");
    assert_eq!(kind["status"], "done", "{}", run.stdout);
    assert_eq!(kind["copied"], n, "{}", run.stdout);
    assert_eq!(kind["failed"], 0, "{}", run.stdout);
    // Read back: every message at its target with its sender, time and
    // content; group messages in the group's twin.
    let source = messages(&from);
    assert_eq!(source.len(), n);
    let team = &source.iter().find(|r| r.1 == "group").unwrap().2;
    let twin = paired_group(&m, team);
    assert_ne!(&twin, team, "the target's ids should differ");
    let expected: Vec<Row> = source
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if r.1 == "group" {
                r.2 = twin.clone();
            }
            r
        })
        .collect();
    assert_eq!(messages(&to), expected);
    // A second run imports nothing and says so.
    let again = m.copy(&from, &to, &[]).await;
    assert_eq!(again.kind("messages")["copied"], 0, "{}", again.stdout);
    assert_eq!(again.kind("messages")["skipped"], n, "{}", again.stdout);
    assert_eq!(again.written(), 0, "{}", again.stdout);
    assert_eq!(messages(&to).len(), n);
    // Only messages, after a message arrived: just the new one travels.
    from.server
        .jm()
        .post(
            "/v1/messages",
            json!({"version": 1, "target_type": "single", "target_id": "u1",
                   "from_type": "user", "from_id": "u3", "msg_type": "text", "msg_body": {"text": "late"}}),
        )
        .await
        .expect(201);
    let only = m.copy(&from, &to, &["--only", "messages"]).await;
    assert_eq!(only.kind("messages")["copied"], 1, "{}", only.stdout);
    assert_eq!(only.kind("messages")["skipped"], n, "{}", only.stdout);
    assert_eq!(messages(&to).len(), n + 1);
}

#[tokio::test]
async fn migrate_says_when_a_pair_cannot_carry_messages() {
    let (from, to) = (Site::start(Kind::Embedded), Site::start(Kind::Jmessage));
    from.seed().await;
    send_messages(&from).await;
    let m = Migration::new(&[&from, &to]);
    let run = m.copy(&from, &to, &["--dry-run"]).await;
    let kind = run.kind("messages");
    assert_eq!(kind["status"], "unsupported", "{}", run.stdout);
    let why = kind["detail"].as_str().unwrap();
    assert!(
        why.contains("pair embedded -> jmessage cannot migrate messages")
            && why.contains("message.import"),
        "{why}"
    );
    assert!(
        run.stdout.contains("cannot migrate messages"),
        "{}",
        run.stdout
    );
    // Asked for by name, it is refused before anything is written.
    let only = m
        .run(&[
            "--from", "embedded", "--to", "jmessage", "--only", "messages",
        ])
        .await;
    assert_ne!(only.code, 0, "{}", only.stdout);
    assert!(
        only.stderr.contains("cannot migrate messages"),
        "{}",
        only.stderr
    );
    assert!(
        to.server
            .db()
            .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get::<_, i64>(0))
            .unwrap()
            == 0
    );
}

/// A migration config from `site`'s embedded provider to a second embedded
/// store, `copy` (its database file is returned).
fn with_copy(site: &Site) -> (Migration, std::path::PathBuf) {
    let m = Migration::new(&[site]);
    let copy = m.dir.path().join("copy.db");
    let mut config = std::fs::read_to_string(&m.config).unwrap();
    config += &format!(
        "\n[providers.copy]\nkind = \"embedded\"\npath = \"{}\"\nmedia_dir = \"{}\"\n\
         [providers.copy.password_hash]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n",
        copy.display(),
        m.dir.path().join("copy-media").display()
    );
    std::fs::write(&m.config, config).unwrap();
    (m, copy)
}

#[tokio::test]
async fn verify_compares_history_where_the_target_reads_it_back() {
    let from = Site::start(Kind::Embedded);
    from.seed().await;
    let n = send_messages(&from).await;
    // A second embedded store as the target: it lists history too.
    let (m, copy) = with_copy(&from);
    let pair = ["--from", "embedded", "--to", "copy"];
    let run = m.run(&pair).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.kind("messages")["copied"], n, "{}", run.stdout);
    let verify = ["verify", "--from", "embedded", "--to", "copy"];
    let v = m.run(&verify).await;
    assert_eq!(v.code, 0, "{}\n{}", v.stdout, v.stderr);
    let checked = v.report["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "messages")
        .unwrap()
        .clone();
    assert_eq!(checked["differences"], 0, "{}", v.stdout);
    assert!(checked["items"].as_u64().unwrap() >= 4, "{}", v.stdout);
    // Behind imbridge's back: a text changes on the target, one goes.
    let db = deadpool_sqlite::rusqlite::Connection::open(&copy).unwrap();
    let changed = db
        .execute(
            "UPDATE messages SET content = '{\"text\":\"edited\"}' WHERE content LIKE '%team news%'",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    db.execute("DELETE FROM messages WHERE content LIKE '%hi one%'", [])
        .unwrap();
    drop(db);
    let v = m.run(&verify).await;
    assert_eq!(v.code, 1, "{}\n{}", v.stdout, v.stderr);
    let diffs = v.report["differences"].to_string();
    assert!(
        diffs.contains("\"field\":\"content\"") && diffs.contains("edited"),
        "{diffs}"
    );
    assert!(
        diffs.contains("messages sent by user u2") && diffs.contains("\"field\":\"exists\""),
        "{diffs}"
    );
    // Easemob cannot read history back: verify says so instead of passing
    // it silently.
    let to = Site::start(Kind::Easemob);
    let m = Migration::new(&[&from, &to]);
    m.copy(&from, &to, &[]).await;
    let v = m.verify(&from, &to, &[]).await;
    let skipped = v.report["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "messages")
        .unwrap()["skipped"]
        .to_string();
    assert!(
        skipped.contains("target easemob cannot read message history back"),
        "{}",
        v.stdout
    );
}

/// Kill -9 in the middle of the messages: the rerun resumes, and the copy
/// holds every message once, with its id.
#[tokio::test]
async fn kill_9_during_messages_then_rerun_imports_each_message_once() {
    use futures::stream::{self, StreamExt};
    const USERS: usize = 400;
    let from = Site::start(Kind::Embedded);
    many_users(&from, USERS).await;
    let jm = from.server.jm();
    stream::iter(0..USERS)
        .map(|i| {
            let jm = jm.clone();
            async move {
                let body = json!({"version": 1, "target_type": "single",
                    "target_id": format!("k{:05}", (i + 1) % USERS), "from_type": "user",
                    "from_id": format!("k{i:05}"), "msg_type": "text", "msg_body": {"text": format!("m{i}")}});
                jm.post("/v1/messages", body).await.expect(201);
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    let (m, copy) = with_copy(&from);
    let at = kill_at(&m, "copy", "messages", 100).await;
    assert!(at < USERS as i64, "killed too late: {at}");
    let last = m.run(&["--from", "embedded", "--to", "copy"]).await;
    assert_eq!(last.code, 0, "{}\n{}", last.stdout, last.stderr);
    assert_eq!(last.report["resumed"], true, "{}", last.stdout);
    let kind = last.kind("messages");
    assert!(
        kind["resumed"]["done"].as_u64().unwrap() >= at as u64,
        "{}",
        last.stdout
    );
    assert_eq!(kind["failed"], 0, "{}", last.stdout);
    // Every message once, with the source's id.
    let ids = |db: &std::path::Path| -> Vec<i64> {
        let db = deadpool_sqlite::rusqlite::Connection::open(db).unwrap();
        let mut stmt = db.prepare("SELECT id FROM messages ORDER BY id").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let source = ids(&from.server.db_path());
    assert_eq!(source.len(), USERS);
    assert_eq!(ids(&copy), source);
}
