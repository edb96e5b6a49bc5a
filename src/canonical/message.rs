//! Messages, media and files.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::{Content, ContentKind, Conversation, Millis, TargetType, Upload};

/// `message.send`: one message to one or more targets of one type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageSend {
    /// Sender username (or an admin name when `from_admin`).
    pub from: String,
    /// The sender is an admin account rather than a user.
    #[serde(default)]
    pub from_admin: bool,
    /// What the targets are.
    pub target_type: TargetType,
    /// Usernames, group ids or room ids.
    pub targets: Vec<String>,
    /// App of the targets, for cross-app messages.
    #[serde(default)]
    pub target_app_key: Option<String>,
    /// Content kind.
    pub kind: ContentKind,
    /// Content.
    pub content: Content,
    /// Sender display name.
    #[serde(default)]
    pub from_name: Option<String>,
    /// Target display name.
    #[serde(default)]
    pub target_name: Option<String>,
    /// Do not keep for offline delivery.
    #[serde(default)]
    pub no_offline: bool,
    /// Do not show a notification.
    #[serde(default)]
    pub no_notification: bool,
    /// Custom notification (title, alert).
    #[serde(default)]
    pub notification: Option<Value>,
}

/// Delivery of a message to one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Delivery {
    /// The target.
    pub target: String,
    /// Message id at this target.
    pub msg_id: String,
}

/// Result of `message.send`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Sent {
    /// Id of the (first) message.
    pub msg_id: String,
    /// Creation time.
    pub created: Millis,
    /// One entry per target.
    pub deliveries: Vec<Delivery>,
}

/// `message.retract`: recall a message its sender sent recently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRetract {
    /// The sender.
    pub username: String,
    /// Message id.
    pub msg_id: String,
}

/// `media.upload`: store an uploaded file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaUpload {
    /// image, file or voice.
    pub kind: super::model::MediaKind,
    /// The uploaded file.
    pub file: Upload,
}

/// `media.url`: where a media file can be downloaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaRef {
    /// Media id.
    pub media_id: String,
}

/// `file.get`: the file sent in one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileGet {
    /// Message id.
    pub msg_id: String,
}

/// `conversation.files.list`: files sent in a conversation of a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationFiles {
    /// The user.
    pub username: String,
    /// The conversation.
    pub conversation: Conversation,
    /// At most this many.
    #[serde(default)]
    pub count: Option<i64>,
    /// Only files sent before (newest first) or after (oldest first) this time.
    #[serde(default)]
    pub from_time: Option<Millis>,
    /// Newest first (the default), else oldest first.
    #[serde(default = "newest_first")]
    pub desc: bool,
}

fn newest_first() -> bool {
    true
}

/// `user.files.list`: files a user sent or received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserFiles {
    /// The user.
    pub username: String,
    /// Skip this many.
    #[serde(default)]
    pub offset: i64,
    /// At most this many.
    #[serde(default)]
    pub count: Option<i64>,
    /// Newest first.
    #[serde(default)]
    pub desc: bool,
}

/// `message.history.list`: one page of a conversation's history, oldest
/// first. A group's or chatroom's conversation is its id; with
/// `target_type: user`, `target` and `peer` are the two users (both
/// directions), or without `peer` every one-to-one message `target` sent
/// (each pair's history is then read once, by its senders).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageHistoryList {
    /// What the conversation is.
    pub target_type: TargetType,
    /// The group or chatroom id, or a user.
    pub target: String,
    /// The other user of a one-to-one conversation.
    #[serde(default)]
    pub peer: Option<String>,
    /// Where the page starts: the `cursor` of the page before.
    #[serde(default)]
    pub cursor: Option<String>,
    /// At most this many messages.
    #[serde(default)]
    pub limit: Option<i64>,
}

/// One message of a history, as kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HistoryMessage {
    /// The message id.
    pub id: String,
    /// The sender.
    pub from: String,
    /// What the message went to.
    pub target_type: TargetType,
    /// The user, group id or room id it went to.
    pub to: String,
    /// When it was sent.
    pub time: Millis,
    /// Content kind.
    pub kind: ContentKind,
    /// Content.
    pub content: Content,
}

/// Result of `message.history.list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HistoryPage {
    /// The messages, oldest first.
    pub items: Vec<HistoryMessage>,
    /// Where the next page starts; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// `message.import`: puts a message into a conversation's history as it
/// was sent (its sender and time), with no delivery or notification. The
/// same id imported twice is kept once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageImport {
    /// The id to keep, when the provider keeps the caller's ids.
    #[serde(default)]
    pub id: Option<String>,
    /// The sender.
    pub from: String,
    /// What the message went to.
    pub target_type: TargetType,
    /// The user, group id or room id it went to.
    pub to: String,
    /// When it was sent.
    pub time: Millis,
    /// Content kind.
    pub kind: ContentKind,
    /// Content.
    pub content: Content,
}

/// Result of `message.import`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Imported {
    /// The message's id at the provider.
    pub msg_id: String,
    /// False when the provider had the message already.
    pub imported: bool,
}
