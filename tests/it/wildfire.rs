//! wildfire (seed 003): the WildfireChat admin API. A small signing client
//! written here from the vendor's description (sha1 of `nonce|secret|
//! timestamp`) is first checked against the seed's own example, then used
//! live with fresh nonces and timestamps. Answers are `{code, msg, result}`
//! with HTTP 200; auth failures nest `result: {code, msg}`.

use serde_json::{json, Value};

use crate::harness::{assert_shape, download, postgres_twins, replica_twins, Answer, Imbridge, Wf};
use crate::jm::assert_millis_now;

/// The seed's example headers (secret 123456).
const SEED_NONCE: &str = "76616";
const SEED_TIMESTAMP: &str = "1558350862502";
const SEED_SIGN: &str = "b98f9b0717f59febccf1440067a7f50d9b31bdde";

/// Users the seed's examples name.
async fn fixtures(im: &Imbridge) {
    im.register(json!([
        {"username": "a", "password": "password"},
        {"username": "user1", "password": "password"},
        {"username": "user2", "password": "password"},
    ]))
    .await;
}

/// A success: HTTP 200 and `code` 0, `msg` "success"; returns the body.
pub fn ok(a: Answer) -> Value {
    let a = a.expect(200);
    assert_eq!(a.json["code"], 0, "{}", a.text);
    assert_eq!(a.json["msg"], "success", "{}", a.text);
    a.json
}

/// A failure: HTTP 200, exactly `{code, msg}` (business errors); returns
/// the message.
pub fn fail(a: Answer, code: i64) -> String {
    let a = a.expect(200);
    assert_shape(&a.json, &[("code", "integer"), ("msg", "string")], true);
    assert_eq!(a.json["code"], code, "{}", a.text);
    a.json["msg"].as_str().unwrap().to_string()
}

/// An auth failure: HTTP 200, `{code, msg, result: {code, msg}}` with the
/// same code and message inside.
fn auth_fail(a: Answer, code: i64) -> String {
    let a = a.expect(200);
    assert_shape(
        &a.json,
        &[("code", "integer"), ("msg", "string"), ("result", "object")],
        true,
    );
    assert_eq!(a.json["code"], code, "{}", a.text);
    assert_eq!(
        a.json["result"],
        json!({"code": code, "msg": a.json["msg"]}),
        "{}",
        a.text
    );
    a.json["msg"].as_str().unwrap().to_string()
}

/// Sends an image from `from` to a user (`to_group` false) or group through
/// JMessage (upload, then an image message); returns the message id, the
/// media URL and the image's size in bytes.
async fn send_image(im: &Imbridge, from: &str, to: &str, to_group: bool) -> (i64, String, i64) {
    let bytes = crate::harness::png(5, 4, [0, 128, 255]);
    let size = bytes.len() as i64;
    let up = im
        .jm()
        .upload("image", "photo.png", bytes)
        .await
        .expect(200);
    let media_id = up.json["media_id"].as_str().unwrap().to_string();
    let url = im
        .jm()
        .get(&format!("/v1/resource?mediaId={media_id}"))
        .await
        .expect(200)
        .json["url"]
        .as_str()
        .unwrap()
        .to_string();
    let sent = im
        .jm()
        .post(
            "/v1/messages",
            json!({"version": 1, "target_type": if to_group { "group" } else { "single" },
                   "target_id": to, "from_type": "user", "from_id": from,
                   "msg_type": "image", "msg_body": {"media_id": media_id}}),
        )
        .await
        .expect(201);
    (sent.json["msg_id"].as_i64().unwrap(), url, size)
}

#[test]
fn the_signing_client_reproduces_the_seed_signature() {
    let wf = Wf {
        base: String::new(),
        http: reqwest::Client::new(),
        secret: "123456".into(),
    };
    assert_eq!(wf.sign(SEED_NONCE, SEED_TIMESTAMP), SEED_SIGN);
    // Order and separators matter.
    assert_ne!(wf.sign(SEED_TIMESTAMP, SEED_NONCE), SEED_SIGN);
    let other = Wf {
        secret: "654321".into(),
        ..wf
    };
    assert_ne!(other.sign(SEED_NONCE, SEED_TIMESTAMP), SEED_SIGN);
}

