//! The sides of the migration tests: the embedded provider (seeded and read
//! through imbridge's JMessage and WildfireChat frontends over it) and the
//! four vendors (imbridge emulating each over its own store), each seeded
//! with the same app data and read back through its own API into one shape:
//!
//! ```text
//! {users: {u1: {nickname, avatar, ..., disabled}},
//!  friends: {u1: {u2: {note_name, others}}}, blacklists: {u2: [u4]},
//!  groups: {team: {desc, avatar, owner, public, max_members, members: {u2: {role, muted}}}},
//!  rooms: {hall: {description, owner, members: {u2: {muted}}}}}
//! ```

use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::harness::{
    json_body, Answer, Imbridge, Jm, Setup, Wf, APP_KEY, MASTER_SECRET, WILDFIRE_SECRET,
};
use crate::rongcloud::{rongcloud_frontend, Rong, RC_SECRET};

/// The providers a site can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The embedded provider.
    Embedded,
    /// JMessage.
    Jmessage,
    /// Easemob.
    Easemob,
    /// RongCloud.
    Rongcloud,
    /// WildfireChat.
    Wildfire,
}

/// Every kind of site.
pub const ALL: [Kind; 5] = [
    Kind::Embedded,
    Kind::Jmessage,
    Kind::Easemob,
    Kind::Rongcloud,
    Kind::Wildfire,
];

/// The test data's users.
pub const USERS: [&str; 4] = ["u1", "u2", "u3", "u4"];

impl Kind {
    /// The provider's name in the migration config.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Embedded => "embedded",
            Kind::Jmessage => "jmessage",
            Kind::Easemob => "easemob",
            Kind::Rongcloud => "rongcloud",
            Kind::Wildfire => "wildfire",
        }
    }
}

/// One side of a migration: a running server whose store holds the data.
pub struct Site {
    /// Which provider.
    pub kind: Kind,
    /// The server: a vendor emulator, or imbridge's JMessage and
    /// WildfireChat frontends over the embedded provider the migration uses.
    pub server: Imbridge,
}

impl Site {
    /// Starts the site.
    pub fn start(kind: Kind) -> Site {
        let setup = Setup::new();
        let text = match kind {
            Kind::Embedded => setup.config_for(&["jmessage", "wildfire"], ""),
            Kind::Jmessage => setup.config_for(&["jmessage"], ""),
            Kind::Easemob => setup.config_for(&[], &crate::easemob::frontend_table()),
            Kind::Rongcloud => setup.config_for(&[], &rongcloud_frontend(RC_SECRET)),
            Kind::Wildfire => setup.config_for(&["wildfire"], ""),
        };
        Site {
            kind,
            server: Imbridge::start_text(setup, &text),
        }
    }

    /// The site's `[providers.NAME]` table for a migration config.
    pub fn provider(&self) -> String {
        let name = self.kind.name();
        let vendor = |dialect: &str, params: String| {
            format!(
                "[providers.{name}]\nkind = \"vendor\"\ndialect = \"{dialect}\"\nbase_url = \"{}\"\ntimeout_ms = 5000\n\n\
                 [providers.{name}.params]\n{params}",
                self.server.base
            )
        };
        match self.kind {
            Kind::Embedded => format!(
                "[providers.{name}]\nkind = \"embedded\"\npath = \"{}\"\nmedia_dir = \"{}\"\n",
                self.server.db_path().display(),
                self.server.setup.dir.path().join("media").display()
            ),
            Kind::Jmessage => vendor(
                "jmessage",
                format!("app_key = \"{APP_KEY}\"\nmaster_secret = \"{MASTER_SECRET}\"\n"),
            ),
            Kind::Easemob => {
                use crate::easemob::{APP, CLIENT_ID, CLIENT_SECRET, ORG};
                vendor(
                    "easemob",
                    format!(
                        "org_name = \"{ORG}\"\napp_name = \"{APP}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n"
                    ),
                )
            }
            Kind::Rongcloud => vendor(
                "rongcloud",
                format!("app_key = \"{APP_KEY}\"\napp_secret = \"{RC_SECRET}\"\n"),
            ),
            Kind::Wildfire => vendor("wildfire", format!("secret = \"{WILDFIRE_SECRET}\"\n")),
        }
    }

