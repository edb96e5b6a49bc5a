//! The `easemob` dialect: imbridge speaking Easemob's REST API under
//! `/{org_name}/{app_name}/...` over the embedded store (an Easemob emulator),
//! the official `ease-restapi` 1.3 SDK as its client, and Easemob as a
//! provider in the emulator chain (imbridge A → Easemob dialect → imbridge B),
//! with A's app-token cache counted at both ends.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::chain::Chain;
use crate::harness::{
    assert_shape, json_body, repo, run_imbridge, run_sdk_scenario, Answer, Imbridge, Setup,
};
use crate::jm::create_group;

/// The Easemob org every test server uses.
pub const ORG: &str = "test-org";
/// The Easemob app every test server uses.
pub const APP: &str = "test-app";
/// The app's client_id.
pub const CLIENT_ID: &str = "YXA6test-client-id";
/// The app's client_secret.
pub const CLIENT_SECRET: &str = "YXA6test-client-secret";

/// The `[frontends.easemob]` table of a server serving Easemob on its main
/// listener.
pub fn frontend_table() -> String {
    format!(
        "[frontends.easemob]\ndialect = \"easemob\"\nprovider = \"embedded\"\n\n\
         [frontends.easemob.params]\norg_name = \"{ORG}\"\napp_name = \"{APP}\"\n\
         client_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n"
    )
}

/// A server serving only the Easemob dialect over the embedded store.
fn emulator() -> Imbridge {
    let setup = Setup::new();
    let text = setup.config_for(&[], &frontend_table());
    Imbridge::start_text(setup, &text)
}

