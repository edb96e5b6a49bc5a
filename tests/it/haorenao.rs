//! haorenao (seed 000): every endpoint with the seed's example over real
//! HTTP, in JSON and form bodies; `{ret, reason}` errors with HTTP 200 for
//! bad credentials, bad bodies, unknown groups and users, and permissions.
//! Users are registered through JMessage: one store behind all frontends.

use serde_json::{json, Value};

use crate::harness::{assert_shape, postgres_twins, replica_twins, Answer, Imbridge};
use crate::jm::{group_members, usernames};

/// The seed's user and the profile its get_userinfo example shows.
const SEED_USER: &str = "18516271364";
const SEED_PASSWORD: &str = "password";
const SEED_THUMB: &str = "resource.haorenao.cn/static/tea/threadimages/xx1.png";

/// Registers the seed's user (profile as in the seed's get_userinfo
/// example) and two more through JMessage.
async fn fixtures(im: &Imbridge) {
    im.register(json!([
        {"username": SEED_USER, "password": SEED_PASSWORD, "nickname": "9527",
         "signature": "desc", "avatar": SEED_THUMB,
         "extras": {"expert_status": 0, "point": 1335, "is_public_number": false,
                    "yue": 0, "jifen": 0}},
        {"username": "13900000002", "password": "secret2", "nickname": "two"},
        {"username": "13900000003", "password": "secret3"},
    ]))
    .await;
}

/// The seed's credentials as a JSON body, plus `extra` members.
fn creds(extra: Value) -> Value {
    let mut body = json!({"username": SEED_USER, "password": SEED_PASSWORD});
    for (k, v) in extra.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    body
}

/// A success: HTTP 200, `ret` "ok", `reason` "".
fn ok(a: Answer) -> Value {
    let a = a.expect(200);
    assert_eq!(a.json["ret"], "ok", "{}", a.text);
    assert_eq!(a.json["reason"], "", "{}", a.text);
    assert!(
        a.content_type
            .as_deref()
            .unwrap_or("")
            .starts_with("application/json"),
        "{:?}",
        a.content_type
    );
    a.json
}

/// A failure in haorenao's shape: HTTP `status` (200 for all but routing
/// errors), exactly `{ret: "failed", reason: <text>}`; returns the reason.
fn failed_with(a: Answer, status: u16) -> String {
    let a = a.expect(status);
    assert_shape(&a.json, &[("ret", "string"), ("reason", "string")], true);
    assert_eq!(a.json["ret"], "failed", "{}", a.text);
    let reason = a.json["reason"].as_str().unwrap().to_string();
    assert!(!reason.is_empty(), "empty reason: {}", a.text);
    reason
}

fn failed(a: Answer) -> String {
    failed_with(a, 200)
}

