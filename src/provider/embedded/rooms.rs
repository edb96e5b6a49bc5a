//! Chatrooms: create, read, list, update, delete, members and mutes.
//! Member changes are idempotent; the room size is capped by configuration.

use super::db::{claim_id, Counter};
use super::groups::full;
use super::paging::{list_query, Page, LIST};
use super::users::{find_user, ref_ids, user_columns, user_from_row, user_id, USER_WIDTH};
use super::{validate, EmbeddedProvider};
use crate::canonical::common::{Done, Items, Listing};
use crate::canonical::model::{Room, RoomMember};
use crate::canonical::room::{
    ChatroomCreate, ChatroomGet, ChatroomList, ChatroomMembersList, ChatroomMembersUpdate,
    ChatroomMute, ChatroomRef, ChatroomUpdate,
};
use crate::canonical::user::UserChatroomsList;
use crate::canonical::{Error, Reason, Result};
use crate::db::{Row, Tx};

/// The columns [`room_from_row`] reads, for `rooms r`.
macro_rules! room_columns {
    () => {
        "r.rid, r.app, r.name, r.description,
    (SELECT ou.username FROM users ou WHERE ou.id = r.owner_id), r.max_members,
    (SELECT COUNT(*) FROM room_members cm WHERE cm.room_id = r.id), r.created"
    };
}

fn room_from_row(row: &Row<'_>) -> Result<Room> {
    Ok(Room {
        id: row.get(0)?,
        app_key: row.get(1)?,
        name: row.get(2)?,
        description: row.get(3)?,
        owner: row.get(4)?,
        max_members: row.get(5)?,
        member_count: row.get(6)?,
        created: row.get(7)?,
    })
}

fn find_room(tx: &Tx<'_>, app: &str, rid: &str) -> Result<Option<i64>> {
    tx.query_opt(
        "SELECT id FROM rooms WHERE app = ?1 AND rid = ?2",
        &[&app, &rid],
        |r| r.get(0),
    )
}

/// The row id of room `rid` of `app`, or not_found/chatroom.
pub(super) fn room_row(tx: &Tx<'_>, app: &str, rid: &str) -> Result<i64> {
    find_room(tx, app, rid)?
        .ok_or_else(|| Error::not_found(Reason::Chatroom, format!("chatroom {rid} does not exist")))
}

fn load_room(tx: &Tx<'_>, row: i64) -> Result<Room> {
    tx.query_one(
        concat!("SELECT ", room_columns!(), " FROM rooms r WHERE r.id = ?1"),
        &[&row],
        room_from_row,
    )
}

