//! Every SQL statement of live migration, in one place (against the store's
//! database): the outbox and its ordering keys, the users moved by name,
//! and the cross-provider id pairs. Statements are portable (`?N`
//! placeholders, `RETURNING`, `ON CONFLICT`).

use std::collections::HashSet;

use deadpool_sqlite::rusqlite::{self, OptionalExtension, Row};

use crate::canonical::Result;
use crate::sqlite::Db;

/// Tables, created when missing (`IF NOT EXISTS`: idempotent).
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    frontend TEXT NOT NULL,
    app_key TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    side TEXT NOT NULL,
    op TEXT NOT NULL,
    request TEXT NOT NULL,
    result TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at INTEGER NOT NULL,
    claimed_until INTEGER,
    created INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_ready ON outbox (state, next_at, seq);
CREATE TABLE IF NOT EXISTS outbox_keys (
    seq INTEGER NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (key, seq)
);
CREATE INDEX IF NOT EXISTS outbox_keys_seq ON outbox_keys (seq);
CREATE TABLE IF NOT EXISTS migration_users (
    frontend TEXT NOT NULL,
    username TEXT NOT NULL,
    added INTEGER NOT NULL,
    PRIMARY KEY (frontend, username)
);
CREATE TABLE IF NOT EXISTS id_pairs (
    from_provider TEXT NOT NULL,
    to_provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    origin TEXT NOT NULL,
    PRIMARY KEY (from_provider, to_provider, kind, source_id),
    UNIQUE (from_provider, to_provider, kind, target_id)
);
"#;

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

const COLUMNS: &str = "seq, frontend, app_key, source, target, side, op, request, result, state, attempts, next_at, created, error";

fn entry(r: &Row<'_>) -> rusqlite::Result<Entry> {
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
    })
}

/// Live migration's statements on the store's database.
pub struct Sql<'a>(pub &'a Db);

/// Creates the tables missing in the database file `path` (at startup,
/// before the pool serves anything).
pub fn ensure_schema(path: &std::path::Path) -> anyhow::Result<()> {
    let c = rusqlite::Connection::open(path)?;
    c.busy_timeout(std::time::Duration::from_secs(5))?;
    c.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;"))?;
    Ok(())
}

