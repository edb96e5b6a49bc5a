//! imbridge's own state, whatever the providers: the tokens it issues to
//! callers of dialects that log in through it ([`tokens`]), password hashes
//! of users registered through imbridge on providers that cannot check
//! passwords themselves ([`passwords`]), plain passwords captured for
//! `imbridge migrate`, sealed ([`captured`]), and the ID map: stable integers for
//! provider ids a frontend's integer ids cannot carry ([`ids`]); the
//! cross-provider id pairs of migrations ([`pairs`]); `imbridge migrate`'s
//! checkpoints ([`migration`]) and users whose password is still to come;
//! records of what a vendor cannot keep, read and written by outbound
//! mapping files ([`records`]); the signatures seen, so that none is
//! accepted twice on any replica ([`replays`]); and the tables of live
//! migration (`crate::live`). A SQLite file next to the data (`[store]
//! path`) or a PostgreSQL database every replica shares (`[store] url`), so
//! all of it survives restarts.

mod access;
mod captured;
mod ids;
pub mod migration;
pub mod pairs;
mod passwords;
mod pending;
mod records;
mod replays;
mod tokens;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use ids::FIRST_MAPPED_ID;
pub use tokens::{Revocation, TokenCounters, TokenPolicy, TokenRecord};

use crate::auth::password::{HashParams, Passwords};
use crate::auth::Secret;
use crate::canonical::ids::IdKind;
use crate::db::{Db, Location, Schema};

/// Settings of the store.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// SQLite file (when no `url` is set).
    pub path: std::path::PathBuf,
    /// PostgreSQL URL (`postgres://user:password@host:port/db`): the store
    /// lives there instead of `path`, shared by every replica using it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<Secret>,
    /// Pooled database connections.
    pub pool_size: usize,
    /// Lifetimes of the tokens imbridge issues (`[store.tokens]`).
    pub tokens: TokenPolicy,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: "data/state.db".into(),
            url: None,
            pool_size: 4,
            tokens: TokenPolicy::default(),
        }
    }
}

impl StoreConfig {
    /// A store in the SQLite file `path`.
    pub fn sqlite(path: impl Into<std::path::PathBuf>) -> Self {
        StoreConfig {
            path: path.into(),
            ..StoreConfig::default()
        }
    }

    /// Where the database is: `url` when set, else `path`.
    pub fn location(&self) -> anyhow::Result<Location> {
        Location::of(self.url.as_ref().map(Secret::expose), &self.path)
    }
}

