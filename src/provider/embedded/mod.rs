//! The embedded provider: imbridge's own persistent IM backend (a database,
//! SQLite by default, plus a media directory). It implements every canonical
//! operation, is the zero-config default, and behind a vendor frontend it
//! emulates that vendor.
//!
//! Everything is scoped by app (`CallContext::app_key`); users are keyed by
//! (app, username), and a `UserRef` with an app key names a user of another app.
//! Each operation runs in one database transaction on a blocking thread
//! (`crate::db`), so a failing request changes nothing.

mod accounts;
mod admin;
mod config;
mod db;
mod files;
mod groups;
mod history;
mod joins;
mod login;
mod media;
mod members;
mod messages;
mod paging;
mod prefs;
mod register;
mod rooms;
mod schema;
mod social;
mod users;
mod validate;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

use anyhow::Context as _;
use async_trait::async_trait;

pub use config::{AccountConfig, EmbeddedConfig, HashParams, IMAGE_TYPES, MEDIA_TYPES};
pub use media::{MediaCounters, Sweep};

use super::{CallContext, Provider};
use crate::auth::password::Passwords;
use crate::auth::Secret;
use crate::canonical::{Error, Op, Output, Result};
use crate::db::{Db, Location};

/// The built-in IM backend as a provider.
pub struct EmbeddedProvider {
    name: String,
    cfg: EmbeddedConfig,
    db: Db,
    passwords: Passwords,
    counters: MediaCounters,
}

impl EmbeddedProvider {
    /// Opens (creating dirs, file and schema as needed) the provider's
    /// database. Synchronous: runs migrations on a plain connection.
    pub fn open(name: &str, cfg: &EmbeddedConfig) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&cfg.media_dir)
            .with_context(|| format!("creating media directory {}", cfg.media_dir.display()))?;
        let location = Location::of(cfg.url.as_ref().map(Secret::expose), &cfg.path)?;
        let db = Db::open(&location, cfg.pool_size, &schema::SCHEMA)
            .with_context(|| format!("opening the embedded provider's database {location}"))?;
        Ok(EmbeddedProvider {
            name: name.to_owned(),
            cfg: cfg.clone(),
            db,
            passwords: Passwords::new(cfg.password_hash)?,
            counters: MediaCounters::default(),
        })
    }

    /// The provider counting its media in `counters` (the process metrics').
    pub fn counted(self, counters: MediaCounters) -> Self {
        EmbeddedProvider { counters, ..self }
    }

    /// Seconds between two sweeps of its media directory (0: never).
    pub fn sweep_every_secs(&self) -> u64 {
        self.cfg.media_sweep_secs
    }

    /// Path and content type of a stored media file, for the server to serve
    /// `GET /media/{media_id}`.
    pub async fn media_file(&self, media_id: &str) -> Option<(PathBuf, String)> {
        self.stored_media_file(media_id).await
    }

    /// Whether the provider's database answers (for `/readyz`).
    pub async fn database_health(&self) -> Result<()> {
        self.db.health().await
    }
}

