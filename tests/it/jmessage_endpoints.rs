//! JMessage: every endpoint of the seed (`seeds/002_5c33e90fda1640a1.txt`, the
//! 65 `jmessage` lines of `seeds/endpoints.tsv`) answered by a running server
//! over real HTTP, sent the seed's own example request (after creating the
//! users, groups and rooms the example names) and checked against the seed's
//! documented answer: status code, field names and JSON types (exact where
//! the seed shows the whole object), and the values that must round-trip.
//! Where the JMessage API has no way to read a setting back, the test reads
//! the store's SQLite file.
//!
//! One module per area, so a failure names the area. `routes` checks that
//! every (method, path) of endpoints.tsv is served at all.

use serde_json::{json, Value};

use crate::harness::{assert_shape, postgres_twins, Imbridge, Jm, APP_KEY};
use crate::jm::*;

/// The seed's user object ("获取用户信息") with every field set.
const USER: &[(&str, &str)] = &[
    ("username", "string"),
    ("nickname", "string"),
    ("avatar", "string"),
    ("birthday", "string"),
    ("gender", "integer"),
    ("signature", "string"),
    ("region", "string"),
    ("address", "string"),
    ("mtime", "string"),
    ("ctime", "string"),
    ("extras", "object"),
];

/// A user without any profile field: only these keys.
const BARE_USER: &[(&str, &str)] = &[
    ("username", "string"),
    ("mtime", "string"),
    ("ctime", "string"),
];

/// The user object of the blacklist answer (the seed lists no `extras`).
const LISTED_USER: &[(&str, &str)] = &[
    ("username", "string"),
    ("nickname", "string"),
    ("avatar", "string"),
    ("birthday", "string"),
    ("gender", "integer"),
    ("signature", "string"),
    ("region", "string"),
    ("address", "string"),
    ("mtime", "string"),
    ("ctime", "string"),
];

/// A group member ("获取群组成员列表"): profile fields and the owner flag.
const MEMBER: &[(&str, &str)] = &[
    ("username", "string"),
    ("nickname", "string"),
    ("avatar", "string"),
    ("birthday", "string"),
    ("gender", "integer"),
    ("signature", "string"),
    ("region", "string"),
    ("address", "string"),
    ("flag", "integer"),
];

/// The group object of "获取群组详情" (and of the group lists).
const GROUP: &[(&str, &str)] = &[
    ("gid", "integer"),
    ("name", "string"),
    ("desc", "string"),
    ("appkey", "string"),
    ("MaxMemberCount", "integer"),
    ("mtime", "string"),
    ("ctime", "string"),
];

/// The chatroom object of "获取聊天室详情" (and of the room lists).
const ROOM: &[(&str, &str)] = &[
    ("id", "integer"),
    ("owner_username", "string"),
    ("max_member_count", "integer"),
    ("appkey", "string"),
    ("name", "string"),
    ("description", "string"),
    ("total_member_count", "integer"),
    ("ctime", "string"),
];

/// `shape` plus more fields.
fn with(
    shape: &[(&'static str, &'static str)],
    more: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str)> {
    shape.iter().chain(more).copied().collect()
}

/// Asserts a user object shows the profile fields of `full_user`.
fn assert_full_profile(u: &Value) {
    for (field, value) in [
        ("nickname", json!("hello")),
        ("avatar", json!("/avatar")),
        ("birthday", json!("1990-01-24 00:00:00")),
        ("gender", json!(0)),
        ("signature", json!("orz")),
        ("region", json!("shenzhen")),
        ("address", json!("shenzhen")),
    ] {
        assert_eq!(u[field], value, "{field} of {u}");
    }
}

mod users {
    use super::*;

    #[tokio::test]
    async fn register_answers_201_with_each_username() {
        let im = Imbridge::start();
        let jm = im.jm();
        let a = jm
            .post(
                "/v1/users/",
                json!([{"username": "dev_fang", "password": "password"}]),
            )
            .await
            .expect(201);
        assert_eq!(a.json, json!([{"username": "dev_fang"}]));
        // Only username, mtime and ctime when nothing else was set.
        let u = jm.get("/v1/users/dev_fang").await.expect(200).json;
        assert_shape(&u, BARE_USER, true);
        assert_eq!(u["username"], "dev_fang");
        assert_time_now(&u["ctime"]);
        assert_time_now(&u["mtime"]);
    }

    #[tokio::test]
    async fn get_shows_every_field_set_at_registration() {
        let im = Imbridge::start();
        let jm = im.jm();
        register_users(&jm, json!([full_user("javen")])).await;
        let a = jm.get("/v1/users/javen").await.expect(200);
        let content_type = a.content_type.as_deref().unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        let u = a.json;
        assert_shape(&u, USER, true);
        assert_eq!(u["username"], "javen");
        assert_full_profile(&u);
        assert_eq!(u["extras"], json!({"key": "value"}));
        assert_time_now(&u["ctime"]);
        assert_time_now(&u["mtime"]);
    }

