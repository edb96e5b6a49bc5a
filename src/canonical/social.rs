//! Friends and blacklists.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::model::UserRef;

/// `friend.add` / `friend.remove`: make or end friendships (both directions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FriendChange {
    /// The user whose friends change.
    pub username: String,
    /// The friends to add or remove.
    pub friends: Vec<UserRef>,
}

/// A note about one friend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FriendNote {
    /// The friend.
    pub username: String,
    /// The friend's app, for cross-app friends.
    #[serde(default)]
    pub app_key: Option<String>,
    /// Name the owner gives this friend.
    #[serde(default)]
    pub note_name: Option<String>,
    /// Other notes.
    #[serde(default)]
    pub others: Option<String>,
}

/// `friend.note.update`: change the notes about friends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FriendNoteUpdate {
    /// The owner of the notes.
    pub username: String,
    /// One note per friend.
    pub notes: Vec<FriendNote>,
}

/// `friend.list`, `blacklist.list`: the friends or blocked users of a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OfUser {
    /// The user.
    pub username: String,
}

/// `blacklist.add` / `blacklist.remove`: block or unblock users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlacklistChange {
    /// The user whose blacklist changes.
    pub username: String,
    /// Users to block or unblock.
    pub users: Vec<UserRef>,
}
