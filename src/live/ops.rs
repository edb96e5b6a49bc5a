//! What a migration needs to know about each canonical operation: whether it
//! reads or writes (writes are mirrored to the other provider), whether
//! applying it twice is harmless (crash recovery), whom it acts for (cut-over
//! routing) and which entities it touches (per-entity order in the outbox).
//! Every operation is classified here by name, so a new operation cannot be
//! added without deciding.

use crate::canonical::ids::{visit_op, IdKind};
use crate::canonical::{ErrorKind, Op, OpName, Output};

/// How a migration treats an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Changes nothing: runs on the primary (and may be shadowed).
    Read,
    /// Changes state: runs on the primary and is mirrored to the other side.
    Write(Replay),
    /// Specific to the provider that answers (its tokens, its password check,
    /// its media store): runs on the primary only, never mirrored or shadowed.
    Own,
}

/// What applying a write a second time does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Leaves the same state (set-like updates, deletes, creates with the
    /// id given by the caller): re-sent after a crash.
    Harmless,
    /// Makes something new each time (a message, a group whose id the
    /// provider chooses): never re-sent blindly after a crash.
    Duplicates,
}

/// The class of an operation.
pub fn class(op: &Op) -> Class {
    use Replay::{Duplicates, Harmless};
    match op.name() {
        OpName::UserGet
        | OpName::UserList
        | OpName::UserStatus
        | OpName::UserGroupsList
        | OpName::UserChatroomsList
        | OpName::UserSettingGet
        | OpName::UserFilesList
        | OpName::FriendList
        | OpName::BlacklistList
        | OpName::GroupGet
        | OpName::GroupMembersList
        | OpName::GroupList
        | OpName::ChatroomGet
        | OpName::ChatroomList
        | OpName::ChatroomMembersList
        | OpName::MessageOfflineCount
        | OpName::MessageHistoryList
        | OpName::FileGet
        | OpName::ConversationFilesList
        | OpName::ConversationTopGet
        | OpName::SensitiveWordList
        | OpName::SensitiveWordStatusGet
        | OpName::SdkRegisterGet
        | OpName::SystemSettingsGet
        | OpName::HealthCheck
        | OpName::CustomerGet
        | OpName::CustomerServiceGet => Class::Read,
        OpName::UserToken
        | OpName::UserAuthenticate
        | OpName::MediaUpload
        | OpName::MediaUrl
        | OpName::AuthTokenIssue => Class::Own,
        OpName::MessageSend => Class::Write(Duplicates),
        OpName::GroupCreate
        | OpName::ChatroomCreate
        | OpName::RobotUpsert
        | OpName::MessageImport => {
            let chosen = match op {
                Op::MessageImport(r) => r.id.is_some(),
                Op::GroupCreate(r) => r.id.is_some(),
                Op::ChatroomCreate(r) => r.id.is_some(),
                Op::RobotUpsert(r) => r.username.is_some(),
                _ => false,
            };
            Class::Write(if chosen { Harmless } else { Duplicates })
        }
        OpName::UserRegister
        | OpName::UserUpdate
        | OpName::UserDelete
        | OpName::UserPasswordSet
        | OpName::UserDisable
        | OpName::UserNodisturbSet
        | OpName::UserSettingPut
        | OpName::FriendAdd
        | OpName::FriendRemove
        | OpName::FriendNoteUpdate
        | OpName::BlacklistAdd
        | OpName::BlacklistRemove
        | OpName::GroupUpdate
        | OpName::GroupDismiss
        | OpName::GroupMembersUpdate
        | OpName::GroupJoin
        | OpName::GroupQuit
        | OpName::GroupShield
        | OpName::GroupMute
        | OpName::GroupManagersSet
        | OpName::GroupOwnerTransfer
        | OpName::GroupSync
        | OpName::ChatroomUpdate
        | OpName::ChatroomDelete
        | OpName::ChatroomMute
        | OpName::ChatroomMembersUpdate
        | OpName::MessageRetract
        | OpName::ConversationTopSet
        | OpName::SensitiveWordAdd
        | OpName::SensitiveWordUpdate
        | OpName::SensitiveWordDelete
        | OpName::SensitiveWordStatusSet
        | OpName::SdkRegisterSet
        | OpName::SystemSettingsSet => Class::Write(Harmless),
    }
}

/// Whether an error from the other side means the write is there already:
/// a create or add that finds its entity (`already_exists`), a delete or
/// retract that finds it gone (`not_found`, the message retracted).
pub fn already_applied(op: OpName, kind: ErrorKind) -> bool {
    match kind {
        ErrorKind::AlreadyExists => true,
        ErrorKind::NotFound => matches!(
            op,
            OpName::UserDelete
                | OpName::GroupDismiss
                | OpName::ChatroomDelete
                | OpName::FriendRemove
                | OpName::BlacklistRemove
                | OpName::GroupQuit
        ),
        _ => false,
    }
}

/// Whether a failed apply may work later (the other side is down, busy, or
/// not consistent yet); the others go to the dead letters at once.
pub fn retryable(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::UpstreamUnavailable
            | ErrorKind::UpstreamError
            | ErrorKind::Internal
            | ErrorKind::LimitExceeded
            | ErrorKind::Unauthenticated
            | ErrorKind::NotFound
    )
}

