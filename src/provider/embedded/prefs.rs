//! Per-user preferences: do-not-disturb, group shields, key/value settings
//! and pinned conversations.

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
            .write(move |tx| {
                let id = user_id(tx, &app, &req.username)?;
                for other in &req.single.add {
                    tx.execute(
                        "INSERT INTO nodisturb_users (user_id, other_id) VALUES (?1, ?2)
                         ON CONFLICT DO NOTHING",
                        &[&id, &ref_id(tx, &app, other)?],
                    )?;
                }
                for other in &req.single.remove {
                    tx.execute(
                        "DELETE FROM nodisturb_users WHERE user_id = ?1 AND other_id = ?2",
                        &[&id, &ref_id(tx, &app, other)?],
                    )?;
                }
                for gid in &req.group.add {
                    let added = tx.execute(
                        "INSERT INTO nodisturb_groups (user_id, group_id) VALUES (?1, ?2)
                         ON CONFLICT DO NOTHING",
                        &[&id, &group_row(tx, &app, gid)?],
                    )?;
                    if added == 0 {
                        let msg = format!("do-not-disturb is on already for group {gid}");
                        return Err(Error::invalid(Reason::AlreadyOn, msg));
                    }
                }
                for gid in &req.group.remove {
                    let removed = tx.execute(
                        "DELETE FROM nodisturb_groups WHERE user_id = ?1 AND group_id = ?2",
                        &[&id, &group_row(tx, &app, gid)?],
                    )?;
                    if removed == 0 {
                        let msg = format!("do-not-disturb is off already for group {gid}");
                        return Err(Error::invalid(Reason::AlreadyOff, msg));
                    }
                }
                if let Some(global) = req.global {
                    tx.execute(
                        "UPDATE users SET nodisturb = ?2 WHERE id = ?1",
                        &[&id, &global],
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
            .write(move |tx| {
                let id = user_id(tx, &app, &req.username)?;
                tx.execute(
                    "INSERT INTO user_settings (user_id, scope, key, value) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (user_id, scope, key) DO UPDATE SET value = excluded.value",
                    &[&id, &req.scope, &req.key, &req.value],
                )?;
                Ok(Done {})
            })
            .await
    }

    /// `user.settings.get`: `value` is absent when never set.
    pub(super) async fn setting_get(&self, app: &str, req: UserSettingGet) -> Result<UserSetting> {
        let app = app.to_owned();
        self.db
            .read(move |tx| {
                let id = user_id(tx, &app, &req.username)?;
                let value = tx.query_opt(
                    "SELECT value FROM user_settings WHERE user_id = ?1 AND scope = ?2 AND key = ?3",
                    &[&id, &req.scope, &req.key],
                    |r| r.get(0),
                )?;
                Ok(UserSetting {
                    username: req.username.clone(),
                    scope: req.scope,
                    key: req.key.clone(),
                    value,
                })
            })
            .await
    }

    /// `conversation.top.set`: pin or unpin a conversation for a user.
    pub(super) async fn top_set(&self, app: &str, req: ConversationTopSet) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                let id = user_id(tx, &app, &req.username)?;
                let conv = &req.conversation;
                let sql = match req.top {
                    true => {
                        "INSERT INTO conversation_tops (user_id, target_type, target, line)
                             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING"
                    }
                    false => {
                        "DELETE FROM conversation_tops
                              WHERE user_id = ?1 AND target_type = ?2 AND target = ?3 AND line = ?4"
                    }
                };
                tx.execute(
                    sql,
                    &[&id, &tag(&conv.target_type), &conv.target, &conv.line],
                )?;
                Ok(Done {})
            })
            .await
    }

    /// `conversation.top.get`.
    pub(super) async fn top_get(&self, app: &str, req: ConversationTopGet) -> Result<TopState> {
        let app = app.to_owned();
        self.db
            .read(move |tx| {
                let id = user_id(tx, &app, &req.username)?;
                let conv = &req.conversation;
                let top = tx.query_one(
                    "SELECT EXISTS (SELECT 1 FROM conversation_tops
                     WHERE user_id = ?1 AND target_type = ?2 AND target = ?3 AND line = ?4)",
                    &[&id, &tag(&conv.target_type), &conv.target, &conv.line],
                    |r| r.get(0),
                )?;
                Ok(TopState { top })
            })
            .await
    }

    /// `group.shield`: block or unblock group messages for one user (idempotent).
    pub(super) async fn group_shield(&self, app: &str, req: GroupShield) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                let user = user_id(tx, &app, &req.username)?;
                for gid in &req.add {
                    tx.execute(
                        "INSERT INTO group_shields (user_id, group_id) VALUES (?1, ?2)
                         ON CONFLICT DO NOTHING",
                        &[&user, &group_row(tx, &app, gid)?],
                    )?;
                }
                for gid in &req.remove {
                    tx.execute(
                        "DELETE FROM group_shields WHERE user_id = ?1 AND group_id = ?2",
                        &[&user, &group_row(tx, &app, gid)?],
                    )?;
                }
                Ok(Done {})
            })
            .await
    }
}
