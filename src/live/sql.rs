//! Every SQL statement of live migration, in one place (against the store's
//! database, whose schema has their tables): the outbox and its ordering
//! keys, the users moved by name, and the cross-provider id pairs.

use std::collections::HashSet;

use crate::canonical::Result;
use crate::db::{Db, Row, Tx};
pub use crate::store::pairs::Pair;

/// An entry's state.
pub const PENDING: &str = "pending";
/// Being applied by a worker until `claimed_until`.
pub const INFLIGHT: &str = "inflight";
/// Failed for good: waits for the operator (`imbridge migrate outbox`).
pub const DEAD: &str = "dead";

/// A write to apply to the other provider.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    /// The frontend that answered it.
    pub frontend: String,
    /// The app it belongs to.
    pub app_key: String,
    /// The provider that answered it (its ids are in `request`, `result`).
    pub source: String,
    /// The provider to apply it to.
    pub target: String,
    /// Which side of the migration `source` is: `old` or `new`.
    pub side: String,
    /// The canonical operation name.
    pub op: String,
    /// The canonical request, as run on `source` (JSON).
    pub request: String,
    /// `source`'s canonical result (JSON).
    pub result: String,
    /// Ordering keys (app-scoped entity names).
    pub keys: Vec<String>,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Position in the outbox: entries sharing a key apply in this order.
    pub seq: i64,
    /// What to apply.
    pub write: NewEntry,
    /// `pending`, `inflight` or `dead`.
    pub state: String,
    /// Failed attempts so far.
    pub attempts: i64,
    /// Not before (ms since the epoch).
    pub next_at: i64,
    /// When it was written (ms).
    pub created: i64,
    /// In flight until (ms).
    pub claimed_until: Option<i64>,
    /// The last failure.
    pub error: Option<String>,
}

/// Depth and age of one frontend's outbox.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Depth {
    /// Entries by state.
    pub pending: i64,
    /// Being applied.
    pub inflight: i64,
    /// Dead letters.
    pub dead: i64,
    /// When the oldest live (not dead) entry was written (ms).
    pub oldest: Option<i64>,
}

/// Which entries an operator command acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// Every dead letter (of the frontend, when given).
    Dead(Option<String>),
    /// These entries.
    Seqs(Vec<i64>),
}

const COLUMNS: &str = "seq, frontend, app_key, source, target, side, op, request, result, state, attempts, next_at, created, error, claimed_until";

/// The columns of `entry` without the request and result.
const LIGHT: &str = "seq, frontend, app_key, source, target, side, op, '', '', state, attempts, next_at, created, error, claimed_until";

/// Marks a pending entry (`?1`) in flight until `?2`.
const MARK: &str =
    "UPDATE outbox SET state = 'inflight', claimed_until = ?2 WHERE seq = ?1 AND state = 'pending'";

fn entry(r: &Row<'_>) -> Result<Entry> {
    Ok(Entry {
        seq: r.get(0)?,
        write: NewEntry {
            frontend: r.get(1)?,
            app_key: r.get(2)?,
            source: r.get(3)?,
            target: r.get(4)?,
            side: r.get(5)?,
            op: r.get(6)?,
            request: r.get(7)?,
            result: r.get(8)?,
            keys: Vec::new(),
        },
        state: r.get(9)?,
        attempts: r.get(10)?,
        next_at: r.get(11)?,
        created: r.get(12)?,
        error: r.get(13)?,
        claimed_until: r.get(14)?,
    })
}

/// Live migration's statements on the store's database.
pub struct Sql<'a>(pub &'a Db);

