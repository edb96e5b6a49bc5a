//! User operations: register, profile, password, status, tokens, settings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{AddRemove, Paging};
use super::error::Error;
use super::model::{Profile, User, UserKind, UserRef};

/// A user to register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Password; stored as a password hash.
    #[serde(default)]
    pub password: Option<String>,
    /// Initial profile.
    #[serde(default)]
    pub profile: Profile,
}

/// `user.register`: register one or more users; each may fail on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRegister {
    /// Users to register, in order.
    pub users: Vec<NewUser>,
    /// Account kind of all of them.
    #[serde(default)]
    pub kind: UserKind,
    /// Reject users without a password (per item).
    #[serde(default)]
    pub require_password: bool,
    /// All or nothing: the first failing item fails the whole request and
    /// nobody is registered.
    #[serde(default)]
    pub atomic: bool,
}

/// The outcome for one user of a batch registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RegisterItem {
    /// The username as requested.
    pub username: String,
    /// The registered user, on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// Why this user was not registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Error>,
}

/// Result of `user.register`: one item per requested user, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Registered {
    /// One entry per requested user.
    pub items: Vec<RegisterItem>,
}

/// `user.get`: one user by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserGet {
    /// Login name.
    pub username: String,
}

/// `user.update`: change profile fields (only those present).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// Login name.
    pub username: String,
    /// Fields to change.
    pub profile: Profile,
}

/// `user.delete`: delete one or more users (all must exist).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserDelete {
    /// Login names.
    pub usernames: Vec<String>,
}

/// `user.list`: users of the app, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserList {
    /// Which page.
    #[serde(default)]
    pub paging: Paging,
    /// Only accounts of this kind.
    #[serde(default)]
    pub kind: Option<UserKind>,
    /// Only users that are disabled (true) or enabled (false), e.g.
    /// RongCloud's list of blocked users.
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// `user.password.set`: set a new password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPasswordSet {
    /// Login name.
    pub username: String,
    /// The new password.
    pub password: String,
}

/// `user.status`: login and online state of users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserStatus {
    /// Login names.
    pub usernames: Vec<String>,
    /// Fail with not_found when a user does not exist (else report `exists: false`).
    #[serde(default)]
    pub require_existing: bool,
}

/// One device of a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Device {
    /// Platform code: a Android, i iOS, j JS, w Windows.
    pub platform: String,
    /// Logged in on this device.
    pub login: bool,
    /// Connected now.
    pub online: bool,
}

/// Status of one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatusItem {
    /// Login name.
    pub username: String,
    /// Whether the user exists.
    pub exists: bool,
    /// Logged in on any device.
    pub login: bool,
    /// Online on any device.
    pub online: bool,
    /// Devices the user logged in from.
    pub devices: Vec<Device>,
}

/// `user.disable`: disable or re-enable a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserDisable {
    /// Login name.
    pub username: String,
    /// True disables, false enables.
    pub disabled: bool,
}

/// `user.nodisturb.set`: do-not-disturb for users, groups, or globally.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserNodisturbSet {
    /// Whose settings.
    pub username: String,
    /// One-to-one chats to silence or unsilence.
    #[serde(default)]
    pub single: AddRemove<UserRef>,
    /// Groups (ids) to silence or unsilence.
    #[serde(default)]
    pub group: AddRemove<String>,
    /// Global do-not-disturb, when present.
    #[serde(default)]
    pub global: Option<bool>,
}

/// `user.token`: an IM login token for a user (issued and kept by the provider).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserToken {
    /// Login name.
    pub username: String,
    /// Register the user with this profile when missing (RongCloud getToken).
    #[serde(default)]
    pub create: Option<Profile>,
}

/// An IM token of a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Token {
    /// Login name.
    pub username: String,
    /// The token.
    pub token: String,
}

/// `user.authenticate`: check a user's password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserAuthenticate {
    /// Login name.
    pub username: String,
    /// The password to check.
    pub password: String,
}

/// `user.groups.list`: groups a user is a member of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserGroupsList {
    /// Login name (with app key for cross-app queries).
    pub user: UserRef,
}

/// `user.chatrooms.list`: chatrooms a user is in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChatroomsList {
    /// Login name.
    pub username: String,
}

/// `user.settings.put`: store one user setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserSettingPut {
    /// Whose setting.
    pub username: String,
    /// Setting scope (WildfireChat scopes).
    pub scope: i64,
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// `user.settings.get`: read one user setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserSettingGet {
    /// Whose setting.
    pub username: String,
    /// Setting scope.
    pub scope: i64,
    /// Key.
    pub key: String,
}

/// A user setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserSetting {
    /// Whose setting.
    pub username: String,
    /// Scope.
    pub scope: i64,
    /// Key.
    pub key: String,
    /// Value; absent when never set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `message.offline_count`: messages waiting for a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineCount {
    /// Login name.
    pub username: String,
}
