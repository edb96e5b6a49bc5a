//! Emulator chains (design §8): imbridge B serves vendor dialect X over its
//! embedded store, standing in for the vendor; imbridge A serves every seed
//! frontend with provider X pointed at B. A request to A crosses A's frontend
//! mapping, A's outbound mapping of X, real HTTP, B's inbound mapping of X and
//! B's store.

use crate::harness::{Imbridge, Setup, ALL_FRONTENDS};
use crate::jm::{create_group, sent_id, usernames};

/// A running chain.
pub struct Chain {
    /// B: the vendor stand-in.
    pub vendor: Imbridge,
    /// A: the proxy under test, all seed frontends on provider `vendor`.
    pub proxy: Imbridge,
}

impl Chain {
    /// Starts B serving `dialect` (its frontend table, e.g.
    /// `[frontends.jmessage.params]\nmaster_secret = "..."`, in `vendor_frontend`)
    /// and A with provider `vendor` of that dialect on B, whose params are
    /// `provider_params` (TOML lines under `[providers.vendor.params]`).
    pub fn start(dialect: &str, vendor_frontend: &str, provider_params: &str) -> Chain {
        Chain::start_with(dialect, vendor_frontend, "", provider_params)
    }

    /// [`Chain::start`] with `provider_lines` (TOML lines) added to A's
    /// `[providers.vendor]` table.
    pub fn start_with(
        dialect: &str,
        vendor_frontend: &str,
        provider_lines: &str,
        provider_params: &str,
    ) -> Chain {
        let b = Setup::new();
        let b_text = b.config_for(&[], vendor_frontend);
        let vendor = Imbridge::start_text(b, &b_text);
        let a = Setup::new();
        let provider = format!(
            "[providers.vendor]\nkind = \"vendor\"\ndialect = \"{dialect}\"\nbase_url = \"{}\"\ntimeout_ms = 3000\n{provider_lines}\n\n[providers.vendor.params]\n{provider_params}\n",
            vendor.base
        );
        let a_text = a.config_on(ALL_FRONTENDS, "vendor", &provider);
        let proxy = Imbridge::start_text(a, &a_text);
        Chain { vendor, proxy }
    }

    /// The Easemob chain: B serves Easemob (org/app/client credentials of
    /// `crate::easemob`); A's provider asks for them, plus `provider_extra`
    /// TOML lines under its params (e.g. `token_ttl = "62"`).
    pub fn easemob(provider_extra: &str) -> Chain {
        use crate::easemob::{CLIENT_ID, CLIENT_SECRET};
        Chain::start(
            "easemob",
            &crate::easemob::frontend_table(),
            &format!(
                "org_name = \"{org}\"\napp_name = \"{app}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n{provider_extra}\n",
                org = crate::easemob::ORG,
                app = crate::easemob::APP,
            ),
        )
    }

    /// The WildfireChat chain: B serves the WildfireChat admin API with the
    /// test secret; A signs its calls with it.
    pub fn wildfire() -> Chain {
        use crate::harness::WILDFIRE_SECRET;
        Chain::start(
            "wildfire",
            &format!("[frontends.wildfire.params]\nsecret = \"{WILDFIRE_SECRET}\"\n"),
            &format!("secret = \"{WILDFIRE_SECRET}\"\n"),
        )
    }

    /// The JMessage chain: B serves JMessage with the test credentials.
    pub fn jmessage() -> Chain {
        Chain::jmessage_with("")
    }

    /// The JMessage chain with `provider_extra` TOML lines under A's
    /// provider params (e.g. `room_owner = "w1"`).
    pub fn jmessage_with(provider_extra: &str) -> Chain {
        use crate::harness::{APP_KEY, MASTER_SECRET};
        Chain::start(
            "jmessage",
            &format!("[frontends.jmessage.params]\nmaster_secret = \"{MASTER_SECRET}\"\n"),
            &format!(
                "app_key = \"{APP_KEY}\"\nmaster_secret = \"{MASTER_SECRET}\"\n{provider_extra}\n"
            ),
        )
    }
}