    /// Seeds the test data through the site's own API, as much of it as the
    /// API can carry.
    pub async fn seed(&self) {
        match self.kind {
            Kind::Embedded | Kind::Jmessage => self.seed_jm().await,
            Kind::Easemob => self.seed_em().await,
            Kind::Rongcloud => self.seed_rc().await,
            Kind::Wildfire => self.seed_wf().await,
        }
    }

    /// What the site's own API shows of the test data (rooms of sites that
    /// cannot list them are looked up by `room_ids`).
    pub async fn read(&self, room_ids: &[String]) -> Value {
        match self.kind {
            Kind::Embedded => {
                let mut v = self.read_jm().await;
                // JMessage shows no disabled users, group mutes, mobile,
                // e-mail or company: read them through WildfireChat over
                // the same store.
                let wf = self.read_wf(&[]).await;
                for u in USERS {
                    for field in ["disabled", "mobile", "email", "company"] {
                        if let Some(d) = wf["users"][u].get(field) {
                            v["users"][u][field] = d.clone();
                        }
                    }
                }
                // Nor whether a group is public: the store itself says.
                let db = self.server.db();
                for (name, g) in v["groups"].as_object_mut().unwrap() {
                    let public: bool = db
                        .query_row(
                            "SELECT public FROM chat_groups WHERE name = ?1",
                            [name],
                            |r| r.get(0),
                        )
                        .unwrap();
                    g["public"] = json!(public);
                }
                for (name, g) in wf["groups"].as_object().cloned().unwrap_or_default() {
                    for (user, m) in g["members"].as_object().cloned().unwrap_or_default() {
                        v["groups"][&name]["members"][&user]["muted"] = m["muted"].clone();
                    }
                }
                v
            }
            Kind::Jmessage => self.read_jm().await,
            Kind::Easemob => self.read_em().await,
            Kind::Rongcloud => self.read_rc(room_ids).await,
            Kind::Wildfire => self.read_wf(room_ids).await,
        }
    }

    /// The ids of the site's rooms (for targets that cannot list rooms).
    pub fn room_ids(snapshot: &Value) -> Vec<String> {
        snapshot["room_ids"]
            .as_array()
            .map(|ids| ids.iter().map(text).collect())
            .unwrap_or_default()
    }

    // ---- JMessage (and the embedded provider through it) -------------------

    fn jm(&self) -> Jm {
        self.server.jm()
    }

    async fn seed_jm(&self) {
        let jm = self.jm();
        let users = json!([
            {"username": "u1", "password": "pw-u1", "nickname": "Uno", "avatar": "https://img.example/u1.png",
             "birthday": "1990-01-24", "gender": 1, "signature": "sig one", "region": "north",
             "address": "1 Main St", "extras": {"vip": true}},
            {"username": "u2", "password": "pw-u2", "nickname": "Dos", "gender": 2},
            {"username": "u3", "password": "pw-u3", "nickname": "Tres"},
            {"username": "u4", "password": "pw-u4", "nickname": "Cuatro"}
        ]);
        jm.post("/v1/users/", users).await.expect(201);
        jm.put("/v1/users/u4/forbidden?disable=true", None)
            .await
            .expect_empty(204);
        jm.post("/v1/users/u1/friends", json!(["u2", "u3"]))
            .await
            .expect_empty(201);
        jm.put(
            "/v1/users/u1/friends",
            Some(json!([{"username": "u2", "note_name": "Buddy", "others": "met at school"}])),
        )
        .await
        .expect_empty(204);
        jm.put("/v1/users/u2/blacklist", Some(json!(["u4"])))
            .await
            .expect_empty(204);
        let team = jm
            .post(
                "/v1/groups/",
                json!({"owner_username": "u1", "name": "team", "members_username": ["u2", "u3"],
                       "desc": "the team", "avatar": "https://img.example/team.png", "flag": 2}),
            )
            .await
            .expect(201);
        let gid = team.json["gid"].as_i64().expect("a gid");
        jm.put(
            &format!("/v1/groups/messages/{gid}/silence?status=true"),
            Some(json!(["u3"])),
        )
        .await
        .expect_empty(204);
        jm.post(
            "/v1/groups/",
            json!({"owner_username": "u2", "name": "club", "members_username": ["u4"]}),
        )
        .await
        .expect(201);
        let room = jm
            .post(
                "/v1/chatroom/",
                json!({"owner_username": "u1", "name": "hall", "description": "big hall",
                       "members_username": ["u2", "u3"]}),
            )
            .await
            .expect(201);
        let rid = room.json["chatroom_id"].as_i64().expect("a room id");
        jm.put(&format!("/v1/chatroom/{rid}/forbidden/u3?status=1"), None)
            .await
            .expect_empty(204);
    }

