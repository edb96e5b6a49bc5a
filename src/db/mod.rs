//! The database facade every SQL statement of imbridge goes through.
//!
//! A [`Db`] is a pool of connections to one database. Work runs in
//! transaction closures on a blocking thread (never on an async worker):
//! [`Db::read`] for reads, [`Db::write`] for writes, which commit when the
//! closure returns `Ok` and roll back when it returns `Err`, so a failing
//! request changes nothing. A closure may run more than once (a backend
//! retries it after a serialization failure), so it must not have effects
//! outside the transaction: it is an `Fn`, and takes what it needs by
//! reference or clones it.
//!
//! Inside, a [`Tx`] runs statements: [`Tx::execute`], [`Tx::query_one`],
//! [`Tx::query_opt`], [`Tx::query_all`]. Each statement is prepared once per
//! connection and cached. SQL is portable: `?N` placeholders (a bare `?`
//! takes the number after the largest before it, as in SQLite), `ON CONFLICT
//! ... DO NOTHING` rather than `INSERT OR IGNORE`, no `rowid`, booleans as
//! `TRUE`/`FALSE`. What cannot be portable branches on [`Tx::dialect`].
//! Parameters are anything [`Param`] (`i64`, `f64`, `bool`, strings, bytes,
//! `Option`s of those); columns are read with [`Row::get`] into the same types.
//!
//! Two backends, chosen by [`Location`]: SQLite (`sqlite.rs`, the
//! zero-config default) and PostgreSQL (`postgres.rs`, for several replicas
//! on one database). The schema is versioned per backend ([`Schema`]): a
//! list of migrations per dialect, applied at open, oldest first, each in its
//! own transaction.
//!
//! ```no_run
//! use imbridge::db::{Db, Location, Schema};
//!
//! static SCHEMA: Schema = Schema {
//!     name: "example",
//!     sqlite: &["CREATE TABLE words (app TEXT NOT NULL, word TEXT NOT NULL,
//!                PRIMARY KEY (app, word))"],
//!     postgres: &["CREATE TABLE words (app TEXT NOT NULL, word TEXT NOT NULL,
//!                  PRIMARY KEY (app, word))"],
//! };
//!
//! # async fn demo() -> anyhow::Result<()> {
//! let db = Db::open(&Location::Sqlite("data/example.db".into()), 2, &SCHEMA)?;
//! let app = "app1".to_owned();
//! db.write(move |tx| {
//!     tx.execute(
//!         "INSERT INTO words (app, word) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
//!         &[&app, &"hello"],
//!     )?;
//!     Ok(())
//! })
//! .await?;
//! let words: Vec<String> = db
//!     .read(|tx| tx.query_all("SELECT word FROM words ORDER BY word", &[], |r| r.get(0)))
//!     .await?;
//! # Ok(())
//! # }
//! ```

mod portable;
mod postgres;
mod sqlite;
mod value;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use value::{FromColumn, Param, Value};

use crate::canonical::Result;

/// The SQL dialect of a backend, for the rare statement that differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (rusqlite), the zero-config default.
    Sqlite,
    /// PostgreSQL (tokio-postgres).
    Postgres,
}

/// Where a database is (`Debug` and `Display` leave the password out).
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file (created with its directory when missing).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://user:password@host:port/db`).
    Postgres(String),
}

impl Location {
    /// The `url` when given (it must be a `postgres://` or `postgresql://`
    /// URL), else the SQLite file `path`.
    pub fn of(url: Option<&str>, path: &std::path::Path) -> anyhow::Result<Location> {
        match url {
            None => Ok(Location::Sqlite(path.to_owned())),
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Ok(Location::Postgres(u.to_owned()))
            }
            Some(_) => anyhow::bail!("a database url must start with postgres:// or postgresql://"),
        }
    }
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Location({self})")
    }
}

