//! A dialect's outbound half bound to one provider's params: what every
//! outbound evaluation of that provider reads (`$.config`, `$.params`,
//! `$.provider`), checked once when the provider is configured.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::plan::{OpPlan, Outbound};
use crate::auth::{Params, Secret};
use crate::canonical::OpName;
use crate::mapping::plan::Dialect;
use crate::mapping::template::document;

/// A dialect bound to a provider's params, ready to run operations.
#[derive(Debug)]
pub struct Binding {
    /// The provider's name (messages, `$.provider`).
    pub provider: String,
    /// The dialect whose outbound half describes the vendor.
    pub dialect: Arc<Dialect>,
    /// Param values, secret ones included (outbound auth reads them).
    pub params: Params,
    /// The document of [`Binding::document`] with an empty request and
    /// `fresh_id`: cloned per operation (a clone copies each key's hash,
    /// building the document again would hash each key).
    base: Value,
}

impl Binding {
    /// Binds `dialect` to `provider`'s param `values`: the dialect must have
    /// an outbound half and every required param must be set (or have a
    /// default); what is missing is named in the error.
    pub fn new(
        provider: &str,
        dialect: Arc<Dialect>,
        values: &BTreeMap<String, Secret>,
    ) -> Result<Binding, String> {
        if dialect.outbound.is_none() {
            return Err(format!(
                "provider `{provider}`: dialect `{}` has no outbound half",
                dialect.name
            ));
        }
        let mut params = Params::new();
        let mut public = Map::new();
        let mut all = Map::new();
        let missing = dialect.resolve_params(values, &mut params, &mut public, &mut all);
        if !missing.is_empty() {
            return Err(format!(
                "provider `{provider}` (dialect {}) is missing required params: {}",
                dialect.name,
                missing.join(", ")
            ));
        }
        let base = document([
            // The members an operation sets, placed where they were always.
            ("request", Value::Null),
            ("config", Value::Object(public)),
            ("params", Value::Object(all)),
            ("steps", Value::Object(Map::new())),
            ("last", Value::Null),
            ("fresh_id", Value::Null),
            ("provider", Value::String(provider.to_string())),
        ]);
        Ok(Binding {
            provider: provider.to_string(),
            dialect,
            params,
            base,
        })
    }

    /// The non-secret params, as templates see them (`$.config`).
    pub fn public_params(&self) -> &Value {
        &self.base["config"]
    }

    /// The outbound half.
    pub fn outbound(&self) -> &Outbound {
        self.dialect
            .outbound
            .as_ref()
            .expect("Binding::new checked the outbound half")
    }

    /// The plan of `op`, when the vendor can run it.
    pub fn plan(&self, op: OpName) -> Option<&OpPlan> {
        self.outbound().ops.get(&op)
    }

    /// The document outbound templates read: the canonical `request`, the
    /// params, the answers so far (none yet) and `fresh_id` (a unique number
    /// the caller drew, for vendors that want a client-made id).
    pub(super) fn document(&self, request: Value, fresh_id: i64) -> Value {
        let mut doc = self.base.clone();
        doc["request"] = request;
        doc["fresh_id"] = Value::String(fresh_id.to_string());
        doc
    }
}