    async fn read_jm(&self) -> Value {
        let jm = self.jm();
        let get = |path: String| {
            let jm = jm.clone();
            async move { jm.get(&path).await.expect(200).json }
        };
        let mut out = Snapshot::default();
        for u in USERS {
            let a = jm.get(&format!("/v1/users/{u}")).await;
            if a.status == 404 {
                continue;
            }
            let user = a.expect(200).json;
            let mut fields = pick(
                &user,
                &[
                    "nickname",
                    "avatar",
                    "birthday",
                    "gender",
                    "signature",
                    "region",
                    "address",
                    "extras",
                ],
            );
            if let Some(b) = fields.get_mut("birthday") {
                *b = json!(text(b).trim_end_matches(" 00:00:00"));
            }
            out.users.insert(u.into(), fields);
            let mut mine = Map::new();
            for f in list(&get(format!("/v1/users/{u}/friends")).await) {
                mine.insert(text(&f["username"]), pick(&f, &["note_name", "others"]));
            }
            out.friends.insert(u.into(), Value::Object(mine));
            let blocked = names(&get(format!("/v1/users/{u}/blacklist")).await, "username");
            out.blacklists.insert(u.into(), json!(blocked));
        }
        for g in list(&get("/v1/groups/?start=0&count=100".into()).await["groups"]) {
            let gid = g["gid"].as_i64().expect("a gid");
            let mut group = pick(&g, &["desc", "avatar"]);
            group["max_members"] = g["MaxMemberCount"].clone();
            let mut members = Map::new();
            for m in list(&get(format!("/v1/groups/{gid}/members/")).await) {
                let role = if m["flag"] == 1 { "owner" } else { "member" };
                if role == "owner" {
                    group["owner"] = m["username"].clone();
                }
                members.insert(text(&m["username"]), json!({"role": role}));
            }
            group["members"] = Value::Object(members);
            out.groups.insert(text(&g["name"]), group);
        }
        for r in list(&get("/v1/chatroom?start=0&count=100".into()).await["rooms"]) {
            let id = r["id"].as_i64().expect("a room id");
            let mut room = json!({"description": r["description"], "owner": r["owner_username"]});
            let page = get(format!("/v1/chatroom/{id}/members?start=0&count=100")).await;
            let mut members = Map::new();
            for m in list(&page["users"]) {
                members.insert(text(&m["username"]), json!({"muted": m["flag"] == 1}));
            }
            room["members"] = Value::Object(members);
            out.room_ids.push(id.to_string());
            out.rooms.insert(text(&r["name"]), room);
        }
        out.into_json()
    }

    // ---- Easemob -------------------------------------------------------------

