//! Chatrooms and their members, paired as groups are: a room is made once,
//! its pair kept, then compared and updated.

use std::collections::HashMap;

use serde_json::Value;

use super::{changes, Cx, Done, Fatal, Step};
use crate::canonical::common::Paging;
use crate::canonical::fields::Entity;
use crate::canonical::model::{Room, RoomMember, UserRef};
use crate::canonical::room::{
    ChatroomCreate, ChatroomGet, ChatroomMembersList, ChatroomMembersUpdate, ChatroomMute,
    ChatroomUpdate,
};
use crate::canonical::{Error, ErrorKind, Op, OpName, Reason, Result};
use crate::migrate::sides::{take, Side};
use crate::migrate::walk::PAGE;

/// The pair kind of chatrooms.
const ROOM: &str = "chatroom";

/// Copies one chatroom (not its members).
pub async fn room(cx: &Cx<'_>, r: Room) -> std::result::Result<Step, Fatal> {
    let entity = format!("chatroom {}", r.id);
    Step::one(entity, copy(cx, r).await)
}

/// A chatroom as `side` has it; none when it does not exist.
pub(in crate::migrate) async fn read(side: &Side, id: &str) -> Result<Option<Room>> {
    let out = side
        .run(Op::ChatroomGet(ChatroomGet {
            ids: vec![id.to_string()],
        }))
        .await?;
    Ok(take!(out, ChatroomGet)?
        .items
        .into_iter()
        .find(|r| r.id == id))
}

fn json(r: &Room) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

async fn copy(cx: &Cx<'_>, src: Room) -> Result<Done> {
    let (from, to) = (cx.source.name(), cx.target.name());
    if let Some(t) = cx.store.pair_target(from, to, ROOM, &src.id).await? {
        return update(cx, &src, &t).await;
    }
    let earlier = cx.store.intend(from, to, ROOM, &src.id).await?;
    if earlier {
        // An interrupted attempt may have made it under the source's id.
        if let Some(r) = read(cx.target, &src.id).await? {
            if r.name == src.name && cx.store.pair_source(from, to, ROOM, &r.id).await?.is_none() {
                cx.store.record_pair(from, to, ROOM, &src.id, &r.id).await?;
                update(cx, &src, &r.id).await?;
                return Ok(Done::Copied);
            }
        }
    }
    let fields = cx.carried.fields(Entity::Chatroom);
    let has = |f: &str| fields.contains(&f);
    let create = ChatroomCreate {
        id: Some(src.id.clone()).filter(|_| has("id")),
        owner: src.owner.clone().filter(|_| has("owner")),
        name: src.name.clone(),
        description: Some(src.description.clone()).filter(|d| has("description") && !d.is_empty()),
        members: Vec::new(),
    };
    match cx.target.run(Op::ChatroomCreate(create)).await {
        Ok(out) => {
            let made = take!(out, ChatroomCreate)?;
            cx.store
                .record_pair(from, to, ROOM, &src.id, &made.id)
                .await?;
            Ok(Done::Copied)
        }
        Err(e) if e.kind == ErrorKind::AlreadyExists => Err(Error::exists(
            Reason::Chatroom,
            format!(
                "target {to} has a chatroom {} already that this migration did not make",
                src.id
            ),
        )),
        Err(e) => Err(e),
    }
}

async fn update(cx: &Cx<'_>, src: &Room, t: &str) -> Result<Done> {
    let to = cx.target.name();
    let Some(tgt) = read(cx.target, t).await? else {
        return Err(Error::not_found(
            Reason::Chatroom,
            format!("its copy {t} is gone from target {to}"),
        ));
    };
    let fields: Vec<&str> = cx
        .carried
        .fields(Entity::Chatroom)
        .iter()
        .copied()
        .filter(|f| *f != "max_members")
        .collect();
    let diff = changes(&json(src), &json(&tgt), &fields);
    if diff.is_empty() {
        return Ok(Done::Skipped);
    }
    if !cx.target.supports(OpName::ChatroomUpdate) {
        let names: Vec<&str> = diff.keys().map(String::as_str).collect();
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "{} differ on target {to}, which cannot update chatrooms",
                names.join(", ")
            ),
        ));
    }
    let text = |f: &str| diff.get(f).and_then(Value::as_str).map(String::from);
    cx.target
        .run(Op::ChatroomUpdate(ChatroomUpdate {
            id: t.to_string(),
            owner: text("owner"),
            name: text("name"),
            description: text("description"),
        }))
        .await?;
    Ok(Done::Updated)
}

