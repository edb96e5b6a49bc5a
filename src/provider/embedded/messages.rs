//! Messages: send (permission checks, content checks, sensitive-word
//! filtering, one stored row per target), retract, and offline counts.

use super::admin::{switch_enabled, WORD_FILTER};
use super::db::{allocate, tag, to_json, Counter};
use super::groups::group_row;
use super::login::disabled;
use super::media::find_media;
use super::members::membership;
use super::rooms::{muted_in_room, room_row};
use super::users::{no_user, user_id};
use super::EmbeddedProvider;
use crate::canonical::common::{Count, Done};
use crate::canonical::message::{Delivery, MessageRetract, MessageSend, Sent};
use crate::canonical::model::{Content, ContentKind, TargetType};
use crate::canonical::user::OfflineCount;
use crate::canonical::{Error, Reason, Result};
use crate::db::Tx;

/// invalid_argument/param unless the content has what its kind needs.
fn check_content(kind: ContentKind, content: &Content) -> Result<()> {
    let missing = match kind {
        ContentKind::Text => content
            .text
            .is_none()
            .then_some("a text message needs text"),
        ContentKind::Image | ContentKind::Voice | ContentKind::File => (content.media_id.is_none()
            && content.url.is_none())
        .then_some("a media message needs media_id or url"),
        _ => None,
    };
    missing.map_or(Ok(()), |m| Err(Error::invalid(Reason::Param, m)))
}

/// Fills the media fields the sender left out from a media file stored here.
fn complete_media(tx: &Tx<'_>, app: &str, base: &str, content: &mut Content) -> Result<()> {
    let Some(id) = content.media_id.as_deref() else {
        return Ok(());
    };
    let Some(media) = find_media(tx, app, id, base)? else {
        return Ok(());
    };
    content.url.get_or_insert(media.url);
    content.crc32 = content.crc32.or(media.crc32);
    content.size = content.size.or(media.size);
    content.hash = content.hash.take().or(media.hash);
    content.format = content.format.take().or(media.format);
    content.width = content.width.or(media.width);
    content.height = content.height.or(media.height);
    content.filename = content.filename.take().or(media.filename);
    Ok(())
}

/// Replaces every sensitive word of `app` in `text` by as many `*` as it has
/// characters (longest words first), when filtering is on.
fn filter_words(tx: &Tx<'_>, app: &str, text: &mut String) -> Result<()> {
    if !switch_enabled(tx, app, WORD_FILTER)? {
        return Ok(());
    }
    tx.query_all(
        "SELECT word FROM sensitive_words WHERE app = ?1 ORDER BY length(word) DESC, word",
        &[&app],
        |r| {
            let word: String = r.get(0)?;
            if text.contains(&word) {
                *text = text.replace(&word, &"*".repeat(word.chars().count()));
            }
            Ok(())
        },
    )?;
    Ok(())
}

/// Checks that the sender may send to `target`; the sender is `None` for admins.
fn check_target(
    tx: &Tx<'_>,
    app: &str,
    kind: TargetType,
    target: &str,
    sender: Option<(i64, &str)>,
) -> Result<()> {
    match kind {
        TargetType::User => {
            let to = user_id(tx, app, target)?;
            if let Some((from, name)) = sender {
                let blocked: bool = tx.query_one(
                    "SELECT EXISTS (SELECT 1 FROM blacklist WHERE user_id = ?1 AND blocked_id = ?2)",
                    &[&to, &from],
                    |r| r.get(0),
                )?;
                if blocked {
                    return Err(Error::denied(
                        Reason::Blacklist,
                        format!("{target} blocked {name}"),
                    ));
                }
            }
        }
        TargetType::Group => {
            let group = group_row(tx, app, target)?;
            if let Some((from, name)) = sender {
                match membership(tx, group, from)?.map(|(_, muted)| muted) {
                    None => {
                        return Err(Error::denied(
                            Reason::Member,
                            format!("{name} is not a member of {target}"),
                        ))
                    }
                    Some(true) => return Err(muted(name)),
                    Some(false) => {}
                }
            }
        }
        TargetType::Chatroom => {
            let room = room_row(tx, app, target)?;
            if let Some((from, name)) = sender {
                if muted_in_room(tx, room, from)? {
                    return Err(muted(name));
                }
            }
        }
    }
    Ok(())
}