#[tokio::test]
async fn jmessage_chain_carries_users_groups_and_messages() {
    use serde_json::json;
    let chain = Chain::jmessage();
    let jm = chain.proxy.jm();
    jm.post("/v1/users/", json!([{"username": "tom", "password": "password"}, {"username": "eddie", "password": "password"}]))
        .await
        .expect(201);
    let gid = create_group(&jm, "tom", "team", &["eddie"]).await;
    // The group really lives in B, the vendor stand-in.
    let at_vendor = chain
        .vendor
        .jm()
        .get(&format!("/v1/groups/{gid}/members/"))
        .await
        .expect(200);
    assert_eq!(usernames(&at_vendor.json), ["tom", "eddie"]);
    sent_id(
        &jm,
        json!({"version": 1, "target_type": "group", "target_id": gid.to_string(), "from_type": "user",
               "from_id": "tom", "msg_type": "text", "msg_body": {"text": "hi"}}),
    )
    .await;
    // A vendor error comes back as the caller's dialect error.
    jm.get("/v1/users/nobody")
        .await
        .expect_jm_error(404, 899002);
    // The proxy counted its calls to the vendor.
    let metrics = chain.proxy.metrics().await;
    assert!(metrics.contains("imbridge_provider_calls_total{op=\"group.create\",provider=\"vendor\",status=\"201\"} 1"), "{metrics}");
}

impl Chain {
    /// The RongCloud chain: B serves `rongcloud` (app key `APP_KEY`, secret
    /// `RC_SECRET`), A calls it with the same credentials.
    pub fn rongcloud() -> Chain {
        use crate::harness::APP_KEY;
        use crate::rongcloud::{rongcloud_frontend, RC_SECRET};
        Chain::start(
            "rongcloud",
            &rongcloud_frontend(RC_SECRET),
            &format!("app_key = \"{APP_KEY}\"\napp_secret = \"{RC_SECRET}\"\n"),
        )
    }
}