    #[tokio::test]
    async fn update_changes_only_the_fields_sent() {
        let im = Imbridge::start();
        let jm = im.jm();
        register_users(&jm, json!([full_user("javen")])).await;
        let before = jm.get("/v1/users/javen").await.expect(200).json;
        // mtime has seconds: let one pass so that the update shows.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        jm.put(
            "/v1/users/javen",
            Some(json!({"nickname": "Hello JMessage"})),
        )
        .await
        .expect_empty(204);
        let after = jm.get("/v1/users/javen").await.expect(200).json;
        assert_shape(&after, USER, true);
        assert_eq!(after["nickname"], "Hello JMessage");
        assert_eq!(after["signature"], "orz");
        assert_eq!(after["extras"], json!({"key": "value"}));
        assert_eq!(after["ctime"], before["ctime"]);
        assert_time_now(&after["mtime"]);
        assert!(
            after["mtime"].as_str() > before["mtime"].as_str(),
            "{after}"
        );
    }

    #[tokio::test]
    async fn userstat_of_one_user() {
        let im = Imbridge::start();
        let jm = im.jm();
        register(&jm, &["caiyh"]).await;
        let a = jm.get("/v1/users/caiyh/userstat").await.expect(200);
        assert_shape(
            &a.json,
            &[("login", "boolean"), ("online", "boolean")],
            true,
        );
        // Nobody ever logged in through an SDK.
        assert_eq!(a.json, json!({"login": false, "online": false}));
    }

    #[tokio::test]
    async fn userstat_of_several_users_lists_their_devices() {
        let im = Imbridge::start();
        let jm = im.jm();
        register(&jm, &["USER1", "USER2"]).await;
        let a = jm
            .post("/v1/users/userstat", json!(["USER1", "USER2"]))
            .await
            .expect(200);
        assert_eq!(
            a.json,
            json!([{"devices": [], "username": "USER1"}, {"devices": [], "username": "USER2"}])
        );
    }

    #[tokio::test]
    async fn statuser_v2_flags_unknown_users() {
        let im = Imbridge::start();
        let jm = im.jm();
        register(&jm, &["USER1"]).await;
        let a = jm
            .post("/v2/users/statuser", json!(["USER1", "USER2"]))
            .await
            .expect(200);
        assert_eq!(
            a.json,
            json!([
                {"devices": [], "username": "USER1", "statuscode": 0},
                {"devices": [], "username": "USER2", "statuscode": 1, "statusmsg": "no_exist"}
            ])
        );
    }

    #[tokio::test]
    async fn password_change_stores_the_new_password() {
        let im = Imbridge::start();
        let jm = im.jm();
        register(&jm, &["javen"]).await;
        jm.put(
            "/v1/users/javen/password",
            Some(json!({"new_password": "654321"})),
        )
        .await
        .expect_empty(204);
        assert!(
            password_is(&im, "javen", "654321").await,
            "new password not stored"
        );
        assert!(
            !password_is(&im, "javen", PASSWORD).await,
            "old password still valid"
        );
    }

    #[tokio::test]
    async fn delete_one_user() {
        let im = Imbridge::start();
        let jm = im.jm();
        register(&jm, &["javen", "fang"]).await;
        jm.delete("/v1/users/javen", None).await.expect_empty(204);
        jm.get("/v1/users/javen").await.expect_jm_error(404, 899002);
        jm.get("/v1/users/fang").await.expect(200);
    }

    #[tokio::test]
    async fn batch_delete_answers_200_and_removes_every_user() {
        let im = Imbridge::start();
        let jm = im.jm();
        register(&jm, &["USER1", "USER2", "USER3"]).await;
        jm.delete("/v1/users/", Some(json!(["USER1", "USER2"])))
            .await
            .expect_empty(200);
        jm.get("/v1/users/USER1").await.expect_jm_error(404, 899002);
        jm.get("/v1/users/USER2").await.expect_jm_error(404, 899002);
        jm.get("/v1/users/USER3").await.expect(200);
    }

    #[tokio::test]
    async fn list_pages_through_the_users() {
        let im = Imbridge::start();
        let jm = im.jm();
        register(&jm, &["cai", "yi", "huang", "zhang"]).await;
        jm.put("/v1/users/yi", Some(json!({"nickname": "hello"})))
            .await
            .expect_empty(204);
        let all = jm
            .get("/v1/users/?start=0&count=500")
            .await
            .expect(200)
            .json;
        assert_shape(
            &all,
            &[
                ("total", "integer"),
                ("start", "integer"),
                ("count", "integer"),
                ("users", "array"),
            ],
            true,
        );
        let names = usernames(&all["users"]);
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(sorted, ["cai", "huang", "yi", "zhang"]);
        assert_eq!(
            (
                all["total"].clone(),
                all["start"].clone(),
                all["count"].clone()
            ),
            (json!(4), json!(0), json!(4))
        );
        let page = jm.get("/v1/users/?start=1&count=2").await.expect(200).json;
        assert_eq!(page["total"], 4);
        assert_eq!(page["start"], 1);
        assert_eq!(page["count"], 2);
        assert_eq!(usernames(&page["users"]), &names[1..3]);
        for u in all["users"].as_array().unwrap() {
            if u["username"] == "yi" {
                assert_shape(u, &with(BARE_USER, &[("nickname", "string")]), true);
                assert_eq!(u["nickname"], "hello");
            } else {
                assert_shape(u, BARE_USER, true);
            }
        }
    }

    #[tokio::test]
    async fn nodisturb_takes_the_seed_body() {
        let im = Imbridge::start();
        let jm = im.jm();
        register(&jm, &["javen", "username1", "username2"]).await;
        let on = create_group(&jm, "javen", "to mute", &[]).await;
        let off = create_group(&jm, "javen", "to unmute", &[]).await;
        let url = "/v1/users/javen/nodisturb";
        // The seed removes a group from the list: put it there first.
        jm.post(url, json!({"group": {"add": [off]}}))
            .await
            .expect_empty(204);
        jm.post(
            url,
            json!({
                "single": {"add": ["username1", "username2"]},
                "group": {"add": [on], "remove": [off]},
                "global": 0
            }),
        )
        .await
        .expect_empty(204);
        // Group settings are strict: the answers show what was stored.
        jm.post(url, json!({"group": {"add": [on]}}))
            .await
            .expect_jm_error(400, 899052);
        jm.post(url, json!({"group": {"remove": [off]}}))
            .await
            .expect_jm_error(400, 899053);
        let singles = stored_strings(
            &im,
            "SELECT o.username FROM nodisturb_users n JOIN users u ON u.id = n.user_id
             JOIN users o ON o.id = n.other_id WHERE u.username = ?1 ORDER BY o.username",
            "javen",
        )
        .await;
        assert_eq!(singles, ["username1", "username2"]);
        jm.post(url, json!({"global": 1})).await.expect_empty(204);
        assert!(
            global_nodisturb(&im, "javen").await,
            "global do-not-disturb not stored"
        );
    }

    #[tokio::test]
    async fn forbidden_disables_and_enables_a_user() {
        let im = Imbridge::start();
        let jm = im.jm();
        register(&jm, &["javen", "fang"]).await;
        jm.put("/v1/users/fang/forbidden?disable=true", None)
            .await
            .expect_empty(204);
        send_text(&jm, "fang", "javen")
            .await
            .expect_jm_error(403, 899016);
        jm.put("/v1/users/fang/forbidden?disable=false", None)
            .await
            .expect_empty(204);
        send_text(&jm, "fang", "javen").await.expect(201);
        // Python's spelling, as the official SDK sends it.
        jm.put("/v1/users/fang/forbidden?disable=True", None)
            .await
            .expect_empty(204);
        send_text(&jm, "fang", "javen")
            .await
            .expect_jm_error(403, 899016);
        jm.put("/v1/users/fang/forbidden?disable=False", None)
            .await
            .expect_empty(204);
        send_text(&jm, "fang", "javen").await.expect(201);
    }

    postgres_twins!(
        register_answers_201_with_each_username,
        get_shows_every_field_set_at_registration,
        update_changes_only_the_fields_sent,
        userstat_of_one_user,
        userstat_of_several_users_lists_their_devices,
        statuser_v2_flags_unknown_users,
        password_change_stores_the_new_password,
        delete_one_user,
        batch_delete_answers_200_and_removes_every_user,
        list_pages_through_the_users,
        nodisturb_takes_the_seed_body,
        forbidden_disables_and_enables_a_user
    );
}

mod blacklist {
    use super::*;

    #[tokio::test]
    async fn add_list_and_remove() {
        let im = Imbridge::start();
        let jm = im.jm();
        register_users(&jm, json!([full_user("test1")])).await;
        register(&jm, &["javen", "test2"]).await;
        jm.put("/v1/users/javen/blacklist", Some(json!(["test1", "test2"])))
            .await
            .expect_empty(204);
        let a = jm.get("/v1/users/javen/blacklist").await.expect(200);
        assert_eq!(usernames(&a.json), ["test1", "test2"]);
        let listed = &list(&a)[0];
        assert_shape(listed, LISTED_USER, true);
        assert_full_profile(listed);
        assert_shape(&list(&a)[1], BARE_USER, true);
        // A blacklisted user cannot write to javen.
        send_text(&jm, "test1", "javen")
            .await
            .expect_jm_error(403, 899016);
        jm.delete("/v1/users/javen/blacklist", Some(json!(["test1", "test2"])))
            .await
            .expect_empty(204);
        let a = jm.get("/v1/users/javen/blacklist").await.expect(200);
        assert_eq!(a.json, json!([]));
        send_text(&jm, "test1", "javen").await.expect(201);
    }

