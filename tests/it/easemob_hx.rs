//! easemob-hx (seed 001): `/hx/getToken` issues the token every other call
//! carries in its JSON body; answers are `{code, message, data}` (getUser:
//! `msg`) with `data` shaped like Easemob's own answer; errors are
//! `{code: 4xx, message, data: null}` with HTTP 200.

use serde_json::{json, Value};

use crate::harness::{assert_shape, postgres_twins, replica_twins, Answer, Hx, Imbridge};
use crate::jm::assert_millis_now;

/// Users the seed's examples name besides the ones it registers.
async fn fixtures(im: &Imbridge) {
    im.register(json!([
        {"username": "u1", "password": "p-u1"},
        {"username": "u2", "password": "p-u2"},
        {"username": "stliu", "password": "p-stliu"},
    ]))
    .await;
}

/// A success envelope: HTTP 200, `code` 200, `message` (or `msg` for getUser)
/// "请求成功" and an object `data`; returns `data`.
fn ok_with(a: Answer, message_key: &str) -> Value {
    let a = a.expect(200);
    assert_shape(
        &a.json,
        &[
            ("code", "integer"),
            (message_key, "string"),
            ("data", "object"),
        ],
        true,
    );
    assert_eq!(a.json["code"], 200, "{}", a.text);
    assert_eq!(a.json[message_key], "请求成功", "{}", a.text);
    a.json["data"].clone()
}

fn ok(a: Answer) -> Value {
    ok_with(a, "message")
}

/// An error envelope: HTTP 200, exactly `{code, message, data: null}`.
fn err(a: Answer, code: i64) -> String {
    let a = a.expect(200);
    assert_shape(
        &a.json,
        &[("code", "integer"), ("message", "string"), ("data", "null")],
        true,
    );
    assert_eq!(a.json["code"], code, "{}", a.text);
    a.json["message"].as_str().unwrap().to_string()
}

/// Asserts an Easemob user entity (the seed's six fields, nothing else).
fn assert_entity(e: &Value, username: &str) {
    assert_shape(
        e,
        &[
            ("created", "integer"),
            ("modified", "integer"),
            ("type", "string"),
            ("uuid", "string"),
            ("username", "string"),
            ("activated", "boolean"),
        ],
        true,
    );
    assert_millis_now(&e["created"]);
    assert_millis_now(&e["modified"]);
    assert_eq!(e["type"], "user");
    assert_eq!(e["username"], username);
    assert_eq!(e["activated"], true);
    assert!(
        uuid::Uuid::parse_str(e["uuid"].as_str().unwrap()).is_ok(),
        "uuid: {e}"
    );
}

/// The `data` of a `get` answer (getFriends, getUserStatus, offlineMsgCount).
fn assert_get_data(data: &Value, uri_tail: &str) {
    assert_shape(
        data,
        &[
            ("duration", "integer"),
            (
                "data",
                if uri_tail.ends_with("/users") {
                    "array"
                } else {
                    "object"
                },
            ),
            ("entities", "array"),
            ("count", "integer"),
            ("action", "string"),
            ("uri", "string"),
            ("timestamp", "integer"),
        ],
        true,
    );
    assert_millis_now(&data["timestamp"]);
    assert_eq!(data["action"], "get");
    assert_eq!(data["entities"], json!([]));
    let uri = data["uri"].as_str().unwrap();
    assert!(uri.ends_with(uri_tail), "{uri} should end with {uri_tail}");
}

/// The `data` of a `post` answer (registerUser, addFriends, sendMessages).
fn assert_post_data(data: &Value, app_uuid: &Value, path: &str, payload: (&str, &str)) {
    assert_shape(
        data,
        &[
            ("duration", "integer"),
            ("path", "string"),
            ("application", "string"),
            payload,
            ("organization", "string"),
            ("action", "string"),
            ("uri", "string"),
            ("applicationName", "string"),
            ("timestamp", "integer"),
        ],
        true,
    );
    assert_millis_now(&data["timestamp"]);
    assert_eq!(data["path"], path);
    assert_eq!(&data["application"], app_uuid);
    let uri = data["uri"].as_str().unwrap();
    assert!(uri.ends_with(path), "{uri} should end with {path}");
}

