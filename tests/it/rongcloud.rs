//! The `rongcloud` dialect served inbound over the embedded store: imbridge
//! as a RongCloud server-API emulator. Every request is a signed form POST
//! over real HTTP; answers are checked for RongCloud's shapes, codes and
//! statuses, and effects are read back through the API (or the store's
//! SQLite file where RongCloud has no read call).

use reqwest::Method;
use serde_json::{json, Value};
use sha1::Digest;

use crate::harness::{Answer, Imbridge, Setup, APP_KEY};

/// The app secret of test servers serving `rongcloud`.
pub const RC_SECRET: &str = "rc-test-app-secret";

/// The `[frontends.rongcloud]` table of a server serving the dialect with
/// `secret`.
pub fn rongcloud_frontend(secret: &str) -> String {
    format!("[frontends.rongcloud]\nprovider = \"embedded\"\n\n[frontends.rongcloud.params]\napp_secret = \"{secret}\"\n")
}

/// A server serving only `rongcloud` (app key `APP_KEY`) with `secret`.
pub fn start_with_secret(secret: &str) -> Imbridge {
    let setup = Setup::new();
    let text = setup.config_for(&[], &rongcloud_frontend(secret));
    Imbridge::start_text(setup, &text)
}

/// A RongCloud server-API client written from the vendor's description:
/// form POSTs signed with `App-Key`, `Nonce`, `Timestamp` and
/// `Signature = hex(sha1(secret + nonce + timestamp))`.
#[derive(Clone)]
pub struct Rong {
    /// Base URL.
    pub base: String,
    /// HTTP client.
    pub http: reqwest::Client,
    /// App key sent.
    pub app_key: String,
    /// Secret signed with.
    pub secret: String,
}

/// `hex(sha1(secret + nonce + timestamp))`.
pub fn rc_sign(secret: &str, nonce: &str, timestamp: &str) -> String {
    let mut h = sha1::Sha1::new();
    h.update(format!("{secret}{nonce}{timestamp}").as_bytes());
    hex::encode(h.finalize())
}

impl Rong {
    /// A client of `im` with the test app's credentials.
    pub fn of(im: &Imbridge) -> Rong {
        Rong {
            base: im.base.clone(),
            http: im.http.clone(),
            app_key: APP_KEY.into(),
            secret: RC_SECRET.into(),
        }
    }

    /// Fresh signature headers (timestamp in seconds, as most SDKs send).
    pub fn headers(&self) -> Vec<(String, String)> {
        let nonce = rand::random::<u32>().to_string();
        let ts = chrono::Utc::now().timestamp().to_string();
        vec![
            ("App-Key".into(), self.app_key.clone()),
            ("Nonce".into(), nonce.clone()),
            ("Timestamp".into(), ts.clone()),
            ("Signature".into(), rc_sign(&self.secret, &nonce, &ts)),
        ]
    }

    /// A signed form POST.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.post_with(path, fields, &self.headers()).await
    }

    /// A form POST with exactly these headers.
    pub async fn post_with(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(String, String)],
    ) -> Answer {
        let mut req = self
            .http
            .request(Method::POST, format!("{}{}", self.base, path))
            .form(fields);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        Answer::of(req).await
    }
}

impl Answer {
    /// Asserts a RongCloud success: HTTP 200 and `code: 200`.
    pub fn rc_ok(self) -> Self {
        assert_eq!(self.status, 200, "unexpected status; body: {}", self.text);
        assert_eq!(self.json["code"], 200, "not a success: {}", self.text);
        self
    }

    /// Asserts a RongCloud error: status, `code` and an `errorMessage`.
    pub fn rc_error(self, status: u16, code: i64) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.json["code"], code,
            "unexpected code; body: {}",
            self.text
        );
        assert!(
            self.json["errorMessage"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "errorMessage missing: {}",
            self.text
        );
        self
    }
}