    postgres_twins!(add_list_and_remove);
}

mod friends {
    use super::*;

    #[tokio::test]
    async fn add_note_list_and_remove() {
        let im = Imbridge::start();
        let jm = im.jm();
        register_users(&jm, json!([full_user("user01")])).await;
        register(&jm, &["javen", "user02"]).await;
        jm.post("/v1/users/javen/friends", json!(["user01", "user02"]))
            .await
            .expect_empty(201);
        jm.put(
            "/v1/users/javen/friends",
            Some(json!([{"note_name": "new note name", "others": "好友备注文档", "username": "user01"}])),
        )
        .await
        .expect_empty(204);
        let a = jm.get("/v1/users/javen/friends").await.expect(200);
        assert_eq!(usernames(&a.json), ["user01", "user02"]);
        let noted = &list(&a)[0];
        assert_shape(
            noted,
            &with(
                LISTED_USER,
                &[
                    ("note_name", "string"),
                    ("others", "string"),
                    ("appkey", "string"),
                ],
            ),
            true,
        );
        assert_full_profile(noted);
        assert_eq!(noted["note_name"], "new note name");
        assert_eq!(noted["others"], "好友备注文档");
        assert_eq!(noted["appkey"], APP_KEY);
        assert_shape(
            &list(&a)[1],
            &with(BARE_USER, &[("appkey", "string")]),
            true,
        );
        jm.delete("/v1/users/javen/friends", Some(json!(["user01", "user02"])))
            .await
            .expect_empty(204);
        let a = jm.get("/v1/users/javen/friends").await.expect(200);
        assert_eq!(a.json, json!([]));
    }

    postgres_twins!(add_note_list_and_remove);
}

mod groups {
    use super::*;

    /// tom, eddie and annie (the seed's group example) plus users for members.
    async fn people(jm: &Jm) {
        register(
            jm,
            &["tom", "eddie", "annie", "test1", "test2", "test3", "test4"],
        )
        .await;
    }

    /// The seed's group: owner tom, members eddie and annie.
    async fn seed_group(jm: &Jm) -> i64 {
        let a = jm
            .post(
                "/v1/groups/",
                json!({
                    "owner_username": "tom",
                    "name": "群聊天室",
                    "members_username": ["eddie", "annie"],
                    "flag": 1,
                    "desc": "运动"
                }),
            )
            .await
            .expect(201);
        int(&a.json["gid"], &a.text)
    }

    #[tokio::test]
    async fn create_answers_201_with_the_gid() {
        let im = Imbridge::start();
        let jm = im.jm();
        people(&jm).await;
        let a = jm
            .post(
                "/v1/groups/",
                json!({
                    "owner_username": "tom",
                    "name": "群聊天室",
                    "members_username": ["eddie", "annie"],
                    "flag": 1,
                    "desc": "运动"
                }),
            )
            .await
            .expect(201);
        assert_shape(
            &a.json,
            &[
                ("gid", "integer"),
                ("owner_username", "string"),
                ("name", "string"),
                ("members_username", "array"),
                ("desc", "string"),
                ("MaxMemberCount", "integer"),
            ],
            true,
        );
        assert_eq!(a.json["owner_username"], "tom");
        assert_eq!(a.json["name"], "群聊天室");
        assert_eq!(a.json["members_username"], json!(["eddie", "annie"]));
        assert_eq!(a.json["desc"], "运动");
        assert_eq!(a.json["MaxMemberCount"], 500);
        let gid = int(&a.json["gid"], &a.text);
        assert_eq!(
            group_members(&jm, gid).await,
            ["tom:1", "eddie:0", "annie:0"]
        );
    }

    #[tokio::test]
    async fn get_shows_the_group() {
        let im = Imbridge::start();
        let jm = im.jm();
        people(&jm).await;
        let gid = seed_group(&jm).await;
        let g = jm.get(&format!("/v1/groups/{gid}")).await.expect(200).json;
        assert_shape(&g, GROUP, true);
        assert_eq!(g["gid"], gid);
        assert_eq!(g["name"], "群聊天室");
        assert_eq!(g["desc"], "运动");
        assert_eq!(g["appkey"], APP_KEY);
        assert_eq!(g["MaxMemberCount"], 500);
        assert_time_now(&g["ctime"]);
        assert_time_now(&g["mtime"]);
    }

    #[tokio::test]
    async fn update_changes_name_and_desc() {
        let im = Imbridge::start();
        let jm = im.jm();
        people(&jm).await;
        let gid = seed_group(&jm).await;
        jm.put(
            &format!("/v1/groups/{gid}"),
            Some(json!({"name": "jpush", "desc": "push"})),
        )
        .await
        .expect_empty(204);
        let g = jm.get(&format!("/v1/groups/{gid}")).await.expect(200).json;
        assert_shape(&g, GROUP, true);
        assert_eq!(
            (g["name"].clone(), g["desc"].clone()),
            (json!("jpush"), json!("push"))
        );
    }

    #[tokio::test]
    async fn delete_dismisses_the_group() {
        let im = Imbridge::start();
        let jm = im.jm();
        people(&jm).await;
        let gid = seed_group(&jm).await;
        let kept = create_group(&jm, "tom", "kept", &[]).await;
        jm.delete(&format!("/v1/groups/{gid}"), None)
            .await
            .expect_empty(204);
        jm.get(&format!("/v1/groups/{gid}"))
            .await
            .expect_jm_error(404, 899006);
        let a = jm.get("/v1/users/tom/groups/").await.expect(200);
        let gids: Vec<&Value> = list(&a).iter().map(|g| &g["gid"]).collect();
        assert_eq!(gids, [&json!(kept)]);
    }

    #[tokio::test]
    async fn members_add_and_remove_in_one_call() {
        let im = Imbridge::start();
        let jm = im.jm();
        people(&jm).await;
        let gid = create_group(&jm, "tom", "g", &["test3", "test4"]).await;
        jm.post(
            &format!("/v1/groups/{gid}/members"),
            json!({"add": ["test1", "test2"], "remove": ["test3", "test4"]}),
        )
        .await
        .expect_empty(204);
        assert_eq!(
            group_members(&jm, gid).await,
            ["tom:1", "test1:0", "test2:0"]
        );
    }

    #[tokio::test]
    async fn v2_add_and_delete_members() {
        let im = Imbridge::start();
        let jm = im.jm();
        people(&jm).await;
        let gid = create_group(&jm, "tom", "g", &[]).await;
        jm.post(
            &format!("/v2/groups/{gid}/addMembers"),
            json!(["test1", "test2"]),
        )
        .await
        .expect_empty(204);
        assert_eq!(
            group_members(&jm, gid).await,
            ["tom:1", "test1:0", "test2:0"]
        );
        jm.post(
            &format!("/v2/groups/{gid}/delMembers"),
            json!(["test1", "test2"]),
        )
        .await
        .expect_empty(204);
        assert_eq!(group_members(&jm, gid).await, ["tom:1"]);
    }

