//! Group operations.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::Paging;
use super::model::{Upload, UserRef};

/// `group.create`: create a group; the owner becomes a member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupCreate {
    /// Caller-chosen id (RongCloud, WildfireChat); assigned when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Owner username; ownerless groups have none.
    #[serde(default)]
    pub owner: Option<String>,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub desc: Option<String>,
    /// Avatar media id or URL.
    #[serde(default)]
    pub avatar: Option<String>,
    /// An uploaded avatar image; stored as media and used as the avatar URL.
    #[serde(default)]
    pub avatar_upload: Option<Upload>,
    /// Initial members besides the owner.
    #[serde(default)]
    pub members: Vec<UserRef>,
    /// Public (anyone may find and join it) or private; the provider's
    /// default (private for the embedded one) when absent.
    #[serde(default)]
    pub public: Option<bool>,
    /// Face-to-face join code.
    #[serde(default)]
    pub code: Option<String>,
    /// Maximum members (provider default when absent).
    #[serde(default)]
    pub max_members: Option<i64>,
}

/// `group.get`, `group.dismiss` by an admin: one group by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRef {
    /// Group id.
    pub group_id: String,
    /// The user acting; when set, must have the right (owner to dismiss,
    /// member to list members).
    #[serde(default)]
    pub by: Option<String>,
}

/// `group.update`: change name, description or avatar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupUpdate {
    /// Group id.
    pub group_id: String,
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New description.
    #[serde(default)]
    pub desc: Option<String>,
    /// New avatar.
    #[serde(default)]
    pub avatar: Option<String>,
}

/// `group.members.update`: add and/or remove members in one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupMembersUpdate {
    /// Group id.
    pub group_id: String,
    /// Users to add.
    #[serde(default)]
    pub add: Vec<UserRef>,
    /// Users to remove.
    #[serde(default)]
    pub remove: Vec<UserRef>,
    /// The user acting; when set, must be a member.
    #[serde(default)]
    pub by: Option<String>,
}

/// `group.members.list`: members of a group, owner first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupMembersList {
    /// Group id.
    pub group_id: String,
    /// Which page (all members when absent).
    #[serde(default)]
    pub paging: Paging,
    /// The user asking; when set, must be a member.
    #[serde(default)]
    pub by: Option<String>,
}

/// `group.join` / `group.quit`: a user joins or leaves a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupJoin {
    /// Group id.
    pub group_id: String,
    /// The user joining or leaving.
    pub username: String,
    /// Face-to-face code; when the group has one, joining needs it.
    #[serde(default)]
    pub code: Option<String>,
}

/// `group.list`: all groups of the app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupList {
    /// Which page.
    #[serde(default)]
    pub paging: Paging,
}

/// `group.shield`: block or unblock messages of groups for one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupShield {
    /// The user.
    pub username: String,
    /// Group ids to shield.
    #[serde(default)]
    pub add: Vec<String>,
    /// Group ids to unshield.
    #[serde(default)]
    pub remove: Vec<String>,
}

/// `group.mute`: mute or unmute members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupMute {
    /// Group id.
    pub group_id: String,
    /// Members to change.
    pub users: Vec<UserRef>,
    /// True mutes, false unmutes.
    pub muted: bool,
}

/// `group.managers.set`: make members managers, or ordinary members again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupManagersSet {
    /// Group id.
    pub group_id: String,
    /// Members to change (not the owner).
    pub users: Vec<UserRef>,
    /// True makes them managers, false ordinary members.
    pub manager: bool,
}

/// `group.owner.transfer`: make another member the owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupOwnerTransfer {
    /// Group id.
    pub group_id: String,
    /// The new owner (made a member when not one).
    pub new_owner: UserRef,
}

/// A group id and name, as sync lists them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupName {
    /// Group id.
    pub id: String,
    /// Group name.
    pub name: String,
}

/// `group.sync`: make the IM side's view of a user's groups match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupSync {
    /// The user.
    pub username: String,
    /// The groups the user is in; absent means "as the store knows them".
    #[serde(default)]
    pub groups: Option<Vec<GroupName>>,
}
