//! Entities shared by canonical requests and results: users, groups, rooms,
//! members, messages, media. Times are milliseconds since the Unix epoch (UTC);
//! ids are strings (a provider may use numbers, the canonical model does not).

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// A user named in a request: the username and, for cross-app requests, the
/// app key the user belongs to. In requests it may be written as a bare string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, JsonSchema)]
pub struct UserRef {
    /// The user's login name.
    pub username: String,
    /// The app the user belongs to; absent means the caller's app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_key: Option<String>,
}

impl UserRef {
    /// A user of the caller's own app.
    pub fn local(username: impl Into<String>) -> Self {
        UserRef {
            username: username.into(),
            app_key: None,
        }
    }
}

impl<'de> Deserialize<'de> for UserRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Name(String),
            Full {
                username: String,
                #[serde(default)]
                app_key: Option<String>,
            },
        }
        match Repr::deserialize(d).map_err(|_| {
            serde::de::Error::custom("expected a username string or {username, app_key}")
        })? {
            Repr::Name(username) => Ok(UserRef::local(username)),
            Repr::Full { username, app_key } => Ok(UserRef { username, app_key }),
        }
    }
}

/// Editable profile fields of a user; every field is optional, and in an
/// update only the fields present change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// Avatar: a media id or a URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// Birthday as the client wrote it (e.g. `1990-01-24`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    /// 0 unknown, 1 male, 2 female.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<i64>,
    /// Signature / short bio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Postal address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Mobile phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Company.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// Free-form JSON object owned by the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extras: Option<Value>,
}

/// What kind of account a user is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserKind {
    /// An ordinary user.
    #[default]
    User,
    /// An administrator account (JMessage admins).
    Admin,
    /// A robot (WildfireChat robots).
    Robot,
}

/// A stored user as providers return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct User {
    /// Login name.
    pub username: String,
    /// The app the user belongs to.
    pub app_key: String,
    /// A stable unique id (Easemob's `uuid`).
    pub uuid: String,
    /// Profile fields that are set.
    #[serde(flatten)]
    pub profile: Profile,
    /// Account kind.
    #[serde(default)]
    pub kind: UserKind,
    /// Disabled (JMessage forbidden, Easemob deactivated).
    #[serde(default)]
    pub disabled: bool,
    /// Creation time, when the provider tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Millis>,
    /// Last modification time, when the provider tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<Millis>,
}

/// The role of a member in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The group owner.
    Owner,
    /// A group manager.
    Manager,
    /// An ordinary member.
    Member,
}

/// A group as providers return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Group {
    /// Group id.
    pub id: String,
    /// The app the group belongs to.
    pub app_key: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub desc: String,
    /// Avatar media id or URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// Owner, when the provider knows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Anyone may find and join it (else private).
    #[serde(default)]
    pub public: bool,
    /// Face-to-face join code, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Maximum number of members.
    pub max_members: i64,
    /// Current number of members, when the provider tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_count: Option<i64>,
    /// Creation time, when the provider tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Millis>,
    /// Last modification time, when the provider tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<Millis>,
}

/// A member of a group: the user's profile plus the membership.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Member {
    /// The member's user record.
    #[serde(flatten)]
    pub user: User,
    /// Role in the group.
    pub role: Role,
    /// Muted in the group.
    #[serde(default)]
    pub muted: bool,
    /// When the user joined.
    pub joined: Millis,
}

/// A chatroom as providers return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Room {
    /// Room id.
    pub id: String,
    /// The app the room belongs to.
    pub app_key: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Owner username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Maximum number of members.
    pub max_members: i64,
    /// Current number of members.
    pub member_count: i64,
    /// Creation time.
    pub created: Millis,
}

/// A member of a chatroom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RoomMember {
    /// The member's user record.
    #[serde(flatten)]
    pub user: User,
    /// Muted in the room.
    #[serde(default)]
    pub muted: bool,
    /// When the user joined the room, when the provider tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined: Option<Millis>,
}

/// A friend: the friend's user record plus the owner's notes about them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Friend {
    /// The friend's user record.
    #[serde(flatten)]
    pub user: User,
    /// The owner's name for this friend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_name: Option<String>,
    /// Other notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub others: Option<String>,
}

/// Whom a message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetType {
    /// One or more users (one-to-one chat).
    User,
    /// A group.
    Group,
    /// A chatroom.
    Chatroom,
}

/// What a message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContentKind {
    /// Plain text.
    Text,
    /// An image.
    Image,
    /// A voice clip.
    Voice,
    /// A video.
    Video,
    /// A file.
    File,
    /// A location.
    Location,
    /// A command (no display).
    Command,
    /// App-defined content.
    Custom,
}

