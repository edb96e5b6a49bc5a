//! The embedded provider: a built-in persistent IM store (SQLite, WAL).
//! (Placeholder until the store lands: answers `unsupported`.)

use std::path::PathBuf;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{CallContext, Provider};
use crate::canonical::{Error, Op, Output, Result};

/// An account configured for the app.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// Account id.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// Configuration of the embedded store.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedConfig {
    /// SQLite file.
    pub path: PathBuf,
    /// Directory of uploaded media.
    pub media_dir: PathBuf,
    /// Base of media download URLs.
    pub media_base_url: String,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        EmbeddedConfig {
            path: "data/imbridge.db".into(),
            media_dir: "data/media".into(),
            media_base_url: "http://127.0.0.1:8080/media".into(),
        }
    }
}

/// The embedded store.
pub struct EmbeddedProvider {
    name: String,
}

impl EmbeddedProvider {
    /// Opens the store.
    pub fn open(name: &str, _cfg: &EmbeddedConfig) -> anyhow::Result<Self> {
        Ok(EmbeddedProvider { name: name.into() })
    }

    /// Path and content type of a stored media file.
    pub async fn media_file(&self, _media_id: &str) -> Option<(PathBuf, String)> {
        None
    }
}

#[async_trait]
impl Provider for EmbeddedProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn execute(&self, op: Op, _ctx: &CallContext) -> Result<Output> {
        Err(Error::unsupported(&self.name, op.name().as_str()))
    }
}
