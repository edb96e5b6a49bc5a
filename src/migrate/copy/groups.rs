//! Groups and their members. A group made on the target gets the target's
//! id (or keeps the source's, where the target takes ids from the caller);
//! the pair is kept in the store before anything else is done with it, and a
//! group whose pair is known is compared and updated, never made again.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::{changes, Cx, Done, Fatal, Step};
use crate::canonical::common::Paging;
use crate::canonical::fields::Entity;
use crate::canonical::group::{
    GroupCreate, GroupManagersSet, GroupMembersList, GroupMembersUpdate, GroupMute,
    GroupOwnerTransfer, GroupRef, GroupUpdate,
};
use crate::canonical::model::{Group, Member, Role, UserRef};
use crate::canonical::user::UserGroupsList;
use crate::canonical::{Error, ErrorKind, Op, OpName, Reason, Result};
use crate::migrate::sides::{take, Side};
use crate::migrate::walk::PAGE;

/// The pair kind of groups.
const GROUP: &str = "group";

/// Members added per call (within every vendor's batch limit).
const BATCH: usize = 50;

/// Copies one group (not its members).
pub async fn group(cx: &Cx<'_>, g: Group) -> std::result::Result<Step, Fatal> {
    let entity = format!("group {}", g.id);
    Step::one(entity, copy(cx, g).await)
}

