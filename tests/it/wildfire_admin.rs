//! wildfire, the rest of WildfireChat's admin API (reference §4.4) over the
//! embedded store: users, friends, blacklists, groups, messages, chatrooms
//! and sensitive words, with the exact JSON classes of §4.3. Together with
//! `wildfire.rs` (the seed's general API) this makes imbridge + embedded a
//! WildfireChat emulator — the vendor stand-in of the wildfire chain.

use serde_json::{json, Value};

use crate::harness::{assert_shape, Answer, Imbridge, Wf};
use crate::jm::assert_millis_now;
use crate::wildfire::{fail, ok};

async fn call(wf: &Wf, path: &str, body: Value) -> Answer {
    wf.post(path, Some(body)).await
}

/// Creates users through `/admin/user/create`.
async fn create_users(wf: &Wf, ids: &[&str]) {
    for id in ids {
        let a = ok(call(
            wf,
            "/admin/user/create",
            json!({"userId": id, "name": id, "displayName": format!("{id}!")}),
        )
        .await);
        assert_eq!(a["result"], json!({"userId": id, "name": id}));
    }
}

#[tokio::test]
async fn users_create_read_update_block_and_destroy() {
    let im = Imbridge::start();
    let wf = im.wf();
    // Create with the whole InputOutputUserInfo.
    let a = ok(call(
        &wf,
        "/admin/user/create",
        json!({"userId": "u1", "name": "u1", "password": "ignored", "displayName": "User One",
               "portrait": "http://img/u1.png", "gender": 1, "mobile": "13800000000",
               "email": "u1@example.com", "address": "Street 1", "company": "ACME",
               "social": "s", "extra": "{\"level\":3}", "type": 0}),
    )
    .await);
    assert_eq!(a["result"], json!({"userId": "u1", "name": "u1"}));
    let info = ok(call(&wf, "/admin/user/get_info", json!({"userId": "u1"})).await);
    let user = &info["result"];
    assert_shape(
        user,
        &[
            ("userId", "string"),
            ("name", "string"),
            ("displayName", "string"),
            ("portrait", "string"),
            ("gender", "integer"),
            ("mobile", "string"),
            ("email", "string"),
            ("address", "string"),
            ("company", "string"),
            ("extra", "string"),
            ("type", "integer"),
            ("updateDt", "integer"),
        ],
        true,
    );
    assert_millis_now(&user["updateDt"]);
    assert_eq!(user["displayName"], "User One");
    assert_eq!(user["portrait"], "http://img/u1.png");
    assert_eq!(user["gender"], 1);
    assert_eq!(user["mobile"], "13800000000");
    assert_eq!(user["type"], 0);
    let extra: Value = serde_json::from_str(user["extra"].as_str().unwrap()).unwrap();
    assert_eq!(extra, json!({"level": 3}));
    // The same user through JMessage: one store.
    let jm = im.jm().get("/v1/users/u1").await.expect(200).json;
    assert_eq!(jm["nickname"], "User One");
    assert_eq!(jm["extras"], json!({"level": 3}));
    // Lookup by name when userId is empty (imbridge keeps one identifier).
    let by_name = ok(call(
        &wf,
        "/admin/user/get_info",
        json!({"userId": "", "name": "u1"}),
    )
    .await);
    assert_eq!(by_name["result"]["userId"], "u1");
    // Create again: an upsert that changes the profile, not an error.
    let a = ok(call(
        &wf,
        "/admin/user/create",
        json!({"userId": "u1", "name": "u1", "displayName": "Renamed", "extra": "plain text"}),
    )
    .await);
    assert_eq!(a["result"], json!({"userId": "u1", "name": "u1"}));
    let info = ok(call(&wf, "/admin/user/get_info", json!({"userId": "u1"})).await);
    assert_eq!(info["result"]["displayName"], "Renamed");
    assert_eq!(info["result"]["extra"], "plain text");
    assert_eq!(info["result"]["company"], "ACME", "fields not sent stay");
    // No userId: the name is the id.
    let a = ok(call(&wf, "/admin/user/create", json!({"name": "u2"})).await);
    assert_eq!(a["result"]["userId"], "u2");
    // name is required; a missing user is 253.
    fail(
        call(&wf, "/admin/user/create", json!({"userId": "u3"})).await,
        251,
    );
    fail(
        call(&wf, "/admin/user/get_info", json!({"userId": "nobody"})).await,
        253,
    );
    // Robots and admins by type.
    ok(call(
        &wf,
        "/admin/user/create",
        json!({"userId": "adm", "name": "adm", "type": 3}),
    )
    .await);
    let adm = ok(call(&wf, "/admin/user/get_info", json!({"userId": "adm"})).await);
    assert_eq!(adm["result"]["type"], 3);

    // Tokens per user.
    let t = ok(call(
        &wf,
        "/admin/user/get_token",
        json!({"userId": "u1", "clientId": "c1", "platform": 2}),
    )
    .await);
    assert_shape(
        &t["result"],
        &[("userId", "string"), ("token", "string")],
        true,
    );
    assert_eq!(t["result"]["userId"], "u1");
    fail(
        call(
            &wf,
            "/admin/user/get_token",
            json!({"userId": "nobody", "clientId": "c"}),
        )
        .await,
        253,
    );

    // Block status: 2 forbids, 0 lifts; 1 (muted) is not supported.
    let status = |wf: Wf| async move {
        ok(call(
            &wf,
            "/admin/user/check_block_status",
            json!({"userId": "u1"}),
        )
        .await)["result"]
            .clone()
    };
    assert_eq!(status(wf.clone()).await, json!({"status": 0}));
    ok(call(
        &wf,
        "/admin/user/update_block_status",
        json!({"userId": "u1", "status": 2}),
    )
    .await);
    assert_eq!(status(wf.clone()).await, json!({"status": 2}));
    ok(call(
        &wf,
        "/admin/user/update_block_status",
        json!({"userId": "u1", "status": 0}),
    )
    .await);
    assert_eq!(status(wf.clone()).await, json!({"status": 0}));
    fail(
        call(
            &wf,
            "/admin/user/update_block_status",
            json!({"userId": "u1", "status": 1}),
        )
        .await,
        254,
    );

    // The user list, paged by offset and count.
    let all = ok(call(&wf, "/admin/user/all", json!({"offset": 0, "count": 2})).await);
    let list = all["result"]["userInfoList"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["userId"], "u1");
    let rest = ok(call(&wf, "/admin/user/all", json!({"offset": 2, "count": 10})).await);
    assert_eq!(rest["result"]["userInfoList"][0]["userId"], "adm");
    // Sessions: the store has no live connections.
    let online = ok(call(&wf, "/admin/user/onlinestatus", json!({"userId": "u1"})).await);
    assert_eq!(online["result"], json!({"sessions": []}));

    // Destroy: gone for everyone.
    ok(call(&wf, "/admin/user/destroy", json!({"userId": "u2"})).await);
    fail(
        call(&wf, "/admin/user/get_info", json!({"userId": "u2"})).await,
        253,
    );
    im.jm()
        .get("/v1/users/u2")
        .await
        .expect_jm_error(404, 899002);
    fail(
        call(&wf, "/admin/user/destroy", json!({"userId": "u2"})).await,
        253,
    );
}

