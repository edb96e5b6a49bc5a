//! RongCloud's official Python server SDKs as real clients of the inbound
//! `rongcloud` dialect: `rc-server-sdk` 3.2.0 (signs with seconds, App-Key
//! headers, unencoded form bodies) and `rongcloud` 2.0.1 (signs with
//! milliseconds, RC- headers, requests' encoding), each in its own venv that
//! `.ci/setup --tests` makes (both install the package `rongcloud`). Their
//! calls getting through proves imbridge checks signatures as RongCloud's
//! own clients make them; plain signed HTTP then checks what they stored.
//! A missing venv is a failure, never a skip.

use serde_json::{json, Value};

use crate::harness::{run_sdk_scenario, Imbridge, APP_KEY};
use crate::rongcloud::{group_members, ids, start_with_secret, Rong, RC_SECRET};

/// Runs `script` with the venv `venv` against `im`; returns its JSON summary.
async fn run_scenario(venv: &str, script: &str, im: &Imbridge) -> Value {
    run_sdk_scenario(
        venv,
        script.trim_start_matches("sdk/"),
        &[&im.base, APP_KEY, RC_SECRET],
    )
    .await
}

/// Messages the store keeps: (sender, target type, target, kind, content,
/// retracted).
fn messages(im: &Imbridge) -> Vec<(String, String, String, String, Value, bool)> {
    let db = im.db();
    let mut stmt = db
        .prepare("SELECT sender, target_type, target, kind, content, retracted FROM messages ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| {
        let content: String = r.get(4)?;
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            serde_json::from_str(&content).unwrap(),
            r.get(5)?,
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[tokio::test]
async fn rc_server_sdk_scenario_is_stored() {
    let im = start_with_secret(RC_SECRET);
    let summary = run_scenario("rc-server-sdk", "sdk/rc_server_sdk_scenario.py", &im).await;
    let rc = Rong::of(&im);
    // Users, with raw UTF-8 and spaces in names as the SDK sends them.
    let info = rc
        .post("/user/info.json", &[("userId", "sdk_u1")])
        .await
        .rc_ok();
    assert_eq!(info.json["userName"], "Ann Lee 安");
    let info = rc
        .post("/user/info.json", &[("userId", "sdk_u2")])
        .await
        .rc_ok();
    assert_eq!(info.json["userName"], "Bob 李");
    let token = rc
        .post("/user/getToken.json", &[("userId", "sdk_u1")])
        .await
        .rc_ok();
    assert_eq!(token.json["token"], summary["tokens"]["sdk_u1"]);
    let black = rc
        .post("/user/blacklist/query.json", &[("userId", "sdk_u1")])
        .await
        .rc_ok();
    assert_eq!(black.json["users"], json!(["sdk_u2"]));
    let disabled: bool = im
        .db()
        .query_row(
            "SELECT disabled FROM users WHERE username = 'sdk_u3'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!disabled, "unblocked again");
    // Groups.
    assert_eq!(group_members(&rc, "sdk_g1").await, ["sdk_u1", "sdk_u3"]);
    let groups = rc
        .post("/user/group/query.json", &[("userId", "sdk_u2")])
        .await
        .rc_ok();
    assert_eq!(
        groups.json["groups"],
        json!([{"id": "sdk_g2", "name": "Second"}]),
        "{}",
        groups.text
    );
    rc.post("/group/user/query.json", &[("groupId", "sdk_g3")])
        .await
        .rc_error(404, 1002);
    let gagged = rc
        .post("/group/user/gag/list.json", &[("groupId", "sdk_g1")])
        .await
        .rc_ok();
    assert_eq!(gagged.json["users"], json!([]));
    // Messages: text to two users (the first recalled), text to the group,
    // a custom message.
    let stored = messages(&im);
    let brief: Vec<_> = stored
        .iter()
        .map(|m| (m.0.as_str(), m.1.as_str(), m.2.as_str(), m.3.as_str(), m.5))
        .collect();
    assert_eq!(
        brief,
        [
            ("sdk_u1", "user", "sdk_u2", "text", true),
            ("sdk_u1", "user", "sdk_u3", "text", false),
            ("sdk_u1", "group", "sdk_g1", "text", false),
            ("sdk_u3", "user", "sdk_u1", "custom", false),
        ]
    );
    assert_eq!(stored[0].4["text"], "hello 你好");
    assert_eq!(stored[2].4["text"], "hi group");
    assert_eq!(stored[2].4["extras"], "x1");
    assert_eq!(stored[3].4["custom_type"], "App:Card");
    assert_eq!(stored[3].4["custom"], json!({"card": 7}));
    // Chatrooms and words.
    let rooms = rc
        .post(
            "/chatroom/query.json",
            &[("chatroomId", "sdk_room"), ("chatroomId", "sdk_gone")],
        )
        .await
        .rc_ok();
    assert_eq!(ids(&rooms.json["chatRooms"], "chrmId"), ["sdk_room"]);
    let words = rc
        .post("/sensitiveword/list.json", &[("type", "1")])
        .await
        .rc_ok();
    assert_eq!(ids(&words.json["words"], "word"), ["kept"]);
    assert!(summary["recalled"].is_string(), "{summary}");
}

#[tokio::test]
async fn rongcloud_sdk_scenario_is_stored() {
    let im = start_with_secret(RC_SECRET);
    let summary = run_scenario("rongcloud", "sdk/rongcloud_scenario.py", &im).await;
    let rc = Rong::of(&im);
    let info = rc
        .post("/user/info.json", &[("userId", "py_u1")])
        .await
        .rc_ok();
    assert_eq!(info.json["userName"], "Ann & Co = 1+1");
    assert_eq!(
        info.json["userPortrait"],
        "http://img.example/p.png?a=1&b=2"
    );
    let black = rc
        .post("/user/blacklist/query.json", &[("userId", "py_u1")])
        .await
        .rc_ok();
    assert_eq!(black.json["users"], json!([]));
    assert_eq!(group_members(&rc, "py_g1").await, ["py_u1", "py_u3"]);
    let groups = rc
        .post("/user/group/query.json", &[("userId", "py_u3")])
        .await
        .rc_ok();
    assert_eq!(
        groups.json["groups"],
        json!([{"id": "py_g1", "name": "R&D + Ops"}]),
        "{}",
        groups.text
    );
    let groups = rc
        .post("/user/group/query.json", &[("userId", "py_u2")])
        .await
        .rc_ok();
    assert_eq!(ids(&groups.json["groups"], "id"), ["py_g2"]);
    rc.post("/group/user/query.json", &[("groupId", "py_g3")])
        .await
        .rc_error(404, 1002);
    let stored = messages(&im);
    let brief: Vec<_> = stored
        .iter()
        .map(|m| (m.0.as_str(), m.1.as_str(), m.2.as_str(), m.3.as_str()))
        .collect();
    assert_eq!(
        brief,
        [
            ("py_u1", "user", "py_u2", "text"),
            ("py_u1", "group", "py_g1", "text"),
            ("py_u3", "chatroom", "py_room", "text"),
        ]
    );
    assert_eq!(stored[0].4["text"], "a&b=c+d 你好");
    let users = rc
        .post(
            "/chatroom/user/query.json",
            &[("chatroomId", "py_room"), ("count", "10"), ("order", "1")],
        )
        .await
        .rc_ok();
    assert_eq!(ids(&users.json["users"], "id"), ["py_u3"]);
    let gone = rc
        .post("/chatroom/query.json", &[("chatroomId", "py_gone")])
        .await
        .rc_ok();
    assert_eq!(gone.json["chatRooms"], json!([]), "{}", gone.text);
    let words = rc.post("/wordfilter/list.json", &[]).await.rc_ok();
    assert_eq!(ids(&words.json["words"], "word"), ["keep"]);
    assert!(
        summary["token"].as_str().is_some_and(|t| !t.is_empty()),
        "{summary}"
    );
}
