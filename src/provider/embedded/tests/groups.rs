//! Groups and group membership.

use serde_json::{json, Value};

use super::{context, expect, names, upload, Backend, Harness, APP, OTHER_APP, PNG_1X1};
use crate::canonical::{ErrorKind, Reason};

/// Creates a group owned by `owner` with `members`; returns its id.
async fn group(h: &Harness, owner: &str, members: &[&str]) -> Value {
    let g = h
        .ok(
            "group.create",
            json!({"owner": owner, "name": "g", "members": members}),
        )
        .await;
    g["id"].clone()
}

async fn member_names(h: &Harness, gid: &Value) -> Vec<String> {
    names(&h.ok("group.members.list", json!({"group_id": gid})).await["items"])
}

async fn create_assigns_ids_and_counts_members(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob", "carol"]).await;
    h.users_in(OTHER_APP, &["zed"]).await;
    let g = h
        .ok(
            "group.create",
            json!({"owner": "alice", "name": "Team", "desc": "d", "members":
                   ["bob", "bob", "alice", {"username": "zed", "app_key": OTHER_APP}]}),
        )
        .await;
    assert_eq!(g["id"], "10000");
    assert_eq!(g["owner"], "alice");
    assert_eq!(g["member_count"], 3);
    assert_eq!(g["public"], false);
    assert_eq!(g["max_members"], 500);
    assert_eq!(g["app_key"], APP);
    let second = h
        .ok(
            "group.create",
            json!({"name": "ownerless", "public": true, "max_members": 3}),
        )
        .await;
    assert_eq!(second["id"], "10001");
    assert!(second.get("owner").is_none());
    assert_eq!(second["member_count"], 0);
    let custom = h
        .ok(
            "group.create",
            json!({"id": "rc-group", "owner": "bob", "name": "c"}),
        )
        .await;
    assert_eq!(custom["id"], "rc-group");
    let e = h
        .fail(
            "group.create",
            json!({"id": "rc-group", "owner": "bob", "name": "c"}),
        )
        .await;
    expect(&e, ErrorKind::AlreadyExists, Reason::Group);
    // Another app may use the same id.
    let other = h
        .call_in(
            OTHER_APP,
            "group.create",
            json!({"id": "rc-group", "owner": "zed", "name": "c"}),
        )
        .await
        .unwrap();
    assert_eq!(other["app_key"], OTHER_APP);
    // A counter value already taken by a caller's id is skipped.
    h.ok("group.create", json!({"id": "10002", "name": "squatter"}))
        .await;
    assert_eq!(
        h.ok("group.create", json!({"name": "next"})).await["id"],
        "10003"
    );

    let members = h
        .ok("group.members.list", json!({"group_id": g["id"]}))
        .await;
    assert_eq!(names(&members["items"]), ["alice", "bob", "zed"]);
    assert_eq!(members["items"][0]["role"], "owner");
    assert_eq!(members["items"][1]["role"], "member");

    let too_long = "i".repeat(65);
    for (req, kind, reason) in [
        (
            json!({"owner": "ghost", "name": "x"}),
            ErrorKind::NotFound,
            Reason::User,
        ),
        (
            json!({"owner": "alice", "name": "x", "members": ["ghost"]}),
            ErrorKind::NotFound,
            Reason::User,
        ),
        (
            json!({"owner": "alice", "name": "x", "members": ["bob", "carol"], "max_members": 2}),
            ErrorKind::LimitExceeded,
            Reason::Capacity,
        ),
        (
            json!({"id": "", "name": "x"}),
            ErrorKind::InvalidArgument,
            Reason::Param,
        ),
        (
            json!({"id": too_long, "name": "x"}),
            ErrorKind::InvalidArgument,
            Reason::Param,
        ),
        (
            json!({"name": "a\nb"}),
            ErrorKind::InvalidArgument,
            Reason::Param,
        ),
    ] {
        expect(&h.fail("group.create", req).await, kind, reason);
    }
    let list = h.ok("group.list", json!({})).await;
    assert_eq!(list["total"], 5, "failed creates left nothing behind");
}

