//! Lazy password migration: a user `imbridge migrate` copied without a
//! password (`password_pending` on the target) logs in through imbridge
//! with the password the source knows. When the target refuses it, the
//! source is asked; if the source accepts it, the password is set on the
//! target (or kept by imbridge, for a target that cannot check passwords)
//! and the user is no longer pending — from then on the target accepts it,
//! through imbridge or directly.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::canonical::user::{UserAuthenticate, UserPasswordSet};
use crate::canonical::{Error, ErrorKind, Op, OpName, Result};
use crate::metrics::Metrics;
use crate::provider::{CallContext, Provider, SharedProvider};
use crate::store::Store;

/// What the login path needs to finish a pending user's password.
pub struct LazyPasswords {
    providers: BTreeMap<String, SharedProvider>,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
}

impl LazyPasswords {
    /// Lazy passwords over the configured `providers` (by name; the sources
    /// of migrations must still be configured) and imbridge's store.
    pub fn new(
        providers: BTreeMap<String, SharedProvider>,
        store: Arc<Store>,
        metrics: Arc<Metrics>,
    ) -> LazyPasswords {
        LazyPasswords {
            providers,
            store,
            metrics,
        }
    }

    fn count(&self, provider: &str, outcome: &str) {
        self.metrics
            .migrate_lazy_passwords
            .with_label_values(&[provider, outcome])
            .inc();
    }

    /// Called when `target` (a frontend's provider) refused `password` for
    /// `username`: whether the user is pending there and the source of the
    /// migration accepts the password, in which case it is now set on the
    /// target. `Ok(false)` leaves the refusal as it was.
    pub async fn accept(
        &self,
        target: &dyn Provider,
        ctx: &CallContext,
        username: &str,
        password: &str,
    ) -> Result<bool> {
        let to = target.name();
        let Some(from) = self
            .store
            .pending_source(&ctx.app_key, to, username)
            .await?
        else {
            return Ok(false);
        };
        let Some(source) = self.providers.get(&from) else {
            tracing::warn!(provider = %from, "a pending user's source provider is not configured any more");
            self.count(to, "source_missing");
            return Ok(false);
        };
        let accepted = if source.supports(OpName::UserAuthenticate) {
            let op = Op::UserAuthenticate(UserAuthenticate {
                username: username.to_string(),
                password: password.to_string(),
            });
            match source.execute(op, ctx).await {
                Ok(_) => true,
                Err(e) if e.kind == ErrorKind::Unauthenticated || e.kind == ErrorKind::NotFound => {
                    false
                }
                Err(e) => {
                    self.count(to, "error");
                    return Err(e);
                }
            }
        } else {
            // The source could not check passwords: imbridge kept its hash.
            self.store
                .check_password(&ctx.app_key, username, password)
                .await
                .is_ok()
        };
        if !accepted {
            self.count(to, "refused");
            return Ok(false);
        }
        self.set(target, ctx, username, password).await?;
        self.store.pending_done(&ctx.app_key, to, username).await?;
        self.count(to, "set");
        Ok(true)
    }

    /// Sets the password on the target, or keeps it when the target cannot
    /// check passwords.
    async fn set(
        &self,
        target: &dyn Provider,
        ctx: &CallContext,
        username: &str,
        password: &str,
    ) -> Result<()> {
        if target.supports(OpName::UserAuthenticate) {
            let op = Op::UserPasswordSet(UserPasswordSet {
                username: username.to_string(),
                password: password.to_string(),
            });
            target.execute(op, ctx).await.map_err(|e| {
                self.count(target.name(), "error");
                Error::new(
                    e.kind,
                    format!("setting the migrated password: {}", e.message),
                )
            })?;
        } else {
            let now = chrono::Utc::now().timestamp_millis();
            self.store
                .set_passwords(&ctx.app_key, &[(username, password)], now)
                .await?;
        }
        Ok(())
    }
}
