//! `imbridge migrate`'s state: runs and their per-kind checkpoints,
//! entities found by walking users, and failures (the id pairs are in
//! [`super::pairs`], pending passwords in [`super::passwords`]).

use serde::Serialize;

use super::Store;
use crate::canonical::Result;

/// Which migration: source and target provider names and the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunKey {
    /// The source provider.
    pub from: String,
    /// The target provider.
    pub to: String,
    /// The app whose data moves.
    pub app: String,
}

/// How far one kind of a run got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// What the kind is enumerated from (a users file's digest, `list`, ...):
    /// a checkpoint of another source does not apply.
    pub source: String,
    /// Where the next page starts, in the walk's terms.
    pub cursor: String,
    /// Items done so far.
    pub done: u64,
    /// Outcomes so far.
    pub tally: Tally,
    /// The kind is complete.
    pub finished: bool,
}

/// Outcomes of items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Made on the target.
    pub copied: u64,
    /// Existed on the target and was brought up to date.
    pub updated: u64,
    /// Existed on the target as it is on the source.
    pub skipped: u64,
    /// Could not be copied (see the failures).
    pub failed: u64,
}

impl Tally {
    /// Adds another tally.
    pub fn add(&mut self, other: Tally) {
        self.copied += other.copied;
        self.updated += other.updated;
        self.skipped += other.skipped;
        self.failed += other.failed;
    }
}

/// A failure kept for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The kind.
    pub kind: String,
    /// The entity (`user tom`, `group 10001`, `friend tom → ann`).
    pub entity: String,
    /// Why.
    pub reason: String,
}

/// A failed entity and why (`user tom`, `not_found/user: ...`).
pub type Failed = (String, String);

