//! JMessage fixtures shared by the JMessage test modules: registering users,
//! creating groups and rooms, sending messages, reading lists back, a small
//! PNG generator and checks of JMessage's value formats.

use chrono::{FixedOffset, NaiveDateTime, Utc};
use serde_json::{json, Value};

use crate::harness::{Answer, Imbridge, Jm};

/// The password every fixture user gets.
pub const PASSWORD: &str = "password";

/// JMessage's time format (`yyyy-MM-dd HH:mm:ss`, Beijing time).
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Registers users (default password); asserts every one was created.
pub async fn register(jm: &Jm, names: &[&str]) {
    let users: Vec<Value> = names
        .iter()
        .map(|n| json!({"username": n, "password": PASSWORD}))
        .collect();
    register_users(jm, Value::Array(users)).await;
}

/// Registers full user objects; asserts 201 and no per-user error.
pub async fn register_users(jm: &Jm, users: Value) {
    let expected: Vec<Value> = users
        .as_array()
        .expect("an array of users")
        .iter()
        .map(|u| json!({"username": u["username"]}))
        .collect();
    let a = jm.post("/v1/users/", users).await.expect(201);
    assert_eq!(a.json, Value::Array(expected), "register: {}", a.text);
}

/// A user with every profile field of the seed's "获取用户信息" example.
pub fn full_user(username: &str) -> Value {
    json!({
        "username": username,
        "password": PASSWORD,
        "nickname": "hello",
        "avatar": "/avatar",
        "birthday": "1990-01-24",
        "gender": 0,
        "signature": "orz",
        "region": "shenzhen",
        "address": "shenzhen",
        "extras": {"key": "value"}
    })
}

/// Creates a group; returns its gid.
pub async fn create_group(jm: &Jm, owner: &str, name: &str, members: &[&str]) -> i64 {
    let body = json!({"owner_username": owner, "name": name, "members_username": members});
    let a = jm.post("/v1/groups/", body).await.expect(201);
    int(&a.json["gid"], &a.text)
}

/// Creates a chatroom; returns its id.
pub async fn create_room(jm: &Jm, owner: &str, name: &str, members: &[&str]) -> i64 {
    let body = json!({"owner_username": owner, "name": name, "description": name,
                      "members_username": members});
    let a = jm.post("/v1/chatroom/", body).await.expect(201);
    int(&a.json["chatroom_id"], &a.text)
}

/// `username:flag` of every member of a group, in the order listed.
pub async fn group_members(jm: &Jm, gid: i64) -> Vec<String> {
    let a = jm
        .get(&format!("/v1/groups/{gid}/members/"))
        .await
        .expect(200);
    list(&a)
        .iter()
        .map(|m| format!("{}:{}", text(&m["username"]), int(&m["flag"], &a.text)))
        .collect()
}

/// The usernames of the members of a chatroom.
pub async fn room_members(jm: &Jm, room: i64) -> Vec<String> {
    let a = jm
        .get(&format!("/v1/chatroom/{room}/members?start=0&count=100"))
        .await
        .expect(200);
    usernames(&a.json["users"])
}

/// Everything the JMessage API shows of the stored data: users, groups,
/// rooms, sensitive words and switches, each user's friends, blacklist,
/// groups and rooms, each group's and room's members.
pub async fn snapshot(jm: &Jm) -> Value {
    let get = |path: String| async move { jm.get(&path).await.expect(200).json };
    let users = get("/v1/users/?start=0&count=500".into()).await;
    let groups = get("/v1/groups/?start=0&count=500".into()).await;
    let rooms = get("/v1/chatroom?start=0&count=500".into()).await;
    let mut per_user = serde_json::Map::new();
    for name in usernames(&users["users"]) {
        let mut lists = serde_json::Map::new();
        for list in ["friends", "blacklist", "groups/", "chatroom"] {
            lists.insert(list.into(), get(format!("/v1/users/{name}/{list}")).await);
        }
        per_user.insert(name, Value::Object(lists));
    }
    let mut members = serde_json::Map::new();
    for g in groups["groups"].as_array().unwrap() {
        let gid = &g["gid"];
        members.insert(
            format!("group {gid}"),
            get(format!("/v1/groups/{gid}/members/")).await,
        );
    }
    for r in rooms["rooms"].as_array().unwrap() {
        let id = &r["id"];
        let path = format!("/v1/chatroom/{id}/members?start=0&count=500");
        members.insert(format!("room {id}"), get(path).await);
    }
    json!({
        "users": users,
        "groups": groups,
        "rooms": rooms,
        "words": get("/v1/sensitiveword?start=0&count=2000".into()).await,
        "word_filter": get("/v1/sensitiveword/status".into()).await,
        "sdk_register": get("/v1/sdkregister/status".into()).await,
        "per_user": per_user,
        "members": members,
    })
}

