//! Messages: sending, filtering, retracting, offline counts and files.

use std::time::Duration;

use serde_json::{json, Value};

use super::{expect, Backend, Harness, OTHER_APP, PNG_1X1};
use crate::canonical::{ErrorKind, Reason};

fn message(from: &str, target_type: &str, targets: &[&str], kind: &str, content: Value) -> Value {
    json!({"from": from, "target_type": target_type, "targets": targets, "kind": kind,
           "content": content})
}

fn text(from: &str, target_type: &str, targets: &[&str], body: &str) -> Value {
    message(from, target_type, targets, "text", json!({"text": body}))
}

fn file(from: &str, target_type: &str, target: &str, name: &str) -> Value {
    let content = json!({"url": format!("http://files/{name}"), "filename": name, "size": 3});
    message(from, target_type, &[target], "file", content)
}

async fn send_to_users_groups_and_rooms(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob", "carol"]).await;
    let sent = h
        .ok(
            "message.send",
            text("alice", "user", &["bob", "carol"], "hi"),
        )
        .await;
    assert_eq!(sent["msg_id"], "1000000000");
    assert_eq!(
        sent["deliveries"],
        json!([{"target": "bob", "msg_id": "1000000000"},
               {"target": "carol", "msg_id": "1000000001"}])
    );
    assert!(sent["created"].as_i64().unwrap() > 0);
    let gid = h.group("alice", &["bob"]).await;
    let sent = h
        .ok("message.send", text("bob", "group", &[gid.as_str()], "hey"))
        .await;
    assert_eq!(sent["msg_id"], "1000000002");
    let rid = h
        .ok("chatroom.create", json!({"owner": "alice", "name": "r"}))
        .await["id"]
        .clone();
    h.ok(
        "message.send",
        text("carol", "chatroom", &[rid.as_str().unwrap()], "yo"),
    )
    .await;
    // Admins need not be users or members.
    let admin = json!({"from": "root", "from_admin": true, "target_type": "group", "targets": [gid],
                       "kind": "custom", "content": {"custom": {"a": 1}}});
    h.ok("message.send", admin).await;

    let gid = gid.as_str();
    let rid = rid.as_str().unwrap();
    let cases = [
        (
            text("ghost", "user", &["bob"], "x"),
            ErrorKind::NotFound,
            Reason::User,
        ),
        (
            text("alice", "user", &["bob", "ghost"], "x"),
            ErrorKind::NotFound,
            Reason::User,
        ),
        (
            text("alice", "group", &["404"], "x"),
            ErrorKind::NotFound,
            Reason::Group,
        ),
        (
            text("carol", "group", &[gid], "x"),
            ErrorKind::PermissionDenied,
            Reason::Member,
        ),
        (
            text("alice", "chatroom", &["404"], "x"),
            ErrorKind::NotFound,
            Reason::Chatroom,
        ),
        (
            text("alice", "user", &[], "x"),
            ErrorKind::InvalidArgument,
            Reason::Param,
        ),
        (
            message("alice", "user", &["bob"], "text", json!({})),
            ErrorKind::InvalidArgument,
            Reason::Param,
        ),
        (
            message("alice", "user", &["bob"], "image", json!({"text": "x"})),
            ErrorKind::InvalidArgument,
            Reason::Param,
        ),
        (
            message("alice", "user", &["bob"], "voice", json!({})),
            ErrorKind::InvalidArgument,
            Reason::Param,
        ),
    ];
    for (req, kind, reason) in cases {
        expect(&h.fail("message.send", req).await, kind, reason);
    }
    // Nothing of the failed sends was stored: the next id follows on.
    let next = h
        .ok("message.send", text("alice", "user", &["bob"], "again"))
        .await;
    assert_eq!(next["msg_id"], "1000000005");

    h.ok(
        "group.mute",
        json!({"group_id": gid, "users": ["bob"], "muted": true}),
    )
    .await;
    let e = h
        .fail("message.send", text("bob", "group", &[gid], "x"))
        .await;
    expect(&e, ErrorKind::PermissionDenied, Reason::Forbidden);
    h.ok(
        "chatroom.members.update",
        json!({"id": rid, "add": ["bob"]}),
    )
    .await;
    h.ok(
        "chatroom.mute",
        json!({"id": rid, "username": "bob", "muted": true}),
    )
    .await;
    let e = h
        .fail("message.send", text("bob", "chatroom", &[rid], "x"))
        .await;
    expect(&e, ErrorKind::PermissionDenied, Reason::Forbidden);
    h.ok(
        "blacklist.add",
        json!({"username": "carol", "users": ["alice"]}),
    )
    .await;
    let e = h
        .fail(
            "message.send",
            text("alice", "user", &["bob", "carol"], "x"),
        )
        .await;
    expect(&e, ErrorKind::PermissionDenied, Reason::Blacklist);
    h.ok(
        "user.disable",
        json!({"username": "alice", "disabled": true}),
    )
    .await;
    let e = h
        .fail("message.send", text("alice", "user", &["bob"], "x"))
        .await;
    expect(&e, ErrorKind::PermissionDenied, Reason::Forbidden);
}