    #[tokio::test]
    async fn member_list_flags_the_owner() {
        let im = Imbridge::start();
        let jm = im.jm();
        register_users(&jm, json!([full_user("javen")])).await;
        register(&jm, &["tom"]).await;
        let gid = create_group(&jm, "tom", "g", &["javen"]).await;
        let a = jm
            .get(&format!("/v1/groups/{gid}/members/"))
            .await
            .expect(200);
        let members = list(&a);
        assert_shape(
            &members[0],
            &[("username", "string"), ("flag", "integer")],
            true,
        );
        assert_eq!(members[0]["username"], "tom");
        assert_eq!(members[0]["flag"], 1);
        assert_shape(&members[1], MEMBER, true);
        assert_eq!(members[1]["username"], "javen");
        assert_full_profile(&members[1]);
        assert_eq!(members[1]["flag"], 0);
    }

    #[tokio::test]
    async fn groups_of_a_user() {
        let im = Imbridge::start();
        let jm = im.jm();
        people(&jm).await;
        let first = seed_group(&jm).await;
        let second = create_group(&jm, "annie", "second", &["tom"]).await;
        let a = jm.get("/v1/users/tom/groups/").await.expect(200);
        let gids: Vec<i64> = list(&a).iter().map(|g| int(&g["gid"], &a.text)).collect();
        assert_eq!(gids, [first, second]);
        for g in list(&a) {
            assert_shape(g, GROUP, true);
        }
        let a = jm.get("/v1/users/eddie/groups/").await.expect(200);
        let gids: Vec<i64> = list(&a).iter().map(|g| int(&g["gid"], &a.text)).collect();
        assert_eq!(gids, [first]);
    }

    #[tokio::test]
    async fn list_pages_through_the_groups() {
        let im = Imbridge::start();
        let jm = im.jm();
        people(&jm).await;
        let mut gids = Vec::new();
        for name in ["a", "b", "c"] {
            gids.push(create_group(&jm, "tom", name, &[]).await);
        }
        let page = jm.get("/v1/groups/?start=1&count=1").await.expect(200).json;
        assert_shape(
            &page,
            &[
                ("total", "integer"),
                ("start", "integer"),
                ("count", "integer"),
                ("groups", "array"),
            ],
            true,
        );
        assert_eq!(
            (
                page["total"].clone(),
                page["start"].clone(),
                page["count"].clone()
            ),
            (json!(3), json!(1), json!(1))
        );
        assert_shape(&page["groups"][0], GROUP, true);
        let all = jm
            .get("/v1/groups/?start=0&count=500")
            .await
            .expect(200)
            .json;
        let listed: Vec<i64> = all["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| int(&g["gid"], &all.to_string()))
            .collect();
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(sorted, gids);
        assert_eq!(page["groups"][0]["gid"], listed[1]);
    }

    #[tokio::test]
    async fn groups_shield_adds_and_removes() {
        let im = Imbridge::start();
        let jm = im.jm();
        people(&jm).await;
        let shielded = create_group(&jm, "tom", "noisy", &[]).await;
        let unshielded = create_group(&jm, "tom", "quiet", &[]).await;
        let url = "/v1/users/tom/groupsShield";
        jm.post(url, json!({"add": [unshielded]}))
            .await
            .expect_empty(204);
        jm.post(url, json!({"add": [shielded], "remove": [unshielded]}))
            .await
            .expect_empty(204);
        // No JMessage endpoint lists shields: read the store.
        let stored = stored_strings(
            &im,
            "SELECT g.gid FROM group_shields s JOIN users u ON u.id = s.user_id
             JOIN chat_groups g ON g.id = s.group_id WHERE u.username = ?1",
            "tom",
        )
        .await;
        assert_eq!(stored, [shielded.to_string()]);
    }

    #[tokio::test]
    async fn silence_mutes_and_unmutes_members() {
        let im = Imbridge::start();
        let jm = im.jm();
        register(&jm, &["tom", "username1", "username2"]).await;
        let gid = create_group(&jm, "tom", "g", &["username1", "username2"]).await;
        let to_group = |from: &str| text_message(from, "group", json!(gid), "hi");
        jm.put(
            &format!("/groups/messages/{gid}/silence?status=true"),
            Some(json!(["username1", "username2"])),
        )
        .await
        .expect_empty(204);
        for user in ["username1", "username2"] {
            jm.post("/v1/messages", to_group(user))
                .await
                .expect_jm_error(403, 899016);
        }
        sent_id(&jm, to_group("tom")).await;
        jm.put(
            &format!("/groups/messages/{gid}/silence?status=false"),
            Some(json!(["username1", "username2"])),
        )
        .await
        .expect_empty(204);
        sent_id(&jm, to_group("username1")).await;
    }

    #[tokio::test]
    async fn owner_transfer_moves_the_owner_flag() {
        let im = Imbridge::start();
        let jm = im.jm();
        people(&jm).await;
        let gid = seed_group(&jm).await;
        jm.put(
            &format!("/groups/owner/{gid}"),
            Some(json!({"username": "eddie"})),
        )
        .await
        .expect_empty(204);
        assert_eq!(
            group_members(&jm, gid).await,
            ["eddie:1", "tom:0", "annie:0"]
        );
        // The form with the user's app key.
        jm.put(
            &format!("/groups/owner/{gid}"),
            Some(json!({"appkey": APP_KEY, "username": "annie"})),
        )
        .await
        .expect_empty(204);
        let owners: Vec<String> = group_members(&jm, gid)
            .await
            .into_iter()
            .filter(|m| m.ends_with(":1"))
            .collect();
        assert_eq!(owners, ["annie:1"]);
    }

    postgres_twins!(
        create_answers_201_with_the_gid,
        get_shows_the_group,
        update_changes_name_and_desc,
        delete_dismisses_the_group,
        members_add_and_remove_in_one_call,
        v2_add_and_delete_members,
        member_list_flags_the_owner,
        groups_of_a_user,
        list_pages_through_the_groups,
        groups_shield_adds_and_removes,
        silence_mutes_and_unmutes_members,
        owner_transfer_moves_the_owner_flag
    );
}

mod chatrooms {
    use super::*;

    /// xiaoming's rooms of the seed's examples, each with caiyh as member.
    async fn xiaoming_rooms(jm: &Jm, n: usize) -> Vec<i64> {
        register(jm, &["xiaoming", "caiyh"]).await;
        let mut ids = Vec::new();
        for _ in 0..n {
            ids.push(create_room(jm, "xiaoming", "test", &["caiyh"]).await);
        }
        ids
    }

    fn assert_seed_room(room: &Value, id: i64) {
        assert_shape(room, ROOM, true);
        assert_eq!(room["id"], id);
        assert_eq!(room["owner_username"], "xiaoming");
        assert_eq!(room["max_member_count"], 10000);
        assert_eq!(room["appkey"], APP_KEY);
        assert_eq!(room["name"], "test");
        assert_eq!(room["description"], "test");
        assert_eq!(room["total_member_count"], 2);
        assert_time_now(&room["ctime"]);
    }

    #[tokio::test]
    async fn create_answers_201_with_an_integer_id() {
        let im = Imbridge::start();
        let jm = im.jm();
        register(&jm, &["liming"]).await;
        let a = jm
            .post(
                "/v1/chatroom/",
                json!({"owner_username": "liming", "name": "测试聊天室",
                       "description": "测试", "members_username": []}),
            )
            .await
            .expect(201);
        assert_shape(&a.json, &[("chatroom_id", "integer")], true);
        let id = int(&a.json["chatroom_id"], &a.text);
        let rooms = jm.post("/v1/chatroom/batch", json!([id])).await.expect(200);
        assert_eq!(rooms.json[0]["name"], "测试聊天室");
        assert_eq!(rooms.json[0]["description"], "测试");
        assert_eq!(rooms.json[0]["owner_username"], "liming");
    }