fn i(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn u(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Store {
    /// Starts or resumes the run of `key`: an unfinished run resumes (its
    /// checkpoints stand); otherwise everything of a previous run is cleared.
    /// Returns whether the run resumes.
    pub async fn begin_run(&self, key: &RunKey) -> Result<bool> {
        let k = key.clone();
        self.db
            .write(move |tx| {
                let args: [&dyn crate::db::Param; 3] = [&k.from, &k.to, &k.app];
                let finished: Option<Option<i64>> = tx.query_opt(
                    "SELECT finished FROM migrate_runs \
                     WHERE from_provider = ?1 AND to_provider = ?2 AND app_key = ?3",
                    &args,
                    |r| r.get(0),
                )?;
                if matches!(finished, Some(None)) {
                    return Ok(true);
                }
                for sql in [
                    "DELETE FROM migrate_checkpoints WHERE from_provider = ?1 AND to_provider = ?2 AND app_key = ?3",
                    "DELETE FROM migrate_found WHERE from_provider = ?1 AND to_provider = ?2 AND app_key = ?3",
                    "DELETE FROM migrate_failures WHERE from_provider = ?1 AND to_provider = ?2 AND app_key = ?3",
                ] {
                    tx.execute(sql, &args)?;
                }
                tx.execute(
                    "INSERT INTO migrate_runs (from_provider, to_provider, app_key, started, finished) \
                     VALUES (?1, ?2, ?3, ?4, NULL) \
                     ON CONFLICT (from_provider, to_provider, app_key) \
                     DO UPDATE SET started = ?4, finished = NULL",
                    &[&k.from, &k.to, &k.app, &tx.now()],
                )?;
                Ok(false)
            })
            .await
    }

    /// Marks the run of `key` complete: the next run starts over.
    pub async fn finish_run(&self, key: &RunKey) -> Result<()> {
        let k = key.clone();
        self.db
            .write(move |tx| {
                tx.execute(
                    "UPDATE migrate_runs SET finished = ?4 \
                     WHERE from_provider = ?1 AND to_provider = ?2 AND app_key = ?3",
                    &[&k.from, &k.to, &k.app, &tx.now()],
                )?;
                Ok(())
            })
            .await
    }

    /// The checkpoint of `kind` in the current run.
    pub async fn checkpoint(&self, key: &RunKey, kind: &str) -> Result<Option<Checkpoint>> {
        let (k, kind) = (key.clone(), kind.to_string());
        self.db
            .read(move |tx| {
                tx.query_opt(
                    "SELECT source, cursor, done, copied, updated, skipped, failed, finished \
                     FROM migrate_checkpoints \
                     WHERE from_provider = ?1 AND to_provider = ?2 AND app_key = ?3 AND kind = ?4",
                    &[&k.from, &k.to, &k.app, &kind],
                    |r| {
                        Ok(Checkpoint {
                            source: r.get(0)?,
                            cursor: r.get(1)?,
                            done: u(r.get(2)?),
                            tally: Tally {
                                copied: u(r.get(3)?),
                                updated: u(r.get(4)?),
                                skipped: u(r.get(5)?),
                                failed: u(r.get(6)?),
                            },
                            finished: r.get(7)?,
                        })
                    },
                )
            })
            .await
    }

    /// Saves `kind`'s checkpoint and the failures of the page that led to
    /// it, in one transaction (a page is redone whole after a kill, so its
    /// failures are kept with the checkpoint or not at all).
    pub async fn save_checkpoint(
        &self,
        key: &RunKey,
        kind: &str,
        cp: &Checkpoint,
        failures: Vec<Failed>,
    ) -> Result<()> {
        let (k, kind, cp) = (key.clone(), kind.to_string(), cp.clone());
        self.db
            .write(move |tx| {
                tx.execute(
                    "INSERT INTO migrate_checkpoints (from_provider, to_provider, app_key, kind, \
                     source, cursor, done, copied, updated, skipped, failed, finished) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
                     ON CONFLICT (from_provider, to_provider, app_key, kind) DO UPDATE SET \
                     source = ?5, cursor = ?6, done = ?7, copied = ?8, updated = ?9, \
                     skipped = ?10, failed = ?11, finished = ?12",
                    &[
                        &k.from,
                        &k.to,
                        &k.app,
                        &kind,
                        &cp.source,
                        &cp.cursor,
                        &i(cp.done),
                        &i(cp.tally.copied),
                        &i(cp.tally.updated),
                        &i(cp.tally.skipped),
                        &i(cp.tally.failed),
                        &cp.finished,
                    ],
                )?;
                for (entity, reason) in &failures {
                    tx.execute(
                        "INSERT INTO migrate_failures (from_provider, to_provider, app_key, kind, entity, reason) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                         ON CONFLICT (from_provider, to_provider, app_key, kind, entity) DO UPDATE SET reason = ?6",
                        &[&k.from, &k.to, &k.app, &kind, entity, reason],
                    )?;
                }
                Ok(())
            })
            .await
    }

    /// Every failure of the current run, by kind and entity.
    pub async fn failures(&self, key: &RunKey) -> Result<Vec<Failure>> {
        let k = key.clone();
        self.db
            .read(move |tx| {
                tx.query_all(
                    "SELECT kind, entity, reason FROM migrate_failures \
                     WHERE from_provider = ?1 AND to_provider = ?2 AND app_key = ?3 \
                     ORDER BY kind, entity",
                    &[&k.from, &k.to, &k.app],
                    |r| {
                        Ok(Failure {
                            kind: r.get(0)?,
                            entity: r.get(1)?,
                            reason: r.get(2)?,
                        })
                    },
                )
            })
            .await
    }

    /// Adds entities found for `kind` (id and JSON record); ids known
    /// already are left as they are. Returns how many were new.
    pub async fn found_add(
        &self,
        key: &RunKey,
        kind: &str,
        items: Vec<(String, String)>,
    ) -> Result<u64> {
        let (k, kind) = (key.clone(), kind.to_string());
        self.db
            .write(move |tx| {
                let mut added = 0;
                for (id, data) in &items {
                    let known = tx.query_opt(
                        "SELECT 1 FROM migrate_found WHERE from_provider = ?1 AND to_provider = ?2 \
                         AND app_key = ?3 AND kind = ?4 AND id = ?5",
                        &[&k.from, &k.to, &k.app, &kind, id],
                        |r| r.get::<i64>(0),
                    )?;
                    if known.is_some() {
                        continue;
                    }
                    let seq: i64 = tx.query_one(
                        "SELECT COALESCE(MAX(seq), 0) + 1 FROM migrate_found \
                         WHERE from_provider = ?1 AND to_provider = ?2 AND app_key = ?3 AND kind = ?4",
                        &[&k.from, &k.to, &k.app, &kind],
                        |r| r.get(0),
                    )?;
                    tx.execute(
                        "INSERT INTO migrate_found (from_provider, to_provider, app_key, kind, seq, id, data) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        &[&k.from, &k.to, &k.app, &kind, &seq, id, data],
                    )?;
                    added += 1;
                }
                Ok(added)
            })
            .await
    }

    /// Up to `limit` found entities of `kind` after position `after`:
    /// (position, JSON record).
    pub async fn found_page(
        &self,
        key: &RunKey,
        kind: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String)>> {
        let (k, kind) = (key.clone(), kind.to_string());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .read(move |tx| {
                tx.query_all(
                    "SELECT seq, data FROM migrate_found WHERE from_provider = ?1 AND to_provider = ?2 \
                     AND app_key = ?3 AND kind = ?4 AND seq > ?5 ORDER BY seq LIMIT ?6",
                    &[&k.from, &k.to, &k.app, &kind, &after, &limit],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .await
    }

    /// How many entities of `kind` were found.
    pub async fn found_count(&self, key: &RunKey, kind: &str) -> Result<u64> {
        let (k, kind) = (key.clone(), kind.to_string());
        self.db
            .read(move |tx| {
                let n: i64 = tx.query_one(
                    "SELECT COUNT(*) FROM migrate_found WHERE from_provider = ?1 \
                     AND to_provider = ?2 AND app_key = ?3 AND kind = ?4",
                    &[&k.from, &k.to, &k.app, &kind],
                    |r| r.get(0),
                )?;
                Ok(u(n))
            })
            .await
    }
}
