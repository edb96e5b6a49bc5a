//! App-level administration: sensitive words, switches, settings, health,
//! configured accounts, robots, conversation pins.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::Paging;
use super::model::{Conversation, Millis};

/// `sensitive_word.add`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WordAdd {
    /// Words to add.
    pub words: Vec<String>,
}

/// `sensitive_word.update`: replace one word by another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WordUpdate {
    /// The word to replace.
    pub old_word: String,
    /// Its replacement.
    pub new_word: String,
}

/// `sensitive_word.delete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WordDelete {
    /// Words to delete.
    pub words: Vec<String>,
}

/// `sensitive_word.list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WordList {
    /// Which page.
    #[serde(default)]
    pub paging: Paging,
}

/// A sensitive word.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Word {
    /// The word.
    pub word: String,
    /// When it was added, when the provider tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Millis>,
}

/// Set an on/off switch (`sensitive_word.status.set`, `app.sdk_register.set`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchSet {
    /// On or off.
    pub enabled: bool,
}

/// An operation without parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// `system.settings.get`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemSettingGet {
    /// Setting id.
    pub id: i64,
}

/// `system.settings.set`; also the result of `system.settings.get`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemSetting {
    /// Setting id.
    pub id: i64,
    /// Value.
    pub value: String,
    /// Description.
    #[serde(default)]
    pub desc: String,
}

/// `conversation.top.set`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationTopSet {
    /// The user.
    pub username: String,
    /// The conversation.
    pub conversation: Conversation,
    /// Pin (true) or unpin.
    pub top: bool,
}

/// `conversation.top.get`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationTopGet {
    /// The user.
    pub username: String,
    /// The conversation.
    pub conversation: Conversation,
}

/// Result of `health.check`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    /// `healthy` or a description of what is wrong.
    pub status: String,
    /// Provider name.
    pub provider: String,
}

/// `customer_service.get`: the configured customer-service account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerServiceGet {
    /// When set, also return this user's IM token.
    #[serde(default)]
    pub username: Option<String>,
}

/// `robot.upsert`: create or update a robot account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RobotUpsert {
    /// Robot user id; generated when absent.
    #[serde(default)]
    pub username: Option<String>,
    /// Login name.
    #[serde(default)]
    pub name: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Avatar URL.
    #[serde(default)]
    pub portrait: Option<String>,
    /// Owner user.
    #[serde(default)]
    pub owner: Option<String>,
    /// Robot secret; generated when absent.
    #[serde(default)]
    pub secret: Option<String>,
    /// Callback URL for messages to the robot.
    #[serde(default)]
    pub callback: Option<String>,
    /// Extra JSON.
    #[serde(default)]
    pub extra: Option<String>,
}

/// Result of `robot.upsert`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Robot {
    /// Robot user id.
    pub username: String,
    /// Login name.
    pub name: String,
    /// Robot secret.
    pub secret: String,
}

/// Result of `conversation.top.get`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TopState {
    /// Pinned.
    pub top: bool,
}
