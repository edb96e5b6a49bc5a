//! imbridge: a reverse proxy that lets an app written against one IM vendor's
//! HTTP API run on another vendor.
//!
//! The data path, top to bottom:
//! 1. `server` (pingora) accepts a request on a listener and caps its body.
//! 2. `frontend` matches it to a route of a dialect served on that listener.
//! 3. `auth` checks the caller the way the dialect's mapping file says.
//! 4. `mapping::inbound` turns the request into a canonical operation
//!    (`canonical::Op`) with a plan compiled once from the dialect's mapping
//!    file.
//! 5. A `provider` executes the operation: `embedded` (SQLite) or a vendor,
//!    whose calls `mapping::outbound` decides and the provider sends.
//! 6. `mapping::inbound::render` turns the result or the canonical error back
//!    into the dialect's status, headers and body.
//! 7. `metrics` counts and times every step.

pub mod auth;
pub mod canonical;
pub mod cli;
pub mod config;
pub mod db;
pub mod frontend;
pub mod golden;
pub mod live;
pub mod mapping;
pub mod metrics;
pub mod migrate;
pub mod provider;
pub mod registry;
pub mod server;
pub mod store;

/// Loopback ports reserved for test servers, shared with the integration tests.
#[cfg(test)]
#[path = "../tests/it/ports.rs"]
pub(crate) mod ports;
/// Throwaway PostgreSQL clusters, shared with the integration tests.
#[cfg(test)]
#[path = "../tests/it/pg.rs"]
pub(crate) mod test_pg;