/// The haorenao IM token of a user, or the failure reason: proves a
/// password through another frontend.
async fn login(im: &Imbridge, user: &str, password: &str) -> Result<String, String> {
    let a = im
        .post_json(
            "/im/user_get_token/",
            json!({"username": user, "password": password}),
        )
        .await
        .expect(200);
    match a.json["ret"].as_str() {
        Some("ok") => Ok(a.json["token"].as_str().unwrap().to_string()),
        _ => Err(a.json["reason"].as_str().unwrap_or_default().to_string()),
    }
}

/// A successful getFriends answer of `owner`'s `kind` list (`contacts`,
/// `blocks`).
async fn get_friends(hx: &Hx, owner: &str, kind: &str) -> Value {
    ok(hx
        .call(
            "/hx/getFriends",
            json!({"owner_username": owner, "type": kind}),
        )
        .await)
}

/// Usernames of a getFriends answer.
async fn friends(hx: &Hx, owner: &str, kind: &str) -> Value {
    get_friends(hx, owner, kind).await["data"].clone()
}

async fn offline(hx: &Hx, user: &str) -> i64 {
    let data = ok(hx
        .call("/hx/offlineMsgCount", json!({"owner_username": user}))
        .await);
    data["data"][user].as_i64().unwrap()
}

/// `/hx/addFriends` of u3 for u1 with `kind` (`post` or `delete`); asserts
/// a success whose data is the contacts request of that action, and
/// returns the data.
async fn change_friend(hx: &Hx, app_uuid: &Value, kind: &str) -> Value {
    let data = ok(hx
        .call(
            "/hx/addFriends",
            json!({"owner_username": "u1", "friend_username": "u3", "type": kind}),
        )
        .await);
    assert_post_data(&data, app_uuid, "/users/u1/contacts", ("entities", "array"));
    assert_eq!(data["action"], kind);
    data
}