    /// An Easemob client of the site (an Easemob emulator) with an app token.
    pub async fn em(&self) -> Em {
        use crate::easemob::{APP, CLIENT_ID, CLIENT_SECRET, ORG};
        let base = format!("{}/{ORG}/{APP}", self.server.base);
        let a = Answer::of(json_body(
            self.server.http.post(format!("{base}/token")),
            &json!({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
        ))
        .await
        .expect(200);
        Em {
            base,
            http: self.server.http.clone(),
            token: text(&a.json["access_token"]),
        }
    }

    async fn seed_em(&self) {
        let em = self.em().await;
        em.json(
            Method::POST,
            "/users",
            json!([
                {"username": "u1", "password": "pw-u1", "nickname": "Uno"},
                {"username": "u2", "password": "pw-u2", "nickname": "Dos"},
                {"username": "u3", "password": "pw-u3", "nickname": "Tres"},
                {"username": "u4", "password": "pw-u4", "nickname": "Cuatro"}
            ]),
        )
        .await;
        let attrs = [
            ("avatarurl", "https://img.example/u1.png"),
            ("gender", "1"),
            ("sign", "sig one"),
            ("birth", "1990-01-24"),
            ("region", "north"),
            ("address", "1 Main St"),
            ("phone", "13800000001"),
            ("mail", "u1@example.com"),
            ("company", "Acme"),
            ("ext", "{\"vip\":true}"),
        ];
        let put = em.request(Method::PUT, "/metadata/user/u1").form(&attrs);
        Answer::of(put).await.expect(200);
        em.json(Method::POST, "/users/u4/deactivate", Value::Null)
            .await;
        em.json(Method::POST, "/users/u1/contacts/users/u2", Value::Null)
            .await;
        em.json(Method::POST, "/users/u1/contacts/users/u3", Value::Null)
            .await;
        em.json(
            Method::POST,
            "/users/u2/blocks/users",
            json!({"usernames": ["u4"]}),
        )
        .await;
        let team = em
            .json(
                Method::POST,
                "/chatgroups",
                json!({"groupname": "team", "description": "the team",
                "public": true, "maxusers": 300, "owner": "u1", "members": ["u2", "u3"]}),
            )
            .await;
        let gid = text(&team["data"]["groupid"]);
        em.json(
            Method::POST,
            &format!("/chatgroups/{gid}/mute"),
            json!({"usernames": ["u3"], "mute_duration": -1}),
        )
        .await;
        em.json(
            Method::POST,
            "/chatgroups",
            json!({"groupname": "club", "owner": "u2", "members": ["u4"]}),
        )
        .await;
        let hall = em
            .json(
                Method::POST,
                "/chatrooms",
                json!({"name": "hall", "description": "big hall",
                "owner": "u1", "members": ["u2", "u3"]}),
            )
            .await;
        let rid = text(&hall["data"]["id"]);
        em.json(
            Method::POST,
            &format!("/chatrooms/{rid}/mute"),
            json!({"usernames": ["u3"], "mute_duration": -1}),
        )
        .await;
    }

    async fn read_em(&self) -> Value {
        let em = self.em().await;
        let mut out = Snapshot::default();
        let mut groups = Vec::new();
        for u in USERS {
            let a = Answer::of(em.request(Method::GET, &format!("/users/{u}"))).await;
            if a.status == 404 {
                continue;
            }
            let entity = a.expect(200).json["entities"][0].clone();
            let attrs = em
                .json(Method::GET, &format!("/metadata/user/{u}"), Value::Null)
                .await["data"]
                .clone();
            let mut user =
                json!({"nickname": entity["nickname"], "disabled": entity["activated"] == false});
            for (attr, field) in [
                ("avatarurl", "avatar"),
                ("sign", "signature"),
                ("birth", "birthday"),
                ("region", "region"),
                ("address", "address"),
                ("phone", "mobile"),
                ("mail", "email"),
                ("company", "company"),
            ] {
                if let Some(v) = attrs.get(attr) {
                    user[field] = v.clone();
                }
            }
            if let Some(g) = attrs
                .get("gender")
                .and_then(|g| text(g).parse::<i64>().ok())
            {
                user["gender"] = json!(g);
            }
            if let Some(e) = attrs.get("ext") {
                user["extras"] = serde_json::from_str(&text(e)).unwrap_or(e.clone());
            }
            out.users.insert(u.into(), strip_nulls(user));
            let friends = em
                .json(
                    Method::GET,
                    &format!("/users/{u}/contacts/users"),
                    Value::Null,
                )
                .await;
            let mut mine: Map<String, Value> = list(&friends["data"])
                .iter()
                .map(|f| (text(f), json!({})))
                .collect();
            // Note names are Easemob's remarks (its newer contacts API).
            let remarks = em
                .json(
                    Method::GET,
                    &format!("/user/{u}/contacts?limit=50&needReturnRemark=true"),
                    Value::Null,
                )
                .await;
            for c in list(&remarks["data"]["contacts"]) {
                if let (Some(f), Some(remark)) =
                    (mine.get_mut(&text(&c["username"])), c.get("remark"))
                {
                    if !remark.is_null() {
                        f["note_name"] = remark.clone();
                    }
                }
            }
            out.friends.insert(u.into(), Value::Object(mine));
            let blocked = em
                .json(
                    Method::GET,
                    &format!("/users/{u}/blocks/users"),
                    Value::Null,
                )
                .await;
            let mut blocked: Vec<String> = list(&blocked["data"]).iter().map(text).collect();
            blocked.sort();
            out.blacklists.insert(u.into(), json!(blocked));
            let joined = em
                .json(
                    Method::GET,
                    &format!("/users/{u}/joined_chatgroups"),
                    Value::Null,
                )
                .await;
            groups.extend(list(&joined["data"]).iter().map(|g| text(&g["groupid"])));
        }
        groups.sort();
        groups.dedup();
        for gid in groups {
            let g = em
                .json(Method::GET, &format!("/chatgroups/{gid}"), Value::Null)
                .await["data"][0]
                .clone();
            let mut group = json!({"desc": g["description"], "owner": g["owner"], "public": g["public"],
                                   "max_members": g["maxusers"]});
            let mut members = Map::new();
            for a in list(&g["affiliations"]) {
                match (a.get("owner"), a.get("member")) {
                    (Some(o), _) => members.insert(text(o), json!({"role": "owner"})),
                    (_, Some(m)) => members.insert(text(m), json!({"role": "member"})),
                    _ => None,
                };
            }
            group["members"] = Value::Object(members);
            out.groups.insert(text(&g["name"]), group);
        }
        let rooms = em
            .json(Method::GET, "/chatrooms?limit=100", Value::Null)
            .await;
        for r in list(&rooms["data"]) {
            let id = text(&r["id"]);
            let d = em
                .json(Method::GET, &format!("/chatrooms/{id}"), Value::Null)
                .await["data"][0]
                .clone();
            let users = em
                .json(
                    Method::GET,
                    &format!("/chatrooms/{id}/users?pagenum=1&pagesize=100"),
                    Value::Null,
                )
                .await;
            let mut members = Map::new();
            for a in list(&users["data"]) {
                if let Some(m) = a.get("owner").or_else(|| a.get("member")) {
                    members.insert(text(m), json!({}));
                }
            }
            out.room_ids.push(id);
            out.rooms.insert(
                text(&d["name"]),
                json!({"description": d["description"], "owner": d["owner"], "members": members}),
            );
        }
        out.into_json()
    }

    // ---- RongCloud -------------------------------------------------------------

    fn rc(&self) -> Rong {
        Rong::of(&self.server)
    }

    async fn seed_rc(&self) {
        let rc = self.rc();
        rc.post(
            "/user/getToken.json",
            &[
                ("userId", "u1"),
                ("name", "Uno"),
                ("portraitUri", "https://img.example/u1.png"),
            ],
        )
        .await
        .rc_ok();
        for (u, n) in [("u2", "Dos"), ("u3", "Tres"), ("u4", "Cuatro")] {
            rc.post("/user/getToken.json", &[("userId", u), ("name", n)])
                .await
                .rc_ok();
        }
        rc.post("/user/block.json", &[("userId", "u4"), ("minute", "43200")])
            .await
            .rc_ok();
        // Friends (信息托管), u1's with notes.
        for friend in ["u2", "u3"] {
            rc.post(
                "/friend/add.json",
                &[("userId", "u1"), ("targetId", friend), ("optType", "2")],
            )
            .await
            .rc_ok();
        }
        rc.post(
            "/friend/profile/set.json",
            &[("userId", "u1"), ("targetId", "u2"), ("remarkName", "Two")],
        )
        .await
        .rc_ok();
        rc.post(
            "/user/blacklist/add.json",
            &[("userId", "u2"), ("blackUserId", "u4")],
        )
        .await
        .rc_ok();
        rc.post(
            "/group/create.json",
            &[
                ("userId", "u1"),
                ("userId", "u2"),
                ("userId", "u3"),
                ("groupId", "team-1"),
                ("groupName", "team"),
            ],
        )
        .await
        .rc_ok();
        rc.post(
            "/group/user/gag/add.json",
            &[("userId", "u3"), ("groupId", "team-1"), ("minute", "0")],
        )
        .await
        .rc_ok();
        rc.post(
            "/group/create.json",
            &[
                ("userId", "u2"),
                ("userId", "u4"),
                ("groupId", "club-1"),
                ("groupName", "club"),
            ],
        )
        .await
        .rc_ok();
        rc.post("/chatroom/create.json", &[("chatroom[hall-1]", "hall")])
            .await
            .rc_ok();
        rc.post(
            "/chatroom/join.json",
            &[("userId", "u2"), ("userId", "u3"), ("chatroomId", "hall-1")],
        )
        .await
        .rc_ok();
    }

    async fn read_rc(&self, room_ids: &[String]) -> Value {
        let rc = self.rc();
        let mut out = Snapshot::default();
        let blocked_users = rc.post("/user/block/query.json", &[]).await.rc_ok().json;
        let mut groups = Map::new();
        for u in USERS {
            let a = rc.post("/user/info.json", &[("userId", u)]).await;
            if a.status == 404 {
                continue;
            }
            let info = a.rc_ok().json;
            let disabled = list(&blocked_users["users"])
                .iter()
                .any(|b| b["userId"] == u);
            out.users.insert(
                u.into(),
                strip_nulls(json!({"nickname": info["userName"], "avatar": info["userPortrait"], "disabled": disabled})),
            );
            let bl = rc
                .post("/user/blacklist/query.json", &[("userId", u)])
                .await
                .rc_ok()
                .json;
            let mut blocked: Vec<String> = list(&bl["users"]).iter().map(text).collect();
            blocked.sort();
            out.blacklists.insert(u.into(), json!(blocked));
            let friends = rc
                .post("/friend/get.json", &[("userId", u), ("size", "100")])
                .await
                .rc_ok()
                .json;
            let mine: Map<String, Value> = list(&friends["friendList"])
                .iter()
                .map(|f| {
                    let notes =
                        json!({"note_name": f["remarkName"], "others": f["friendExtProfile"]});
                    (text(&f["userId"]), strip_nulls(notes))
                })
                .collect();
            out.friends.insert(u.into(), Value::Object(mine));
            let mine = rc
                .post("/user/group/query.json", &[("userId", u)])
                .await
                .rc_ok()
                .json;
            for g in list(&mine["groups"]) {
                groups.insert(text(&g["id"]), g["name"].clone());
            }
        }
        for (gid, name) in groups {
            let users = rc
                .post("/group/user/query.json", &[("groupId", &gid)])
                .await
                .rc_ok()
                .json;
            let gagged = rc
                .post("/group/user/gag/list.json", &[("groupId", &gid)])
                .await
                .rc_ok()
                .json;
            let ids: Vec<String> = list(&users["users"])
                .iter()
                .map(|u| text(&u["id"]))
                .collect();
            let mut members = Map::new();
            for (i, id) in ids.iter().enumerate() {
                let muted = list(&gagged["users"])
                    .iter()
                    .any(|g| text(&g["userId"]) == *id);
                let role = if i == 0 { "owner" } else { "member" };
                members.insert(id.clone(), json!({"role": role, "muted": muted}));
            }
            out.groups.insert(
                text(&name),
                json!({"owner": ids.first(), "members": members}),
            );
        }
        for id in room_ids {
            let rooms = rc
                .post("/chatroom/query.json", &[("chatroomId", id)])
                .await
                .rc_ok()
                .json;
            let Some(room) = list(&rooms["chatRooms"]).into_iter().next() else {
                continue;
            };
            let users = rc
                .post(
                    "/chatroom/user/query.json",
                    &[("chatroomId", id), ("count", "100"), ("order", "1")],
                )
                .await
                .rc_ok()
                .json;
            let members: Map<String, Value> = list(&users["users"])
                .iter()
                .map(|u| (text(&u["id"]), json!({})))
                .collect();
            out.room_ids.push(id.clone());
            out.rooms
                .insert(text(&room["name"]), json!({"members": members}));
        }
        out.into_json()
    }

    // ---- WildfireChat ----------------------------------------------------------

    fn wf(&self) -> Wf {
        self.server.wf()
    }

    async fn seed_wf(&self) {
        let wf = self.wf();
        let ok = |a: Answer| {
            assert_eq!(a.json["code"], 0, "{}", a.text);
            a.json
        };
        ok(wf.post("/admin/user/create", Some(json!({"userId": "u1", "name": "u1", "displayName": "Uno",
            "portrait": "https://img.example/u1.png", "gender": 1, "mobile": "13800000001",
            "email": "u1@example.com", "address": "1 Main St", "company": "Acme", "extra": "{\"vip\":true}"}))).await);
        for (u, n) in [("u2", "Dos"), ("u3", "Tres"), ("u4", "Cuatro")] {
            ok(wf
                .post(
                    "/admin/user/create",
                    Some(json!({"userId": u, "name": u, "displayName": n})),
                )
                .await);
        }
        ok(wf
            .post(
                "/admin/user/update_block_status",
                Some(json!({"userId": "u4", "status": 2})),
            )
            .await);
        for f in ["u2", "u3"] {
            ok(wf
                .post(
                    "/admin/friend/status",
                    Some(json!({"userId": "u1", "friendUid": f, "status": 0})),
                )
                .await);
        }
        ok(wf
            .post(
                "/admin/friend/set_alias",
                Some(json!({"operator": "u1", "targetId": "u2", "alias": "Buddy"})),
            )
            .await);
        ok(wf
            .post(
                "/admin/blacklist/status",
                Some(json!({"userId": "u2", "targetUid": "u4", "status": 2})),
            )
            .await);
        let group = |id: &str, name: &str, owner: &str, members: &[&str], extra: Value| {
            let mut info = json!({"target_id": id, "name": name, "owner": owner, "type": 2});
            if let Value::Object(e) = extra {
                info.as_object_mut().unwrap().extend(e);
            }
            let mut list = vec![json!({"member_id": owner, "type": 2})];
            list.extend(members.iter().map(|m| json!({"member_id": m, "type": 0})));
            json!({"operator": owner, "to_lines": [0], "group": {"group_info": info, "members": list}})
        };
        ok(wf.post("/admin/group/create", Some(group("team-1", "team", "u1", &["u2", "u3"],
            json!({"extra": "the team", "portrait": "https://img.example/team.png", "max_member_count": 300})))).await);
        ok(wf
            .post(
                "/admin/group/manager/mute",
                Some(json!({"group_id": "team-1", "members": ["u3"],
            "is_manager": true, "to_lines": [0]})),
            )
            .await);
        ok(wf
            .post(
                "/admin/group/create",
                Some(group("club-1", "club", "u2", &["u4"], json!({}))),
            )
            .await);
        ok(wf
            .post(
                "/admin/chatroom/create",
                Some(json!({"chatroomId": "hall-1", "title": "hall",
            "desc": "big hall", "state": 0})),
            )
            .await);
    }

    async fn read_wf(&self, room_ids: &[String]) -> Value {
        let wf = self.wf();
        let call = |path: &'static str, body: Value| {
            let wf = wf.clone();
            async move { wf.post(path, Some(body)).await }
        };
        let result = |a: Answer| {
            assert_eq!(a.json["code"], 0, "{}", a.text);
            a.json["result"].clone()
        };
        let mut out = Snapshot::default();
        let mut groups = Vec::new();
        for u in USERS {
            let a = call("/admin/user/get_info", json!({"userId": u})).await;
            if a.json["code"] == 253 {
                continue;
            }
            let info = result(a);
            let status = result(call("/admin/user/check_block_status", json!({"userId": u})).await);
            let mut user = json!({"nickname": info["displayName"], "avatar": info["portrait"],
                "gender": info["gender"], "mobile": info["mobile"], "email": info["email"],
                "address": info["address"], "company": info["company"], "disabled": status["status"] == 2});
            if let Some(e) = info.get("extra").filter(|e| !text(e).is_empty()) {
                user["extras"] = serde_json::from_str(&text(e)).unwrap_or(e.clone());
            }
            out.users.insert(u.into(), strip_nulls(user));
            let friends = result(call("/admin/friend/list", json!({"userId": u})).await);
            let mut mine = Map::new();
            for f in list(&friends["list"]) {
                let alias = result(
                    call(
                        "/admin/friend/get_alias",
                        json!({"operator": u, "targetId": f}),
                    )
                    .await,
                );
                mine.insert(
                    text(&f),
                    strip_nulls(json!({"note_name": alias.get("alias")})),
                );
            }
            out.friends.insert(u.into(), Value::Object(mine));
            let bl = result(call("/admin/blacklist/list", json!({"userId": u})).await);
            let mut blocked: Vec<String> = list(&bl["list"]).iter().map(text).collect();
            blocked.sort();
            out.blacklists.insert(u.into(), json!(blocked));
            let of = result(call("/admin/group/of_user", json!({"userId": u})).await);
            groups.extend(list(&of["groupIds"]).iter().map(text));
        }
        groups.sort();
        groups.dedup();
        for gid in groups {
            let g = result(call("/admin/group/get_info", json!({"groupId": gid})).await);
            let m = result(call("/admin/group/member/list", json!({"groupId": gid})).await);
            let mut members = Map::new();
            for x in list(&m["members"]) {
                let (role, muted) = match x["type"].as_i64() {
                    Some(2) => ("owner", false),
                    Some(1) => ("manager", false),
                    Some(3) => ("member", true),
                    _ => ("member", false),
                };
                members.insert(text(&x["member_id"]), json!({"role": role, "muted": muted}));
            }
            out.groups.insert(
                text(&g["name"]),
                strip_nulls(
                    json!({"desc": g["extra"], "avatar": g["portrait"], "owner": g["owner"],
                    "max_members": g["max_member_count"], "members": members}),
                ),
            );
        }
        for id in room_ids {
            let a = call("/admin/chatroom/info", json!({"chatroomId": id})).await;
            if a.json["code"] != 0 {
                continue;
            }
            let info = result(a);
            let m = result(call("/admin/chatroom/members", json!({"chatroomId": id})).await);
            let members: Map<String, Value> = list(&m["list"])
                .iter()
                .map(|u| (text(u), json!({})))
                .collect();
            out.room_ids.push(id.clone());
            out.rooms.insert(
                text(&info["title"]),
                json!({"description": info["desc"], "members": members}),
            );
        }
        out.into_json()
    }
}

/// An Easemob REST client holding an app token.
pub struct Em {
    base: String,
    http: reqwest::Client,
    token: String,
}

impl Em {
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token))
    }

    /// A call with a JSON body (none for `Null`) that must answer 200.
    pub async fn json(&self, method: Method, path: &str, body: Value) -> Value {
        let mut req = self.request(method, path);
        if !body.is_null() {
            req = json_body(req, &body);
        }
        Answer::of(req).await.expect(200).json
    }
}