impl Sql<'_> {
    /// Writes an entry with its keys in one transaction; its sequence number.
    pub async fn enqueue(&self, e: NewEntry, now_ms: i64) -> Result<i64> {
        self.0
            .write(move |tx| {
                let seq: i64 = tx.query_one(
                    "INSERT INTO outbox (frontend, app_key, source, target, side, op, request, result, state, attempts, next_at, created) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 0, ?9, ?9) RETURNING seq",
                    &[&e.frontend, &e.app_key, &e.source, &e.target, &e.side, &e.op, &e.request, &e.result, &now_ms],
                    |r| r.get(0),
                )?;
                for k in &e.keys {
                    tx.execute("INSERT INTO outbox_keys (seq, key) VALUES (?1, ?2)", &[&seq, k])?;
                }
                Ok(seq)
            })
            .await
    }

    /// The oldest `limit` live (not dead) entries with their keys, oldest
    /// first (every entry that could block one of them is among them),
    /// without their request and result (`load` reads those).
    pub async fn window(&self, limit: usize) -> Result<Vec<Entry>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.0
            .read(move |tx| {
                let mut entries: Vec<Entry> = tx.query_all(
                    &format!(
                        "SELECT {LIGHT} FROM outbox WHERE state <> 'dead' ORDER BY seq LIMIT ?1"
                    ),
                    &[&limit],
                    entry,
                )?;
                let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
                    return Ok(entries);
                };
                let keys: Vec<(i64, String)> = tx.query_all(
                    "SELECT seq, key FROM outbox_keys WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
                    &[&first.seq, &last.seq],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                let mut at = 0;
                for (seq, key) in keys {
                    while at < entries.len() && entries[at].seq < seq {
                        at += 1;
                    }
                    if let Some(e) = entries.get_mut(at).filter(|e| e.seq == seq) {
                        e.write.keys.push(key);
                    }
                }
                Ok(entries)
            })
            .await
    }

    /// The entries `seqs`, whole (without keys), in sequence order.
    pub async fn load(&self, mut seqs: Vec<i64>) -> Result<Vec<Entry>> {
        seqs.sort_unstable();
        self.0
            .read(move |tx| {
                let mut out = Vec::with_capacity(seqs.len());
                for seq in &seqs {
                    let sql = format!("SELECT {COLUMNS} FROM outbox WHERE seq = ?1");
                    if let Some(e) = tx.query_opt(&sql, &[seq], entry)? {
                        out.push(e);
                    }
                }
                Ok(out)
            })
            .await
    }

    /// Marks pending entries in flight until `lease_until` (committed before
    /// any is applied); those another worker took first are left out.
    pub async fn mark(&self, seqs: Vec<i64>, lease_until: i64) -> Result<Vec<i64>> {
        self.0
            .write(move |tx| {
                let mut out = Vec::with_capacity(seqs.len());
                for seq in &seqs {
                    if tx.execute(MARK, &[seq, &lease_until])? == 1 {
                        out.push(*seq);
                    }
                }
                Ok(out)
            })
            .await
    }

    /// Takes back those of the entries `seqs` that are still in flight past
    /// their lease at `now` (their worker stopped or stalled): each goes to
    /// the state `decide` gives it (`pending` or `dead`, with why), due at
    /// `now`. Exactly once among the workers of every replica: an entry
    /// another worker is taking back or completing, has taken back, or
    /// marked again since, is left alone. The entries taken back, with
    /// their new state.
    pub async fn take_back(
        &self,
        seqs: Vec<i64>,
        now: i64,
        decide: fn(&Entry) -> (&'static str, String),
    ) -> Result<Vec<(Entry, &'static str)>> {
        self.0
            .claim(move |tx| {
                let sql = format!(
                    "SELECT {COLUMNS} FROM outbox WHERE seq = ?1 AND state = 'inflight' AND claimed_until < ?2{}",
                    tx.skip_locked("outbox")
                );
                let mut out = Vec::new();
                for seq in &seqs {
                    let Some(e) = tx.query_opt(&sql, &[seq, &now], entry)? else {
                        continue;
                    };
                    let (state, error) = decide(&e);
                    tx.execute(
                        "UPDATE outbox SET state = ?2, next_at = ?3, error = ?4, claimed_until = NULL WHERE seq = ?1",
                        &[seq, &state, &now, &error],
                    )?;
                    out.push((e, state));
                }
                Ok(out)
            })
            .await
    }

    /// Removes an applied entry and records `pairs`, the ids its apply
    /// made; marks `next` (the following entry of the same entities) in
    /// flight until its lease in the same transaction. Whether `next` was
    /// marked.
    pub async fn complete(
        &self,
        seq: i64,
        pairs: Vec<Pair>,
        next: Option<(i64, i64)>,
    ) -> Result<bool> {
        self.0
            .write(move |tx| {
                for p in &pairs {
                    crate::store::pairs::insert(tx, p)?;
                }
                tx.execute("DELETE FROM outbox_keys WHERE seq = ?1", &[&seq])?;
                tx.execute("DELETE FROM outbox WHERE seq = ?1", &[&seq])?;
                Ok(match next {
                    Some((next, lease_until)) => tx.execute(MARK, &[&next, &lease_until])? == 1,
                    None => false,
                })
            })
            .await
    }

    /// Makes the pending entries for `target` due at `now_ms` (it answers
    /// again after an outage: their back-off is over); how many.
    pub async fn due_now(&self, target: &str, now_ms: i64) -> Result<u64> {
        let target = target.to_string();
        self.0
            .write(move |tx| {
                tx.execute(
                    "UPDATE outbox SET next_at = ?2 WHERE target = ?1 AND state = 'pending' AND next_at > ?2",
                    &[&target, &now_ms],
                )
            })
            .await
    }

    /// Puts an entry back in line (`pending`, due at `next_at`) or into the
    /// dead letters (`dead`), with its failure.
    pub async fn fail(
        &self,
        seq: i64,
        state: &'static str,
        attempts: i64,
        next_at: i64,
        error: String,
    ) -> Result<()> {
        self.0
            .write(move |tx| {
                tx.execute(
                    "UPDATE outbox SET state = ?2, attempts = ?3, next_at = ?4, error = ?5, claimed_until = NULL WHERE seq = ?1",
                    &[&seq, &state, &attempts, &next_at, &error],
                )?;
                Ok(())
            })
            .await
    }

    /// Entries in `state` (any when `None`) of `frontend` (any when `None`),
    /// oldest first, at most `limit`.
    pub async fn list(
        &self,
        frontend: Option<String>,
        state: Option<&'static str>,
        limit: usize,
    ) -> Result<Vec<Entry>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.0
            .read(move |tx| {
                tx.query_all(
                    &format!(
                        "SELECT {COLUMNS} FROM outbox WHERE (frontend = ?1 OR ?1 IS NULL) AND (state = ?2 OR ?2 IS NULL) ORDER BY seq LIMIT ?3"
                    ),
                    &[&frontend, &state, &limit],
                    entry,
                )
            })
            .await
    }

    /// Puts the selected dead letters back in line (attempts reset); how many.
    pub async fn retry(&self, which: Selection, now_ms: i64) -> Result<usize> {
        self.change(
            which,
            move |tx, seq| {
                tx.execute(
                    "UPDATE outbox SET state = 'pending', attempts = 0, next_at = ?2, error = NULL WHERE seq = ?1 AND state = 'dead'",
                    &[&seq, &now_ms],
                )
            },
        )
        .await
    }

    /// Deletes the selected dead letters; how many.
    pub async fn drop_dead(&self, which: Selection) -> Result<usize> {
        self.change(which, |tx, seq| {
            let n = tx.execute(
                "DELETE FROM outbox WHERE seq = ?1 AND state = 'dead'",
                &[&seq],
            )?;
            if n > 0 {
                tx.execute("DELETE FROM outbox_keys WHERE seq = ?1", &[&seq])?;
            }
            Ok(n)
        })
        .await
    }

    async fn change(
        &self,
        which: Selection,
        f: impl Fn(&Tx<'_>, i64) -> Result<u64> + Send + 'static,
    ) -> Result<usize> {
        self.0
            .write(move |tx| {
                let seqs: Vec<i64> = match &which {
                    Selection::Seqs(s) => s.clone(),
                    Selection::Dead(frontend) => tx.query_all(
                        "SELECT seq FROM outbox WHERE state = 'dead' AND (frontend = ?1 OR ?1 IS NULL) ORDER BY seq",
                        &[frontend],
                        |r| r.get(0),
                    )?,
                };
                let mut n = 0;
                for seq in seqs {
                    n += f(tx, seq)?;
                }
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            })
            .await
    }

    /// Depth and age per frontend.
    pub async fn depths(&self) -> Result<Vec<(String, Depth)>> {
        self.0
            .read(|tx| {
                let mut out: Vec<(String, Depth)> = Vec::new();
                let rows = tx.query_all(
                    "SELECT frontend, state, COUNT(*), MIN(created) FROM outbox GROUP BY frontend, state ORDER BY frontend",
                    &[],
                    |r| {
                        Ok((
                            r.get::<String>(0)?,
                            r.get::<String>(1)?,
                            r.get::<i64>(2)?,
                            r.get::<i64>(3)?,
                        ))
                    },
                )?;
                for (frontend, state, n, oldest) in rows {
                    if out.last().is_none_or(|(f, _)| *f != frontend) {
                        out.push((frontend, Depth::default()));
                    }
                    let d = &mut out.last_mut().expect("pushed").1;
                    match state.as_str() {
                        DEAD => d.dead = n,
                        s => {
                            if s == INFLIGHT {
                                d.inflight = n;
                            } else {
                                d.pending = n;
                            }
                            d.oldest = Some(d.oldest.map_or(oldest, |o| o.min(oldest)));
                        }
                    }
                }
                Ok(out)
            })
            .await
    }

    /// The providers that live entries touching any of `keys` are still to
    /// be applied to (for keeping an entity on one side until it is in sync).
    pub async fn pending_targets(&self, keys: Vec<String>) -> Result<Vec<String>> {
        self.0
            .read(move |tx| {
                let mut out = Vec::new();
                for k in &keys {
                    let targets: Vec<String> = tx.query_all(
                        "SELECT DISTINCT e.target FROM outbox_keys k JOIN outbox e ON e.seq = k.seq \
                         WHERE k.key = ?1 AND e.state <> 'dead'",
                        &[k],
                        |r| r.get(0),
                    )?;
                    for t in targets {
                        if !out.contains(&t) {
                            out.push(t);
                        }
                    }
                }
                Ok(out)
            })
            .await
    }
}

