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
//! The schema is versioned per backend ([`Schema`]): a list of migrations per
//! dialect, applied at open, oldest first, each in its own transaction.
//!
//! ```no_run
//! use imbridge::db::{Db, Schema};
//!
//! static SCHEMA: Schema = Schema {
//!     name: "example",
//!     sqlite: &["CREATE TABLE words (app TEXT NOT NULL, word TEXT NOT NULL,
//!                PRIMARY KEY (app, word))"],
//! };
//!
//! # async fn demo() -> anyhow::Result<()> {
//! let db = Db::open_sqlite("data/example.db".as_ref(), 2, &SCHEMA)?;
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

mod sqlite;
mod value;

use std::path::Path;

pub use value::{FromColumn, Param, Value};

use crate::canonical::Result;

/// The SQL dialect of a backend, for the rare statement that differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (rusqlite), the zero-config default.
    Sqlite,
}

/// A versioned schema: the migrations of each dialect, oldest first;
/// migration `i` takes the schema from version `i` to `i + 1`.
#[derive(Debug)]
pub struct Schema {
    /// Names the schema in logs and errors (`"state"`, `"embedded"`).
    pub name: &'static str,
    /// SQLite's migrations (the version is kept in `PRAGMA user_version`).
    pub sqlite: &'static [&'static str],
}

/// A pool of connections to one database.
pub struct Db {
    backend: Backend,
}

enum Backend {
    Sqlite(sqlite::Pool),
}

impl Db {
    /// Opens (creating it and its directory) a SQLite file with a pool of
    /// `size` connections, bringing its schema up to date first.
    pub fn open_sqlite(path: &Path, size: usize, schema: &'static Schema) -> anyhow::Result<Db> {
        Ok(Db {
            backend: Backend::Sqlite(sqlite::Pool::open(path, size, schema)?),
        })
    }

    /// Runs `f` in a read transaction on a blocking thread.
    pub async fn read<R, F>(&self, f: F) -> Result<R>
    where
        F: Fn(&Tx<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        match &self.backend {
            Backend::Sqlite(pool) => pool.run(false, f).await,
        }
    }

    /// Runs `f` in a write transaction on a blocking thread; commits when `f`
    /// succeeds, rolls back when it fails.
    pub async fn write<R, F>(&self, f: F) -> Result<R>
    where
        F: Fn(&Tx<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        match &self.backend {
            Backend::Sqlite(pool) => pool.run(true, f).await,
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
}

impl Tx<'_> {
    /// The backend's dialect.
    pub fn dialect(&self) -> Dialect {
        match self.conn {
            Conn::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// The current time in milliseconds since the epoch, on the clock every
    /// replica shares (the database's when it has one).
    pub fn now(&self) -> i64 {
        match self.conn {
            Conn::Sqlite(_) => chrono::Utc::now().timestamp_millis(),
        }
    }

    /// Runs a statement that returns no rows; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn Param]) -> Result<u64> {
        match self.conn {
            Conn::Sqlite(tx) => sqlite::execute(tx, sql, params),
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
        }
    }
}

/// One row of a query's result.
pub struct Row<'r> {
    inner: RowInner<'r>,
}

enum RowInner<'r> {
    Sqlite(&'r sqlite::Row<'r>),
}

impl Row<'_> {
    /// Column `idx` (from 0) as a `T`; an internal error when it does not
    /// convert (a bug: the schema and the query disagree).
    pub fn get<T: FromColumn>(&self, idx: usize) -> Result<T> {
        let value = match &self.inner {
            RowInner::Sqlite(row) => sqlite::column(row, idx)?,
        };
        T::from_column(value).ok_or_else(|| {
            crate::canonical::Error::internal(format_args!(
                "column {idx}: unexpected {value:?} for {}",
                std::any::type_name::<T>()
            ))
        })
    }
}
