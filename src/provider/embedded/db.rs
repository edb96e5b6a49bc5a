//! The SQLite connection pool and the helpers every module shares: reads and
//! writes on a blocking thread, each in one transaction; enum and JSON columns;
//! id counters; the clock.

use std::path::Path;
use std::time::Duration;

use deadpool_sqlite::rusqlite::types::Type;
use deadpool_sqlite::rusqlite::{self, Connection, Row, TransactionBehavior};
use deadpool_sqlite::{Hook, HookError, Pool, Runtime};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::schema;
use super::validate;
use crate::canonical::model::Millis;
use crate::canonical::{Error, Reason, Result};

/// A failed SQLite call is a bug or an I/O problem: logged, shown as "internal error".
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::internal(format_args!("sqlite: {e}"))
    }
}

/// The pool of connections to the store's database file.
pub(super) struct Db {
    pool: Pool,
}

impl Db {
    /// Opens the database file, brings its schema up to date on a plain
    /// connection, then builds a pool whose connections get the same PRAGMAs.
    pub(super) fn open(path: &Path, size: usize) -> anyhow::Result<Self> {
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        drop(conn);
        let pool = deadpool_sqlite::Config::new(path)
            .builder(Runtime::Tokio1)?
            .max_size(size.max(1))
            .post_create(Hook::async_fn(|conn, _| {
                Box::pin(async move {
                    conn.interact(|c| configure(c))
                        .await
                        .map_err(|e| HookError::message(e.to_string()))?
                        .map_err(HookError::Backend)
                })
            }))
            .build()?;
        Ok(Db { pool })
    }

    /// Runs `f` in a deferred (read) transaction on a blocking thread.
    pub(super) async fn read<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.run(TransactionBehavior::Deferred, f).await
    }

    /// Runs `f` in an IMMEDIATE transaction on a blocking thread; commits when
    /// `f` succeeds, so a failing request changes nothing.
    pub(super) async fn write<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.run(TransactionBehavior::Immediate, f).await
    }

    async fn run<R, F>(&self, behavior: TransactionBehavior, f: F) -> Result<R>
    where
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let conn = self
            .pool
            .get()
            .await
            .map_err(|e| Error::internal(format_args!("sqlite pool: {e}")))?;
        conn.interact(move |conn| {
            let tx = conn.transaction_with_behavior(behavior)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })
        .await
        .map_err(|e| Error::internal(format_args!("sqlite task: {e}")))?
    }
}

/// Per-connection settings: WAL (durable across `kill -9`), foreign keys on.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(Duration::from_millis(5000))
}

/// The current time in milliseconds since the epoch.
pub(super) fn now() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// The serde name of a unit enum value (`UserKind::Robot` → `"robot"`), as stored.
pub(super) fn tag<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Reads a column written with [`tag`].
pub(super) fn tag_column<T: DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_value(serde_json::Value::String(text))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

/// Serializes a value for a JSON column.
pub(super) fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::internal(format_args!("json: {e}")))
}

/// Reads a JSON column.
pub(super) fn json_column<T: DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

/// The id counters (decimal ids assigned by the store).
#[derive(Debug, Clone, Copy)]
pub(super) enum Counter {
    /// Group ids, from 10000.
    Group,
    /// Chatroom ids, from 10000000.
    Room,
    /// Message ids, from 1000000000.
    Message,
}

impl Counter {
    fn name(self) -> &'static str {
        match self {
            Counter::Group => "group",
            Counter::Room => "room",
            Counter::Message => "message",
        }
    }
}

/// Reserves `n` consecutive ids of `counter` and returns the first.
pub(super) fn allocate(conn: &Connection, counter: Counter, n: i64) -> Result<i64> {
    Ok(conn.query_row(
        "UPDATE counters SET next = next + ?2 WHERE name = ?1 RETURNING next - ?2",
        (counter.name(), n),
        |r| r.get(0),
    )?)
}

/// The id of a new group or room: the caller's choice (non-empty, at most 64
/// bytes, not `taken` else already_exists/`reason`) or the next free counter value.
pub(super) fn claim_id(
    conn: &Connection,
    counter: Counter,
    requested: Option<String>,
    reason: Reason,
    taken: impl Fn(&str) -> Result<bool>,
) -> Result<String> {
    if let Some(id) = requested {
        validate::id(&id)?;
        if taken(&id)? {
            return Err(Error::exists(reason, format!("{id} exists already")));
        }
        return Ok(id);
    }
    loop {
        let id = allocate(conn, counter, 1)?.to_string();
        if !taken(&id)? {
            return Ok(id);
        }
    }
}