impl Sql<'_> {
    /// Whether anything is due: a pending entry whose time has come or an
    /// entry in flight past its lease (a cheap read before claiming).
    pub async fn due(&self, now_ms: i64) -> Result<bool> {
        self.0
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM outbox WHERE (state = 'pending' AND next_at <= ?1) \
                     OR (state = 'inflight' AND claimed_until < ?1))",
                )?
                .query_row([now_ms], |r| r.get(0))?)
            })
            .await
    }

    /// Writes an entry with its keys in one transaction; its sequence number.
    pub async fn enqueue(&self, e: NewEntry, now_ms: i64) -> Result<i64> {
        self.0
            .write(move |c| {
                let seq: i64 = c
                    .prepare_cached(
                        "INSERT INTO outbox (frontend, app_key, source, target, side, op, request, result, state, attempts, next_at, created) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 0, ?9, ?9) RETURNING seq",
                    )?
                    .query_row(
                        (&e.frontend, &e.app_key, &e.source, &e.target, &e.side, &e.op, &e.request, &e.result, now_ms),
                        |r| r.get(0),
                    )?;
                let mut key = c.prepare_cached("INSERT INTO outbox_keys (seq, key) VALUES (?1, ?2)")?;
                for k in &e.keys {
                    key.execute((seq, k))?;
                }
                Ok(seq)
            })
            .await
    }

    /// Claims up to `limit` entries that are due and not behind an earlier
    /// live entry sharing a key, marking them in flight until `lease_until`
    /// (committed before any is applied). Also returns to `pending` the
    /// entries whose lease ran out (a worker died applying them) — the caller
    /// decides what to do with those: they are returned second.
    pub async fn claim(
        &self,
        now_ms: i64,
        limit: usize,
        lease_until: i64,
    ) -> Result<(Vec<Entry>, Vec<Entry>)> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.0
            .write(move |c| {
                let expired: Vec<Entry> = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM outbox WHERE state = 'inflight' AND claimed_until < ?1 ORDER BY seq"
                    ))?
                    .query_map([now_ms], entry)?
                    .collect::<rusqlite::Result<_>>()?;
                let ready: Vec<Entry> = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM outbox e WHERE e.state = 'pending' AND e.next_at <= ?1 \
                         AND NOT EXISTS (SELECT 1 FROM outbox_keys k \
                           JOIN outbox_keys k2 ON k2.key = k.key AND k2.seq < k.seq \
                           JOIN outbox e2 ON e2.seq = k2.seq AND e2.state <> 'dead' \
                           WHERE k.seq = e.seq) \
                         ORDER BY e.seq LIMIT ?2"
                    ))?
                    .query_map((now_ms, limit), entry)?
                    .collect::<rusqlite::Result<_>>()?;
                let mut mark = c.prepare_cached(
                    "UPDATE outbox SET state = 'inflight', claimed_until = ?2 WHERE seq = ?1",
                )?;
                for e in &ready {
                    mark.execute((e.seq, lease_until))?;
                }
                Ok((ready, expired))
            })
            .await
    }

    /// Removes an applied entry (and records `pairs`, the ids its apply
    /// made, in the same transaction).
    pub async fn complete(&self, seq: i64, pairs: Vec<Pair>) -> Result<()> {
        self.0
            .write(move |c| {
                for p in &pairs {
                    insert_pair(c, p)?;
                }
                c.prepare_cached("DELETE FROM outbox_keys WHERE seq = ?1")?
                    .execute([seq])?;
                c.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?
                    .execute([seq])?;
                Ok(())
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
            .write(move |c| {
                c.prepare_cached(
                    "UPDATE outbox SET state = ?2, attempts = ?3, next_at = ?4, error = ?5, claimed_until = NULL WHERE seq = ?1",
                )?
                .execute((seq, state, attempts, next_at, error))?;
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
            .read(move |c| {
                Ok(c.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM outbox WHERE (?1 IS NULL OR frontend = ?1) AND (?2 IS NULL OR state = ?2) ORDER BY seq LIMIT ?3"
                ))?
                .query_map((frontend, state, limit), entry)?
                .collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    /// Puts the selected dead letters back in line (attempts reset); how many.
    pub async fn retry(&self, which: Selection, now_ms: i64) -> Result<usize> {
        self.change(
            which,
            move |c, seq| {
                Ok(c.prepare_cached(
                    "UPDATE outbox SET state = 'pending', attempts = 0, next_at = ?2, error = NULL WHERE seq = ?1 AND state = 'dead'",
                )?
                .execute((seq, now_ms))?)
            },
        )
        .await
    }

    /// Deletes the selected dead letters; how many.
    pub async fn drop_dead(&self, which: Selection) -> Result<usize> {
        self.change(which, |c, seq| {
            let n = c
                .prepare_cached("DELETE FROM outbox WHERE seq = ?1 AND state = 'dead'")?
                .execute([seq])?;
            if n > 0 {
                c.prepare_cached("DELETE FROM outbox_keys WHERE seq = ?1")?
                    .execute([seq])?;
            }
            Ok(n)
        })
        .await
    }

    async fn change(
        &self,
        which: Selection,
        f: impl Fn(&rusqlite::Connection, i64) -> Result<usize> + Send + 'static,
    ) -> Result<usize> {
        self.0
            .write(move |c| {
                let seqs: Vec<i64> = match which {
                    Selection::Seqs(s) => s,
                    Selection::Dead(frontend) => c
                        .prepare_cached(
                            "SELECT seq FROM outbox WHERE state = 'dead' AND (?1 IS NULL OR frontend = ?1) ORDER BY seq",
                        )?
                        .query_map([frontend], |r| r.get(0))?
                        .collect::<rusqlite::Result<_>>()?,
                };
                let mut n = 0;
                for seq in seqs {
                    n += f(c, seq)?;
                }
                Ok(n)
            })
            .await
    }

    /// Depth and age per frontend.
    pub async fn depths(&self) -> Result<Vec<(String, Depth)>> {
        self.0
            .read(|c| {
                let mut out: Vec<(String, Depth)> = Vec::new();
                let mut q = c.prepare_cached(
                    "SELECT frontend, state, COUNT(*), MIN(created) FROM outbox GROUP BY frontend, state ORDER BY frontend",
                )?;
                let rows = q.query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })?;
                for row in rows {
                    let (frontend, state, n, oldest) = row?;
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
            .read(move |c| {
                let mut q = c.prepare_cached(
                    "SELECT DISTINCT e.target FROM outbox_keys k JOIN outbox e ON e.seq = k.seq \
                     WHERE k.key = ?1 AND e.state <> 'dead'",
                )?;
                let mut out = Vec::new();
                for k in &keys {
                    for t in q.query_map([k], |r| r.get::<_, String>(0))? {
                        let t = t?;
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
            .write(move |c| {
                let mut n = 0;
                for u in &users {
                    n += if add {
                        c.prepare_cached(
                            "INSERT INTO migration_users (frontend, username, added) VALUES (?1, ?2, ?3) \
                             ON CONFLICT (frontend, username) DO NOTHING",
                        )?
                        .execute((&frontend, u, now_ms))?
                    } else {
                        c.prepare_cached(
                            "DELETE FROM migration_users WHERE frontend = ?1 AND username = ?2",
                        )?
                        .execute((&frontend, u))?
                    };
                }
                Ok(n)
            })
            .await
    }

    /// The users of `frontend` moved to the new provider by name.
    pub async fn moved_users(&self, frontend: &str) -> Result<HashSet<String>> {
        let frontend = frontend.to_string();
        self.0
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT username FROM migration_users WHERE frontend = ?1 ORDER BY username",
                )?
                .query_map([frontend], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?)
            })
            .await
    }
}

/// One cross-provider id pair: `source_id` on the old provider (`from`) is
/// `target_id` on the new one (`to`).
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

fn insert_pair(c: &rusqlite::Connection, p: &Pair) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO id_pairs (from_provider, to_provider, kind, source_id, target_id, origin) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
    )?
    .execute((&p.from, &p.to, &p.kind, &p.source, &p.target, p.origin))?;
    Ok(())
}

impl Sql<'_> {
    /// The pair an id is part of: the other id and the pair's origin; `id`
    /// is looked up as the source id when `by_source`, else as the target.
    pub async fn pair(
        &self,
        from: &str,
        to: &str,
        kind: &str,
        id: &str,
        by_source: bool,
    ) -> Result<Option<(String, String)>> {
        let args = (
            from.to_string(),
            to.to_string(),
            kind.to_string(),
            id.to_string(),
        );
        self.0
            .read(move |c| {
                let sql = if by_source {
                    "SELECT target_id, origin FROM id_pairs WHERE from_provider = ?1 AND to_provider = ?2 AND kind = ?3 AND source_id = ?4"
                } else {
                    "SELECT source_id, origin FROM id_pairs WHERE from_provider = ?1 AND to_provider = ?2 AND kind = ?3 AND target_id = ?4"
                };
                Ok(c.prepare_cached(sql)?
                    .query_row(args, |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?)
            })
            .await
    }

    /// Records pairs (pairs already known are left as they are).
    pub async fn record_pairs(&self, pairs: Vec<Pair>) -> Result<()> {
        self.0
            .write(move |c| {
                for p in &pairs {
                    insert_pair(c, p)?;
                }
                Ok(())
            })
            .await
    }
}
