//! Frontends: a dialect served on a listener with its params, app and
//! provider. Per request: match a route, parse the body, authenticate,
//! extract the canonical operation, run it on the provider, render.

pub mod access;
pub mod early;
pub mod handle;
pub mod local;
pub mod offline;
pub mod passwords;
pub mod request;
pub mod route;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::auth::capture::Sealer;
use crate::auth::logins::LoginGuard;
use crate::auth::Secret;
use crate::canonical::OpName;
use crate::mapping::inbound::Binding;
use crate::mapping::plan::Dialect;
use crate::migrate::lazy::LazyPasswords;
use crate::provider::SharedProvider;
use crate::store::Store;

pub use crate::mapping::inbound::Reply;
pub use handle::{handle, Handled};
pub use request::{Body, InboundRequest};
pub use route::RouteTable;

/// A dialect served to clients: its compiled mapping bound to its params,
/// and the provider that runs its operations.
pub struct Frontend {
    /// Frontend name (metrics label; the dialect name unless configured).
    pub name: String,
    /// The dialect with this frontend's params.
    pub binding: Binding,
    /// The app whose users, groups and rooms this frontend works on.
    pub app_key: String,
    /// Where operations run.
    pub provider: SharedProvider,
    /// imbridge's own store (issued tokens, local operations).
    pub store: Option<Arc<Store>>,
    /// Lazy password migration for users copied without a password.
    pub lazy: Option<Arc<LazyPasswords>>,
    /// Failed-login counters (shared by every frontend); none from
    /// [`Frontend::new`], the registry sets them.
    pub logins: Option<Arc<LoginGuard>>,
    /// Seals the passwords it sees for `imbridge migrate` (`[capture]`);
    /// none from [`Frontend::new`], the registry sets it.
    pub capture: Option<Arc<Sealer>>,
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
        lazy: Option<Arc<LazyPasswords>>,
    ) -> Result<Self, String> {
        let binding = Binding::new(&name, dialect, &app_key, values)?;
        Ok(Frontend {
            name,
            binding,
            app_key,
            provider,
            store,
            lazy,
            logins: None,
            capture: None,
        })
    }

    /// The compiled dialect.
    pub fn dialect(&self) -> &Arc<Dialect> {
        &self.binding.dialect
    }

    /// The provider operations this frontend's routes run, sorted, each once
    /// (local operations left out).
    pub fn canonical_ops(&self) -> Vec<OpName> {
        let mut ops: Vec<OpName> = self
            .dialect()
            .inbound
            .iter()
            .flat_map(|i| i.routes.iter().map(|r| r.op))
            .filter(|op| !op.is_local())
            .collect();
        ops.sort();
        ops.dedup();
        ops
    }
}