#[tokio::test]
async fn every_endpoint_with_the_seed_examples() {
    let im = Imbridge::start();
    fixtures(&im).await;
    let wf = im.wf();

    // 2. user/put_setting: the seed's body, the seed's answer.
    let a = wf
        .post(
            "/admin/user/put_setting",
            Some(json!({"userId": "a", "scope": 1001, "key": "b", "value": "c"})),
        )
        .await;
    assert_eq!(ok(a), json!({"code": 0, "msg": "success", "result": {}}));

    // 3. user/get_setting: the seed's body (its stray `value` included).
    let a = wf
        .post(
            "/admin/user/get_setting",
            Some(json!({"userId": "a", "scope": 1001, "key": "b", "value": "c"})),
        )
        .await;
    assert_eq!(
        ok(a),
        json!({"code": 0, "msg": "success",
               "result": {"userId": "a", "scope": 1001, "key": "b", "value": "c"}})
    );
    // Overwritten, then read back again.
    ok(wf
        .post(
            "/admin/user/put_setting",
            Some(json!({"userId": "a", "scope": 1001, "key": "b", "value": "d"})),
        )
        .await);
    let a = wf
        .post(
            "/admin/user/get_setting",
            Some(json!({"userId": "a", "scope": 1001, "key": "b"})),
        )
        .await;
    assert_eq!(ok(a)["result"]["value"], "d");

    // 5. modify_setting, then 4. get_setting: the seed's answers.
    let a = wf
        .post(
            "/admin/modify_setting",
            Some(json!({"id": 1, "value": "setting_value", "desc": "setting description"})),
        )
        .await;
    assert_eq!(ok(a), json!({"code": 0, "msg": "success"}));
    let a = wf.post("/admin/get_setting", Some(json!({"id": 1}))).await;
    assert_eq!(
        ok(a),
        json!({"code": 0, "msg": "success",
               "result": {"id": 1, "value": "setting_value", "desc": "setting description"}})
    );
    // The seed's modify example, read back through the open-source spelling.
    ok(wf
        .post(
            "/admin/modify_setting",
            Some(json!({"id": 1, "value": "new_value", "desc": "description"})),
        )
        .await);
    let a = wf
        .post("/admin/system/get_setting", Some(json!({"id": 1})))
        .await;
    assert_eq!(
        ok(a)["result"],
        json!({"id": 1, "value": "new_value", "desc": "description"})
    );
    // And the other way round.
    ok(wf
        .post(
            "/admin/system/put_setting",
            Some(json!({"id": 2, "value": "v2", "desc": "d2"})),
        )
        .await);
    let a = wf.post("/admin/get_setting", Some(json!({"id": 2}))).await;
    assert_eq!(
        ok(a)["result"],
        json!({"id": 2, "value": "v2", "desc": "d2"})
    );

    // 6./7./8. files: the seed's requests first (user1 has no files yet).
    let conv_body = json!({"userId": "user1",
                           "conversation": {"type": 1, "target": "user2", "line": 0},
                           "count": 10, "order": 0});
    let a = ok(wf
        .post("/admin/file/conversation_files", Some(conv_body.clone()))
        .await);
    assert_shape(
        &a,
        &[("code", "integer"), ("msg", "string"), ("result", "array")],
        true,
    );
    assert_eq!(a["result"], json!([]));
    let user_body = json!({"userId": "user1", "offset": 0, "desc": true, "count": 10});
    let a = ok(wf
        .post("/admin/file/user_files", Some(user_body.clone()))
        .await);
    assert_eq!(a["result"], json!([]));
    // The seed's messageUid 123456 names no message here: 253 (not exist).
    fail(
        wf.post("/admin/file/get", Some(json!({"messageUid": 123456})))
            .await,
        253,
    );
    // Now user1 sends user2 two images, and one to a group (JMessage).
    let (first, url1, size) = send_image(&im, "user1", "user2", false).await;
    let (second, _, _) = send_image(&im, "user1", "user2", false).await;
    let g = im
        .jm()
        .post(
            "/v1/groups/",
            json!({"owner_username": "user1", "name": "files", "members_username": ["user2"]}),
        )
        .await
        .expect(201);
    let gid = g.json["gid"].as_i64().unwrap().to_string();
    let (third, _, _) = send_image(&im, "user2", &gid, true).await;
    // A private conversation, newest first (order 0) and oldest first.
    let mut private = conv_body.clone();
    private["conversation"]["type"] = json!(0);
    let a = ok(wf
        .post("/admin/file/conversation_files", Some(private.clone()))
        .await);
    let files = a["result"].as_array().unwrap();
    let uids: Vec<i64> = files
        .iter()
        .map(|f| f["messageUid"].as_i64().unwrap())
        .collect();
    assert_eq!(uids, [second, first]);
    for f in files {
        assert_shape(
            f,
            &[
                ("messageUid", "integer"),
                ("sender", "string"),
                ("conv", "object"),
                ("name", "string"),
                ("url", "string"),
                ("size", "integer"),
                ("timestamp", "integer"),
            ],
            true,
        );
        assert_millis_now(&f["timestamp"]);
        assert_eq!(f["sender"], "user1");
        assert_eq!(f["conv"], json!({"type": 0, "target": "user2", "line": 0}));
        assert_eq!(f["name"], "photo.png");
        assert_eq!(f["size"], size);
    }
    assert_eq!(files[1]["url"], url1.as_str());
    private["order"] = json!(1);
    private["count"] = json!(1);
    let a = ok(wf
        .post("/admin/file/conversation_files", Some(private))
        .await);
    assert_eq!(a["result"].as_array().unwrap().len(), 1);
    assert_eq!(a["result"][0]["messageUid"], first);
    // The group conversation.
    let mut group = conv_body.clone();
    group["conversation"]["target"] = json!(gid);
    let a = ok(wf.post("/admin/file/conversation_files", Some(group)).await);
    assert_eq!(a["result"].as_array().unwrap().len(), 1);
    assert_eq!(a["result"][0]["messageUid"], third);
    assert_eq!(a["result"][0]["conv"]["type"], 1);
    // user_files: the seed's request, now with user1's one-to-one files.
    let a = ok(wf.post("/admin/file/user_files", Some(user_body)).await);
    let uids: Vec<&Value> = a["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["messageUid"])
        .collect();
    assert_eq!(uids, [&json!(second), &json!(first)]);
    // file/get: the seed's four fields.
    let a = ok(wf
        .post("/admin/file/get", Some(json!({"messageUid": first})))
        .await);
    assert_shape(
        &a["result"],
        &[
            ("messageUid", "integer"),
            ("filename", "string"),
            ("url", "string"),
            ("size", "integer"),
        ],
        true,
    );
    assert_eq!(
        a["result"],
        json!({"messageUid": first, "filename": "photo.png", "url": url1, "size": size})
    );
    // The URL downloads the bytes that were sent.
    let bytes = download(&im.http, &url1).await;
    assert_eq!(bytes, crate::harness::png(5, 4, [0, 128, 255]));

    // 9./10. conversation/top and is_top: the seed's answers; read back.
    let conv = json!({"type": 1, "target": "user2", "line": 0});
    let top = |v: i64| json!({"userId": "user1", "conversation": conv, "top": v});
    let is_top = json!({"userId": "user1", "conversation": conv});
    let a = ok(wf
        .post("/admin/conversation/is_top", Some(is_top.clone()))
        .await);
    assert_eq!(a["result"], json!({"value": false}));
    let a = wf.post("/admin/conversation/top", Some(top(1))).await;
    assert_eq!(ok(a), json!({"code": 0, "msg": "success"}));
    let a = wf
        .post("/admin/conversation/is_top", Some(is_top.clone()))
        .await;
    assert_eq!(
        ok(a),
        json!({"code": 0, "msg": "success", "result": {"value": true}})
    );
    // Another line of the same conversation is not pinned.
    let mut other_line = is_top.clone();
    other_line["conversation"]["line"] = json!(1);
    let a = ok(wf
        .post("/admin/conversation/is_top", Some(other_line))
        .await);
    assert_eq!(a["result"]["value"], false);
    ok(wf.post("/admin/conversation/top", Some(top(0))).await);
    let a = ok(wf.post("/admin/conversation/is_top", Some(is_top)).await);
    assert_eq!(a["result"]["value"], false);

    // 11. healthcheck (signed, no body) and the open-source /admin/health.
    let a = wf.post("/admin/healthcheck", None).await;
    assert_eq!(
        ok(a),
        json!({"code": 0, "msg": "success", "result": {"status": "healthy"}})
    );
    let a = im.post_raw("/admin/health", "application/json", b"").await;
    assert_eq!(
        ok(a),
        json!({"code": 0, "msg": "success", "result": {"status": "healthy"}})
    );

    // 12. customer: the configured customer, as in the seed.
    let a = wf.post("/admin/customer", None).await;
    assert_eq!(
        ok(a),
        json!({"code": 0, "msg": "success",
               "result": {"customerId": "customer1", "customerName": "测试客户"}})
    );

    // 1. robot/create (the seed gives only the title; the vendor's fields).
    let a = ok(wf
        .post(
            "/admin/robot/create",
            Some(
                json!({"userId": "robot1", "name": "robot1", "displayName": "小助手",
                        "owner": "a", "callback": "http://127.0.0.1:9/robot"}),
            ),
        )
        .await);
    assert_shape(
        &a,
        &[("code", "integer"), ("msg", "string"), ("result", "object")],
        true,
    );
    assert_shape(
        &a["result"],
        &[("userId", "string"), ("secret", "string")],
        true,
    );
    assert_eq!(a["result"]["userId"], "robot1");
    let secret = a["result"]["secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 16, "{secret}");
    // Stored: the robot is a user JMessage can read; an update keeps the secret.
    let user = im.jm().get("/v1/users/robot1").await.expect(200);
    assert_eq!(user.json["nickname"], "小助手");
    let a = ok(wf
        .post(
            "/admin/robot/create",
            Some(json!({"userId": "robot1", "name": "robot1", "displayName": "新名字"})),
        )
        .await);
    assert_eq!(a["result"]["secret"], secret.as_str());
    let user = im.jm().get("/v1/users/robot1").await.expect(200);
    assert_eq!(user.json["nickname"], "新名字");
}

#[tokio::test]
async fn seed_headers_are_stale_and_fresh_signatures_cannot_be_replayed() {
    let im = Imbridge::start();
    fixtures(&im).await;
    let wf = im.wf();
    // The client signs exactly like the seed.
    let seed = wf.signed_at(SEED_NONCE, SEED_TIMESTAMP);
    assert_eq!(seed.sign, SEED_SIGN);
    // The seed's literal headers, live: a valid signature from 2019, refused
    // as expired (243), on every seed endpoint.
    for (path, body) in [
        ("/admin/get_setting", Some(json!({"id": 1}))),
        (
            "/admin/user/put_setting",
            Some(json!({"userId": "a", "scope": 1001, "key": "b", "value": "c"})),
        ),
        ("/admin/healthcheck", None),
        ("/admin/customer", None),
    ] {
        auth_fail(wf.post_signed(path, body, Some(&seed)).await, 243);
    }
    // Nothing was stored by the refused put_setting.
    let a = ok(wf
        .post(
            "/admin/user/get_setting",
            Some(json!({"userId": "a", "scope": 1001, "key": "b"})),
        )
        .await);
    assert_eq!(
        a["result"],
        json!({"userId": "a", "scope": 1001, "key": "b"})
    );

    // A fresh signature works once; the same headers again are refused,
    // even with another body (the signature does not cover the body).
    let fresh = wf.fresh();
    let put = |value: &str| json!({"id": 7, "value": value, "desc": ""});
    ok(wf
        .post_signed("/admin/modify_setting", Some(put("first")), Some(&fresh))
        .await);
    auth_fail(
        wf.post_signed("/admin/modify_setting", Some(put("first")), Some(&fresh))
            .await,
        243,
    );
    auth_fail(
        wf.post_signed("/admin/modify_setting", Some(put("replayed")), Some(&fresh))
            .await,
        243,
    );
    let a = ok(wf.post("/admin/get_setting", Some(json!({"id": 7}))).await);
    assert_eq!(a["result"]["value"], "first");

    // Signed correctly but three hours old: stale.
    let old = (chrono::Utc::now().timestamp_millis() - 3 * 3600 * 1000).to_string();
    let stale = wf.signed_at("4242", &old);
    auth_fail(
        wf.post_signed("/admin/get_setting", Some(json!({"id": 7})), Some(&stale))
            .await,
        243,
    );
    // An hour old is fine (the window is two hours).
    let recent = (chrono::Utc::now().timestamp_millis() - 3600 * 1000).to_string();
    let recent = wf.signed_at("4243", &recent);
    ok(wf
        .post_signed("/admin/get_setting", Some(json!({"id": 7})), Some(&recent))
        .await);
}

#[tokio::test]
async fn wrong_or_missing_signatures() {
    let im = Imbridge::start();
    fixtures(&im).await;
    let wf = im.wf();
    let body = || Some(json!({"id": 1, "value": "x", "desc": ""}));
    let path = "/admin/modify_setting";
    // No headers at all, or one of the three missing: 239 (not signed).
    auth_fail(wf.post_signed(path, body(), None).await, 239);
    let fresh = wf.fresh();
    for drop in ["nonce", "timestamp", "sign"] {
        let mut req = im.request(reqwest::Method::POST, path).json(&body());
        for (name, value) in [
            ("nonce", &fresh.nonce),
            ("timestamp", &fresh.timestamp),
            ("sign", &fresh.sign),
        ] {
            if name != drop {
                req = req.header(name, value);
            }
        }
        auth_fail(Answer::of(req).await, 239);
    }
    // A timestamp that is not a number: 239.
    let bad_ts = wf.signed_at("1", "yesterday");
    auth_fail(wf.post_signed(path, body(), Some(&bad_ts)).await, 239);
    // Signed with another secret, or a sign that does not match: 244.
    let other = Wf {
        secret: "654321".into(),
        ..wf.clone()
    };
    let message = auth_fail(other.post(path, body()).await, 244);
    assert_eq!(message, "auth failure");
    let mut tampered = wf.fresh();
    tampered.nonce.push('0');
    auth_fail(wf.post_signed(path, body(), Some(&tampered)).await, 244);
    // Header names are case-insensitive (the server also reads `Sign`).
    let s = wf.fresh();
    let a = Answer::of(
        im.request(reqwest::Method::POST, "/admin/get_setting")
            .header("Nonce", &s.nonce)
            .header("Timestamp", &s.timestamp)
            .header("Sign", &s.sign)
            .json(&json!({"id": 1})),
    )
    .await;
    fail(a, 253);
    // /admin/healthcheck needs a signature; /admin/health does not.
    auth_fail(wf.post_signed("/admin/healthcheck", None, None).await, 239);
    ok(wf.post_signed("/admin/health", None, None).await);
    // None of the refused calls changed the setting.
    fail(
        wf.post("/admin/get_setting", Some(json!({"id": 1}))).await,
        253,
    );
}

#[tokio::test]
async fn bad_bodies_unknown_users_and_paths() {
    let im = Imbridge::start();
    fixtures(&im).await;
    let wf = im.wf();
    // Malformed JSON: 2 (invalid data).
    let s = wf.fresh();
    let a = Answer::of(
        im.request(reqwest::Method::POST, "/admin/user/put_setting")
            .header("nonce", &s.nonce)
            .header("timestamp", &s.timestamp)
            .header("sign", &s.sign)
            .header("content-type", "application/json")
            .body("{\"userId\": \"a\", "),
    )
    .await;
    let msg = fail(a, 2);
    assert!(msg.contains("JSON"), "{msg}");
    // Missing or mistyped fields: 251 (invalid parameter).
    for (path, body) in [
        (
            "/admin/user/put_setting",
            json!({"scope": 1001, "key": "b", "value": "c"}),
        ),
        (
            "/admin/user/put_setting",
            json!({"userId": "a", "scope": "x", "key": "b"}),
        ),
        (
            "/admin/user/get_setting",
            json!({"userId": "a", "scope": 1001}),
        ),
        ("/admin/get_setting", json!({})),
        ("/admin/get_setting", json!({"id": "one"})),
        ("/admin/modify_setting", json!({"id": 1})),
        ("/admin/file/conversation_files", json!({"userId": "user1"})),
        (
            "/admin/file/conversation_files",
            json!({"userId": "user1", "conversation": "user2"}),
        ),
        (
            "/admin/file/conversation_files",
            json!({"userId": "user1", "conversation": {"type": 0, "target": "user2"}, "order": 5}),
        ),
        (
            "/admin/file/user_files",
            json!({"userId": "user1", "count": "ten"}),
        ),
        ("/admin/file/get", json!({"messageUid": "abc"})),
        (
            "/admin/conversation/top",
            json!({"userId": "user1", "top": 1}),
        ),
        (
            "/admin/conversation/top",
            json!({"userId": "user1", "conversation": {"type": 0, "target": "user2"}, "top": 2}),
        ),
        ("/admin/conversation/is_top", json!({"userId": "user1"})),
        ("/admin/robot/create", json!({"userId": "r2"})),
    ] {
        fail(wf.post(path, Some(body)).await, 251);
    }
    // A body that is not an object where one is needed: 2.
    fail(wf.post("/admin/robot/create", Some(json!(["r3"]))).await, 2);
    // Unknown users and things: 253 (not exist).
    for (path, body) in [
        (
            "/admin/user/put_setting",
            json!({"userId": "ghost", "scope": 1, "key": "k", "value": "v"}),
        ),
        (
            "/admin/user/get_setting",
            json!({"userId": "ghost", "scope": 1, "key": "k"}),
        ),
        ("/admin/get_setting", json!({"id": 404})),
        (
            "/admin/file/conversation_files",
            json!({"userId": "ghost", "conversation": {"type": 0, "target": "user2"}}),
        ),
        ("/admin/file/user_files", json!({"userId": "ghost"})),
        ("/admin/file/get", json!({"messageUid": 999})),
        (
            "/admin/conversation/top",
            json!({"userId": "ghost", "conversation": {"type": 0, "target": "user2"}, "top": 1}),
        ),
        (
            "/admin/conversation/is_top",
            json!({"userId": "ghost", "conversation": {"type": 0, "target": "user2"}}),
        ),
    ] {
        let msg = fail(wf.post(path, Some(body)).await, 253);
        assert!(!msg.is_empty());
    }
    // A robot cannot take over a user's id: 2 (already exists).
    fail(
        wf.post(
            "/admin/robot/create",
            Some(json!({"userId": "user1", "name": "user1"})),
        )
        .await,
        2,
    );
    // Unknown admin paths and wrong methods: HTTP 500 like the open-source
    // server, but with a JSON body (254, not implemented).
    for a in [
        wf.post("/admin/user/destroy_everything", Some(json!({})))
            .await,
        Answer::of(im.request(reqwest::Method::GET, "/admin/get_setting")).await,
    ] {
        let a = a.expect(500);
        assert_shape(&a.json, &[("code", "integer"), ("msg", "string")], true);
        assert_eq!(a.json["code"], 254, "{}", a.text);
    }
}

postgres_twins!(every_endpoint_with_the_seed_examples);
replica_twins!(every_endpoint_with_the_seed_examples);