/// A group as `side` has it: `group.get`, else the group a member page
/// comes with; none when it does not exist.
pub(in crate::migrate) async fn read(side: &Side, id: &str) -> Result<Option<Group>> {
    let found = if side.supports(OpName::GroupGet) {
        side.run(Op::GroupGet(GroupRef {
            group_id: id.to_string(),
            by: None,
        }))
        .await
        .and_then(|o| take!(o, GroupGet))
    } else {
        member_page(side, id, "", Some(1)).await.map(|p| p.0)
    };
    match found {
        Ok(g) => Ok(Some(g)),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// One page of a group's members (with the group), and the next cursor.
async fn member_page(
    side: &Side,
    id: &str,
    cursor: &str,
    count: Option<i64>,
) -> Result<(Group, Vec<Member>, Option<String>)> {
    let page = take!(
        side.run(Op::GroupMembersList(GroupMembersList {
            group_id: id.to_string(),
            paging: Paging {
                start: None,
                count,
                cursor: (!cursor.is_empty()).then(|| cursor.to_string()),
            },
            by: None,
        }))
        .await?,
        GroupMembersList
    )?;
    let next = page
        .page
        .cursor
        .filter(|c| c != cursor && page.page.count > 0);
    Ok((page.group, page.page.items, next))
}

/// The source's group with what a listing may leave out (the owner).
pub(in crate::migrate) async fn complete(source: &Side, g: Group) -> Result<Group> {
    let mut g = match read(source, &g.id).await? {
        Some(full) => full,
        None => return Err(Error::not_found(Reason::Group, "gone from the source")),
    };
    if g.owner.is_none() {
        let (_, members, _) = member_page(source, &g.id, "", None).await?;
        g.owner = members
            .into_iter()
            .find(|m| m.role == Role::Owner)
            .map(|m| m.user.username);
    }
    Ok(g)
}

fn json(g: &Group) -> Value {
    serde_json::to_value(g).unwrap_or(Value::Null)
}

async fn copy(cx: &Cx<'_>, g: Group) -> Result<Done> {
    let src = complete(cx.source, g).await?;
    let (from, to) = (cx.source.name(), cx.target.name());
    if let Some(t) = cx.store.pair_target(from, to, GROUP, &src.id).await? {
        return update(cx, &src, &t).await;
    }
    let earlier = cx.store.intend(from, to, GROUP, &src.id).await?;
    if earlier {
        // An interrupted attempt may have made it: find it, never make twice.
        if let Some(t) = adopt(cx, &src).await? {
            cx.store.record_pair(from, to, GROUP, &src.id, &t).await?;
            update(cx, &src, &t).await?;
            return Ok(Done::Copied);
        }
    }
    let fields = cx.carried.fields(Entity::Group);
    let has = |f: &str| fields.contains(&f);
    let create = GroupCreate {
        id: Some(src.id.clone()).filter(|_| has("id")),
        owner: src.owner.clone().filter(|_| has("owner")),
        name: src.name.clone(),
        desc: Some(src.desc.clone()).filter(|d| has("desc") && !d.is_empty()),
        avatar: src.avatar.clone().filter(|_| has("avatar")),
        avatar_upload: None,
        members: Vec::new(),
        public: Some(src.public).filter(|_| has("public")),
        code: None,
        max_members: Some(src.max_members).filter(|_| has("max_members")),
    };
    match cx.target.run(Op::GroupCreate(create)).await {
        Ok(out) => {
            let made = take!(out, GroupCreate)?;
            cx.store
                .record_pair(from, to, GROUP, &src.id, &made.id)
                .await?;
            Ok(Done::Copied)
        }
        Err(e) if e.kind == ErrorKind::AlreadyExists => Err(Error::exists(
            Reason::Group,
            format!(
                "target {to} has a group {} already that this migration did not make",
                src.id
            ),
        )),
        Err(e) => Err(e),
    }
}

/// The target's group an interrupted attempt made for `src`, if it can be
/// told for sure: the source's id taken as is, or the one group of the
/// owner with the same name that is paired with nothing.
async fn adopt(cx: &Cx<'_>, src: &Group) -> Result<Option<String>> {
    let (from, to) = (cx.source.name(), cx.target.name());
    let unpaired = |id: String| async move {
        cx.store
            .pair_source(from, to, GROUP, &id)
            .await
            .map(|s| s.is_none().then_some(id))
    };
    let same = |g: &Group| g.name == src.name && (src.owner.is_none() || g.owner == src.owner);
    if let Some(g) = read(cx.target, &src.id).await? {
        if same(&g) {
            if let Some(id) = unpaired(g.id).await? {
                return Ok(Some(id));
            }
        }
    }
    let (Some(owner), true) = (&src.owner, cx.target.supports(OpName::UserGroupsList)) else {
        return Ok(None);
    };
    let groups = take!(
        cx.target
            .run(Op::UserGroupsList(UserGroupsList {
                user: UserRef::local(owner.clone()),
            }))
            .await?,
        UserGroupsList
    )?;
    let mut candidates = Vec::new();
    for g in groups.items.into_iter().filter(|g| g.name == src.name) {
        if let Some(id) = unpaired(g.id).await? {
            candidates.push(id);
        }
    }
    match candidates.len() {
        0 | 1 => Ok(candidates.pop()),
        n => Err(Error::new(
            ErrorKind::AlreadyExists,
            format!(
                "an interrupted run may have made this group: {owner} has {n} groups named `{}` on target {to}; pair one by hand",
                src.name
            ),
        )),
    }
}

/// Brings the target's group `t` up to date with `src`.
async fn update(cx: &Cx<'_>, src: &Group, t: &str) -> Result<Done> {
    let to = cx.target.name();
    let Some(tgt) = read(cx.target, t).await? else {
        return Err(Error::not_found(
            Reason::Group,
            format!("its copy {t} is gone from target {to}"),
        ));
    };
    let fields = cx.carried.fields(Entity::Group);
    let editable: Vec<&str> = ["name", "desc", "avatar"]
        .into_iter()
        .filter(|f| fields.contains(f))
        .collect();
    let diff = changes(&json(src), &json(&tgt), &editable);
    let mut done = Done::Skipped;
    if !diff.is_empty() {
        let text = |f: &str| diff.get(f).and_then(Value::as_str).map(String::from);
        cx.target
            .run(Op::GroupUpdate(GroupUpdate {
                group_id: t.to_string(),
                name: text("name"),
                desc: text("desc"),
                avatar: text("avatar"),
            }))
            .await?;
        done = Done::Updated;
    }
    if fields.contains(&"owner") && src.owner.is_some() && tgt.owner != src.owner {
        let owner = src.owner.clone().unwrap_or_default();
        cx.target
            .run(Op::GroupOwnerTransfer(GroupOwnerTransfer {
                group_id: t.to_string(),
                new_owner: UserRef::local(owner),
            }))
            .await?;
        done = Done::Updated;
    }
    let fixed = changes(&json(src), &json(&tgt), &["public", "max_members"]);
    let fixed: Vec<&String> = fixed
        .keys()
        .filter(|f| fields.contains(&f.as_str()))
        .collect();
    if !fixed.is_empty() {
        return Err(Error::invalid(
            Reason::Param,
            format!(
                "{} {} on target {to}, and can be set only when a group is made",
                fixed
                    .iter()
                    .map(|f| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if fixed.len() == 1 {
                    "differs"
                } else {
                    "differ"
                }
            ),
        ));
    }
    Ok(done)
}

/// Copies the members of one group (it must have been copied).
pub async fn members(cx: &Cx<'_>, g: Group) -> std::result::Result<Step, Fatal> {
    let mut step = Step::default();
    let (from, to) = (cx.source.name(), cx.target.name());
    let entity = |user: &str| format!("member {user} of group {}", g.id);
    let pair = cx.store.pair_target(from, to, GROUP, &g.id).await;
    let t = match pair {
        Ok(Some(t)) => t,
        Ok(None) => {
            let e = Error::not_found(Reason::Group, "the group was not copied (kind groups)");
            step.add(format!("members of group {}", g.id), Err(e))?;
            return Ok(step);
        }
        Err(e) => {
            step.add(format!("members of group {}", g.id), Err(e))?;
            return Ok(step);
        }
    };
    let have = match listed(cx.target, &t).await {
        Ok(have) => have,
        Err(e) => {
            step.add(format!("members of group {}", g.id), Err(e))?;
            return Ok(step);
        }
    };
    // The marks the target carries, each with whether the target tells it
    // (else only new members get it: an existing one's cannot be compared).
    let marks: Vec<(Mark, bool)> = Mark::ALL
        .into_iter()
        .filter(|k| cx.carried.has(Entity::Member, k.field()))
        .map(|k| (k, cx.compared.has(Entity::Member, k.field())))
        .collect();
    let mut cursor = String::new();
    loop {
        let (_, page, next) = match member_page(cx.source, &g.id, &cursor, Some(PAGE as i64)).await
        {
            Ok(p) => p,
            Err(e) => {
                step.add(format!("members of group {}", g.id), Err(e))?;
                return Ok(step);
            }
        };
        let mut add = Vec::new();
        let mut set: Vec<(Mark, Vec<String>)> =
            marks.iter().map(|(k, _)| (*k, Vec::new())).collect();
        for m in &page {
            let name = &m.user.username;
            match have.get(name) {
                None => add.push(name.clone()),
                Some(there) => {
                    let mut stale = false;
                    for ((k, tells), (_, names)) in marks.iter().zip(&mut set) {
                        if *tells && k.of(m) && !k.of(there) {
                            names.push(name.clone());
                            stale = true;
                        }
                    }
                    if !stale {
                        step.add(entity(name), Ok(Done::Skipped))?;
                    }
                }
            }
        }
        for chunk in add.chunks(BATCH) {
            let added = add_each(cx.target, &t, chunk).await;
            for (name, r) in chunk.iter().zip(added) {
                if r.is_ok() {
                    let m = page.iter().find(|m| &m.user.username == name);
                    for (k, names) in &mut set {
                        if m.is_some_and(|m| k.of(m)) {
                            names.push(name.clone());
                        }
                    }
                }
                step.add(entity(name), r.map(|()| Done::Copied))?;
            }
        }
        // A new member's marks count with its copy; an existing member's
        // as one update.
        let mut updated = BTreeSet::new();
        for (k, names) in set.iter().filter(|(_, n)| !n.is_empty()) {
            let r = cx.target.run(k.op(&t, names)).await.map(|_| ());
            for name in names {
                match &r {
                    Ok(()) if have.contains_key(name) => {
                        updated.insert(name.clone());
                    }
                    Ok(()) => {}
                    Err(e) => {
                        step.add(format!("{} of {}", k.what(), entity(name)), Err(e.clone()))?
                    }
                }
            }
        }
        for name in &updated {
            step.add(entity(name), Ok(Done::Updated))?;
        }
        match next {
            Some(n) => cursor = n,
            None => break,
        }
    }
    Ok(step)
}

/// Adds `users` to the target's group `t` in one call; when that fails,
/// one by one, so one bad user fails alone.
async fn add_each(target: &Side, t: &str, users: &[String]) -> Vec<Result<()>> {
    match add_members(target, t, users).await {
        Ok(()) => users.iter().map(|_| Ok(())).collect(),
        Err(e) if users.len() == 1 || super::fatal(&e) => {
            users.iter().map(|_| Err(e.clone())).collect()
        }
        Err(_) => {
            let mut out = Vec::with_capacity(users.len());
            for u in users {
                out.push(add_members(target, t, std::slice::from_ref(u)).await);
            }
            out
        }
    }
}

/// Every member of `side`'s group `id`.
pub(in crate::migrate) async fn all_members(side: &Side, id: &str) -> Result<Vec<Member>> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, page, next) = member_page(side, id, &cursor, Some(PAGE as i64)).await?;
        all.extend(page);
        match next {
            Some(n) => cursor = n,
            None => return Ok(all),
        }
    }
}

