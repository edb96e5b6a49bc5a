//! The table of canonical operations: each has a dotted name (as mapping files
//! write it), a request type and a result type. The `operations!` macro turns
//! the table into `Op` (a request), `Output` (a result) and `OpName` (the name,
//! with its JSON schemas for load-time validation of mapping files).

use schemars::Schema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::admin::*;
use super::auth::*;
use super::common::*;
use super::error::{Error, Reason};
use super::group::*;
use super::message::*;
use super::model::*;
use super::room::*;
use super::social::*;
use super::user::*;

macro_rules! operations {
    ($( $name:literal => $variant:ident($req:ty) -> $res:ty ;)*) => {
        /// A canonical operation: which one, with its request. (Variants are
        /// moved once per request; boxing them would only add allocations.)
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum Op {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant($req),
            )*
        }

        /// The result of a canonical operation.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum Output {
            $(
                #[doc = concat!("result of `", $name, "`")]
                $variant($res),
            )*
        }

        /// The name of a canonical operation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum OpName {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl OpName {
            /// Every operation, in table order.
            pub const ALL: &'static [OpName] = &[$(OpName::$variant),*];

            /// The dotted name mapping files use.
            pub fn as_str(self) -> &'static str {
                match self { $(OpName::$variant => $name,)* }
            }

            /// Looks up an operation by its dotted name.
            pub fn parse(name: &str) -> Option<Self> {
                match name { $($name => Some(OpName::$variant),)* _ => None }
            }

            /// JSON schema of the request.
            pub fn request_schema(self) -> Schema {
                match self { $(OpName::$variant => schemars::schema_for!($req),)* }
            }

            /// JSON schema of the result.
            pub fn result_schema(self) -> Schema {
                match self { $(OpName::$variant => schemars::schema_for!($res),)* }
            }

            /// Builds the typed request from the JSON a mapping produced.
            pub fn decode_request(self, value: Value) -> Result<Op, Error> {
                match self { $(OpName::$variant => decode(value).map(Op::$variant),)* }
            }

            /// Builds the typed result from the JSON a provider mapping produced.
            pub fn decode_result(self, value: Value) -> Result<Output, Error> {
                match self { $(OpName::$variant => decode(value).map(Output::$variant),)* }
            }
        }

        impl Op {
            /// The operation's name.
            pub fn name(&self) -> OpName {
                match self { $(Op::$variant(_) => OpName::$variant,)* }
            }

            /// The request as JSON (what mapping templates see as `$.request`).
            pub fn to_json(&self) -> Value {
                match self { $(Op::$variant(r) => encode(r),)* }
            }
        }

        impl Output {
            /// The name of the operation this is the result of.
            pub fn name(&self) -> OpName {
                match self { $(Output::$variant(_) => OpName::$variant,)* }
            }

            /// The result as JSON (what mapping templates see as `$.result`).
            pub fn to_json(&self) -> Value {
                match self { $(Output::$variant(r) => encode(r),)* }
            }
        }
    };
}