async fn create_with_avatar_upload(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice"]).await;
    let ctx = context(APP, vec![("face.png", PNG_1X1)]);
    let req = json!({"owner": "alice", "name": "pics", "avatar_upload": upload(0)});
    let g = h.call_ctx(ctx, "group.create", req).await.unwrap();
    let avatar = g["avatar"].as_str().unwrap();
    let media_id = avatar
        .strip_prefix("http://media.test/media/")
        .expect("media url");
    assert!(media_id.starts_with("image/"));
    let (path, content_type) = h.provider.media_file(media_id).await.expect("stored");
    assert_eq!(content_type, "image/png");
    assert_eq!(std::fs::read(path).unwrap(), PNG_1X1);

    let ctx = context(APP, vec![("face.png", b"not an image")]);
    let req = json!({"owner": "alice", "name": "pics", "avatar_upload": upload(0)});
    let e = h.call_ctx(ctx, "group.create", req).await.unwrap_err();
    expect(&e, ErrorKind::InvalidArgument, Reason::Media);
    // A failing create removes the file it wrote.
    let ctx = context(APP, vec![("face.png", PNG_1X1)]);
    let req = json!({"owner": "ghost", "name": "pics", "avatar_upload": upload(0)});
    let e = h.call_ctx(ctx, "group.create", req).await.unwrap_err();
    expect(&e, ErrorKind::NotFound, Reason::User);
    let stored = std::fs::read_dir(h.cfg.media_dir.join("image"))
        .unwrap()
        .count();
    assert_eq!(stored, 1);
}

async fn get_update_dismiss(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob"]).await;
    let gid = group(&h, "alice", &["bob"]).await;
    h.ok(
        "group.update",
        json!({"group_id": gid, "name": "New", "avatar": "http://a/b.png"}),
    )
    .await;
    let g = h.ok("group.get", json!({"group_id": gid})).await;
    assert_eq!(
        (g["name"].as_str(), g["desc"].as_str()),
        (Some("New"), Some(""))
    );
    assert_eq!(g["avatar"], "http://a/b.png");
    for op in ["group.get", "group.dismiss"] {
        expect(
            &h.fail(op, json!({"group_id": "404"})).await,
            ErrorKind::NotFound,
            Reason::Group,
        );
    }
    let e = h
        .fail("group.update", json!({"group_id": "404", "name": "x"}))
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Group);
    // Groups are per app.
    let e = h
        .call_in(OTHER_APP, "group.get", json!({"group_id": gid}))
        .await
        .unwrap_err();
    expect(&e, ErrorKind::NotFound, Reason::Group);

    h.ok("group.shield", json!({"username": "bob", "add": [gid]}))
        .await;
    for by in ["bob", "ghost"] {
        let e = h
            .fail("group.dismiss", json!({"group_id": gid, "by": by}))
            .await;
        expect(&e, ErrorKind::PermissionDenied, Reason::Owner);
    }
    h.ok("group.dismiss", json!({"group_id": gid, "by": "alice"}))
        .await;
    expect(
        &h.fail("group.get", json!({"group_id": gid})).await,
        ErrorKind::NotFound,
        Reason::Group,
    );
    assert_eq!(
        h.ok("user.groups.list", json!({"user": "bob"})).await["items"],
        json!([])
    );
    let other = group(&h, "alice", &[]).await;
    h.ok("group.dismiss", json!({"group_id": other})).await;
}

