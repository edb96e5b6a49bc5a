//! The PostgreSQL backend: tokio-postgres under a deadpool pool, driven from
//! a blocking thread with `Handle::block_on`, so transaction closures stay
//! synchronous. Writes run SERIALIZABLE and are retried (closure and all)
//! after a serialization failure or a deadlock; reads run REPEATABLE READ,
//! READ ONLY (one snapshot, never a serialization failure); claims run READ
//! COMMITTED with `FOR UPDATE … SKIP LOCKED` selects. "Now" is the
//! database's clock. A lost or refused connection is `upstream_unavailable`;
//! the pool drops closed connections and opens new ones, so service comes
//! back by itself with the database.
//!
//! Migrations run at open on a connection of their own, under an advisory
//! lock (replicas starting at once apply each version once), and record the
//! version of each schema in `imbridge_schema`.

use std::cell::Cell;
use std::error::Error as StdError;
use std::time::Duration;

use bytes::BytesMut;
use deadpool_postgres::{Manager, ManagerConfig, Object, RecyclingMethod, Runtime};
use tokio::runtime::Handle;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::{IsolationLevel, NoTls};

pub(super) use tokio_postgres::Row;

use super::{portable, Conn, Mode, Param, RowInner, Schema, Tx, Value};
use crate::canonical::{Error, ErrorKind, Result};

/// How long a write closure keeps being retried after serialization
/// failures (each retry after a random pause of up to 2^attempt ms, at most
/// 100 ms) before the request fails as `upstream_unavailable`.
const RETRY_BUDGET: Duration = Duration::from_secs(5);

/// How long a caller waits for a connection, and a new connection for the
/// server, before the request fails as `upstream_unavailable`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The advisory lock migrations hold ("imbridge" in ASCII).
const MIGRATION_LOCK: i64 = 0x696d_6272_6964_6765;

/// The pool of connections to one database.
pub(super) struct Pool {
    pool: deadpool_postgres::Pool,
}

impl Pool {
    /// Connects and brings `schema` (when given) up to date, then builds a
    /// pool of at most `size` connections (opened as needed).
    pub(super) fn open(url: &str, size: usize, schema: Option<&Schema>) -> anyhow::Result<Pool> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| anyhow::anyhow!("invalid PostgreSQL URL: {e}"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("imbridge");
        }
        if let Some(schema) = schema {
            let migrating = config.clone();
            std::thread::scope(|s| {
                s.spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?
                        .block_on(migrate(&migrating, schema))
                })
                .join()
                .map_err(|_| anyhow::anyhow!("the migration thread panicked"))?
            })?;
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()?;
        Ok(Pool { pool })
    }

    /// Runs `f` in a transaction isolated for `mode` on a blocking thread,
    /// again after serialization failures and deadlocks.
    pub(super) async fn run<R, F>(&self, mode: Mode, f: F) -> Result<R>
    where
        F: Fn(&Tx<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let mut client = self.pool.get().await.map_err(|e| {
            tracing::warn!(error = %e, "no database connection");
            unavailable()
        })?;
        let handle = Handle::current();
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let mut attempt = 0u32;
            loop {
                match run_once(&handle, &mut client, mode, &f) {
                    Err((e, true)) if started.elapsed() < RETRY_BUDGET => {
                        attempt = attempt.saturating_add(1);
                        // Random pauses, so the transactions that collided part ways.
                        let cap = 1u64 << attempt.min(7);
                        let pause = rand::random_range(0..=cap.min(100));
                        std::thread::sleep(Duration::from_millis(pause));
                        tracing::debug!(error = %e, attempt, "serialization failure, retrying");
                    }
                    Err((e, true)) => {
                        tracing::warn!(error = %e, "serialization failures, giving up");
                        return Err(Error::new(
                            ErrorKind::UpstreamUnavailable,
                            "the database is busy, try again",
                        ));
                    }
                    done => return done.map_err(|(e, _)| e),
                }
            }
        })
        .await
        .map_err(|e| Error::internal(format_args!("database task: {e}")))?
    }
}

/// What a failed attempt left: the error, and whether running the closure
/// again may succeed (a serialization failure or a deadlock).
type Attempt<R> = std::result::Result<R, (Error, bool)>;

