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
