//! WildfireChat as a provider: A serves JMessage (and the other seed
//! frontends) on provider `wildfire` pointed at B, a WildfireChat emulator
//! (imbridge's wildfire frontend over its embedded store). What A does lands
//! in B's store, read back through B's own WildfireChat API; B's `{code,
//! msg}` errors come back as the caller's errors.

use serde_json::{json, Value};

use crate::chain::Chain;
use crate::harness::{Answer, Setup, Wf, ALL_FRONTENDS, WILDFIRE_SECRET};

/// B's answer to a signed call, asserting `code` 0.
async fn at_vendor(wf: &Wf, path: &str, body: Value) -> Value {
    let a = wf.post(path, Some(body)).await.expect(200);
    assert_eq!(a.json["code"], 0, "{path}: {}", a.text);
    a.json["result"].clone()
}

fn unsupported(a: Answer, status: u16) -> String {
    let a = a.expect(status);
    let msg = a.json["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(msg.contains("vendor"), "the provider is named: {}", a.text);
    msg
}

#[tokio::test]
async fn jmessage_on_wildfire_users_groups_messages_and_errors() {
    let chain = Chain::wildfire();
    let jm = chain.proxy.jm();
    let wf = chain.vendor.wf();

    // Register: users land in WildfireChat with their profile.
    let reg = jm
        .post(
            "/v1/users/",
            json!([{"username": "tom", "password": "tom-pw", "nickname": "Tom", "gender": 1,
                    "extras": {"lang": "en"}},
                   {"username": "eddie", "password": "eddie-pw"}]),
        )
        .await
        .expect(201);
    assert_eq!(
        reg.json,
        json!([{"username": "tom"}, {"username": "eddie"}])
    );
    let tom = at_vendor(&wf, "/admin/user/get_info", json!({"userId": "tom"})).await;
    assert_eq!(tom["displayName"], "Tom");
    assert_eq!(tom["gender"], 1);
    let extra: Value = serde_json::from_str(tom["extra"].as_str().unwrap()).unwrap();
    assert_eq!(extra, json!({"lang": "en"}));
    // Registering tom again: a per-item error (WildfireChat would upsert).
    let again = jm
        .post("/v1/users/", json!([{"username": "tom", "password": "x"}, {"username": "ann", "password": "ann-pw"}]))
        .await
        .expect(201);
    assert_eq!(again.json[0]["error"]["code"], 899001, "{}", again.text);
    assert_eq!(again.json[1], json!({"username": "ann"}));
    let tom = at_vendor(&wf, "/admin/user/get_info", json!({"userId": "tom"})).await;
    assert_eq!(tom["displayName"], "Tom", "not overwritten");

    // Read back through A, update, refuse what WildfireChat has no place for.
    let got = jm.get("/v1/users/tom").await.expect(200).json;
    assert_eq!(got["nickname"], "Tom");
    assert_eq!(got["extras"], json!({"lang": "en"}));
    jm.put(
        "/v1/users/tom",
        Some(json!({"nickname": "Tommy", "address": "Here"})),
    )
    .await
    .expect_empty(204);
    let tom = at_vendor(&wf, "/admin/user/get_info", json!({"userId": "tom"})).await;
    assert_eq!(tom["displayName"], "Tommy");
    assert_eq!(tom["address"], "Here");
    assert_eq!(tom["gender"], 1, "fields not sent stay");
    let refused = unsupported(
        jm.put("/v1/users/tom", Some(json!({"signature": "hi"})))
            .await,
        501,
    );
    assert!(refused.contains("signature"), "{refused}");
    jm.get("/v1/users/nobody")
        .await
        .expect_jm_error(404, 899002);

    // Disable through A: B's block status.
    jm.put("/v1/users/eddie/forbidden?disable=true", None)
        .await
        .expect_empty(204);
    let block = at_vendor(
        &wf,
        "/admin/user/check_block_status",
        json!({"userId": "eddie"}),
    )
    .await;
    assert_eq!(block["status"], 2);
    jm.put("/v1/users/eddie/forbidden?disable=false", None)
        .await
        .expect_empty(204);

    // Friends and their note names; blacklist.
    jm.post("/v1/users/tom/friends", json!(["eddie"]))
        .await
        .expect(201);
    assert_eq!(
        at_vendor(&wf, "/admin/friend/list", json!({"userId": "eddie"})).await,
        json!({"list": ["tom"]})
    );
    jm.post("/v1/users/tom/friends", json!(["eddie"]))
        .await
        .expect_jm_error(409, 899070);
    jm.put(
        "/v1/users/tom/friends",
        Some(json!([{"username": "eddie", "note_name": "Ed"}])),
    )
    .await
    .expect_empty(204);
    let friends = jm.get("/v1/users/tom/friends").await.expect(200).json;
    assert_eq!(friends[0]["username"], "eddie");
    assert_eq!(friends[0]["note_name"], "Ed");
    jm.put("/v1/users/tom/blacklist", Some(json!(["ann"])))
        .await
        .expect_empty(204);
    assert_eq!(
        at_vendor(&wf, "/admin/blacklist/list", json!({"userId": "tom"})).await,
        json!({"list": ["ann"]})
    );
    let black = jm.get("/v1/users/tom/blacklist").await.expect(200).json;
    assert_eq!(black[0]["username"], "ann");

    // A group: JMessage's integer gid is WildfireChat's string id.
    let group = jm
        .post(
            "/v1/groups/",
            json!({"owner_username": "tom", "name": "team", "desc": "about", "members_username": ["eddie"]}),
        )
        .await
        .expect(201);
    let gid = group.json["gid"].as_i64().expect("an integer gid");
    assert_eq!(group.json["name"], "team");
    assert_eq!(group.json["desc"], "about");
    let info = at_vendor(
        &wf,
        "/admin/group/get_info",
        json!({"groupId": gid.to_string()}),
    )
    .await;
    assert_eq!(info["owner"], "tom");
    assert_eq!(info["extra"], "about");
    let members = at_vendor(
        &wf,
        "/admin/group/member/list",
        json!({"groupId": gid.to_string()}),
    )
    .await;
    let ids: Vec<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["member_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["tom", "eddie"]);
    // Members through A, with their profiles and the owner flag.
    jm.post(
        &format!("/v1/groups/{gid}/members"),
        json!({"add": ["ann"]}),
    )
    .await
    .expect_empty(204);
    jm.post(
        &format!("/v1/groups/{gid}/members"),
        json!({"add": ["ann"]}),
    )
    .await
    .expect_jm_error(409, 899011);
    let listed = jm
        .get(&format!("/v1/groups/{gid}/members/"))
        .await
        .expect(200)
        .json;
    assert_eq!(
        listed[0],
        json!({"username": "tom", "nickname": "Tommy", "address": "Here", "gender": 1, "flag": 1})
    );
    assert_eq!(listed.as_array().unwrap().len(), 3);
    // Update: name and description as WildfireChat modifies.
    jm.put(
        &format!("/v1/groups/{gid}"),
        Some(json!({"name": "team2", "desc": "new"})),
    )
    .await
    .expect_empty(204);
    let got = jm.get(&format!("/v1/groups/{gid}")).await.expect(200).json;
    assert_eq!(got["name"], "team2");
    assert_eq!(got["desc"], "new");
    let groups = jm.get("/v1/users/ann/groups/").await.expect(200).json;
    assert_eq!(groups[0]["gid"], gid);

    // A message to the group and one to a user; recall the second.
    let sent = jm
        .post(
            "/v1/messages",
            json!({"version": 1, "target_type": "group", "target_id": gid.to_string(), "from_type": "user",
                   "from_id": "tom", "msg_type": "text", "msg_body": {"text": "hi all"}}),
        )
        .await
        .expect(201);
    assert!(sent.json["msg_id"].is_i64(), "{}", sent.text);
    let dm = jm
        .post(
            "/v1/messages",
            json!({"version": 1, "target_type": "single", "target_id": "eddie", "from_type": "user",
                   "from_id": "tom", "msg_type": "text", "msg_body": {"text": "hi Ed"}}),
        )
        .await
        .expect(201);
    let msg_id = dm.json["msg_id"].as_i64().unwrap();
    jm.post(&format!("/v1/messages/tom/{msg_id}/retract"), json!(null))
        .await
        .expect_empty(204);
    jm.post(&format!("/v1/messages/tom/{msg_id}/retract"), json!(null))
        .await
        .expect_jm_error(409, 855004);
    jm.post("/v1/messages/tom/999/retract", json!(null))
        .await
        .expect_jm_error(404, 855003);
    // An image by media id: WildfireChat takes media by URL only.
    unsupported(
        jm.post(
            "/v1/messages",
            json!({"version": 1, "target_type": "single", "target_id": "eddie", "from_type": "user",
                   "from_id": "tom", "msg_type": "image", "msg_body": {"media_id": "qiniu/image/x"}}),
        )
        .await,
        501,
    );

    // Sensitive words, then what WildfireChat cannot do at all.
    jm.post("/v1/sensitiveword", json!(["foo", "bar"]))
        .await
        .expect_empty(204);
    let words = jm.get("/v1/sensitiveword").await.expect(200).json;
    assert_eq!(words["total"], 2);
    assert!(
        words["words"][0].get("itime").is_none(),
        "WildfireChat keeps no times"
    );
    // WildfireChat applies its words always: on, and cannot be turned off.
    let status = jm.get("/v1/sensitiveword/status").await.expect(200);
    assert_eq!(status.json["status"], 1, "{}", status.text);
    let msg = unsupported(jm.put("/v1/sensitiveword/status?status=0", None).await, 501);
    assert!(msg.contains("always applies"), "{msg}");
    let msg = unsupported(
        jm.post("/v1/users/tom/groupsShield", json!({"add": [1]}))
            .await,
        501,
    );
    assert!(msg.contains("group.shield"), "{msg}");
    // Media: WildfireChat's media server is not the admin API, so imbridge
    // keeps the upload itself and serves it from its own download route.
    let picture = crate::harness::png(2, 2, [0, 0, 0]);
    let up = jm
        .upload("image", "a.png", picture.clone())
        .await
        .expect(200);
    let media_id = up.json["media_id"].as_str().unwrap();
    let found = jm
        .get(&format!("/v1/resource?mediaId={media_id}"))
        .await
        .expect(200);
    let url = found.json["url"].as_str().unwrap();
    assert!(url.starts_with(&chain.proxy.base), "{url}");
    let download = reqwest::get(url).await.unwrap();
    assert_eq!(download.status(), 200, "GET {url}");
    assert_eq!(&download.bytes().await.unwrap()[..], &picture[..]);

    // Transfer, then dismiss: gone at the vendor.
    jm.put(
        &format!("/v1/groups/owner/{gid}"),
        Some(json!({"username": "eddie"})),
    )
    .await
    .expect_empty(204);
    let info = at_vendor(
        &wf,
        "/admin/group/get_info",
        json!({"groupId": gid.to_string()}),
    )
    .await;
    assert_eq!(info["owner"], "eddie");
    jm.delete(&format!("/v1/groups/{gid}"), None)
        .await
        .expect_empty(204);
    jm.get(&format!("/v1/groups/{gid}"))
        .await
        .expect_jm_error(404, 899006);
    // Users deleted through A are gone at B.
    jm.delete("/v1/users/ann", None).await.expect_empty(204);
    let gone = wf
        .post("/admin/user/get_info", Some(json!({"userId": "ann"})))
        .await
        .json;
    assert_eq!(gone["code"], 253);

    // Every call was signed (B checks), and A counted them.
    let metrics = chain.proxy.metrics().await;
    assert!(
        metrics.contains("imbridge_provider_calls_total{op=\"group.create\",provider=\"vendor\",status=\"200\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn logins_follow_passwords_kept_by_imbridge() {
    // WildfireChat keeps no passwords: haorenao and rongcloud-app logins on
    // A are checked against the passwords A saw being set.
    let chain = Chain::wildfire();
    let im = &chain.proxy;
    im.register(json!([{"username": "1001", "password": "pw-1", "nickname": "Al"}]))
        .await;
    let token = im
        .post_json(
            "/im/user_get_token/",
            json!({"username": "1001", "password": "pw-1"}),
        )
        .await
        .expect(200)
        .json;
    assert_eq!(token["ret"], "ok", "{token}");
    // The token is WildfireChat's own.
    let at_b = at_vendor(
        &chain.vendor.wf(),
        "/admin/user/get_token",
        json!({"userId": "1001", "clientId": "imbridge", "platform": 5}),
    )
    .await;
    assert_eq!(token["token"], at_b["token"]);
    let wrong = im
        .post_json(
            "/im/user_get_token/",
            json!({"username": "1001", "password": "nope"}),
        )
        .await
        .json;
    assert_eq!(wrong["ret"], "failed");
    // A password reset through easemob-hx moves every login.
    let hx = im.hx().await;
    hx.call(
        "/hx/resetPassword",
        json!({"username": "1001", "newpassword": "pw-2"}),
    )
    .await
    .expect(200);
    im.rc("1001", "pw-2").await;
    im.post_json(
        "/api/auth/token/",
        json!({"username": "1001", "password": "pw-1"}),
    )
    .await
    .expect(400);
}

#[tokio::test]
async fn a_wrong_secret_is_the_providers_fault_not_the_callers() {
    // A signs with a secret B does not share: B answers 244 (auth failure),
    // which A reports as an upstream error, never as the caller's.
    let b = Setup::new();
    let b_text = b.config_for(
        &[],
        &format!("[frontends.wildfire.params]\nsecret = \"{WILDFIRE_SECRET}\"\n"),
    );
    let vendor = crate::harness::Imbridge::start_text(b, &b_text);
    let a = Setup::new();
    let provider = format!(
        "[providers.vendor]\nkind = \"vendor\"\ndialect = \"wildfire\"\nbase_url = \"{}\"\n\n[providers.vendor.params]\nsecret = \"not-the-secret\"\n",
        vendor.base
    );
    let text = a.config_on(ALL_FRONTENDS, "vendor", &provider);
    let proxy = crate::harness::Imbridge::start_text(a, &text);
    let a = proxy
        .jm()
        .post(
            "/v1/users/",
            json!([{"username": "tom", "password": "password"}]),
        )
        .await
        .expect(502);
    assert_eq!(a.json["error"]["code"], 899000, "{}", a.text);
    assert!(
        a.json["error"]["message"].as_str().unwrap().contains("244"),
        "{}",
        a.text
    );
}
