//! SQLite under a connection pool: every read and write runs on a blocking
//! thread in one transaction; the schema is versioned with `PRAGMA
//! user_version` (migration `i` takes it from version `i` to `i + 1`); every
//! connection runs in WAL mode, so committed data survives `kill -9`.

use std::path::Path;
use std::time::Duration;

use deadpool_sqlite::rusqlite::{self, Connection, TransactionBehavior};
use deadpool_sqlite::{Hook, HookError, Pool, Runtime};

use crate::canonical::{Error, Result};

/// A failed SQLite call is a bug or an I/O problem: logged, shown as "internal error".
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::internal(format_args!("sqlite: {e}"))
    }
}

/// The pool of connections to the store's database file.
pub struct Db {
    pool: Pool,
}

impl Db {
    /// Opens the database file (creating its directory), brings its schema up
    /// to date with `migrations` on a plain connection, then builds a pool
    /// whose connections get the same PRAGMAs. `label` names it in logs.
    pub fn open(
        path: &Path,
        size: usize,
        migrations: &'static [&'static str],
        label: &'static str,
    ) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        migrate(&mut conn, migrations, label)?;
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
    pub async fn read<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.run(TransactionBehavior::Deferred, f).await
    }

    /// Runs `f` in an IMMEDIATE transaction on a blocking thread; commits when
    /// `f` succeeds, so a failing request changes nothing.
    pub async fn write<R, F>(&self, f: F) -> Result<R>
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

/// Statements each connection keeps prepared (rusqlite keeps 16): room for
/// every constant statement of the embedded store and the state store.
const STATEMENT_CACHE: usize = 256;

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
fn migrate(conn: &mut Connection, migrations: &[&str], label: &str) -> anyhow::Result<()> {
    let stored: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let version = usize::try_from(stored)?;
    if version > migrations.len() {
        anyhow::bail!(
            "{label} schema version {version} is newer than this imbridge knows ({})",
            migrations.len()
        );
    }
    for (index, sql) in migrations.iter().enumerate().skip(version) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i64::try_from(index + 1)?)?;
        tx.commit()?;
        tracing::info!(store = label, version = index + 1, "schema migrated");
    }
    Ok(())
}
