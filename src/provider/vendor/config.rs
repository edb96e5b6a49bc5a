//! Configuration of a vendor provider.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::auth::Secret;

/// A vendor's server API as a provider.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VendorConfig {
    /// The dialect whose `outbound:` half describes the vendor.
    pub dialect: String,
    /// Base URL of the vendor API (`https://api.im.jpush.cn`).
    pub base_url: String,
    /// Timeout of one call, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Connect timeout, in milliseconds.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Retries of idempotent calls after a connection failure, a timeout or
    /// a 502/503/504.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Largest vendor answer read.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
    /// Longest one operation may take, all its calls, retries and token
    /// fetch together (`foreach` steps included), in milliseconds.
    #[serde(default = "default_deadline_ms")]
    pub deadline_ms: u64,
    /// Most operations in flight on the vendor at once.
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
    /// How long an operation waits for one of `max_concurrency` slots
    /// before it is refused, in milliseconds.
    #[serde(default = "default_queue_ms")]
    pub queue_ms: u64,
    /// Operations in a row finding the vendor unavailable that open the
    /// circuit (0: never).
    #[serde(default = "default_breaker_failures")]
    pub breaker_failures: u32,
    /// How long the circuit stays open before one probe, in milliseconds.
    #[serde(default = "default_breaker_cooldown_ms")]
    pub breaker_cooldown_ms: u64,
    /// First back-off after a failed token fetch, doubled on each failure
    /// up to 60 times this, in milliseconds.
    #[serde(default = "default_token_backoff_ms")]
    pub token_backoff_ms: u64,
    /// Dialect params: credentials, org and app names. Put secrets in the
    /// environment: `IMBRIDGE_PROVIDERS__NAME__PARAMS__MASTER_SECRET=...`.
    #[serde(default)]
    pub params: BTreeMap<String, Secret>,
}

fn default_timeout_ms() -> u64 {
    5000
}

fn default_connect_timeout_ms() -> u64 {
    2000
}

fn default_retries() -> u32 {
    1
}

fn default_max_response_bytes() -> usize {
    16 * 1024 * 1024
}

fn default_deadline_ms() -> u64 {
    30_000
}

fn default_max_concurrency() -> usize {
    256
}

fn default_queue_ms() -> u64 {
    1000
}

fn default_breaker_failures() -> u32 {
    5
}

fn default_breaker_cooldown_ms() -> u64 {
    5000
}

fn default_token_backoff_ms() -> u64 {
    1000
}