#[tokio::test]
async fn every_endpoint_with_the_seed_examples() {
    let im = Imbridge::start();
    fixtures(&im).await;

    // 1. getToken: no parameters.
    let a = Answer::of(im.request(reqwest::Method::POST, "/hx/getToken")).await;
    let data = ok(a);
    assert_shape(
        &data,
        &[
            ("access_token", "string"),
            ("application", "string"),
            ("expires_in", "integer"),
        ],
        true,
    );
    assert_eq!(data["expires_in"], 5_184_000);
    let app_uuid = data["application"].clone();
    assert!(uuid::Uuid::parse_str(app_uuid.as_str().unwrap()).is_ok());
    let hx = Hx {
        base: im.base.clone(),
        http: im.http.clone(),
        token: data["access_token"].as_str().unwrap().to_string(),
    };

    // 2. registerUser, one user.
    let data = ok(hx
        .call(
            "/hx/registerUser",
            json!({"username": "jliu", "password": "123456"}),
        )
        .await);
    assert_post_data(&data, &app_uuid, "/users", ("entities", "array"));
    assert_eq!(data["action"], "post");
    assert_eq!(data["entities"].as_array().unwrap().len(), 1);
    assert_entity(&data["entities"][0], "jliu");
    // Stored, password included: JMessage knows the user, haorenao logs in.
    im.jm().get("/v1/users/jliu").await.expect(200);
    login(&im, "jliu", "123456").await.unwrap();

    // 3. registerUser, a batch.
    let data = ok(hx
        .call(
            "/hx/registerUser",
            json!({"users": [{"username": "u3", "password": "p1"},
                             {"username": "u4", "password": "p2"}]}),
        )
        .await);
    assert_post_data(&data, &app_uuid, "/users", ("entities", "array"));
    let entities = data["entities"].as_array().unwrap();
    assert_eq!(entities.len(), 2);
    assert_entity(&entities[0], "u3");
    assert_entity(&entities[1], "u4");
    assert_ne!(entities[0]["uuid"], entities[1]["uuid"]);
    login(&im, "u3", "p1").await.unwrap();
    login(&im, "u4", "p2").await.unwrap();

    // 4. addFriends, type post.
    let data = change_friend(&hx, &app_uuid, "post").await;
    assert_eq!(data["entities"].as_array().unwrap().len(), 1);
    assert_entity(&data["entities"][0], "u3");
    let jm_friends = im.jm().get("/v1/users/u1/friends").await.expect(200);
    assert_eq!(jm_friends.json[0]["username"], "u3");

    // 5. getFriends, contacts and blocks (u1 blocks u2 through JMessage).
    let data = get_friends(&hx, "u1", "contacts").await;
    assert_get_data(&data, "/users/u1/contacts/users");
    assert_eq!(data["data"], json!(["u3"]));
    assert_eq!(data["count"], 1);
    im.jm()
        .put("/v1/users/u1/blacklist", Some(json!(["u2"])))
        .await
        .expect(204);
    let data = get_friends(&hx, "u1", "blocks").await;
    assert_get_data(&data, "/users/u1/blocks/users");
    assert_eq!(data["data"], json!(["u2"]));
    assert_eq!(data["count"], 1);

    // 6. getUserStatus.
    let data = ok(hx
        .call("/hx/getUserStatus", json!({"username": "u1"}))
        .await);
    assert_get_data(&data, "/users/u1/status");
    assert_eq!(data["data"], json!({"u1": "offline"}));
    assert_eq!(data["count"], 0, "the seed's count: {data}");

    // 7. offlineMsgCount, before anything was sent.
    let data = ok(hx
        .call("/hx/offlineMsgCount", json!({"owner_username": "u1"}))
        .await);
    assert_get_data(&data, "/users/u1/offline_msg_count");
    assert_eq!(data["data"], json!({"u1": 0}));
    assert_eq!(data["count"], 0, "the seed's count: {data}");

    // 8. sendMessages: the seed's example, word for word.
    let data = ok(hx
        .call(
            "/hx/sendMessages",
            json!({"target_type": "users", "target": ["u2", "u3", "stliu"],
                   "msg": {"type": "txt", "msg": "HelloWorld"}, "from": "u1"}),
        )
        .await);
    assert_post_data(&data, &app_uuid, "/messages", ("data", "object"));
    assert_eq!(data["action"], "post");
    assert_eq!(
        data["data"],
        json!({"u2": "success", "u3": "success", "stliu": "success"})
    );
    for u in ["u2", "u3", "stliu"] {
        assert_eq!(offline(&hx, u).await, 1, "{u} has the message");
    }
    assert_eq!(offline(&hx, "u1").await, 0, "the sender has none");
    // The seed's other target types: a group and a chatroom (made through
    // JMessage), by their ids.
    let g = im
        .jm()
        .post(
            "/v1/groups/",
            json!({"owner_username": "u1", "name": "g", "members_username": ["u2"]}),
        )
        .await
        .expect(201);
    let gid = g.json["gid"].as_i64().unwrap().to_string();
    let r = im
        .jm()
        .post(
            "/v1/chatroom/",
            json!({"owner_username": "u1", "name": "room", "members_username": ["u2"]}),
        )
        .await
        .expect(201);
    let rid = r.json["chatroom_id"].as_i64().unwrap().to_string();
    for (kind, id) in [("chatgroups", &gid), ("chatrooms", &rid)] {
        let data = ok(hx
            .call(
                "/hx/sendMessages",
                json!({"target_type": kind, "target": [id],
                       "msg": {"type": "txt", "msg": "hello all"}, "from": "u1"}),
            )
            .await);
        assert_post_data(&data, &app_uuid, "/messages", ("data", "object"));
        assert_eq!(data["data"], json!({ (id.clone()): "success" }), "{kind}");
    }
    // Without `from` the sender is the admin.
    ok(hx
        .call(
            "/hx/sendMessages",
            json!({"target_type": "users", "target": ["u1"],
                   "msg": {"type": "txt", "msg": "from admin"}}),
        )
        .await);
    assert_eq!(offline(&hx, "u1").await, 1);

    // 9. resetPassword (Easemob's `set user password` answer, see docs).
    assert!(login(&im, "u1", "p-u1").await.is_ok());
    let data = ok(hx
        .call(
            "/hx/resetPassword",
            json!({"username": "u1", "newpassword": "123456"}),
        )
        .await);
    assert_shape(
        &data,
        &[
            ("duration", "integer"),
            ("action", "string"),
            ("uri", "string"),
            ("timestamp", "integer"),
        ],
        true,
    );
    assert_eq!(data["action"], "set user password");
    assert!(data["uri"]
        .as_str()
        .unwrap()
        .ends_with("/users/u1/password"));
    assert!(login(&im, "u1", "p-u1").await.is_err(), "old password");
    assert!(login(&im, "u1", "123456").await.is_ok(), "new password");

    // 10. getUser, one user: `msg`, not `message`.
    let data = ok_with(
        hx.call("/hx/getUser", json!({"username": "u1"})).await,
        "msg",
    );
    assert_shape(
        &data,
        &[
            ("duration", "integer"),
            ("path", "string"),
            ("entities", "array"),
            ("count", "integer"),
            ("action", "string"),
            ("uri", "string"),
            ("timestamp", "integer"),
        ],
        true,
    );
    assert_eq!(data["path"], "/users");
    assert_eq!(data["action"], "get");
    assert_eq!(data["count"], 1);
    assert_entity(&data["entities"][0], "u1");
    assert!(data["uri"].as_str().unwrap().ends_with("/users/u1"));

    // 11. getUser, many: `limit`, then the cursor through every page.
    let all = ["u1", "u2", "stliu", "jliu", "u3", "u4"];
    let data = ok_with(hx.call("/hx/getUser", json!({"limit": 10})).await, "msg");
    assert_eq!(data["count"], all.len());
    assert_eq!(data["params"], json!({"limit": ["10"]}));
    // Six users by four: a full page with a cursor, then the last two without.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for (page, size) in [4, 2].into_iter().enumerate() {
        let mut body = json!({"limit": 4});
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        let data = ok_with(hx.call("/hx/getUser", body).await, "msg");
        let last = page == 1;
        let mut shape = vec![
            ("duration", "integer"),
            ("path", "string"),
            ("entities", "array"),
            ("count", "integer"),
            ("action", "string"),
            ("params", "object"),
            ("uri", "string"),
            ("timestamp", "integer"),
        ];
        if !last {
            shape.push(("cursor", "string"));
        }
        assert_shape(&data, &shape, true);
        assert_eq!(data["params"], json!({"limit": ["4"]}));
        let entities = data["entities"].as_array().unwrap();
        assert_eq!(entities.len(), size, "page {page}: {data}");
        assert_eq!(data["count"], size);
        for e in entities {
            let name = e["username"].as_str().unwrap().to_string();
            assert_entity(e, &name);
            seen.push(name);
        }
        cursor = data["cursor"].as_str().map(String::from);
    }
    seen.sort();
    let mut expected: Vec<String> = all.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(seen, expected, "every user once");

    // 4 again. addFriends, type delete.
    let data = change_friend(&hx, &app_uuid, "delete").await;
    assert_entity(&data["entities"][0], "u3");
    assert_eq!(friends(&hx, "u1", "contacts").await, json!([]));
    assert_eq!(
        im.jm().get("/v1/users/u1/friends").await.expect(200).json,
        json!([])
    );
}