#[tokio::test]
async fn friends_aliases_and_blacklists() {
    let im = Imbridge::start();
    let wf = im.wf();
    create_users(&wf, &["a", "b", "c"]).await;
    // status 0 (or none) makes friends, both ways.
    ok(call(
        &wf,
        "/admin/friend/status",
        json!({"userId": "a", "friendUid": "b", "status": 0}),
    )
    .await);
    ok(call(
        &wf,
        "/admin/friend/status",
        json!({"userId": "a", "friendUid": "c"}),
    )
    .await);
    let list = ok(call(&wf, "/admin/friend/list", json!({"userId": "a"})).await);
    assert_eq!(list["result"], json!({"list": ["b", "c"]}));
    let list = ok(call(&wf, "/admin/friend/list", json!({"userId": "b"})).await);
    assert_eq!(list["result"], json!({"list": ["a"]}));
    // Friends already: 23.
    fail(
        call(
            &wf,
            "/admin/friend/status",
            json!({"userId": "a", "friendUid": "b", "status": 0}),
        )
        .await,
        23,
    );
    // Aliases and extras.
    ok(call(
        &wf,
        "/admin/friend/set_alias",
        json!({"operator": "a", "targetId": "b", "alias": "Bee"}),
    )
    .await);
    let alias = ok(call(
        &wf,
        "/admin/friend/get_alias",
        json!({"operator": "a", "targetId": "b"}),
    )
    .await);
    assert_eq!(
        alias["result"],
        json!({"operator": "a", "targetId": "b", "alias": "Bee"})
    );
    ok(call(
        &wf,
        "/admin/friend/set_extra",
        json!({"operator": "a", "targetId": "b", "extra": "met at work"}),
    )
    .await);
    let friends = im.jm().get("/v1/users/a/friends").await.expect(200).json;
    assert_eq!(friends[0]["note_name"], "Bee");
    assert_eq!(friends[0]["others"], "met at work");
    // status 1 ends the friendship.
    ok(call(
        &wf,
        "/admin/friend/status",
        json!({"userId": "a", "friendUid": "c", "status": 1}),
    )
    .await);
    let list = ok(call(&wf, "/admin/friend/list", json!({"userId": "a"})).await);
    assert_eq!(list["result"], json!({"list": ["b"]}));
    fail(
        call(
            &wf,
            "/admin/friend/status",
            json!({"userId": "a", "friendUid": "c", "status": 7}),
        )
        .await,
        251,
    );
    fail(
        call(
            &wf,
            "/admin/friend/status",
            json!({"userId": "a", "friendUid": "zz", "status": 0}),
        )
        .await,
        253,
    );

    // Blacklist: status 2 adds, 1 removes.
    ok(call(
        &wf,
        "/admin/blacklist/status",
        json!({"userId": "a", "targetUid": "c", "status": 2}),
    )
    .await);
    let black = ok(call(&wf, "/admin/blacklist/list", json!({"userId": "a"})).await);
    assert_eq!(black["result"], json!({"list": ["c"]}));
    ok(call(
        &wf,
        "/admin/blacklist/status",
        json!({"userId": "a", "targetUid": "c", "status": 1}),
    )
    .await);
    let black = ok(call(&wf, "/admin/blacklist/list", json!({"userId": "a"})).await);
    assert_eq!(black["result"], json!({"list": []}));
    fail(
        call(
            &wf,
            "/admin/blacklist/status",
            json!({"userId": "a", "targetUid": "c", "status": 0}),
        )
        .await,
        251,
    );
}

