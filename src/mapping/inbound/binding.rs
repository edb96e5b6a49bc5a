//! A dialect's inbound half bound to one frontend's params: what inbound
//! evaluation reads besides the request (`$.config`, the content type, the
//! error tables) and what auth compares credentials with.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::auth::{Params, Secret};
use crate::mapping::plan::{Dialect, ErrorPlan, JSON_CONTENT_TYPE};

/// A dialect bound to a frontend's params.
#[derive(Debug)]
pub struct Binding {
    /// The compiled dialect.
    pub dialect: Arc<Dialect>,
    /// Param values (secret ones included) for auth.
    pub params: Params,
    /// Non-secret params as templates see them (`$.config`).
    pub config: Value,
}

/// A stable UUID naming an app (Easemob's `application`, `$.config.app_uuid`).
pub fn application_uuid(app_key: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, app_key.as_bytes()).to_string()
}

impl Binding {
    /// Binds `dialect` for the frontend `name` of `app_key`, checking that
    /// every required param is set (or has a default); missing ones are
    /// named in the error.
    pub fn new(
        name: &str,
        dialect: Arc<Dialect>,
        app_key: &str,
        values: &BTreeMap<String, Secret>,
    ) -> Result<Binding, String> {
        let mut params = Params::new();
        let mut config = Map::new();
        params.insert("app_key".into(), Secret::new(app_key.to_string()));
        config.insert("app_key".into(), Value::String(app_key.to_string()));
        config.insert("app_uuid".into(), Value::String(application_uuid(app_key)));
        let mut missing = dialect.resolve_params(values, &mut params, &mut config, &mut Map::new());
        // The frontend's app key is always known.
        missing.retain(|name| name != "app_key");
        if !missing.is_empty() {
            return Err(format!(
                "frontend `{name}` (dialect {}) is missing required params: {}",
                dialect.name,
                missing.join(", ")
            ));
        }
        Ok(Binding {
            dialect,
            params,
            config: Value::Object(config),
        })
    }

    /// Content type of this dialect's bodies.
    pub fn content_type(&self) -> &str {
        self.dialect
            .inbound
            .as_ref()
            .map_or(JSON_CONTENT_TYPE, |i| i.content_type.as_str())
    }

    /// The dialect's own error plan (before any route's overrides).
    pub fn errors(&self) -> Arc<ErrorPlan> {
        self.dialect
            .inbound
            .as_ref()
            .map(|i| i.errors.clone())
            .unwrap_or_default()
    }
}
