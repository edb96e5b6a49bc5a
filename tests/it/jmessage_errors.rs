//! JMessage: bad input, bad credentials and requests on data that does not
//! exist (or exists already) get JMessage's error shape, status and codes,
//! never take the server down, and never change stored data.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{assert_shape, Answer, Imbridge, Jm, Setup, APP_KEY};
use crate::jm::*;

#[tokio::test]
async fn missing_or_wrong_basic_auth_is_401_899008() {
    let im = Imbridge::start();
    let jm = im.jm();
    jm.with_auth(None)
        .get("/v1/users/someone")
        .await
        .expect_jm_error(401, 899008);
    jm.with_auth(Some((APP_KEY, "wrong")))
        .get("/v1/users/someone")
        .await
        .expect_jm_error(401, 899008);
    jm.with_auth(Some(("otherapp", "test-master-secret")))
        .post(
            "/v1/users/",
            json!([{"username": "dev_fang", "password": "password"}]),
        )
        .await
        .expect_jm_error(401, 899008);
    let garbage = im
        .http
        .get(format!("{}/v1/users/x", im.base))
        .header("authorization", "Basic !!!not-base64")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 401);
    let body: serde_json::Value = garbage.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": {"code": 899008, "message": "Basic authentication failed"}})
    );
}

#[tokio::test]
async fn malformed_json_and_wrong_types_are_899003() {
    let im = Imbridge::start();
    let jm = im.jm();
    let a = jm
        .raw(
            Method::POST,
            "/v1/users/",
            "application/json",
            b"[{\"username\": ".to_vec(),
        )
        .await;
    a.expect_jm_error(400, 899003);
    // An object where the API wants an array.
    jm.post(
        "/v1/users/",
        json!({"username": "dev_fang", "password": "password"}),
    )
    .await
    .expect_jm_error(400, 899003);
    // A number where a string is expected.
    let a = jm
        .post(
            "/v1/users/",
            json!([{"username": 12345, "password": "password"}]),
        )
        .await;
    let a = a.expect_jm_error(400, 899003);
    assert!(
        a.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("username"),
        "{}",
        a.text
    );
    // gender must be an integer.
    jm.post(
        "/v1/users/",
        json!([{"username": "dev_fang", "password": "password", "gender": "male"}]),
    )
    .await
    .expect_jm_error(400, 899003);
    // A group id that is not a number.
    jm.get("/v1/groups/abc").await.expect_jm_error(400, 899003);
    // Missing required fields of a message.
    jm.post(
        "/v1/messages",
        json!({"version": 1, "target_type": "single"}),
    )
    .await
    .expect_jm_error(400, 899003);
    // Unknown enum value.
    jm.post(
        "/v1/messages",
        json!({"version": 1, "target_type": "planet", "target_id": "x", "from_type": "user",
               "from_id": "y", "msg_type": "text", "msg_body": {"text": "hi"}}),
    )
    .await
    .expect_jm_error(400, 899003);
}

#[tokio::test]
async fn batch_over_the_limit_is_rejected() {
    let im = Imbridge::start();
    let jm = im.jm();
    let users: Vec<_> = (0..501)
        .map(|i| json!({"username": format!("user{i:04}"), "password": "password"}))
        .collect();
    jm.post("/v1/users/", json!(users))
        .await
        .expect_jm_error(400, 899013);
    let names: Vec<_> = (0..101).map(|i| format!("user{i:04}")).collect();
    jm.delete("/v1/users/", Some(json!(names)))
        .await
        .expect_jm_error(400, 899003);
    let friends: Vec<_> = (0..501).map(|i| format!("user{i:04}")).collect();
    jm.post("/v1/users/someone/friends", json!(friends))
        .await
        .expect_jm_error(400, 899003);
    jm.get("/v1/users/?start=0&count=501")
        .await
        .expect_jm_error(400, 899003);
    jm.get("/v1/sensitiveword?start=0&count=2001")
        .await
        .expect_jm_error(400, 899003);
}