    #[tokio::test]
    async fn batch_get_returns_the_rooms_asked_for() {
        let im = Imbridge::start();
        let jm = im.jm();
        let ids = xiaoming_rooms(&jm, 3).await;
        let a = jm
            .post("/v1/chatroom/batch", json!([ids[1], ids[2]]))
            .await
            .expect(200);
        assert_eq!(list(&a).len(), 2, "{}", a.text);
        assert_seed_room(&a.json[0], ids[1]);
        assert_seed_room(&a.json[1], ids[2]);
    }

    #[tokio::test]
    async fn rooms_of_a_user() {
        let im = Imbridge::start();
        let jm = im.jm();
        let ids = xiaoming_rooms(&jm, 2).await;
        let a = jm.get("/v1/users/xiaoming/chatroom").await.expect(200);
        assert_eq!(list(&a).len(), 2, "{}", a.text);
        assert_seed_room(&a.json[0], ids[0]);
        assert_seed_room(&a.json[1], ids[1]);
    }

    #[tokio::test]
    async fn list_pages_through_the_rooms() {
        let im = Imbridge::start();
        let jm = im.jm();
        let ids = xiaoming_rooms(&jm, 3).await;
        let a = jm.get("/v1/chatroom?start=0&count=10").await.expect(200);
        assert_shape(
            &a.json,
            &[
                ("total", "integer"),
                ("rooms", "array"),
                ("start", "integer"),
                ("count", "integer"),
            ],
            true,
        );
        assert_eq!(a.json["total"], 3);
        assert_eq!(a.json["start"], 0);
        assert_eq!(a.json["count"], 3);
        let rooms = a.json["rooms"].as_array().unwrap();
        assert_eq!(rooms.len(), 3, "{}", a.text);
        for (room, id) in rooms.iter().zip(&ids) {
            assert_seed_room(room, *id);
        }
        let page = jm
            .get("/v1/chatroom?start=2&count=1")
            .await
            .expect(200)
            .json;
        assert_eq!(page["total"], 3);
        assert_eq!(page["count"], 1);
        assert_eq!(page["rooms"][0]["id"], ids[2]);
    }

    #[tokio::test]
    async fn update_changes_owner_name_and_description() {
        let im = Imbridge::start();
        let jm = im.jm();
        let ids = xiaoming_rooms(&jm, 1).await;
        register(&jm, &["135380113231"]).await;
        jm.put(
            &format!("/v1/chatroom/{}", ids[0]),
            Some(json!({"owner_username": "135380113231", "name": "中国人", "description": "说什么来这"})),
        )
        .await
        .expect_empty(204);
        let a = jm
            .post("/v1/chatroom/batch", json!([ids[0]]))
            .await
            .expect(200);
        assert_shape(&a.json[0], ROOM, true);
        assert_eq!(a.json[0]["owner_username"], "135380113231");
        assert_eq!(a.json[0]["name"], "中国人");
        assert_eq!(a.json[0]["description"], "说什么来这");
    }

    #[tokio::test]
    async fn delete_removes_the_room() {
        let im = Imbridge::start();
        let jm = im.jm();
        let ids = xiaoming_rooms(&jm, 2).await;
        jm.delete(&format!("/v1/chatroom/{}", ids[0]), None)
            .await
            .expect_empty(204);
        let a = jm.post("/v1/chatroom/batch", json!(ids)).await.expect(200);
        assert_eq!(list(&a).len(), 1, "{}", a.text);
        assert_eq!(a.json[0]["id"], ids[1]);
        let all = jm.get("/v1/chatroom?start=0&count=10").await.expect(200);
        assert_eq!(all.json["total"], 1);
    }

    #[tokio::test]
    async fn forbidden_mutes_a_member() {
        let im = Imbridge::start();
        let jm = im.jm();
        let ids = xiaoming_rooms(&jm, 1).await;
        let room = ids[0];
        jm.put(
            &format!("/v1/chatroom/{room}/forbidden/caiyh?status=1"),
            None,
        )
        .await
        .expect_empty(204);
        let flag_of_caiyh = |members: &Value| {
            members["users"]
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["username"] == "caiyh")
                .map(|u| u["flag"].clone())
        };
        let a = jm
            .get(&format!("/v1/chatroom/{room}/members?start=0&count=10"))
            .await
            .expect(200);
        assert_eq!(flag_of_caiyh(&a.json), Some(json!(1)), "{}", a.text);
        jm.post(
            "/v1/messages",
            text_message("caiyh", "chatroom", json!(room), "hi"),
        )
        .await
        .expect_jm_error(403, 899016);
        jm.put(
            &format!("/v1/chatroom/{room}/forbidden/caiyh?status=0"),
            None,
        )
        .await
        .expect_empty(204);
        let a = jm
            .get(&format!("/v1/chatroom/{room}/members?start=0&count=10"))
            .await
            .expect(200);
        assert_eq!(flag_of_caiyh(&a.json), Some(json!(0)), "{}", a.text);
        sent_id(&jm, text_message("caiyh", "chatroom", json!(room), "hi")).await;
    }

    #[tokio::test]
    async fn member_list_shows_flags_and_times() {
        let im = Imbridge::start();
        let jm = im.jm();
        let ids = xiaoming_rooms(&jm, 1).await;
        let a = jm
            .get(&format!("/v1/chatroom/{}/members?start=0&count=10", ids[0]))
            .await
            .expect(200);
        assert_shape(
            &a.json,
            &[
                ("total", "integer"),
                ("users", "array"),
                ("count", "integer"),
                ("start", "integer"),
            ],
            true,
        );
        assert_eq!(a.json["total"], 2);
        assert_eq!(a.json["count"], 2);
        assert_eq!(a.json["start"], 0);
        let mut names = usernames(&a.json["users"]);
        names.sort();
        assert_eq!(names, ["caiyh", "xiaoming"]);
        for u in a.json["users"].as_array().unwrap() {
            assert_shape(
                u,
                &[
                    ("username", "string"),
                    ("flag", "integer"),
                    ("room_ctime", "string"),
                    ("mtime", "string"),
                    ("ctime", "string"),
                ],
                true,
            );
            assert_eq!(u["flag"], 0);
            assert_time_now(&u["room_ctime"]);
            assert_time_now(&u["ctime"]);
        }
        let page = jm
            .get(&format!("/v1/chatroom/{}/members?start=1&count=1", ids[0]))
            .await
            .expect(200)
            .json;
        assert_eq!(
            (page["total"].clone(), page["count"].clone()),
            (json!(2), json!(1))
        );
        assert_eq!(page["users"][0]["username"], a.json["users"][1]["username"]);
    }