async fn cross_app_messages_and_offline_count(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob"]).await;
    h.users_in(OTHER_APP, &["zed"]).await;
    let to_zed = json!({"from": "alice", "target_type": "user", "targets": ["zed"],
                        "target_app_key": OTHER_APP,
                        "kind": "text", "content": {"text": "hello"}});
    h.ok("message.send", to_zed).await;
    let count = h
        .call_in(
            OTHER_APP,
            "message.offline_count",
            json!({"username": "zed"}),
        )
        .await
        .unwrap();
    assert_eq!(count["count"], 1);
    let e = h
        .fail("message.send", text("alice", "user", &["zed"], "x"))
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);

    h.ok("message.send", text("alice", "user", &["bob"], "1"))
        .await;
    let second = h
        .ok("message.send", text("alice", "user", &["bob"], "2"))
        .await;
    let mut quiet = text("alice", "user", &["bob"], "3");
    quiet["no_offline"] = json!(true);
    h.ok("message.send", quiet).await;
    h.ok(
        "message.retract",
        json!({"username": "alice", "msg_id": second["msg_id"]}),
    )
    .await;
    assert_eq!(
        h.ok("message.offline_count", json!({"username": "bob"}))
            .await["count"],
        1
    );
    assert_eq!(
        h.ok("message.offline_count", json!({"username": "alice"}))
            .await["count"],
        0
    );
}

async fn sensitive_words_are_masked(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob"]).await;
    h.ok(
        "sensitive_word.add",
        json!({"words": ["坏蛋", "bad", "badder"]}),
    )
    .await;
    let sent = h
        .ok(
            "message.send",
            text("alice", "user", &["bob"], "a badder 坏蛋 bad"),
        )
        .await;
    let e = h.fail("file.get", json!({"msg_id": sent["msg_id"]})).await;
    expect(&e, ErrorKind::NotFound, Reason::Message);
    let id: i64 = sent["msg_id"].as_str().unwrap().parse().unwrap();
    let stored = h.stored_text(id).await;
    assert_eq!(stored, "a ****** ** ***");
    h.ok("sensitive_word.status.set", json!({"enabled": false}))
        .await;
    let sent = h
        .ok("message.send", text("alice", "user", &["bob"], "bad"))
        .await;
    let id: i64 = sent["msg_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(h.stored_text(id).await, "bad");
}

async fn retract_rules(backend: Backend) {
    let h = Harness::on_with(backend, |cfg| cfg.retract_window_secs = 1);
    h.users(&["alice", "bob"]).await;
    let sent = h
        .ok("message.send", text("alice", "user", &["bob"], "oops"))
        .await;
    let id = sent["msg_id"].clone();
    let e = h
        .fail("message.retract", json!({"username": "bob", "msg_id": id}))
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Message);
    for bad in ["999", "not-a-number"] {
        let e = h
            .fail(
                "message.retract",
                json!({"username": "alice", "msg_id": bad}),
            )
            .await;
        expect(&e, ErrorKind::NotFound, Reason::Message);
    }
    h.ok(
        "message.retract",
        json!({"username": "alice", "msg_id": id}),
    )
    .await;
    let e = h
        .fail(
            "message.retract",
            json!({"username": "alice", "msg_id": id}),
        )
        .await;
    expect(&e, ErrorKind::AlreadyExists, Reason::Retracted);

    let late = h
        .ok("message.send", text("alice", "user", &["bob"], "late"))
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let e = h
        .fail(
            "message.retract",
            json!({"username": "alice", "msg_id": late["msg_id"]}),
        )
        .await;
    expect(&e, ErrorKind::LimitExceeded, Reason::RetractWindow);
}