/// Shown in logs and errors: the file, or the URL without its password
/// and parameters.
impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => match url.split_once('@') {
                Some((credentials, rest)) => {
                    let (scheme, user) = credentials.split_once("://").unwrap_or(("postgres", ""));
                    let user = user.split(':').next().unwrap_or_default();
                    write!(
                        f,
                        "{scheme}://{user}@{}",
                        rest.split('?').next().unwrap_or(rest)
                    )
                }
                None => write!(f, "{}", url.split('?').next().unwrap_or(url)),
            },
        }
    }
}

/// A versioned schema: the migrations of each dialect, oldest first;
/// migration `i` takes the schema from version `i` to `i + 1`.
#[derive(Debug)]
pub struct Schema {
    /// Names the schema in logs and errors (`"state"`, `"embedded"`).
    pub name: &'static str,
    /// SQLite's migrations (the version is kept in `PRAGMA user_version`).
    pub sqlite: &'static [&'static str],
    /// PostgreSQL's migrations (the version is kept in `imbridge_schema`).
    pub postgres: &'static [&'static str],
}

/// What a transaction does, which decides how it is isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Reads only: one consistent snapshot.
    Read,
    /// Reads and writes, as if alone (SERIALIZABLE on PostgreSQL, retried).
    Write,
    /// Claims work items with [`Tx::skip_locked`] (READ COMMITTED on
    /// PostgreSQL: the row locks make each claim exclusive).
    Claim,
}

/// A pool of connections to one database.
pub struct Db {
    backend: Backend,
}

enum Backend {
    Sqlite(sqlite::Pool),
    Postgres(postgres::Pool),
}

impl Db {
    /// Opens a database with a pool of at most `size` connections, bringing
    /// its schema up to date first (synchronous; a SQLite file is created
    /// with its directory when missing).
    pub fn open(location: &Location, size: usize, schema: &'static Schema) -> anyhow::Result<Db> {
        Self::pool(location, size, Some(schema))
    }

    /// A pool on a database whose schema someone else keeps (tools and
    /// tests reading a database imbridge manages): no migration runs.
    pub fn connect(location: &Location, size: usize) -> anyhow::Result<Db> {
        Self::pool(location, size, None)
    }

    fn pool(
        location: &Location,
        size: usize,
        schema: Option<&'static Schema>,
    ) -> anyhow::Result<Db> {
        let backend = match location {
            Location::Sqlite(path) => Backend::Sqlite(sqlite::Pool::open(path, size, schema)?),
            Location::Postgres(url) => Backend::Postgres(postgres::Pool::open(url, size, schema)?),
        };
        Ok(Db { backend })
    }

    /// Runs `f` in a read transaction on a blocking thread.
    pub async fn read<R, F>(&self, f: F) -> Result<R>
    where
        F: Fn(&Tx<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.run(Mode::Read, f).await
    }

    /// Runs `f` in a write transaction on a blocking thread; commits when `f`
    /// succeeds, rolls back when it fails.
    pub async fn write<R, F>(&self, f: F) -> Result<R>
    where
        F: Fn(&Tx<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.run(Mode::Write, f).await
    }

    /// Runs `f` in a transaction that claims work items exactly once among
    /// concurrent claimers (other replicas included): select the items with
    /// [`Tx::skip_locked`] appended, mark them taken, commit. On PostgreSQL
    /// it runs READ COMMITTED, so concurrent claimers take different rows
    /// without waiting for or failing on each other; on SQLite it is a write
    /// transaction (one writer at a time).
    ///
    /// ```no_run
    /// # async fn demo(db: &imbridge::db::Db) -> imbridge::canonical::Result<()> {
    /// let taken: Vec<i64> = db
    ///     .claim(|tx| {
    ///         let sql = format!(
    ///             "SELECT seq FROM jobs WHERE state = 'ready' ORDER BY seq LIMIT ?1{}",
    ///             tx.skip_locked("jobs")
    ///         );
    ///         let seqs: Vec<i64> = tx.query_all(&sql, &[&10i64], |r| r.get(0))?;
    ///         for seq in &seqs {
    ///             tx.execute("UPDATE jobs SET state = 'taken' WHERE seq = ?1", &[seq])?;
    ///         }
    ///         Ok(seqs)
    ///     })
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn claim<R, F>(&self, f: F) -> Result<R>
    where
        F: Fn(&Tx<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.run(Mode::Claim, f).await
    }

