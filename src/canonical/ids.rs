//! Where group, chatroom and message ids are in canonical requests and results, so an
//! id translation (the ID map) can rewrite them without knowing each type:
//! `visit_op` and `visit_output` call `f` with every id and its kind.

use super::model::{Conversation, FileInfo, Group, Room, TargetType};
use super::op::{Op, Output};

/// Kinds of ids a frontend may need as integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// A group id.
    Group,
    /// A chatroom id.
    Chatroom,
    /// A message id.
    Message,
}

impl IdKind {
    /// The name used in mapping files and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::Group => "group",
            IdKind::Chatroom => "chatroom",
            IdKind::Message => "message",
        }
    }

    /// Parses a mapping-file name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "group" => Some(IdKind::Group),
            "chatroom" => Some(IdKind::Chatroom),
            "message" => Some(IdKind::Message),
            _ => None,
        }
    }

    fn of_target(t: TargetType) -> Option<Self> {
        match t {
            TargetType::User => None,
            TargetType::Group => Some(IdKind::Group),
            TargetType::Chatroom => Some(IdKind::Chatroom),
        }
    }

    fn of_conversation(c: &Conversation) -> Option<Self> {
        c.target_type.target_type().and_then(Self::of_target)
    }
}

/// A callback over ids.
pub type Visit<'a> = &'a mut dyn FnMut(IdKind, &mut String);

fn all(kind: IdKind, ids: &mut [String], f: Visit) {
    for id in ids {
        f(kind, id);
    }
}

fn conversation(c: &mut Conversation, f: Visit) {
    if let Some(kind) = IdKind::of_conversation(c) {
        f(kind, &mut c.target);
    }
}

/// Calls `f` with every group, chatroom or message id of a request.
pub fn visit_op(op: &mut Op, f: Visit) {
    use IdKind::{Chatroom, Group, Message};
    match op {
        Op::GroupGet(r) | Op::GroupDismiss(r) => f(Group, &mut r.group_id),
        Op::GroupUpdate(r) => f(Group, &mut r.group_id),
        Op::GroupMembersUpdate(r) => f(Group, &mut r.group_id),
        Op::GroupMembersList(r) => f(Group, &mut r.group_id),
        Op::GroupJoin(r) | Op::GroupQuit(r) => f(Group, &mut r.group_id),
        Op::GroupMute(r) => f(Group, &mut r.group_id),
        Op::GroupManagersSet(r) => f(Group, &mut r.group_id),
        Op::GroupOwnerTransfer(r) => f(Group, &mut r.group_id),
        Op::GroupShield(r) => {
            all(Group, &mut r.add, f);
            all(Group, &mut r.remove, f);
        }
        Op::UserNodisturbSet(r) => {
            all(Group, &mut r.group.add, f);
            all(Group, &mut r.group.remove, f);
        }
        Op::GroupSync(r) => {
            for g in r.groups.iter_mut().flatten() {
                f(Group, &mut g.id);
            }
        }
        Op::GroupCreate(r) => {
            if let Some(id) = &mut r.id {
                f(Group, id);
            }
        }
        Op::ChatroomCreate(r) => {
            if let Some(id) = &mut r.id {
                f(Chatroom, id);
            }
        }
        Op::ChatroomGet(r) => all(Chatroom, &mut r.ids, f),
        Op::ChatroomUpdate(r) => f(Chatroom, &mut r.id),
        Op::ChatroomDelete(r) => f(Chatroom, &mut r.id),
        Op::ChatroomMute(r) => f(Chatroom, &mut r.id),
        Op::ChatroomMembersUpdate(r) => f(Chatroom, &mut r.id),
        Op::ChatroomMembersList(r) => f(Chatroom, &mut r.id),
        Op::MessageSend(r) => {
            if let Some(kind) = IdKind::of_target(r.target_type) {
                all(kind, &mut r.targets, f);
            }
        }
        Op::MessageRetract(r) => f(Message, &mut r.msg_id),
        Op::MessageHistoryList(r) => {
            if let Some(kind) = IdKind::of_target(r.target_type) {
                f(kind, &mut r.target);
            }
        }
        Op::MessageImport(r) => {
            if let Some(kind) = IdKind::of_target(r.target_type) {
                f(kind, &mut r.to);
            }
            if let Some(id) = &mut r.id {
                f(Message, id);
            }
        }
        Op::FileGet(r) => f(Message, &mut r.msg_id),
        Op::ConversationTopSet(r) => conversation(&mut r.conversation, f),
        Op::ConversationTopGet(r) => conversation(&mut r.conversation, f),
        Op::ConversationFilesList(r) => conversation(&mut r.conversation, f),
        _ => {}
    }
}

fn group(g: &mut Group, f: Visit) {
    f(IdKind::Group, &mut g.id);
}

fn room(r: &mut Room, f: Visit) {
    f(IdKind::Chatroom, &mut r.id);
}

fn file(file: &mut FileInfo, f: Visit) {
    f(IdKind::Message, &mut file.msg_id);
    if let (Some(t), Some(target)) = (file.target_type, file.target.as_mut()) {
        if let Some(kind) = IdKind::of_target(t) {
            f(kind, target);
        }
    }
}

/// The kind of the ids a request's message was sent to, which its result's
/// deliveries carry: the request tells it, not the result.
pub fn sent_to(op: &Op) -> Option<IdKind> {
    match op {
        Op::MessageSend(req) => IdKind::of_target(req.target_type),
        _ => None,
    }
}

/// Calls `f` with every group, chatroom or message id of a result (`sent_to` from
/// [`sent_to`] of the request it answers).
pub fn visit_output(out: &mut Output, sent_to: Option<IdKind>, f: Visit) {
    match out {
        Output::GroupCreate(g) | Output::GroupGet(g) | Output::GroupJoin(g) => group(g, f),
        Output::UserGroupsList(items) => items.items.iter_mut().for_each(|g| group(g, f)),
        Output::GroupList(page) => page.items.iter_mut().for_each(|g| group(g, f)),
        Output::GroupMembersList(page) => group(&mut page.group, f),
        Output::ChatroomCreate(r) => room(r, f),
        Output::ChatroomGet(items) | Output::UserChatroomsList(items) => {
            items.items.iter_mut().for_each(|r| room(r, f))
        }
        Output::ChatroomList(page) => page.items.iter_mut().for_each(|r| room(r, f)),
        Output::MessageSend(sent) => {
            f(IdKind::Message, &mut sent.msg_id);
            for d in &mut sent.deliveries {
                if let Some(kind) = sent_to {
                    f(kind, &mut d.target);
                }
                f(IdKind::Message, &mut d.msg_id);
            }
        }
        Output::FileGet(info) => file(info, f),
        Output::MessageHistoryList(page) => {
            for m in &mut page.items {
                f(IdKind::Message, &mut m.id);
                if let Some(kind) = IdKind::of_target(m.target_type) {
                    f(kind, &mut m.to);
                }
            }
        }
        Output::MessageImport(done) => f(IdKind::Message, &mut done.msg_id),
        Output::UserFilesList(items) | Output::ConversationFilesList(items) => {
            items.items.iter_mut().for_each(|i| file(i, f))
        }
        _ => {}
    }
}
