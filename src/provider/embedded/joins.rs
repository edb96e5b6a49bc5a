//! Group membership as changed by the user: join, quit, and sync of a
//! user's groups with the app's view.

use std::collections::HashSet;

use super::groups::{claim_group_id, find_group, group_row, insert_group, load_group, GroupFields};
use super::members::{drop_if_empty, ensure_room, insert_member, remove_member, role_of};
use super::users::user_id;
use super::{validate, EmbeddedProvider};
use crate::canonical::common::Done;
use crate::canonical::group::{GroupJoin, GroupSync};
use crate::canonical::model::{Group, Role};
use crate::canonical::{Error, Reason, Result};

impl EmbeddedProvider {
    /// `group.join`: with a `code`, it must be the group's.
    pub(super) async fn group_join(&self, app: &str, req: GroupJoin) -> Result<Group> {
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                let user = user_id(tx, &app, &req.username)?;
                let group = group_row(tx, &app, &req.group_id)?;
                if let Some(code) = &req.code {
                    let expected: Option<String> = tx.query_one(
                        "SELECT code FROM chat_groups WHERE id = ?1",
                        &[&group],
                        |r| r.get(0),
                    )?;
                    if expected.as_deref() != Some(code.as_str()) {
                        return Err(Error::denied(Reason::Credentials, "wrong group code"));
                    }
                }
                if role_of(tx, group, user)?.is_some() {
                    return Err(Error::exists(Reason::Member, "a member already"));
                }
                ensure_room(tx, group, 1)?;
                insert_member(tx, group, user, Role::Member, tx.now())?;
                load_group(tx, group)
            })
            .await
    }

    /// `group.quit`: a quitting owner hands the group on, or dismisses it when alone.
    pub(super) async fn group_quit(&self, app: &str, req: GroupJoin) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                let user = user_id(tx, &app, &req.username)?;
                let group = group_row(tx, &app, &req.group_id)?;
                if role_of(tx, group, user)?.is_none() {
                    return Err(Error::denied(Reason::Member, "not a member"));
                }
                remove_member(tx, group, user)?;
                drop_if_empty(tx, group)?;
                Ok(Done {})
            })
            .await
    }

    /// `group.sync`: with `groups`, the user's memberships in this app become
    /// exactly those (joining them, creating missing ones without owner,
    /// leaving the others); without, nothing changes.
    pub(super) async fn group_sync(&self, app: &str, req: GroupSync) -> Result<Done> {
        if let Some(groups) = &req.groups {
            groups
                .iter()
                .try_for_each(|g| validate::name("name", &g.name))?;
        }
        let app = app.to_owned();
        let max_members = self.cfg.group_max_members;
        self.db
            .write(move |tx| {
                let user = user_id(tx, &app, &req.username)?;
                let Some(listed) = &req.groups else {
                    return Ok(Done {});
                };
                let mut keep = HashSet::new();
                for g in listed {
                    let group = match find_group(tx, &app, &g.id)? {
                        Some(group) => group,
                        None => {
                            let gid = claim_group_id(tx, &app, Some(&g.id))?;
                            let fields = GroupFields {
                                name: &g.name,
                                desc: "",
                                avatar: None,
                                public: false,
                                code: None,
                                max_members,
                            };
                            insert_group(tx, &app, &gid, &fields)?
                        }
                    };
                    if keep.insert(group) && role_of(tx, group, user)?.is_none() {
                        ensure_room(tx, group, 1)?;
                        insert_member(tx, group, user, Role::Member, tx.now())?;
                    }
                }
                let current: Vec<i64> = tx.query_all(
                    "SELECT g.id FROM group_members m JOIN chat_groups g ON g.id = m.group_id
                     WHERE m.user_id = ?1 AND g.app = ?2",
                    &[&user, &app],
                    |r| r.get(0),
                )?;
                for group in current.into_iter().filter(|g| !keep.contains(g)) {
                    remove_member(tx, group, user)?;
                    drop_if_empty(tx, group)?;
                }
                Ok(Done {})
            })
            .await
    }
}
