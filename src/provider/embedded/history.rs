//! Message history: a conversation read page by page in id order, and
//! messages imported as they were sent (their sender, time and, when free,
//! id), each kept once.

use super::db::{allocate, json_column, tag, tag_column, to_json, Counter};
use super::groups::group_row;
use super::rooms::room_row;
use super::users::user_id;
use super::EmbeddedProvider;
use crate::canonical::message::{
    HistoryMessage, HistoryPage, Imported, MessageHistoryList, MessageImport,
};
use crate::canonical::model::TargetType;
use crate::canonical::{Error, Reason, Result};
use crate::db::{Dialect, Param, Row, Tx};

/// Messages per page when the caller asks for none, and at most.
const PAGE: i64 = 100;
const MAX_PAGE: i64 = 1000;

fn history_row(row: &Row<'_>) -> Result<HistoryMessage> {
    Ok(HistoryMessage {
        id: row.get::<i64>(0)?.to_string(),
        from: row.get(1)?,
        target_type: tag_column(row, 2)?,
        to: row.get(3)?,
        time: row.get(4)?,
        kind: tag_column(row, 5)?,
        content: json_column(row, 6)?,
    })
}

/// Fails with not_found unless the user, group or room exists.
fn check_target(tx: &Tx<'_>, app: &str, kind: TargetType, target: &str) -> Result<()> {
    match kind {
        TargetType::User => user_id(tx, app, target).map(drop),
        TargetType::Group => group_row(tx, app, target).map(drop),
        TargetType::Chatroom => room_row(tx, app, target).map(drop),
    }
}

fn list(tx: &Tx<'_>, app: &str, req: &MessageHistoryList) -> Result<HistoryPage> {
    check_target(tx, app, req.target_type, &req.target)?;
    let after: i64 = match req.cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => c
            .parse()
            .map_err(|_| Error::invalid(Reason::Param, format!("bad cursor `{c}`")))?,
    };
    let limit = req.limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    let kind = tag(&req.target_type);
    let columns = "SELECT id, sender, target_type, target, created, kind, content FROM messages";
    let (sql, args): (String, Vec<&dyn Param>) = match (req.target_type, &req.peer) {
        (TargetType::User, Some(peer)) => {
            user_id(tx, app, peer)?;
            (
                format!(
                    "{columns} WHERE app = ?1 AND target_app = ?1 AND target_type = ?2 \
                     AND ((sender = ?3 AND target = ?4) OR (sender = ?4 AND target = ?3)) \
                     AND retracted = FALSE AND id > ?5 ORDER BY id LIMIT ?6"
                ),
                vec![&app, &kind, &req.target, peer, &after, &limit],
            )
        }
        (TargetType::User, None) => (
            format!(
                "{columns} WHERE app = ?1 AND target_app = ?1 AND target_type = ?2 \
                 AND sender = ?3 AND retracted = FALSE AND id > ?4 ORDER BY id LIMIT ?5"
            ),
            vec![&app, &kind, &req.target, &after, &limit],
        ),
        _ => (
            format!(
                "{columns} WHERE target_app = ?1 AND target_type = ?2 AND target = ?3 \
                 AND retracted = FALSE AND id > ?4 ORDER BY id LIMIT ?5"
            ),
            vec![&app, &kind, &req.target, &after, &limit],
        ),
    };
    let items = tx.query_all(&sql, &args, history_row)?;
    let full = i64::try_from(items.len()).unwrap_or(i64::MAX) == limit;
    Ok(HistoryPage {
        cursor: items.last().filter(|_| full).map(|m| m.id.clone()),
        items,
    })
}

/// Keeps the message counter past `id`, so sent messages never take it.
fn reserve_past(tx: &Tx<'_>, id: i64) -> Result<()> {
    let sql = match tx.dialect() {
        Dialect::Sqlite => "UPDATE counters SET next = MAX(next, ?1 + 1) WHERE name = 'message'",
        Dialect::Postgres => {
            "SELECT setval('message_ids', GREATEST(?1, last_value)) FROM message_ids"
        }
    };
    match tx.dialect() {
        Dialect::Sqlite => tx.execute(sql, &[&id]).map(drop),
        Dialect::Postgres => tx.query_one(sql, &[&id], |r| r.get::<i64>(0)).map(drop),
    }
}

fn import(tx: &Tx<'_>, app: &str, req: &MessageImport) -> Result<Imported> {
    user_id(tx, app, &req.from)?;
    check_target(tx, app, req.target_type, &req.to)?;
    let content = to_json(&req.content)?;
    let (target_type, kind) = (tag(&req.target_type), tag(&req.kind));
    let insert = |id: i64| {
        tx.execute(
            "INSERT INTO messages
                (id, app, sender, target_type, target_app, target, kind, content, no_offline, created)
             VALUES (?1, ?2, ?3, ?4, ?2, ?5, ?6, ?7, TRUE, ?8) ON CONFLICT (id) DO NOTHING",
            &[&id, &app, &req.from, &target_type, &req.to, &kind, &content, &req.time],
        )
    };
    if let Some(id) = req.id.as_deref().and_then(|id| id.parse::<i64>().ok()) {
        if insert(id)? == 1 {
            reserve_past(tx, id)?;
            return Ok(Imported {
                msg_id: id.to_string(),
                imported: true,
            });
        }
        // Taken: by this very message (imported before), or by another.
        let same: bool = tx.query_one(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE id = ?1 AND app = ?2 AND sender = ?3 \
             AND target_type = ?4 AND target = ?5 AND created = ?6)",
            &[&id, &app, &req.from, &target_type, &req.to, &req.time],
            |r| r.get(0),
        )?;
        if same {
            return Ok(Imported {
                msg_id: id.to_string(),
                imported: false,
            });
        }
    }
    let id = allocate(tx, Counter::Message, 1)?
        .first()
        .copied()
        .ok_or_else(|| Error::internal("no message id allocated"))?;
    insert(id)?;
    Ok(Imported {
        msg_id: id.to_string(),
        imported: true,
    })
}

impl EmbeddedProvider {
    /// `message.history.list`: a conversation's messages in id order.
    pub(super) async fn history_list(
        &self,
        app: &str,
        req: MessageHistoryList,
    ) -> Result<HistoryPage> {
        let app = app.to_owned();
        self.db.read(move |tx| list(tx, &app, &req)).await
    }

    /// `message.import`: one message as it was sent; the same id twice is
    /// kept once.
    pub(super) async fn message_import(&self, app: &str, req: MessageImport) -> Result<Imported> {
        let app = app.to_owned();
        self.db.write(move |tx| import(tx, &app, &req)).await
    }
}
