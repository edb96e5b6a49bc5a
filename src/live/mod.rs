//! Live migration: a frontend with `[frontends.NAME.migration]` runs on two
//! providers at once. The old one (its `provider`) and the new one (`to`)
//! are kept in sync through a durable outbox in imbridge's store: every
//! write the primary answered is recorded there before the caller gets the
//! answer, and a worker applies it to the other side, in order per entity.
//! Reads can be shadowed (run on both sides and compared), and a stable share
//! of users can be served by the new provider (cut-over).
//!
//! - `config`: the settings; `ops`: what each operation is for a migration;
//! - `provider`: the `Provider` wrapper a migrating frontend runs on;
//! - `worker`: applies the outbox; `shadow`: compares reads;
//! - `ids`: id translation between the two sides; `sql`: every statement.

pub mod admin;
pub mod cli;
pub mod config;
mod ids;
pub mod ops;
pub mod provider;
mod shadow;
pub mod sql;
pub mod worker;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

pub use config::{MigrationConfig, Mode};

use crate::canonical::Result;
use crate::metrics::Metrics;
use crate::store::Store;
use sql::Sql;

/// How many shadow comparisons may run at once (more are skipped, never
/// queued: a caller never waits for one).
const SHADOW_SLOTS: usize = 16;

/// What the migrating frontends of one server share: the store holding the
/// outbox, a wake-up for the worker, metrics, the users moved by name.
pub struct Live {
    store: Arc<Store>,
    /// Wakes the worker when an entry was written.
    pub(crate) wake: tokio::sync::Notify,
    pub(crate) metrics: Arc<Metrics>,
    /// Users moved by name, per frontend (refreshed every second).
    moved: moka::future::Cache<String, Arc<HashSet<String>>>,
    pub(crate) shadow_slots: Arc<tokio::sync::Semaphore>,
    /// Providers the worker's last apply could not reach: the first apply
    /// that reaches one again makes its waiting entries due at once.
    pub(crate) unreachable: std::sync::Mutex<HashSet<String>>,
}

impl Live {
    /// Live migration on the store's database (whose schema has its tables).
    pub fn open(store: Arc<Store>, metrics: Arc<Metrics>) -> anyhow::Result<Arc<Live>> {
        Ok(Arc::new(Live {
            store,
            wake: tokio::sync::Notify::new(),
            metrics,
            moved: moka::future::Cache::builder()
                .time_to_live(Duration::from_secs(1))
                .build(),
            shadow_slots: Arc::new(tokio::sync::Semaphore::new(SHADOW_SLOTS)),
            unreachable: std::sync::Mutex::default(),
        }))
    }

    /// The statements, on the store's database.
    pub fn sql(&self) -> Sql<'_> {
        Sql(self.store.db())
    }

    /// The users of `frontend` moved to the new provider by name.
    pub async fn moved(&self, frontend: &str) -> Result<Arc<HashSet<String>>> {
        if let Some(m) = self.moved.get(frontend).await {
            return Ok(m);
        }
        let m = Arc::new(self.sql().moved_users(frontend).await?);
        self.moved.insert(frontend.to_string(), m.clone()).await;
        Ok(m)
    }

    /// Moves users by name (`add`: to the new provider; else back to the
    /// percentage); takes effect at once in this process, within a second
    /// in others.
    pub async fn move_users(&self, frontend: &str, users: Vec<String>, add: bool) -> Result<usize> {
        let n = self
            .sql()
            .move_users(frontend, users, add, now_ms())
            .await?;
        self.moved.invalidate(frontend).await;
        Ok(n)
    }
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
