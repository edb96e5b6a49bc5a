//! Cross-provider id pairs: a group, chatroom or message id on one provider
//! (`from`, the old one) and its twin on another (`to`, the new one).
//! `imbridge migrate` records the entities it makes on the target; a live
//! migration records those it mirrors and translates ids with them. Always
//! oriented old → new of one migration, unique per side.

use super::Store;
use crate::canonical::Result;
use crate::db::{Db, Tx};

/// One pair: `source` on the old provider is `target` on the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The old provider.
    pub from: String,
    /// The new provider.
    pub to: String,
    /// `group`, `chatroom`, `message`.
    pub kind: String,
    /// The id on `from`.
    pub source: String,
    /// The id on `to`.
    pub target: String,
    /// Which of the two the app sees: `source` (the entity was made on the
    /// old side, or copied) or `target` (made on the new side first).
    pub origin: &'static str,
}

/// The origin of a pair whose source id is the one the app sees.
pub const ORIGIN_SOURCE: &str = "source";

/// Records a pair in a transaction (a pair already known is left as it is).
pub fn insert(tx: &Tx<'_>, p: &Pair) -> Result<()> {
    tx.execute(
        "INSERT INTO id_pairs (from_provider, to_provider, kind, source_id, target_id, origin) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        &[&p.from, &p.to, &p.kind, &p.source, &p.target, &p.origin],
    )?;
    Ok(())
}

/// The pair an id is part of: the other id and the pair's origin; `id` is
/// looked up as the source id when `by_source`, else as the target id.
pub async fn find(
    db: &Db,
    from: &str,
    to: &str,
    kind: &str,
    id: &str,
    by_source: bool,
) -> Result<Option<(String, String)>> {
    let (from, to, kind, id) = (
        from.to_string(),
        to.to_string(),
        kind.to_string(),
        id.to_string(),
    );
    db.read(move |tx| {
        let sql = if by_source {
            "SELECT target_id, origin FROM id_pairs WHERE from_provider = ?1 AND to_provider = ?2 AND kind = ?3 AND source_id = ?4"
        } else {
            "SELECT source_id, origin FROM id_pairs WHERE from_provider = ?1 AND to_provider = ?2 AND kind = ?3 AND target_id = ?4"
        };
        tx.query_opt(sql, &[&from, &to, &kind, &id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    })
    .await
}

impl Store {
    /// The target id paired with `source` (`kind` of `from` → `to`).
    pub async fn pair_target(
        &self,
        from: &str,
        to: &str,
        kind: &str,
        source: &str,
    ) -> Result<Option<String>> {
        Ok(find(&self.db, from, to, kind, source, true)
            .await?
            .map(|(id, _)| id))
    }

    /// The source id paired with `target`.
    pub async fn pair_source(
        &self,
        from: &str,
        to: &str,
        kind: &str,
        target: &str,
    ) -> Result<Option<String>> {
        Ok(find(&self.db, from, to, kind, target, false)
            .await?
            .map(|(id, _)| id))
    }

    /// Records that `source` is `target`, the source id being the one the
    /// app sees, and drops the creation intent of `source` (see
    /// [`Store::intend`]); the same pair again is fine.
    pub async fn record_pair(
        &self,
        from: &str,
        to: &str,
        kind: &str,
        source: &str,
        target: &str,
    ) -> Result<()> {
        let pair = Pair {
            from: from.to_string(),
            to: to.to_string(),
            kind: kind.to_string(),
            source: source.to_string(),
            target: target.to_string(),
            origin: ORIGIN_SOURCE,
        };
        self.db
            .write(move |tx| {
                insert(tx, &pair)?;
                tx.execute(
                    "DELETE FROM migrate_intents WHERE from_provider = ?1 AND to_provider = ?2 \
                     AND kind = ?3 AND source_id = ?4",
                    &[&pair.from, &pair.to, &pair.kind, &pair.source],
                )?;
                Ok(())
            })
            .await
    }

    /// Notes that `source` is about to be made on the target; returns
    /// whether an earlier attempt noted it already (and may have made it
    /// without recording the pair).
    pub async fn intend(&self, from: &str, to: &str, kind: &str, source: &str) -> Result<bool> {
        let args = [from, to, kind, source].map(String::from);
        self.db
            .write(move |tx| {
                let n = tx.execute(
                    "INSERT INTO migrate_intents (from_provider, to_provider, kind, source_id) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                    &[&args[0], &args[1], &args[2], &args[3]],
                )?;
                Ok(n == 0)
            })
            .await
    }
}
