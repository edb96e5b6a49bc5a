//! What a migration between two providers can do, decided from their
//! capabilities before anything is copied: for each kind, how its entities
//! are found on the source (a listing, what users reach, the users file) or
//! why the pair cannot copy it; and for each entity, which fields travel and
//! which cannot, with the reason.

use std::collections::BTreeMap;

use serde::Serialize;

use super::kinds::Kind;
use super::sides::Side;
use super::walk::UsersFile;
use crate::canonical::fields::Entity;
use crate::canonical::OpName;

/// How the entities of a kind are found on the source.
#[derive(Debug, Clone, PartialEq)]
pub enum Walk {
    /// `user.list`, page by page.
    UserList,
    /// The operator's file of user ids.
    UserFile(UsersFile),
    /// `group.list`.
    GroupList,
    /// `user.groups.list` of every user.
    GroupsOfUsers,
    /// `chatroom.list`.
    RoomList,
    /// `user.chatrooms.list` of every user.
    RoomsOfUsers,
    /// `message.history.list` of the one-to-one messages each user (walked
    /// as `users`) sent, then of each group (walked as `groups`, when the
    /// source can).
    Conversations {
        /// How users are walked.
        users: Box<Walk>,
        /// How groups are walked.
        groups: Option<Box<Walk>>,
    },
}

impl Walk {
    /// How it reads in the plan and the report.
    pub fn describe(&self) -> String {
        match self {
            Walk::UserList => "listed (user.list)".into(),
            Walk::UserFile(f) => format!("from {} ({} ids)", f.path.display(), f.lines),
            Walk::GroupList => "listed (group.list)".into(),
            Walk::GroupsOfUsers => "reached from users (user.groups.list)".into(),
            Walk::RoomList => "listed (chatroom.list)".into(),
            Walk::RoomsOfUsers => "reached from users (user.chatrooms.list)".into(),
            Walk::Conversations { users, groups } => format!(
                "message.history.list of what each user sent (users {}), then of each group ({})",
                users.describe(),
                groups
                    .as_ref()
                    .map_or("groups cannot be walked".into(), |g| g.describe())
            ),
        }
    }
}

/// One kind in the plan: how it is found, or why the pair cannot copy it.
#[derive(Debug, Clone, PartialEq)]
pub struct KindPlan {
    /// The kind.
    pub kind: Kind,
    /// How its entities are found; `Err` says why the pair cannot copy it.
    pub walk: Result<Walk, String>,
}

/// A field the pair does not carry, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// The entity (`user`, `group`, ...).
    pub entity: &'static str,
    /// The field.
    pub field: &'static str,
    /// Why it does not travel (or travels without being checked).
    pub reason: String,
}

/// The fields copied, per entity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carried(BTreeMap<Entity, Vec<&'static str>>);

impl Carried {
    /// Whether `field` of `entity` is copied.
    pub fn has(&self, entity: Entity, field: &str) -> bool {
        self.0.get(&entity).is_some_and(|f| f.contains(&field))
    }

    /// The fields of `entity` copied.
    pub fn fields(&self, entity: Entity) -> &[&'static str] {
        self.0.get(&entity).map_or(&[], Vec::as_slice)
    }
}

/// The whole plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The kinds asked for, in copy order.
    pub kinds: Vec<KindPlan>,
    /// Fields copied.
    pub carried: Carried,
    /// Fields not copied (or not checkable), with the reason.
    pub gaps: Vec<Gap>,
    /// Fields both sides keep and read back: what `verify` compares.
    pub compared: Carried,
    /// How users are walked, when they can be (groups and chatrooms may be
    /// reached through them).
    pub users: Option<Walk>,
}

/// The operations the source needs to read a kind and the target needs to
/// write it.
fn needs(kind: Kind) -> (&'static [OpName], &'static [OpName]) {
    use OpName::*;
    match kind {
        Kind::Users => (&[], &[UserRegister, UserGet, UserUpdate]),
        Kind::Friends => (&[FriendList], &[FriendList, FriendAdd]),
        Kind::Blacklists => (&[BlacklistList], &[BlacklistList, BlacklistAdd]),
        Kind::Groups => (&[], &[GroupCreate, GroupMembersList]),
        Kind::Members => (&[GroupMembersList], &[GroupMembersList, GroupMembersUpdate]),
        Kind::Chatrooms => (&[], &[ChatroomCreate, ChatroomGet]),
        Kind::RoomMembers => (
            &[ChatroomMembersList],
            &[ChatroomMembersList, ChatroomMembersUpdate],
        ),
        Kind::Messages => (&[MessageHistoryList], &[MessageImport]),
    }
}

/// The entity whose fields a kind copies.
pub fn entity_of(kind: Kind) -> Option<Entity> {
    match kind {
        Kind::Users => Some(Entity::User),
        Kind::Friends => Some(Entity::Friend),
        Kind::Blacklists | Kind::Messages => None,
        Kind::Groups => Some(Entity::Group),
        Kind::Members => Some(Entity::Member),
        Kind::Chatrooms => Some(Entity::Chatroom),
        Kind::RoomMembers => Some(Entity::RoomMember),
    }
}