fn run_once<R>(
    handle: &Handle,
    client: &mut Object,
    mode: Mode,
    f: &impl Fn(&Tx<'_>) -> Result<R>,
) -> Attempt<R> {
    let level = match mode {
        Mode::Read => IsolationLevel::RepeatableRead,
        Mode::Write => IsolationLevel::Serializable,
        Mode::Claim => IsolationLevel::ReadCommitted,
    };
    let tx = handle
        .block_on(
            client
                .build_transaction()
                .isolation_level(level)
                .read_only(mode == Mode::Read)
                .start(),
        )
        .map_err(|e| classify(&e))?;
    let state = Transaction {
        handle,
        tx,
        retry: Cell::new(false),
        now: Cell::new(None),
    };
    let out = f(&Tx {
        conn: Conn::Postgres(&state),
    });
    let Transaction { tx, retry, .. } = state;
    match out {
        Ok(out) => handle
            .block_on(tx.commit())
            .map(|()| out)
            .map_err(|e| classify(&e)),
        Err(e) => {
            // Failing to roll back means the connection is gone: the pool drops it.
            let _ = handle.block_on(tx.rollback());
            Err((e, retry.get()))
        }
    }
}

/// An open PostgreSQL transaction, as a [`Tx`] holds it.
pub(super) struct Transaction<'a> {
    handle: &'a Handle,
    tx: deadpool_postgres::Transaction<'a>,
    /// Set when a statement met a serialization failure: the closure's
    /// error then means "run me again".
    retry: Cell<bool>,
    /// The database's clock, read once per transaction.
    now: Cell<Option<i64>>,
}

impl Transaction<'_> {
    /// Notes a failed statement and turns it into a canonical error.
    fn failed(&self, e: &tokio_postgres::Error) -> Error {
        let (error, retry) = classify(e);
        if retry {
            self.retry.set(true);
        }
        error
    }

    fn prepare(&self, sql: &str) -> Result<tokio_postgres::Statement> {
        self.handle
            .block_on(self.tx.prepare_cached(&portable::postgres(sql)))
            .map_err(|e| self.failed(&e))
    }
}

/// A canonical error for a PostgreSQL error, and whether a retry may help.
fn classify(e: &tokio_postgres::Error) -> (Error, bool) {
    let code = e.code();
    let retry = matches!(
        code,
        Some(&SqlState::T_R_SERIALIZATION_FAILURE) | Some(&SqlState::T_R_DEADLOCK_DETECTED)
    );
    let lost = e.is_closed()
        || code.is_some_and(|c| {
            c.code().starts_with("08")
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
        })
        || (code.is_none() && e.source().is_some_and(|s| s.is::<std::io::Error>()));
    let error = if lost {
        tracing::warn!(error = %e, "database connection lost");
        unavailable()
    } else if retry {
        Error::new(ErrorKind::Internal, "serialization failure")
    } else {
        Error::internal(format_args!("postgres: {e}"))
    };
    (error, retry)
}

/// `upstream_unavailable`: the database cannot be reached.
fn unavailable() -> Error {
    Error::new(
        ErrorKind::UpstreamUnavailable,
        "the database is unavailable",
    )
}

/// Brings `schema` up to date under the migration lock.
async fn migrate(config: &tokio_postgres::Config, schema: &Schema) -> anyhow::Result<()> {
    let (mut client, connection) = config.connect(NoTls).await?;
    let connection = tokio::spawn(connection);
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS imbridge_schema \
             (name TEXT PRIMARY KEY, version BIGINT NOT NULL)",
        )
        .await?;
    let stored: i64 = client
        .query_opt(
            "SELECT version FROM imbridge_schema WHERE name = $1",
            &[&schema.name],
        )
        .await?
        .map_or(0, |r| r.get(0));
    let migrations = schema.postgres;
    let version = usize::try_from(stored)?;
    if version > migrations.len() {
        anyhow::bail!(
            "{} schema version {version} is newer than this imbridge knows ({})",
            schema.name,
            migrations.len()
        );
    }
    for (index, sql) in migrations.iter().enumerate().skip(version) {
        let next = i64::try_from(index + 1)?;
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO imbridge_schema (name, version) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET version = excluded.version",
            &[&schema.name, &next],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(schema = schema.name, version = next, "schema migrated");
    }
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    drop(client);
    connection.await??;
    Ok(())
}

/// A parameter as tokio-postgres binds it: converted to the type the
/// server inferred for it.
#[derive(Debug)]
struct Bind<'a>(Value<'a>);

