//! Operations imbridge runs itself for a vendor whose server API lacks them:
//! the vendor's mapping file names them under `hosted:` (WildfireChat and
//! RongCloud have no media API in their server APIs), and they run on
//! imbridge's embedded provider — its media directory and download route —
//! when one is configured; without one they stay unsupported.

use std::sync::Arc;

use async_trait::async_trait;

use super::vendor::VendorProvider;
use super::{CallContext, Provider, SharedProvider};
use crate::canonical::fields::Keeps;
use crate::canonical::{Op, OpName, Output, Result};

/// A vendor provider with its hosted operations run by the host.
pub struct Hosted {
    vendor: Arc<VendorProvider>,
    host: SharedProvider,
}

impl Hosted {
    /// `vendor` with the operations its mapping hosts run on `host` (the
    /// first embedded provider), or `vendor` alone when there is none.
    pub fn wrap(vendor: Arc<VendorProvider>, host: Option<SharedProvider>) -> SharedProvider {
        match host {
            Some(host) => Arc::new(Hosted { vendor, host }),
            None => vendor,
        }
    }

    /// Whether the host runs `op`.
    fn hosted(&self, op: OpName) -> bool {
        self.vendor.hosts(op) && self.host.supports(op)
    }
}

#[async_trait]
impl Provider for Hosted {
    fn name(&self) -> &str {
        self.vendor.name()
    }

    fn supports(&self, op: OpName) -> bool {
        self.hosted(op) || self.vendor.supports(op)
    }

    fn enumerates(&self, op: OpName) -> bool {
        match self.hosted(op) {
            true => self.host.enumerates(op),
            false => self.vendor.enumerates(op),
        }
    }

    fn keeps(&self) -> Keeps {
        self.vendor.keeps()
    }

    async fn execute(&self, op: Op, ctx: &CallContext) -> Result<Output> {
        match self.hosted(op.name()) {
            true => self.host.execute(op, ctx).await,
            false => self.vendor.execute(op, ctx).await,
        }
    }
}
