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
    settings_and_pins_are_kept(&wf).await;
    wf_ok(
        &wf,
        "/admin/system/put_setting",
        json!({"id": 1, "value": "500", "desc": "max"}),
    )
    .await;
    let system = wf_ok(&wf, "/admin/system/get_setting", json!({"id": 1})).await;
    assert_eq!(system["value"], "500", "{system}");
}

/// B's WildfireChat answer to a signed call, asserting `code` 0.
async fn wf_ok(wf: &crate::harness::Wf, path: &str, body: serde_json::Value) -> serde_json::Value {
    let a = wf.post(path, Some(body)).await.expect(200);
    assert_eq!(a.json["code"], 0, "{path}: {}", a.text);
    a.json["result"].clone()
}

/// A user setting and a conversation pin written through WildfireChat's
/// admin API read back the same (kept by imbridge where the vendor cannot).
async fn settings_and_pins_are_kept(wf: &crate::harness::Wf) {
    wf_ok(
        wf,
        "/admin/user/put_setting",
        json!({"userId": "ann", "scope": 1, "key": "k", "value": "v"}),
    )
    .await;
    let setting = wf_ok(
        wf,
        "/admin/user/get_setting",
        json!({"userId": "ann", "scope": 1, "key": "k"}),
    )
    .await;
    assert_eq!(setting["value"], "v", "{setting}");
    let conv = json!({"type": 0, "target": "ben", "line": 0});
    wf_ok(
        wf,
        "/admin/conversation/top",
        json!({"userId": "ann", "conversation": conv, "top": 1}),
    )
    .await;
    let top = wf_ok(
        wf,
        "/admin/conversation/is_top",
        json!({"userId": "ann", "conversation": conv}),
    )
    .await;
    assert_eq!(top["value"], true, "{top}");
}

