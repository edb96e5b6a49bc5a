//! The gaps a vendor leaves, closed (issue 14): written through A's
//! frontends, read back through the vendor's own API at B (the emulator's
//! inbound side) where the vendor can hold the state, and through A where
//! only imbridge's records can.

use serde_json::json;

use crate::chain::Chain;
use crate::jm::create_group;
use crate::rongcloud::{group_users, Rong};

/// RongCloud: friends (信息托管), deletion (deactivation), recalls by the
/// coordinates imbridge kept, and what only imbridge's records hold: a
/// group's owner and description, a room's owner, the lists RongCloud
/// cannot enumerate, pins.
#[tokio::test]
async fn rongcloud_gaps_are_closed_on_the_vendor_or_in_imbridges_records() {
    let chain = Chain::rongcloud();
    let jm = chain.proxy.jm();
    let wf = chain.proxy.wf();
    let rc = Rong::of(&chain.vendor);
    let users: Vec<_> = ["ann", "ben", "cat", "dan"]
        .iter()
        .map(|u| json!({"username": u, "password": "password", "nickname": u.to_uppercase()}))
        .collect();
    jm.post("/v1/users/", json!(users)).await.expect(201);

    // Friends and notes live at RongCloud.
    jm.post("/v1/users/ann/friends", json!(["ben", "cat"]))
        .await
        .expect(201);
    jm.put(
        "/v1/users/ann/friends",
        Some(json!([{"username": "ben", "note_name": "Benny", "others": "school"}])),
    )
    .await
    .expect_empty(204);
    let at_vendor = rc
        .post("/friend/get.json", &[("userId", "ann"), ("size", "100")])
        .await
        .rc_ok();
    let mut friends: Vec<_> = at_vendor.json["friendList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["userId"].clone(),
                f["remarkName"].clone(),
                f["name"].clone(),
            )
        })
        .collect();
    friends.sort_by_key(|f| f.0.to_string());
    assert_eq!(
        friends,
        vec![
            (json!("ben"), json!("Benny"), json!("BEN")),
            (json!("cat"), json!(""), json!("CAT"))
        ],
        "{}",
        at_vendor.text
    );
    jm.delete("/v1/users/ann/friends", Some(json!(["cat"])))
        .await
        .expect_empty(204);
    let left = rc
        .post("/friend/get.json", &[("userId", "ann")])
        .await
        .rc_ok();
    assert_eq!(left.json["totalCount"], 1, "{}", left.text);
    let listed = jm.get("/v1/users/ann/friends").await.expect(200);
    assert_eq!(listed.json[0]["username"], "ben", "{}", listed.text);
    assert_eq!(listed.json[0]["note_name"], "Benny", "{}", listed.text);

    // Users: the ones imbridge registered are RongCloud's user list; a
    // deleted one is deactivated at RongCloud and leaves the list.
    let all = jm.get("/v1/users/?start=0&count=10").await.expect(200);
    assert_eq!(all.json["total"], 4, "{}", all.text);
    jm.delete("/v1/users/dan", None).await.expect_empty(204);
    rc.post("/user/info.json", &[("userId", "dan")])
        .await
        .rc_error(404, 1002);
    let all = jm.get("/v1/users/?start=0&count=10").await.expect(200);
    assert_eq!(all.json["total"], 3, "{}", all.text);
    jm.get("/v1/users/dan").await.expect_jm_error(404, 899002);

    // A recall: RongCloud is asked with the conversation and send time
    // imbridge kept when the message went out; the message is recalled
    // at the vendor.
    let sent = jm
        .post(
            "/v1/messages",
            json!({"version": 1, "target_type": "single", "target_id": "ben", "from_type": "user",
                   "from_id": "ann", "msg_type": "text", "msg_body": {"text": "oops"}}),
        )
        .await
        .expect(201);
    let msg_id = sent.json["msg_id"].as_i64().expect("an integer msg_id");
    jm.post(&format!("/v1/messages/ben/{msg_id}/retract"), json!(null))
        .await
        .expect(403);
    jm.post(&format!("/v1/messages/ann/{msg_id}/retract"), json!(null))
        .await
        .expect_empty(204);
    let retracted: bool = chain
        .vendor
        .db()
        .query_row(
            "SELECT retracted FROM messages WHERE id = ?1",
            [msg_id],
            |r| r.get(0),
        )
        .expect("the message is at the vendor");
    assert!(retracted, "the vendor recalled the message");

    // A group: members and name at RongCloud, owner and description in
    // imbridge's records; the owner moves there too.
    let made = jm
        .post(
            "/v1/groups/",
            json!({"owner_username": "ann", "name": "team", "desc": "our team", "members_username": ["ben"]}),
        )
        .await
        .expect(201);
    let gid = made.json["gid"].as_i64().unwrap().to_string();
    assert_eq!(
        group_users(&rc, &gid).await,
        json!([{"id": "ann"}, {"id": "ben"}])
    );
    jm.put(
        &format!("/v1/groups/owner/{gid}"),
        Some(json!({"username": "cat"})),
    )
    .await
    .expect_empty(204);
    assert_eq!(
        group_users(&rc, &gid).await,
        json!([{"id": "ann"}, {"id": "ben"}, {"id": "cat"}]),
        "the new owner joined at the vendor"
    );
    let got = jm.get(&format!("/v1/groups/{gid}")).await.expect(200);
    assert_eq!(got.json["desc"], "our team", "{}", got.text);
    let members = jm
        .get(&format!("/v1/groups/{gid}/members/"))
        .await
        .expect(200);
    assert_eq!(members.json[0]["username"], "cat", "{}", members.text);
    assert_eq!(members.json[0]["flag"], 1, "{}", members.text);
    // Only the new owner may dismiss (haorenao checks the caller).
    let login = |u: &'static str| vec![("username", u), ("password", "password")];
    let refused = chain
        .proxy
        .post_form(&format!("/im/{gid}/group_dismiss/"), &login("ann"))
        .await
        .expect(200);
    assert_eq!(refused.json["ret"], "failed", "{}", refused.text);
    let other = create_group(&jm, "ben", "other", &[]).await.to_string();
    let groups = jm.get("/v1/groups/?start=0&count=10").await.expect(200);
    assert_eq!(groups.json["total"], 2, "{}", groups.text);
    chain
        .proxy
        .post_form(&format!("/im/{gid}/group_dismiss/"), &login("cat"))
        .await
        .expect(200);
    let groups = jm.get("/v1/groups/?start=0&count=10").await.expect(200);
    assert_eq!(groups.json["total"], 1, "{}", groups.text);
    assert_eq!(groups.json["groups"][0]["gid"].to_string(), other);

    // A room with an owner; a user's rooms are asked of RongCloud room by
    // room.
    let room = jm
        .post(
            "/v1/chatroom/",
            json!({"owner_username": "ann", "name": "hall", "description": "big", "members_username": ["ben"]}),
        )
        .await
        .expect(201);
    let rid = room.json["chatroom_id"].as_i64().unwrap();
    let exist = rc
        .post(
            "/chatroom/user/exist.json",
            &[("chatroomId", &rid.to_string()), ("userId", "ben")],
        )
        .await
        .rc_ok();
    assert_eq!(exist.json["isInChrm"], true, "{}", exist.text);
    let mine = jm.get("/v1/users/ben/chatroom").await.expect(200);
    assert_eq!(mine.json[0]["id"], rid, "{}", mine.text);
    assert_eq!(mine.json[0]["owner_username"], "ann", "{}", mine.text);
    let none = jm.get("/v1/users/cat/chatroom").await.expect(200);
    assert_eq!(none.json, json!([]), "{}", none.text);
    jm.put(
        &format!("/v1/chatroom/{rid}"),
        Some(json!({"name": "hall2", "description": "bigger"})),
    )
    .await
    .expect_empty(204);
    let rooms = jm.get("/v1/chatroom?start=0&count=10").await.expect(200);
    assert_eq!(rooms.json["total"], 1, "{}", rooms.text);
    assert_eq!(rooms.json["rooms"][0]["name"], "hall2", "{}", rooms.text);
    assert_eq!(rooms.json["rooms"][0]["description"], "bigger");

    // Settings and pins RongCloud cannot read back are imbridge's.
    let ok = |a: crate::harness::Answer| {
        assert_eq!(a.json["code"], 0, "{}", a.text);
        a
    };
    ok(wf
        .post(
            "/admin/user/put_setting",
            Some(json!({"userId": "ann", "scope": 1, "key": "k", "value": "v"})),
        )
        .await
        .expect(200));
    let setting = ok(wf
        .post(
            "/admin/user/get_setting",
            Some(json!({"userId": "ann", "scope": 1, "key": "k"})),
        )
        .await
        .expect(200));
    assert_eq!(setting.json["result"]["value"], "v", "{}", setting.text);
    let conv = json!({"type": 0, "target": "ben", "line": 0});
    ok(wf
        .post(
            "/admin/conversation/top",
            Some(json!({"userId": "ann", "conversation": conv, "top": 1})),
        )
        .await
        .expect(200));
    let top = ok(wf
        .post(
            "/admin/conversation/is_top",
            Some(json!({"userId": "ann", "conversation": conv})),
        )
        .await
        .expect(200));
    assert_eq!(top.json["result"]["value"], true, "{}", top.text);
    ok(wf
        .post(
            "/admin/system/put_setting",
            Some(json!({"id": 1, "value": "500", "desc": "max"})),
        )
        .await
        .expect(200));
    let system = ok(wf
        .post("/admin/system/get_setting", Some(json!({"id": 1})))
        .await
        .expect(200));
    assert_eq!(system.json["result"]["value"], "500", "{}", system.text);
}
