//! Administration operations, and persistence across a restart.

use serde_json::json;

use super::{context, expect, names, upload, Harness, APP, OTHER_APP, PNG_1X1};
use crate::canonical::{ErrorKind, Reason};
use crate::provider::Provider;

#[tokio::test]
async fn sensitive_words() {
    let h = Harness::new();
    h.ok(
        "sensitive_word.add",
        json!({"words": ["alpha", "beta", "alpha"]}),
    )
    .await;
    h.ok("sensitive_word.add", json!({"words": ["beta"]})).await;
    let e = h
        .fail("sensitive_word.add", json!({"words": ["gamma", ""]}))
        .await;
    expect(&e, ErrorKind::InvalidArgument, Reason::Param);
    let e = h
        .fail("sensitive_word.add", json!({"words": ["w".repeat(65)]}))
        .await;
    expect(&e, ErrorKind::InvalidArgument, Reason::Param);
    h.ok("sensitive_word.add", json!({"words": ["字".repeat(64)]}))
        .await;

    let list = h
        .ok("sensitive_word.list", json!({"paging": {"count": 2}}))
        .await;
    let words: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["word"].clone())
        .collect();
    assert_eq!(words, [json!("alpha"), json!("beta")]);
    assert_eq!(
        (list["total"].as_i64(), list["cursor"].as_str()),
        (Some(3), Some("2"))
    );
    assert!(list["items"][0]["created"].as_i64().unwrap() > 0);
    assert_eq!(h.ok("sensitive_word.list", json!({})).await["count"], 3);

    h.ok(
        "sensitive_word.update",
        json!({"old_word": "alpha", "new_word": "omega"}),
    )
    .await;
    let e = h
        .fail(
            "sensitive_word.update",
            json!({"old_word": "alpha", "new_word": "x"}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Word);
    let e = h
        .fail(
            "sensitive_word.update",
            json!({"old_word": "omega", "new_word": "beta"}),
        )
        .await;
    expect(&e, ErrorKind::AlreadyExists, Reason::Word);
    let e = h
        .fail("sensitive_word.delete", json!({"words": ["omega", "nope"]}))
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Word);
    assert_eq!(
        h.ok("sensitive_word.list", json!({})).await["total"],
        3,
        "failed delete removed nothing"
    );
    h.ok("sensitive_word.delete", json!({"words": ["omega", "beta"]}))
        .await;
    assert_eq!(h.ok("sensitive_word.list", json!({})).await["total"], 1);
    assert_eq!(
        h.call_in(OTHER_APP, "sensitive_word.list", json!({}))
            .await
            .unwrap()["total"],
        0
    );
}

#[tokio::test]
async fn switches_and_system_settings() {
    let h = Harness::new();
    for (get, set) in [
        ("sensitive_word.status.get", "sensitive_word.status.set"),
        ("app.sdk_register.get", "app.sdk_register.set"),
    ] {
        assert_eq!(h.ok(get, json!({})).await, json!({"enabled": true}));
        h.ok(set, json!({"enabled": false})).await;
        assert_eq!(h.ok(get, json!({})).await, json!({"enabled": false}));
        assert_eq!(
            h.call_in(OTHER_APP, get, json!({})).await.unwrap(),
            json!({"enabled": true})
        );
    }
    assert_eq!(
        h.ok("sensitive_word.status.get", json!({})).await["enabled"],
        false
    );
    h.ok("app.sdk_register.set", json!({"enabled": true})).await;
    assert_eq!(
        h.ok("app.sdk_register.get", json!({})).await["enabled"],
        true
    );

    let e = h.fail("system.settings.get", json!({"id": 7})).await;
    expect(&e, ErrorKind::NotFound, Reason::Setting);
    h.ok("system.settings.set", json!({"id": 7, "value": "a"}))
        .await;
    h.ok(
        "system.settings.set",
        json!({"id": 7, "value": "b", "desc": "seven"}),
    )
    .await;
    assert_eq!(
        h.ok("system.settings.get", json!({"id": 7})).await,
        json!({"id": 7, "value": "b", "desc": "seven"})
    );
}

#[tokio::test]
async fn health_and_accounts() {
    let h = Harness::new();
    assert_eq!(
        h.ok("health.check", json!({})).await,
        json!({"status": "healthy", "provider": "embedded"})
    );
    assert_eq!(h.provider.name(), "embedded");
    assert_eq!(
        h.ok("customer.get", json!({})).await,
        json!({"id": "imbridge", "name": "imbridge"})
    );
    assert_eq!(
        h.ok("customer_service.get", json!({})).await,
        json!({"id": "cs_001", "name": "客服"})
    );
    h.users(&["alice"]).await;
    let cs = h
        .ok("customer_service.get", json!({"username": "alice"}))
        .await;
    let token = h.ok("user.token", json!({"username": "alice"})).await["token"].clone();
    assert_eq!(cs["token"], token);
    let e = h
        .fail("customer_service.get", json!({"username": "ghost"}))
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);
}

#[tokio::test]
async fn robots() {
    let h = Harness::new();
    let made = h
        .ok(
            "robot.upsert",
            json!({"display_name": "Helper", "callback": "http://cb"}),
        )
        .await;
    let username = made["username"].as_str().unwrap().to_owned();
    let suffix = username.strip_prefix("robot_").unwrap();
    assert!(suffix.len() == 8 && suffix.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(made["name"], username.as_str());
    assert_eq!(made["secret"].as_str().unwrap().len(), 32);
    let user = h.ok("user.get", json!({"username": username})).await;
    assert_eq!(
        (user["kind"].as_str(), user["nickname"].as_str()),
        (Some("robot"), Some("Helper"))
    );

    let updated = h
        .ok(
            "robot.upsert",
            json!({"username": username, "name": "helper", "portrait": "http://p.png"}),
        )
        .await;
    assert_eq!(
        updated,
        json!({"username": username, "name": "helper", "secret": made["secret"]})
    );
    let user = h.ok("user.get", json!({"username": username})).await;
    assert_eq!(
        (user["nickname"].as_str(), user["avatar"].as_str()),
        (Some("Helper"), Some("http://p.png"))
    );
    let chosen = h
        .ok(
            "robot.upsert",
            json!({"username": "bot1", "secret": "s3cret"}),
        )
        .await;
    assert_eq!(
        chosen,
        json!({"username": "bot1", "name": "bot1", "secret": "s3cret"})
    );

    h.users(&["alice"]).await;
    let e = h.fail("robot.upsert", json!({"username": "alice"})).await;
    expect(&e, ErrorKind::AlreadyExists, Reason::User);
    let e = h
        .fail("robot.upsert", json!({"username": "bad/name"}))
        .await;
    expect(&e, ErrorKind::InvalidArgument, Reason::Param);
}

#[tokio::test]
async fn data_survives_reopening() {
    let h = Harness::new();
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
    let gid = h
        .ok(
            "group.create",
            json!({"owner": "alice", "name": "g", "members": ["bob"]}),
        )
        .await["id"]
        .clone();
    let rid = h
        .ok("chatroom.create", json!({"owner": "bob", "name": "r"}))
        .await["id"]
        .clone();
    let sent = h
        .ok("message.send", json!({"from": "alice", "target_type": "group", "targets": [gid], "kind": "text", "content": {"text": "hi"}}))
        .await;
    let ctx = context(APP, vec![("a.png", PNG_1X1)]);
    let media = h
        .call_ctx(
            ctx,
            "media.upload",
            json!({"kind": "image", "file": upload(0)}),
        )
        .await
        .unwrap();
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