    #[tokio::test]
    async fn members_add_and_remove() {
        let im = Imbridge::start();
        let jm = im.jm();
        let ids = xiaoming_rooms(&jm, 1).await;
        let room = ids[0];
        register(&jm, &["javen", "fang"]).await;
        let url = format!("/v1/chatroom/{room}/members");
        jm.put(&url, Some(json!(["javen", "fang"])))
            .await
            .expect_empty(204);
        let mut members = room_members(&jm, room).await;
        members.sort();
        assert_eq!(members, ["caiyh", "fang", "javen", "xiaoming"]);
        jm.delete(&url, Some(json!(["fang"])))
            .await
            .expect_empty(204);
        let mut members = room_members(&jm, room).await;
        members.sort();
        assert_eq!(members, ["caiyh", "javen", "xiaoming"]);
        let a = jm
            .post("/v1/chatroom/batch", json!([room]))
            .await
            .expect(200);
        assert_eq!(a.json[0]["total_member_count"], 3);
    }

    postgres_twins!(
        create_answers_201_with_an_integer_id,
        batch_get_returns_the_rooms_asked_for,
        rooms_of_a_user,
        list_pages_through_the_rooms,
        update_changes_owner_name_and_description,
        delete_removes_the_room,
        forbidden_mutes_a_member,
        member_list_shows_flags_and_times,
        members_add_and_remove
    );
}

mod messages {
    use super::*;

    /// The seed's image upload answer: exactly these fields.
    const IMAGE: &[(&str, &str)] = &[
        ("media_id", "string"),
        ("media_crc32", "integer"),
        ("width", "integer"),
        ("height", "integer"),
        ("format", "string"),
        ("fsize", "integer"),
    ];

    #[tokio::test]
    async fn text_message_answers_201_with_integer_id_and_ctime() {
        let im = Imbridge::start();
        let jm = im.jm();
        register(&jm, &["javen", "fang"]).await;
        let a = jm
            .post(
                "/v1/messages",
                json!({
                    "version": 1,
                    "target_type": "single",
                    "target_id": "javen",
                    "from_type": "user",
                    "from_id": "fang",
                    "msg_type": "text",
                    "msg_body": {"extras": {}, "text": "Hello, JMessage!"}
                }),
            )
            .await
            .expect(201);
        assert_shape(
            &a.json,
            &[("msg_id", "integer"), ("msg_ctime", "integer")],
            true,
        );
        assert_millis_now(&a.json["msg_ctime"]);
        let first = int(&a.json["msg_id"], &a.text);
        let second = int(
            &send_text(&jm, "javen", "fang").await.expect(201).json["msg_id"],
            "",
        );
        assert!(
            second > first,
            "message ids must grow: {first} then {second}"
        );
    }

    #[tokio::test]
    async fn image_voice_and_custom_messages() {
        let im = Imbridge::start();
        let jm = im.jm();
        register(&jm, &["javen", "fang", "ppppp", "user_caiyh"]).await;
        let message = |from: &str, to: &str, kind: &str, body: Value| {
            json!({"version": 1, "target_type": "single", "target_id": to,
                   "from_type": "user", "from_id": from, "msg_type": kind, "msg_body": body})
        };
        // The seed's image example as written.
        let image = json!({"media_id": "qiniu/image/CE0ACD035CBF71F8", "media_crc32": 2778919613u64,
                           "width": 3840, "height": 2160, "fsize": 3328738, "format": "jpg"});
        sent_id(&jm, message("fang", "javen", "image", image)).await;
        // An image uploaded first: msg_body is the upload answer.
        let uploaded = jm
            .upload("image", "test.png", png(4, 3))
            .await
            .expect(200)
            .json;
        sent_id(&jm, message("fang", "javen", "image", uploaded)).await;
        let voice = json!({"media_id": "qiniu/voice/j/A96B61EB3AF0E5CDE66D377DEA4F76B8",
                           "media_crc32": 1882116055u64, "hash": "FoYn15bAGRUM9gZCAkvf9dolVH7h",
                           "fsize": 12344, "duration": 6});
        sent_id(&jm, message("user_caiyh", "ppppp", "voice", voice)).await;
        let custom = json!({"any": "json", "the": ["app", "defines"]});
        sent_id(&jm, message("user_caiyh", "ppppp", "custom", custom)).await;
    }

    #[tokio::test]
    async fn group_and_chatroom_messages() {
        let im = Imbridge::start();
        let jm = im.jm();
        register(&jm, &["tom", "eddie"]).await;
        let gid = create_group(&jm, "tom", "g", &["eddie"]).await;
        let room = create_room(&jm, "tom", "r", &["eddie"]).await;
        // Ids as numbers and as strings (the Java client sends strings).
        sent_id(&jm, text_message("eddie", "group", json!(gid), "hi")).await;
        sent_id(
            &jm,
            text_message("eddie", "group", json!(gid.to_string()), "hi"),
        )
        .await;
        sent_id(&jm, text_message("eddie", "chatroom", json!(room), "hi")).await;
        sent_id(
            &jm,
            text_message("eddie", "chatroom", json!(room.to_string()), "hi"),
        )
        .await;
    }

    #[tokio::test]
    async fn retract_is_204_and_marks_the_message() {
        let im = Imbridge::start();
        let jm = im.jm();
        register(&jm, &["javen", "fang"]).await;
        let id = int(
            &send_text(&jm, "fang", "javen").await.expect(201).json["msg_id"],
            "",
        );
        let url = format!("/v1/messages/fang/{id}/retract");
        jm.call(reqwest::Method::POST, &url, None)
            .await
            .expect_empty(204);
        // Stored: a second retract is refused as "already retracted".
        jm.call(reqwest::Method::POST, &url, None)
            .await
            .expect_jm_error(409, 855004);
    }

    #[tokio::test]
    async fn image_upload_reports_size_crc_and_dimensions() {
        let im = Imbridge::start();
        let jm = im.jm();
        let bytes = png(5, 3);
        let a = jm
            .upload("image", "test.png", bytes.clone())
            .await
            .expect(200);
        assert_shape(&a.json, IMAGE, true);
        assert_eq!(a.json["width"], 5);
        assert_eq!(a.json["height"], 3);
        assert_eq!(a.json["format"], "png");
        assert_eq!(a.json["fsize"], bytes.len());
        assert_eq!(a.json["media_crc32"], crc32fast::hash(&bytes));
    }

    #[tokio::test]
    async fn file_and_voice_uploads() {
        let im = Imbridge::start();
        let jm = im.jm();
        let dump = b"a crash dump".to_vec();
        let a = jm
            .upload("file", "0839d1c0.dmp", dump.clone())
            .await
            .expect(200);
        assert_shape(
            &a.json,
            &[
                ("media_id", "string"),
                ("media_crc32", "integer"),
                ("fname", "string"),
                ("fsize", "integer"),
                ("hash", "string"),
            ],
            true,
        );
        assert_eq!(a.json["fname"], "0839d1c0.dmp");
        assert_eq!(a.json["fsize"], dump.len());
        assert_eq!(a.json["media_crc32"], crc32fast::hash(&dump));
        let voice = b"ID3 not really an mp3".to_vec();
        let a = jm
            .upload("voice", "test.mp3", voice.clone())
            .await
            .expect(200);
        assert_shape(
            &a.json,
            &[
                ("media_id", "string"),
                ("media_crc32", "integer"),
                ("hash", "string"),
                ("format", "string"),
                ("fsize", "integer"),
            ],
            true,
        );
        assert_eq!(a.json["format"], "mp3");
        assert_eq!(a.json["fsize"], voice.len());
    }