/// A site's data being read.
#[derive(Default)]
struct Snapshot {
    users: Map<String, Value>,
    friends: Map<String, Value>,
    blacklists: Map<String, Value>,
    groups: Map<String, Value>,
    rooms: Map<String, Value>,
    room_ids: Vec<String>,
}

impl Snapshot {
    fn into_json(self) -> Value {
        json!({"users": self.users, "friends": self.friends, "blacklists": self.blacklists,
               "groups": self.groups, "rooms": strip_nulls(Value::Object(self.rooms)), "room_ids": self.room_ids})
    }
}

fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

fn pick(v: &Value, keys: &[&str]) -> Value {
    Value::Object(
        keys.iter()
            .filter_map(|k| {
                v.get(*k)
                    .filter(|x| !x.is_null())
                    .map(|x| (k.to_string(), x.clone()))
            })
            .collect(),
    )
}

fn list(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

fn names(v: &Value, key: &str) -> Vec<String> {
    let mut out: Vec<String> = list(v).iter().map(|x| text(&x[key])).collect();
    out.sort();
    out
}

/// A JSON string's text (or a number's, as written).
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A vendor snapshot completed with what imbridge's records keep beside
/// the vendor (in the migration's store, provider `provider`): groups'
/// owners, descriptions, avatars and member limits, rooms' owners and
/// descriptions (RongCloud), friends' other notes (Easemob). The vendor's
/// own API cannot show them.
pub fn with_records(mut snapshot: Value, store: &std::path::Path, provider: &str) -> Value {
    let db = deadpool_sqlite::rusqlite::Connection::open(store).unwrap();
    let mut stmt = db
        .prepare(
            "SELECT kind, key, value FROM records
             WHERE provider = ?1 AND kind IN ('group', 'chatroom', 'friend_note')",
        )
        .unwrap();
    let rows: Vec<(String, String, String)> = stmt
        .query_map([provider], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (kind, key, value) in rows {
        let record: Value = serde_json::from_str(&value).unwrap();
        if kind == "friend_note" {
            let (owner, friend) = key.split_once('/').unwrap();
            if let Some(f) = snapshot["friends"][owner].get_mut(friend) {
                f["others"] = record;
            }
            continue;
        }
        let (what, fields): (&str, &[&str]) = match kind.as_str() {
            "group" => ("groups", &["owner", "desc", "avatar", "max_members"]),
            _ => ("rooms", &["owner", "description"]),
        };
        let Some(entity) = snapshot[what].get_mut(text(&record["name"])) else {
            continue;
        };
        for field in fields {
            if let Some(v) = record.get(*field) {
                entity[*field] = v.clone();
            }
        }
        if let (Some(owner), Some(members)) = (
            record.get("owner").and_then(Value::as_str),
            entity.get_mut("members").and_then(Value::as_object_mut),
        ) {
            for (user, m) in members.iter_mut() {
                if m.get("role").is_some() {
                    m["role"] = json!(if user == owner { "owner" } else { "member" });
                }
            }
        }
    }
    snapshot
}
