//! Chatrooms.

use serde_json::json;

use super::{expect, names, Backend, Harness, OTHER_APP};
use crate::canonical::{ErrorKind, Reason};

async fn create_get_list_update_delete(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob", "carol"]).await;
    let room = h
        .ok(
            "chatroom.create",
            json!({"owner": "alice", "name": "Lobby", "description": "hi",
                   "members": ["bob", "alice"]}),
        )
        .await;
    assert_eq!(room["id"], "10000000");
    assert_eq!(
        (room["owner"].as_str(), room["member_count"].as_i64()),
        (Some("alice"), Some(2))
    );
    assert_eq!(room["max_members"], 10000);
    let custom = h
        .ok("chatroom.create", json!({"id": "r-1", "name": "Custom"}))
        .await;
    assert_eq!(
        (custom["id"].as_str(), custom["member_count"].as_i64()),
        (Some("r-1"), Some(0))
    );
    let e = h
        .fail("chatroom.create", json!({"id": "r-1", "name": "again"}))
        .await;
    expect(&e, ErrorKind::AlreadyExists, Reason::Chatroom);
    let e = h
        .fail("chatroom.create", json!({"owner": "ghost", "name": "x"}))
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);
    let e = h
        .fail(
            "chatroom.create",
            json!({"owner": "alice", "name": "x", "members": ["ghost"]}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);

    let got = h
        .ok("chatroom.get", json!({"ids": ["r-1", "nope", "10000000"]}))
        .await;
    let ids: Vec<_> = got["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [json!("r-1"), json!("10000000")]);
    let list = h.ok("chatroom.list", json!({"paging": {"count": 1}})).await;
    assert_eq!(
        (list["total"].as_i64(), list["cursor"].as_str()),
        (Some(2), Some("1"))
    );
    assert_eq!(
        h.call_in(OTHER_APP, "chatroom.list", json!({}))
            .await
            .unwrap()["total"],
        0
    );

    h.ok(
        "chatroom.update",
        json!({"id": "r-1", "owner": "carol", "name": "Renamed"}),
    )
    .await;
    let r = &h.ok("chatroom.get", json!({"ids": ["r-1"]})).await["items"][0];
    assert_eq!(
        (
            r["owner"].as_str(),
            r["name"].as_str(),
            r["description"].as_str()
        ),
        (Some("carol"), Some("Renamed"), Some(""))
    );
    assert_eq!(r["member_count"], 1, "the new owner joined");
    let e = h
        .fail("chatroom.update", json!({"id": "r-1", "owner": "ghost"}))
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);
    let e = h
        .fail("chatroom.update", json!({"id": "404", "name": "x"}))
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Chatroom);

    let rooms = h
        .ok("user.chatrooms.list", json!({"username": "carol"}))
        .await;
    assert_eq!(rooms["items"][0]["id"], "r-1");
    h.ok("chatroom.delete", json!({"id": "r-1"})).await;
    let e = h.fail("chatroom.delete", json!({"id": "r-1"})).await;
    expect(&e, ErrorKind::NotFound, Reason::Chatroom);
    assert_eq!(
        h.ok("user.chatrooms.list", json!({"username": "carol"}))
            .await["items"],
        json!([])
    );
}

async fn members_and_mutes(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob", "carol"]).await;
    h.users_in(OTHER_APP, &["zed"]).await;
    let id = h
        .ok("chatroom.create", json!({"owner": "alice", "name": "r"}))
        .await["id"]
        .clone();
    let zed = json!({"username": "zed", "app_key": OTHER_APP});
    h.ok(
        "chatroom.members.update",
        json!({"id": id, "add": ["bob", "bob", zed]}),
    )
    .await;
    h.ok(
        "chatroom.members.update",
        json!({"id": id, "add": ["bob"], "remove": ["carol"]}),
    )
    .await;
    let members = h.ok("chatroom.members.list", json!({"id": id})).await;
    assert_eq!(names(&members["items"]), ["alice", "bob", "zed"]);
    assert_eq!(members["items"][2]["app_key"], OTHER_APP);
    let page = h
        .ok(
            "chatroom.members.list",
            json!({"id": id, "paging": {"start": 2, "count": 5}}),
        )
        .await;
    assert_eq!(
        (names(&page["items"]), page.get("cursor")),
        (vec!["zed".to_owned()], None)
    );
    let e = h
        .fail(
            "chatroom.members.update",
            json!({"id": id, "add": ["ghost"]}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);
    let e = h
        .fail(
            "chatroom.members.update",
            json!({"id": id, "remove": ["ghost"]}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);
    let e = h.fail("chatroom.members.list", json!({"id": "404"})).await;
    expect(&e, ErrorKind::NotFound, Reason::Chatroom);

    h.ok(
        "chatroom.members.update",
        json!({"id": id, "remove": ["bob"]}),
    )
    .await;
    assert_eq!(
        h.ok("chatroom.members.list", json!({"id": id})).await["total"],
        2
    );

    h.ok(
        "chatroom.mute",
        json!({"id": id, "username": "alice", "muted": true}),
    )
    .await;
    let members = h.ok("chatroom.members.list", json!({"id": id})).await;
    assert_eq!(members["items"][0]["muted"], true);
    let e = h
        .fail(
            "chatroom.mute",
            json!({"id": id, "username": "bob", "muted": true}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Member);
    let e = h
        .fail(
            "chatroom.mute",
            json!({"id": "404", "username": "bob", "muted": true}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Chatroom);
}

async fn capacity_is_enforced(backend: Backend) {
    let h = Harness::on_with(backend, |cfg| cfg.room_max_members = 2);
    h.users(&["alice", "bob", "carol"]).await;
    let e = h
        .fail(
            "chatroom.create",
            json!({"owner": "alice", "name": "r", "members": ["bob", "carol"]}),
        )
        .await;
    expect(&e, ErrorKind::LimitExceeded, Reason::Capacity);
    let id = h
        .ok(
            "chatroom.create",
            json!({"owner": "alice", "name": "r", "members": ["bob"]}),
        )
        .await["id"]
        .clone();
    let e = h
        .fail(
            "chatroom.members.update",
            json!({"id": id, "add": ["carol"]}),
        )
        .await;
    expect(&e, ErrorKind::LimitExceeded, Reason::Capacity);
    h.ok(
        "chatroom.members.update",
        json!({"id": id, "add": ["carol"], "remove": ["bob"]}),
    )
    .await;
    assert_eq!(h.ok("chatroom.list", json!({})).await["total"], 1);
}

on_both_backends!(
    create_get_list_update_delete,
    members_and_mutes,
    capacity_is_enforced,
);
