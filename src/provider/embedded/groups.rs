//! Groups: lookups, create, read, update, dismiss, and the app's and a
//! user's group lists. Membership changes live in `members`.

use super::db::{claim_id, Counter};
use super::members::{insert_member, role_by_name};
use super::paging::{list_query, Page, LIST};
use super::users::{ref_id, ref_ids, user_id};
use super::{validate, EmbeddedProvider};
use crate::canonical::common::{Done, Items, Listing};
use crate::canonical::group::{GroupCreate, GroupList, GroupRef, GroupUpdate};
use crate::canonical::model::{Group, MediaKind, Role};
use crate::canonical::user::UserGroupsList;
use crate::canonical::{Error, Reason, Result};
use crate::db::{Row, Tx};
use crate::provider::CallContext;

/// The columns [`group_from_row`] reads, for `chat_groups g`.
macro_rules! group_columns {
    () => {
        "g.gid, g.app, g.name, g.description, g.avatar,
    (SELECT ou.username FROM group_members om JOIN users ou ON ou.id = om.user_id
     WHERE om.group_id = g.id AND om.role = 'owner'),
    g.public, g.code, g.max_members,
    (SELECT COUNT(*) FROM group_members cm WHERE cm.group_id = g.id),
    g.created, g.modified"
    };
}

fn group_from_row(row: &Row<'_>) -> Result<Group> {
    Ok(Group {
        id: row.get(0)?,
        app_key: row.get(1)?,
        name: row.get(2)?,
        desc: row.get(3)?,
        avatar: row.get(4)?,
        owner: row.get(5)?,
        public: row.get(6)?,
        code: row.get(7)?,
        max_members: row.get(8)?,
        member_count: row.get(9)?,
        created: row.get(10)?,
        modified: row.get(11)?,
    })
}

/// The row id of group `gid` of `app`, when it exists.
pub(super) fn find_group(tx: &Tx<'_>, app: &str, gid: &str) -> Result<Option<i64>> {
    tx.query_opt(
        "SELECT id FROM chat_groups WHERE app = ?1 AND gid = ?2",
        &[&app, &gid],
        |r| r.get(0),
    )
}

/// The row id of group `gid` of `app`, or not_found/group.
pub(super) fn group_row(tx: &Tx<'_>, app: &str, gid: &str) -> Result<i64> {
    find_group(tx, app, gid)?
        .ok_or_else(|| Error::not_found(Reason::Group, format!("group {gid} does not exist")))
}

/// A group by row id.
pub(super) fn load_group(tx: &Tx<'_>, row: i64) -> Result<Group> {
    tx.query_one(
        concat!(
            "SELECT ",
            group_columns!(),
            " FROM chat_groups g WHERE g.id = ?1"
        ),
        &[&row],
        group_from_row,
    )
}

/// The stored fields of a new group.
pub(super) struct GroupFields<'a> {
    /// Name.
    pub(super) name: &'a str,
    /// Description.
    pub(super) desc: &'a str,
    /// Avatar media id or URL.
    pub(super) avatar: Option<&'a str>,
    /// Public, else private.
    pub(super) public: bool,
    /// Face-to-face join code.
    pub(super) code: Option<&'a str>,
    /// Maximum number of members.
    pub(super) max_members: i64,
}

/// Inserts a group without members; returns its row id.
pub(super) fn insert_group(tx: &Tx<'_>, app: &str, gid: &str, g: &GroupFields<'_>) -> Result<i64> {
    tx.query_one(
        "INSERT INTO chat_groups
            (app, gid, name, description, avatar, public, code, max_members, created, modified)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) RETURNING id",
        &[
            &app,
            &gid,
            &g.name,
            &g.desc,
            &g.avatar,
            &g.public,
            &g.code,
            &g.max_members,
            &tx.now(),
        ],
        |r| r.get(0),
    )
}

/// A group id of `app` that is free: the requested one or the next counter value.
pub(super) fn claim_group_id(tx: &Tx<'_>, app: &str, requested: Option<&str>) -> Result<String> {
    claim_id(tx, Counter::Group, requested, Reason::Group, |id| {
        Ok(find_group(tx, app, id)?.is_some())
    })
}

/// limit_exceeded/capacity of a group or room of at most `max` members.
pub(super) fn full(max: i64) -> Error {
    Error::limit(Reason::Capacity, format!("at most {max} members"))
}

