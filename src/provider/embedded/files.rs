//! Files sent in messages: one message's file, a conversation's files, and
//! the files a user sent or received one-to-one. Retracted messages are left out.

use super::db::{json_column, tag_column};
use super::paging::{Page, FILES};
use super::users::user_id;
use super::EmbeddedProvider;
use crate::canonical::common::Items;
use crate::canonical::message::{ConversationFiles, FileGet, UserFiles};
use crate::canonical::model::{Content, ConversationType, FileInfo};
use crate::canonical::{Error, Reason, Result};
use crate::db::{Param, Row};

/// `SELECT` of the columns [`file_from_row`] reads, from `messages` that carry a
/// file and were not retracted: the start of every statement here.
macro_rules! select_files {
    () => {
        "SELECT id, sender, target_type, target, content, created FROM messages
         WHERE kind IN ('image', 'voice', 'video', 'file') AND retracted = FALSE"
    };
}

fn file_from_row(row: &Row<'_>) -> Result<FileInfo> {
    let content: Content = json_column(row, 4)?;
    Ok(FileInfo {
        msg_id: row.get::<i64>(0)?.to_string(),
        from: Some(row.get(1)?),
        target_type: Some(tag_column(row, 2)?),
        target: Some(row.get(3)?),
        filename: content.filename,
        url: content.url,
        size: content.size,
        created: Some(row.get(5)?),
    })
}

impl EmbeddedProvider {
    /// `file.get`: the file of one message of (or to) this app.
    pub(super) async fn file_get(&self, app: &str, req: FileGet) -> Result<FileInfo> {
        let missing = Error::not_found(
            Reason::Message,
            format!("no file in message {}", req.msg_id),
        );
        let Ok(id) = req.msg_id.parse::<i64>() else {
            return Err(missing);
        };
        let app = app.to_owned();
        self.db
            .read(move |tx| {
                tx.query_opt(
                    concat!(
                        select_files!(),
                        " AND id = ?1 AND (app = ?2 OR target_app = ?2)"
                    ),
                    &[&id, &app],
                    file_from_row,
                )?
                .ok_or_else(|| missing.clone())
            })
            .await
    }

    /// `conversation.files.list`: one-to-one (either direction), group or
    /// chatroom; channels carry no files here.
    pub(super) async fn conversation_files(
        &self,
        app: &str,
        req: ConversationFiles,
    ) -> Result<Items<FileInfo>> {
        // ?1 app, ?2 the other side, ?3 from_time, ?4 limit, ?5 the user
        // (named one-to-one only: every parameter a statement takes it uses).
        let conversation = match req.conversation.target_type {
            ConversationType::User => {
                "target_type = 'user' AND app = ?1 AND target_app = ?1
                  AND ((sender = ?5 AND target = ?2) OR (sender = ?2 AND target = ?5))"
            }
            ConversationType::Group => "target_type = 'group' AND target_app = ?1 AND target = ?2",
            ConversationType::Chatroom => {
                "target_type = 'chatroom' AND target_app = ?1 AND target = ?2"
            }
            ConversationType::Channel => {
                return Err(Error::invalid(
                    Reason::Param,
                    "conversations with users, groups or chatrooms only have files",
                ))
            }
        };
        let (bound, direction) = match req.desc {
            true => ("<", "DESC"),
            false => (">", "ASC"),
        };
        let limit = Page::at(0, req.count, FILES)?.limit();
        let sql = format!(
            concat!(
                select_files!(),
                " AND {} AND (created {} ?3 OR ?3 IS NULL) ORDER BY created {}, id {} LIMIT ?4"
            ),
            conversation, bound, direction, direction
        );
        let (app, one_to_one) = (app.to_owned(), conversation.contains("?5"));
        self.db
            .read(move |tx| {
                user_id(tx, &app, &req.username)?;
                let params: [&dyn Param; 5] = [
                    &app,
                    &req.conversation.target,
                    &req.from_time,
                    &limit,
                    &req.username,
                ];
                let params = if one_to_one {
                    &params[..]
                } else {
                    &params[..4]
                };
                let items = tx.query_all(&sql, params, file_from_row)?;
                Ok(Items { items })
            })
            .await
    }

    /// `user.files.list`: files the user sent or received one-to-one.
    pub(super) async fn user_files(&self, app: &str, req: UserFiles) -> Result<Items<FileInfo>> {
        let page = Page::at(req.offset, req.count, FILES)?;
        let direction = if req.desc { "DESC" } else { "ASC" };
        let sql = format!(
            concat!(
                select_files!(),
                " AND target_type = 'user'
                 AND ((app = ?1 AND sender = ?2) OR (target_app = ?1 AND target = ?2))
                 ORDER BY created {}, id {} LIMIT ?3 OFFSET ?4"
            ),
            direction, direction
        );
        let app = app.to_owned();
        self.db
            .read(move |tx| {
                user_id(tx, &app, &req.username)?;
                let params: [&dyn Param; 4] = [&app, &req.username, &page.limit(), &page.offset()];
                let items = tx.query_all(&sql, &params, file_from_row)?;
                Ok(Items { items })
            })
            .await
    }
}