#[tokio::test]
async fn wrong_missing_and_expired_tokens() {
    let im = Imbridge::start();
    fixtures(&im).await;
    let hx = im.hx().await;
    let body = json!({"username": "newbie", "password": "123456"});
    // Missing, wrong, and in a header instead of the body.
    err(hx.raw("/hx/registerUser", body.clone()).await, 401);
    let mut wrong = body.clone();
    wrong["token"] = json!("YWMtTA62ZrJpEei9xu9oxuHsLQAAAAAAAAAAAAAAAAAAAAEkfycAnqcR6LF7AUVfW6SDAgMAAAFlssU8jgBPGgD13Bzal9mDcYvB1gg-FZN-0GT919bFe3jPTgKc_n0t6g");
    err(hx.raw("/hx/registerUser", wrong).await, 401);
    let a = Answer::of(
        im.request(reqwest::Method::POST, "/hx/registerUser")
            .header("authorization", format!("Bearer {}", hx.token))
            .json(&body),
    )
    .await;
    err(a, 401);
    // A token another frontend issued (a rongcloud-app login) is not one.
    let rc = im.rc("u1", "p-u1").await;
    let mut foreign = body.clone();
    foreign["token"] = json!(rc.token.clone().unwrap());
    err(hx.raw("/hx/registerUser", foreign).await, 401);
    // Nothing was registered.
    err(
        hx.call("/hx/getUser", json!({"username": "newbie"})).await,
        404,
    );

    // Each getToken is a new token; both work.
    let other = im.hx().await;
    assert_ne!(other.token, hx.token);
    ok_with(
        other.call("/hx/getUser", json!({"username": "u1"})).await,
        "msg",
    );

    // Expired: a token whose lifetime ran out (moved into the past in the
    // store before its first use) is refused, the others still work.
    let fresh = im.hx().await;
    assert!(im.expire_tokens("easemob-hx", None).await >= 3);
    let message = err(
        fresh.call("/hx/getUser", json!({"username": "u1"})).await,
        401,
    );
    assert!(message.contains("expired"), "{message}");
    let renewed = im.hx().await;
    ok_with(
        renewed.call("/hx/getUser", json!({"username": "u1"})).await,
        "msg",
    );
}

