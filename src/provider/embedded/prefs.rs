//! Per-user preferences: do-not-disturb, group shields, key/value settings
//! and pinned conversations.

use deadpool_sqlite::rusqlite::OptionalExtension;

use super::db::tag;
use super::groups::group_row;
use super::users::{ref_id, user_id};
use super::EmbeddedProvider;
use crate::canonical::admin::{ConversationTopGet, ConversationTopSet, TopState};
use crate::canonical::common::Done;
use crate::canonical::group::GroupShield;
use crate::canonical::user::{UserNodisturbSet, UserSetting, UserSettingGet, UserSettingPut};
use crate::canonical::{Error, Reason, Result};

impl EmbeddedProvider {
    /// `user.nodisturb.set`: one-to-one chats (idempotent), groups (strict:
    /// already on / already off are errors) and the global flag, all at once.
    pub(super) async fn nodisturb_set(&self, app: &str, req: UserNodisturbSet) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |c| {
                let id = user_id(c, &app, &req.username)?;
                for other in &req.single.add {
                    c.execute(
                        "INSERT OR IGNORE INTO nodisturb_users (user_id, other_id) VALUES (?1, ?2)",
                        (id, ref_id(c, &app, other)?),
                    )?;
                }
                for other in &req.single.remove {
                    c.execute(
                        "DELETE FROM nodisturb_users WHERE user_id = ?1 AND other_id = ?2",
                        (id, ref_id(c, &app, other)?),
                    )?;
                }
                for gid in &req.group.add {
                    let added = c.execute(
                        "INSERT OR IGNORE INTO nodisturb_groups (user_id, group_id)
                         VALUES (?1, ?2)",
                        (id, group_row(c, &app, gid)?),
                    )?;
                    if added == 0 {
                        let msg = format!("do-not-disturb is on already for group {gid}");
                        return Err(Error::invalid(Reason::AlreadyOn, msg));
                    }
                }
                for gid in &req.group.remove {
                    let removed = c.execute(
                        "DELETE FROM nodisturb_groups WHERE user_id = ?1 AND group_id = ?2",
                        (id, group_row(c, &app, gid)?),
                    )?;
                    if removed == 0 {
                        let msg = format!("do-not-disturb is off already for group {gid}");
                        return Err(Error::invalid(Reason::AlreadyOff, msg));
                    }
                }
                if let Some(global) = req.global {
                    c.execute(
                        "UPDATE users SET nodisturb = ?2 WHERE id = ?1",
                        (id, global),
                    )?;
                }
                Ok(Done {})
            })
            .await
    }

    /// `user.settings.put`.
    pub(super) async fn setting_put(&self, app: &str, req: UserSettingPut) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |c| {
                let id = user_id(c, &app, &req.username)?;
                c.execute(
                    "INSERT INTO user_settings (user_id, scope, key, value) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (user_id, scope, key) DO UPDATE SET value = excluded.value",
                    (id, req.scope, &req.key, &req.value),
                )?;
                Ok(Done {})
            })
            .await
    }

    /// `user.settings.get`: `value` is absent when never set.
    pub(super) async fn setting_get(&self, app: &str, req: UserSettingGet) -> Result<UserSetting> {
        let app = app.to_owned();
        self.db
            .read(move |c| {
                let id = user_id(c, &app, &req.username)?;
                let value = c
                    .query_row(
                        "SELECT value FROM user_settings
                         WHERE user_id = ?1 AND scope = ?2 AND key = ?3",
                        (id, req.scope, &req.key),
                        |r| r.get(0),
                    )
                    .optional()?;
                Ok(UserSetting {
                    username: req.username,
                    scope: req.scope,
                    key: req.key,
                    value,
                })
            })
            .await
    }

    /// `conversation.top.set`: pin or unpin a conversation for a user.
    pub(super) async fn top_set(&self, app: &str, req: ConversationTopSet) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |c| {
                let id = user_id(c, &app, &req.username)?;
                let conv = &req.conversation;
                let sql = match req.top {
                    true => {
                        "INSERT OR IGNORE INTO conversation_tops (user_id, target_type, target, line)
                             VALUES (?1, ?2, ?3, ?4)"
                    }
                    false => {
                        "DELETE FROM conversation_tops
                              WHERE user_id = ?1 AND target_type = ?2 AND target = ?3 AND line = ?4"
                    }
                };
                c.prepare_cached(sql)?
                    .execute((id, tag(&conv.target_type), &conv.target, conv.line))?;
                Ok(Done {})
            })
            .await
    }

    /// `conversation.top.get`.
    pub(super) async fn top_get(&self, app: &str, req: ConversationTopGet) -> Result<TopState> {
        let app = app.to_owned();
        self.db
            .read(move |c| {
                let id = user_id(c, &app, &req.username)?;
                let conv = &req.conversation;
                let top = c
                    .prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM conversation_tops
                         WHERE user_id = ?1 AND target_type = ?2 AND target = ?3 AND line = ?4)",
                    )?
                    .query_row((id, tag(&conv.target_type), &conv.target, conv.line), |r| {
                        r.get(0)
                    })?;
                Ok(TopState { top })
            })
            .await
    }

    /// `group.shield`: block or unblock group messages for one user (idempotent).
    pub(super) async fn group_shield(&self, app: &str, req: GroupShield) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |c| {
                let user = user_id(c, &app, &req.username)?;
                for gid in &req.add {
                    c.execute(
                        "INSERT OR IGNORE INTO group_shields (user_id, group_id) VALUES (?1, ?2)",
                        (user, group_row(c, &app, gid)?),
                    )?;
                }
                for gid in &req.remove {
                    c.execute(
                        "DELETE FROM group_shields WHERE user_id = ?1 AND group_id = ?2",
                        (user, group_row(c, &app, gid)?),
                    )?;
                }
                Ok(Done {})
            })
            .await
    }
}