/// JMessage and haorenao clients of A, RongCloud (B) underneath: users,
/// groups with members and a text message land in B and read back there
/// through B's own RongCloud API; what RongCloud cannot do answers
/// `unsupported` in the caller's dialect.
#[tokio::test]
async fn rongcloud_chain_carries_users_groups_and_messages() {
    use crate::rongcloud::{group_users, Rong};
    use serde_json::json;
    let chain = Chain::rongcloud();
    let jm = chain.proxy.jm();
    let rc = Rong::of(&chain.vendor);
    // Users: registered through JMessage, known to RongCloud with their names.
    let reg = jm
        .post(
            "/v1/users/",
            json!([{"username": "tom", "password": "password", "nickname": "Tom"},
                   {"username": "eddie", "password": "password"}]),
        )
        .await
        .expect(201);
    assert_eq!(
        reg.json,
        json!([{"username": "tom"}, {"username": "eddie"}])
    );
    let info = rc
        .post("/user/info.json", &[("userId", "tom")])
        .await
        .rc_ok();
    assert_eq!(info.json["userName"], "Tom");
    let again = jm
        .post(
            "/v1/users/",
            json!([{"username": "tom", "password": "password"}]),
        )
        .await
        .expect(201);
    assert_eq!(again.json[0]["error"]["code"], 899001, "{}", again.text);
    jm.put("/v1/users/tom", Some(json!({"nickname": "Tommy"})))
        .await
        .expect_empty(204);
    let info = rc
        .post("/user/info.json", &[("userId", "tom")])
        .await
        .rc_ok();
    assert_eq!(info.json["userName"], "Tommy");
    let user = jm.get("/v1/users/tom").await.expect(200);
    assert_eq!(user.json["nickname"], "Tommy", "{}", user.text);
    jm.get("/v1/users/nobody")
        .await
        .expect_jm_error(404, 899002);
    // A group with a member, created through JMessage: its id is A's choice.
    let gid = create_group(&jm, "tom", "team", &["eddie"]).await;
    assert_eq!(
        group_users(&rc, &gid.to_string()).await,
        json!([{"id": "tom"}, {"id": "eddie"}])
    );
    let members = jm
        .get(&format!("/v1/groups/{gid}/members/"))
        .await
        .expect(200);
    let flags: Vec<_> = members
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["username"].clone(), m["flag"].clone()))
        .collect();
    assert_eq!(
        flags,
        vec![(json!("tom"), json!(1)), (json!("eddie"), json!(0))],
        "{}",
        members.text
    );
    assert_eq!(members.json[0]["nickname"], "Tommy", "{}", members.text);
    // A text message to the group, stored at B as text.
    let msg_id = sent_id(
        &jm,
        json!({"version": 1, "target_type": "group", "target_id": gid.to_string(),
               "from_type": "user", "from_id": "tom", "msg_type": "text",
               "msg_body": {"text": "hello team"}}),
    )
    .await;
    let (target, kind, content): (String, String, String) = chain
        .vendor
        .db()
        .query_row(
            "SELECT target, kind, content FROM messages WHERE id = ?1",
            [msg_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("the message is stored at the vendor");
    assert_eq!(
        (target.as_str(), kind.as_str()),
        (gid.to_string().as_str(), "text")
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&content).unwrap()["text"],
        "hello team"
    );
    // haorenao (logins checked by A's shadow credentials): eddie sees the
    // group; tom creates another, eddie joins, only tom may dismiss it.
    let login = |u: &'static str| vec![("username", u), ("password", "password")];
    let groups = chain
        .proxy
        .post_form("/im/user_get_group_list/", &login("eddie"))
        .await
        .expect(200);
    assert_eq!(
        groups.json["groups"],
        json!([{"id": gid, "name": "team"}]),
        "{}",
        groups.text
    );
    let mut create = login("tom");
    create.push(("name", "club"));
    let created = chain
        .proxy
        .post_form("/im/group_create/", &create)
        .await
        .expect(200);
    let club = created.json["group_id"].as_i64().expect("integer group_id");
    chain
        .proxy
        .post_form(&format!("/im/{club}/group_join/"), &login("eddie"))
        .await
        .expect(200);
    assert_eq!(
        group_users(&rc, &club.to_string()).await,
        json!([{"id": "tom"}, {"id": "eddie"}])
    );
    let listed = chain
        .proxy
        .post_form(&format!("/im/{club}/group_get_user_list/"), &login("eddie"))
        .await
        .expect(200);
    assert_eq!(listed.json["ret"], "ok", "{}", listed.text);
    assert_eq!(listed.json["group_name"], "club");
    assert_eq!(listed.json["userinfos"][0]["nickname"], "Tommy");
    let refused = chain
        .proxy
        .post_form(&format!("/im/{club}/group_dismiss/"), &login("eddie"))
        .await
        .expect(200);
    assert_eq!(refused.json["ret"], "failed", "{}", refused.text);
    chain
        .proxy
        .post_form(&format!("/im/{club}/group_dismiss/"), &login("tom"))
        .await
        .expect(200);
    rc.post("/group/user/query.json", &[("groupId", &club.to_string())])
        .await
        .rc_error(404, 1002);
    // The group read back: RongCloud's members and name, imbridge's owner.
    let info = jm.get(&format!("/v1/groups/{gid}")).await.expect(200);
    assert_eq!(info.json["name"], "team", "{}", info.text);
    let haorenao = chain
        .proxy
        .get(&format!("/im/{gid}/group_get_info/"))
        .await
        .expect(200);
    assert_eq!(haorenao.json["group_name"], "team", "{}", haorenao.text);
    // What RongCloud cannot do: unsupported, in each caller's dialect,
    // naming the provider.
    let shield = jm
        .post("/v1/users/eddie/groupsShield", json!({"add": [gid]}))
        .await
        .expect(501);
    let message = shield.json["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("group.shield") && message.contains("vendor"),
        "{}",
        shield.text
    );
    // RongCloud has no media API: imbridge keeps an upload itself, and a
    // message cannot carry it by media id.
    let upload = jm
        .upload("image", "a.png", crate::harness::png(2, 2, [1, 2, 3]))
        .await
        .expect(200);
    let media_id = upload.json["media_id"].as_str().unwrap();
    let image = jm
        .post(
            "/v1/messages",
            json!({"version": 1, "target_type": "single", "target_id": "eddie", "from_type": "user",
                   "from_id": "tom", "msg_type": "image", "msg_body": {"media_id": media_id}}),
        )
        .await
        .expect(501);
    assert!(image.text.contains("vendor"), "{}", image.text);
}

