//! Friends and blacklists.

use serde_json::json;

use super::{expect, names, Backend, Harness, OTHER_APP};
use crate::canonical::{ErrorKind, Reason};

async fn friends_are_symmetric_with_notes(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob", "carol"]).await;
    h.users_in(OTHER_APP, &["zed"]).await;
    let zed = json!({"username": "zed", "app_key": OTHER_APP});
    h.ok(
        "friend.add",
        json!({"username": "alice", "friends": ["bob", zed]}),
    )
    .await;
    let list = h.ok("friend.list", json!({"username": "alice"})).await;
    assert_eq!(names(&list["items"]), ["bob", "zed"]);
    assert_eq!(list["items"][1]["app_key"], OTHER_APP);
    let back = h.ok("friend.list", json!({"username": "bob"})).await;
    assert_eq!(names(&back["items"]), ["alice"]);
    let zed_friends = h
        .call_in(OTHER_APP, "friend.list", json!({"username": "zed"}))
        .await
        .unwrap();
    assert_eq!(zed_friends["items"][0]["app_key"], "app1");

    h.ok(
        "friend.note.update",
        json!({"username": "alice",
               "notes": [{"username": "bob", "note_name": "Bobby", "others": "met 2020"}]}),
    )
    .await;
    h.ok(
        "friend.note.update",
        json!({"username": "alice", "notes": [{"username": "bob", "others": "old pal"}]}),
    )
    .await;
    let list = h.ok("friend.list", json!({"username": "alice"})).await;
    assert_eq!(list["items"][0]["note_name"], "Bobby");
    assert_eq!(list["items"][0]["others"], "old pal");

    let e = h
        .fail(
            "friend.note.update",
            json!({"username": "alice", "notes": [{"username": "carol", "note_name": "c"}]}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Friend);
    let e = h
        .fail(
            "friend.note.update",
            json!({"username": "alice", "notes": [{"username": "ghost"}]}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Friend);

    h.ok(
        "friend.remove",
        json!({"username": "bob", "friends": ["alice", "carol"]}),
    )
    .await;
    let list = h.ok("friend.list", json!({"username": "alice"})).await;
    assert_eq!(names(&list["items"]), ["zed"]);
    assert_eq!(
        h.ok("friend.list", json!({"username": "bob"})).await["items"],
        json!([])
    );
}

async fn friend_add_fails_whole(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob", "carol"]).await;
    h.ok(
        "friend.add",
        json!({"username": "alice", "friends": ["bob"]}),
    )
    .await;
    let e = h
        .fail(
            "friend.add",
            json!({"username": "alice", "friends": ["carol", "bob"]}),
        )
        .await;
    expect(&e, ErrorKind::AlreadyExists, Reason::Friend);
    let e = h
        .fail(
            "friend.add",
            json!({"username": "alice", "friends": ["carol", "ghost"]}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);
    let e = h
        .fail(
            "friend.add",
            json!({"username": "alice", "friends": ["carol", "alice"]}),
        )
        .await;
    expect(&e, ErrorKind::InvalidArgument, Reason::Param);
    let e = h
        .fail(
            "friend.add",
            json!({"username": "ghost", "friends": ["carol"]}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);
    // None of the failed requests added carol.
    let list = h.ok("friend.list", json!({"username": "alice"})).await;
    assert_eq!(names(&list["items"]), ["bob"]);
    let e = h
        .fail(
            "friend.remove",
            json!({"username": "alice", "friends": ["ghost"]}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);
    let e = h.fail("friend.list", json!({"username": "ghost"})).await;
    expect(&e, ErrorKind::NotFound, Reason::User);
}

async fn blacklist_is_idempotent(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob", "carol"]).await;
    h.ok(
        "blacklist.add",
        json!({"username": "alice", "users": ["bob", "carol"]}),
    )
    .await;
    h.ok(
        "blacklist.add",
        json!({"username": "alice", "users": ["bob"]}),
    )
    .await;
    let list = h.ok("blacklist.list", json!({"username": "alice"})).await;
    assert_eq!(names(&list["items"]), ["bob", "carol"]);
    h.ok(
        "blacklist.remove",
        json!({"username": "alice", "users": ["bob"]}),
    )
    .await;
    h.ok(
        "blacklist.remove",
        json!({"username": "alice", "users": ["bob"]}),
    )
    .await;
    let list = h.ok("blacklist.list", json!({"username": "alice"})).await;
    assert_eq!(names(&list["items"]), ["carol"]);
    let e = h
        .fail(
            "blacklist.add",
            json!({"username": "alice", "users": ["bob", "ghost"]}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);
    let list = h.ok("blacklist.list", json!({"username": "alice"})).await;
    assert_eq!(
        names(&list["items"]),
        ["carol"],
        "failed request changed nothing"
    );
    let e = h
        .fail(
            "blacklist.remove",
            json!({"username": "ghost", "users": ["bob"]}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);
    let e = h.fail("blacklist.list", json!({"username": "ghost"})).await;
    expect(&e, ErrorKind::NotFound, Reason::User);
}

on_both_backends!(
    friends_are_symmetric_with_notes,
    friend_add_fails_whole,
    blacklist_is_idempotent,
);