impl ToSql for Bind<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match (self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Int(i), &Type::INT4) => i32::try_from(i)?.to_sql(ty, out),
            (Value::Int(i), &Type::INT2) => i16::try_from(i)?.to_sql(ty, out),
            (Value::Int(i), &Type::BOOL) => (i != 0).to_sql(ty, out),
            #[allow(clippy::cast_precision_loss)]
            (Value::Int(i), &Type::FLOAT8) => (i as f64).to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT8) => f.to_sql(ty, out),
            (Value::Bool(b), &Type::BOOL) => b.to_sql(ty, out),
            (Value::Bool(b), &Type::INT8) => i64::from(b).to_sql(ty, out),
            (Value::Bool(b), &Type::INT4) => i32::from(b).to_sql(ty, out),
            (Value::Text(s), _) if <&str as ToSql>::accepts(ty) => s.to_sql(ty, out),
            (Value::Bytes(b), &Type::BYTEA) => b.to_sql(ty, out),
            (value, _) => Err(format!("cannot bind {} to a {ty} parameter", kind(value)).into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// What kind of value it is (never the value: it may be a secret).
fn kind(value: Value<'_>) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Int(_) => "an integer",
        Value::Real(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Text(_) => "text",
        Value::Bytes(_) => "bytes",
    }
}

fn binds<'a>(params: &'a [&'a dyn Param]) -> Vec<Bind<'a>> {
    params.iter().map(|p| Bind(p.value())).collect()
}

fn refs<'a>(binds: &'a [Bind<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    binds.iter().map(|b| b as &(dyn ToSql + Sync)).collect()
}

/// [`Tx::now`]: the database's clock, in ms since the epoch (the start of
/// the transaction: every row it writes has the same time).
pub(super) fn now(tx: &Transaction<'_>) -> i64 {
    if let Some(now) = tx.now.get() {
        return now;
    }
    let read = tx.handle.block_on(
        tx.tx
            .query_one("SELECT (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT", &[]),
    );
    // On failure the transaction is aborted and its next statement fails.
    let now = match read {
        Ok(row) => row.get(0),
        Err(e) => {
            tx.failed(&e);
            chrono::Utc::now().timestamp_millis()
        }
    };
    tx.now.set(Some(now));
    now
}

/// [`Tx::execute`].
pub(super) fn execute(tx: &Transaction<'_>, sql: &str, params: &[&dyn Param]) -> Result<u64> {
    let stmt = tx.prepare(sql)?;
    let binds = binds(params);
    tx.handle
        .block_on(tx.tx.execute(&stmt, &refs(&binds)))
        .map_err(|e| tx.failed(&e))
}

/// Calls `f` with each row until it returns `false`.
pub(super) fn each(
    tx: &Transaction<'_>,
    sql: &str,
    params: &[&dyn Param],
    mut f: impl FnMut(&super::Row<'_>) -> Result<bool>,
) -> Result<()> {
    let stmt = tx.prepare(sql)?;
    let binds = binds(params);
    let rows = tx
        .handle
        .block_on(tx.tx.query(&stmt, &refs(&binds)))
        .map_err(|e| tx.failed(&e))?;
    for row in &rows {
        let row = super::Row {
            inner: RowInner::Postgres(row),
        };
        if !f(&row)? {
            break;
        }
    }
    Ok(())
}

/// Column `idx` of a row.
pub(super) fn column(row: &Row, idx: usize) -> Result<Value<'_>> {
    let ty = row
        .columns()
        .get(idx)
        .ok_or_else(|| Error::internal(format_args!("no column {idx}")))?
        .type_()
        .clone();
    let get_err = |e: tokio_postgres::Error| Error::internal(format_args!("column {idx}: {e}"));
    let value = match ty {
        Type::INT8 => row
            .try_get::<_, Option<i64>>(idx)
            .map(|v| v.map(Value::Int)),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(idx)
            .map(|v| v.map(|i| Value::Int(i64::from(i)))),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(idx)
            .map(|v| v.map(|i| Value::Int(i64::from(i)))),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(idx)
            .map(|v| v.map(Value::Real)),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(idx)
            .map(|v| v.map(|f| Value::Real(f64::from(f)))),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(idx)
            .map(|v| v.map(Value::Bool)),
        Type::BYTEA => row
            .try_get::<_, Option<&[u8]>>(idx)
            .map(|v| v.map(Value::Bytes)),
        _ => row
            .try_get::<_, Option<&str>>(idx)
            .map(|v| v.map(Value::Text)),
    };
    Ok(value.map_err(get_err)?.unwrap_or(Value::Null))
}
