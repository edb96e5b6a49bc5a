//! The embedded provider's database: persistence across restarts, crashes and schema versions.

use deadpool_sqlite::rusqlite::Connection;
use serde_json::json;

use super::{expect, names, Backend, Harness, APP, OTHER_APP};
use crate::canonical::{ErrorKind, Reason};
use crate::provider::embedded::schema::SCHEMA;
use crate::provider::embedded::EmbeddedProvider;

async fn data_survives_reopening(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob"]).await;
    h.users_in(OTHER_APP, &["zed"]).await;
    h.ok(
        "user.update",
        json!({"username": "alice", "profile": {"nickname": "Al"}}),
    )
    .await;
    let token = h.ok("user.token", json!({"username": "alice"})).await["token"].clone();
    h.ok(
        "friend.add",
        json!({"username": "alice", "friends": ["bob", {"username": "zed", "app_key": OTHER_APP}]}),
    )
    .await;
    h.ok(
        "blacklist.add",
        json!({"username": "bob", "users": ["alice"]}),
    )
    .await;
    let gid = h.group("alice", &["bob"]).await;
    let rid = h
        .ok("chatroom.create", json!({"owner": "bob", "name": "r"}))
        .await["id"]
        .clone();
    let hi = json!({"from": "alice", "target_type": "group", "targets": [gid], "kind": "text",
                    "content": {"text": "hi"}});
    let sent = h.ok("message.send", hi).await;
    let media = h.upload_png("a.png").await;
    h.ok("sensitive_word.add", json!({"words": ["bad"]})).await;
    h.ok("app.sdk_register.set", json!({"enabled": false}))
        .await;
    h.ok("system.settings.set", json!({"id": 1, "value": "v"}))
        .await;
    h.ok(
        "user.settings.put",
        json!({"username": "bob", "scope": 2, "key": "k", "value": "v"}),
    )
    .await;
    let robot = h.ok("robot.upsert", json!({"username": "bot"})).await;

    let h = h.reopen();
    assert_eq!(
        h.ok("user.get", json!({"username": "alice"})).await["nickname"],
        "Al"
    );
    assert_eq!(
        h.ok("user.token", json!({"username": "alice"})).await["token"],
        token
    );
    h.ok(
        "user.authenticate",
        json!({"username": "bob", "password": "pw"}),
    )
    .await;
    assert_eq!(
        names(&h.ok("friend.list", json!({"username": "alice"})).await["items"]),
        ["bob", "zed"]
    );
    assert_eq!(
        names(&h.ok("blacklist.list", json!({"username": "bob"})).await["items"]),
        ["alice"]
    );
    assert_eq!(
        h.ok("group.get", json!({"group_id": gid})).await["member_count"],
        2
    );
    assert_eq!(
        h.ok("chatroom.get", json!({"ids": [rid]})).await["items"][0]["owner"],
        "bob"
    );
    let e = h
        .fail(
            "message.retract",
            json!({"username": "bob", "msg_id": sent["msg_id"]}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Message);
    h.ok(
        "message.retract",
        json!({"username": "alice", "msg_id": sent["msg_id"]}),
    )
    .await;
    assert_eq!(
        h.ok("media.url", json!({"media_id": media["media_id"]}))
            .await,
        media
    );
    assert!(h
        .provider
        .media_file(media["media_id"].as_str().unwrap())
        .await
        .is_some());
    assert_eq!(h.ok("sensitive_word.list", json!({})).await["total"], 1);
    assert_eq!(
        h.ok("app.sdk_register.get", json!({})).await["enabled"],
        false
    );
    assert_eq!(
        h.ok("system.settings.get", json!({"id": 1})).await["value"],
        "v"
    );
    let setting = h
        .ok(
            "user.settings.get",
            json!({"username": "bob", "scope": 2, "key": "k"}),
        )
        .await;
    assert_eq!(setting["value"], "v");
    assert_eq!(
        h.ok("robot.upsert", json!({"username": "bot"})).await,
        robot
    );
    // Counters continue where they were.
    let next = h.ok("group.create", json!({"name": "next"})).await;
    assert_eq!(next["id"], "10001");
}

async fn committed_data_survives_a_crash(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice"]).await;
    h.ok("group.create", json!({"owner": "alice", "name": "g"}))
        .await;
    // No clean shutdown: the pool is leaked with its connections open, the
    // WAL is never checkpointed, as after `kill -9`.
    let Harness {
        dir,
        cfg,
        provider,
        pg,
    } = h;
    std::mem::forget(provider);
    let provider = EmbeddedProvider::open("embedded", &cfg).expect("open after crash");
    let h = Harness {
        dir,
        cfg,
        provider,
        pg,
    };
    assert_eq!(
        h.ok("group.get", json!({"group_id": "10000"})).await["owner"],
        "alice"
    );
}

#[tokio::test]
async fn schema_is_versioned() {
    let h = Harness::new();
    let version = |path: &std::path::Path| -> i64 {
        let conn = Connection::open(path).unwrap();
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    };
    let latest = i64::try_from(SCHEMA.sqlite.len()).unwrap();
    assert_eq!(version(&h.cfg.path), latest);
    let h = h.reopen();
    assert_eq!(version(&h.cfg.path), latest, "reopening migrates nothing");
    let Harness {
        dir, cfg, provider, ..
    } = h;
    drop(provider);
    Connection::open(&cfg.path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let error = EmbeddedProvider::open("embedded", &cfg)
        .err()
        .expect("newer schema refused");
    assert!(format!("{error:#}").contains("newer"), "{error:#}");
    drop(dir);
}

#[tokio::test]
async fn version_1_groups_pins_and_media_keep_their_meaning() {
    let h = Harness::new();
    let Harness {
        dir, cfg, provider, ..
    } = h;
    drop(provider);
    std::fs::remove_file(&cfg.path).unwrap();
    let v1 = Connection::open(&cfg.path).unwrap();
    v1.execute_batch(SCHEMA.sqlite[0]).unwrap();
    v1.execute_batch(
        "PRAGMA user_version = 1;
         INSERT INTO chat_groups (app, gid, name, flag, max_members, created, modified)
         VALUES ('app', '1', 'open', 2, 10, 0, 0), ('app', '2', 'closed', 1, 10, 0, 0);
         INSERT INTO users (id, app, username, uuid, kind, profile, created, modified)
         VALUES (7, 'app', 'alice', 'u', 'user', '{}', 0, 0),
                (8, 'app', 'bob', 'v', 'user', '{}', 0, 0);
         INSERT INTO group_members (group_id, user_id, role, joined)
         VALUES (1, 8, 'member', 5), (1, 7, 'member', 5);
         INSERT INTO conversation_tops (user_id, type, target, line)
         VALUES (7, 0, 'bob', 0), (7, 1, '1', 0), (7, 2, 'r', 1), (7, 3, 'c', 0);
         INSERT INTO media (media_id, app, kind, crc32, size, hash, content_type, created)
         VALUES ('file/a', 'app', 'file', 1, 100, 'h', 'application/pdf', 0),
                ('file/b', 'app', 'file', 1, 50, 'h', 'application/pdf', 0),
                ('file/c', 'other', 'file', 1, 7, 'h', 'application/pdf', 0);",
    )
    .unwrap();
    drop(v1);
    let provider = EmbeddedProvider::open("embedded", &cfg).unwrap();
    let h = Harness {
        dir,
        cfg,
        provider,
        pg: None,
    };
    // Members who joined at the same time keep their insertion order.
    let members = h
        .call_in("app", "group.members.list", json!({"group_id": "1"}))
        .await
        .unwrap();
    assert_eq!(names(&members["items"]), ["bob", "alice"]);
    let Harness {
        dir, cfg, provider, ..
    } = h;
    drop(provider);
    let public: Vec<(String, bool)> = Connection::open(&cfg.path)
        .unwrap()
        .prepare("SELECT gid, public FROM chat_groups ORDER BY gid")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(public, [("1".into(), true), ("2".into(), false)]);
    let pins: Vec<(String, String, i64)> = Connection::open(&cfg.path)
        .unwrap()
        .prepare("SELECT target_type, target, line FROM conversation_tops ORDER BY target")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    // Media kept before version 5 count against their app's quota.
    let usage: Vec<(String, i64)> = Connection::open(&cfg.path)
        .unwrap()
        .prepare("SELECT app, bytes FROM media_usage ORDER BY app")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(usage, [("app".into(), 150), ("other".into(), 7)]);
    let pin = |t: &str, target: &str, line| (t.to_owned(), target.to_owned(), line);
    assert_eq!(
        pins,
        [
            pin("group", "1", 0),
            pin("user", "bob", 0),
            pin("channel", "c", 0),
            pin("chatroom", "r", 1)
        ]
    );
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_the_pool_on_sqlite() {
    concurrent_writers_share_the_pool(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_the_pool_on_postgres() {
    concurrent_writers_share_the_pool(Backend::Postgres).await;
}

async fn concurrent_writers_share_the_pool(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob"]).await;
    let sends = (0..40).map(|i| {
        let req = json!({"from": "alice", "target_type": "user", "targets": ["bob"],
                         "kind": "text", "content": {"text": format!("m{i}")}});
        h.call_in(APP, "message.send", req)
    });
    let groups = (0..10).map(|_| h.call_in(APP, "group.create", json!({"name": "g"})));
    let (sent, created) = tokio::join!(
        futures::future::join_all(sends),
        futures::future::join_all(groups)
    );
    let mut ids: Vec<String> = sent
        .into_iter()
        .map(|r| r.expect("send")["msg_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40);
    assert!(created.into_iter().all(|r| r.is_ok()));
    assert_eq!(
        h.ok("message.offline_count", json!({"username": "bob"}))
            .await["count"],
        40
    );
    assert_eq!(h.ok("group.list", json!({})).await["total"], 10);
}

/// Two providers on one database stand for two replicas: what one changes,
/// the other sees at once, credentials included.
async fn replicas_share_everything(backend: Backend) {
    let a = Harness::on(backend);
    let b = EmbeddedProvider::open("embedded", &a.cfg).expect("second replica");
    let b = Harness {
        dir: tempfile::tempdir().unwrap(),
        cfg: a.cfg.clone(),
        provider: b,
        pg: None,
    };
    a.users(&["alice", "bob"]).await;
    let login = json!({"username": "alice", "password": "pw"});
    a.ok("user.authenticate", login.clone()).await;
    b.ok("user.authenticate", login.clone()).await;
    let token = a.ok("user.token", json!({"username": "alice"})).await["token"].clone();
    assert_eq!(
        b.ok("user.token", json!({"username": "alice"})).await["token"],
        token
    );
    b.ok(
        "user.password.set",
        json!({"username": "alice", "password": "new"}),
    )
    .await;
    let e = a.fail("user.authenticate", login).await;
    expect(&e, ErrorKind::Unauthenticated, Reason::Credentials);
    let login = json!({"username": "alice", "password": "new"});
    a.ok("user.authenticate", login.clone()).await;
    b.ok(
        "user.disable",
        json!({"username": "alice", "disabled": true}),
    )
    .await;
    let e = a.fail("user.authenticate", login).await;
    expect(&e, ErrorKind::PermissionDenied, Reason::Forbidden);
    let g = b
        .ok("group.create", json!({"owner": "bob", "name": "g"}))
        .await;
    assert_eq!(
        a.ok("group.get", json!({"group_id": g["id"]})).await["owner"],
        "bob"
    );
}

on_both_backends!(
    data_survives_reopening,
    committed_data_survives_a_crash,
    replicas_share_everything
);