impl EmbeddedProvider {
    /// `group.create`: the owner (if any) and the members join; an uploaded
    /// avatar is stored as an image and its URL becomes the avatar.
    pub(super) async fn group_create(&self, ctx: &CallContext, req: GroupCreate) -> Result<Group> {
        validate::name("name", &req.name)?;
        let max = req.max_members.unwrap_or(self.cfg.group_max_members);
        if max < 1 {
            return Err(Error::invalid(
                Reason::Param,
                "max_members must be positive",
            ));
        }
        let upload = match &req.avatar_upload {
            Some(up) => Some(self.write_media(ctx, MediaKind::Image, up).await?),
            None => None,
        };
        let avatar = upload.as_ref().map(|m| m.media.url.clone()).or(req.avatar);
        let app = ctx.app_key.clone();
        self.write_recording(&ctx.app_key, upload, move |tx| {
            let owner = req
                .owner
                .as_deref()
                .map(|o| user_id(tx, &app, o))
                .transpose()?;
            let mut members = ref_ids(tx, &app, &req.members)?;
            members.retain(|&m| Some(m) != owner);
            let count = members.len() + usize::from(owner.is_some());
            if i64::try_from(count).unwrap_or(i64::MAX) > max {
                return Err(full(max));
            }
            let gid = claim_group_id(tx, &app, req.id.as_deref())?;
            let fields = GroupFields {
                name: &req.name,
                desc: req.desc.as_deref().unwrap_or_default(),
                avatar: avatar.as_deref(),
                public: req.public.unwrap_or(false),
                code: req.code.as_deref(),
                max_members: max,
            };
            let row = insert_group(tx, &app, &gid, &fields)?;
            let joined = tx.now();
            if let Some(owner) = owner {
                insert_member(tx, row, owner, Role::Owner, joined)?;
            }
            for member in members {
                insert_member(tx, row, member, Role::Member, joined)?;
            }
            load_group(tx, row)
        })
        .await
    }

    /// `group.get`.
    pub(super) async fn group_get(&self, app: &str, req: GroupRef) -> Result<Group> {
        let app = app.to_owned();
        self.db
            .read(move |tx| load_group(tx, group_row(tx, &app, &req.group_id)?))
            .await
    }

    /// `group.update`: only the fields present change; `modified` bumps.
    pub(super) async fn group_update(&self, app: &str, req: GroupUpdate) -> Result<Done> {
        if let Some(name) = &req.name {
            validate::name("name", name)?;
        }
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                let row = group_row(tx, &app, &req.group_id)?;
                tx.execute(
                    "UPDATE chat_groups SET name = COALESCE(?2, name),
                        description = COALESCE(?3, description), avatar = COALESCE(?4, avatar),
                        modified = ?5
                     WHERE id = ?1",
                    &[&row, &req.name, &req.desc, &req.avatar, &tx.now()],
                )?;
                Ok(Done {})
            })
            .await
    }

    /// `group.dismiss`: with `by`, only the owner may; memberships, shields
    /// and do-not-disturb entries go with the group.
    pub(super) async fn group_dismiss(&self, app: &str, req: GroupRef) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                let row = group_row(tx, &app, &req.group_id)?;
                if let Some(by) = &req.by {
                    if role_by_name(tx, &app, row, by)? != Some(Role::Owner) {
                        let msg = format!("{by} does not own group {}", req.group_id);
                        return Err(Error::denied(Reason::Owner, msg));
                    }
                }
                tx.execute("DELETE FROM chat_groups WHERE id = ?1", &[&row])?;
                Ok(Done {})
            })
            .await
    }

    /// `group.list`: the app's groups, oldest first.
    pub(super) async fn group_list(&self, app: &str, req: GroupList) -> Result<Listing<Group>> {
        let page = Page::new(&req.paging, LIST)?;
        let app = app.to_owned();
        self.db
            .read(move |tx| {
                let query = list_query!(
                    columns: group_columns!(),
                    from: "FROM chat_groups g WHERE g.app = ?1",
                    order: "g.id",
                );
                page.fetch(tx, query, &[&app], group_from_row)
            })
            .await
    }

    /// `user.groups.list`: the groups of any app a user is in, by join time.
    pub(super) async fn user_groups(&self, app: &str, req: UserGroupsList) -> Result<Items<Group>> {
        let app = app.to_owned();
        self.db
            .read(move |tx| {
                let user = ref_id(tx, &app, &req.user)?;
                let items = tx.query_all(
                    concat!(
                        "SELECT ",
                        group_columns!(),
                        "
                         FROM group_members m JOIN chat_groups g ON g.id = m.group_id
                         WHERE m.user_id = ?1 ORDER BY m.joined, m.seq"
                    ),
                    &[&user],
                    group_from_row,
                )?;
                Ok(Items { items })
            })
            .await
    }
}