    #[tokio::test]
    async fn resource_url_downloads_the_uploaded_bytes() {
        let im = Imbridge::start();
        let jm = im.jm();
        let bytes = png(2, 7);
        let up = jm
            .upload("image", "test.png", bytes.clone())
            .await
            .expect(200);
        let media_id = text(&up.json["media_id"]);
        let a = jm
            .get(&format!("/v1/resource?mediaId={media_id}"))
            .await
            .expect(200);
        assert_shape(&a.json, &[("url", "string")], true);
        let url = text(&a.json["url"]);
        let download = im.http.get(&url).send().await.unwrap();
        assert_eq!(download.status(), 200, "GET {url}");
        assert_eq!(download.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }

    postgres_twins!(
        text_message_answers_201_with_integer_id_and_ctime,
        image_voice_and_custom_messages,
        group_and_chatroom_messages,
        retract_is_204_and_marks_the_message,
        image_upload_reports_size_crc_and_dimensions,
        file_and_voice_uploads,
        resource_url_downloads_the_uploaded_bytes
    );
}

mod sensitive_words {
    use super::*;

    async fn words(jm: &Jm) -> Vec<String> {
        let a = jm
            .get("/v1/sensitiveword?start=0&count=2000")
            .await
            .expect(200);
        a.json["words"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| text(&w["name"]))
            .collect()
    }

    #[tokio::test]
    async fn add_update_and_delete_a_word() {
        let im = Imbridge::start();
        let jm = im.jm();
        jm.post("/v1/sensitiveword", json!(["FUCK"]))
            .await
            .expect_empty(204);
        assert_eq!(words(&jm).await, ["FUCK"]);
        jm.put(
            "/v1/sensitiveword",
            Some(json!({"new_word": "fuck", "old_word": "FUCK"})),
        )
        .await
        .expect_empty(204);
        assert_eq!(words(&jm).await, ["fuck"]);
        jm.delete("/v1/sensitiveword", Some(json!({"word": "fuck"})))
            .await
            .expect_empty(204);
        assert!(words(&jm).await.is_empty());
    }

    #[tokio::test]
    async fn list_pages_like_the_seed() {
        let im = Imbridge::start();
        let jm = im.jm();
        jm.post("/v1/sensitiveword", json!(["FUCK", "SHIT", "DAMN"]))
            .await
            .expect_empty(204);
        let all = words(&jm).await;
        let a = jm
            .get("/v1/sensitiveword?start=2&count=1")
            .await
            .expect(200);
        assert_shape(
            &a.json,
            &[
                ("start", "integer"),
                ("count", "integer"),
                ("words", "array"),
                ("total", "integer"),
            ],
            true,
        );
        assert_eq!(a.json["start"], 2);
        assert_eq!(a.json["count"], 1);
        assert_eq!(a.json["total"], 3);
        let word = &a.json["words"][0];
        assert_shape(word, &[("name", "string"), ("itime", "string")], true);
        assert_eq!(word["name"], all[2]);
        assert_time_now(&word["itime"]);
    }

    #[tokio::test]
    async fn filter_status_set_and_get() {
        let im = Imbridge::start();
        let jm = im.jm();
        for status in [0, 1, 0] {
            jm.put(&format!("/v1/sensitiveword/status?status={status}"), None)
                .await
                .expect_empty(204);
            let a = jm.get("/v1/sensitiveword/status").await.expect(200);
            assert_eq!(a.json, json!({"status": status}));
        }
    }

    postgres_twins!(
        add_update_and_delete_a_word,
        list_pages_like_the_seed,
        filter_status_set_and_get
    );
}

mod cross_app {
    use super::*;
    use crate::harness::OTHER_APP_KEY;

    /// A server with two apps: tom (and friends) in ours, test1..2 and
    /// name3..4 in the other. The seed writes the other app key with a
    /// leading blank (`" 4f7aef34fb361292c566a1cd"`), a typo; it is dropped.
    async fn two_apps() -> (Imbridge, Jm) {
        let (im, other) = Imbridge::start_with_other_app();
        register(
            &im.jm(),
            &["tom", "eddie", "javen", "username1", "username2"],
        )
        .await;
        register_users(&other, json!([full_user("test1")])).await;
        register(&other, &["test2", "name3", "name4", "user01", "user02"]).await;
        (im, other)
    }

    /// `{appkey, add, remove}` in the seed's form for the other app.
    fn add_remove(add: &[&str], remove: &[&str]) -> Value {
        json!([{"appkey": OTHER_APP_KEY, "add": add, "remove": remove}])
    }

    #[tokio::test]
    async fn group_members_of_another_app() {
        let (im, _other) = two_apps().await;
        let jm = im.jm();
        let gid = create_group(&jm, "tom", "g", &["eddie"]).await;
        let url = format!("/v1/cross/groups/{gid}/members");
        jm.post(&url, add_remove(&["name3", "name4"], &[]))
            .await
            .expect_empty(204);
        // The seed's example: add test1 and test2, remove name3 and name4.
        jm.post(&url, add_remove(&["test1", "test2"], &["name3", "name4"]))
            .await
            .expect_empty(204);
        let a = jm
            .get(&format!("/v1/cross/groups/{gid}/members/"))
            .await
            .expect(200);
        let members: Vec<String> = list(&a)
            .iter()
            .map(|m| {
                format!(
                    "{}/{}:{}",
                    text(&m["appkey"]),
                    text(&m["username"]),
                    m["flag"]
                )
            })
            .collect();
        assert_eq!(
            members,
            [
                format!("{APP_KEY}/tom:1"),
                format!("{APP_KEY}/eddie:0"),
                format!("{OTHER_APP_KEY}/test1:0"),
                format!("{OTHER_APP_KEY}/test2:0"),
            ]
        );
        assert_shape(&a.json[2], &with(MEMBER, &[("appkey", "string")]), true);
        assert_full_profile(&a.json[2]);
    }

    #[tokio::test]
    async fn groups_of_a_user() {
        let (im, _other) = two_apps().await;
        let jm = im.jm();
        let gid = create_group(&jm, "tom", "jpush", &[]).await;
        let a = jm.get("/v1/cross/users/tom/groups").await.expect(200);
        assert_eq!(list(&a).len(), 1, "{}", a.text);
        let g = &a.json[0];
        assert_shape(
            g,
            &[
                ("gid", "integer"),
                ("name", "string"),
                ("desc", "string"),
                ("appkey", "string"),
                ("max_member_count", "integer"),
                ("mtime", "string"),
                ("ctime", "string"),
            ],
            true,
        );
        assert_eq!(g["gid"], gid);
        assert_eq!(g["name"], "jpush");
        assert_eq!(g["appkey"], APP_KEY);
        assert_eq!(g["max_member_count"], 500);
        assert_time_now(&g["ctime"]);
    }

    #[tokio::test]
    async fn blacklist_with_users_of_another_app() {
        let (im, other) = two_apps().await;
        let jm = im.jm();
        let url = "/v1/cross/users/javen/blacklist";
        let body = json!([{"appkey": OTHER_APP_KEY, "usernames": ["test1", "test2"]}]);
        jm.put(url, Some(body.clone())).await.expect_empty(204);
        let a = jm.get(url).await.expect(200);
        assert_eq!(usernames(&a.json), ["test1", "test2"]);
        assert_shape(
            &a.json[0],
            &with(LISTED_USER, &[("appkey", "string")]),
            true,
        );
        assert_full_profile(&a.json[0]);
        assert_eq!(a.json[0]["appkey"], OTHER_APP_KEY);
        assert_eq!(a.json[1]["appkey"], OTHER_APP_KEY);
        jm.delete(url, Some(body)).await.expect_empty(204);
        assert_eq!(jm.get(url).await.expect(200).json, json!([]));
        // Registering in the other app did not touch ours.
        jm.get("/v1/users/test1").await.expect_jm_error(404, 899002);
        other.get("/v1/users/test1").await.expect(200);
    }