/// Whom a call acts for: the user whose share of the cut-over decides
/// which provider serves it; `None` for app-level calls.
pub fn actor(op: &Op) -> Option<&str> {
    let name = match op {
        Op::UserRegister(r) => return r.users.first().map(|u| u.username.as_str()),
        Op::UserDelete(r) => return r.usernames.first().map(String::as_str),
        Op::UserStatus(r) => return r.usernames.first().map(String::as_str),
        Op::UserGet(r) => &r.username,
        Op::UserUpdate(r) => &r.username,
        Op::UserPasswordSet(r) => &r.username,
        Op::UserDisable(r) => &r.username,
        Op::UserNodisturbSet(r) => &r.username,
        Op::UserToken(r) => &r.username,
        Op::UserAuthenticate(r) => &r.username,
        Op::UserGroupsList(r) => &r.user.username,
        Op::UserChatroomsList(r) => &r.username,
        Op::UserSettingPut(r) => &r.username,
        Op::UserSettingGet(r) => &r.username,
        Op::UserFilesList(r) => &r.username,
        Op::FriendAdd(r) | Op::FriendRemove(r) => &r.username,
        Op::FriendNoteUpdate(r) => &r.username,
        Op::FriendList(r) | Op::BlacklistList(r) => &r.username,
        Op::BlacklistAdd(r) | Op::BlacklistRemove(r) => &r.username,
        Op::GroupCreate(r) => return r.owner.as_deref(),
        Op::GroupGet(r) | Op::GroupDismiss(r) => return r.by.as_deref(),
        Op::GroupMembersUpdate(r) => return r.by.as_deref(),
        Op::GroupMembersList(r) => return r.by.as_deref(),
        Op::GroupJoin(r) | Op::GroupQuit(r) => &r.username,
        Op::GroupShield(r) => &r.username,
        Op::GroupSync(r) => &r.username,
        Op::ChatroomCreate(r) => return r.owner.as_deref(),
        Op::ChatroomMute(r) => &r.username,
        Op::MessageSend(r) => &r.from,
        Op::MessageRetract(r) => &r.username,
        Op::MessageOfflineCount(r) => &r.username,
        Op::MessageImport(r) => &r.from,
        Op::ConversationFilesList(r) => &r.username,
        Op::ConversationTopSet(r) => &r.username,
        Op::ConversationTopGet(r) => &r.username,
        Op::RobotUpsert(r) => return r.username.as_deref(),
        _ => return None,
    };
    Some(name)
}

/// The entities a call touches, as outbox ordering keys (`user:NAME`,
/// `group:ID`, `chatroom:ID`; `app` for app-wide settings): two writes that
/// share a key are applied in the order they were answered. Ids are those
/// the app sees. `out` is the primary's result, for ids a create made.
pub fn keys(op: &Op, out: Option<&Output>) -> Vec<String> {
    let mut keys = Vec::new();
    let mut user = |name: &str| keys.push(format!("user:{name}"));
    match op {
        Op::UserRegister(r) => r.users.iter().for_each(|u| user(&u.username)),
        Op::UserDelete(r) => r.usernames.iter().for_each(|u| user(u)),
        Op::FriendAdd(r) | Op::FriendRemove(r) => {
            user(&r.username);
            r.friends.iter().for_each(|u| user(&u.username));
        }
        Op::BlacklistAdd(r) | Op::BlacklistRemove(r) => {
            user(&r.username);
            r.users.iter().for_each(|u| user(&u.username));
        }
        Op::GroupCreate(r) => {
            r.owner.iter().for_each(|u| user(u));
            r.members.iter().for_each(|u| user(&u.username));
        }
        Op::ChatroomCreate(r) => {
            r.owner.iter().for_each(|u| user(u));
            r.members.iter().for_each(|u| user(&u.username));
        }
        Op::GroupMembersUpdate(r) => {
            r.add
                .iter()
                .chain(&r.remove)
                .for_each(|u| user(&u.username));
        }
        Op::ChatroomMembersUpdate(r) => {
            r.add
                .iter()
                .chain(&r.remove)
                .for_each(|u| user(&u.username));
        }
        Op::GroupMute(r) => r.users.iter().for_each(|u| user(&u.username)),
        Op::GroupManagersSet(r) => r.users.iter().for_each(|u| user(&u.username)),
        Op::GroupOwnerTransfer(r) => user(&r.new_owner.username),
        Op::MessageSend(r) if r.target_type == crate::canonical::model::TargetType::User => {
            user(&r.from);
            r.targets.iter().for_each(|t| user(t));
        }
        _ => {
            if let Some(a) = actor(op) {
                user(a);
            }
        }
    }
    let mut op = op.clone();
    visit_op(&mut op, &mut |kind, id| {
        keys.push(format!("{}:{id}", kind.as_str()))
    });
    match out {
        Some(Output::GroupCreate(g)) => keys.push(format!("{}:{}", IdKind::Group.as_str(), g.id)),
        Some(Output::ChatroomCreate(r)) => {
            keys.push(format!("{}:{}", IdKind::Chatroom.as_str(), r.id))
        }
        _ => {}
    }
    if keys.is_empty() {
        keys.push("app".into());
    }
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::group::GroupRef;

    #[test]
    fn every_operation_is_classified_and_keyed() {
        let get = Op::GroupGet(GroupRef {
            group_id: "g1".into(),
            by: Some("tom".into()),
        });
        assert_eq!(class(&get), Class::Read);
        assert_eq!(actor(&get), Some("tom"));
        assert_eq!(keys(&get, None), ["group:g1", "user:tom"]);
        let dismiss = Op::GroupDismiss(GroupRef {
            group_id: "g1".into(),
            by: None,
        });
        assert_eq!(class(&dismiss), Class::Write(Replay::Harmless));
        assert_eq!(keys(&dismiss, None), ["group:g1"]);
        assert!(already_applied(OpName::GroupDismiss, ErrorKind::NotFound));
        assert!(!already_applied(OpName::GroupUpdate, ErrorKind::NotFound));
        assert!(retryable(ErrorKind::UpstreamUnavailable));
        assert!(!retryable(ErrorKind::InvalidArgument));
    }
}