#[tokio::test]
async fn oversized_bodies_are_413_in_jmessage_shape() {
    let im = Imbridge::start_with("");
    let jm = im.jm();
    let big = vec![b'a'; 10 * 1024 * 1024 + 1];
    let a = jm
        .raw(Method::POST, "/v1/users/", "application/json", big)
        .await;
    a.expect_jm_error(413, 899003);
    // The server is still there.
    jm.with_auth(None)
        .get("/v1/users/x")
        .await
        .expect_jm_error(401, 899008);
}

/// A body nested too deep, or holding too many values, is refused before it
/// is parsed into a tree: JMessage's limit error, counted, and the server
/// serves on.
#[tokio::test]
async fn deep_or_huge_json_bodies_are_refused_in_jmessage_shape() {
    let im = Imbridge::start_with("");
    let jm = im.jm();
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let many = format!("[{}]", vec!["{}"; 200_000].join(","));
    for body in [deep, many] {
        jm.raw(
            Method::POST,
            "/v1/users/",
            "application/json",
            body.into_bytes(),
        )
        .await
        .expect_jm_error(413, 899003);
    }
    jm.post(
        "/v1/users/",
        json!([{"username": "after_flood", "password": "password"}]),
    )
    .await
    .expect(201);
    let metrics = im.metrics().await;
    let refused: f64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("imbridge_requests_total{")
                && l.contains("frontend=\"jmessage\"")
                && l.contains("outcome=\"limit_exceeded\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(refused, 2.0, "{metrics}");
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods() {
    let im = Imbridge::start();
    let jm = im.jm();
    jm.get("/v1/nothing/here")
        .await
        .expect_jm_error(404, 899003);
    jm.call(Method::PATCH, "/v1/users/dev_fang", None)
        .await
        .expect_jm_error(405, 899003);
    jm.call(Method::DELETE, "/v1/messages", None)
        .await
        .expect_jm_error(405, 899003);
    // With all five frontends on the listener, a path outside every prefix
    // belongs to none of them.
    let a = jm.get("/nowhere").await.expect(404);
    assert_eq!(a.json["error"]["kind"], "not_found", "{}", a.text);
}

#[tokio::test]
async fn a_lone_dialect_answers_for_paths_outside_its_prefixes() {
    let im = Imbridge::start_frontends(&["jmessage"]);
    im.jm().get("/nowhere").await.expect_jm_error(404, 899003);
}

// ---- errors of the stored data -------------------------------------------------

/// One request: method, path and JSON body.
type Case = (Method, String, Option<Value>);

fn case(method: Method, path: &str, body: Option<Value>) -> Case {
    (method, path.to_string(), body)
}

/// Sends every case; each must fail with this status and JMessage code,
/// and a string `error.message`.
async fn expect_all(jm: &Jm, cases: &[Case], status: u16, code: i64) {
    for (method, path, body) in cases {
        let a = jm.call(method.clone(), path, body.clone()).await;
        assert!(
            a.status == status
                && a.json["error"]["code"] == code
                && a.json["error"]["message"].is_string(),
            "{method} {path}: expected {status} with {code} and a message, got {} {}",
            a.status,
            a.text
        );
    }
}

/// A server with users, a group of tom's and friends of javen's.
async fn populated() -> (Imbridge, Jm, i64) {
    let im = Imbridge::start();
    let jm = im.jm();
    register(&jm, &["javen", "fang", "tom", "eddie", "annie", "user01"]).await;
    let gid = create_group(&jm, "tom", "g", &["eddie"]).await;
    create_room(&jm, "tom", "r", &["eddie"]).await;
    jm.post("/v1/users/javen/friends", json!(["user01"]))
        .await
        .expect(201);
    jm.put("/v1/users/javen/blacklist", Some(json!(["fang"])))
        .await
        .expect(204);
    (im, jm, gid)
}

#[tokio::test]
async fn unknown_users_are_899002_and_change_nothing() {
    let (_im, jm, _gid) = populated().await;
    let before = snapshot(&jm).await;
    use Method as M;
    let cases = [
        case(M::GET, "/v1/users/nobody", None),
        case(M::PUT, "/v1/users/nobody", Some(json!({"nickname": "x"}))),
        case(M::DELETE, "/v1/users/nobody", None),
        case(
            M::PUT,
            "/v1/users/nobody/password",
            Some(json!({"new_password": "654321"})),
        ),
        case(M::GET, "/v1/users/nobody/userstat", None),
        case(
            M::POST,
            "/v1/users/userstat",
            Some(json!(["javen", "nobody"])),
        ),
        case(M::GET, "/v1/users/nobody/friends", None),
        case(M::POST, "/v1/users/nobody/friends", Some(json!(["fang"]))),
        case(
            M::POST,
            "/v1/users/javen/friends",
            Some(json!(["fang", "nobody"])),
        ),
        case(
            M::DELETE,
            "/v1/users/nobody/friends",
            Some(json!(["user01"])),
        ),
        case(
            M::PUT,
            "/v1/users/nobody/friends",
            Some(json!([{"username": "fang", "note_name": "x"}])),
        ),
        case(M::GET, "/v1/users/nobody/blacklist", None),
        case(M::PUT, "/v1/users/nobody/blacklist", Some(json!(["fang"]))),
        case(
            M::PUT,
            "/v1/users/javen/blacklist",
            Some(json!(["tom", "nobody"])),
        ),
        case(
            M::DELETE,
            "/v1/users/nobody/blacklist",
            Some(json!(["fang"])),
        ),
        case(M::DELETE, "/v1/users/", Some(json!(["fang", "nobody"]))),
        case(
            M::POST,
            "/v1/groups/",
            Some(json!({"owner_username": "tom", "name": "x",
                                                  "members_username": ["eddie", "nobody"]})),
        ),
        case(
            M::POST,
            "/v1/messages",
            Some(text_message("nobody", "single", json!("fang"), "hi")),
        ),
        case(
            M::POST,
            "/v1/messages",
            Some(text_message("fang", "single", json!("nobody"), "hi")),
        ),
    ];
    expect_all(&jm, &cases, 404, 899002).await;
    assert_eq!(snapshot(&jm).await, before, "a failed request changed data");
}

#[tokio::test]
async fn registering_an_existing_user_is_an_item_error_899001() {
    let im = Imbridge::start();
    let jm = im.jm();
    register_users(&jm, json!([full_user("javen")])).await;
    let a = jm
        .post(
            "/v1/users/",
            json!([
                {"username": "javen", "password": "impostor", "nickname": "impostor"},
                {"username": "dev_fang", "password": "password"}
            ]),
        )
        .await
        .expect(201);
    assert_shape(
        &a.json[0],
        &[("username", "string"), ("error", "object")],
        true,
    );
    assert_eq!(a.json[0]["username"], "javen");
    assert_eq!(a.json[0]["error"]["code"], 899001, "{}", a.text);
    assert!(a.json[0]["error"]["message"].is_string(), "{}", a.text);
    assert_eq!(a.json[1], json!({"username": "dev_fang"}));
    assert_eq!(list(&a).len(), 2);
    // The other user was registered; the existing one kept its data.
    jm.get("/v1/users/dev_fang").await.expect(200);
    let javen = jm.get("/v1/users/javen").await.expect(200).json;
    assert_eq!(javen["nickname"], "hello");
    assert!(password_is(&im, "javen", PASSWORD).await);
}

#[tokio::test]
async fn adding_a_member_twice_is_899011_and_adds_nobody() {
    let (_im, jm, gid) = populated().await;
    let before = snapshot(&jm).await;
    use Method as M;
    let cases = [
        case(
            M::POST,
            &format!("/v1/groups/{gid}/members"),
            Some(json!({"add": ["annie", "eddie"]})),
        ),
        case(
            M::POST,
            &format!("/v1/groups/{gid}/members"),
            Some(json!({"add": ["tom"]})),
        ),
        case(
            M::POST,
            &format!("/v2/groups/{gid}/addMembers"),
            Some(json!(["annie", "eddie"])),
        ),
    ];
    expect_all(&jm, &cases, 409, 899011).await;
    assert_eq!(group_members(&jm, gid).await, ["tom:1", "eddie:0"]);
    assert_eq!(snapshot(&jm).await, before);
}

#[tokio::test]
async fn adding_a_friend_twice_is_899070_and_adds_nobody() {
    let (_im, jm, _gid) = populated().await;
    let before = snapshot(&jm).await;
    let cases = [
        case(
            Method::POST,
            "/v1/users/javen/friends",
            Some(json!(["user01"])),
        ),
        case(
            Method::POST,
            "/v1/users/javen/friends",
            Some(json!(["tom", "user01"])),
        ),
    ];
    expect_all(&jm, &cases, 409, 899070).await;
    assert_eq!(snapshot(&jm).await, before);
    let a = jm.get("/v1/users/javen/friends").await.expect(200);
    assert_eq!(usernames(&a.json), ["user01"]);
}

#[tokio::test]
async fn unknown_groups_are_899006_and_change_nothing() {
    let (_im, jm, _gid) = populated().await;
    // A group that existed once, and one that never did.
    let dismissed = create_group(&jm, "tom", "gone", &[]).await;
    jm.delete(&format!("/v1/groups/{dismissed}"), None)
        .await
        .expect(204);
    let before = snapshot(&jm).await;
    use Method as M;
    for gid in [dismissed, 99] {
        let cases = [
            case(M::GET, &format!("/v1/groups/{gid}"), None),
            case(
                M::PUT,
                &format!("/v1/groups/{gid}"),
                Some(json!({"name": "x"})),
            ),
            case(M::DELETE, &format!("/v1/groups/{gid}"), None),
            case(M::GET, &format!("/v1/groups/{gid}/members/"), None),
            case(
                M::POST,
                &format!("/v1/groups/{gid}/members"),
                Some(json!({"add": ["fang"]})),
            ),
            case(
                M::POST,
                &format!("/v2/groups/{gid}/addMembers"),
                Some(json!(["fang"])),
            ),
            case(
                M::POST,
                &format!("/v2/groups/{gid}/delMembers"),
                Some(json!(["fang"])),
            ),
            case(
                M::PUT,
                &format!("/groups/owner/{gid}"),
                Some(json!({"username": "fang"})),
            ),
            case(
                M::PUT,
                &format!("/groups/messages/{gid}/silence?status=true"),
                Some(json!(["fang"])),
            ),
            case(M::GET, &format!("/v1/cross/groups/{gid}/members/"), None),
            case(
                M::POST,
                "/v1/messages",
                Some(text_message("tom", "group", json!(gid), "hi")),
            ),
        ];
        expect_all(&jm, &cases, 404, 899006).await;
    }
    assert_eq!(snapshot(&jm).await, before);
}

#[tokio::test]
async fn nodisturb_with_an_unknown_group_is_899051_and_stores_nothing() {
    let (im, jm, gid) = populated().await;
    let url = "/v1/users/javen/nodisturb";
    let cases = [
        case(Method::POST, url, Some(json!({"group": {"add": [99]}}))),
        case(
            Method::POST,
            url,
            Some(json!({"single": {"add": ["fang"]}, "group": {"add": [gid, 99]}, "global": 1})),
        ),
        case(
            Method::POST,
            "/v1/cross/users/javen/nodisturb",
            Some(json!([{"appkey": APP_KEY, "single": {"add": ["fang"]}, "group": {"add": [99]}}])),
        ),
    ];
    expect_all(&jm, &cases, 404, 899051).await;
    // Neither the single-chat entry nor the valid group nor global was kept.
    let singles = stored_strings(
        &im,
        "SELECT o.username FROM nodisturb_users n JOIN users u ON u.id = n.user_id
         JOIN users o ON o.id = n.other_id WHERE u.username = ?1",
        "javen",
    )
    .await;
    assert!(singles.is_empty(), "stored {singles:?}");
    jm.post(url, json!({"group": {"remove": [gid]}}))
        .await
        .expect_jm_error(400, 899053);
    assert!(
        !global_nodisturb(&im, "javen").await,
        "global do-not-disturb was stored"
    );
}

/// Sends fang's text message to javen; returns its id.
async fn fang_to_javen(jm: &Jm) -> i64 {
    int(
        &send_text(jm, "fang", "javen").await.expect(201).json["msg_id"],
        "",
    )
}

async fn retract(jm: &Jm, username: &str, msg_id: impl std::fmt::Display) -> Answer {
    jm.call(
        Method::POST,
        &format!("/v1/messages/{username}/{msg_id}/retract"),
        None,
    )
    .await
}

#[tokio::test]
async fn retracting_after_the_window_is_855001() {
    let im = Imbridge::start_in(Setup::new().with_embedded("retract_window_secs = 1"), "");
    let jm = im.jm();
    register(&jm, &["javen", "fang"]).await;
    let old = fang_to_javen(&jm).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let fresh = fang_to_javen(&jm).await;
    retract(&jm, "fang", old).await.expect_jm_error(400, 855001);
    // Still not retracted, still too late; a fresh message can be.
    retract(&jm, "fang", old).await.expect_jm_error(400, 855001);
    retract(&jm, "fang", fresh).await.expect_empty(204);
}

#[tokio::test]
async fn retracting_twice_is_855004() {
    let im = Imbridge::start();
    let jm = im.jm();
    register(&jm, &["javen", "fang"]).await;
    let id = fang_to_javen(&jm).await;
    retract(&jm, "fang", id).await.expect_empty(204);
    retract(&jm, "fang", id).await.expect_jm_error(409, 855004);
}

#[tokio::test]
async fn retracting_an_unknown_message_is_855003() {
    let im = Imbridge::start();
    let jm = im.jm();
    register(&jm, &["javen", "fang"]).await;
    let id = fang_to_javen(&jm).await;
    retract(&jm, "fang", id + 1000)
        .await
        .expect_jm_error(404, 855003);
    retract(&jm, "fang", "abc")
        .await
        .expect_jm_error(404, 855003);
    // Only its sender can retract a message.
    retract(&jm, "javen", id).await.expect_jm_error(404, 855003);
    retract(&jm, "fang", id).await.expect_empty(204);
}

#[tokio::test]
async fn rejected_batches_and_bodies_change_nothing() {
    let (im, jm, gid) = populated().await;
    let before = snapshot(&jm).await;
    // A batch with one bad item registers nobody.
    jm.post(
        "/v1/users/",
        json!([{"username": "good1", "password": "password"}, {"username": 12345, "password": "password"}]),
    )
    .await
    .expect_jm_error(400, 899003);
    let too_many: Vec<Value> = (0..501)
        .map(|i| json!({"username": format!("bulk{i:04}"), "password": "password"}))
        .collect();
    jm.post("/v1/users/", json!(too_many))
        .await
        .expect_jm_error(400, 899013);
    jm.put(
        "/v1/users/javen",
        Some(json!({"nickname": "x", "gender": "male"})),
    )
    .await
    .expect_jm_error(400, 899003);
    jm.put(
        "/v1/users/javen/password",
        Some(json!({"new_password": "123"})),
    )
    .await
    .expect_jm_error(400, 899003);
    jm.post(
        &format!("/v1/groups/{gid}/members"),
        json!({"add": "annie"}),
    )
    .await
    .expect_jm_error(400, 899003);
    assert_eq!(snapshot(&jm).await, before);
    assert!(password_is(&im, "javen", PASSWORD).await);
}

#[tokio::test]
async fn unknown_chatrooms_are_899006_and_change_nothing() {
    let (_im, jm, _gid) = populated().await;
    // A room that existed once, and one that never did.
    let deleted = create_room(&jm, "tom", "gone", &[]).await;
    jm.delete(&format!("/v1/chatroom/{deleted}"), None)
        .await
        .expect(204);
    let before = snapshot(&jm).await;
    use Method as M;
    for id in [deleted, 99] {
        let cases = [
            case(
                M::PUT,
                &format!("/v1/chatroom/{id}"),
                Some(json!({"owner_username": "tom", "name": "x", "description": "x"})),
            ),
            case(M::DELETE, &format!("/v1/chatroom/{id}"), None),
            case(
                M::PUT,
                &format!("/v1/chatroom/{id}/forbidden/eddie?status=1"),
                None,
            ),
            case(
                M::GET,
                &format!("/v1/chatroom/{id}/members?start=0&count=10"),
                None,
            ),
            case(
                M::PUT,
                &format!("/v1/chatroom/{id}/members"),
                Some(json!(["fang"])),
            ),
            case(
                M::DELETE,
                &format!("/v1/chatroom/{id}/members"),
                Some(json!(["eddie"])),
            ),
            case(
                M::POST,
                "/v1/messages",
                Some(text_message("tom", "chatroom", json!(id), "hi")),
            ),
        ];
        expect_all(&jm, &cases, 404, 899006).await;
    }
    assert_eq!(snapshot(&jm).await, before);
}

#[tokio::test]
async fn removing_a_non_member_is_899014_and_changes_nothing() {
    let (_im, jm, gid) = populated().await;
    let before = snapshot(&jm).await;
    let cases = [
        case(
            Method::POST,
            &format!("/v1/groups/{gid}/members"),
            Some(json!({"remove": ["fang"]})),
        ),
        case(
            Method::POST,
            &format!("/v2/groups/{gid}/delMembers"),
            Some(json!(["fang"])),
        ),
        case(
            Method::POST,
            &format!("/v1/cross/groups/{gid}/members"),
            Some(json!([{"appkey": APP_KEY, "remove": ["fang"]}])),
        ),
    ];
    expect_all(&jm, &cases, 404, 899014).await;
    assert_eq!(snapshot(&jm).await, before);
    assert_eq!(group_members(&jm, gid).await, ["tom:1", "eddie:0"]);
}

#[tokio::test]
async fn a_full_group_is_899012_and_takes_nobody() {
    let im = Imbridge::start_in(Setup::new().with_embedded("group_max_members = 3"), "");
    let jm = im.jm();
    register(&jm, &["tom", "eddie", "fang", "annie"]).await;
    let gid = create_group(&jm, "tom", "g", &["eddie"]).await;
    let cases = [
        case(
            Method::POST,
            &format!("/v1/groups/{gid}/members"),
            Some(json!({"add": ["fang", "annie"]})),
        ),
        case(
            Method::POST,
            &format!("/v2/groups/{gid}/addMembers"),
            Some(json!(["fang", "annie"])),
        ),
    ];
    expect_all(&jm, &cases, 400, 899012).await;
    assert_eq!(group_members(&jm, gid).await, ["tom:1", "eddie:0"]);
    // Up to the limit is fine.
    jm.post(
        &format!("/v1/groups/{gid}/members"),
        json!({"add": ["fang"]}),
    )
    .await
    .expect_empty(204);
    assert_eq!(
        group_members(&jm, gid).await,
        ["tom:1", "eddie:0", "fang:0"]
    );
}
