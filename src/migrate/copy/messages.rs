//! Message history, conversation by conversation: the one-to-one messages
//! each user sent, then each group's messages, oldest first. Every message
//! imported is paired with its id on the target (id pairs, kind `message`)
//! before the next one, so a rerun or a resumed run skips it whatever the
//! target does with a message imported twice.

use super::{Cx, Done, Fatal, Step};
use crate::canonical::message::{HistoryMessage, MessageHistoryList, MessageImport};
use crate::canonical::model::TargetType;
use crate::canonical::{Error, Op, Reason, Result};
use crate::migrate::sides::{take, Side};
use crate::migrate::walk::PAGE;

/// The pair kind of messages (as a live migration's).
const MESSAGE: &str = "message";

/// One conversation whose history is copied.
#[derive(Debug, Clone)]
pub enum Conversation {
    /// The one-to-one messages a user sent.
    Sent(String),
    /// A group's messages, by its id on the source.
    Group(String),
}

impl Conversation {
    /// How failures name it.
    pub fn describe(&self) -> String {
        match self {
            Conversation::Sent(u) => format!("messages sent by user {u}"),
            Conversation::Group(g) => format!("messages of group {g}"),
        }
    }

    /// The history request of its page at `cursor` on a side where the
    /// conversation's target is `target`.
    pub fn page(&self, target: &str, cursor: Option<String>) -> Op {
        let target_type = match self {
            Conversation::Sent(_) => TargetType::User,
            Conversation::Group(_) => TargetType::Group,
        };
        Op::MessageHistoryList(MessageHistoryList {
            target_type,
            target: target.to_string(),
            peer: None,
            cursor,
            limit: Some(PAGE as i64),
        })
    }

    /// Its id on the source.
    pub fn source_id(&self) -> &str {
        match self {
            Conversation::Sent(u) => u,
            Conversation::Group(g) => g,
        }
    }

    /// Its id on the target: a group's pair (the group must have been copied).
    pub async fn target_id(&self, cx: &Cx<'_>) -> Result<String> {
        match self {
            Conversation::Sent(u) => Ok(u.clone()),
            Conversation::Group(g) => {
                let (from, to) = (cx.source.name(), cx.target.name());
                cx.store
                    .pair_target(from, to, "group", g)
                    .await?
                    .ok_or_else(|| {
                        Error::not_found(Reason::Group, "the group was not copied (kind groups)")
                    })
            }
        }
    }
}

/// Every message of a conversation on `side` (where its id is `target`),
/// page by page, to `each`; the first error stops it.
pub(in crate::migrate) async fn history(
    side: &Side,
    c: &Conversation,
    target: &str,
    mut each: impl AsyncFnMut(HistoryMessage) -> Result<()>,
) -> Result<()> {
    let mut cursor: Option<String> = None;
    loop {
        let page = take!(
            side.run(c.page(target, cursor.clone())).await?,
            MessageHistoryList
        )?;
        for m in page.items {
            each(m).await?;
        }
        match page.cursor {
            Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
            _ => return Ok(()),
        }
    }
}

/// Copies one conversation's history.
pub async fn messages(cx: &Cx<'_>, c: Conversation) -> std::result::Result<Step, Fatal> {
    let mut step = Step::default();
    let to = match c.target_id(cx).await {
        Ok(t) => t,
        Err(e) => {
            step.add(c.describe(), Err(e))?;
            return Ok(step);
        }
    };
    // A fatal error of one message comes back out of the walk, and stops
    // the item through the step.
    let read = history(cx.source, &c, c.source_id(), async |m: HistoryMessage| {
        let entity = format!("message {} ({})", m.id, c.describe());
        let done = import(cx, m, &to).await;
        step.add(entity, done).map_err(|Fatal(e)| e)
    })
    .await;
    if let Err(e) = read {
        step.add(c.describe(), Err(e))?;
    }
    Ok(step)
}

/// Imports one message unless it is paired already, then pairs it.
async fn import(cx: &Cx<'_>, m: HistoryMessage, group: &str) -> Result<Done> {
    let (from, to) = (cx.source.name(), cx.target.name());
    if cx
        .store
        .pair_target(from, to, MESSAGE, &m.id)
        .await?
        .is_some()
    {
        return Ok(Done::Skipped);
    }
    let op = Op::MessageImport(MessageImport {
        id: Some(m.id.clone()),
        from: m.from,
        to: match m.target_type {
            TargetType::User => m.to,
            _ => group.to_string(),
        },
        target_type: m.target_type,
        time: m.time,
        kind: m.kind,
        content: m.content,
    });
    let done = take!(cx.target.run(op).await?, MessageImport)?;
    cx.store
        .record_pair(from, to, MESSAGE, &m.id, &done.msg_id)
        .await?;
    Ok(match done.imported {
        true => Done::Copied,
        false => Done::Skipped,
    })
}