/// The ids of the groups `user` is in, through haorenao.
async fn group_ids(im: &Imbridge, user: &str, password: &str) -> Vec<i64> {
    let body = ok(im
        .post_form(
            "/im/user_get_group_list/",
            &[("username", user), ("password", password)],
        )
        .await);
    body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn every_endpoint_with_the_seed_examples() {
    let im = Imbridge::start();
    fixtures(&im).await;

    // 获取用户 token — JSON body as in the seed, then the same as a form.
    let body = ok(im.post_json("/im/user_get_token/", creds(json!({}))).await);
    assert_shape(
        &body,
        &[("ret", "string"), ("reason", "string"), ("token", "string")],
        true,
    );
    let token = body["token"].as_str().unwrap().to_string();
    assert!(token.len() >= 32, "token too short: {token}");
    let form = ok(im
        .post_form(
            "/im/user_get_token/",
            &[("username", SEED_USER), ("password", SEED_PASSWORD)],
        )
        .await);
    assert_eq!(form["token"], token, "the IM token is stable");

    // 获取用户信息 — GET /cmd/?cmd=get_userinfo&username=..., no credentials:
    // the seed's example answer, field for field.
    let info = im
        .get(&format!("/cmd/?cmd=get_userinfo&username={SEED_USER}"))
        .await;
    let info = ok(info);
    assert_eq!(
        info,
        json!({"ret": "ok", "reason": "", "username": SEED_USER, "nickname": "9527",
               "desc": "desc", "thumb": SEED_THUMB, "expert_status": 0, "point": "1335",
               "is_public_number": false, "is_admin": false, "yue": 0, "jifen": 0})
    );

    // 管理员创建群组 — {username, password, name}; an integer group_id.
    let created = ok(im
        .post_json("/im/group_create/", creds(json!({"name": "group_name"})))
        .await);
    assert_shape(
        &created,
        &[
            ("ret", "string"),
            ("reason", "string"),
            ("group_id", "integer"),
        ],
        true,
    );
    let gid = created["group_id"].as_i64().unwrap();
    // Stored: JMessage sees the group, owned by its creator.
    let jm = im.jm().get(&format!("/v1/groups/{gid}")).await.expect(200);
    assert_eq!(jm.json["name"], "group_name");
    let members = im
        .jm()
        .get(&format!("/v1/groups/{gid}/members/"))
        .await
        .expect(200);
    assert_eq!(members.json[0]["username"], SEED_USER);
    assert_eq!(members.json[0]["flag"], 1, "the creator owns the group");

    // 获取群组信息 — GET, no credentials.
    let got = ok(im.get(&format!("/im/{gid}/group_get_info/")).await);
    assert_shape(
        &got,
        &[
            ("ret", "string"),
            ("reason", "string"),
            ("group_id", "integer"),
            ("group_name", "string"),
        ],
        true,
    );
    assert_eq!(got["group_id"], gid);
    assert_eq!(got["group_name"], "group_name");

    // 加入群组 — form body; the answer is exactly {ret, reason}.
    let joined = ok(im
        .post_form(
            &format!("/im/{gid}/group_join/"),
            &[("username", "13900000002"), ("password", "secret2")],
        )
        .await);
    assert_eq!(joined, json!({"ret": "ok", "reason": ""}));
    // ... and JSON.
    let joined = ok(im
        .post_json(
            &format!("/im/{gid}/group_join/"),
            json!({"username": "13900000003", "password": "secret3"}),
        )
        .await);
    assert_eq!(joined, json!({"ret": "ok", "reason": ""}));

    // 获取群组成员列表 — the seed's member entry for the seed's user.
    let list = ok(im
        .post_json(&format!("/im/{gid}/group_get_user_list/"), creds(json!({})))
        .await);
    assert_shape(
        &list,
        &[
            ("ret", "string"),
            ("reason", "string"),
            ("group_id", "integer"),
            ("group_name", "string"),
            ("userinfos", "array"),
        ],
        true,
    );
    assert_eq!(list["group_id"], gid);
    assert_eq!(list["group_name"], "group_name");
    let infos = list["userinfos"].as_array().unwrap();
    for u in infos {
        assert_shape(
            u,
            &[
                ("username", "string"),
                ("nickname", "string"),
                ("thumb", "string"),
            ],
            true,
        );
    }
    assert_eq!(
        infos[0],
        json!({"username": SEED_USER, "nickname": "9527", "thumb": SEED_THUMB})
    );
    let mut names = usernames(&list["userinfos"]);
    names.sort_unstable();
    assert_eq!(names, ["13900000002", "13900000003", SEED_USER]);
    assert_eq!(infos[1]["nickname"], "two");

    // 获取用户加入的群组列表 — groups [{id, name}].
    let other = ok(im
        .post_json("/im/group_create/", creds(json!({"name": "我的测试群"})))
        .await)["group_id"]
        .as_i64()
        .unwrap();
    let groups = ok(im
        .post_json("/im/user_get_group_list/", creds(json!({})))
        .await);
    assert_shape(
        &groups,
        &[("ret", "string"), ("reason", "string"), ("groups", "array")],
        true,
    );
    for g in groups["groups"].as_array().unwrap() {
        assert_shape(g, &[("id", "integer"), ("name", "string")], true);
    }
    assert_eq!(
        groups["groups"],
        json!([{"id": gid, "name": "group_name"}, {"id": other, "name": "我的测试群"}])
    );
    assert_eq!(group_ids(&im, "13900000002", "secret2").await, [gid]);

    // 同步用户加入的群组 — {ret, reason}; the memberships stay as they are.
    let synced = ok(im.post_json("/im/group_sync/", creds(json!({}))).await);
    assert_eq!(synced, json!({"ret": "ok", "reason": ""}));
    assert_eq!(group_ids(&im, SEED_USER, SEED_PASSWORD).await, [gid, other]);

    // 获取客服信息 — the configured account and the caller's own token.
    let cs = ok(im
        .post_json("/im/customer_service_get_info/", creds(json!({})))
        .await);
    assert_shape(
        &cs,
        &[
            ("ret", "string"),
            ("reason", "string"),
            ("id", "string"),
            ("name", "string"),
            ("token", "string"),
        ],
        true,
    );
    assert_eq!(cs["id"], "haorenao_cs_001");
    assert_eq!(cs["name"], "客服");
    assert_eq!(cs["token"], token);

    // 退出群组 — a member leaves; read back through both frontends.
    let quit = ok(im
        .post_form(
            &format!("/im/{gid}/group_quit/"),
            &[("username", "13900000003"), ("password", "secret3")],
        )
        .await);
    assert_eq!(quit, json!({"ret": "ok", "reason": ""}));
    assert!(group_ids(&im, "13900000003", "secret3").await.is_empty());
    assert_eq!(group_members(&im.jm(), gid).await.len(), 2);

    // 解散群组 — the owner dismisses; the group is gone everywhere.
    let dismissed = ok(im
        .post_json(&format!("/im/{gid}/group_dismiss/"), creds(json!({})))
        .await);
    assert_eq!(dismissed, json!({"ret": "ok", "reason": ""}));
    failed(im.get(&format!("/im/{gid}/group_get_info/")).await);
    im.jm()
        .get(&format!("/v1/groups/{gid}"))
        .await
        .expect_jm_error(404, 899006);
    assert_eq!(
        group_ids(&im, SEED_USER, SEED_PASSWORD).await,
        [other],
        "only the other group is left"
    );
}

#[tokio::test]
async fn wrong_or_missing_credentials_fail_in_json_and_form() {
    // Every route is tried with wrong passwords: more failures than the
    // throttle allows one user (tests/it/logins.rs tests that).
    let im = Imbridge::start_with("[logins]\nfailures_per_user = 100\n");
    fixtures(&im).await;
    let gid = ok(im
        .post_json("/im/group_create/", creds(json!({"name": "g"})))
        .await)["group_id"]
        .as_i64()
        .unwrap();
    let groups_before = im.jm().get("/v1/groups/").await.expect(200).json["total"].clone();

    let wrong = [
        ("username", SEED_USER),
        ("password", "not-the-password"),
        ("name", "x"),
    ];
    let unknown = [
        ("username", "19999999999"),
        ("password", "x"),
        ("name", "x"),
    ];
    for path in [
        "/im/user_get_token/".to_string(),
        "/im/group_create/".to_string(),
        format!("/im/{gid}/group_join/"),
        format!("/im/{gid}/group_get_user_list/"),
        "/im/user_get_group_list/".to_string(),
        "/im/customer_service_get_info/".to_string(),
    ] {
        // Wrong password and unknown user, as a form and as JSON: the same
        // answer (no telling which of the two was wrong).
        for fields in [&wrong[..], &unknown[..]] {
            let r1 = failed(im.post_form(&path, fields).await);
            let obj: serde_json::Map<String, Value> = fields
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            let r2 = failed(im.post_json(&path, Value::Object(obj)).await);
            assert_eq!(r1, r2, "{path}");
            assert_eq!(r1, "invalid username or password", "{path}");
        }
        // Missing password, missing everything, a JSON body without them.
        failed(im.post_form(&path, &[("username", SEED_USER)]).await);
        failed(im.post_form(&path, &[]).await);
        failed(im.post_json(&path, json!({"name": "x"})).await);
    }
    // The password must be the exact one.
    failed(
        im.post_json(
            "/im/user_get_token/",
            json!({"username": SEED_USER, "password": "PASSWORD"}),
        )
        .await,
    );
    // Nothing happened: no group was created, nobody joined.
    assert_eq!(
        im.jm().get("/v1/groups/").await.expect(200).json["total"],
        groups_before
    );
    let members = im
        .jm()
        .get(&format!("/v1/groups/{gid}/members/"))
        .await
        .expect(200);
    assert_eq!(members.json.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_bodies_and_requests() {
    let im = Imbridge::start();
    fixtures(&im).await;
    // Malformed JSON.
    let reason = failed(
        im.post_raw(
            "/im/group_create/",
            "application/json",
            b"{\"username\": \"18516271364\", \"password\":",
        )
        .await,
    );
    assert!(reason.contains("JSON"), "{reason}");
    // The seed's own create example is not valid JSON (`"name", "group_name"`).
    failed(
        im.post_raw(
            "/im/group_create/",
            "application/json",
            br#"{ "username":"18516271364", "password":"password", "name", "group_name",}"#,
        )
        .await,
    );
    // No name, an empty name, a name over 128 bytes.
    assert_eq!(
        failed(im.post_json("/im/group_create/", creds(json!({}))).await),
        "name is required"
    );
    failed(
        im.post_json("/im/group_create/", creds(json!({"name": ""})))
            .await,
    );
    failed(
        im.post_json("/im/group_create/", creds(json!({"name": "群".repeat(43)})))
            .await,
    );
    // Group ids are integers.
    for path in [
        "/im/abc/group_join/",
        "/im/abc/group_quit/",
        "/im/abc/group_dismiss/",
        "/im/abc/group_get_user_list/",
    ] {
        assert_eq!(
            failed(im.post_json(path, creds(json!({}))).await),
            "group id must be an integer",
            "{path}"
        );
    }
    failed(im.get("/im/1.5/group_get_info/").await);
    // get_userinfo needs a username; other commands do not exist.
    assert_eq!(
        failed(im.get("/cmd/?cmd=get_userinfo").await),
        "username is required"
    );
    failed(im.get("/cmd/?cmd=get_nothing&username=x").await);
    failed(im.get("/cmd/").await);
    // No group was created by any of this.
    assert_eq!(
        im.jm().get("/v1/groups/").await.expect(200).json["total"],
        0
    );
    // Unknown paths and methods keep the envelope (with HTTP statuses).
    failed_with(im.post_json("/im/nothing/", creds(json!({}))).await, 404);
    failed_with(im.get("/im/group_create/").await, 405);
    failed_with(im.post_json("/cmd/?cmd=get_userinfo", json!({})).await, 405);
}

#[tokio::test]
async fn unknown_groups_and_users() {
    let im = Imbridge::start();
    fixtures(&im).await;
    let reason = failed(im.get("/cmd/?cmd=get_userinfo&username=19999999999").await);
    assert!(reason.contains("19999999999"), "{reason}");
    for path in [
        "/im/99999/group_join/",
        "/im/99999/group_quit/",
        "/im/99999/group_dismiss/",
        "/im/99999/group_get_user_list/",
    ] {
        let reason = failed(im.post_json(path, creds(json!({}))).await);
        assert!(reason.contains("99999"), "{path}: {reason}");
    }
    let reason = failed(im.get("/im/99999/group_get_info/").await);
    assert!(reason.contains("99999"), "{reason}");
}

#[tokio::test]
async fn permission_errors() {
    let im = Imbridge::start();
    fixtures(&im).await;
    let gid = ok(im
        .post_json("/im/group_create/", creds(json!({"name": "owned"})))
        .await)["group_id"]
        .as_i64()
        .unwrap();
    let two = [("username", "13900000002"), ("password", "secret2")];
    // Quitting a group you are not in.
    let reason = failed(im.post_form(&format!("/im/{gid}/group_quit/"), &two).await);
    assert!(reason.contains("not a member"), "{reason}");
    // Listing the members of a group you are not in.
    failed(
        im.post_form(&format!("/im/{gid}/group_get_user_list/"), &two)
            .await,
    );
    // Dismissing a group you do not own, even as a member.
    ok(im.post_form(&format!("/im/{gid}/group_join/"), &two).await);
    let reason = failed(
        im.post_form(&format!("/im/{gid}/group_dismiss/"), &two)
            .await,
    );
    assert!(reason.contains("does not own"), "{reason}");
    // Joining twice.
    failed(im.post_form(&format!("/im/{gid}/group_join/"), &two).await);
    // The group is intact: both members, same name.
    let info = ok(im.get(&format!("/im/{gid}/group_get_info/")).await);
    assert_eq!(info["group_name"], "owned");
    let list = ok(im
        .post_json(&format!("/im/{gid}/group_get_user_list/"), creds(json!({})))
        .await);
    assert_eq!(list["userinfos"].as_array().unwrap().len(), 2);
}

postgres_twins!(every_endpoint_with_the_seed_examples);
replica_twins!(every_endpoint_with_the_seed_examples);