/// The store's tables, per backend.
static SCHEMA: Schema = Schema {
    name: "state",
    sqlite: &[
        r#"
CREATE TABLE tokens (
    digest TEXT PRIMARY KEY,
    frontend TEXT NOT NULL,
    app_key TEXT NOT NULL,
    scope TEXT NOT NULL,
    subject TEXT,
    issued INTEGER NOT NULL,
    expires INTEGER
) WITHOUT ROWID;
CREATE INDEX tokens_expires ON tokens (expires);
"#,
        r#"
CREATE TABLE credentials (
    app_key TEXT NOT NULL,
    username TEXT NOT NULL,
    hash TEXT NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (app_key, username)
) WITHOUT ROWID;
"#,
        r#"
CREATE TABLE id_map (
    provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    external INTEGER NOT NULL,
    internal TEXT NOT NULL,
    PRIMARY KEY (provider, kind, internal),
    UNIQUE (provider, kind, external)
);
"#,
        // Live migration's outbox, moved users and id pairs (`crate::live`);
        // IF NOT EXISTS: they were created outside the versions at first.
        r#"
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
"#,
        // `imbridge migrate`: runs, checkpoints, entities found through
        // users, failures, creations under way (`migration.rs`, `pairs.rs`),
        // users whose password is pending (`passwords.rs`).
        r#"
CREATE TABLE migrate_runs (
    from_provider TEXT NOT NULL,
    to_provider TEXT NOT NULL,
    app_key TEXT NOT NULL,
    started INTEGER NOT NULL,
    finished INTEGER,
    PRIMARY KEY (from_provider, to_provider, app_key)
);
CREATE TABLE migrate_checkpoints (
    from_provider TEXT NOT NULL,
    to_provider TEXT NOT NULL,
    app_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    cursor TEXT NOT NULL,
    done INTEGER NOT NULL,
    copied INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    skipped INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    finished BOOLEAN NOT NULL,
    PRIMARY KEY (from_provider, to_provider, app_key, kind)
);
CREATE TABLE migrate_found (
    from_provider TEXT NOT NULL,
    to_provider TEXT NOT NULL,
    app_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (from_provider, to_provider, app_key, kind, id)
);
CREATE INDEX migrate_found_seq ON migrate_found (from_provider, to_provider, app_key, kind, seq);
CREATE TABLE migrate_failures (
    from_provider TEXT NOT NULL,
    to_provider TEXT NOT NULL,
    app_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    entity TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (from_provider, to_provider, app_key, kind, entity)
);
CREATE TABLE migrate_intents (
    from_provider TEXT NOT NULL,
    to_provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    PRIMARY KEY (from_provider, to_provider, kind, source_id)
);
CREATE TABLE password_pending (
    app_key TEXT NOT NULL,
    provider TEXT NOT NULL,
    username TEXT NOT NULL,
    source_provider TEXT NOT NULL,
    since INTEGER NOT NULL,
    PRIMARY KEY (app_key, provider, username)
);
"#,
        // What imbridge keeps of a provider's data that its vendor cannot
        // (`records.rs`): per provider and kind, JSON by key.
        r#"
CREATE TABLE records (
    provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (provider, kind, key)
);
CREATE INDEX records_created ON records (provider, kind, created);
"#,
        // Signatures seen, to refuse replays on every replica (`replays.rs`).
        REPLAYS,
        TOKENS_BY_SUBJECT,
        CAPTURED,
    ],
    postgres: &[
        r#"
CREATE TABLE tokens (
    digest TEXT PRIMARY KEY,
    frontend TEXT NOT NULL,
    app_key TEXT NOT NULL,
    scope TEXT NOT NULL,
    subject TEXT,
    issued BIGINT NOT NULL,
    expires BIGINT
);
CREATE INDEX tokens_expires ON tokens (expires);

CREATE TABLE credentials (
    app_key TEXT NOT NULL,
    username TEXT NOT NULL,
    hash TEXT NOT NULL,
    updated BIGINT NOT NULL,
    PRIMARY KEY (app_key, username)
);

CREATE SEQUENCE mapped_ids START 1000000000000000;
CREATE TABLE id_map (
    provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    external BIGINT NOT NULL,
    internal TEXT NOT NULL,
    PRIMARY KEY (provider, kind, internal),
    UNIQUE (provider, kind, external)
);

CREATE TABLE outbox (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    frontend TEXT NOT NULL,
    app_key TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    side TEXT NOT NULL,
    op TEXT NOT NULL,
    request TEXT NOT NULL,
    result TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    claimed_until BIGINT,
    created BIGINT NOT NULL,
    error TEXT
);
CREATE INDEX outbox_ready ON outbox (state, next_at, seq);
CREATE TABLE outbox_keys (
    seq BIGINT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (key, seq)
);
CREATE INDEX outbox_keys_seq ON outbox_keys (seq);
CREATE TABLE migration_users (
    frontend TEXT NOT NULL,
    username TEXT NOT NULL,
    added BIGINT NOT NULL,
    PRIMARY KEY (frontend, username)
);
CREATE TABLE id_pairs (
    from_provider TEXT NOT NULL,
    to_provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    origin TEXT NOT NULL,
    PRIMARY KEY (from_provider, to_provider, kind, source_id),
    UNIQUE (from_provider, to_provider, kind, target_id)
);

CREATE TABLE migrate_runs (
    from_provider TEXT NOT NULL,
    to_provider TEXT NOT NULL,
    app_key TEXT NOT NULL,
    started BIGINT NOT NULL,
    finished BIGINT,
    PRIMARY KEY (from_provider, to_provider, app_key)
);
CREATE TABLE migrate_checkpoints (
    from_provider TEXT NOT NULL,
    to_provider TEXT NOT NULL,
    app_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    cursor TEXT NOT NULL,
    done BIGINT NOT NULL,
    copied BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    skipped BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    finished BOOLEAN NOT NULL,
    PRIMARY KEY (from_provider, to_provider, app_key, kind)
);
CREATE TABLE migrate_found (
    from_provider TEXT NOT NULL,
    to_provider TEXT NOT NULL,
    app_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    seq BIGINT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (from_provider, to_provider, app_key, kind, id)
);
CREATE INDEX migrate_found_seq ON migrate_found (from_provider, to_provider, app_key, kind, seq);
CREATE TABLE migrate_failures (
    from_provider TEXT NOT NULL,
    to_provider TEXT NOT NULL,
    app_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    entity TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (from_provider, to_provider, app_key, kind, entity)
);
CREATE TABLE migrate_intents (
    from_provider TEXT NOT NULL,
    to_provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    PRIMARY KEY (from_provider, to_provider, kind, source_id)
);
CREATE TABLE password_pending (
    app_key TEXT NOT NULL,
    provider TEXT NOT NULL,
    username TEXT NOT NULL,
    source_provider TEXT NOT NULL,
    since BIGINT NOT NULL,
    PRIMARY KEY (app_key, provider, username)
);
"#,
        r#"
CREATE TABLE records (
    provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    PRIMARY KEY (provider, kind, key)
);
CREATE INDEX records_created ON records (provider, kind, created);
"#,
        REPLAYS,
        TOKENS_BY_SUBJECT,
        CAPTURED,
    ],
};