/// Adds the users who are not members yet; limit_exceeded/capacity when the
/// room would overflow.
fn add_members(tx: &Tx<'_>, room: i64, users: &[i64]) -> Result<()> {
    let joined = tx.now();
    for user in users {
        tx.execute(
            "INSERT INTO room_members (room_id, user_id, joined) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            &[&room, user, &joined],
        )?;
    }
    let (max, count): (i64, i64) = tx.query_one(
        "SELECT max_members, (SELECT COUNT(*) FROM room_members WHERE room_id = ?1)
         FROM rooms WHERE id = ?1",
        &[&room],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    match count > max {
        true => Err(full(max)),
        false => Ok(()),
    }
}

impl EmbeddedProvider {
    /// `chatroom.create`: the owner (if any) and the members join.
    pub(super) async fn room_create(&self, app: &str, req: ChatroomCreate) -> Result<Room> {
        validate::name("name", &req.name)?;
        let app = app.to_owned();
        let max = self.cfg.room_max_members;
        self.db
            .write(move |tx| {
                let owner = req
                    .owner
                    .as_deref()
                    .map(|o| user_id(tx, &app, o))
                    .transpose()?;
                let members = ref_ids(tx, &app, &req.members)?;
                let rid = claim_id(
                    tx,
                    Counter::Room,
                    req.id.as_deref(),
                    Reason::Chatroom,
                    |id| Ok(find_room(tx, &app, id)?.is_some()),
                )?;
                let description = req.description.as_deref().unwrap_or_default();
                let row: i64 = tx.query_one(
                    "INSERT INTO rooms (app, rid, name, description, owner_id, max_members, created)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                    &[&app, &rid, &req.name, &description, &owner, &max, &tx.now()],
                    |r| r.get(0),
                )?;
                add_members(
                    tx,
                    row,
                    &owner.into_iter().chain(members).collect::<Vec<_>>(),
                )?;
                load_room(tx, row)
            })
            .await
    }

    /// `chatroom.get`: unknown ids are skipped.
    pub(super) async fn room_get(&self, app: &str, req: ChatroomGet) -> Result<Items<Room>> {
        let app = app.to_owned();
        self.db
            .read(move |tx| {
                let mut items = Vec::with_capacity(req.ids.len());
                for rid in &req.ids {
                    if let Some(row) = find_room(tx, &app, rid)? {
                        items.push(load_room(tx, row)?);
                    }
                }
                Ok(Items { items })
            })
            .await
    }

    /// `chatroom.list`: the app's rooms, oldest first.
    pub(super) async fn room_list(&self, app: &str, req: ChatroomList) -> Result<Listing<Room>> {
        let page = Page::new(&req.paging, LIST)?;
        let app = app.to_owned();
        self.db
            .read(move |tx| {
                let query = list_query!(
                    columns: room_columns!(),
                    from: "FROM rooms r WHERE r.app = ?1",
                    order: "r.id",
                );
                page.fetch(tx, query, &[&app], room_from_row)
            })
            .await
    }

    /// `chatroom.update`: a new owner joins the room when not a member.
    pub(super) async fn room_update(&self, app: &str, req: ChatroomUpdate) -> Result<Done> {
        if let Some(name) = &req.name {
            validate::name("name", name)?;
        }
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                let row = room_row(tx, &app, &req.id)?;
                let owner = req
                    .owner
                    .as_deref()
                    .map(|o| user_id(tx, &app, o))
                    .transpose()?;
                if let Some(owner) = owner {
                    add_members(tx, row, &[owner])?;
                }
                tx.execute(
                    "UPDATE rooms SET owner_id = COALESCE(?2, owner_id), name = COALESCE(?3, name),
                        description = COALESCE(?4, description)
                     WHERE id = ?1",
                    &[&row, &owner, &req.name, &req.description],
                )?;
                Ok(Done {})
            })
            .await
    }

    /// `chatroom.delete`.
    pub(super) async fn room_delete(&self, app: &str, req: ChatroomRef) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                tx.execute(
                    "DELETE FROM rooms WHERE id = ?1",
                    &[&room_row(tx, &app, &req.id)?],
                )?;
                Ok(Done {})
            })
            .await
    }

    /// `chatroom.mute`: the user must be a member.
    pub(super) async fn room_mute(&self, app: &str, req: ChatroomMute) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                let row = room_row(tx, &app, &req.id)?;
                let changed = match find_user(tx, &app, &req.username)? {
                    Some(user) => tx.execute(
                        "UPDATE room_members SET muted = ?3 WHERE room_id = ?1 AND user_id = ?2",
                        &[&row, &user, &req.muted],
                    )?,
                    None => 0,
                };
                if changed == 0 {
                    let msg = format!("{} is not a member", req.username);
                    return Err(Error::not_found(Reason::Member, msg));
                }
                Ok(Done {})
            })
            .await
    }

    /// `chatroom.members.update`: idempotent additions and removals.
    pub(super) async fn room_members_update(
        &self,
        app: &str,
        req: ChatroomMembersUpdate,
    ) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                let row = room_row(tx, &app, &req.id)?;
                let (add, remove) = (
                    ref_ids(tx, &app, &req.add)?,
                    ref_ids(tx, &app, &req.remove)?,
                );
                for user in remove {
                    tx.execute(
                        "DELETE FROM room_members WHERE room_id = ?1 AND user_id = ?2",
                        &[&row, &user],
                    )?;
                }
                add_members(tx, row, &add)?;
                Ok(Done {})
            })
            .await
    }

    /// `chatroom.members.list`: by join time.
    pub(super) async fn room_members_list(
        &self,
        app: &str,
        req: ChatroomMembersList,
    ) -> Result<Listing<RoomMember>> {
        let page = Page::new(&req.paging, LIST)?;
        let app = app.to_owned();
        self.db
            .read(move |tx| {
                let row = room_row(tx, &app, &req.id)?;
                let query = list_query!(
                    columns: concat!(user_columns!(), ", m.muted, m.joined"),
                    from: "FROM room_members m JOIN users u ON u.id = m.user_id WHERE m.room_id = ?1",
                    order: "m.joined, m.seq",
                );
                page.fetch(tx, query, &[&row], |r| {
                    Ok(RoomMember {
                        user: user_from_row(r)?,
                        muted: r.get(USER_WIDTH)?,
                        joined: r.get(USER_WIDTH + 1)?,
                    })
                })
            })
            .await
    }

    /// `user.chatrooms.list`: the rooms of any app a user is in, by join time.
    pub(super) async fn user_rooms(
        &self,
        app: &str,
        req: UserChatroomsList,
    ) -> Result<Items<Room>> {
        let sql = concat!(
            "SELECT ",
            room_columns!(),
            " FROM room_members m JOIN rooms r ON r.id = m.room_id
             WHERE m.user_id = ?1 ORDER BY m.joined, m.seq"
        );
        self.user_items(app, req.username, sql, room_from_row).await
    }
}

/// Whether user `user` is muted in room `row` (false when not a member).
pub(super) fn muted_in_room(tx: &Tx<'_>, row: i64, user: i64) -> Result<bool> {
    Ok(tx
        .query_opt(
            "SELECT muted FROM room_members WHERE room_id = ?1 AND user_id = ?2",
            &[&row, &user],
            |r| r.get(0),
        )?
        .unwrap_or(false))
}