impl Sql<'_> {
    /// Moves users of `frontend` to the new provider (`add`) or back.
    pub async fn move_users(
        &self,
        frontend: &str,
        users: Vec<String>,
        add: bool,
        now_ms: i64,
    ) -> Result<usize> {
        let frontend = frontend.to_string();
        self.0
            .write(move |tx| {
                let mut n = 0;
                for u in &users {
                    n += if add {
                        tx.execute(
                            "INSERT INTO migration_users (frontend, username, added) VALUES (?1, ?2, ?3) \
                             ON CONFLICT (frontend, username) DO NOTHING",
                            &[&frontend, u, &now_ms],
                        )?
                    } else {
                        tx.execute(
                            "DELETE FROM migration_users WHERE frontend = ?1 AND username = ?2",
                            &[&frontend, u],
                        )?
                    };
                }
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            })
            .await
    }

    /// The users of `frontend` moved to the new provider by name.
    pub async fn moved_users(&self, frontend: &str) -> Result<HashSet<String>> {
        let frontend = frontend.to_string();
        self.0
            .read(move |tx| {
                let users: Vec<String> = tx.query_all(
                    "SELECT username FROM migration_users WHERE frontend = ?1 ORDER BY username",
                    &[&frontend],
                    |r| r.get(0),
                )?;
                Ok(users.into_iter().collect())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::{test_configs, Store};

    fn new_entry(n: usize) -> NewEntry {
        NewEntry {
            frontend: "fe".into(),
            app_key: "app".into(),
            source: "old".into(),
            target: "new".into(),
            side: "old".into(),
            op: "user.update".into(),
            request: "{}".into(),
            result: "{}".into(),
            keys: vec![format!("user:{n}")],
        }
    }

    /// Entries whose lease ran out, taken back by many workers of two
    /// replicas at once: each by exactly one of them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_expired_entry_is_taken_back_once_among_replicas() {
        for (cfg, _guard) in test_configs() {
            let replicas = [
                Arc::new(Store::open(&cfg).unwrap()),
                Arc::new(Store::open(&cfg).unwrap()),
            ];
            let sql = Sql(replicas[0].db());
            let mut seqs = Vec::new();
            for n in 0..20 {
                seqs.push(sql.enqueue(new_entry(n), 0).await.unwrap());
            }
            // In flight until 100, and one still leased until 10,000.
            let (leased, expired) = seqs.split_last().unwrap();
            sql.mark(expired.to_vec(), 100).await.unwrap();
            sql.mark(vec![*leased], 10_000).await.unwrap();
            let decide: fn(&Entry) -> (&'static str, String) = |_| (PENDING, "back".into());
            let workers = (0..8).map(|w| {
                let (store, seqs) = (replicas[w % 2].clone(), seqs.clone());
                tokio::spawn(async move { Sql(store.db()).take_back(seqs, 1_000, decide).await })
            });
            let mut taken: Vec<i64> = futures::future::join_all(workers)
                .await
                .into_iter()
                .flat_map(|r| r.unwrap().unwrap())
                .map(|(e, state)| {
                    assert_eq!(state, PENDING);
                    e.seq
                })
                .collect();
            taken.sort_unstable();
            assert_eq!(taken, expired, "{:?}", cfg.location().unwrap());
            let states = sql.load(seqs.clone()).await.unwrap();
            let pending = states.iter().filter(|e| e.state == PENDING).count();
            assert_eq!(pending, expired.len());
            assert_eq!(states.last().unwrap().state, INFLIGHT);
        }
    }
}