async fn members_update_rules(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob", "carol", "dave", "erin"]).await;
    let gid = h
        .ok(
            "group.create",
            json!({"owner": "alice", "name": "g", "members": ["bob"], "max_members": 4}),
        )
        .await["id"]
        .clone();
    let update =
        |add: &[&str], remove: &[&str]| json!({"group_id": gid, "add": add, "remove": remove});
    let cases = [
        (update(&[], &[]), ErrorKind::InvalidArgument, Reason::Param),
        (update(&["ghost"], &[]), ErrorKind::NotFound, Reason::User),
        (
            update(&["carol", "bob"], &[]),
            ErrorKind::AlreadyExists,
            Reason::Member,
        ),
        (
            update(&["carol"], &["dave"]),
            ErrorKind::NotFound,
            Reason::Member,
        ),
        (update(&[], &["ghost"]), ErrorKind::NotFound, Reason::Member),
        (
            update(&["carol"], &["alice"]),
            ErrorKind::InvalidArgument,
            Reason::Owner,
        ),
        (
            update(&["carol", "dave", "erin"], &[]),
            ErrorKind::LimitExceeded,
            Reason::Capacity,
        ),
    ];
    for (req, kind, reason) in cases {
        expect(&h.fail("group.members.update", req).await, kind, reason);
    }
    assert_eq!(
        member_names(&h, &gid).await,
        ["alice", "bob"],
        "failed updates changed nothing"
    );
    let e = h
        .fail(
            "group.members.update",
            json!({"group_id": gid, "add": ["carol"], "by": "dave"}),
        )
        .await;
    expect(&e, ErrorKind::PermissionDenied, Reason::Member);
    let e = h
        .fail(
            "group.members.update",
            json!({"group_id": "404", "add": ["carol"]}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Group);

    h.ok(
        "group.members.update",
        json!({"group_id": gid, "add": ["carol", "dave"], "remove": ["bob"], "by": "bob"}),
    )
    .await;
    assert_eq!(member_names(&h, &gid).await, ["alice", "carol", "dave"]);
    // Removing down to nothing deletes an ownerless group.
    let lonely = h
        .ok(
            "group.create",
            json!({"name": "lonely", "members": ["bob"]}),
        )
        .await["id"]
        .clone();
    h.ok(
        "group.members.update",
        json!({"group_id": lonely, "remove": ["bob"]}),
    )
    .await;
    expect(
        &h.fail("group.get", json!({"group_id": lonely})).await,
        ErrorKind::NotFound,
        Reason::Group,
    );
}

async fn members_list_pages_and_checks_caller(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob", "carol", "dave"]).await;
    let gid = group(&h, "carol", &["alice", "bob"]).await;
    assert_eq!(member_names(&h, &gid).await, ["carol", "alice", "bob"]);
    let page = h
        .ok(
            "group.members.list",
            json!({"group_id": gid, "paging": {"count": 2}}),
        )
        .await;
    assert_eq!(names(&page["items"]), ["carol", "alice"]);
    assert_eq!(
        (page["total"].as_i64(), page["cursor"].as_str()),
        (Some(3), Some("2"))
    );
    let rest = h
        .ok(
            "group.members.list",
            json!({"group_id": gid, "paging": {"cursor": "2"}}),
        )
        .await;
    assert_eq!(names(&rest["items"]), ["bob"]);
    h.ok("group.members.list", json!({"group_id": gid, "by": "bob"}))
        .await;
    let e = h
        .fail("group.members.list", json!({"group_id": gid, "by": "dave"}))
        .await;
    expect(&e, ErrorKind::PermissionDenied, Reason::Member);
    let e = h
        .fail("group.members.list", json!({"group_id": "404"}))
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Group);
}

