//! Chatroom operations.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::Paging;
use super::model::UserRef;

/// `chatroom.create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatroomCreate {
    /// Caller-chosen id; assigned when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Owner username.
    #[serde(default)]
    pub owner: Option<String>,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Initial members.
    #[serde(default)]
    pub members: Vec<UserRef>,
}

/// `chatroom.get`: rooms by id (missing ids are skipped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatroomGet {
    /// Room ids.
    pub ids: Vec<String>,
}

/// `chatroom.list`: all rooms of the app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatroomList {
    /// Which page.
    #[serde(default)]
    pub paging: Paging,
}

/// `chatroom.update`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatroomUpdate {
    /// Room id.
    pub id: String,
    /// New owner.
    #[serde(default)]
    pub owner: Option<String>,
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
}

/// `chatroom.delete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatroomRef {
    /// Room id.
    pub id: String,
}

/// `chatroom.mute`: mute or unmute one user in a room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatroomMute {
    /// Room id.
    pub id: String,
    /// The user.
    pub username: String,
    /// True mutes, false unmutes.
    pub muted: bool,
}

/// `chatroom.members.update`: add and/or remove members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatroomMembersUpdate {
    /// Room id.
    pub id: String,
    /// Users to add.
    #[serde(default)]
    pub add: Vec<UserRef>,
    /// Users to remove.
    #[serde(default)]
    pub remove: Vec<UserRef>,
}

/// `chatroom.members.list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatroomMembersList {
    /// Room id.
    pub id: String,
    /// Which page.
    #[serde(default)]
    pub paging: Paging,
}