/// Checks and stores a message (one row per target) in one transaction.
fn send(tx: &Tx<'_>, app: &str, base: &str, req: &MessageSend) -> Result<Sent> {
    let sender = match req.from_admin {
        true => None,
        false => {
            let (id, off): (i64, bool) = tx
                .query_opt(
                    "SELECT id, disabled FROM users WHERE app = ?1 AND username = ?2",
                    &[&app, &req.from],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?
                .ok_or_else(|| no_user(&req.from))?;
            if off {
                return Err(disabled(&req.from));
            }
            Some((id, req.from.as_str()))
        }
    };
    let target_app = req.target_app_key.as_deref().unwrap_or(app);
    for target in &req.targets {
        check_target(tx, target_app, req.target_type, target, sender)?;
    }
    let mut content = req.content.clone();
    complete_media(tx, app, base, &mut content)?;
    if let Some(text) = content.text.as_mut() {
        filter_words(tx, app, text)?;
    }
    let content = to_json(&content)?;
    let count = i64::try_from(req.targets.len()).map_err(Error::internal)?;
    let ids = allocate(tx, Counter::Message, count)?;
    let created = tx.now();
    let (target_type, kind) = (tag(&req.target_type), tag(&req.kind));
    let mut deliveries = Vec::with_capacity(req.targets.len());
    for (&id, target) in ids.iter().zip(&req.targets) {
        tx.execute(
            "INSERT INTO messages
                (id, app, sender, target_type, target_app, target, kind, content, no_offline, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            &[
                &id,
                &app,
                &req.from,
                &target_type,
                &target_app,
                target,
                &kind,
                &content,
                &req.no_offline,
                &created,
            ],
        )?;
        deliveries.push(Delivery {
            target: target.clone(),
            msg_id: id.to_string(),
        });
    }
    Ok(Sent {
        msg_id: deliveries
            .first()
            .map(|d| d.msg_id.clone())
            .unwrap_or_default(),
        created,
        deliveries,
    })
}

fn muted(username: &str) -> Error {
    Error::denied(Reason::Forbidden, format!("{username} is muted"))
}

impl EmbeddedProvider {
    /// `message.send`: one stored message per target.
    pub(super) async fn message_send(&self, app: &str, req: MessageSend) -> Result<Sent> {
        check_content(req.kind, &req.content)?;
        if req.targets.is_empty() {
            return Err(Error::invalid(Reason::Param, "no targets"));
        }
        let (app, base) = (app.to_owned(), self.cfg.media_base_url.clone());
        self.db.write(move |tx| send(tx, &app, &base, &req)).await
    }

    /// `message.retract`: only the sender, only once, only within the window.
    pub(super) async fn message_retract(&self, app: &str, req: MessageRetract) -> Result<Done> {
        let not_found = || {
            Error::not_found(
                Reason::Message,
                format!("message {} does not exist", req.msg_id),
            )
        };
        let id: i64 = req.msg_id.parse().map_err(|_| not_found())?;
        let window_ms =
            i64::try_from(self.cfg.retract_window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let app = app.to_owned();
        let found = self
            .db
            .write(move |tx| {
                let found: Option<(i64, bool)> = tx.query_opt(
                    "SELECT created, retracted FROM messages
                     WHERE id = ?1 AND app = ?2 AND sender = ?3",
                    &[&id, &app, &req.username],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                let Some((created, retracted)) = found else {
                    return Ok(false);
                };
                if retracted {
                    return Err(Error::exists(
                        Reason::Retracted,
                        "message retracted already",
                    ));
                }
                if tx.now().saturating_sub(created) > window_ms {
                    let msg = "too late to retract the message";
                    return Err(Error::limit(Reason::RetractWindow, msg));
                }
                tx.execute("UPDATE messages SET retracted = TRUE WHERE id = ?1", &[&id])?;
                Ok(true)
            })
            .await?;
        match found {
            true => Ok(Done {}),
            false => Err(not_found()),
        }
    }

    /// `message.offline_count`: one-to-one messages kept for the user.
    pub(super) async fn offline_count(&self, app: &str, req: OfflineCount) -> Result<Count> {
        let app = app.to_owned();
        self.db
            .read(move |tx| {
                user_id(tx, &app, &req.username)?;
                let count = tx.query_one(
                    "SELECT COUNT(*) FROM messages WHERE target_type = 'user' AND target_app = ?1
                     AND target = ?2 AND retracted = FALSE AND no_offline = FALSE",
                    &[&app, &req.username],
                    |r| r.get(0),
                )?;
                Ok(Count { count })
            })
            .await
    }
}