async fn files_of_messages_and_conversations(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob", "carol"]).await;
    let a = h
        .ok("message.send", file("alice", "user", "bob", "a.txt"))
        .await;
    h.ok("message.send", file("bob", "user", "alice", "b.txt"))
        .await;
    h.ok("message.send", file("carol", "user", "alice", "c.txt"))
        .await;
    h.ok("message.send", text("alice", "user", &["bob"], "no file"))
        .await;
    let gid = h
        .ok("group.create", json!({"owner": "alice", "name": "g"}))
        .await["id"]
        .clone();
    h.ok(
        "message.send",
        file("alice", "group", gid.as_str().unwrap(), "g.txt"),
    )
    .await;

    let info = h.ok("file.get", json!({"msg_id": a["msg_id"]})).await;
    assert_eq!(
        info,
        json!({"msg_id": a["msg_id"], "from": "alice", "target_type": "user", "target": "bob",
               "filename": "a.txt", "url": "http://files/a.txt", "size": 3,
               "created": info["created"]})
    );
    let e = h.fail("file.get", json!({"msg_id": "1"})).await;
    expect(&e, ErrorKind::NotFound, Reason::Message);

    let conv = |target: &Value, kind: &str, desc: bool| {
        let conversation = json!({"target_type": kind, "target": target});
        json!({"username": "alice", "conversation": conversation, "desc": desc})
    };
    let filenames = |v: Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["filename"].as_str().unwrap().to_owned())
            .collect()
    };
    let newest = h
        .ok("conversation.files.list", conv(&json!("bob"), "user", true))
        .await;
    assert_eq!(filenames(newest), ["b.txt", "a.txt"]);
    let oldest = h
        .ok(
            "conversation.files.list",
            conv(&json!("bob"), "user", false),
        )
        .await;
    assert_eq!(filenames(oldest), ["a.txt", "b.txt"]);
    let group = h
        .ok("conversation.files.list", conv(&gid, "group", true))
        .await;
    assert_eq!(filenames(group), ["g.txt"]);
    let mut bounded = conv(&json!("bob"), "user", false);
    bounded["count"] = json!(1);
    assert_eq!(
        filenames(h.ok("conversation.files.list", bounded).await),
        ["a.txt"]
    );
    let mut before = conv(&json!("bob"), "user", true);
    before["from_time"] = json!(0);
    assert_eq!(
        filenames(h.ok("conversation.files.list", before).await),
        Vec::<String>::new()
    );
    let e = h
        .fail(
            "conversation.files.list",
            conv(&json!("bob"), "channel", true),
        )
        .await;
    expect(&e, ErrorKind::InvalidArgument, Reason::Param);

    let all = h.ok("user.files.list", json!({"username": "alice"})).await;
    assert_eq!(filenames(all), ["a.txt", "b.txt", "c.txt"]);
    let desc = h
        .ok(
            "user.files.list",
            json!({"username": "alice", "desc": true, "offset": 1, "count": 1}),
        )
        .await;
    assert_eq!(filenames(desc), ["b.txt"]);
    h.ok(
        "message.retract",
        json!({"username": "alice", "msg_id": a["msg_id"]}),
    )
    .await;
    let e = h.fail("file.get", json!({"msg_id": a["msg_id"]})).await;
    expect(&e, ErrorKind::NotFound, Reason::Message);
}

async fn media_messages_are_completed_from_uploads(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob"]).await;
    let media = h.upload_png("pic.png").await;
    let content = json!({"media_id": media["media_id"]});
    let req = message("alice", "user", &["bob"], "image", content);
    let sent = h.ok("message.send", req).await;
    let info = h.ok("file.get", json!({"msg_id": sent["msg_id"]})).await;
    assert_eq!(info["url"], media["url"]);
    assert_eq!(
        (info["size"].as_i64(), info["filename"].as_str()),
        (Some(PNG_1X1.len() as i64), Some("pic.png"))
    );
}

impl Harness {
    /// The stored text of message `id` (the canonical results do not show it).
    async fn stored_text(&self, id: i64) -> String {
        let content: String = self
            .provider
            .db
            .read(move |tx| {
                tx.query_one("SELECT content FROM messages WHERE id = ?1", &[&id], |r| {
                    r.get(0)
                })
            })
            .await
            .unwrap();
        let content: Value = serde_json::from_str(&content).unwrap();
        content["text"].as_str().unwrap().to_owned()
    }
}

on_both_backends!(
    send_to_users_groups_and_rooms,
    cross_app_messages_and_offline_count,
    sensitive_words_are_masked,
    retract_rules,
    files_of_messages_and_conversations,
    media_messages_are_completed_from_uploads,
);