async fn join_and_quit(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob", "carol", "dave"]).await;
    let gid = h
        .ok(
            "group.create",
            json!({"owner": "alice", "name": "g", "code": "1234", "max_members": 3}),
        )
        .await["id"]
        .clone();
    let e = h
        .fail(
            "group.join",
            json!({"group_id": gid, "username": "bob", "code": "0000"}),
        )
        .await;
    expect(&e, ErrorKind::PermissionDenied, Reason::Credentials);
    let joined = h
        .ok(
            "group.join",
            json!({"group_id": gid, "username": "bob", "code": "1234"}),
        )
        .await;
    assert_eq!(joined["member_count"], 2);
    assert_eq!(joined["code"], "1234");
    let e = h
        .fail("group.join", json!({"group_id": gid, "username": "bob"}))
        .await;
    expect(&e, ErrorKind::AlreadyExists, Reason::Member);
    h.ok("group.join", json!({"group_id": gid, "username": "carol"}))
        .await;
    let e = h
        .fail("group.join", json!({"group_id": gid, "username": "dave"}))
        .await;
    expect(&e, ErrorKind::LimitExceeded, Reason::Capacity);
    let e = h
        .fail("group.join", json!({"group_id": gid, "username": "ghost"}))
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);
    let e = h
        .fail("group.join", json!({"group_id": "404", "username": "dave"}))
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Group);

    let e = h
        .fail("group.quit", json!({"group_id": gid, "username": "dave"}))
        .await;
    expect(&e, ErrorKind::PermissionDenied, Reason::Member);
    // The owner hands over to the earliest-joined member.
    h.ok("group.quit", json!({"group_id": gid, "username": "alice"}))
        .await;
    let g = h.ok("group.get", json!({"group_id": gid})).await;
    assert_eq!(
        (g["owner"].as_str(), g["member_count"].as_i64()),
        (Some("bob"), Some(2))
    );
    h.ok("group.quit", json!({"group_id": gid, "username": "carol"}))
        .await;
    h.ok("group.quit", json!({"group_id": gid, "username": "bob"}))
        .await;
    expect(
        &h.fail("group.get", json!({"group_id": gid})).await,
        ErrorKind::NotFound,
        Reason::Group,
    );
}