#[tokio::test]
async fn groups_members_owners_and_mutes() {
    let im = Imbridge::start();
    let wf = im.wf();
    create_users(&wf, &["owner", "m1", "m2", "m3"]).await;
    // Create with a chosen id: the members list names the owner too.
    let created = ok(call(
        &wf,
        "/admin/group/create",
        json!({"operator": "owner", "to_lines": [0],
               "group": {"group_info": {"target_id": "g1", "name": "team", "portrait": "http://img/g.png",
                                         "owner": "owner", "type": 2, "extra": "about us"},
                         "members": [{"member_id": "owner"}, {"member_id": "m1"}]}}),
    )
    .await);
    assert_eq!(created["result"], json!({"group_id": "g1"}));
    // The same id again: 11 (group exists).
    fail(
        call(
            &wf,
            "/admin/group/create",
            json!({"group": {"group_info": {"target_id": "g1", "name": "again", "owner": "owner"}}}),
        )
        .await,
        11,
    );
    // Without an id the server makes one.
    let other = ok(call(
        &wf,
        "/admin/group/create",
        json!({"operator": "m2", "group": {"group_info": {"name": "other"}, "members": []}}),
    )
    .await);
    assert!(other["result"]["group_id"].is_string(), "{other}");

    let info = ok(call(&wf, "/admin/group/get_info", json!({"groupId": "g1"})).await);
    assert_eq!(
        info["result"],
        json!({"target_id": "g1", "name": "team", "portrait": "http://img/g.png", "owner": "owner",
               "type": 2, "extra": "about us", "mute": 0, "join_type": 0, "private_chat": 0,
               "searchable": 0, "max_member_count": info["result"]["max_member_count"],
               "history_message": 0, "super_group": 0})
    );
    assert!(info["result"]["max_member_count"].is_i64());
    fail(
        call(&wf, "/admin/group/get_info", json!({"groupId": "nope"})).await,
        253,
    );

    // Members: add, list (owner type 2), remove.
    ok(call(
        &wf,
        "/admin/group/member/add",
        json!({"operator": "owner", "group_id": "g1", "members": [{"member_id": "m2"}, {"member_id": "m3"}]}),
    )
    .await);
    fail(
        call(
            &wf,
            "/admin/group/member/add",
            json!({"operator": "owner", "group_id": "g1", "members": [{"member_id": "m2"}]}),
        )
        .await,
        12,
    );
    let members = ok(call(&wf, "/admin/group/member/list", json!({"groupId": "g1"})).await);
    let members = members["result"]["members"].as_array().unwrap().clone();
    let ids: Vec<&str> = members
        .iter()
        .map(|m| m["member_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["owner", "m1", "m2", "m3"]);
    for m in &members {
        assert_shape(
            m,
            &[
                ("member_id", "string"),
                ("type", "integer"),
                ("createDt", "integer"),
            ],
            true,
        );
    }
    for m in &members {
        assert_millis_now(&m["createDt"]);
    }
    assert_eq!(members[0]["type"], 2);
    assert_eq!(members[1]["type"], 0);
    ok(call(
        &wf,
        "/admin/group/member/del",
        json!({"operator": "owner", "group_id": "g1", "members": ["m3"]}),
    )
    .await);
    ok(call(
        &wf,
        "/admin/group/member/quit",
        json!({"operator": "m2", "group_id": "g1"}),
    )
    .await);
    let members = ok(call(&wf, "/admin/group/member/list", json!({"groupId": "g1"})).await);
    assert_eq!(members["result"]["members"].as_array().unwrap().len(), 2);
    // A user's groups.
    let of = ok(call(&wf, "/admin/group/of_user", json!({"userId": "m1"})).await);
    assert_eq!(of["result"], json!({"groupIds": ["g1"]}));

    // Modify: 0 name, 1 portrait, 2 extra; others are not supported.
    for (ty, value) in [(0, "renamed"), (1, "http://img/g2.png"), (2, "new about")] {
        ok(call(
            &wf,
            "/admin/group/modify",
            json!({"operator": "owner", "group_id": "g1", "type": ty, "value": value}),
        )
        .await);
    }
    let info = ok(call(&wf, "/admin/group/get_info", json!({"groupId": "g1"})).await);
    assert_eq!(info["result"]["name"], "renamed");
    assert_eq!(info["result"]["portrait"], "http://img/g2.png");
    assert_eq!(info["result"]["extra"], "new about");
    fail(
        call(
            &wf,
            "/admin/group/modify",
            json!({"operator": "owner", "group_id": "g1", "type": 3, "value": "1"}),
        )
        .await,
        254,
    );

    // Mute (the commercial server's manager/mute), seen as type 3.
    ok(call(
        &wf,
        "/admin/group/manager/mute",
        json!({"operator": "owner", "group_id": "g1", "members": ["m1"], "is_manager": true}),
    )
    .await);
    let members = ok(call(&wf, "/admin/group/member/list", json!({"groupId": "g1"})).await);
    assert_eq!(members["result"]["members"][1]["type"], 3);

    // Transfer, then dismiss.
    ok(call(
        &wf,
        "/admin/group/transfer",
        json!({"operator": "owner", "group_id": "g1", "new_owner": "m1"}),
    )
    .await);
    let info = ok(call(&wf, "/admin/group/get_info", json!({"groupId": "g1"})).await);
    assert_eq!(info["result"]["owner"], "m1");
    ok(call(
        &wf,
        "/admin/group/del",
        json!({"operator": "m1", "group_id": "g1"}),
    )
    .await);
    fail(
        call(&wf, "/admin/group/get_info", json!({"groupId": "g1"})).await,
        253,
    );
}

#[tokio::test]
async fn messages_send_multicast_and_recall() {
    let im = Imbridge::start();
    let wf = im.wf();
    create_users(&wf, &["s", "r1", "r2"]).await;
    let text = json!({"type": 1, "searchableContent": "hello", "extra": "{\"k\":1}"});
    let sent = ok(call(
        &wf,
        "/admin/message/send",
        json!({"sender": "s", "conv": {"type": 0, "target": "r1", "line": 0}, "payload": text}),
    )
    .await);
    assert_shape(
        &sent["result"],
        &[("messageUid", "integer"), ("timestamp", "integer")],
        true,
    );
    assert_millis_now(&sent["result"]["timestamp"]);
    let uid = sent["result"]["messageUid"].as_i64().unwrap();
    // r1 has it waiting (easemob-hx counts offline messages).
    let hx = im.hx().await;
    let count = hx
        .call("/hx/offlineMsgCount", json!({"owner_username": "r1"}))
        .await
        .json;
    assert_eq!(count["data"]["data"]["r1"], 1);
    // Recall by its sender.
    ok(call(
        &wf,
        "/admin/message/recall",
        json!({"operator": "s", "messageUid": uid}),
    )
    .await);
    fail(
        call(
            &wf,
            "/admin/message/recall",
            json!({"operator": "s", "messageUid": 12345}),
        )
        .await,
        253,
    );
    // Multicast: one message to several users.
    let multi = ok(call(
        &wf,
        "/admin/message/multicast",
        json!({"sender": "s", "line": 0, "targets": ["r1", "r2"], "payload": text}),
    )
    .await);
    assert!(multi["result"]["messageUid"].is_i64());
    // An image by URL to a group; a custom message (type >= 1000).
    ok(call(
        &wf,
        "/admin/group/create",
        json!({"group": {"group_info": {"target_id": "g", "name": "g", "owner": "s"},
                         "members": [{"member_id": "r1"}]}}),
    )
    .await);
    for payload in [
        json!({"type": 3, "remoteMediaUrl": "http://img/p.png"}),
        json!({"type": 1001, "content": "{\"x\":1}"}),
    ] {
        let sent = ok(call(
            &wf,
            "/admin/message/send",
            json!({"sender": "s", "conv": {"type": 1, "target": "g", "line": 0},
                   "payload": payload}),
        )
        .await);
        assert_shape(
            &sent["result"],
            &[("messageUid", "integer"), ("timestamp", "integer")],
            true,
        );
        assert_millis_now(&sent["result"]["timestamp"]);
    }
    // Channels (3) have no canonical target; a missing group is 253.
    fail(
        call(
            &wf,
            "/admin/message/send",
            json!({"sender": "s", "conv": {"type": 3, "target": "ch", "line": 0}, "payload": text}),
        )
        .await,
        254,
    );
    fail(
        call(
            &wf,
            "/admin/message/send",
            json!({"sender": "s", "conv": {"type": 1, "target": "nope", "line": 0}, "payload": text}),
        )
        .await,
        253,
    );
}

#[tokio::test]
async fn chatrooms_and_sensitive_words() {
    let im = Imbridge::start();
    let wf = im.wf();
    let created = ok(call(
        &wf,
        "/admin/chatroom/create",
        json!({"chatroomId": "room1", "title": "Lobby", "desc": "everyone", "portrait": "", "state": 0}),
    )
    .await);
    assert_eq!(created["result"], json!({"chatroomId": "room1"}));
    let info = ok(call(&wf, "/admin/chatroom/info", json!({"chatroomId": "room1"})).await);
    assert_shape(
        &info["result"],
        &[
            ("chatroomId", "string"),
            ("title", "string"),
            ("desc", "string"),
            ("state", "integer"),
            ("memberCount", "integer"),
            ("createDt", "integer"),
            ("updateDt", "integer"),
        ],
        true,
    );
    assert_millis_now(&info["result"]["createDt"]);
    assert_millis_now(&info["result"]["updateDt"]);
    assert_eq!(info["result"]["title"], "Lobby");
    assert_eq!(info["result"]["desc"], "everyone");
    assert_eq!(info["result"]["memberCount"], 0);
    let members = ok(call(
        &wf,
        "/admin/chatroom/members",
        json!({"chatroomId": "room1"}),
    )
    .await);
    assert_eq!(members["result"], json!({"list": []}));
    ok(call(&wf, "/admin/chatroom/del", json!({"chatroomId": "room1"})).await);
    fail(
        call(&wf, "/admin/chatroom/info", json!({"chatroomId": "room1"})).await,
        253,
    );
    fail(
        call(&wf, "/admin/chatroom/del", json!({"chatroomId": "room1"})).await,
        253,
    );

    ok(call(
        &wf,
        "/admin/sensitive/add",
        json!({"words": ["foo", "bar"]}),
    )
    .await);
    let words = ok(call(&wf, "/admin/sensitive/query", json!({})).await);
    let mut list: Vec<String> = serde_json::from_value(words["result"]["words"].clone()).unwrap();
    list.sort();
    assert_eq!(list, ["bar", "foo"]);
    ok(call(&wf, "/admin/sensitive/del", json!({"words": ["foo"]})).await);
    let words = ok(wf.post("/admin/sensitive/query", None).await);
    assert_eq!(words["result"], json!({"words": ["bar"]}));
}