/// A's signatures are what B checks: with another secret, B refuses every
/// call and A answers its caller with an upstream error, not a success.
#[tokio::test]
async fn rongcloud_chain_with_a_wrong_secret_fails_upstream() {
    use crate::harness::APP_KEY;
    use crate::rongcloud::{rongcloud_frontend, RC_SECRET};
    use serde_json::json;
    let chain = Chain::start(
        "rongcloud",
        &rongcloud_frontend(RC_SECRET),
        &format!("app_key = \"{APP_KEY}\"\napp_secret = \"not-the-secret\"\n"),
    );
    let jm = chain.proxy.jm();
    let a = jm.get("/v1/users/tom").await.expect(502);
    assert!(a.text.contains("1004"), "{}", a.text);
    let metrics = chain.proxy.metrics().await;
    assert!(
        metrics.contains(
            "imbridge_provider_calls_total{op=\"user.get\",provider=\"vendor\",status=\"401\"}"
        ),
        "{metrics}"
    );
    let reg = jm
        .post(
            "/v1/users/",
            json!([{"username": "tom", "password": "password"}]),
        )
        .await;
    assert_eq!(reg.status, 502, "{}", reg.text);
}

/// More of RongCloud as a provider, through JMessage and WildfireChat
/// frontends of A: blacklists, status, disable, members added and removed,
/// mutes, chatrooms, sensitive words, tokens, conversation pins, each
/// checked at B; and the vendor's refusals as the caller's errors.
#[tokio::test]
async fn rongcloud_chain_runs_the_rest_of_the_provider() {
    use crate::rongcloud::{group_users, Rong};
    use serde_json::json;
    let chain = Chain::rongcloud();
    let jm = chain.proxy.jm();
    let rc = Rong::of(&chain.vendor);
    let users: Vec<_> = ["ann", "ben", "cat", "dan"]
        .iter()
        .map(|u| json!({"username": u, "password": "password"}))
        .collect();
    jm.post("/v1/users/", json!(users)).await.expect(201);
    // Blacklist.
    jm.put("/v1/users/ann/blacklist", Some(json!(["ben", "cat"])))
        .await
        .expect_empty(204);
    let black = rc
        .post("/user/blacklist/query.json", &[("userId", "ann")])
        .await
        .rc_ok();
    assert_eq!(black.json["users"], json!(["ben", "cat"]));
    jm.delete("/v1/users/ann/blacklist", Some(json!(["ben"])))
        .await
        .expect_empty(204);
    let listed = jm.get("/v1/users/ann/blacklist").await.expect(200);
    assert_eq!(listed.json[0]["username"], "cat", "{}", listed.text);
    assert_eq!(listed.json.as_array().unwrap().len(), 1);
    // Status and disable.
    let stat = jm.get("/v1/users/ann/userstat").await.expect(200);
    assert_eq!(stat.json["online"], false, "{}", stat.text);
    jm.get("/v1/users/nobody/userstat")
        .await
        .expect_jm_error(404, 899002);
    jm.put("/v1/users/dan/forbidden?disable=true", None)
        .await
        .expect_empty(204);
    let text = r#"{"content":"x"}"#;
    let send = [
        ("fromUserId", "dan"),
        ("toUserId", "ann"),
        ("objectName", "RC:TxtMsg"),
        ("content", text),
    ];
    rc.post("/message/private/publish.json", &send)
        .await
        .rc_error(403, 1002);
    jm.put("/v1/users/dan/forbidden?disable=false", None)
        .await
        .expect_empty(204);
    rc.post("/message/private/publish.json", &send)
        .await
        .rc_ok();
    // Group members added and removed, mutes, errors in JMessage's codes.
    let gid = create_group(&jm, "ann", "g", &["ben"]).await.to_string();
    jm.post(
        &format!("/v1/groups/{gid}/members"),
        json!({"add": ["cat", "dan"], "remove": ["ben"]}),
    )
    .await
    .expect_empty(204);
    assert_eq!(
        group_users(&rc, &gid).await,
        json!([{"id": "ann"}, {"id": "cat"}, {"id": "dan"}])
    );
    jm.post(
        &format!("/v1/groups/{gid}/members"),
        json!({"add": ["cat"]}),
    )
    .await
    .expect_jm_error(409, 899011);
    jm.post(
        &format!("/v1/groups/{gid}/members"),
        json!({"remove": ["ben"]}),
    )
    .await
    .expect_jm_error(404, 899014);
    jm.post("/v1/groups/99999/members", json!({"add": ["cat"]}))
        .await
        .expect_jm_error(404, 899006);
    jm.put(
        &format!("/v1/groups/messages/{gid}/silence?status=true"),
        Some(json!(["cat"])),
    )
    .await
    .expect_empty(204);
    let gagged = rc
        .post("/group/user/gag/list.json", &[("groupId", &gid)])
        .await
        .rc_ok();
    assert_eq!(gagged.json["users"], json!([{"userId": "cat"}]));
    let groups = jm.get("/v1/users/cat/groups/").await.expect(200);
    assert_eq!(groups.json[0]["name"], "g", "{}", groups.text);
    jm.put(&format!("/v1/groups/{gid}"), Some(json!({"name": "g2"})))
        .await
        .expect_empty(204);
    let named = rc
        .post("/user/group/query.json", &[("userId", "cat")])
        .await
        .rc_ok();
    assert_eq!(named.json["groups"], json!([{"id": gid, "name": "g2"}]));
    // A description RongCloud has no place for is imbridge's to keep.
    jm.put(
        &format!("/v1/groups/{gid}"),
        Some(json!({"desc": "only a description"})),
    )
    .await
    .expect_empty(204);
    let described = jm.get(&format!("/v1/groups/{gid}")).await.expect(200);
    assert_eq!(described.json["desc"], "only a description");
    assert_eq!(described.json["name"], "g2", "{}", described.text);
    // Do not disturb per conversation; a global one has no RongCloud call.
    jm.post(
        "/v1/users/ann/nodisturb",
        json!({"single": {"add": ["dan"]}, "group": {"add": [gid.parse::<i64>().unwrap()]}}),
    )
    .await
    .expect_empty(204);
    let quiet: (i64, i64) = chain
        .vendor
        .db()
        .query_row(
            "SELECT (SELECT COUNT(*) FROM nodisturb_users), (SELECT COUNT(*) FROM nodisturb_groups)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(quiet, (1, 1));
    jm.post("/v1/users/ann/nodisturb", json!({"global": 1}))
        .await
        .expect(501);
    jm.delete(&format!("/v1/groups/{gid}"), None)
        .await
        .expect_empty(204);
    rc.post("/group/user/query.json", &[("groupId", &gid)])
        .await
        .rc_error(404, 1002);
    // A chatroom with members. RongCloud rooms have no owner: imbridge
    // keeps JMessage's; an ownerless room comes through WildfireChat, its
    // members through JMessage.
    let owned = jm
        .post(
            "/v1/chatroom/",
            json!({"owner_username": "ann", "name": "hall", "members_username": ["ben", "cat"]}),
        )
        .await
        .expect(201);
    let owned_id = owned.json["chatroom_id"]
        .as_i64()
        .expect("an integer room id");
    let batch = jm
        .post("/v1/chatroom/batch", json!([owned_id]))
        .await
        .expect(200);
    assert_eq!(batch.json[0]["owner_username"], "ann", "{}", batch.text);
    assert_eq!(batch.json[0]["total_member_count"], 2, "{}", batch.text);
    jm.delete(&format!("/v1/chatroom/{owned_id}"), None)
        .await
        .expect_empty(204);
    let wf = chain.proxy.wf();
    let room = wf
        .post("/admin/chatroom/create", Some(json!({"title": "hall"})))
        .await
        .expect(200);
    assert_eq!(room.json["code"], 0, "{}", room.text);
    let rid = room.json["result"]["chatroomId"]
        .as_str()
        .expect("a room id")
        .to_string();
    jm.put(
        &format!("/v1/chatroom/{rid}/members"),
        Some(json!(["ben", "cat"])),
    )
    .await
    .expect_empty(204);
    let rooms = rc
        .post("/chatroom/query.json", &[("chatroomId", &rid)])
        .await
        .rc_ok();
    assert_eq!(rooms.json["chatRooms"][0]["name"], "hall");
    let info = jm
        .post("/v1/chatroom/batch", json!([rid.parse::<i64>().unwrap()]))
        .await
        .expect(200);
    assert_eq!(info.json[0]["total_member_count"], 2, "{}", info.text);
    let members = jm
        .get(&format!("/v1/chatroom/{rid}/members"))
        .await
        .expect(200);
    assert_eq!(members.json["total"], 2, "{}", members.text);
    jm.delete(&format!("/v1/chatroom/{rid}/members"), Some(json!(["ben"])))
        .await
        .expect(501);
    jm.delete(&format!("/v1/chatroom/{rid}"), None)
        .await
        .expect_empty(204);
    let rooms = rc
        .post("/chatroom/query.json", &[("chatroomId", &rid)])
        .await
        .rc_ok();
    assert_eq!(rooms.json["chatRooms"], json!([]));
    // Sensitive words.
    jm.post("/v1/sensitiveword", json!(["w1", "w2"]))
        .await
        .expect_empty(204);
    jm.put(
        "/v1/sensitiveword",
        Some(json!({"old_word": "w1", "new_word": "w3"})),
    )
    .await
    .expect_empty(204);
    jm.delete("/v1/sensitiveword", Some(json!({"word": "w2"})))
        .await
        .expect_empty(204);
    let words = rc
        .post("/sensitiveword/list.json", &[("type", "1")])
        .await
        .rc_ok();
    assert_eq!(words.json["words"][0]["word"], "w3", "{}", words.text);
    assert_eq!(words.json["words"].as_array().unwrap().len(), 1);
    let listed = jm
        .get("/v1/sensitiveword?start=0&count=10")
        .await
        .expect(200);
    assert_eq!(listed.json["words"][0]["name"], "w3", "{}", listed.text);
    // A token through haorenao is RongCloud's token for the user.
    let token = chain
        .proxy
        .post_form(
            "/im/user_get_token/",
            &[("username", "ann"), ("password", "password")],
        )
        .await
        .expect(200);
    let at_vendor = rc
        .post("/user/getToken.json", &[("userId", "ann")])
        .await
        .rc_ok();
    assert_eq!(
        token.json["token"], at_vendor.json["token"],
        "{}",
        token.text
    );
    // haorenao's group_sync re-syncs what RongCloud knows: nothing changes.
    let kept = create_group(&jm, "ann", "kept", &[]).await.to_string();
    let synced = chain
        .proxy
        .post_form(
            "/im/group_sync/",
            &[("username", "ann"), ("password", "password")],
        )
        .await
        .expect(200);
    assert_eq!(synced.json["ret"], "ok", "{}", synced.text);
    let groups = rc
        .post("/user/group/query.json", &[("userId", "ann")])
        .await
        .rc_ok();
    assert_eq!(
        groups.json["groups"],
        json!([{"id": kept, "name": "kept"}]),
        "{}",
        groups.text
    );
    // A conversation pinned through WildfireChat.
    let pinned = wf
        .post(
            "/admin/conversation/top",
            Some(json!({"userId": "ann", "conversation": {"type": 0, "target": "ben", "line": 0}, "top": 1})),
        )
        .await
        .expect(200);
    assert_eq!(pinned.json["code"], 0, "{}", pinned.text);
    let tops: (String, String) = chain
        .vendor
        .db()
        .query_row(
            "SELECT target_type, target FROM conversation_tops",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(tops, ("user".to_string(), "ben".to_string()));
}