/// The content of a message. Which fields are set depends on `kind`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Content {
    /// Text of a text message (or a caption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Media id of an uploaded file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// URL of the media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// CRC32 of the media bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<i64>,
    /// Image width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<i64>,
    /// Image height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<i64>,
    /// Media format (jpg, m4a, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Media size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Duration of voice or video in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    /// Content hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Latitude of a location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// Longitude of a location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lng: Option<f64>,
    /// Address of a location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// Command action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// App-defined type name of custom content (e.g. RongCloud objectName).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_type: Option<String>,
    /// App-defined payload of custom content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Value>,
    /// App-defined extras attached to any message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extras: Option<Value>,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Message {
    /// Message id.
    pub id: String,
    /// Sender username.
    pub from: String,
    /// Target type.
    pub target_type: TargetType,
    /// Target: username, group id or room id.
    pub target: String,
    /// Content kind.
    pub kind: ContentKind,
    /// Content.
    pub content: Content,
    /// Creation time.
    pub created: Millis,
    /// Retracted already.
    #[serde(default)]
    pub retracted: bool,
}

/// The kind of an uploaded media file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// An image (jpg, png, gif, bmp).
    Image,
    /// Any file.
    File,
    /// A voice clip.
    Voice,
}

/// An uploaded media file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Media {
    /// Media id (the key to fetch it again).
    pub media_id: String,
    /// Kind.
    pub kind: MediaKind,
    /// CRC32 of the bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<i64>,
    /// Size in bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Original file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Format (file extension or image type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Image width.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<i64>,
    /// Image height.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<i64>,
    /// Content hash (hex SHA-1), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Where the bytes can be downloaded.
    pub url: String,
}

/// A file uploaded with the request (multipart), referenced from a canonical
/// request; the bytes travel beside the operation, not inside its JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Upload {
    /// Index of the file among the request's attachments.
    pub slot: usize,
    /// The multipart field name.
    pub field: String,
    /// The client's file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The declared content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Size in bytes.
    pub size: usize,
}

/// Whom a conversation is with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationType {
    /// Another user (one-to-one).
    User,
    /// A group.
    Group,
    /// A chatroom.
    Chatroom,
    /// A channel (WildfireChat's), which no message here targets.
    Channel,
}

impl ConversationType {
    /// The message target type of the conversation; none for channels.
    pub fn target_type(self) -> Option<TargetType> {
        match self {
            ConversationType::User => Some(TargetType::User),
            ConversationType::Group => Some(TargetType::Group),
            ConversationType::Chatroom => Some(TargetType::Chatroom),
            ConversationType::Channel => None,
        }
    }
}

/// A conversation of a user: whom it is with, target and line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conversation {
    /// User, group, chatroom or channel.
    pub target_type: ConversationType,
    /// The other user, group id or room id.
    pub target: String,
    /// Line, default 0.
    #[serde(default)]
    pub line: i64,
}

/// A file sent in a message. The sender, target and time are there when the
/// provider tells them (WildfireChat's file lookup tells only the file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FileInfo {
    /// Id of the message carrying the file.
    pub msg_id: String,
    /// Sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Target type of the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<TargetType>,
    /// Target of the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Download URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// When the message was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Millis>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::canonical::{OpName, Output};

    #[test]
    fn vendors_may_leave_out_times_they_do_not_keep() {
        // WildfireChat keeps no creation time for groups, no join time for
        // chatroom members and none for sensitive words.
        let group = json!({"id": "g1", "app_key": "app", "name": "team", "max_members": 500});
        let Output::GroupGet(g) = OpName::GroupGet.decode_result(group.clone()).unwrap() else {
            panic!("wrong output");
        };
        assert_eq!((g.created, g.modified), (None, None));
        // Absent stays absent when written back (no `null`, no 0).
        assert_eq!(
            Output::GroupGet(g).to_json(),
            json!({
                "id": "g1", "app_key": "app", "name": "team", "desc": "", "public": false, "max_members": 500
            })
        );
        let words = json!({"total": 1, "start": 0, "count": 1, "items": [{"word": "bad"}]});
        let out = OpName::SensitiveWordList.decode_result(words).unwrap();
        assert_eq!(out.to_json()["items"], json!([{"word": "bad"}]));
        let member = json!({"total": 1, "start": 0, "count": 1, "items": [
            {"username": "u1", "app_key": "app", "uuid": "x"}]});
        let out = OpName::ChatroomMembersList.decode_result(member).unwrap();
        assert!(out.to_json()["items"][0].get("joined").is_none());
        // Providers that know them still say so.
        let timed = json!({"id": "g1", "app_key": "app", "name": "team", "max_members": 500,
                           "created": 1, "modified": 2});
        let Output::GroupGet(g) = OpName::GroupGet.decode_result(timed).unwrap() else {
            panic!("wrong output");
        };
        assert_eq!((g.created, g.modified), (Some(1), Some(2)));
    }
}