/// An Easemob REST client: JSON bodies, `Authorization: Bearer <token>`.
#[derive(Clone)]
pub struct Em {
    /// `http://127.0.0.1:PORT/{org}/{app}`.
    base: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl Em {
    /// A client of `im` without a token.
    fn anonymous(im: &Imbridge) -> Em {
        Em {
            base: format!("{}/{ORG}/{APP}", im.base),
            http: im.http.clone(),
            token: None,
        }
    }

    /// A client holding a fresh app token.
    pub async fn admin(im: &Imbridge) -> Em {
        let mut em = Em::anonymous(im);
        let a = em
            .post(
                "/token",
                json!({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
            )
            .await
            .expect(200);
        em.token = Some(a.json["access_token"].as_str().unwrap().to_string());
        em
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        req
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut req = self.request(method, path);
        if let Some(b) = body {
            req = json_body(req, &b);
        }
        Answer::of(req).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None).await
    }
}

/// An Easemob success: HTTP 200 with the envelope's members; returns the body.
fn ok(a: Answer, action: &str, path: &str) -> Value {
    let a = a.expect(200);
    assert_shape(
        &a.json,
        &[
            ("action", "string"),
            ("application", "string"),
            ("path", "string"),
            ("uri", "string"),
            ("timestamp", "integer"),
            ("duration", "integer"),
            ("organization", "string"),
            ("applicationName", "string"),
        ],
        false,
    );
    assert_eq!(a.json["action"], action, "{}", a.text);
    assert_eq!(a.json["path"], path, "{}", a.text);
    assert_eq!(a.json["organization"], ORG);
    assert_eq!(a.json["applicationName"], APP);
    let uri = a.json["uri"].as_str().unwrap();
    assert_eq!(uri, format!("https://a1.easemob.com/{ORG}/{APP}{path}"));
    a.json
}

/// An Easemob error: the status, exactly Easemob's five members, the code.
fn err(a: Answer, status: u16, code: &str) -> String {
    let a = a.expect(status);
    assert_shape(
        &a.json,
        &[
            ("error", "string"),
            ("exception", "string"),
            ("timestamp", "integer"),
            ("duration", "integer"),
            ("error_description", "string"),
        ],
        true,
    );
    assert_eq!(a.json["error"], code, "{}", a.text);
    a.json["error_description"].as_str().unwrap().to_string()
}

/// Asserts a user entity.
fn assert_entity(e: &Value, username: &str) {
    assert_shape(
        e,
        &[
            ("uuid", "string"),
            ("type", "string"),
            ("created", "integer"),
            ("modified", "integer"),
            ("username", "string"),
            ("activated", "boolean"),
        ],
        false,
    );
    assert_eq!(e["type"], "user");
    assert_eq!(e["username"], username);
}

async fn register(em: &Em, users: &[&str]) {
    let body: Vec<Value> = users
        .iter()
        .map(|u| json!({"username": u, "password": format!("pw-{u}")}))
        .collect();
    let a = ok(em.post("/users", json!(body)).await, "post", "/users");
    assert_eq!(a["data"], json!([]), "registration failed: {a}");
}

#[tokio::test]
async fn tokens_and_the_org_app_check() {
    let im = emulator();
    let anon = Em::anonymous(&im);
    // client_credentials, with the default lifetime and with a ttl.
    let a = anon
        .post("/token", json!({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}))
        .await
        .expect(200);
    assert_shape(
        &a.json,
        &[
            ("access_token", "string"),
            ("expires_in", "integer"),
            ("application", "string"),
        ],
        true,
    );
    assert_eq!(a.json["expires_in"], 5184000);
    let a = anon
        .post("/token", json!({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "ttl": 3600}))
        .await
        .expect(200);
    assert_eq!(a.json["expires_in"], 3600);
    // Bad client credentials: 400 invalid_grant, as Easemob answers them.
    err(
        anon.post("/token", json!({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "nope"}))
            .await,
        400,
        "invalid_grant",
    );
    // No token, a made-up token: 401 unauthorized.
    err(anon.get("/users/x").await, 401, "unauthorized");
    let forged = Em {
        token: Some("forged".into()),
        ..anon.clone()
    };
    err(forged.get("/users/x").await, 401, "unauthorized");
    // Another org or app: 404 organization_application_not_found.
    let admin = Em::admin(&im).await;
    let elsewhere = Em {
        base: format!("{}/other-org/{APP}", im.base),
        ..admin.clone()
    };
    err(
        elsewhere.get("/users").await,
        404,
        "organization_application_not_found",
    );
    let elsewhere = Em {
        base: format!("{}/{ORG}/other-app", im.base),
        ..admin.clone()
    };
    err(
        elsewhere.get("/users").await,
        404,
        "organization_application_not_found",
    );
    // A user token by password: valid password only; not an app token.
    register(&admin, &["alice"]).await;
    let a = anon
        .post(
            "/token",
            json!({"grant_type": "password", "username": "alice", "password": "pw-alice"}),
        )
        .await
        .expect(200);
    assert_eq!(a.json["user"]["username"], "alice", "{}", a.text);
    assert_eq!(a.json["user"]["type"], "user");
    // Usernames are case-insensitive at login too.
    let a = anon
        .post(
            "/token",
            json!({"grant_type": "password", "username": "ALICE", "password": "pw-alice"}),
        )
        .await
        .expect(200);
    assert_eq!(a.json["user"]["username"], "alice", "{}", a.text);
    let user_token = a.json["access_token"].as_str().unwrap().to_string();
    err(
        anon.post(
            "/token",
            json!({"grant_type": "password", "username": "alice", "password": "wrong"}),
        )
        .await,
        400,
        "invalid_grant",
    );
    let as_user = Em {
        token: Some(user_token),
        ..anon.clone()
    };
    err(as_user.get("/users/alice").await, 401, "unauthorized");
    // inherit: a user token on the app's behalf, no password.
    let a = admin
        .post(
            "/token",
            json!({"grant_type": "inherit", "username": "Alice"}),
        )
        .await
        .expect(200);
    assert_eq!(a.json["user"]["username"], "alice", "{}", a.text);
    err(
        anon.post(
            "/token",
            json!({"grant_type": "inherit", "username": "alice"}),
        )
        .await,
        401,
        "unauthorized",
    );
}

#[tokio::test]
async fn users_register_get_list_update_delete() {
    let im = emulator();
    let em = Em::admin(&im).await;
    // One user: stored in lower case, answered as an entity.
    let a = ok(
        em.post(
            "/users",
            json!({"username": "Tom", "password": "123456", "nickname": "tommy"}),
        )
        .await,
        "post",
        "/users",
    );
    assert_entity(&a["entities"][0], "tom");
    assert_eq!(a["entities"][0]["nickname"], "tommy");
    assert_eq!(a["entities"][0]["activated"], true);
    // The same user again, in any case: 400 duplicate_unique_property_exists.
    err(
        em.post("/users", json!({"username": "TOM", "password": "x"}))
            .await,
        400,
        "duplicate_unique_property_exists",
    );
    err(
        em.post("/users", json!({"username": "nopassword"})).await,
        400,
        "illegal_argument",
    );
    // A batch: the new ones in entities, the failures in data.
    let a = ok(
        em.post(
            "/users",
            json!([{"username": "tom", "password": "1"}, {"username": "jerry", "password": "1"}, {"username": "Spike", "password": "1"}]),
        )
        .await,
        "post",
        "/users",
    );
    let names: Vec<&Value> = a["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["username"])
        .collect();
    assert_eq!(names, [&json!("jerry"), &json!("spike")]);
    assert_eq!(a["data"][0]["username"], "tom");
    assert!(a["data"][0]["registerUserFailReason"].is_string(), "{a}");
    let too_many: Vec<Value> = (0..61)
        .map(|i| json!({"username": format!("u{i}"), "password": "p"}))
        .collect();
    err(
        em.post("/users", json!(too_many)).await,
        400,
        "illegal_argument",
    );

    // Get, in any case.
    let a = ok(em.get("/users/TOM").await, "get", "/users");
    assert_entity(&a["entities"][0], "tom");
    assert_eq!(a["count"], 1);
    err(
        em.get("/users/nobody").await,
        404,
        "service_resource_not_found",
    );

    // List two at a time: the cursor walks all three, absent on the last page.
    let first = ok(em.get("/users?limit=2").await, "get", "/users");
    assert_eq!(first["count"], 2);
    assert_eq!(first["params"]["limit"], json!(["2"]));
    let cursor = first["cursor"].as_str().expect("a cursor").to_string();
    let last = ok(
        em.get(&format!("/users?limit=2&cursor={cursor}")).await,
        "get",
        "/users",
    );
    assert_eq!(last["count"], 1);
    assert!(last.get("cursor").is_none(), "{last}");
    let all: Vec<Value> = first["entities"]
        .as_array()
        .unwrap()
        .iter()
        .chain(last["entities"].as_array().unwrap())
        .map(|e| e["username"].clone())
        .collect();
    assert_eq!(all, [json!("tom"), json!("jerry"), json!("spike")]);
    err(em.get("/users?limit=101").await, 400, "illegal_argument");

    // Nickname, attributes.
    let a = ok(
        em.put("/users/jerry", json!({"nickname": "J"})).await,
        "put",
        "/users",
    );
    assert_eq!(a["entities"][0]["nickname"], "J");
    let a = Answer::of(em.request(Method::PUT, "/metadata/user/jerry").form(&[
        ("avatarurl", "http://x/a.png"),
        ("gender", "2"),
        ("sign", "hello"),
    ]))
    .await
    .expect(200);
    assert_eq!(
        a.json["data"],
        json!({"avatarurl": "http://x/a.png", "gender": "2", "sign": "hello"})
    );
    let a = em.get("/metadata/user/Jerry").await.expect(200);
    assert_eq!(
        a.json["data"],
        json!({"nickname": "J", "avatarurl": "http://x/a.png", "gender": "2", "sign": "hello"})
    );

    // Password: the new one logs in, the old one no longer.
    let a = em
        .put("/users/jerry/password", json!({"newpassword": "new-pw"}))
        .await
        .expect(200);
    assert_eq!(a.json["action"], "set user password");
    let anon = Em::anonymous(&im);
    let login = |pw: &str| json!({"grant_type": "password", "username": "jerry", "password": pw});
    anon.post("/token", login("new-pw")).await.expect(200);
    err(anon.post("/token", login("1")).await, 400, "invalid_grant");

    // Deactivated users cannot log in until activated.
    let a = ok(
        em.post("/users/jerry/deactivate", json!({})).await,
        "Deactivate user",
        "/users",
    );
    assert_eq!(a["entities"][0]["activated"], false);
    assert_eq!(
        ok(em.get("/users/jerry").await, "get", "/users")["entities"][0]["activated"],
        false
    );
    anon.post("/token", login("new-pw")).await.expect(403);
    ok(
        em.post("/users/jerry/activate", json!({})).await,
        "activate user",
        "/users",
    );
    anon.post("/token", login("new-pw")).await.expect(200);

    // Status, single and batch; offline message count.
    let a = ok(em.get("/users/tom/status").await, "get", "/users/status");
    assert_eq!(a["data"], json!({"tom": "offline"}));
    err(
        em.get("/users/nobody/status").await,
        404,
        "service_resource_not_found",
    );
    let a = ok(
        em.post(
            "/users/batch/status",
            json!({"usernames": ["Tom", "jerry"]}),
        )
        .await,
        "post",
        "/users/batch/status",
    );
    assert_eq!(a["data"], json!([{"tom": "offline"}, {"jerry": "offline"}]));
    let a = ok(
        em.get("/users/tom/offline_msg_count").await,
        "get",
        "/users/offline_msg_count",
    );
    assert_eq!(a["data"], json!({"tom": 0}));

    // Delete.
    let a = ok(em.delete("/users/Spike").await, "delete", "/users");
    assert_eq!(a["entities"][0]["username"], "spike");
    err(
        em.get("/users/spike").await,
        404,
        "service_resource_not_found",
    );
    err(
        em.delete("/users/spike").await,
        404,
        "service_resource_not_found",
    );
}

#[tokio::test]
async fn contacts_and_blocks() {
    let im = emulator();
    let em = Em::admin(&im).await;
    register(&em, &["a", "b", "c"]).await;
    let a = ok(
        em.post("/users/a/contacts/users/B", json!({})).await,
        "post",
        "/users/a/contacts",
    );
    assert_entity(&a["entities"][0], "b");
    ok(
        em.post("/users/a/contacts/users/c", json!({})).await,
        "post",
        "/users/a/contacts",
    );
    let a = em.get("/users/a/contacts/users").await.expect(200);
    assert_eq!(a.json["data"], json!(["b", "c"]));
    assert_eq!(a.json["count"], 2);
    // Friendship goes both ways.
    let a = em.get("/users/b/contacts/users").await.expect(200);
    assert_eq!(a.json["data"], json!(["a"]));
    let a = ok(
        em.delete("/users/a/contacts/users/b").await,
        "delete",
        "/users/a/contacts",
    );
    assert_entity(&a["entities"][0], "b");
    let a = em.get("/users/a/contacts/users").await.expect(200);
    assert_eq!(a.json["data"], json!(["c"]));
    err(
        em.post("/users/a/contacts/users/nobody", json!({})).await,
        404,
        "service_resource_not_found",
    );

    let a = ok(
        em.post("/users/a/blocks/users", json!({"usernames": ["b", "C"]}))
            .await,
        "post",
        "/users/a/blocks",
    );
    assert_eq!(a["data"], json!(["b", "c"]));
    let a = em.get("/users/a/blocks/users").await.expect(200);
    assert_eq!(a.json["data"], json!(["b", "c"]));
    // A blocked user's message to the blocker is refused.
    err(
        em.post(
            "/messages",
            json!({"target_type": "users", "target": ["a"], "msg": {"type": "txt", "msg": "hi"}, "from": "b"}),
        )
        .await,
        403,
        "forbidden_op",
    );
    ok(
        em.delete("/users/a/blocks/users/b").await,
        "delete",
        "/users/a/blocks",
    );
    let a = em.get("/users/a/blocks/users").await.expect(200);
    assert_eq!(a.json["data"], json!(["c"]));
    err(
        em.post("/users/a/blocks/users", json!({"usernames": "b"}))
            .await,
        400,
        "illegal_argument",
    );
}

#[tokio::test]
async fn groups() {
    let im = emulator();
    let em = Em::admin(&im).await;
    register(&em, &["owner", "m1", "m2", "m3"]).await;
    // The legacy spelling (desc, approval) as ease-restapi sends it.
    let a = ok(
        em.post(
            "/chatgroups",
            json!({"groupname": "team", "desc": "old style", "public": true, "approval": true, "owner": "Owner", "members": ["m1"]}),
        )
        .await,
        "post",
        "/chatgroups",
    );
    let gid = a["data"]["groupid"].as_str().expect("groupid").to_string();
    assert!(gid.chars().all(|c| c.is_ascii_digit()), "{gid}");
    // The modern spelling.
    let a = ok(
        em.post(
            "/chatgroups",
            json!({"groupname": "other", "description": "new style", "public": false, "membersonly": true, "maxusers": 50, "owner": "m1"}),
        )
        .await,
        "post",
        "/chatgroups",
    );
    let other = a["data"]["groupid"].as_str().unwrap().to_string();

    let a = ok(
        em.get(&format!("/chatgroups/{gid}")).await,
        "get",
        "/chatgroups",
    );
    let g = &a["data"][0];
    assert_eq!(g["id"], gid.as_str());
    assert_eq!(g["name"], "team");
    assert_eq!(g["description"], "old style");
    assert_eq!(g["public"], true);
    assert_eq!(g["maxusers"], 200);
    assert_eq!(g["owner"], "owner");
    assert_eq!(g["affiliations_count"], 2);
    assert_eq!(
        g["affiliations"],
        json!([{"owner": "owner"}, {"member": "m1"}])
    );
    let a = ok(
        em.get(&format!("/chatgroups/{other}")).await,
        "get",
        "/chatgroups",
    );
    assert_eq!(a["data"][0]["description"], "new style");
    assert_eq!(a["data"][0]["maxusers"], 50);
    assert_eq!(a["data"][0]["public"], false);
    err(
        em.get("/chatgroups/999999").await,
        404,
        "service_resource_not_found",
    );
    err(
        em.post("/chatgroups", json!({"groupname": "x"})).await,
        400,
        "illegal_argument",
    );

    let a = ok(em.get("/chatgroups").await, "get", "/chatgroups");
    assert_eq!(a["count"], 2);
    let first = &a["data"][0];
    assert_eq!(first["groupid"], gid.as_str());
    assert_eq!(first["owner"], format!("{ORG}#{APP}_owner"));
    assert_eq!(first["affiliations"], 2);
    assert_eq!(first["type"], "group");

    // Update; owner transfer on the same path.
    let a = ok(
        em.put(
            &format!("/chatgroups/{gid}"),
            json!({"groupname": "team2", "description": "d2"}),
        )
        .await,
        "put",
        "/chatgroups",
    );
    assert_eq!(a["data"], json!({"groupname": true, "description": true}));

    // Members: one, a batch, several removed at once; the member list pages.
    let path = format!("/chatgroups/{gid}/users");
    let a = ok(
        em.post(&format!("{path}/M2"), json!({})).await,
        "post",
        &path,
    );
    assert_eq!(
        a["data"],
        json!({"result": true, "groupid": gid, "action": "add_member", "user": "m2"})
    );
    err(
        em.post(&format!("{path}/m2"), json!({})).await,
        403,
        "forbidden_op",
    );
    let a = ok(
        em.post(&path, json!({"usernames": ["m3"]})).await,
        "post",
        &path,
    );
    assert_eq!(a["data"]["newmembers"], json!(["m3"]));
    let a = ok(em.get(&path).await, "get", &path);
    assert_eq!(
        a["data"],
        json!([{"owner": "owner"}, {"member": "m1"}, {"member": "m2"}, {"member": "m3"}])
    );
    let a = ok(
        em.get(&format!("{path}?pagenum=2&pagesize=3")).await,
        "get",
        &path,
    );
    assert_eq!(a["data"], json!([{"member": "m3"}]));
    let a = ok(
        em.get("/users/m2/joined_chatgroups").await,
        "get",
        "/users/joined_chatgroups",
    );
    assert_eq!(a["data"], json!([{"groupid": gid, "groupname": "team2"}]));
    let a = ok(em.delete(&format!("{path}/m2,m3")).await, "delete", &path);
    assert_eq!(a["data"][1]["user"], "m3");
    let a = ok(em.delete(&format!("{path}/m1")).await, "delete", &path);
    assert_eq!(a["data"]["user"], "m1");
    assert_eq!(a["data"]["result"], true);
    err(
        em.delete(&format!("{path}/m1")).await,
        404,
        "service_resource_not_found",
    );

    // Mute: a muted member cannot send to the group.
    ok(
        em.post(&format!("{path}/m1"), json!({})).await,
        "post",
        &path,
    );
    let mute = format!("/chatgroups/{gid}/mute");
    let a = ok(
        em.post(&mute, json!({"usernames": ["m1"], "mute_duration": 60000}))
            .await,
        "post",
        &mute,
    );
    assert_eq!(a["data"][0]["user"], "m1");
    let send = json!({"target_type": "chatgroups", "target": [gid], "msg": {"type": "txt", "msg": "hi"}, "from": "m1"});
    err(
        em.post("/messages", send.clone()).await,
        403,
        "forbidden_op",
    );
    ok(em.delete(&format!("{mute}/m1")).await, "delete", &mute);
    em.post("/messages", send).await.expect(200);

    // Transfer, then dismiss.
    let a = ok(
        em.put(&format!("/chatgroups/{gid}"), json!({"newowner": "m1"}))
            .await,
        "put",
        "/chatgroups",
    );
    assert_eq!(a["data"], json!({"newowner": true}));
    let a = ok(
        em.get(&format!("/chatgroups/{gid}")).await,
        "get",
        "/chatgroups",
    );
    assert_eq!(a["data"][0]["owner"], "m1");
    let a = ok(
        em.delete(&format!("/chatgroups/{gid}")).await,
        "delete",
        "/chatgroups",
    );
    assert_eq!(a["data"], json!({"success": true, "groupid": gid}));
    err(
        em.get(&format!("/chatgroups/{gid}")).await,
        404,
        "service_resource_not_found",
    );
}

#[tokio::test]
async fn chatrooms() {
    let im = emulator();
    let em = Em::admin(&im).await;
    register(&em, &["host", "guest", "other"]).await;
    let a = ok(
        em.post(
            "/chatrooms",
            json!({"name": "lobby", "description": "hello", "maxusers": 300, "owner": "host", "members": ["guest"]}),
        )
        .await,
        "post",
        "/chatrooms",
    );
    let id = a["data"]["id"].as_str().expect("room id").to_string();
    let a = ok(
        em.get(&format!("/chatrooms/{id}")).await,
        "get",
        "/chatrooms",
    );
    assert_eq!(a["data"][0]["name"], "lobby");
    assert_eq!(a["data"][0]["owner"], "host");
    assert_eq!(a["data"][0]["affiliations_count"], 2);
    ok(
        em.put(&format!("/chatrooms/{id}"), json!({"name": "lobby2"}))
            .await,
        "put",
        "/chatrooms",
    );
    let a = ok(em.get("/chatrooms").await, "get", "/chatrooms");
    assert_eq!(
        a["data"],
        json!([{"id": id, "name": "lobby2", "owner": "host", "affiliations_count": 2}])
    );
    let path = format!("/chatrooms/{id}/users");
    ok(
        em.post(&format!("{path}/other"), json!({})).await,
        "post",
        &path,
    );
    let a = ok(em.get(&path).await, "get", &path);
    assert_eq!(a["count"], 3);
    let a = ok(
        em.get("/users/other/joined_chatrooms").await,
        "get",
        "/users/joined_chatrooms",
    );
    assert_eq!(a["data"], json!([{"id": id, "name": "lobby2"}]));
    ok(
        em.delete(&format!("{path}/other,guest")).await,
        "delete",
        &path,
    );
    let a = ok(em.get(&path).await, "get", &path);
    assert_eq!(a["count"], 1);
    let a = ok(
        em.post(
            "/messages/chatrooms",
            json!({"from": "host", "to": [id], "type": "txt", "body": {"msg": "hi"}}),
        )
        .await,
        "post",
        "/messages/chatrooms",
    );
    assert!(a["data"][id.as_str()].is_string(), "{a}");
    ok(
        em.delete(&format!("/chatrooms/{id}")).await,
        "delete",
        "/chatrooms",
    );
    err(
        em.put(&format!("/chatrooms/{id}"), json!({"name": "x"}))
            .await,
        404,
        "service_resource_not_found",
    );
}

#[tokio::test]
async fn messages_recall_and_files() {
    let im = emulator();
    let em = Em::admin(&im).await;
    register(&em, &["from1", "to1", "to2"]).await;
    // Legacy send (ease-restapi's): "success" per target; no `from` = admin.
    let a = ok(
        em.post(
            "/messages",
            json!({"target_type": "users", "target": ["To1", "to2"], "msg": {"type": "txt", "msg": "hello"}, "from": null, "ext": {}}),
        )
        .await,
        "post",
        "/messages",
    );
    assert_eq!(a["data"], json!({"to1": "success", "to2": "success"}));
    // Modern send: the message id per receiver.
    let a = ok(
        em.post(
            "/messages/users",
            json!({"from": "from1", "to": ["to1"], "type": "txt", "body": {"msg": "hi"}, "ext": {"k": "v"}}),
        )
        .await,
        "post",
        "/messages/users",
    );
    let msg_id = a["data"]["to1"].as_str().expect("msg id").to_string();
    let a = em.get("/users/to1/offline_msg_count").await.expect(200);
    assert_eq!(a.json["data"], json!({"to1": 2}));
    // Other kinds.
    for (kind, body) in [
        (
            "loc",
            json!({"lat": "39.9", "lng": "116.3", "addr": "Beijing"}),
        ),
        ("cmd", json!({"action": "refresh"})),
        (
            "img",
            json!({"url": "http://x/a.png", "filename": "a.png", "size": {"width": 10, "height": 20}}),
        ),
        (
            "custom",
            json!({"customEvent": "gift", "customExts": {"n": "1"}}),
        ),
    ] {
        em.post(
            "/messages/users",
            json!({"from": "from1", "to": ["to2"], "type": kind, "body": body}),
        )
        .await
        .expect(200);
    }
    // Bad requests.
    for bad in [
        json!({"target_type": "people", "target": ["to1"], "msg": {"type": "txt", "msg": "x"}}),
        json!({"target_type": "users", "target": "to1", "msg": {"type": "txt", "msg": "x"}}),
        json!({"target_type": "users", "target": ["to1"], "msg": {"type": "txt", "msg": "x"}, "from": ""}),
        json!({"target_type": "users", "target": ["to1"], "msg": {"type": "video-call", "msg": "x"}}),
        json!({"target_type": "users", "target": ["to1"], "msg": {"type": "txt", "msg": "x"}, "ext": "not an object"}),
    ] {
        err(em.post("/messages", bad).await, 400, "illegal_argument");
    }
    err(
        em.post(
            "/messages/people",
            json!({"to": ["to1"], "type": "txt", "body": {"msg": "x"}}),
        )
        .await,
        404,
        "service_resource_not_found",
    );
    err(
        em.post(
            "/messages/users",
            json!({"to": ["nobody"], "type": "txt", "body": {"msg": "x"}}),
        )
        .await,
        404,
        "service_resource_not_found",
    );
    // Recall: only its sender, only once.
    err(
        em.post(
            "/messages/msg_recall",
            json!({"msg_id": msg_id, "from": "to1", "to": "to1", "chat_type": "chat"}),
        )
        .await,
        404,
        "service_resource_not_found",
    );
    let a = ok(
        em.post(
            "/messages/msg_recall",
            json!({"msg_id": msg_id, "from": "from1", "to": "to1", "chat_type": "chat"}),
        )
        .await,
        "post",
        "/messages/msg_recall",
    );
    assert_eq!(a["data"]["recalled"], "yes");
    err(
        em.post(
            "/messages/msg_recall",
            json!({"msg_id": msg_id, "from": "from1"}),
        )
        .await,
        403,
        "forbidden_op",
    );
    let a = em.get("/users/to1/offline_msg_count").await.expect(200);
    assert_eq!(a.json["data"], json!({"to1": 1}));

    // A chat file: uploaded as multipart `file`, downloaded by its uuid.
    let bytes = b"hello chat file".to_vec();
    let part = reqwest::multipart::Part::bytes(bytes.clone()).file_name("a.txt");
    let a = Answer::of(
        em.request(Method::POST, "/chatfiles")
            .header("restrict-access", "true")
            .multipart(reqwest::multipart::Form::new().part("file", part)),
    )
    .await;
    let a = ok(a, "post", "/chatfiles");
    let entity = &a["entities"][0];
    assert_eq!(entity["type"], "chatfile");
    assert!(entity["share-secret"].is_string(), "{a}");
    let uuid = entity["uuid"].as_str().unwrap();
    let got = im
        .http
        .get(format!("{}/{ORG}/{APP}/chatfiles/{uuid}", im.base))
        .header(
            "authorization",
            format!("Bearer {}", em.token.as_ref().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().to_vec(), bytes);
}

// ---- the official SDK -------------------------------------------------------------

/// `ease-restapi` 1.3 runs `tests/sdk/easemob_scenario.py` (which asserts on
/// every answer the SDK returns), then plain HTTP checks what it left behind.
#[tokio::test]
async fn ease_restapi_sdk_drives_the_emulator() {
    let im = emulator();
    let summary = run_sdk_scenario(
        "easemob",
        "easemob_scenario.py",
        &[&im.base, ORG, APP, CLIENT_ID, CLIENT_SECRET],
    )
    .await;
    let gid = summary["group_id"]
        .as_str()
        .expect("group id in the summary");

    // What the SDK did is stored.
    let em = Em::admin(&im).await;
    let a = em.get("/users/sdk_user1").await.expect(200);
    assert_eq!(a.json["entities"][0]["nickname"], "SDK One");
    let a = em.get("/users/sdk_user2").await.expect(200);
    assert_eq!(a.json["entities"][0]["username"], "sdk_user2");
    err(
        em.get("/users/sdk_gone").await,
        404,
        "service_resource_not_found",
    );
    let a = em.get("/users/sdk_user1/contacts/users").await.expect(200);
    assert_eq!(a.json["data"], json!(["sdk_user2"]));
    let a = em.get("/users/sdk_user1/blocks/users").await.expect(200);
    assert_eq!(a.json["data"], json!([]));
    let a = em.get(&format!("/chatgroups/{gid}")).await.expect(200);
    let g = &a.json["data"][0];
    assert_eq!(g["name"], "sdk group renamed");
    assert_eq!(g["description"], "from ease-restapi");
    assert_eq!(
        g["affiliations"],
        json!([{"owner": "sdk_user1"}, {"member": "sdk_user2"}, {"member": "sdk_user3"}])
    );
    // sdk_user2 got the admin's text and sdk_user1's.
    let a = em
        .get("/users/sdk_user2/offline_msg_count")
        .await
        .expect(200);
    assert_eq!(a.json["data"], json!({"sdk_user2": 2}));
    // The new password logs in.
    Em::anonymous(&im)
        .post(
            "/token",
            json!({"grant_type": "password", "username": "sdk_user3", "password": "changed"}),
        )
        .await
        .expect(200);
    // The SDK's calls all went through their routes.
    let metrics = im.metrics().await;
    for route in [
        "token.client_credentials",
        "user.register.single",
        "user.register.batch",
        "user.get",
        "user.list",
        "user.nickname",
        "user.password.set",
        "user.delete",
        "user.status.single",
        "message.offline_count",
        "friend.add",
        "friend.remove",
        "friend.list",
        "blacklist.add",
        "blacklist.list",
        "blacklist.remove",
        "group.create",
        "group.get",
        "group.list",
        "group.update",
        "group.members.list",
        "group.members.add.single",
        "group.members.add.batch",
        "group.members.remove",
        "user.groups.list",
        "group.dismiss",
        "message.send.legacy",
    ] {
        let labels = [("frontend", "easemob"), ("outcome", "ok"), ("route", route)];
        let ok = counter(&metrics, "imbridge_requests_total", &labels);
        assert!(ok > 0.0, "no successful {route}:\n{metrics}");
    }
}

// ---- Easemob as a provider: the emulator chain ---------------------------------------

/// The value of a counter whose line has all of `labels`.
fn counter(metrics: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// App tokens B issued (its client_credentials route).
async fn tokens_issued(chain: &Chain) -> f64 {
    counter(
        &chain.vendor.metrics().await,
        "imbridge_requests_total",
        &[("route", "token.client_credentials"), ("outcome", "ok")],
    )
}

/// Token fetches A counted.
async fn fetches(chain: &Chain) -> f64 {
    counter(
        &chain.proxy.metrics().await,
        "imbridge_token_cache_total",
        &[("provider", "vendor"), ("event", "fetch")],
    )
}

#[tokio::test]
async fn chain_carries_jmessage_haorenao_and_hx_through_easemob() {
    let chain = Chain::easemob("");
    let jm = chain.proxy.jm();
    let at_b = Em::admin(&chain.vendor).await;
    // JMessage: users (profiles round-trip through user attributes), a group,
    // a message, friends.
    jm.post(
        "/v1/users/",
        json!([{"username": "tom", "password": "pw-tom", "nickname": "Tom", "signature": "hi"},
               {"username": "eddie", "password": "pw-eddie"}]),
    )
    .await
    .expect(201);
    let a = at_b.get("/users/tom").await.expect(200);
    assert_eq!(a.json["entities"][0]["nickname"], "Tom");
    let a = at_b.get("/metadata/user/tom").await.expect(200);
    assert_eq!(a.json["data"]["sign"], "hi");
    let user = jm.get("/v1/users/tom").await.expect(200);
    assert_eq!(user.json["nickname"], "Tom", "{}", user.text);
    assert_eq!(user.json["signature"], "hi", "{}", user.text);
    // Duplicates and unknown users come back as JMessage errors.
    let dup = jm
        .post("/v1/users/", json!([{"username": "tom", "password": "x"}]))
        .await
        .expect(201);
    assert_eq!(dup.json[0]["error"]["code"], 899001, "{}", dup.text);
    jm.get("/v1/users/nobody")
        .await
        .expect_jm_error(404, 899002);

    let group = jm
        .post(
            "/v1/groups/",
            json!({"owner_username": "tom", "name": "team", "members_username": ["eddie"], "desc": "d"}),
        )
        .await
        .expect(201);
    let gid = group.json["gid"].as_i64().expect("integer gid");
    // The group lives in B.
    let a = at_b.get(&format!("/chatgroups/{gid}")).await.expect(200);
    assert_eq!(
        a.json["data"][0]["affiliations"],
        json!([{"owner": "tom"}, {"member": "eddie"}])
    );
    let members = jm
        .get(&format!("/v1/groups/{gid}/members/"))
        .await
        .expect(200);
    let names: Vec<&Value> = members
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["username"])
        .collect();
    assert_eq!(names, [&json!("tom"), &json!("eddie")]);
    let sent = jm
        .post(
            "/v1/messages",
            json!({"version": 1, "target_type": "single", "target_id": "eddie", "from_type": "user",
                   "from_id": "tom", "msg_type": "text", "msg_body": {"text": "hi"}}),
        )
        .await
        .expect(201);
    assert!(sent.json["msg_id"].is_i64(), "{}", sent.text);
    let a = at_b.get("/users/eddie/offline_msg_count").await.expect(200);
    assert_eq!(a.json["data"], json!({"eddie": 1}));
    jm.post("/v1/users/tom/friends", json!(["eddie"]))
        .await
        .expect(201);
    let a = at_b.get("/users/eddie/contacts/users").await.expect(200);
    assert_eq!(a.json["data"], json!(["tom"]));
    let friends = jm.get("/v1/users/tom/friends").await.expect(200);
    assert_eq!(friends.json[0]["username"], "eddie", "{}", friends.text);

    // haorenao logs in with the password at B (the password grant) and
    // creates a group there.
    let created = chain
        .proxy
        .post_json(
            "/im/group_create/",
            json!({"username": "eddie", "password": "pw-eddie", "name": "from haorenao"}),
        )
        .await
        .expect(200);
    assert_eq!(created.json["ret"], "ok", "{}", created.text);
    let hid = created.json["group_id"].as_i64().expect("group id");
    let a = at_b.get(&format!("/chatgroups/{hid}")).await.expect(200);
    assert_eq!(a.json["data"][0]["name"], "from haorenao");
    assert_eq!(a.json["data"][0]["owner"], "eddie");
    let refused = chain
        .proxy
        .post_json(
            "/im/group_create/",
            json!({"username": "eddie", "password": "wrong", "name": "x"}),
        )
        .await
        .expect(200);
    assert_eq!(refused.json["ret"], "failed", "{}", refused.text);

    // easemob-hx: register and send through its wrapper.
    let hx = chain.proxy.hx().await;
    let a = hx
        .call(
            "/hx/registerUser",
            json!({"username": "hxuser", "password": "pw"}),
        )
        .await
        .expect(200);
    assert_eq!(a.json["code"], 200, "{}", a.text);
    let a = hx
        .call(
            "/hx/sendMessages",
            json!({"target_type": "users", "target": ["hxuser"], "msg": {"type": "txt", "msg": "yo"}, "from": "tom"}),
        )
        .await
        .expect(200);
    assert_eq!(
        a.json["data"]["data"],
        json!({"hxuser": "success"}),
        "{}",
        a.text
    );
    let a = at_b
        .get("/users/hxuser/offline_msg_count")
        .await
        .expect(200);
    assert_eq!(a.json["data"], json!({"hxuser": 1}));
    let a = hx
        .call("/hx/getUser", json!({"username": "hxuser"}))
        .await
        .expect(200);
    assert_eq!(
        a.json["data"]["entities"][0]["username"], "hxuser",
        "{}",
        a.text
    );
    // A's provider calls were counted.
    let metrics = chain.proxy.metrics().await;
    assert!(
        counter(
            &metrics,
            "imbridge_provider_calls_total",
            &[
                ("provider", "vendor"),
                ("op", "group.create"),
                ("status", "200")
            ]
        ) >= 2.0,
        "{metrics}"
    );
}

#[tokio::test]
async fn concurrent_cold_requests_fetch_one_token() {
    let chain = Chain::easemob("");
    Em::admin(&chain.vendor)
        .await
        .post("/users", json!({"username": "tom", "password": "pw"}))
        .await
        .expect(200);
    let issued_before = tokens_issued(&chain).await;
    assert_eq!(fetches(&chain).await, 0.0);
    let jm = chain.proxy.jm();
    let calls: Vec<_> = (0..200)
        .map(|_| {
            let jm = jm.clone();
            tokio::spawn(async move { jm.get("/v1/users/tom").await.status })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap(), 200);
    }
    assert_eq!(tokens_issued(&chain).await - issued_before, 1.0);
    assert_eq!(fetches(&chain).await, 1.0);
    let metrics = chain.proxy.metrics().await;
    let misses = counter(
        &metrics,
        "imbridge_token_cache_total",
        &[("provider", "vendor"), ("event", "miss")],
    );
    let hits = counter(
        &metrics,
        "imbridge_token_cache_total",
        &[("provider", "vendor"), ("event", "hit")],
    );
    // Two calls per user.get (the user and its attributes).
    assert_eq!(misses + hits, 400.0, "{metrics}");
}

#[tokio::test]
async fn an_invalidated_token_is_refetched_once() {
    let chain = Chain::easemob("");
    let jm = chain.proxy.jm();
    jm.post("/v1/users/", json!([{"username": "tom", "password": "pw"}]))
        .await
        .expect(201);
    assert_eq!(fetches(&chain).await, 1.0);
    // B forgets A's token: expired in its store, and B restarted so that
    // nothing remembers it was valid.
    let Chain { vendor, proxy } = chain;
    assert!(vendor.expire_tokens("easemob", None).await >= 1);
    let chain = Chain {
        vendor: vendor.restart(),
        proxy,
    };
    jm.get("/v1/users/tom").await.expect(200);
    assert_eq!(fetches(&chain).await, 2.0);
    assert_eq!(tokens_issued(&chain).await, 1.0);
    let metrics = chain.proxy.metrics().await;
    assert_eq!(
        counter(
            &metrics,
            "imbridge_token_cache_total",
            &[("provider", "vendor"), ("event", "invalidated")]
        ),
        1.0,
        "{metrics}"
    );
    // The new token stays cached.
    jm.get("/v1/users/tom").await.expect(200);
    assert_eq!(fetches(&chain).await, 2.0);
}

#[tokio::test]
async fn an_expired_token_is_refetched() {
    // A asks for 62 s tokens; with the mapping's 60 s margin A keeps them 2 s.
    let chain = Chain::easemob("token_ttl = \"62\"");
    let jm = chain.proxy.jm();
    jm.post("/v1/users/", json!([{"username": "tom", "password": "pw"}]))
        .await
        .expect(201);
    jm.get("/v1/users/tom").await.expect(200);
    assert_eq!(fetches(&chain).await, 1.0);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    jm.get("/v1/users/tom").await.expect(200);
    assert_eq!(fetches(&chain).await, 2.0);
    assert_eq!(tokens_issued(&chain).await, 2.0);
}

/// Most of what JMessage's API can ask of a provider, through A onto B's
/// Easemob API, each effect checked at B in Easemob's own terms.
#[tokio::test]
async fn chain_covers_users_groups_rooms_and_messages() {
    let chain = Chain::easemob("");
    let jm = chain.proxy.jm();
    let at_b = Em::admin(&chain.vendor).await;
    let users: Vec<Value> = ["u1", "u2", "u3", "u4", "u5"]
        .iter()
        .map(|u| json!({"username": u, "password": format!("pw-{u}")}))
        .collect();
    jm.post("/v1/users/", json!(users)).await.expect(201);

    // Users: list, password, status, disable, delete.
    let list = jm.get("/v1/users/?start=0&count=3").await.expect(200);
    assert_eq!(list.json["count"], 3, "{}", list.text);
    assert_eq!(list.json["users"][0]["username"], "u1", "{}", list.text);
    jm.put(
        "/v1/users/u1/password",
        Some(json!({"new_password": "fresh"})),
    )
    .await
    .expect(204);
    let anon = Em::anonymous(&chain.vendor);
    anon.post(
        "/token",
        json!({"grant_type": "password", "username": "u1", "password": "fresh"}),
    )
    .await
    .expect(200);
    let stat = jm.get("/v1/users/u2/userstat").await.expect(200);
    assert_eq!(stat.json["online"], false, "{}", stat.text);
    jm.get("/v1/users/nobody/userstat")
        .await
        .expect_jm_error(404, 899002);
    jm.put("/v1/users/u5/forbidden?disable=true", None)
        .await
        .expect(204);
    let a = at_b.get("/users/u5").await.expect(200);
    assert_eq!(a.json["entities"][0]["activated"], false);
    jm.delete("/v1/users/u5", None).await.expect(204);
    err(
        at_b.get("/users/u5").await,
        404,
        "service_resource_not_found",
    );
    // haorenao's IM token: an Easemob user token (grant inherit).
    let token = chain
        .proxy
        .post_json(
            "/im/user_get_token/",
            json!({"username": "u2", "password": "pw-u2"}),
        )
        .await
        .expect(200);
    assert!(
        token.json["token"].as_str().is_some_and(|t| !t.is_empty()),
        "{}",
        token.text
    );

    // Blacklist.
    jm.put("/v1/users/u1/blacklist", Some(json!(["u2", "u3"])))
        .await
        .expect(204);
    jm.delete("/v1/users/u1/blacklist", Some(json!(["u3"])))
        .await
        .expect(204);
    let a = at_b.get("/users/u1/blocks/users").await.expect(200);
    assert_eq!(a.json["data"], json!(["u2"]));
    let black = jm.get("/v1/users/u1/blacklist").await.expect(200);
    assert_eq!(black.json[0]["username"], "u2", "{}", black.text);

    // Groups: update, members, owner, mute, lists, dismiss.
    let gid = create_group(&jm, "u1", "g", &["u2"]).await;
    jm.put(
        &format!("/v1/groups/{gid}"),
        Some(json!({"name": "g2", "desc": "d2"})),
    )
    .await
    .expect(204);
    jm.post(
        &format!("/v1/groups/{gid}/members"),
        json!({"add": ["u3", "u4"], "remove": ["u2"]}),
    )
    .await
    .expect(204);
    let a = at_b.get(&format!("/chatgroups/{gid}")).await.expect(200);
    let g = &a.json["data"][0];
    assert_eq!(g["name"], "g2");
    assert_eq!(g["description"], "d2");
    assert_eq!(
        g["affiliations"],
        json!([{"owner": "u1"}, {"member": "u3"}, {"member": "u4"}])
    );
    let info = jm.get(&format!("/v1/groups/{gid}")).await.expect(200);
    assert_eq!(info.json["name"], "g2", "{}", info.text);
    jm.put(
        &format!("/v1/groups/messages/{gid}/silence?status=true"),
        Some(json!(["u3"])),
    )
    .await
    .expect(204);
    let muted = at_b
        .post(
            "/messages",
            json!({"target_type": "chatgroups", "target": [gid.to_string()], "msg": {"type": "txt", "msg": "x"}, "from": "u3"}),
        )
        .await;
    err(muted, 403, "forbidden_op");
    jm.put(
        &format!("/v1/groups/owner/{gid}"),
        Some(json!({"username": "u3"})),
    )
    .await
    .expect(204);
    let a = at_b.get(&format!("/chatgroups/{gid}")).await.expect(200);
    assert_eq!(a.json["data"][0]["owner"], "u3");
    let mine = jm.get("/v1/users/u4/groups/").await.expect(200);
    assert_eq!(mine.json[0]["gid"], gid, "{}", mine.text);
    let all = jm.get("/v1/groups/?start=0&count=10").await.expect(200);
    assert_eq!(all.json["groups"][0]["gid"], gid, "{}", all.text);
    jm.delete(&format!("/v1/groups/{gid}"), None)
        .await
        .expect(204);
    err(
        at_b.get(&format!("/chatgroups/{gid}")).await,
        404,
        "service_resource_not_found",
    );
    jm.get(&format!("/v1/groups/{gid}"))
        .await
        .expect_jm_error(404, 899006);

    // Chatrooms.
    let rid = jm
        .post(
            "/v1/chatroom/",
            json!({"owner_username": "u1", "name": "room", "description": "r", "members_username": ["u2"]}),
        )
        .await
        .expect(201)
        .json["chatroom_id"]
        .as_i64()
        .unwrap();
    jm.put(
        &format!("/v1/chatroom/{rid}"),
        Some(json!({"name": "room2"})),
    )
    .await
    .expect(204);
    jm.put(&format!("/v1/chatroom/{rid}/members"), Some(json!(["u3"])))
        .await
        .expect(204);
    jm.delete(&format!("/v1/chatroom/{rid}/members"), Some(json!(["u2"])))
        .await
        .expect(204);
    let a = at_b
        .get(&format!("/chatrooms/{rid}/users"))
        .await
        .expect(200);
    let mut members: Vec<String> = a.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["member"].as_str().unwrap().to_string())
        .collect();
    members.sort();
    assert_eq!(members, ["u1", "u3"]);
    let rooms = jm
        .post("/v1/chatroom/batch", json!([rid, 999999]))
        .await
        .expect(200);
    assert_eq!(rooms.json.as_array().unwrap().len(), 1, "{}", rooms.text);
    assert_eq!(rooms.json[0]["name"], "room2", "{}", rooms.text);
    let listed = jm
        .get(&format!("/v1/chatroom/{rid}/members?start=0&count=10"))
        .await
        .expect(200);
    assert_eq!(listed.json["total"], 2, "{}", listed.text);
    let joined = jm.get("/v1/users/u3/chatroom").await.expect(200);
    assert_eq!(joined.json[0]["id"], rid, "{}", joined.text);
    jm.put(&format!("/v1/chatroom/{rid}/forbidden/u3?status=1"), None)
        .await
        .expect(204);
    jm.delete(&format!("/v1/chatroom/{rid}"), None)
        .await
        .expect(204);
    err(
        at_b.get(&format!("/chatrooms/{rid}/users")).await,
        404,
        "service_resource_not_found",
    );

    // A message and its retraction.
    let sent = jm
        .post(
            "/v1/messages",
            json!({"version": 1, "target_type": "single", "target_id": "u4", "from_type": "user",
                   "from_id": "u1", "msg_type": "text", "msg_body": {"text": "oops"}}),
        )
        .await
        .expect(201);
    let msg_id = sent.json["msg_id"].as_i64().unwrap();
    let a = at_b.get("/users/u4/offline_msg_count").await.expect(200);
    assert_eq!(a.json["data"], json!({"u4": 1}));
    jm.post(&format!("/v1/messages/u1/{msg_id}/retract"), json!({}))
        .await
        .expect(204);
    let a = at_b.get("/users/u4/offline_msg_count").await.expect(200);
    assert_eq!(a.json["data"], json!({"u4": 0}));
}

/// rongcloud-app pages group members three at a time: pages become Easemob's
/// pagenum/pagesize at B, and the next link is there while members remain.
#[tokio::test]
async fn chain_pages_members_for_rongcloud_app() {
    let chain = Chain::easemob("");
    let jm = chain.proxy.jm();
    let users: Vec<Value> = (1..=5)
        .map(|i| json!({"username": format!("p{i}"), "password": "pw"}))
        .collect();
    jm.post("/v1/users/", json!(users)).await.expect(201);
    let owner = chain.proxy.rc("p1", "pw").await;
    let created = owner
        .post_form("/api/im/group/", &[("name", "paged")])
        .await
        .expect(201);
    let gid = created.json["id"].as_i64().expect("group id");
    jm.post(
        &format!("/v1/groups/{gid}/members"),
        json!({"add": ["p2", "p3", "p4", "p5"]}),
    )
    .await
    .expect(204);
    let first = owner
        .get(&format!("/api/im/group/{gid}/users/"))
        .await
        .expect(200);
    assert_eq!(first.json["count"], 5, "{}", first.text);
    assert_eq!(first.json["results"].as_array().unwrap().len(), 3);
    let next = first.json["next"]
        .as_str()
        .expect("a next page")
        .to_string();
    let second = owner.get(&next).await.expect(200);
    assert_eq!(
        second.json["results"].as_array().unwrap().len(),
        2,
        "{}",
        second.text
    );
    assert!(second.json["next"].is_null(), "{}", second.text);
    // Codes for face-to-face joining are not something Easemob can keep.
    let refused = owner
        .post_form("/api/im/group/", &[("name", "coded"), ("code", "1234")])
        .await;
    assert_eq!(refused.status, 501, "{}", refused.text);
}

/// `config/emulators.toml` (imbridge as Easemob) passes `imbridge check`.
#[test]
fn emulator_config_passes_check() {
    let config = repo().join("config/emulators.toml");
    let (ok, stdout, stderr) = run_imbridge(&["check", "--config", config.to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("easemob (easemob) on 127.0.0.1:8092 -> provider embedded"),
        "{stdout}"
    );
}