    #[tokio::test]
    async fn nodisturb_with_users_of_another_app() {
        let (im, other) = two_apps().await;
        let jm = im.jm();
        let on = create_group(&jm, "javen", "on", &[]).await;
        let off = create_group(&jm, "javen", "off", &[]).await;
        let url = "/v1/cross/users/javen/nodisturb";
        jm.post(
            url,
            json!([{"appkey": OTHER_APP_KEY, "group": {"add": [off]}}]),
        )
        .await
        .expect_empty(204);
        register(&other, &["username1", "username2"]).await;
        jm.post(
            url,
            json!([{
                "appkey": OTHER_APP_KEY,
                "single": {"add": ["username1", "username2"]},
                "group": {"add": [on], "remove": [off]}
            }]),
        )
        .await
        .expect_empty(204);
        jm.post(
            url,
            json!([{"appkey": OTHER_APP_KEY, "group": {"add": [on]}}]),
        )
        .await
        .expect_jm_error(400, 899052);
        jm.post(
            url,
            json!([{"appkey": OTHER_APP_KEY, "group": {"remove": [off]}}]),
        )
        .await
        .expect_jm_error(400, 899053);
        // The single-chat entries name the other app's users.
        let stored = stored_strings(
            &im,
            "SELECT o.app || '/' || o.username FROM nodisturb_users n
             JOIN users u ON u.id = n.user_id JOIN users o ON o.id = n.other_id
             WHERE u.username = ?1 ORDER BY o.username",
            "javen",
        )
        .await;
        assert_eq!(
            stored,
            [
                format!("{OTHER_APP_KEY}/username1"),
                format!("{OTHER_APP_KEY}/username2")
            ]
        );
    }

    #[tokio::test]
    async fn friends_from_another_app() {
        let (im, _other) = two_apps().await;
        let jm = im.jm();
        let url = "/v1/cross/users/javen/friends";
        let users = json!({"appkey": OTHER_APP_KEY, "users": ["user01", "user02"]});
        jm.post(url, users.clone()).await.expect_empty(201);
        jm.put(
            url,
            Some(
                json!([{"note_name": "new note name", "others": "好友备注文档",
                         "username": "user01", "appkey": OTHER_APP_KEY}]),
            ),
        )
        .await
        .expect_empty(204);
        let a = jm.get("/v1/users/javen/friends").await.expect(200);
        assert_eq!(usernames(&a.json), ["user01", "user02"]);
        assert_eq!(a.json[0]["appkey"], OTHER_APP_KEY);
        assert_eq!(a.json[0]["note_name"], "new note name");
        assert_eq!(a.json[0]["others"], "好友备注文档");
        assert_eq!(a.json[1]["appkey"], OTHER_APP_KEY);
        jm.delete(url, Some(users)).await.expect_empty(204);
        assert_eq!(
            jm.get("/v1/users/javen/friends").await.expect(200).json,
            json!([])
        );
    }

    #[tokio::test]
    async fn chatroom_members_of_another_app() {
        let (im, _other) = two_apps().await;
        let jm = im.jm();
        let room = create_room(&jm, "tom", "r", &[]).await;
        let url = format!("/cross/chatroom/{room}/members");
        jm.post(&url, add_remove(&["name3", "name4"], &[]))
            .await
            .expect_empty(204);
        jm.post(&url, add_remove(&["test1", "test2"], &["name3", "name4"]))
            .await
            .expect_empty(204);
        let mut members = room_members(&jm, room).await;
        members.sort();
        assert_eq!(members, ["test1", "test2", "tom"]);
    }

    postgres_twins!(
        group_members_of_another_app,
        groups_of_a_user,
        blacklist_with_users_of_another_app,
        nodisturb_with_users_of_another_app,
        friends_from_another_app,
        chatroom_members_of_another_app
    );
}

mod sdk_register {
    use super::*;

    #[tokio::test]
    async fn status_set_and_get() {
        let im = Imbridge::start();
        let jm = im.jm();
        for status in [0, 1, 0] {
            jm.put(&format!("/v1/sdkregister/status?status={status}"), None)
                .await
                .expect_empty(204);
            let a = jm.get("/v1/sdkregister/status").await.expect(200);
            assert_eq!(a.json, json!({"status": status}));
        }
    }

    postgres_twins!(status_set_and_get);
}

mod routes {
    use super::*;
    use crate::harness::{repo, Answer};
    use reqwest::Method;

    /// The endpoint list every dialect is held to (a copy of the seeds' endpoints.tsv).
    fn endpoints_tsv() -> std::path::PathBuf {
        repo().join("tests/seeds/endpoints.tsv")
    }

    /// A concrete path for a path template of endpoints.tsv: `{a|b}` takes
    /// the first choice, named placeholders a plausible value.
    fn concrete(template: &str) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = open + rest[open..].find('}').expect("a closing brace");
            let name = &rest[open + 1..close];
            let value = match name {
                _ if name.contains('|') => name.split('|').next().unwrap(),
                "username" => "javen",
                "gid" => "10000",
                "room_id" => "10000000",
                "msgid" => "1000000000",
                "mediaId" => "image/none",
                "start" => "0",
                "count" => "10",
                "bool" => "true",
                other => panic!("no value for placeholder {{{other}}} in {template}"),
            };
            out.push_str(value);
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        out
    }

    /// Whether the answer says nothing serves this method and path.
    fn unrouted(a: &Answer) -> bool {
        let message = a.json["error"]["message"].as_str().unwrap_or("");
        a.status == 405 || a.status == 501 || (a.status == 404 && message.starts_with("no route"))
    }

    #[tokio::test]
    async fn every_seed_endpoint_is_served() {
        let tsv = std::fs::read_to_string(endpoints_tsv())
            .unwrap_or_else(|e| panic!("{}: {e}", endpoints_tsv().display()));
        let endpoints: Vec<(String, String)> = tsv
            .lines()
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .filter(|cols| cols[0] == "jmessage")
            .map(|cols| (cols[2].to_uppercase(), cols[3].to_string()))
            .collect();
        assert_eq!(endpoints.len(), 65, "jmessage lines of endpoints.tsv");
        let im = Imbridge::start();
        let jm = im.jm();
        // The detector itself: an unknown path is reported.
        assert!(unrouted(&jm.get("/v1/nothing/here").await));
        let mut missing = Vec::new();
        for (method, path) in &endpoints {
            let url = concrete(path);
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let a = jm.call(method.clone(), &url, None).await;
            if unrouted(&a) {
                missing.push(format!("{method} {url} ({path}): {} {}", a.status, a.text));
            }
        }
        assert!(missing.is_empty(), "not served:\n{}", missing.join("\n"));
    }

    postgres_twins!(every_seed_endpoint_is_served);
}