#[tokio::test]
async fn bad_bodies() {
    let im = Imbridge::start();
    fixtures(&im).await;
    let hx = im.hx().await;
    // Malformed JSON: no token can be read either, but the body fails first.
    let a = im
        .post_raw(
            "/hx/registerUser",
            "application/json",
            b"{\"username\": \"x\", \"token\": ",
        )
        .await;
    let message = err(a, 400);
    assert!(message.contains("JSON"), "{message}");
    // registerUser: users not an array, empty, over 60; no password;
    // an existing user (also in a batch: all or nothing).
    let many: Vec<Value> = (0..61)
        .map(|i| json!({"username": format!("bulk{i}"), "password": "p"}))
        .collect();
    for body in [
        json!({"users": "u9"}),
        json!({"users": []}),
        json!({"users": many}),
        json!({"username": "nopass"}),
        json!({"username": "u1", "password": "123456"}),
        json!({"users": [{"username": "fresh1", "password": "p"},
                         {"username": "u2", "password": "p"}]}),
    ] {
        err(hx.call("/hx/registerUser", body).await, 400);
    }
    err(
        hx.call("/hx/getUser", json!({"username": "fresh1"})).await,
        404,
    );
    // addFriends / getFriends without a known type.
    for (path, body) in [
        (
            "/hx/addFriends",
            json!({"owner_username": "u1", "friend_username": "u2"}),
        ),
        (
            "/hx/getFriends",
            json!({"owner_username": "u1", "type": "everyone"}),
        ),
        ("/hx/addFriends", json!({"type": "post"})),
    ] {
        err(hx.call(path, body).await, 400);
    }
    // sendMessages: bad target_type, target not an array, empty from, not txt.
    let msg = json!({"type": "txt", "msg": "hi"});
    for body in [
        json!({"target_type": "planets", "target": ["u2"], "msg": msg, "from": "u1"}),
        json!({"target_type": "users", "target": "u2", "msg": msg, "from": "u1"}),
        json!({"target_type": "users", "target": [], "msg": msg, "from": "u1"}),
        json!({"target_type": "users", "target": ["u2"], "msg": msg, "from": ""}),
        json!({"target_type": "users", "target": ["u2"], "msg": {"type": "img"}, "from": "u1"}),
        json!({"target_type": "users", "target": ["u2"], "from": "u1"}),
    ] {
        err(hx.call("/hx/sendMessages", body.clone()).await, 400);
    }
    assert_eq!(offline(&hx, "u2").await, 0, "nothing was sent");
    // getUser: limit outside 1..=20 or not a number.
    for limit in [json!(21), json!(0), json!("ten")] {
        err(hx.call("/hx/getUser", json!({"limit": limit})).await, 400);
    }
    // resetPassword without the new password.
    err(
        hx.call("/hx/resetPassword", json!({"username": "u1"}))
            .await,
        400,
    );
    // Unknown paths keep the envelope.
    let a = hx.call("/hx/deleteEverything", json!({})).await;
    assert_eq!(a.status, 404);
    assert_eq!(a.json["code"], 404);
    assert_eq!(a.json["data"], Value::Null);
}

