//! JMessage: bad input and bad credentials get JMessage's error shape, status
//! and codes, and never take the server down.

use reqwest::Method;
use serde_json::json;

use crate::harness::{Imbridge, APP_KEY};

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
