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