/// `group.managers.set` makes members managers and members again, reads
/// report it, and refuses the owner and non-members.
async fn managers_set_and_unset(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob", "carol"]).await;
    let gid = group(&h, "alice", &["bob", "carol"]).await;
    let set =
        |users: Value, manager: bool| json!({"group_id": gid, "users": users, "manager": manager});
    h.ok("group.managers.set", set(json!(["bob", "carol"]), true))
        .await;
    let roles = |m: &Value| -> Vec<(String, String)> {
        m["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["username"].as_str().unwrap().into(),
                    i["role"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let members = h.ok("group.members.list", json!({"group_id": gid})).await;
    let mut got = roles(&members);
    got.sort();
    assert_eq!(
        got,
        [
            ("alice".into(), "owner".into()),
            ("bob".into(), "manager".into()),
            ("carol".into(), "manager".into())
        ]
    );
    h.ok("group.managers.set", set(json!(["carol"]), false))
        .await;
    let members = h.ok("group.members.list", json!({"group_id": gid})).await;
    assert!(roles(&members).contains(&("carol".into(), "member".into())));
    assert!(roles(&members).contains(&("bob".into(), "manager".into())));
    let e = h
        .fail("group.managers.set", set(json!(["alice"]), true))
        .await;
    expect(&e, ErrorKind::PermissionDenied, Reason::Member);
    let e = h
        .fail("group.managers.set", set(json!(["ghost"]), true))
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Member);
    // A manager made owner is the owner; the old owner a member.
    h.ok(
        "group.owner.transfer",
        json!({"group_id": gid, "new_owner": "bob"}),
    )
    .await;
    let members = h.ok("group.members.list", json!({"group_id": gid})).await;
    assert!(roles(&members).contains(&("bob".into(), "owner".into())));
    assert!(roles(&members).contains(&("alice".into(), "member".into())));
}

async fn list_shield_mute_transfer(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob", "carol"]).await;
    h.users_in(OTHER_APP, &["zed"]).await;
    for _ in 0..3 {
        group(&h, "alice", &[]).await;
    }
    let page = h
        .ok("group.list", json!({"paging": {"start": 1, "count": 1}}))
        .await;
    assert_eq!(
        (page["total"].as_i64(), page["items"][0]["id"].as_str()),
        (Some(3), Some("10001"))
    );
    assert_eq!(page["cursor"], "2");
    let other = h.call_in(OTHER_APP, "group.list", json!({})).await.unwrap();
    assert_eq!(other["total"], 0);

    let gid = group(&h, "alice", &["bob"]).await;
    h.ok("group.shield", json!({"username": "bob", "add": [gid]}))
        .await;
    h.ok(
        "group.shield",
        json!({"username": "bob", "add": [gid], "remove": [gid]}),
    )
    .await;
    let e = h
        .fail("group.shield", json!({"username": "bob", "add": ["404"]}))
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Group);

    h.ok(
        "group.mute",
        json!({"group_id": gid, "users": ["bob"], "muted": true}),
    )
    .await;
    let members = h.ok("group.members.list", json!({"group_id": gid})).await;
    assert_eq!(members["items"][1]["muted"], true);
    let e = h
        .fail(
            "group.mute",
            json!({"group_id": gid, "users": ["carol"], "muted": true}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::Member);

    let e = h
        .fail(
            "group.owner.transfer",
            json!({"group_id": gid, "new_owner": "ghost"}),
        )
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);
    h.ok(
        "group.owner.transfer",
        json!({"group_id": gid, "new_owner": "bob"}),
    )
    .await;
    let members = h.ok("group.members.list", json!({"group_id": gid})).await;
    assert_eq!(names(&members["items"]), ["bob", "alice"]);
    assert_eq!(members["items"][1]["role"], "member");
    let zed = json!({"username": "zed", "app_key": OTHER_APP});
    h.ok(
        "group.owner.transfer",
        json!({"group_id": gid, "new_owner": zed}),
    )
    .await;
    let g = h.ok("group.get", json!({"group_id": gid})).await;
    assert_eq!(
        (g["owner"].as_str(), g["member_count"].as_i64()),
        (Some("zed"), Some(3))
    );
    // The cross-app member sees the group among theirs.
    let theirs = h
        .call_in(OTHER_APP, "user.groups.list", json!({"user": "zed"}))
        .await
        .unwrap();
    assert_eq!(theirs["items"][0]["app_key"], APP);
    let by_ref = h.ok("user.groups.list", json!({"user": zed})).await;
    assert_eq!(by_ref["items"].as_array().unwrap().len(), 1);
}

async fn sync_makes_memberships_match(backend: Backend) {
    let h = Harness::on(backend);
    h.users(&["alice", "bob"]).await;
    let kept = group(&h, "bob", &["alice"]).await;
    let left = group(&h, "bob", &["alice"]).await;
    let owned = group(&h, "alice", &[]).await;
    h.ok("group.sync", json!({"username": "alice"})).await;
    assert_eq!(
        h.ok("user.groups.list", json!({"user": "alice"})).await["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let listed = json!([{"id": kept, "name": "ignored"}, {"id": "fresh", "name": "Fresh"}]);
    h.ok("group.sync", json!({"username": "alice", "groups": listed}))
        .await;
    let mine = h.ok("user.groups.list", json!({"user": "alice"})).await;
    let ids: Vec<_> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].clone())
        .collect();
    assert_eq!(ids, [kept.clone(), json!("fresh")]);
    assert_eq!(mine["items"][0]["name"], "g");
    let fresh = h.ok("group.get", json!({"group_id": "fresh"})).await;
    assert_eq!(
        (fresh["name"].as_str(), fresh.get("owner")),
        (Some("Fresh"), None)
    );
    assert_eq!(member_names(&h, &left).await, ["bob"]);
    expect(
        &h.fail("group.get", json!({"group_id": owned})).await,
        ErrorKind::NotFound,
        Reason::Group,
    );
    let e = h
        .fail("group.sync", json!({"username": "ghost", "groups": []}))
        .await;
    expect(&e, ErrorKind::NotFound, Reason::User);
}

on_both_backends!(
    create_assigns_ids_and_counts_members,
    create_with_avatar_upload,
    get_update_dismiss,
    members_update_rules,
    members_list_pages_and_checks_caller,
    join_and_quit,
    list_shield_mute_transfer,
    managers_set_and_unset,
    sync_makes_memberships_match,
);
