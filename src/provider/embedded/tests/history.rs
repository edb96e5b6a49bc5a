//! Message history: conversations read page by page, messages imported
//! with their sender, time and id, each kept once.

use serde_json::{json, Value};

use super::{expect, Backend, Harness};
use crate::canonical::{ErrorKind, Reason};

fn send(from: &str, target_type: &str, to: &str, body: &str) -> Value {
    json!({"from": from, "target_type": target_type, "targets": [to], "kind": "text",
           "content": {"text": body}})
}

fn import(id: Option<&str>, from: &str, to: &str, time: i64, body: &str) -> Value {
    json!({"id": id, "from": from, "target_type": "user", "to": to, "time": time,
           "kind": "text", "content": {"text": body}})
}

/// The texts of a history page.
fn texts(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"]["text"].as_str().unwrap())
        .collect()
}

async fn history_pages_and_imports(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob", "carol"]).await;
    let gid = h.group("alice", &["bob"]).await;
    let gid = gid.as_str();
    for m in [
        send("alice", "user", "bob", "one"),
        send("bob", "user", "alice", "two"),
        send("alice", "user", "carol", "three"),
        send("bob", "group", gid, "four"),
    ] {
        h.ok("message.send", m).await;
    }
    // A pair, both ways, a page at a time.
    let pair = |cursor: Value| json!({"target_type": "user", "target": "alice", "peer": "bob", "limit": 1, "cursor": cursor});
    let first = h.ok("message.history.list", pair(Value::Null)).await;
    assert_eq!(texts(&first), ["one"]);
    assert_eq!(first["items"][0]["from"], "alice");
    assert_eq!(first["items"][0]["to"], "bob");
    let second = h
        .ok("message.history.list", pair(first["cursor"].clone()))
        .await;
    assert_eq!(texts(&second), ["two"]);
    let last = h
        .ok("message.history.list", pair(second["cursor"].clone()))
        .await;
    assert_eq!(texts(&last), Vec::<&str>::new());
    assert!(last.get("cursor").is_none(), "{last}");
    // What a user sent one-to-one; a group's messages.
    let sent = json!({"target_type": "user", "target": "alice"});
    let sent = h.ok("message.history.list", sent).await;
    assert_eq!(texts(&sent), ["one", "three"]);
    let group = json!({"target_type": "group", "target": gid});
    let group = h.ok("message.history.list", group).await;
    assert_eq!(texts(&group), ["four"]);
    assert_eq!(group["items"][0]["to"], gid);
    let missing = json!({"target_type": "group", "target": "999"});
    expect(
        &h.fail("message.history.list", missing).await,
        ErrorKind::NotFound,
        Reason::Group,
    );
    let bad = json!({"target_type": "user", "target": "alice", "cursor": "x"});
    expect(
        &h.fail("message.history.list", bad).await,
        ErrorKind::InvalidArgument,
        Reason::Param,
    );

    // An import keeps the id, sender and time; the same id again is kept once.
    let unread = h
        .ok("message.offline_count", json!({"username": "alice"}))
        .await;
    let old = import(
        Some("5000000000"),
        "carol",
        "alice",
        1_600_000_000_000,
        "old",
    );
    let done = h.ok("message.import", old.clone()).await;
    assert_eq!(done, json!({"msg_id": "5000000000", "imported": true}));
    let again = h.ok("message.import", old).await;
    assert_eq!(again, json!({"msg_id": "5000000000", "imported": false}));
    let carol = json!({"target_type": "user", "target": "carol"});
    let carol = h.ok("message.history.list", carol).await;
    assert_eq!(
        carol["items"],
        json!([{"id": "5000000000", "from": "carol", "target_type": "user", "to": "alice",
                "time": 1_600_000_000_000_i64, "kind": "text", "content": {"text": "old"}}])
    );
    // Imported history is not waiting to be delivered.
    let after = h
        .ok("message.offline_count", json!({"username": "alice"}))
        .await;
    assert_eq!(after, unread);
    // An id taken by another message, or not a number: a new id.
    let taken = import(Some("1000000000"), "carol", "bob", 1, "other");
    let done = h.ok("message.import", taken).await;
    assert_eq!(done["imported"], true);
    assert_ne!(done["msg_id"], "1000000000");
    let named = h
        .ok(
            "message.import",
            import(Some("m-1"), "carol", "bob", 2, "x"),
        )
        .await;
    assert_eq!(named["imported"], true);
    // Messages sent later never take an imported id.
    let next = h
        .ok("message.send", send("bob", "user", "carol", "new"))
        .await;
    let next: i64 = next["msg_id"].as_str().unwrap().parse().unwrap();
    assert!(next > 5_000_000_000, "{next}");
    // The sender and the target must exist.
    expect(
        &h.fail("message.import", import(None, "nobody", "alice", 1, "x"))
            .await,
        ErrorKind::NotFound,
        Reason::User,
    );
    expect(
        &h.fail("message.import", import(None, "alice", "nobody", 1, "x"))
            .await,
        ErrorKind::NotFound,
        Reason::User,
    );
}

on_both_backends!(history_pages_and_imports);