/// Fields written by an operation of their own rather than with the entity:
/// they travel when the target has that operation, whether or not it reads
/// them back.
fn written_by(entity: Entity, field: &str) -> Option<OpName> {
    match (entity, field) {
        (Entity::User, "disabled") => Some(OpName::UserDisable),
        (Entity::Friend, _) => Some(OpName::FriendNoteUpdate),
        (Entity::Member, "muted") => Some(OpName::GroupMute),
        (Entity::Member, "role") => Some(OpName::GroupManagersSet),
        (Entity::RoomMember, "muted") => Some(OpName::ChatroomMute),
        _ => None,
    }
}

/// Decides the plan for `kinds` from `source` to `target`; `users` is the
/// operator's file, when given.
pub fn plan(kinds: &[Kind], source: &Side, target: &Side, users: Option<&UsersFile>) -> Plan {
    let (from, to) = (source.name(), target.name());
    let user_walk = match users {
        Some(f) if source.supports(OpName::UserGet) => Ok(Walk::UserFile(f.clone())),
        Some(_) => Err(format!("source {from} cannot read a user (user.get)")),
        None if source.enumerates(OpName::UserList) => Ok(Walk::UserList),
        None => Err(format!(
            "source {from} cannot list users: export the app's user ids, one per line, and pass --users FILE"
        )),
    };
    let reached = |list: OpName, of_user: OpName, what: &str| {
        if source.enumerates(list) {
            Ok(if list == OpName::GroupList {
                Walk::GroupList
            } else {
                Walk::RoomList
            })
        } else if source.enumerates(of_user) {
            match &user_walk {
                Ok(_) if of_user == OpName::UserGroupsList => Ok(Walk::GroupsOfUsers),
                Ok(_) => Ok(Walk::RoomsOfUsers),
                Err(why) => Err(format!("{what} are reached from users, and {why}")),
            }
        } else {
            Err(format!(
                "source {from} can neither list {what} ({list}) nor a user's {what} ({of_user})"
            ))
        }
    };
    let group_walk = reached(OpName::GroupList, OpName::UserGroupsList, "groups");
    let room_walk = reached(OpName::ChatroomList, OpName::UserChatroomsList, "chatrooms");
    let mut out = Vec::new();
    for &kind in kinds {
        let walk = match kind {
            Kind::Users | Kind::Friends | Kind::Blacklists => user_walk.clone(),
            Kind::Groups | Kind::Members => group_walk.clone(),
            Kind::Chatrooms | Kind::RoomMembers => room_walk.clone(),
            Kind::Messages => match &user_walk {
                Ok(users) => Ok(Walk::Conversations {
                    users: Box::new(users.clone()),
                    groups: group_walk.clone().ok().map(Box::new),
                }),
                Err(why) => Err(format!("conversations are reached from users, and {why}")),
            },
        };
        let (read, write) = needs(kind);
        let missing = read
            .iter()
            .find(|op| !source.supports(**op))
            .map(|op| format!("source {from} cannot {op}"))
            .or_else(|| {
                write
                    .iter()
                    .find(|op| !target.supports(**op))
                    .map(|op| format!("target {to} cannot {op}"))
            });
        let walk = match missing {
            Some(why) if kind == Kind::Messages => Err(format!(
                "pair {from} -> {to} cannot migrate messages: {why}"
            )),
            Some(why) => Err(why),
            None => walk,
        };
        out.push(KindPlan { kind, walk });
    }
    let (carried, compared, gaps) = fields(kinds, source, target);
    Plan {
        kinds: out,
        carried,
        gaps,
        compared,
        users: user_walk.ok(),
    }
}

/// Which fields travel, which are compared, and the gaps.
fn fields(kinds: &[Kind], source: &Side, target: &Side) -> (Carried, Carried, Vec<Gap>) {
    let (from, to) = (source.name(), target.name());
    let (sk, tk) = (source.keeps(), target.keeps());
    let mut carried = Carried::default();
    let mut compared = Carried::default();
    let mut gaps = Vec::new();
    for entity in kinds.iter().filter_map(|k| entity_of(*k)) {
        let mut copy = Vec::new();
        for &field in entity.fields() {
            let (s, t) = (sk.keeps(entity, field), tk.keeps(entity, field));
            if field == "id" {
                // Every source has ids; whether the target takes them.
                if t {
                    copy.push(field);
                } else {
                    gaps.push(Gap {
                        entity: entity.as_str(),
                        field,
                        reason: format!(
                            "target {to} assigns its own ids: each is paired with the source's (imbridge's store), so the app's ids keep working through imbridge"
                        ),
                    });
                }
                continue;
            }
            if s && t {
                compared.0.entry(entity).or_default().push(field);
            }
            let reason = match written_by(entity, field) {
                _ if !s && !t => Some(format!("neither {from} nor {to} keeps it")),
                _ if !s => Some(format!("source {from} does not keep it")),
                Some(op) if !target.supports(op) => Some(format!("target {to} cannot {op}")),
                Some(_) if !t => {
                    copy.push(field);
                    Some(format!(
                        "copied, but target {to} cannot read it back: not verified"
                    ))
                }
                None if !t => Some(format!("target {to} does not keep it")),
                _ => {
                    copy.push(field);
                    None
                }
            };
            if let Some(reason) = reason {
                gaps.push(Gap {
                    entity: entity.as_str(),
                    field,
                    reason,
                });
            }
        }
        carried.0.insert(entity, copy);
    }
    (carried, compared, gaps)
}