/// The string `key` of every element of the array `list` ("" when absent).
pub fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {list}"))
        .iter()
        .map(|v| v[key].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The `users` `/group/user/query.json` lists for `group`, asserting a
/// success.
pub async fn group_users(rc: &Rong, group: &str) -> Value {
    let members = rc
        .post("/group/user/query.json", &[("groupId", group)])
        .await
        .rc_ok();
    members.json["users"].clone()
}

/// The member ids of `group` (see [`group_users`]).
pub async fn group_members(rc: &Rong, group: &str) -> Vec<String> {
    ids(&group_users(rc, group).await, "id")
}

/// An `RC:TxtMsg` from `from` through `/message/<kind>/publish.json`, with
/// the recipient fields `to` (`toUserId`, `toGroupId`) and `content`.
async fn publish_text(
    rc: &Rong,
    kind: &str,
    from: &str,
    to: &[(&str, &str)],
    content: &str,
) -> Answer {
    let mut fields = vec![("fromUserId", from)];
    fields.extend_from_slice(to);
    fields.extend([("objectName", "RC:TxtMsg"), ("content", content)]);
    rc.post(&format!("/message/{kind}/publish.json"), &fields)
        .await
}

/// Mutes (`"1"`) or unmutes (`"0"`) the conversation of `conversation_type`
/// with `target` for user `p1`.
async fn set_muted(rc: &Rong, conversation_type: &str, target: &str, muted: &str) -> Answer {
    rc.post(
        "/conversation/notification/set.json",
        &[
            ("conversationType", conversation_type),
            ("requestId", "p1"),
            ("targetId", target),
            ("isMuted", muted),
        ],
    )
    .await
}

/// Pins (`"true"`) or unpins (`"false"`) the conversation of
/// `conversation_type` with `g9` for user `p1`.
async fn set_top(rc: &Rong, conversation_type: &str, top: &str) -> Answer {
    rc.post(
        "/conversation/top/set.json",
        &[
            ("userId", "p1"),
            ("conversationType", conversation_type),
            ("targetId", "g9"),
            ("setTop", top),
        ],
    )
    .await
}

/// How many rows the store's `table` holds.
fn count(im: &Imbridge, table: &str) -> i64 {
    im.db()
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

async fn register(rc: &Rong, user: &str, name: &str) -> String {
    let a = rc
        .post(
            "/user/getToken.json",
            &[("userId", user), ("name", name), ("portraitUri", "")],
        )
        .await
        .rc_ok();
    assert_eq!(a.json["userId"], user, "{}", a.text);
    a.json["token"].as_str().expect("a token").to_string()
}

#[tokio::test]
async fn users_register_by_token_and_read_back() {
    let im = start_with_secret(RC_SECRET);
    let rc = Rong::of(&im);
    let token = register(&rc, "alice", "Alice").await;
    assert!(!token.is_empty());
    // Getting a token again does not register twice: the same token.
    assert_eq!(register(&rc, "alice", "Alice").await, token);
    let info = rc
        .post("/user/info.json", &[("userId", "alice")])
        .await
        .rc_ok();
    assert_eq!(info.json["userName"], "Alice");
    assert_eq!(info.json["userPortrait"], "");
    let created = info.json["createTime"].as_str().expect("createTime");
    assert!(
        chrono::NaiveDateTime::parse_from_str(created, "%Y-%m-%d %H:%M:%S").is_ok(),
        "createTime {created}"
    );
    rc.post(
        "/user/refresh.json",
        &[
            ("userId", "alice"),
            ("name", "Alice B"),
            ("portraitUri", "http://img.example/a.png"),
        ],
    )
    .await
    .rc_ok();
    let info = rc
        .post("/user/info.json", &[("userId", "alice")])
        .await
        .rc_ok();
    assert_eq!(info.json["userName"], "Alice B");
    assert_eq!(info.json["userPortrait"], "http://img.example/a.png");
    let online = rc
        .post("/user/checkOnline.json", &[("userId", "alice")])
        .await
        .rc_ok();
    assert_eq!(
        online.json["status"], "0",
        "status is a string: {}",
        online.text
    );
    // Unknown users and missing parameters.
    rc.post("/user/info.json", &[("userId", "nobody")])
        .await
        .rc_error(404, 1002);
    rc.post("/user/checkOnline.json", &[("userId", "nobody")])
        .await
        .rc_error(404, 1002);
    rc.post("/user/refresh.json", &[("userId", "nobody"), ("name", "x")])
        .await
        .rc_error(404, 1002);
    let missing = rc
        .post("/user/getToken.json", &[("name", "x")])
        .await
        .rc_error(400, 1002);
    assert!(
        missing.json["errorMessage"]
            .as_str()
            .unwrap()
            .contains("userId"),
        "{}",
        missing.text
    );
    rc.post("/user/info.json", &[]).await.rc_error(400, 1002);
    let long = "u".repeat(65);
    rc.post("/user/getToken.json", &[("userId", &long)])
        .await
        .rc_error(400, 1005);
}

#[tokio::test]
async fn signatures_are_checked_without_freshness_or_replay() {
    let im = start_with_secret(RC_SECRET);
    let rc = Rong::of(&im);
    let path = "/user/getToken.json";
    let fields = [("userId", "sig1")];
    // No headers, a wrong signature, a wrong app key: 1004, HTTP 401.
    rc.post_with(path, &fields, &[]).await.rc_error(401, 1004);
    let mut bad = rc.headers();
    bad[3].1 = rc_sign("other-secret", &bad[1].1, &bad[2].1);
    rc.post_with(path, &fields, &bad).await.rc_error(401, 1004);
    let mut wrong_key = rc.headers();
    wrong_key[0].1 = "not-our-app-key".into();
    rc.post_with(path, &fields, &wrong_key)
        .await
        .rc_error(401, 1004);
    let mut no_key = rc.headers();
    no_key.remove(0);
    rc.post_with(path, &fields, &no_key)
        .await
        .rc_error(401, 1004);
    // RC- aliases, milliseconds, any header case; the same headers again
    // (the Node SDK signs once); a timestamp of years ago.
    let nonce = "0.30369982654439565";
    let ms = chrono::Utc::now().timestamp_millis().to_string();
    let aliased = vec![
        ("rc-app-key".to_string(), APP_KEY.to_string()),
        ("RC-Nonce".to_string(), nonce.to_string()),
        ("RC-TIMESTAMP".to_string(), ms.clone()),
        ("rc-signature".to_string(), rc_sign(RC_SECRET, nonce, &ms)),
    ];
    rc.post_with(path, &fields, &aliased).await.rc_ok();
    rc.post_with(path, &fields, &aliased).await.rc_ok();
    let old = "1408710653";
    let stale = vec![
        ("App-Key".to_string(), APP_KEY.to_string()),
        ("Nonce".to_string(), "1".to_string()),
        ("Timestamp".to_string(), old.to_string()),
        (
            "Signature".to_string(),
            rc_sign(RC_SECRET, "1", old).to_uppercase(),
        ),
    ];
    rc.post_with(path, &fields, &stale).await.rc_ok();
}

/// The vendor's test vector, through a live request to a server whose app
/// secret is the vector's: accepted as it is, refused with one digit changed.
#[tokio::test]
async fn vendor_signature_vector_is_accepted() {
    let im = start_with_secret("Y1W2MeFwwwRxa0");
    let rc = Rong::of(&im);
    let vector = |sign: &str| {
        vec![
            ("App-Key".to_string(), APP_KEY.to_string()),
            ("Nonce".to_string(), "14314".to_string()),
            ("Timestamp".to_string(), "1408710653491".to_string()),
            ("Signature".to_string(), sign.to_string()),
        ]
    };
    assert_eq!(
        rc_sign("Y1W2MeFwwwRxa0", "14314", "1408710653491"),
        "dd11a264276f438b045b3b236a2741ddc89d48df"
    );
    let fields = [("userId", "vector"), ("name", "v")];
    rc.post_with(
        "/user/getToken.json",
        &fields,
        &vector("dd11a264276f438b045b3b236a2741ddc89d48df"),
    )
    .await
    .rc_ok();
    rc.post_with(
        "/user/getToken.json",
        &fields,
        &vector("dd11a264276f438b045b3b236a2741ddc89d48de"),
    )
    .await
    .rc_error(401, 1004);
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_rongcloud_errors() {
    let im = start_with_secret(RC_SECRET);
    let rc = Rong::of(&im);
    rc.post("/user/nothing.json", &[("userId", "a")])
        .await
        .rc_error(404, 1007);
    let get = Answer::of(im.request(Method::GET, "/user/info.json")).await;
    assert_eq!(get.status, 405, "{}", get.text);
    assert_eq!(get.json["code"], 1007, "{}", get.text);
}

#[tokio::test]
async fn block_and_blacklist() {
    let im = start_with_secret(RC_SECRET);
    let rc = Rong::of(&im);
    for u in ["bob", "carol", "dave"] {
        register(&rc, u, u).await;
    }
    rc.post(
        "/user/blacklist/add.json",
        &[
            ("userId", "bob"),
            ("blackUserId", "carol"),
            ("blackUserId", "dave"),
        ],
    )
    .await
    .rc_ok();
    let list = rc
        .post("/user/blacklist/query.json", &[("userId", "bob")])
        .await
        .rc_ok();
    assert_eq!(
        list.json["users"],
        json!(["carol", "dave"]),
        "{}",
        list.text
    );
    rc.post(
        "/user/blacklist/remove.json",
        &[("userId", "bob"), ("blackUserId", "carol")],
    )
    .await
    .rc_ok();
    let list = rc
        .post("/user/blacklist/query.json", &[("userId", "bob")])
        .await
        .rc_ok();
    assert_eq!(list.json["users"], json!(["dave"]), "{}", list.text);
    // Removing who is not there changes nothing.
    rc.post(
        "/user/blacklist/remove.json",
        &[("userId", "bob"), ("blackUserId", "carol")],
    )
    .await
    .rc_ok();
    rc.post(
        "/user/blacklist/add.json",
        &[("userId", "bob"), ("blackUserId", "nobody")],
    )
    .await
    .rc_error(404, 1002);
    rc.post("/user/blacklist/add.json", &[("userId", "bob")])
        .await
        .rc_error(400, 1002);
    // A blocked user cannot send; unblocked, they can.
    rc.post("/user/block.json", &[("userId", "bob"), ("minute", "10")])
        .await
        .rc_ok();
    let text = r#"{"content":"hi"}"#;
    let carol = [("toUserId", "carol")];
    publish_text(&rc, "private", "bob", &carol, text)
        .await
        .rc_error(403, 1002);
    rc.post("/user/unblock.json", &[("userId", "bob")])
        .await
        .rc_ok();
    publish_text(&rc, "private", "bob", &carol, text)
        .await
        .rc_ok();
    rc.post("/user/block.json", &[("userId", "bob")])
        .await
        .rc_error(400, 1002);
    rc.post(
        "/user/block.json",
        &[("userId", "bob"), ("userId", "carol"), ("minute", "5")],
    )
    .await
    .rc_error(430, 1009);
    rc.post("/user/block.json", &[("userId", "nobody"), ("minute", "5")])
        .await
        .rc_error(404, 1002);
}

#[tokio::test]
async fn groups_with_caller_chosen_ids() {
    let im = start_with_secret(RC_SECRET);
    let rc = Rong::of(&im);
    for u in ["u1", "u2", "u3", "u4"] {
        register(&rc, u, u).await;
    }
    rc.post(
        "/group/create.json",
        &[
            ("userId", "u1"),
            ("userId", "u2"),
            ("groupId", "g-1"),
            ("groupName", "first"),
        ],
    )
    .await
    .rc_ok();
    assert_eq!(group_members(&rc, "g-1").await, ["u1", "u2"]);
    rc.post(
        "/group/join.json",
        &[
            ("userId", "u3"),
            ("userId", "u4"),
            ("groupId", "g-1"),
            ("groupName", "first"),
        ],
    )
    .await
    .rc_ok();
    rc.post("/group/quit.json", &[("userId", "u2"), ("groupId", "g-1")])
        .await
        .rc_ok();
    assert_eq!(group_members(&rc, "g-1").await, ["u1", "u3", "u4"]);
    rc.post(
        "/group/refresh.json",
        &[("groupId", "g-1"), ("groupName", "renamed")],
    )
    .await
    .rc_ok();
    let groups = rc
        .post("/user/group/query.json", &[("userId", "u3")])
        .await
        .rc_ok();
    assert_eq!(
        groups.json["groups"],
        json!([{"id": "g-1", "name": "renamed"}]),
        "{}",
        groups.text
    );
    // Gag: muted members are listed until rolled back.
    rc.post(
        "/group/user/gag/add.json",
        &[("userId", "u3"), ("groupId", "g-1"), ("minute", "0")],
    )
    .await
    .rc_ok();
    let gagged = rc
        .post("/group/user/gag/list.json", &[("groupId", "g-1")])
        .await
        .rc_ok();
    assert_eq!(ids(&gagged.json["users"], "userId"), ["u3"]);
    rc.post(
        "/group/user/gag/rollback.json",
        &[("userId", "u3"), ("groupId", "g-1")],
    )
    .await
    .rc_ok();
    let gagged = rc
        .post("/group/user/gag/list.json", &[("groupId", "g-1")])
        .await
        .rc_ok();
    assert_eq!(gagged.json["users"], json!([]));
    // Sync: u4's groups become exactly g-1 and a new g-2.
    rc.post(
        "/group/sync.json",
        &[
            ("userId", "u4"),
            ("group[g-1]", "renamed"),
            ("group[g-2]", "second"),
        ],
    )
    .await
    .rc_ok();
    let groups = rc
        .post("/user/group/query.json", &[("userId", "u4")])
        .await
        .rc_ok();
    assert_eq!(ids(&groups.json["groups"], "id"), ["g-1", "g-2"]);
    assert_eq!(groups.json["groups"][1]["name"], "second");
    rc.post(
        "/group/sync.json",
        &[("userId", "u4"), ("group[g-2]", "second")],
    )
    .await
    .rc_ok();
    let groups = rc
        .post("/user/group/query.json", &[("userId", "u4")])
        .await
        .rc_ok();
    assert_eq!(ids(&groups.json["groups"], "id"), ["g-2"]);
    // Dismiss (any user may ask); again, the group is gone: 1015.
    rc.post(
        "/group/dismiss.json",
        &[("userId", "u3"), ("groupId", "g-1")],
    )
    .await
    .rc_ok();
    rc.post("/group/user/query.json", &[("groupId", "g-1")])
        .await
        .rc_error(404, 1002);
    rc.post(
        "/group/dismiss.json",
        &[("userId", "u3"), ("groupId", "g-1")],
    )
    .await
    .rc_error(200, 1015);
    // Errors: unknown users and groups, missing parameters.
    rc.post(
        "/group/create.json",
        &[("userId", "nobody"), ("groupId", "g-3"), ("groupName", "x")],
    )
    .await
    .rc_error(404, 1002);
    rc.post(
        "/group/join.json",
        &[("userId", "u1"), ("groupId", "g-none")],
    )
    .await
    .rc_error(404, 1002);
    rc.post(
        "/group/create.json",
        &[("userId", "u1"), ("groupName", "x")],
    )
    .await
    .rc_error(400, 1002);
    rc.post(
        "/group/create.json",
        &[("userId", "u1"), ("groupId", "g-2"), ("groupName", "x")],
    )
    .await
    .rc_error(409, 1002);
    rc.post("/group/refresh.json", &[("groupId", "g-2")])
        .await
        .rc_error(400, 1002);
}

#[tokio::test]
async fn chatrooms() {
    let im = start_with_secret(RC_SECRET);
    let rc = Rong::of(&im);
    for u in ["r1", "r2"] {
        register(&rc, u, u).await;
    }
    rc.post("/chatroom/create.json", &[("chatroom[room-1]", "lobby")])
        .await
        .rc_ok();
    let several = rc
        .post(
            "/chatroom/create.json",
            &[("chatroom[room-2]", "a"), ("chatroom[room-3]", "b")],
        )
        .await
        .rc_error(400, 1002);
    assert!(
        several.json["errorMessage"]
            .as_str()
            .unwrap()
            .contains("one by one"),
        "{}",
        several.text
    );
    rc.post("/chatroom/create.json", &[])
        .await
        .rc_error(400, 1002);
    let rooms = rc
        .post(
            "/chatroom/query.json",
            &[("chatroomId", "room-1"), ("chatroomId", "room-2")],
        )
        .await
        .rc_ok();
    let list = rooms.json["chatRooms"].as_array().expect("chatRooms");
    assert_eq!(list.len(), 1, "{}", rooms.text);
    assert_eq!(list[0]["chrmId"], "room-1");
    assert_eq!(list[0]["name"], "lobby");
    assert!(list[0]["time"].is_string(), "{}", rooms.text);
    rc.post(
        "/chatroom/join.json",
        &[("userId", "r1"), ("userId", "r2"), ("chatroomId", "room-1")],
    )
    .await
    .rc_ok();
    let users = rc
        .post(
            "/chatroom/user/query.json",
            &[("chatroomId", "room-1"), ("count", "10"), ("order", "1")],
        )
        .await
        .rc_ok();
    assert_eq!(users.json["total"], 2, "{}", users.text);
    assert_eq!(ids(&users.json["users"], "id"), ["r1", "r2"]);
    rc.post(
        "/chatroom/user/query.json",
        &[("chatroomId", "room-1"), ("count", "10"), ("order", "2")],
    )
    .await
    .rc_error(430, 1009);
    rc.post("/chatroom/user/query.json", &[("chatroomId", "room-1")])
        .await
        .rc_error(400, 1002);
    rc.post(
        "/chatroom/user/gag/add.json",
        &[("userId", "r1"), ("chatroomId", "room-1"), ("minute", "5")],
    )
    .await
    .rc_ok();
    rc.post(
        "/chatroom/user/gag/rollback.json",
        &[("userId", "r1"), ("chatroomId", "room-1")],
    )
    .await
    .rc_ok();
    rc.post("/chatroom/destroy.json", &[("chatroomId", "room-1")])
        .await
        .rc_ok();
    let rooms = rc
        .post("/chatroom/query.json", &[("chatroomId", "room-1")])
        .await
        .rc_ok();
    assert_eq!(rooms.json["chatRooms"], json!([]));
    rc.post("/chatroom/destroy.json", &[("chatroomId", "room-1")])
        .await
        .rc_error(200, 1015);
}

#[tokio::test]
async fn messages_text_custom_and_recall() {
    let im = start_with_secret(RC_SECRET);
    let rc = Rong::of(&im);
    for u in ["m1", "m2", "m3"] {
        register(&rc, u, u).await;
    }
    let text = r#"{"content":"你好 hello","extra":"e1"}"#;
    let to = [("toUserId", "m2"), ("toUserId", "m3")];
    let sent = publish_text(&rc, "private", "m1", &to, text).await.rc_ok();
    let uids = sent.json["messageUIDs"].as_array().expect("messageUIDs");
    assert_eq!(
        ids(&sent.json["messageUIDs"], "userId"),
        ["m2", "m3"],
        "{}",
        sent.text
    );
    let uid = uids[0]["messageUID"].as_str().unwrap().to_string();
    rc.post(
        "/group/create.json",
        &[
            ("userId", "m1"),
            ("userId", "m2"),
            ("groupId", "mg"),
            ("groupName", "mg"),
        ],
    )
    .await
    .rc_ok();
    let custom = r#"{"kind":"card","n":1}"#;
    let sent = rc
        .post(
            "/message/group/publish.json",
            &[
                ("fromUserId", "m1"),
                ("toGroupId", "mg"),
                ("objectName", "App:Card"),
                ("content", custom),
            ],
        )
        .await
        .rc_ok();
    assert_eq!(
        ids(&sent.json["messageUIDs"], "groupId"),
        ["mg"],
        "{}",
        sent.text
    );
    // What the store keeps: text as text, anything else as custom content.
    let rows: Vec<(String, String, String, String)> = {
        let db = im.db();
        let mut stmt = db
            .prepare("SELECT target_type, target, kind, content FROM messages ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str(), rows[0].2.as_str()),
        ("user", "m2", "text")
    );
    let content: Value = serde_json::from_str(&rows[0].3).unwrap();
    assert_eq!(content["text"], "你好 hello");
    assert_eq!(content["extras"], "e1");
    assert_eq!(
        (rows[2].0.as_str(), rows[2].2.as_str()),
        ("group", "custom")
    );
    let content: Value = serde_json::from_str(&rows[2].3).unwrap();
    assert_eq!(content["custom_type"], "App:Card");
    assert_eq!(content["custom"], json!({"kind": "card", "n": 1}));
    // Recall by UID; twice is an error.
    let recall = |uid: String| {
        let rc = rc.clone();
        async move {
            rc.post(
                "/message/recall.json",
                &[
                    ("fromUserId", "m1"),
                    ("conversationType", "1"),
                    ("targetId", "m2"),
                    ("messageUID", &uid),
                    ("sentTime", "1700000000000"),
                ],
            )
            .await
        }
    };
    recall(uid.clone()).await.rc_ok();
    recall(uid).await.rc_error(409, 1002);
    recall("999999999999".into()).await.rc_error(404, 1002);
    // Bad input: content not JSON, no recipient, a group message to one
    // member, a sender not in the group, an unknown group.
    let to_m2 = [("toUserId", "m2")];
    publish_text(&rc, "private", "m1", &to_m2, "not json")
        .await
        .rc_error(400, 1002);
    publish_text(&rc, "private", "m1", &[], text)
        .await
        .rc_error(400, 1002);
    let to_one = [("toGroupId", "mg"), ("toUserId", "m2")];
    publish_text(&rc, "group", "m1", &to_one, text)
        .await
        .rc_error(430, 1009);
    publish_text(&rc, "group", "m3", &[("toGroupId", "mg")], text)
        .await
        .rc_error(403, 1002);
    publish_text(&rc, "group", "m1", &[("toGroupId", "nope")], text)
        .await
        .rc_error(404, 1002);
}

#[tokio::test]
async fn sensitive_words_and_conversation_top() {
    let im = start_with_secret(RC_SECRET);
    let rc = Rong::of(&im);
    rc.post("/sensitiveword/add.json", &[("word", "spam")])
        .await
        .rc_ok();
    rc.post("/sensitiveword/add.json", &[("word", "scam")])
        .await
        .rc_ok();
    rc.post("/wordfilter/add.json", &[("word", "junk")])
        .await
        .rc_ok();
    let words = rc
        .post("/sensitiveword/list.json", &[("type", "1")])
        .await
        .rc_ok();
    let mut listed = ids(&words.json["words"], "word");
    listed.sort();
    assert_eq!(listed, ["junk", "scam", "spam"], "{}", words.text);
    assert_eq!(words.json["words"][0]["type"], "1");
    let replace = rc
        .post("/sensitiveword/list.json", &[("type", "0")])
        .await
        .rc_ok();
    assert_eq!(replace.json["words"], json!([]));
    rc.post(
        "/sensitiveword/add.json",
        &[("word", "x"), ("replaceWord", "y")],
    )
    .await
    .rc_error(430, 1009);
    rc.post(
        "/sensitiveword/batch/delete.json",
        &[("words", "spam"), ("words", "scam")],
    )
    .await
    .rc_ok();
    rc.post("/wordfilter/delete.json", &[("word", "junk")])
        .await
        .rc_ok();
    let words = rc.post("/wordfilter/list.json", &[]).await.rc_ok();
    assert_eq!(words.json["words"], json!([]));
    rc.post("/sensitiveword/delete.json", &[("word", "junk")])
        .await
        .rc_error(200, 1015);
    rc.post("/sensitiveword/add.json", &[])
        .await
        .rc_error(400, 1002);
    // Pin a group conversation for a user.
    register(&rc, "p1", "p1").await;
    // Do not disturb, per conversation.
    register(&rc, "p2", "p2").await;
    set_muted(&rc, "1", "p2", "1").await.rc_ok();
    assert_eq!(count(&im, "nodisturb_users"), 1);
    set_muted(&rc, "1", "p2", "0").await.rc_ok();
    assert_eq!(count(&im, "nodisturb_users"), 0);
    set_muted(&rc, "4", "r", "1").await.rc_error(430, 1009);
    set_top(&rc, "3", "true").await.rc_ok();
    let pinned: Vec<(String, String)> = {
        let db = im.db();
        let mut stmt = db
            .prepare("SELECT target_type, target FROM conversation_tops")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(pinned, vec![("group".to_string(), "g9".to_string())]);
    set_top(&rc, "3", "false").await.rc_ok();
    assert_eq!(count(&im, "conversation_tops"), 0);
    set_top(&rc, "6", "true").await.rc_error(430, 1009);
}
