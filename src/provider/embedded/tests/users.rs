//! Users: registration, profiles, deletion, listing, passwords, tokens,
//! status, disable, do-not-disturb, settings, pins.

use serde_json::json;

use super::{expect, names, Backend, Harness, APP, OTHER_APP};
use crate::canonical::{ErrorKind, Reason};

async fn register_reports_each_item_and_commits_the_good_ones(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["taken"]).await;
    let out = h
        .ok(
            "user.register",
            json!({"users": [
                {"username": "alice", "password": "pw", "profile": {"nickname": "Alice"}},
                {"username": "bad name"},
                {"username": "taken", "password": "pw"},
                {"username": "alice", "password": "pw"},
                {"username": "/slash"},
                {"username": "bob"},
            ]}),
        )
        .await;
    let items = out["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    assert_eq!(items[0]["user"]["nickname"], "Alice");
    assert_eq!(items[0]["user"]["app_key"], APP);
    let reasons: Vec<_> = items
        .iter()
        .map(|i| i["error"]["reason"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        reasons,
        [
            None,
            Some("param"),
            Some("user"),
            Some("user"),
            Some("param"),
            None
        ]
        .map(|r| r.map(str::to_owned))
    );
    assert_eq!(items[2]["error"]["kind"], "already_exists");
    assert_eq!(items[3]["username"], "alice");
    h.ok("user.get", json!({"username": "bob"})).await;
}

async fn register_checks_passwords_and_names(backend: Backend) {
    let h = Harness::on(backend);
    let long = "x".repeat(129);
    let out = h
        .ok(
            "user.register",
            json!({"require_password": true, "users": [
                {"username": "a1"},
                {"username": "a2", "password": ""},
                {"username": "a3", "password": long},
                {"username": "a4", "password": "pw", "profile": {"nickname": "two\nlines"}},
                {"username": long},
                {"username": "a5", "password": "pw"},
            ]}),
        )
        .await;
    let errors: Vec<_> = out["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["error"]["kind"].as_str().map(str::to_owned))
        .collect();
    let invalid = Some("invalid_argument".to_owned());
    assert_eq!(
        errors,
        [
            invalid.clone(),
            invalid.clone(),
            invalid.clone(),
            invalid.clone(),
            invalid,
            None
        ]
    );
}

async fn get_update_and_missing_users(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice"]).await;
    let before = h.ok("user.get", json!({"username": "alice"})).await;
    h.ok(
        "user.update",
        json!({"username": "alice",
               "profile": {"nickname": "Al", "gender": 2, "extras": {"k": 1}}}),
    )
    .await;
    h.ok(
        "user.update",
        json!({"username": "alice", "profile": {"region": "Mars"}}),
    )
    .await;
    let after = h.ok("user.get", json!({"username": "alice"})).await;
    assert_eq!(after["nickname"], "Al");
    assert_eq!(after["gender"], 2);
    assert_eq!(after["region"], "Mars");
    assert_eq!(after["extras"], json!({"k": 1}));
    assert_eq!(after["uuid"], before["uuid"]);
    assert!(after["modified"].as_i64() >= before["modified"].as_i64());
    for (op, req) in [
        ("user.get", json!({"username": "ghost"})),
        ("user.update", json!({"username": "ghost", "profile": {}})),
        (
            "user.password.set",
            json!({"username": "ghost", "password": "x"}),
        ),
        (
            "user.disable",
            json!({"username": "ghost", "disabled": true}),
        ),
        ("user.token", json!({"username": "ghost"})),
        ("user.groups.list", json!({"user": "ghost"})),
        ("user.chatrooms.list", json!({"username": "ghost"})),
        (
            "user.settings.get",
            json!({"username": "ghost", "scope": 1, "key": "k"}),
        ),
        ("user.files.list", json!({"username": "ghost"})),
        ("message.offline_count", json!({"username": "ghost"})),
        (
            "conversation.top.get",
            json!({"username": "ghost", "conversation": {"target_type": "user", "target": "x"}}),
        ),
    ] {
        expect(&h.fail(op, req).await, ErrorKind::NotFound, Reason::User);
    }
    let e = h
        .fail(
            "user.update",
            json!({"username": "alice", "profile": {"nickname": "a\rb"}}),
        )
        .await;
    expect(&e, ErrorKind::InvalidArgument, Reason::Param);
}

async fn delete_is_all_or_nothing_and_cleans_up(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob", "carol"]).await;
    h.ok(
        "user.authenticate",
        json!({"username": "alice", "password": "pw"}),
    )
    .await;
    h.ok(
        "friend.add",
        json!({"username": "alice", "friends": ["bob"]}),
    )
    .await;
    h.ok(
        "blacklist.add",
        json!({"username": "carol", "users": ["alice"]}),
    )
    .await;
    let owned = h
        .ok(
            "group.create",
            json!({"owner": "alice", "name": "g", "members": ["bob"]}),
        )
        .await;
    let joined = h
        .ok(
            "group.create",
            json!({"owner": "carol", "name": "h", "members": ["alice"]}),
        )
        .await;

    let e = h
        .fail("user.delete", json!({"usernames": ["alice", "ghost"]}))
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);
    h.ok("user.get", json!({"username": "alice"})).await;

    h.ok("user.delete", json!({"usernames": ["alice"]})).await;
    expect(
        &h.fail("user.get", json!({"username": "alice"})).await,
        ErrorKind::NotFound,
        Reason::User,
    );
    let e = h.fail("group.get", json!({"group_id": owned["id"]})).await;
    expect(&e, ErrorKind::NotFound, Reason::Group);
    let h_group = h.ok("group.get", json!({"group_id": joined["id"]})).await;
    assert_eq!(h_group["member_count"], 1);
    let friends = h.ok("friend.list", json!({"username": "bob"})).await;
    assert_eq!(friends["items"], json!([]));
    let blocked = h.ok("blacklist.list", json!({"username": "carol"})).await;
    assert_eq!(blocked["items"], json!([]));
    // The name is free again; the old credentials are forgotten.
    h.ok(
        "user.register",
        json!({"users": [{"username": "alice", "password": "other"}]}),
    )
    .await;
    let auth = h
        .fail(
            "user.authenticate",
            json!({"username": "alice", "password": "pw"}),
        )
        .await;
    expect(&auth, ErrorKind::Unauthenticated, Reason::Credentials);
    h.ok(
        "user.authenticate",
        json!({"username": "alice", "password": "other"}),
    )
    .await;
}

async fn list_pages_with_cursor_and_kind(backend: Backend) {
    let h = Harness::on(backend);
    let names_in: Vec<String> = (0..7).map(|i| format!("user{i}")).collect();
    let refs: Vec<&str> = names_in.iter().map(String::as_str).collect();
    h.users(&refs).await;
    h.ok(
        "user.register",
        json!({"kind": "admin", "users": [{"username": "root", "password": "pw"}]}),
    )
    .await;
    h.users_in(OTHER_APP, &["elsewhere"]).await;

    let first = h.ok("user.list", json!({"paging": {"count": 3}})).await;
    assert_eq!(
        (
            first["total"].as_i64(),
            first["start"].as_i64(),
            first["count"].as_i64()
        ),
        (Some(8), Some(0), Some(3))
    );
    assert_eq!(names(&first["items"]), ["user0", "user1", "user2"]);
    assert_eq!(first["cursor"], "3");
    let second = h
        .ok("user.list", json!({"paging": {"count": 3, "cursor": "3"}}))
        .await;
    assert_eq!(names(&second["items"]), ["user3", "user4", "user5"]);
    let last = h
        .ok("user.list", json!({"paging": {"count": 3, "start": 6}}))
        .await;
    assert_eq!(names(&last["items"]), ["user6", "root"]);
    assert!(last.get("cursor").is_none());

    let all = h.ok("user.list", json!({})).await;
    assert_eq!(all["count"], 8);
    assert!(all.get("cursor").is_none());
    let capped = h
        .ok("user.list", json!({"paging": {"count": 100000}}))
        .await;
    assert_eq!(capped["count"], 8);
    let admins = h.ok("user.list", json!({"kind": "admin"})).await;
    assert_eq!(names(&admins["items"]), ["root"]);
    assert_eq!(admins["items"][0]["kind"], "admin");

    // Only the disabled users (or only the enabled ones), paged among
    // themselves.
    for name in ["user1", "user4", "user5"] {
        h.ok("user.disable", json!({"username": name, "disabled": true}))
            .await;
    }
    h.ok(
        "user.disable",
        json!({"username": "user5", "disabled": false}),
    )
    .await;
    let disabled = h.ok("user.list", json!({"disabled": true})).await;
    assert_eq!(names(&disabled["items"]), ["user1", "user4"]);
    assert_eq!(disabled["total"], 2);
    assert_eq!(disabled["items"][1]["disabled"], true);
    let page = h
        .ok(
            "user.list",
            json!({"disabled": true, "paging": {"start": 1, "count": 1}}),
        )
        .await;
    assert_eq!(names(&page["items"]), ["user4"]);
    let enabled = h.ok("user.list", json!({"disabled": false})).await;
    assert_eq!(enabled["total"], 6);
    assert!(!names(&enabled["items"]).contains(&"user1".to_string()));

    for paging in [
        json!({"cursor": "x"}),
        json!({"start": -1}),
        json!({"count": -5}),
    ] {
        let e = h.fail("user.list", json!({"paging": paging})).await;
        expect(&e, ErrorKind::InvalidArgument, Reason::Param);
    }
}

async fn authenticate_checks_passwords_and_caches(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice"]).await;
    h.ok("user.register", json!({"users": [{"username": "nopw"}]}))
        .await;
    h.ok(
        "user.authenticate",
        json!({"username": "alice", "password": "pw"}),
    )
    .await;
    // Second time from the cache.
    h.ok(
        "user.authenticate",
        json!({"username": "alice", "password": "pw"}),
    )
    .await;
    for (user, pw) in [
        ("alice", "nope"),
        ("ghost", "pw"),
        ("nopw", ""),
        ("nopw", "x"),
    ] {
        let e = h
            .fail(
                "user.authenticate",
                json!({"username": user, "password": pw}),
            )
            .await;
        expect(&e, ErrorKind::Unauthenticated, Reason::Credentials);
        assert_eq!(e.message, "invalid username or password");
    }
    // A cross-app caller does not see this app's user.
    let e = h
        .call_in(
            OTHER_APP,
            "user.authenticate",
            json!({"username": "alice", "password": "pw"}),
        )
        .await
        .unwrap_err();
    expect(&e, ErrorKind::Unauthenticated, Reason::Credentials);

    h.ok(
        "user.password.set",
        json!({"username": "alice", "password": "new"}),
    )
    .await;
    let e = h
        .fail(
            "user.authenticate",
            json!({"username": "alice", "password": "pw"}),
        )
        .await;
    expect(&e, ErrorKind::Unauthenticated, Reason::Credentials);
    h.ok(
        "user.authenticate",
        json!({"username": "alice", "password": "new"}),
    )
    .await;

    h.ok(
        "user.disable",
        json!({"username": "alice", "disabled": true}),
    )
    .await;
    let e = h
        .fail(
            "user.authenticate",
            json!({"username": "alice", "password": "new"}),
        )
        .await;
    expect(&e, ErrorKind::PermissionDenied, Reason::Forbidden);
    assert_eq!(
        h.ok("user.get", json!({"username": "alice"})).await["disabled"],
        true
    );
    h.ok(
        "user.disable",
        json!({"username": "alice", "disabled": false}),
    )
    .await;
    h.ok(
        "user.authenticate",
        json!({"username": "alice", "password": "new"}),
    )
    .await;

    let long = "p".repeat(129);
    let e = h
        .fail(
            "user.password.set",
            json!({"username": "alice", "password": long}),
        )
        .await;
    expect(&e, ErrorKind::InvalidArgument, Reason::Param);
}

async fn tokens_are_stable_and_mark_login(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob"]).await;
    let status = h
        .ok(
            "user.status",
            json!({"usernames": ["alice", "bob", "ghost"]}),
        )
        .await;
    assert_eq!(
        status["items"],
        json!([
            {"username": "alice", "exists": true, "login": false, "online": false, "devices": []},
            {"username": "bob", "exists": true, "login": false, "online": false, "devices": []},
            {"username": "ghost", "exists": false, "login": false, "online": false, "devices": []},
        ])
    );
    let e = h
        .fail(
            "user.status",
            json!({"usernames": ["alice", "ghost"], "require_existing": true}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);

    let t1 = h.ok("user.token", json!({"username": "alice"})).await;
    let t2 = h.ok("user.token", json!({"username": "alice"})).await;
    let token = t1["token"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    assert!(token
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    assert_eq!(t1, t2);
    h.ok(
        "user.authenticate",
        json!({"username": "bob", "password": "pw"}),
    )
    .await;
    let status = h
        .ok("user.status", json!({"usernames": ["alice", "bob"]}))
        .await;
    assert_eq!(status["items"][0]["login"], true);
    assert_eq!(status["items"][1]["login"], true);

    let created = h
        .ok(
            "user.token",
            json!({"username": "newbie", "create": {"nickname": "New"}}),
        )
        .await;
    assert_eq!(created["token"].as_str().unwrap().len(), 64);
    assert_eq!(
        h.ok("user.get", json!({"username": "newbie"})).await["nickname"],
        "New"
    );
    let e = h
        .fail("user.token", json!({"username": "bad name", "create": {}}))
        .await;
    expect(&e, ErrorKind::InvalidArgument, Reason::Param);
}

async fn nodisturb_settings_and_pins(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob"]).await;
    h.users_in(OTHER_APP, &["zed"]).await;
    let g = h
        .ok("group.create", json!({"owner": "alice", "name": "g"}))
        .await;
    let gid = g["id"].clone();
    h.ok(
        "user.nodisturb.set",
        json!({"username": "alice",
               "single": {"add": ["bob", {"username": "zed", "app_key": OTHER_APP}]},
               "group": {"add": [gid]}, "global": true}),
    )
    .await;
    h.ok(
        "user.nodisturb.set",
        json!({"username": "alice", "single": {"add": ["bob"], "remove": ["bob"]}}),
    )
    .await;
    let e = h
        .fail(
            "user.nodisturb.set",
            json!({"username": "alice", "group": {"add": [gid]}}),
        )
        .await;
    expect(&e, ErrorKind::InvalidArgument, Reason::AlreadyOn);
    h.ok(
        "user.nodisturb.set",
        json!({"username": "alice", "group": {"remove": [gid]}}),
    )
    .await;
    let e = h
        .fail(
            "user.nodisturb.set",
            json!({"username": "alice", "group": {"remove": [gid]}}),
        )
        .await;
    expect(&e, ErrorKind::InvalidArgument, Reason::AlreadyOff);
    let e = h
        .fail(
            "user.nodisturb.set",
            json!({"username": "alice", "group": {"add": ["999"]}}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Group);
    let e = h
        .fail(
            "user.nodisturb.set",
            json!({"username": "alice", "single": {"add": ["ghost"]}}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);
    let e = h
        .fail(
            "user.nodisturb.set",
            json!({"username": "ghost", "global": true}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);

    let unset = h
        .ok(
            "user.settings.get",
            json!({"username": "alice", "scope": 1, "key": "k"}),
        )
        .await;
    assert!(unset.get("value").is_none());
    h.ok(
        "user.settings.put",
        json!({"username": "alice", "scope": 1, "key": "k", "value": "v1"}),
    )
    .await;
    h.ok(
        "user.settings.put",
        json!({"username": "alice", "scope": 1, "key": "k", "value": "v2"}),
    )
    .await;
    let set = h
        .ok(
            "user.settings.get",
            json!({"username": "alice", "scope": 1, "key": "k"}),
        )
        .await;
    assert_eq!(set["value"], "v2");
    let e = h
        .fail(
            "user.settings.put",
            json!({"username": "ghost", "scope": 1, "key": "k", "value": "v"}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);

    let conv = json!({"target_type": "group", "target": "g1", "line": 0});
    let top = |top: bool| json!({"username": "alice", "conversation": conv, "top": top});
    let get = json!({"username": "alice", "conversation": conv});
    assert_eq!(
        h.ok("conversation.top.get", get.clone()).await["top"],
        false
    );
    h.ok("conversation.top.set", top(true)).await;
    h.ok("conversation.top.set", top(true)).await;
    assert_eq!(h.ok("conversation.top.get", get.clone()).await["top"], true);
    h.ok("conversation.top.set", top(false)).await;
    assert_eq!(h.ok("conversation.top.get", get).await["top"], false);
    let e = h
        .fail(
            "conversation.top.set",
            json!({"username": "ghost", "conversation": conv, "top": true}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);
}

on_both_backends!(
    register_reports_each_item_and_commits_the_good_ones,
    register_checks_passwords_and_names,
    get_update_and_missing_users,
    delete_is_all_or_nothing_and_cleans_up,
    list_pages_with_cursor_and_kind,
    authenticate_checks_passwords_and_caches,
    tokens_are_stable_and_mark_login,
    nodisturb_settings_and_pins,
);