/// The usernames in a JSON array of user objects.
pub fn usernames(users: &Value) -> Vec<String> {
    users
        .as_array()
        .unwrap_or_else(|| panic!("expected an array of users, got {users}"))
        .iter()
        .map(|u| text(&u["username"]))
        .collect()
}

/// The body of an answer as an array.
pub fn list(a: &Answer) -> &Vec<Value> {
    a.json
        .as_array()
        .unwrap_or_else(|| panic!("expected a JSON array, got {}", a.text))
}

/// A message of the seed's text example between two users (or to a group or
/// room with `target_type`).
pub fn text_message(from: &str, target_type: &str, target: Value, text: &str) -> Value {
    json!({
        "version": 1,
        "target_type": target_type,
        "target_id": target,
        "from_type": "user",
        "from_id": from,
        "msg_type": "text",
        "msg_body": {"extras": {}, "text": text}
    })
}

/// Sends a text message from one user to another.
pub async fn send_text(jm: &Jm, from: &str, to: &str) -> Answer {
    jm.post(
        "/v1/messages",
        text_message(from, "single", json!(to), "Hello, JMessage!"),
    )
    .await
}

/// Sends a text message that must be accepted; returns its msg_id.
pub async fn sent_id(jm: &Jm, message: Value) -> i64 {
    let a = jm.post("/v1/messages", message).await.expect(201);
    int(&a.json["msg_id"], &a.text)
}

/// Whether `password` is the stored password of `username`. JMessage has no
/// endpoint that checks a password, so this reads the embedded provider's hash.
pub async fn password_is(im: &Imbridge, username: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    let hash = stored_strings(
        im,
        "SELECT password FROM users WHERE username = ?1",
        username,
    )
    .await
    .pop()
    .expect("a password hash");
    let parsed = PasswordHash::new(&hash).expect("a PHC hash string");
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Whether `username`'s global do-not-disturb is on in the embedded provider
/// (JMessage cannot read it back).
pub async fn global_nodisturb(im: &Imbridge, username: &str) -> bool {
    let username = username.to_owned();
    im.provider_db()
        .read(move |tx| {
            tx.query_one(
                "SELECT nodisturb FROM users WHERE username = ?1",
                &[&username],
                |r| r.get(0),
            )
        })
        .await
        .unwrap()
}

/// The strings a query on the embedded provider's database returns for one
/// username parameter (for settings JMessage cannot read back).
pub async fn stored_strings(im: &Imbridge, sql: &'static str, username: &str) -> Vec<String> {
    let username = username.to_owned();
    im.provider_db()
        .read(move |tx| tx.query_all(sql, &[&username], |r| r.get(0)))
        .await
        .unwrap()
}

/// An integer JSON value, or a panic naming the body.
pub fn int(v: &Value, body: &str) -> i64 {
    v.as_i64()
        .unwrap_or_else(|| panic!("expected an integer, got {v} in {body}"))
}

/// A string JSON value, or a panic.
pub fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
        .to_string()
}

/// Asserts `v` is a JMessage time (`yyyy-MM-dd HH:mm:ss`, Beijing time)
/// within two minutes of now.
pub fn assert_time_now(v: &Value) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("a time must be a string, got {v}"));
    let t = NaiveDateTime::parse_from_str(s, TIME_FORMAT)
        .unwrap_or_else(|e| panic!("`{s}` is not yyyy-MM-dd HH:mm:ss: {e}"));
    let beijing = FixedOffset::east_opt(8 * 3600).unwrap();
    let now = Utc::now().with_timezone(&beijing).naive_local();
    let skew = (now - t).num_seconds().abs();
    assert!(skew < 120, "time `{s}` is not now in Beijing ({now})");
}

/// Asserts `ms` is milliseconds since the epoch within two minutes of now.
pub fn assert_millis_now(v: &Value) {
    let ms = v
        .as_i64()
        .unwrap_or_else(|| panic!("expected integer milliseconds, got {v}"));
    let skew = (Utc::now().timestamp_millis() - ms).abs();
    assert!(skew < 120_000, "{ms} ms is not now");
}

/// A valid `width`×`height` RGB PNG (deflate stored blocks, no compression).
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            raw.extend_from_slice(&[(x * 40) as u8, (y * 60) as u8, 200]);
        }
    }
    let len = u16::try_from(raw.len()).expect("a small image");
    let mut zlib = vec![0x78, 0x01, 0x01];
    zlib.extend_from_slice(&len.to_le_bytes());
    zlib.extend_from_slice(&(!len).to_le_bytes());
    zlib.extend_from_slice(&raw);
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut out, b"IHDR", &header);
    png_chunk(&mut out, b"IDAT", &zlib);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}