#[async_trait]
impl Provider for EmbeddedProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn execute(&self, op: Op, ctx: &CallContext) -> Result<Output> {
        let app = ctx.app_key.as_str();
        Ok(match op {
            Op::UserRegister(r) => Output::UserRegister(self.user_register(app, r).await?),
            Op::UserGet(r) => Output::UserGet(self.user_get(app, r).await?),
            Op::UserUpdate(r) => Output::UserUpdate(self.user_update(app, r).await?),
            Op::UserDelete(r) => Output::UserDelete(self.user_delete(app, r).await?),
            Op::UserList(r) => Output::UserList(self.user_list(app, r).await?),
            Op::UserPasswordSet(r) => Output::UserPasswordSet(self.password_set(app, r).await?),
            Op::UserStatus(r) => Output::UserStatus(self.user_status(app, r).await?),
            Op::UserDisable(r) => Output::UserDisable(self.user_disable(app, r).await?),
            Op::UserNodisturbSet(r) => Output::UserNodisturbSet(self.nodisturb_set(app, r).await?),
            Op::UserToken(r) => Output::UserToken(self.user_token(app, r).await?),
            Op::UserAuthenticate(r) => Output::UserAuthenticate(self.authenticate(app, r).await?),
            Op::UserGroupsList(r) => Output::UserGroupsList(self.user_groups(app, r).await?),
            Op::UserChatroomsList(r) => Output::UserChatroomsList(self.user_rooms(app, r).await?),
            Op::UserSettingPut(r) => Output::UserSettingPut(self.setting_put(app, r).await?),
            Op::UserSettingGet(r) => Output::UserSettingGet(self.setting_get(app, r).await?),
            Op::UserFilesList(r) => Output::UserFilesList(self.user_files(app, r).await?),
            Op::FriendAdd(r) => Output::FriendAdd(self.friend_add(app, r).await?),
            Op::FriendRemove(r) => Output::FriendRemove(self.friend_remove(app, r).await?),
            Op::FriendNoteUpdate(r) => Output::FriendNoteUpdate(self.friend_note(app, r).await?),
            Op::FriendList(r) => Output::FriendList(self.friend_list(app, r).await?),
            Op::BlacklistAdd(r) => Output::BlacklistAdd(self.blacklist_add(app, r).await?),
            Op::BlacklistRemove(r) => Output::BlacklistRemove(self.blacklist_remove(app, r).await?),
            Op::BlacklistList(r) => Output::BlacklistList(self.blacklist_list(app, r).await?),
            Op::GroupCreate(r) => Output::GroupCreate(self.group_create(ctx, r).await?),
            Op::GroupGet(r) => Output::GroupGet(self.group_get(app, r).await?),
            Op::GroupUpdate(r) => Output::GroupUpdate(self.group_update(app, r).await?),
            Op::GroupDismiss(r) => Output::GroupDismiss(self.group_dismiss(app, r).await?),
            Op::GroupMembersUpdate(r) => {
                Output::GroupMembersUpdate(self.members_update(app, r).await?)
            }
            Op::GroupMembersList(r) => Output::GroupMembersList(self.members_list(app, r).await?),
            Op::GroupJoin(r) => Output::GroupJoin(self.group_join(app, r).await?),
            Op::GroupQuit(r) => Output::GroupQuit(self.group_quit(app, r).await?),
            Op::GroupList(r) => Output::GroupList(self.group_list(app, r).await?),
            Op::GroupShield(r) => Output::GroupShield(self.group_shield(app, r).await?),
            Op::GroupMute(r) => Output::GroupMute(self.group_mute(app, r).await?),
            Op::GroupManagersSet(r) => Output::GroupManagersSet(self.managers_set(app, r).await?),
            Op::GroupOwnerTransfer(r) => {
                Output::GroupOwnerTransfer(self.owner_transfer(app, r).await?)
            }
            Op::GroupSync(r) => Output::GroupSync(self.group_sync(app, r).await?),
            Op::ChatroomCreate(r) => Output::ChatroomCreate(self.room_create(app, r).await?),
            Op::ChatroomGet(r) => Output::ChatroomGet(self.room_get(app, r).await?),
            Op::ChatroomList(r) => Output::ChatroomList(self.room_list(app, r).await?),
            Op::ChatroomUpdate(r) => Output::ChatroomUpdate(self.room_update(app, r).await?),
            Op::ChatroomDelete(r) => Output::ChatroomDelete(self.room_delete(app, r).await?),
            Op::ChatroomMute(r) => Output::ChatroomMute(self.room_mute(app, r).await?),
            Op::ChatroomMembersUpdate(r) => {
                Output::ChatroomMembersUpdate(self.room_members_update(app, r).await?)
            }
            Op::ChatroomMembersList(r) => {
                Output::ChatroomMembersList(self.room_members_list(app, r).await?)
            }
            Op::MessageSend(r) => Output::MessageSend(self.message_send(app, r).await?),
            Op::MessageRetract(r) => Output::MessageRetract(self.message_retract(app, r).await?),
            Op::MessageOfflineCount(r) => {
                Output::MessageOfflineCount(self.offline_count(app, r).await?)
            }
            Op::MessageHistoryList(r) => {
                Output::MessageHistoryList(self.history_list(app, r).await?)
            }
            Op::MessageImport(r) => Output::MessageImport(self.message_import(app, r).await?),
            Op::MediaUpload(r) => Output::MediaUpload(self.media_upload(ctx, r).await?),
            Op::MediaUrl(r) => Output::MediaUrl(self.media_url(app, r).await?),
            Op::FileGet(r) => Output::FileGet(self.file_get(app, r).await?),
            Op::ConversationFilesList(r) => {
                Output::ConversationFilesList(self.conversation_files(app, r).await?)
            }
            Op::ConversationTopSet(r) => Output::ConversationTopSet(self.top_set(app, r).await?),
            Op::ConversationTopGet(r) => Output::ConversationTopGet(self.top_get(app, r).await?),
            Op::SensitiveWordAdd(r) => Output::SensitiveWordAdd(self.word_add(app, r).await?),
            Op::SensitiveWordUpdate(r) => {
                Output::SensitiveWordUpdate(self.word_update(app, r).await?)
            }
            Op::SensitiveWordDelete(r) => {
                Output::SensitiveWordDelete(self.word_delete(app, r).await?)
            }
            Op::SensitiveWordList(r) => Output::SensitiveWordList(self.word_list(app, r).await?),
            Op::SensitiveWordStatusSet(r) => {
                Output::SensitiveWordStatusSet(self.switch_set(app, admin::WORD_FILTER, r).await?)
            }
            Op::SensitiveWordStatusGet(_) => {
                Output::SensitiveWordStatusGet(self.switch_get(app, admin::WORD_FILTER).await?)
            }
            Op::SdkRegisterSet(r) => {
                Output::SdkRegisterSet(self.switch_set(app, admin::SDK_REGISTER, r).await?)
            }
            Op::SdkRegisterGet(_) => {
                Output::SdkRegisterGet(self.switch_get(app, admin::SDK_REGISTER).await?)
            }
            Op::SystemSettingsGet(r) => {
                Output::SystemSettingsGet(self.system_setting_get(app, r).await?)
            }
            Op::SystemSettingsSet(r) => {
                Output::SystemSettingsSet(self.system_setting_set(app, r).await?)
            }
            Op::HealthCheck(_) => Output::HealthCheck(self.health().await?),
            Op::CustomerGet(_) => Output::CustomerGet(self.customer()),
            Op::CustomerServiceGet(r) => {
                Output::CustomerServiceGet(self.customer_service(app, r).await?)
            }
            Op::RobotUpsert(r) => Output::RobotUpsert(self.robot_upsert(app, r).await?),
            Op::AuthTokenIssue(_) => {
                return Err(Error::unsupported(&self.name, "auth.token.issue"))
            }
        })
    }
}