/// WildfireChat: users listed and do-not-disturb set as the server's own
/// settings, a user's room, a file, room owners and groups imbridge made
/// (records), room updates by the server's upsert.
#[tokio::test]
async fn wildfire_gaps_are_closed_on_the_vendor_or_in_imbridges_records() {
    let chain = Chain::wildfire();
    let jm = chain.proxy.jm();
    let b = chain.vendor.wf();
    let a = chain.proxy.wf();
    let users: Vec<_> = ["ann", "ben", "cat"]
        .iter()
        .map(|u| json!({"username": u, "password": "password", "nickname": u.to_uppercase()}))
        .collect();
    jm.post("/v1/users/", json!(users)).await.expect(201);

    // Users: WildfireChat's own list.
    let all = jm.get("/v1/users/?start=0&count=10").await.expect(200);
    assert_eq!(all.json["total"], 3, "{}", all.text);
    let at_vendor = wf_ok(&b, "/admin/user/all", json!({"offset": 0, "count": 10})).await;
    assert_eq!(at_vendor["userInfoList"].as_array().unwrap().len(), 3);

    // Do-not-disturb: the server's user settings (scope 1 per
    // conversation, 2 for everything).
    jm.post(
        "/v1/users/ann/nodisturb",
        json!({"single": {"add": ["ben"]}, "global": 1}),
    )
    .await
    .expect_empty(204);
    let conv = wf_ok(
        &b,
        "/admin/user/get_setting",
        json!({"userId": "ann", "scope": 1, "key": "0-0-ben"}),
    )
    .await;
    assert_eq!(conv["value"], "1", "{conv}");
    let global = wf_ok(
        &b,
        "/admin/user/get_setting",
        json!({"userId": "ann", "scope": 2, "key": ""}),
    )
    .await;
    assert_eq!(global["value"], "1", "{global}");

    // A room with an owner (imbridge's record), renamed through the
    // server's upsert; a user who joined it (clients join rooms: written
    // into B as its client would) finds it through A.
    let room = jm
        .post(
            "/v1/chatroom/",
            json!({"owner_username": "ann", "name": "hall", "description": "big"}),
        )
        .await
        .expect(201);
    let rid = room.json["chatroom_id"]
        .as_i64()
        .expect("an integer room id");
    let info = jm
        .post("/v1/chatroom/batch", json!([rid]))
        .await
        .expect(200);
    assert_eq!(info.json[0]["owner_username"], "ann", "{}", info.text);
    jm.put(
        &format!("/v1/chatroom/{rid}"),
        Some(json!({"name": "hall2", "description": "bigger"})),
    )
    .await
    .expect_empty(204);
    // B knows the room by its own id (A shows an integer for it).
    let listed = jm.get("/v1/chatroom?start=0&count=10").await.expect(200);
    assert_eq!(listed.json["total"], 1, "{}", listed.text);
    assert_eq!(listed.json["rooms"][0]["name"], "hall2", "{}", listed.text);
    assert_eq!(listed.json["rooms"][0]["owner_username"], "ann");
    let b_rooms: Vec<String> = {
        let db = chain.vendor.db();
        let mut stmt = db.prepare("SELECT rid FROM rooms").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(b_rooms.len(), 1);
    let at_b = wf_ok(
        &b,
        "/admin/chatroom/info",
        json!({"chatroomId": b_rooms[0]}),
    )
    .await;
    assert_eq!(
        (at_b["title"].clone(), at_b["desc"].clone()),
        (json!("hall2"), json!("bigger")),
        "{at_b}"
    );
    {
        let db = deadpool_sqlite::rusqlite::Connection::open(chain.vendor.db_path()).unwrap();
        db.execute(
            "INSERT INTO room_members (room_id, user_id, joined)
             SELECT r.id, u.id, 0 FROM rooms r, users u WHERE u.username = 'ben'",
            [],
        )
        .unwrap();
    }
    let mine = jm.get("/v1/users/ben/chatroom").await.expect(200);
    assert_eq!(mine.json[0]["id"], rid, "{}", mine.text);
    assert_eq!(mine.json[0]["owner_username"], "ann", "{}", mine.text);
    let none = jm.get("/v1/users/cat/chatroom").await.expect(200);
    assert_eq!(none.json, json!([]), "{}", none.text);

    // Groups imbridge made are its list; a dismissed one leaves it.
    let one = crate::jm::create_group(&jm, "ann", "one", &["ben"]).await;
    crate::jm::create_group(&jm, "ben", "two", &[]).await;
    let groups = jm.get("/v1/groups/?start=0&count=10").await.expect(200);
    assert_eq!(groups.json["total"], 2, "{}", groups.text);
    jm.delete(&format!("/v1/groups/{one}"), None)
        .await
        .expect_empty(204);
    let groups = jm.get("/v1/groups/?start=0&count=10").await.expect(200);
    assert_eq!(groups.json["total"], 1, "{}", groups.text);
    assert_eq!(groups.json["groups"][0]["name"], "two", "{}", groups.text);

    // A file message sent through A is the server's file.
    let sent = wf_ok(
        &a,
        "/admin/message/send",
        json!({"sender": "ann", "conv": {"type": 0, "target": "ben", "line": 0},
               "payload": {"type": 5, "searchableContent": "doc.pdf", "remoteMediaUrl": "https://files.example/doc.pdf"}}),
    )
    .await;
    let uid = sent["messageUid"].clone();
    let file = wf_ok(&a, "/admin/file/get", json!({"messageUid": uid})).await;
    assert_eq!(file["url"], "https://files.example/doc.pdf", "{file}");
    assert_eq!(file["filename"], "doc.pdf", "{file}");
    let at_b = wf_ok(&b, "/admin/file/get", json!({"messageUid": uid})).await;
    assert_eq!(at_b["url"], file["url"]);

    // haorenao's re-sync: the user must exist; a list is refused.
    let synced = chain
        .proxy
        .post_form(
            "/im/group_sync/",
            &[("username", "ann"), ("password", "password")],
        )
        .await
        .expect(200);
    assert_eq!(synced.json["ret"], "ok", "{}", synced.text);
}

/// Easemob: friend remarks and do-not-disturb at the vendor (its newer
/// contacts and push-settings APIs), other friend notes, sensitive words
/// (masked in the messages imbridge sends), settings and pins in imbridge's
/// records.
#[tokio::test]
async fn easemob_gaps_are_closed_on_the_vendor_or_in_imbridges_records() {
    let chain = Chain::easemob("");
    let jm = chain.proxy.jm();
    let em = crate::easemob::Em::admin(&chain.vendor).await;
    let users: Vec<_> = ["ann", "ben", "cat"]
        .iter()
        .map(|u| json!({"username": u, "password": "password", "nickname": u.to_uppercase()}))
        .collect();
    jm.post("/v1/users/", json!(users)).await.expect(201);

    // A friend's note name is Easemob's remark.
    jm.post("/v1/users/ann/friends", json!(["ben", "cat"]))
        .await
        .expect(201);
    jm.put(
        "/v1/users/ann/friends",
        Some(json!([{"username": "ben", "note_name": "Benny"}])),
    )
    .await
    .expect_empty(204);
    let at_vendor = em
        .get("/user/ann/contacts?limit=50&needReturnRemark=true")
        .await
        .expect(200);
    let remarks: Vec<_> = at_vendor.json["data"]["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["remark"].is_null())
        .map(|c| (c["username"].clone(), c["remark"].clone()))
        .collect();
    assert_eq!(
        remarks,
        vec![(json!("ben"), json!("Benny"))],
        "{}",
        at_vendor.text
    );
    let friends = jm.get("/v1/users/ann/friends").await.expect(200);
    let benny: Vec<_> = friends
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["note_name"] == "Benny")
        .collect();
    assert_eq!(benny.len(), 1, "{}", friends.text);
    // Other notes are imbridge's records, for friends only.
    jm.put(
        "/v1/users/ann/friends",
        Some(json!([{"username": "ben", "others": "school"}])),
    )
    .await
    .expect_empty(204);
    jm.put(
        "/v1/users/ann/friends",
        Some(json!([{"username": "dan", "others": "work"}])),
    )
    .await
    .expect(404);
    let friends = jm.get("/v1/users/ann/friends").await.expect(200);
    let ben: Vec<_> = friends
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["username"] == "ben")
        .collect();
    assert_eq!(ben[0]["note_name"], "Benny", "{}", friends.text);
    assert_eq!(ben[0]["others"], "school", "{}", friends.text);

    // Do-not-disturb per conversation is Easemob's push setting.
    jm.post(
        "/v1/users/ann/nodisturb",
        json!({"single": {"add": ["ben"]}}),
    )
    .await
    .expect_empty(204);
    let quiet: i64 = chain
        .vendor
        .db()
        .query_row("SELECT COUNT(*) FROM nodisturb_users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(quiet, 1, "the vendor keeps it");
    jm.post("/v1/users/ann/nodisturb", json!({"global": 1}))
        .await
        .expect(501);

    // Sensitive words: imbridge's list, masked in what it sends, while on.
    jm.post("/v1/sensitiveword", json!(["darn", "heck"]))
        .await
        .expect_empty(204);
    let words = jm.get("/v1/sensitiveword").await.expect(200);
    assert_eq!(words.json["total"], 2, "{}", words.text);
    let send = |text: &'static str| {
        let jm = jm.clone();
        async move {
            jm.post(
                "/v1/messages",
                json!({"version": 1, "target_type": "single", "target_id": "ben", "from_type": "user",
                       "from_id": "ann", "msg_type": "text", "msg_body": {"text": text}}),
            )
            .await
            .expect(201)
        }
    };
    let stored = |chain: &Chain| -> String {
        chain
            .vendor
            .db()
            .query_row(
                "SELECT content FROM messages ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    send("oh darn, what the heck").await;
    let content: serde_json::Value = serde_json::from_str(&stored(&chain)).unwrap();
    assert_eq!(content["text"], "oh ****, what the ****", "{content}");
    jm.put("/v1/sensitiveword/status?status=0", None)
        .await
        .expect_empty(204);
    let status = jm.get("/v1/sensitiveword/status").await.expect(200);
    assert_eq!(status.json["status"], 0, "{}", status.text);
    send("darn").await;
    let content: serde_json::Value = serde_json::from_str(&stored(&chain)).unwrap();
    assert_eq!(content["text"], "darn", "{content}");

    // Settings and pins through WildfireChat: imbridge's records.
    let wf = chain.proxy.wf();
    settings_and_pins_are_kept(&wf).await;
}
