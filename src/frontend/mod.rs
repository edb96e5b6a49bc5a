//! Frontends: a dialect served on a listener with its params, app and
//! provider. Per request: match a route, parse the body, authenticate,
//! extract the canonical operation, run it on the provider, render.

pub mod credentials;
pub mod handle;
pub mod local;
pub mod render;
pub mod request;
pub mod route;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::auth::{Params, Secret};
use crate::canonical::OpName;
use crate::mapping::plan::{Dialect, JSON_CONTENT_TYPE};
use crate::provider::SharedProvider;
use crate::store::Store;

pub use handle::{handle, Handled};
pub use render::Reply;
pub use request::{Body, InboundRequest};
pub use route::RouteTable;

/// A dialect served to clients: its compiled mapping, its configuration and
/// the provider that runs its operations.
pub struct Frontend {
    /// Frontend name (metrics label; the dialect name unless configured).
    pub name: String,
    /// The compiled dialect.
    pub dialect: Arc<Dialect>,
    /// The app whose users, groups and rooms this frontend works on.
    pub app_key: String,
    /// Param values (secret ones included) for auth.
    pub params: Params,
    /// Non-secret params as templates see them (`$.config`).
    pub config_doc: Value,
    /// Where operations run.
    pub provider: SharedProvider,
    /// imbridge's own store (issued tokens, local operations).
    pub store: Option<Arc<Store>>,
}

impl Frontend {
    /// Builds a frontend, checking that every required param of the dialect
    /// is set; missing ones are named in the error.
    pub fn new(
        name: String,
        dialect: Arc<Dialect>,
        app_key: String,
        values: &BTreeMap<String, Secret>,
        provider: SharedProvider,
        store: Option<Arc<Store>>,
    ) -> Result<Self, String> {
        let mut params = Params::new();
        let mut config = Map::new();
        let mut missing = Vec::new();
        params.insert("app_key".into(), Secret::new(app_key.clone()));
        config.insert("app_key".into(), Value::String(app_key.clone()));
        config.insert(
            "app_uuid".into(),
            Value::String(local::application_uuid(&app_key)),
        );
        for p in &dialect.params {
            let value = values
                .get(&p.name)
                .cloned()
                .or_else(|| p.default.clone().map(Secret::new));
            match value {
                Some(v) => {
                    if !p.secret {
                        config.insert(p.name.clone(), Value::String(v.expose().to_string()));
                    }
                    params.insert(p.name.clone(), v);
                }
                None if p.required && p.name != "app_key" => missing.push(p.name.clone()),
                None => {}
            }
        }
        if !missing.is_empty() {
            return Err(format!(
                "frontend `{name}` (dialect {}) is missing required params: {}",
                dialect.name,
                missing.join(", ")
            ));
        }
        Ok(Frontend {
            name,
            dialect,
            app_key,
            params,
            config_doc: Value::Object(config),
            provider,
            store,
        })
    }

    /// The provider operations this frontend's routes run, sorted, each once
    /// (local operations left out).
    pub fn canonical_ops(&self) -> Vec<OpName> {
        let mut ops: Vec<OpName> = self
            .dialect
            .inbound
            .iter()
            .flat_map(|i| i.routes.iter().map(|r| r.op))
            .filter(|op| !op.is_local())
            .collect();
        ops.sort();
        ops.dedup();
        ops
    }

    /// Content type of this dialect's bodies.
    pub fn content_type(&self) -> &str {
        self.dialect
            .inbound
            .as_ref()
            .map_or(JSON_CONTENT_TYPE, |i| i.content_type.as_str())
    }
}
