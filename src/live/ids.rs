//! Ids between the two sides of a migration. Group, chatroom and message
//! ids differ per provider; the store pairs them (old id ↔ new id, with the
//! side the app sees). The app sees the old side's id of an entity made on
//! the old side (or copied), the new side's of one made there first.

use std::collections::HashMap;

use crate::canonical::ids::{sent_to, visit_op, visit_output, IdKind};
use crate::canonical::{Op, Output, Result};

use super::sql::{Pair, Sql};

/// One side of a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The frontend's provider.
    Old,
    /// The migration's `to`.
    New,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Old => Side::New,
            Side::New => Side::Old,
        }
    }

    /// The name in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Old => "old",
            Side::New => "new",
        }
    }
}

/// A pair's origin: the app sees its source id.
const SOURCE: &str = "source";
/// A pair's origin: the app sees its target id.
const TARGET: &str = "target";
/// The kind of message ids in the pair table.
const MESSAGE: &str = "message";

/// Calls `f` with every pairable id of a request (groups, chatrooms, the
/// message of a retract or file lookup).
fn visit_request(op: &mut Op, f: &mut dyn FnMut(&'static str, &mut String)) {
    visit_op(op, &mut |kind, id| f(kind.as_str(), id));
    match op {
        Op::MessageRetract(r) => f(MESSAGE, &mut r.msg_id),
        Op::FileGet(r) => f(MESSAGE, &mut r.msg_id),
        _ => {}
    }
}

/// Calls `f` with every pairable id of a result.
fn visit_result(
    out: &mut Output,
    sent: Option<IdKind>,
    f: &mut dyn FnMut(&'static str, &mut String),
) {
    visit_output(out, sent, &mut |kind, id| f(kind.as_str(), id));
    if let Output::MessageSend(s) = out {
        f(MESSAGE, &mut s.msg_id);
        s.deliveries
            .iter_mut()
            .for_each(|d| f(MESSAGE, &mut d.msg_id));
    }
}

/// How an id is rewritten: looked up as a source or target id, and which
/// origins of the pair found apply (`None`: any).
#[derive(Clone, Copy)]
struct Rule {
    by_source: bool,
    origin: Option<&'static str>,
}

impl Rule {
    /// App-visible ids toward `side`.
    fn toward(side: Side) -> Rule {
        match side {
            // Old ids the app sees map to their new twins.
            Side::New => Rule {
                by_source: true,
                origin: Some(SOURCE),
            },
            // New ids the app sees map to their old twins.
            Side::Old => Rule {
                by_source: false,
                origin: Some(TARGET),
            },
        }
    }

    /// `side`'s ids as the app sees them.
    fn seen_from(side: Side) -> Rule {
        match side {
            Side::New => Rule {
                by_source: false,
                origin: Some(SOURCE),
            },
            Side::Old => Rule {
                by_source: true,
                origin: Some(TARGET),
            },
        }
    }

    /// `side`'s ids as the other side knows them, whoever made them.
    fn across(side: Side) -> Rule {
        Rule {
            by_source: side == Side::Old,
            origin: None,
        }
    }
}

/// Id translation for one migration (`from` old, `to` new).
pub struct Ids<'a> {
    /// The store's statements.
    pub sql: Sql<'a>,
    /// The old provider.
    pub from: &'a str,
    /// The new provider.
    pub to: &'a str,
}

impl Ids<'_> {
    async fn lookup(
        &self,
        ids: Vec<(&'static str, String)>,
        rule: Rule,
    ) -> Result<HashMap<(&'static str, String), String>> {
        let mut found = HashMap::new();
        for (kind, id) in ids {
            if found.contains_key(&(kind, id.clone())) {
                continue;
            }
            let pair = crate::store::pairs::find(
                self.sql.0,
                self.from,
                self.to,
                kind,
                &id,
                rule.by_source,
            )
            .await?;
            if let Some((other, origin)) = pair {
                if rule.origin.is_none_or(|o| o == origin) {
                    found.insert((kind, id), other);
                }
            }
        }
        Ok(found)
    }

    async fn rewrite_op(&self, op: &mut Op, rule: Rule) -> Result<()> {
        let mut ids = Vec::new();
        visit_request(op, &mut |kind, id| ids.push((kind, id.clone())));
        if ids.is_empty() {
            return Ok(());
        }
        let found = self.lookup(ids, rule).await?;
        visit_request(op, &mut |kind, id| {
            if let Some(v) = found.get(&(kind, id.clone())) {
                *id = v.clone();
            }
        });
        Ok(())
    }

    async fn rewrite_output(
        &self,
        out: &mut Output,
        sent: Option<IdKind>,
        rule: Rule,
    ) -> Result<()> {
        let mut ids = Vec::new();
        visit_result(out, sent, &mut |kind, id| ids.push((kind, id.clone())));
        if ids.is_empty() {
            return Ok(());
        }
        let found = self.lookup(ids, rule).await?;
        visit_result(out, sent, &mut |kind, id| {
            if let Some(v) = found.get(&(kind, id.clone())) {
                *id = v.clone();
            }
        });
        Ok(())
    }

    /// Rewrites the app's ids in `op` into `side`'s.
    pub async fn side_ids(&self, op: &mut Op, side: Side) -> Result<()> {
        self.rewrite_op(op, Rule::toward(side)).await
    }

    /// Rewrites `side`'s ids in a result of `op` into the app's.
    pub async fn app_ids(&self, op: &Op, out: &mut Output, side: Side) -> Result<()> {
        self.rewrite_output(out, sent_to(op), Rule::seen_from(side))
            .await
    }

    /// Rewrites `side`'s ids in `op` into the other side's.
    pub async fn across(&self, op: &mut Op, side: Side) -> Result<()> {
        self.rewrite_op(op, Rule::across(side)).await
    }

    /// Rewrites the ids in `out`, a result of the other side than `side`,
    /// into `side`'s (to compare it with `side`'s own result).
    pub async fn back(&self, op: &Op, out: &mut Output, side: Side) -> Result<()> {
        self.rewrite_output(out, sent_to(op), Rule::across(side.other()))
            .await
    }

    /// The pairs an entity made on both sides forms: `first` is the result
    /// on `side` (where the app saw it made), `second` on the other side.
    pub fn pairs(&self, op: &Op, first: &Output, second: &Output, side: Side) -> Vec<Pair> {
        let sent = sent_to(op);
        let mut a = Vec::new();
        let mut b = Vec::new();
        visit_result(&mut first.clone(), sent, &mut |kind, id| {
            a.push((kind, id.clone()))
        });
        visit_result(&mut second.clone(), sent, &mut |kind, id| {
            b.push((kind, id.clone()))
        });
        // Only results that make entities: a create's group or room, a
        // sent message and its deliveries (the same shape on both sides).
        let made = matches!(
            first,
            Output::GroupCreate(_) | Output::ChatroomCreate(_) | Output::MessageSend(_)
        );
        if !made || a.len() != b.len() {
            return Vec::new();
        }
        a.into_iter()
            .zip(b)
            .filter(|((ka, ia), (kb, ib))| ka == kb && ia != ib)
            .map(|((kind, ia), (_, ib))| {
                let (source, target, origin) = match side {
                    Side::Old => (ia, ib, SOURCE),
                    Side::New => (ib, ia, TARGET),
                };
                Pair {
                    from: self.from.to_string(),
                    to: self.to.to_string(),
                    kind: kind.to_string(),
                    source,
                    target,
                    origin,
                }
            })
            .collect()
    }
}