#[tokio::test]
async fn unknown_users_and_groups() {
    let im = Imbridge::start();
    fixtures(&im).await;
    let hx = im.hx().await;
    for (path, body) in [
        ("/hx/getUser", json!({"username": "ghost"})),
        ("/hx/getUserStatus", json!({"username": "ghost"})),
        ("/hx/offlineMsgCount", json!({"owner_username": "ghost"})),
        (
            "/hx/resetPassword",
            json!({"username": "ghost", "newpassword": "123456"}),
        ),
        (
            "/hx/getFriends",
            json!({"owner_username": "ghost", "type": "contacts"}),
        ),
        (
            "/hx/addFriends",
            json!({"owner_username": "u1", "friend_username": "ghost", "type": "post"}),
        ),
        (
            "/hx/sendMessages",
            json!({"target_type": "users", "target": ["ghost"],
                   "msg": {"type": "txt", "msg": "hi"}, "from": "u1"}),
        ),
        (
            "/hx/sendMessages",
            json!({"target_type": "chatgroups", "target": ["99999"],
                   "msg": {"type": "txt", "msg": "hi"}, "from": "u1"}),
        ),
    ] {
        let message = err(hx.call(path, body).await, 404);
        assert!(
            message.contains("ghost") || message.contains("99999"),
            "{path}: {message}"
        );
    }
    assert_eq!(friends(&hx, "u1", "contacts").await, json!([]));
}

#[tokio::test]
async fn permission_errors() {
    let im = Imbridge::start();
    fixtures(&im).await;
    let hx = im.hx().await;
    // A group of u1 and u2 (through JMessage); stliu is not in it.
    let g = im
        .jm()
        .post(
            "/v1/groups/",
            json!({"owner_username": "u1", "name": "hx group", "members_username": ["u2"]}),
        )
        .await
        .expect(201);
    let gid = g.json["gid"].as_i64().unwrap().to_string();
    let to_group = |from: &str| {
        json!({"target_type": "chatgroups", "target": [gid], "from": from,
               "msg": {"type": "txt", "msg": "hello group"}})
    };
    let data = ok(hx.call("/hx/sendMessages", to_group("u2")).await);
    assert_eq!(data["data"], json!({ (gid.clone()): "success" }));
    // Sending to a group you are not in.
    let message = err(hx.call("/hx/sendMessages", to_group("stliu")).await, 403);
    assert!(message.contains("not a member"), "{message}");
    // Sending to someone who blocked you.
    im.jm()
        .put("/v1/users/u1/blacklist", Some(json!(["stliu"])))
        .await
        .expect(204);
    let message = err(
        hx.call(
            "/hx/sendMessages",
            json!({"target_type": "users", "target": ["u1"], "from": "stliu",
                   "msg": {"type": "txt", "msg": "hi"}}),
        )
        .await,
        403,
    );
    assert!(message.contains("blocked"), "{message}");
    assert_eq!(offline(&hx, "u1").await, 0);
}

postgres_twins!(every_endpoint_with_the_seed_examples);
replica_twins!(every_endpoint_with_the_seed_examples);