operations! {
    "user.register" => UserRegister(UserRegister) -> Registered;
    "user.get" => UserGet(UserGet) -> User;
    "user.update" => UserUpdate(UserUpdate) -> Done;
    "user.delete" => UserDelete(UserDelete) -> Done;
    "user.list" => UserList(UserList) -> Listing<User>;
    "user.password.set" => UserPasswordSet(UserPasswordSet) -> Done;
    "user.status" => UserStatus(UserStatus) -> Items<StatusItem>;
    "user.disable" => UserDisable(UserDisable) -> Done;
    "user.nodisturb.set" => UserNodisturbSet(UserNodisturbSet) -> Done;
    "user.token" => UserToken(UserToken) -> Token;
    "user.authenticate" => UserAuthenticate(UserAuthenticate) -> Done;
    "user.groups.list" => UserGroupsList(UserGroupsList) -> Items<Group>;
    "user.chatrooms.list" => UserChatroomsList(UserChatroomsList) -> Items<Room>;
    "user.settings.put" => UserSettingPut(UserSettingPut) -> Done;
    "user.settings.get" => UserSettingGet(UserSettingGet) -> UserSetting;
    "user.files.list" => UserFilesList(UserFiles) -> Items<FileInfo>;
    "friend.add" => FriendAdd(FriendChange) -> Items<User>;
    "friend.remove" => FriendRemove(FriendChange) -> Items<User>;
    "friend.note.update" => FriendNoteUpdate(FriendNoteUpdate) -> Done;
    "friend.list" => FriendList(OfUser) -> Items<Friend>;
    "blacklist.add" => BlacklistAdd(BlacklistChange) -> Done;
    "blacklist.remove" => BlacklistRemove(BlacklistChange) -> Done;
    "blacklist.list" => BlacklistList(OfUser) -> Items<User>;
    "group.create" => GroupCreate(GroupCreate) -> Group;
    "group.get" => GroupGet(GroupRef) -> Group;
    "group.update" => GroupUpdate(GroupUpdate) -> Done;
    "group.dismiss" => GroupDismiss(GroupRef) -> Done;
    "group.members.update" => GroupMembersUpdate(GroupMembersUpdate) -> Done;
    "group.members.list" => GroupMembersList(GroupMembersList) -> MemberPage<Member>;
    "group.join" => GroupJoin(GroupJoin) -> Group;
    "group.quit" => GroupQuit(GroupJoin) -> Done;
    "group.list" => GroupList(GroupList) -> Listing<Group>;
    "group.shield" => GroupShield(GroupShield) -> Done;
    "group.mute" => GroupMute(GroupMute) -> Done;
    "group.managers.set" => GroupManagersSet(GroupManagersSet) -> Done;
    "group.owner.transfer" => GroupOwnerTransfer(GroupOwnerTransfer) -> Done;
    "group.sync" => GroupSync(GroupSync) -> Done;
    "chatroom.create" => ChatroomCreate(ChatroomCreate) -> Room;
    "chatroom.get" => ChatroomGet(ChatroomGet) -> Items<Room>;
    "chatroom.list" => ChatroomList(ChatroomList) -> Listing<Room>;
    "chatroom.update" => ChatroomUpdate(ChatroomUpdate) -> Done;
    "chatroom.delete" => ChatroomDelete(ChatroomRef) -> Done;
    "chatroom.mute" => ChatroomMute(ChatroomMute) -> Done;
    "chatroom.members.update" => ChatroomMembersUpdate(ChatroomMembersUpdate) -> Done;
    "chatroom.members.list" => ChatroomMembersList(ChatroomMembersList) -> Listing<RoomMember>;
    "message.send" => MessageSend(MessageSend) -> Sent;
    "message.retract" => MessageRetract(MessageRetract) -> Done;
    "message.offline_count" => MessageOfflineCount(OfflineCount) -> Count;
    "message.history.list" => MessageHistoryList(MessageHistoryList) -> HistoryPage;
    "message.import" => MessageImport(MessageImport) -> Imported;
    "media.upload" => MediaUpload(MediaUpload) -> Media;
    "media.url" => MediaUrl(MediaRef) -> Media;
    "file.get" => FileGet(FileGet) -> FileInfo;
    "conversation.files.list" => ConversationFilesList(ConversationFiles) -> Items<FileInfo>;
    "conversation.top.set" => ConversationTopSet(ConversationTopSet) -> Done;
    "conversation.top.get" => ConversationTopGet(ConversationTopGet) -> TopState;
    "sensitive_word.add" => SensitiveWordAdd(WordAdd) -> Done;
    "sensitive_word.update" => SensitiveWordUpdate(WordUpdate) -> Done;
    "sensitive_word.delete" => SensitiveWordDelete(WordDelete) -> Done;
    "sensitive_word.list" => SensitiveWordList(WordList) -> Listing<Word>;
    "sensitive_word.status.set" => SensitiveWordStatusSet(SwitchSet) -> Done;
    "sensitive_word.status.get" => SensitiveWordStatusGet(NoParams) -> Switch;
    "app.sdk_register.set" => SdkRegisterSet(SwitchSet) -> Done;
    "app.sdk_register.get" => SdkRegisterGet(NoParams) -> Switch;
    "system.settings.get" => SystemSettingsGet(SystemSettingGet) -> SystemSetting;
    "system.settings.set" => SystemSettingsSet(SystemSetting) -> Done;
    "health.check" => HealthCheck(NoParams) -> Health;
    "customer.get" => CustomerGet(NoParams) -> Account;
    "customer_service.get" => CustomerServiceGet(CustomerServiceGet) -> Account;
    "robot.upsert" => RobotUpsert(RobotUpsert) -> Robot;
    "auth.token.issue" => AuthTokenIssue(TokenIssue) -> IssuedToken;
}

impl OpName {
    /// Whether imbridge runs this operation itself (with its own store)
    /// instead of the frontend's provider.
    pub fn is_local(self) -> bool {
        matches!(self, OpName::AuthTokenIssue)
    }
}

impl std::fmt::Display for OpName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Decodes JSON into a typed request or result; the error names the field at
/// fault (`users[0].username: invalid type ...`).
fn decode<T: DeserializeOwned>(value: Value) -> Result<T, Error> {
    // Tracking the path copies every key: done only to name what is wrong.
    if let Ok(decoded) = T::deserialize(&value) {
        return Ok(decoded);
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." || path.is_empty() {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        };
        Error::invalid(Reason::Param, message)
    })
}

/// JSON of a request or result as templates see it: members that are null
/// (an absent optional field) are left out, so templates tell "absent" alone.
fn encode<T: Serialize>(value: &T) -> Value {
    // Serializing our own plain data types cannot fail: no maps with non-string
    // keys, no custom serializers that error.
    let mut json = serde_json::to_value(value).unwrap_or(Value::Null);
    strip_nulls(&mut json);
    json
}

/// Leaves out null members, in place (rebuilding each object would hash
/// every key again).
fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}