/// The replay cache's table, the same on both backends.
const REPLAYS: &str = r#"
CREATE TABLE replays (
    digest TEXT PRIMARY KEY,
    expires BIGINT NOT NULL
);
CREATE INDEX replays_expires ON replays (expires);
"#;

/// Revoking a user's tokens (`tokens.rs`) and the users disabled through
/// imbridge, refused on every provider (`access.rs`); the same on both
/// backends.
const TOKENS_BY_SUBJECT: &str = r#"
CREATE INDEX tokens_subject ON tokens (app_key, subject);
CREATE TABLE disabled_users (
    app_key TEXT NOT NULL,
    username TEXT NOT NULL,
    since BIGINT NOT NULL,
    PRIMARY KEY (app_key, username)
);
"#;

/// Captured passwords, sealed (`captured.rs`), the same on both backends.
const CAPTURED: &str = r#"
CREATE TABLE captured_passwords (
    app_key TEXT NOT NULL,
    username TEXT NOT NULL,
    sealed TEXT NOT NULL,
    updated BIGINT NOT NULL,
    PRIMARY KEY (app_key, username)
);
"#;

/// The store.
pub struct Store {
    db: Db,
    passwords: Passwords,
    /// ID map entries seen, both directions (they never change once made).
    ids: moka::future::Cache<(String, IdKind, bool, String), String>,
    /// Recently verified tokens by digest, for `tokens.recheck_secs`
    /// (revocations on other replicas are seen within that time).
    verified: moka::future::Cache<String, TokenRecord>,
    /// Lifetimes of issued tokens.
    token_policy: TokenPolicy,
    /// Revoked and refused tokens, counted.
    token_counters: TokenCounters,
}

impl Store {
    /// Opens the store's database (creating a SQLite file when missing),
    /// bringing its schema up to date.
    pub fn open(cfg: &StoreConfig) -> anyhow::Result<Store> {
        let location = cfg.location()?;
        let db = Db::open(&location, cfg.pool_size, &SCHEMA)
            .map_err(|e| anyhow::anyhow!("opening the store {location}: {e:#}"))?;
        Ok(Store {
            db,
            passwords: Passwords::new(HashParams::default())?,
            ids: moka::future::Cache::new(1_000_000),
            verified: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(cfg.tokens.recheck_secs.max(1)))
                .support_invalidation_closures()
                .build(),
            token_policy: cfg.tokens.clone(),
            token_counters: TokenCounters::default(),
        })
    }

    /// The database (for other modules' tables in the same database: the
    /// live migration outbox).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Whether the store's database answers (for `/readyz`).
    pub async fn health(&self) -> crate::canonical::Result<()> {
        self.db.health().await
    }
}

/// A store configuration on each backend, each with what keeps its
/// database alive (a temporary directory, a throwaway cluster).
#[cfg(test)]
pub(crate) fn test_configs() -> Vec<(StoreConfig, Box<dyn std::any::Any>)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = StoreConfig::sqlite(dir.path().join("state.db"));
    let pg = crate::test_pg::Postgres::start();
    let postgres = StoreConfig {
        url: Some(Secret::new(pg.url())),
        ..StoreConfig::default()
    };
    vec![(sqlite, Box::new(dir)), (postgres, Box::new(pg))]
}
