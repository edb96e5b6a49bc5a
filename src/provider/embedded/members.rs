//! Group membership as managed by admins and owners: add and remove members,
//! list them, mute them, transfer ownership; and the membership helpers.

use super::db::{tag, tag_column};
use super::groups::{full, group_row, load_group};
use super::paging::{list_query, Page, ALL};
use super::users::{app_of, find_user, ref_id, user_columns, user_from_row, USER_WIDTH};
use super::EmbeddedProvider;
use crate::canonical::common::{Done, MemberPage};
use crate::canonical::group::{
    GroupManagersSet, GroupMembersList, GroupMembersUpdate, GroupMute, GroupOwnerTransfer,
};
use crate::canonical::model::{Member, Role};
use crate::canonical::{Error, Reason, Result};
use crate::db::Tx;

/// The role of `user` in `group` and whether they are muted, when a member.
pub(super) fn membership(tx: &Tx<'_>, group: i64, user: i64) -> Result<Option<(Role, bool)>> {
    tx.query_opt(
        "SELECT role, muted FROM group_members WHERE group_id = ?1 AND user_id = ?2",
        &[&group, &user],
        |r| Ok((tag_column(r, 0)?, r.get(1)?)),
    )
}

/// The role of `user` in `group`, when a member.
pub(super) fn role_of(tx: &Tx<'_>, group: i64, user: i64) -> Result<Option<Role>> {
    Ok(membership(tx, group, user)?.map(|(role, _)| role))
}

/// Adds a membership (the caller checked it is new and fits).
pub(super) fn insert_member(
    tx: &Tx<'_>,
    group: i64,
    user: i64,
    role: Role,
    joined: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO group_members (group_id, user_id, role, joined) VALUES (?1, ?2, ?3, ?4)",
        &[&group, &user, &tag(&role), &joined],
    )?;
    Ok(())
}

