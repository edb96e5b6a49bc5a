//! The SQLite backend: rusqlite under a deadpool pool. Writes run in
//! IMMEDIATE transactions (one writer at a time, waiting up to the busy
//! timeout); every connection runs in WAL mode, so committed data survives
//! `kill -9`. The schema version is `PRAGMA user_version`.

use std::path::Path;
use std::time::Duration;

use deadpool_sqlite::rusqlite::types::{ToSqlOutput, ValueRef};
use deadpool_sqlite::rusqlite::{self, Connection, ToSql, TransactionBehavior};
use deadpool_sqlite::{Hook, HookError, Runtime};

pub(super) use deadpool_sqlite::rusqlite::{Row, Transaction};

use super::{Conn, Mode, Param, RowInner, Schema, Tx, Value};
use crate::canonical::{Error, Result};

/// A failed SQLite call is a bug or an I/O problem: logged, shown as "internal error".
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::internal(format_args!("sqlite: {e}"))
    }
}

/// Statements each connection keeps prepared (rusqlite keeps 16): room for
/// every constant statement of the embedded provider and the store.
const STATEMENT_CACHE: usize = 256;

/// The pool of connections to one database file.
pub(super) struct Pool {
    pool: deadpool_sqlite::Pool,
}

impl Pool {
    /// Opens the file (creating its directory), brings its schema (when
    /// given) up to date on a plain connection, then builds a pool whose
    /// connections get the same settings.
    pub(super) fn open(path: &Path, size: usize, schema: Option<&Schema>) -> anyhow::Result<Pool> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        if let Some(schema) = schema {
            migrate(&mut conn, schema)?;
        }
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
        Ok(Pool { pool })
    }

    /// Runs `f` in a transaction (IMMEDIATE unless it only reads) on a
    /// blocking thread.
    pub(super) async fn run<R, F>(&self, mode: Mode, f: F) -> Result<R>
    where
        F: Fn(&Tx<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let behavior = match mode {
            Mode::Write | Mode::Claim => TransactionBehavior::Immediate,
            Mode::Read => TransactionBehavior::Deferred,
        };
        let conn = self
            .pool
            .get()
            .await
            .map_err(|e| Error::internal(format_args!("sqlite pool: {e}")))?;
        conn.interact(move |conn| {
            let tx = conn.transaction_with_behavior(behavior)?;
            let out = f(&Tx {
                conn: Conn::Sqlite(&tx),
            })?;
            tx.commit()?;
            Ok(out)
        })
        .await
        .map_err(|e| Error::internal(format_args!("sqlite task: {e}")))?
    }
}

/// Per-connection settings: WAL (durable across `kill -9`), foreign keys on,
/// a statement cache that holds every hot statement.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(Duration::from_millis(5000))
}

/// Brings the schema of `conn` up to date.
fn migrate(conn: &mut Connection, schema: &Schema) -> anyhow::Result<()> {
    let migrations = schema.sqlite;
    let stored: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let version = usize::try_from(stored)?;
    if version > migrations.len() {
        anyhow::bail!(
            "{} schema version {version} is newer than this imbridge knows ({})",
            schema.name,
            migrations.len()
        );
    }
    for (index, sql) in migrations.iter().enumerate().skip(version) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i64::try_from(index + 1)?)?;
        tx.commit()?;
        tracing::info!(schema = schema.name, version = index + 1, "schema migrated");
    }
    Ok(())
}

/// A parameter as rusqlite binds it.
struct Bind<'a>(Value<'a>);

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(i),
            Value::Real(f) => ValueRef::Real(f),
            Value::Bool(b) => ValueRef::Integer(i64::from(b)),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Bytes(b) => ValueRef::Blob(b),
        }))
    }
}

fn binds<'a>(params: &'a [&'a dyn Param]) -> impl Iterator<Item = Bind<'a>> {
    params.iter().map(|p| Bind(p.value()))
}

/// [`Tx::execute`].
pub(super) fn execute(tx: &Transaction<'_>, sql: &str, params: &[&dyn Param]) -> Result<u64> {
    let changed = tx
        .prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(binds(params)))?;
    Ok(u64::try_from(changed).unwrap_or(u64::MAX))
}

/// Calls `f` with each row until it returns `false`.
pub(super) fn each(
    tx: &Transaction<'_>,
    sql: &str,
    params: &[&dyn Param],
    mut f: impl FnMut(&super::Row<'_>) -> Result<bool>,
) -> Result<()> {
    let mut stmt = tx.prepare_cached(sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(binds(params)))?;
    while let Some(row) = rows.next()? {
        let row = super::Row {
            inner: RowInner::Sqlite(row),
        };
        if !f(&row)? {
            break;
        }
    }
    Ok(())
}

/// Column `idx` of a row.
pub(super) fn column<'r>(row: &'r Row<'_>, idx: usize) -> Result<Value<'r>> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(
            std::str::from_utf8(t)
                .map_err(|e| Error::internal(format_args!("column {idx}: {e}")))?,
        ),
        ValueRef::Blob(b) => Value::Bytes(b),
    })
}
