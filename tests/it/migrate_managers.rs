//! `imbridge migrate` of group managers: a member made a manager through
//! imbridge's WildfireChat frontend over the embedded provider is a manager
//! of the group's twin on a WildfireChat emulator, read back through
//! WildfireChat's own member list; verify compares the role, and sees a
//! manager dropped behind imbridge's back.

use serde_json::{json, Value};

use crate::migrate::Migration;
use crate::migrate_messages::paired_group;
use crate::migrate_sites::{Kind, Site};

/// The members of WildfireChat group `gid` on `site`, each with its type
/// (2 owner, 1 manager, 3 muted, 0 member), sorted.
async fn member_types(site: &Site, gid: &str) -> Vec<(String, i64)> {
    let a = site
        .server
        .wf()
        .post("/admin/group/member/list", Some(json!({"groupId": gid})))
        .await;
    assert_eq!(a.json["code"], 0, "{}", a.text);
    let mut out: Vec<(String, i64)> = a.json["result"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["member_id"].as_str().unwrap().to_string(),
                m["type"].as_i64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Sets `users` managers (or not) of `gid` through `site`'s WildfireChat API.
async fn set_managers(site: &Site, gid: &str, users: &[&str], manager: bool) {
    let a = site
        .server
        .wf()
        .post(
            "/admin/group/manager/set",
            Some(json!({"operator": "u1", "group_id": gid, "members": users,
                        "is_manager": manager, "to_lines": [0]})),
        )
        .await;
    assert_eq!(a.json["code"], 0, "{}", a.text);
}

/// The verify report's differences in members.
fn member_differences(v: &crate::migrate::Outcome) -> Vec<Value> {
    v.report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "members")
        .cloned()
        .collect()
}

#[tokio::test]
async fn migrate_copies_group_managers_to_wildfire() {
    let (from, to) = (Site::start(Kind::Embedded), Site::start(Kind::Wildfire));
    from.seed().await;
    let groups = from
        .server
        .jm()
        .get("/v1/users/u1/groups/")
        .await
        .expect(200);
    let team = groups.json[0]["gid"]
        .as_i64()
        .expect("u1's group")
        .to_string();
    // u2, not the muted u3: a WildfireChat member type is manager or
    // muted, not both.
    set_managers(&from, &team, &["u2"], true).await;
    let source = member_types(&from, &team).await;
    assert!(source.contains(&("u2".into(), 1)), "{source:?}");
    let m = Migration::new(&[&from, &to]);
    let plan = m.copy(&from, &to, &["--dry-run"]).await;
    assert!(
        !plan.stdout.contains("managers become ordinary members"),
        "{}",
        plan.stdout
    );
    let run = m.copy(&from, &to, &[]).await;
    assert_eq!(run.kind("members")["failed"], 0, "{}", run.stdout);
    let twin = paired_group(&m, &team);
    let target = member_types(&to, &twin).await;
    assert_eq!(target, source, "{}", run.stdout);
    let v = m.verify(&from, &to, &[]).await;
    assert_eq!(member_differences(&v), Vec::<Value>::new(), "{}", v.stdout);
    // The manager dropped on the target behind imbridge's back: verify
    // reports the role; a rerun makes it a manager again.
    set_managers(&to, &twin, &["u2"], false).await;
    let v = m.verify(&from, &to, &[]).await;
    let diffs = member_differences(&v);
    assert!(
        diffs.len() == 1
            && diffs[0]["entity"].as_str().unwrap().contains("u2")
            && diffs[0]["field"] == "role",
        "{diffs:?}"
    );
    let again = m.copy(&from, &to, &[]).await;
    assert_eq!(again.kind("members")["updated"], 1, "{}", again.stdout);
    assert_eq!(member_types(&to, &twin).await, source);
}