async fn member_page(
    side: &Side,
    id: &str,
    cursor: &str,
) -> Result<(Vec<RoomMember>, Option<String>)> {
    let page = take!(
        side.run(Op::ChatroomMembersList(ChatroomMembersList {
            id: id.to_string(),
            paging: Paging {
                start: None,
                count: Some(PAGE as i64),
                cursor: (!cursor.is_empty()).then(|| cursor.to_string()),
            },
        }))
        .await?,
        ChatroomMembersList
    )?;
    let next = page.cursor.filter(|c| c != cursor && page.count > 0);
    Ok((page.items, next))
}

/// Every member of `side`'s chatroom `id`.
pub(in crate::migrate) async fn all_members(side: &Side, id: &str) -> Result<Vec<RoomMember>> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let (page, next) = member_page(side, id, &cursor).await?;
        all.extend(page);
        match next {
            Some(n) => cursor = n,
            None => return Ok(all),
        }
    }
}

/// Copies the members of one chatroom (it must have been copied).
pub async fn room_members(cx: &Cx<'_>, r: Room) -> std::result::Result<Step, Fatal> {
    let mut step = Step::default();
    let whole = format!("members of chatroom {}", r.id);
    let prepared = async {
        let t = cx
            .store
            .pair_target(cx.source.name(), cx.target.name(), ROOM, &r.id)
            .await?
            .ok_or_else(|| {
                Error::not_found(
                    Reason::Chatroom,
                    "the chatroom was not copied (kind chatrooms)",
                )
            })?;
        let have: HashMap<String, bool> = all_members(cx.target, &t)
            .await?
            .into_iter()
            .map(|m| (m.user.username, m.muted))
            .collect();
        Ok::<_, Error>((t, have))
    };
    let (t, have) = match prepared.await {
        Ok(p) => p,
        Err(e) => {
            step.add(whole, Err(e))?;
            return Ok(step);
        }
    };
    let mutes = cx.carried.has(Entity::RoomMember, "muted");
    // Whether the target tells its members' mutes (else only new members
    // are muted).
    let tells = cx.compared.has(Entity::RoomMember, "muted");
    let mut cursor = String::new();
    loop {
        let (page, next) = match member_page(cx.source, &r.id, &cursor).await {
            Ok(p) => p,
            Err(e) => {
                step.add(whole, Err(e))?;
                return Ok(step);
            }
        };
        for m in &page {
            let name = &m.user.username;
            let entity = format!("member {name} of chatroom {}", r.id);
            let result = async {
                let mut done = Done::Skipped;
                if !have.contains_key(name) {
                    let op = Op::ChatroomMembersUpdate(ChatroomMembersUpdate {
                        id: t.clone(),
                        add: vec![UserRef::local(name.clone())],
                        remove: Vec::new(),
                    });
                    cx.target.run(op).await?;
                    done = Done::Copied;
                }
                let known = have.get(name).copied();
                let needs = match known {
                    None => true,
                    Some(muted) => tells && !muted,
                };
                if mutes && m.muted && needs {
                    let op = Op::ChatroomMute(ChatroomMute {
                        id: t.clone(),
                        username: name.clone(),
                        muted: true,
                    });
                    cx.target.run(op).await?;
                    if done == Done::Skipped {
                        done = Done::Updated;
                    }
                }
                Ok(done)
            };
            step.add(entity, result.await)?;
        }
        match next {
            Some(n) => cursor = n,
            None => return Ok(step),
        }
    }
}