/// Every member of the target's group `t`, by name.
async fn listed(target: &Side, t: &str) -> Result<HashMap<String, Member>> {
    Ok(all_members(target, t)
        .await?
        .into_iter()
        .map(|m| (m.user.username.clone(), m))
        .collect())
}

async fn add_members(target: &Side, t: &str, users: &[String]) -> Result<()> {
    target
        .run(Op::GroupMembersUpdate(GroupMembersUpdate {
            group_id: t.to_string(),
            add: users.iter().map(|u| UserRef::local(u.clone())).collect(),
            remove: Vec::new(),
            by: None,
        }))
        .await
        .map(|_| ())
}

/// What is set on a member after it joins, where the target carries it.
#[derive(Debug, Clone, Copy)]
enum Mark {
    /// The manager role (`group.managers.set`).
    Manager,
    /// A mute (`group.mute`).
    Muted,
}

impl Mark {
    const ALL: [Mark; 2] = [Mark::Manager, Mark::Muted];

    /// The member field it is.
    fn field(self) -> &'static str {
        match self {
            Mark::Manager => "role",
            Mark::Muted => "muted",
        }
    }

    /// What a failure names.
    fn what(self) -> &'static str {
        match self {
            Mark::Manager => "manager role",
            Mark::Muted => "mute",
        }
    }

    /// Whether `m` has it.
    fn of(self, m: &Member) -> bool {
        match self {
            Mark::Manager => m.role == Role::Manager,
            Mark::Muted => m.muted,
        }
    }

    /// The operation setting it on `users` of the target's group `t`.
    fn op(self, t: &str, users: &[String]) -> Op {
        let (group_id, users) = (
            t.to_string(),
            users.iter().map(|u| UserRef::local(u.clone())).collect(),
        );
        match self {
            Mark::Manager => Op::GroupManagersSet(GroupManagersSet {
                group_id,
                users,
                manager: true,
            }),
            Mark::Muted => Op::GroupMute(GroupMute {
                group_id,
                users,
                muted: true,
            }),
        }
    }
}