    async fn run<R, F>(&self, mode: Mode, f: F) -> Result<R>
    where
        F: Fn(&Tx<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        match &self.backend {
            Backend::Sqlite(pool) => pool.run(mode, f).await,
            Backend::Postgres(pool) => pool.run(mode, f).await,
        }
    }

    /// Whether the database answers a query.
    pub async fn health(&self) -> Result<()> {
        self.read(|tx| tx.query_one("SELECT 1", &[], |r| r.get::<i64>(0)))
            .await
            .map(drop)
    }
}

/// An open transaction: runs statements (each prepared once per connection).
pub struct Tx<'c> {
    conn: Conn<'c>,
}

enum Conn<'c> {
    Sqlite(&'c sqlite::Transaction<'c>),
    Postgres(&'c postgres::Transaction<'c>),
}

impl Tx<'_> {
    /// The backend's dialect.
    pub fn dialect(&self) -> Dialect {
        match self.conn {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The current time in milliseconds since the epoch, on the clock every
    /// replica shares (the database's when it has one).
    pub fn now(&self) -> i64 {
        match self.conn {
            Conn::Sqlite(_) => chrono::Utc::now().timestamp_millis(),
            Conn::Postgres(tx) => postgres::now(tx),
        }
    }

    /// What to append to a `SELECT` in a [`Db::claim`] transaction so that
    /// concurrent claimers skip the rows others took: `FOR UPDATE OF table
    /// SKIP LOCKED` on PostgreSQL (`table` is the name or alias of the rows
    /// claimed), nothing on SQLite (its writers never run at once).
    pub fn skip_locked(&self, table: &str) -> String {
        match self.conn {
            Conn::Sqlite(_) => String::new(),
            Conn::Postgres(_) => format!(" FOR UPDATE OF {table} SKIP LOCKED"),
        }
    }

    /// Runs a statement that returns no rows; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn Param]) -> Result<u64> {
        match self.conn {
            Conn::Sqlite(tx) => sqlite::execute(tx, sql, params),
            Conn::Postgres(tx) => postgres::execute(tx, sql, params),
        }
    }

    /// Every row of a query, each read by `map`.
    pub fn query_all<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut map: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.each(sql, params, |row| {
            out.push(map(row)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// The first row of a query read by `map`, if there is one.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        map: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut map = Some(map);
        let mut out = None;
        self.each(sql, params, |row| {
            if let Some(map) = map.take() {
                out = Some(map(row)?);
            }
            Ok(false)
        })?;
        Ok(out)
    }

    /// The first row of a query read by `map`; an internal error when there
    /// is none (use it for queries that always return a row).
    pub fn query_one<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        map: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.query_opt(sql, params, map)?
            .ok_or_else(|| crate::canonical::Error::internal(format_args!("no row from {sql}")))
    }

    /// Calls `f` with each row of a query until it returns `false`.
    fn each(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnMut(&Row<'_>) -> Result<bool>,
    ) -> Result<()> {
        match self.conn {
            Conn::Sqlite(tx) => sqlite::each(tx, sql, params, f),
            Conn::Postgres(tx) => postgres::each(tx, sql, params, f),
        }
    }
}

/// One row of a query's result.
pub struct Row<'r> {
    inner: RowInner<'r>,
}

enum RowInner<'r> {
    Sqlite(&'r sqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    /// Column `idx` (from 0) as a `T`; an internal error when it does not
    /// convert (a bug: the schema and the query disagree).
    pub fn get<T: FromColumn>(&self, idx: usize) -> Result<T> {
        let value = match &self.inner {
            RowInner::Sqlite(row) => sqlite::column(row, idx)?,
            RowInner::Postgres(row) => postgres::column(row, idx)?,
        };
        T::from_column(value).ok_or_else(|| {
            crate::canonical::Error::internal(format_args!(
                "column {idx}: unexpected {value:?} for {}",
                std::any::type_name::<T>()
            ))
        })
    }
}
