//! One scenario through all five frontends of one running server: the same
//! users and groups, one store. Users registered through JMessage log in
//! through haorenao and rongcloud-app; a group created through
//! rongcloud-app is listed through JMessage and joined through haorenao; a
//! message sent through easemob-hx; settings, pins and files through
//! wildfire; a password reset through easemob-hx changes every login and
//! revokes the tokens issued before it.

use serde_json::{json, Value};

use crate::harness::{download, png, Imbridge};
use crate::jm::usernames;

/// haorenao's answer for a JSON body, asserting `ret` is "ok".
async fn hr(im: &Imbridge, path: &str, body: Value) -> Value {
    let a = im.post_json(path, body).await.expect(200);
    assert_eq!(a.json["ret"], "ok", "{path}: {}", a.text);
    a.json
}

fn creds(user: &str, password: &str) -> Value {
    json!({"username": user, "password": password})
}

#[tokio::test]
async fn one_store_behind_five_dialects() {
    let im = Imbridge::start();
    let jm = im.jm();

    // JMessage registers the users (numeric ids: rongcloud-app's users).
    im.register(json!([
        {"username": "1001", "password": "alice-pw", "nickname": "Alice"},
        {"username": "1002", "password": "bob-pw", "nickname": "Bob"},
        {"username": "1003", "password": "carol-pw", "nickname": "Carol"},
    ]))
    .await;

    // Alice logs in through haorenao and rongcloud-app: one IM token.
    let hr_token = hr(&im, "/im/user_get_token/", creds("1001", "alice-pw")).await["token"].clone();
    let alice = im.rc("1001", "alice-pw").await;
    let key = alice.get("/api/im/token/").await.expect(200).json["key"].clone();
    assert_eq!(
        key, hr_token,
        "haorenao and rongcloud-app hand out the same token"
    );
    // Bob's profile from JMessage, through haorenao's get_userinfo.
    let info = im
        .get("/cmd/?cmd=get_userinfo&username=1002")
        .await
        .expect(200);
    assert_eq!(info.json["nickname"], "Bob");

    // Alice creates a face-to-face group with a cover through rongcloud-app.
    let cover = png(8, 8, [10, 200, 10]);
    let group = alice
        .post_multipart(
            "/api/im/group/",
            &[("name", "跨方言"), ("code", "8080")],
            Some(("cover", "cover.png", cover.clone())),
        )
        .await
        .expect(201)
        .json;
    let gid = group["id"].as_i64().unwrap();
    let gid_s = gid.to_string();
    // JMessage lists it among Alice's groups, with the cover as avatar.
    let groups = jm.get("/v1/users/1001/groups/").await.expect(200).json;
    assert_eq!(groups.as_array().unwrap().len(), 1);
    assert_eq!(groups[0]["gid"], gid);
    assert_eq!(groups[0]["name"], "跨方言");
    assert_eq!(groups[0]["avatar"], group["cover"]);
    // haorenao shows it without credentials.
    let info = im.get(&format!("/im/{gid}/group_get_info/")).await.json;
    assert_eq!(info["group_id"], gid);
    assert_eq!(info["group_name"], "跨方言");

    // Bob joins through haorenao; Carol face to face through rongcloud-app.
    hr(
        &im,
        &format!("/im/{gid}/group_join/"),
        creds("1002", "bob-pw"),
    )
    .await;
    let carol = im.rc("1003", "carol-pw").await;
    carol
        .post_form(&format!("/api/im/group/{gid}/invite/"), &[("code", "8080")])
        .await
        .expect(200);
    // Everyone sees the same three members, through three dialects.
    let users = hr(
        &im,
        &format!("/im/{gid}/group_get_user_list/"),
        creds("1003", "carol-pw"),
    )
    .await;
    let mut names = usernames(&users["userinfos"]);
    names.sort_unstable();
    assert_eq!(names, ["1001", "1002", "1003"]);
    let members = jm
        .get(&format!("/v1/groups/{gid}/members/"))
        .await
        .expect(200)
        .json;
    assert_eq!(members.as_array().unwrap().len(), 3);
    assert_eq!(
        alice
            .get(&format!("/api/im/group/{gid}/users/"))
            .await
            .expect(200)
            .json["count"],
        3
    );

    // easemob-hx: Bob and Carol become friends; Bob messages the group and Carol.
    let hx = im.hx().await;
    hx.call(
        "/hx/addFriends",
        json!({"owner_username": "1002", "friend_username": "1003", "type": "post"}),
    )
    .await
    .expect(200);
    let friends = jm.get("/v1/users/1002/friends").await.expect(200).json;
    assert_eq!(friends[0]["username"], "1003");
    assert_eq!(friends[0]["nickname"], "Carol");
    let sent = hx
        .call(
            "/hx/sendMessages",
            json!({"target_type": "chatgroups", "target": [gid_s], "from": "1002",
                   "msg": {"type": "txt", "msg": "hello from easemob"}}),
        )
        .await
        .expect(200);
    assert_eq!(sent.json["data"]["data"][&gid_s], "success");
    hx.call(
        "/hx/sendMessages",
        json!({"target_type": "users", "target": ["1003"], "from": "1002",
               "msg": {"type": "txt", "msg": "hi Carol"}}),
    )
    .await
    .expect(200);
    let count = hx
        .call("/hx/offlineMsgCount", json!({"owner_username": "1003"}))
        .await
        .json;
    assert_eq!(count["data"]["data"]["1003"], 1);

    // JMessage: Alice sends the group a picture; wildfire lists and finds it.
    let photo = png(6, 3, [1, 2, 3]);
    let up = jm
        .upload("image", "team.png", photo.clone())
        .await
        .expect(200);
    assert_eq!(up.json["width"], 6);
    assert_eq!(up.json["height"], 3);
    let msg = jm
        .post(
            "/v1/messages",
            json!({"version": 1, "target_type": "group", "target_id": gid_s,
                   "from_type": "user", "from_id": "1001", "msg_type": "image",
                   "msg_body": {"media_id": up.json["media_id"]}}),
        )
        .await
        .expect(201);
    let msg_id = msg.json["msg_id"].as_i64().unwrap();
    let wf = im.wf();
    let files = wf
        .post(
            "/admin/file/conversation_files",
            Some(
                json!({"userId": "1003", "conversation": {"type": 1, "target": gid_s, "line": 0},
                        "count": 10, "order": 0}),
            ),
        )
        .await
        .expect(200)
        .json;
    assert_eq!(files["code"], 0, "{files}");
    assert_eq!(files["result"].as_array().unwrap().len(), 1);
    assert_eq!(files["result"][0]["messageUid"], msg_id);
    assert_eq!(files["result"][0]["sender"], "1001");
    let file = wf
        .post("/admin/file/get", Some(json!({"messageUid": msg_id})))
        .await
        .json;
    assert_eq!(file["result"]["filename"], "team.png");
    let url = file["result"]["url"].as_str().unwrap().to_string();
    assert_eq!(download(&im.http, &url).await, photo);

    // wildfire: Carol's settings and her pinned group conversation.
    let put = wf
        .post(
            "/admin/user/put_setting",
            Some(json!({"userId": "1003", "scope": 1001, "key": "theme", "value": "dark"})),
        )
        .await
        .json;
    assert_eq!(put["code"], 0);
    let got = wf
        .post(
            "/admin/user/get_setting",
            Some(json!({"userId": "1003", "scope": 1001, "key": "theme"})),
        )
        .await
        .json;
    assert_eq!(got["result"]["value"], "dark");
    let conv = json!({"type": 1, "target": gid_s, "line": 0});
    wf.post(
        "/admin/conversation/top",
        Some(json!({"userId": "1003", "conversation": conv, "top": 1})),
    )
    .await
    .expect(200);
    let top = wf
        .post(
            "/admin/conversation/is_top",
            Some(json!({"userId": "1003", "conversation": conv})),
        )
        .await
        .json;
    assert_eq!(top["result"]["value"], true);
    // Robots made through wildfire are users everyone else sees.
    wf.post(
        "/admin/robot/create",
        Some(json!({"userId": "1099", "name": "helper", "displayName": "Helper"})),
    )
    .await
    .expect(200);
    let robot = hx
        .call("/hx/getUser", json!({"username": "1099"}))
        .await
        .json;
    assert_eq!(robot["data"]["entities"][0]["username"], "1099");

    // easemob-hx resets Carol's password: every password login follows.
    hx.call(
        "/hx/resetPassword",
        json!({"username": "1003", "newpassword": "carol-new"}),
    )
    .await
    .expect(200);
    let old = im
        .post_json("/im/user_get_token/", creds("1003", "carol-pw"))
        .await
        .json;
    assert_eq!(old["ret"], "failed");
    hr(&im, "/im/user_get_token/", creds("1003", "carol-new")).await;
    im.post_json("/api/auth/token/", creds("1003", "carol-pw"))
        .await
        .expect(400);
    // Her tokens issued before the reset are revoked; a new login works.
    assert_eq!(
        carol.get("/api/im/group/").await.expect(401).json["detail"],
        "Invalid token."
    );
    let carol = im.rc("1003", "carol-new").await;

    // Bob leaves through rongcloud-app; haorenao's lists follow.
    let bob = im.rc("1002", "bob-pw").await;
    bob.get(&format!("/api/im/group/{gid}/quit/"))
        .await
        .expect(200);
    let bobs = hr(&im, "/im/user_get_group_list/", creds("1002", "bob-pw")).await;
    assert_eq!(bobs["groups"], json!([]));

    // Alice dismisses through haorenao; gone for JMessage and rongcloud-app.
    hr(
        &im,
        &format!("/im/{gid}/group_dismiss/"),
        creds("1001", "alice-pw"),
    )
    .await;
    jm.get(&format!("/v1/groups/{gid}"))
        .await
        .expect_jm_error(404, 899006);
    im.get(&format!("/api/im/retrieve/{gid}/"))
        .await
        .expect(404);
    assert_eq!(
        carol.get("/api/im/group/").await.expect(200).json["count"],
        0
    );
    // And easemob-hx can no longer send to it.
    let gone = hx
        .call(
            "/hx/sendMessages",
            json!({"target_type": "chatgroups", "target": [gid_s], "from": "1002",
                   "msg": {"type": "txt", "msg": "anyone?"}}),
        )
        .await
        .json;
    assert_eq!(gone["code"], 404);
}
