//! The official JMessage Python SDK (PyPI `jmessage` 2.0.0, in the venv that
//! `.ci/setup --tests` makes) runs `tests/sdk/jmessage_scenario.py` against a
//! real server; the script asserts on every answer the SDK gets. Then plain
//! HTTP checks that what the scenario did is really stored. A missing venv is
//! a failure, never a skip.

use serde_json::{json, Value};

use crate::harness::{
    download, postgres_twins, replica_twins, run_sdk_scenario, Imbridge, Jm, APP_KEY, MASTER_SECRET,
};
use crate::jm::*;

/// Runs the scenario against `im`; returns its JSON summary.
async fn run_scenario(im: &Imbridge) -> Value {
    run_sdk_scenario(
        "jmessage",
        "jmessage_scenario.py",
        &[&im.base, APP_KEY, MASTER_SECRET],
    )
    .await
}

/// Routes the scenario must have gone through with success (metric labels):
/// what the official SDK exercises.
const SDK_ROUTES: &[&str] = &[
    "user.register",
    "user.get",
    "user.update",
    "user.password.set",
    "user.status.single",
    "user.status.batch",
    "user.disable",
    "user.list",
    "user.delete.single",
    "user.delete.batch",
    "user.nodisturb.set",
    "friend.add",
    "friend.note.update",
    "friend.remove",
    "friend.list",
    "blacklist.add",
    "blacklist.remove",
    "blacklist.list",
    "group.create",
    "group.get",
    "group.update",
    "group.dismiss",
    "group.members.update",
    "group.members.list",
    "user.groups.list",
    "group.list",
    "group.mute",
    "group.shield",
    "message.send",
    "message.retract",
    "media.upload",
    "media.url",
    "chatroom.create",
    "chatroom.get",
    "chatroom.update",
    "chatroom.mute",
    "chatroom.members.add",
    "chatroom.members.remove",
    "chatroom.members.list",
    "user.chatrooms.list",
    "chatroom.list",
    "sensitive_word.add",
    "sensitive_word.update",
    "sensitive_word.delete",
    "sensitive_word.list",
    "sensitive_word.status.set",
    "sensitive_word.status.get",
    "app.sdk_register.set",
    "app.sdk_register.get",
];

#[tokio::test]
async fn official_sdk_scenario_is_stored() {
    let im = Imbridge::start();
    let summary = run_scenario(&im).await;
    let metrics = im.metrics().await;
    let missed: Vec<&&str> = SDK_ROUTES
        .iter()
        .filter(|r| !metrics.contains(&format!("outcome=\"ok\",route=\"{r}\"")))
        .collect();
    assert!(missed.is_empty(), "the SDK never got through {missed:?}");
    let jm = im.jm();
    let gid = int(&summary["gid"], &summary.to_string());
    let room = int(&summary["room"], &summary.to_string());
    check_users(&im, &jm).await;
    check_group(&im, &jm, gid).await;
    check_room(&jm, room).await;
    check_messages_and_media(&jm, &summary).await;
    check_settings(&jm).await;
}

async fn check_users(im: &Imbridge, jm: &Jm) {
    let alice = jm.get("/v1/users/sdk_alice").await.expect(200).json;
    assert_eq!(alice["nickname"], "Alice");
    assert_eq!(alice["signature"], "hi there");
    let dave = jm.get("/v1/users/sdk_dave").await.expect(200).json;
    assert_eq!(dave["extras"], json!({"team": "blue"}));
    assert!(password_is(im, "sdk_alice", "n3w-password").await);
    let all = jm
        .get("/v1/users/?start=0&count=500")
        .await
        .expect(200)
        .json;
    let mut names = usernames(&all["users"]);
    names.sort();
    assert_eq!(names, ["sdk_alice", "sdk_bob", "sdk_carol", "sdk_dave"]);
    for gone in ["sdk_erin", "sdk_frank", "sdk_gina"] {
        jm.get(&format!("/v1/users/{gone}"))
            .await
            .expect_jm_error(404, 899002);
    }
    let friends = jm.get("/v1/users/sdk_alice/friends").await.expect(200).json;
    assert_eq!(usernames(&friends), ["sdk_bob"]);
    assert_eq!(friends[0]["note_name"], "Bobby");
    let blacklist = jm
        .get("/v1/users/sdk_alice/blacklist")
        .await
        .expect(200)
        .json;
    assert_eq!(usernames(&blacklist), ["sdk_dave"]);
}

async fn check_group(im: &Imbridge, jm: &Jm, gid: i64) {
    let g = jm.get(&format!("/v1/groups/{gid}")).await.expect(200).json;
    assert_eq!(g["name"], "SDK group 2");
    assert_eq!(g["desc"], "made by the SDK");
    assert_eq!(
        group_members(jm, gid).await,
        ["sdk_alice:1", "sdk_bob:0", "sdk_carol:0"]
    );
    let groups = jm
        .get("/v1/groups/?start=0&count=500")
        .await
        .expect(200)
        .json;
    assert_eq!(groups["total"], 1, "the dismissed group is gone: {groups}");
    // sdk_carol is muted in the group.
    jm.post(
        "/v1/messages",
        text_message("sdk_carol", "group", json!(gid), "hi"),
    )
    .await
    .expect_jm_error(403, 899016);
    // sdk_bob's do-not-disturb and shield for the group.
    jm.post(
        "/v1/users/sdk_bob/nodisturb",
        json!({"group": {"add": [gid]}}),
    )
    .await
    .expect_jm_error(400, 899052);
    let shields = stored_strings(
        im,
        "SELECT g.gid FROM group_shields s JOIN users u ON u.id = s.user_id
         JOIN chat_groups g ON g.id = s.group_id WHERE u.username = ?1",
        "sdk_bob",
    )
    .await;
    assert_eq!(shields, [gid.to_string()]);
}

async fn check_room(jm: &Jm, room: i64) {
    let rooms = jm
        .post("/v1/chatroom/batch", json!([room]))
        .await
        .expect(200);
    assert_eq!(rooms.json[0]["name"], "SDK room 2");
    assert_eq!(rooms.json[0]["owner_username"], "sdk_bob");
    assert_eq!(rooms.json[0]["description"], "renamed");
    let mut members = room_members(jm, room).await;
    members.sort();
    assert_eq!(members, ["sdk_alice", "sdk_bob", "sdk_carol"]);
}

async fn check_messages_and_media(jm: &Jm, summary: &Value) {
    let msg_id = int(&summary["msg_id"], &summary.to_string());
    jm.call(
        reqwest::Method::POST,
        &format!("/v1/messages/sdk_alice/{msg_id}/retract"),
        None,
    )
    .await
    .expect_jm_error(409, 855004);
    let media_id = text(&summary["media_id"]);
    let a = jm
        .get(&format!("/v1/resource?mediaId={media_id}"))
        .await
        .expect(200);
    let bytes = download(&jm.http, &text(&a.json["url"])).await;
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not the uploaded PNG"
    );
}

async fn check_settings(jm: &Jm) {
    let words = jm
        .get("/v1/sensitiveword?start=0&count=100")
        .await
        .expect(200)
        .json;
    assert_eq!(words["total"], 1);
    assert_eq!(words["words"][0]["name"], "bad");
    let status = jm.get("/v1/sensitiveword/status").await.expect(200).json;
    assert_eq!(status, json!({"status": 0}));
    let sdk = jm.get("/v1/sdkregister/status").await.expect(200).json;
    assert_eq!(sdk, json!({"status": 1}));
}

postgres_twins!(official_sdk_scenario_is_stored);
replica_twins!(official_sdk_scenario_is_stored);