/// limit_exceeded/capacity unless `adding` more members fit into `group`.
pub(super) fn ensure_room(tx: &Tx<'_>, group: i64, adding: usize) -> Result<()> {
    let (max, count): (i64, i64) = tx.query_one(
        "SELECT max_members, (SELECT COUNT(*) FROM group_members WHERE group_id = ?1)
         FROM chat_groups WHERE id = ?1",
        &[&group],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    match count.saturating_add(i64::try_from(adding).unwrap_or(i64::MAX)) > max {
        true => Err(full(max)),
        false => Ok(()),
    }
}

/// Removes a membership; a leaving owner hands ownership to the
/// earliest-joined remaining member.
pub(super) fn remove_member(tx: &Tx<'_>, group: i64, user: i64) -> Result<()> {
    let role: Option<Role> = tx.query_opt(
        "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2 RETURNING role",
        &[&group, &user],
        |r| tag_column(r, 0),
    )?;
    if role == Some(Role::Owner) {
        tx.execute(
            "UPDATE group_members SET role = 'owner' WHERE seq =
             (SELECT seq FROM group_members WHERE group_id = ?1 ORDER BY joined, seq LIMIT 1)",
            &[&group],
        )?;
    }
    Ok(())
}

/// Deletes `group` when it has no members left.
pub(super) fn drop_if_empty(tx: &Tx<'_>, group: i64) -> Result<()> {
    tx.execute(
        "DELETE FROM chat_groups WHERE id = ?1
         AND NOT EXISTS (SELECT 1 FROM group_members WHERE group_id = ?1)",
        &[&group],
    )?;
    Ok(())
}

/// The role in `group` of user `username` of `app` (none for unknown users).
pub(super) fn role_by_name(
    tx: &Tx<'_>,
    app: &str,
    group: i64,
    username: &str,
) -> Result<Option<Role>> {
    match find_user(tx, app, username)? {
        Some(user) => role_of(tx, group, user),
        None => Ok(None),
    }
}

/// permission_denied/member unless `by` (a user of `app`) is a member of `group`.
fn require_member(tx: &Tx<'_>, app: &str, group: i64, by: &str) -> Result<()> {
    match role_by_name(tx, app, group, by)? {
        Some(_) => Ok(()),
        None => Err(Error::denied(
            Reason::Member,
            format!("{by} is not a member"),
        )),
    }
}

fn not_member(username: &str) -> Error {
    Error::not_found(Reason::Member, format!("{username} is not a member"))
}

impl EmbeddedProvider {
    /// `group.members.update`: removals, then additions, all or nothing; a
    /// group left without members is deleted.
    pub(super) async fn members_update(&self, app: &str, req: GroupMembersUpdate) -> Result<Done> {
        if req.add.is_empty() && req.remove.is_empty() {
            return Err(Error::invalid(Reason::Param, "nothing to add or remove"));
        }
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                let group = group_row(tx, &app, &req.group_id)?;
                if let Some(by) = &req.by {
                    require_member(tx, &app, group, by)?;
                }
                for user in &req.remove {
                    let id = find_user(tx, app_of(&app, user), &user.username)?
                        .ok_or_else(|| not_member(&user.username))?;
                    match role_of(tx, group, id)? {
                        None => return Err(not_member(&user.username)),
                        Some(Role::Owner) => {
                            return Err(Error::invalid(
                                Reason::Owner,
                                "the owner cannot be removed",
                            ))
                        }
                        Some(_) => remove_member(tx, group, id)?,
                    }
                }
                let mut added = Vec::with_capacity(req.add.len());
                for user in &req.add {
                    let id = ref_id(tx, &app, user)?;
                    if role_of(tx, group, id)?.is_some() {
                        let msg = format!("{} is a member already", user.username);
                        return Err(Error::exists(Reason::Member, msg));
                    }
                    if !added.contains(&id) {
                        added.push(id);
                    }
                }
                ensure_room(tx, group, added.len())?;
                let joined = tx.now();
                for id in added {
                    insert_member(tx, group, id, Role::Member, joined)?;
                }
                drop_if_empty(tx, group)?;
                Ok(Done {})
            })
            .await
    }

    /// `group.members.list`: owner first, then by join time.
    pub(super) async fn members_list(
        &self,
        app: &str,
        req: GroupMembersList,
    ) -> Result<MemberPage<Member>> {
        let page = Page::new(&req.paging, ALL)?;
        let app = app.to_owned();
        self.db
            .read(move |tx| {
                let group = group_row(tx, &app, &req.group_id)?;
                if let Some(by) = &req.by {
                    require_member(tx, &app, group, by)?;
                }
                let query = list_query!(
                    columns: concat!(user_columns!(), ", m.role, m.muted, m.joined"),
                    from: "FROM group_members m JOIN users u ON u.id = m.user_id
                           WHERE m.group_id = ?1",
                    order: "m.role <> 'owner', m.joined, m.seq",
                );
                let page = page.fetch(tx, query, &[&group], |r| {
                    Ok(Member {
                        user: user_from_row(r)?,
                        role: tag_column(r, USER_WIDTH)?,
                        muted: r.get(USER_WIDTH + 1)?,
                        joined: r.get(USER_WIDTH + 2)?,
                    })
                })?;
                Ok(MemberPage {
                    group: load_group(tx, group)?,
                    page,
                })
            })
            .await
    }

    /// `group.mute`: mute or unmute members.
    pub(super) async fn group_mute(&self, app: &str, req: GroupMute) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                let group = group_row(tx, &app, &req.group_id)?;
                for user in &req.users {
                    let id = find_user(tx, app_of(&app, user), &user.username)?;
                    let changed = match id {
                        Some(id) => tx.execute(
                            "UPDATE group_members SET muted = ?3
                             WHERE group_id = ?1 AND user_id = ?2",
                            &[&group, &id, &req.muted],
                        )?,
                        None => 0,
                    };
                    if changed == 0 {
                        return Err(not_member(&user.username));
                    }
                }
                Ok(Done {})
            })
            .await
    }

    /// `group.managers.set`: make members managers or ordinary members; the
    /// owner stays owner (refused: the owner cannot be changed this way).
    pub(super) async fn managers_set(&self, app: &str, req: GroupManagersSet) -> Result<Done> {
        let app = app.to_owned();
        let role = tag(&if req.manager {
            Role::Manager
        } else {
            Role::Member
        });
        self.db
            .write(move |tx| {
                let group = group_row(tx, &app, &req.group_id)?;
                for user in &req.users {
                    let id = find_user(tx, app_of(&app, user), &user.username)?;
                    let current = match id {
                        Some(id) => role_of(tx, group, id)?.map(|r| (id, r)),
                        None => None,
                    };
                    match current {
                        None => return Err(not_member(&user.username)),
                        Some((_, Role::Owner)) => {
                            return Err(Error::denied(
                                Reason::Member,
                                format!("{} owns the group", user.username),
                            ))
                        }
                        Some((id, _)) => tx.execute(
                            "UPDATE group_members SET role = ?3
                             WHERE group_id = ?1 AND user_id = ?2",
                            &[&group, &id, &role],
                        )?,
                    };
                }
                Ok(Done {})
            })
            .await
    }

    /// `group.owner.transfer`: the new owner joins when not a member; the old
    /// owner stays a member.
    pub(super) async fn owner_transfer(&self, app: &str, req: GroupOwnerTransfer) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                let group = group_row(tx, &app, &req.group_id)?;
                let user = ref_id(tx, &app, &req.new_owner)?;
                if role_of(tx, group, user)?.is_none() {
                    ensure_room(tx, group, 1)?;
                    insert_member(tx, group, user, Role::Member, tx.now())?;
                }
                tx.execute(
                    "UPDATE group_members
                     SET role = CASE user_id WHEN ?2 THEN 'owner' ELSE 'member' END
                     WHERE group_id = ?1 AND (user_id = ?2 OR role = 'owner')",
                    &[&group, &user],
                )?;
                tx.execute(
                    "UPDATE chat_groups SET modified = ?2 WHERE id = ?1",
                    &[&group, &tx.now()],
                )?;
                Ok(Done {})
            })
            .await
    }
}
