//! The two providers of a migration, built from the config as `serve`
//! builds them, each behind a rate limit (`--rate`) and a back-off that
//! retries calls the vendor could not serve now (rate limits, outages).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::canonical::fields::Keeps;
use crate::canonical::{Error, ErrorKind, Op, OpName, Output, Result};
use crate::config::{Config, ProviderConfig};
use crate::mapping::compile::compile_dir;
use crate::mapping::diag;
use crate::metrics::Metrics;
use crate::provider::embedded::EmbeddedProvider;
use crate::provider::vendor::VendorProvider;
use crate::provider::{CallContext, SharedProvider};
use crate::store::Store;

/// Opens the provider `name` of `config` (embedded store, or vendor bound to
/// its mapping's outbound half, keeping its records in `store`: what the
/// vendor cannot list, a copy to it must record).
pub fn open(
    config: &Config,
    name: &str,
    metrics: &Arc<Metrics>,
    store: Option<Arc<Store>>,
) -> anyhow::Result<SharedProvider> {
    let Some(pc) = config.providers.get(name) else {
        let known: Vec<&str> = config.providers.keys().map(String::as_str).collect();
        anyhow::bail!(
            "unknown provider `{name}` (configured: {})",
            known.join(", ")
        );
    };
    Ok(match pc {
        ProviderConfig::Embedded(cfg) => Arc::new(EmbeddedProvider::open(name, cfg)?),
        ProviderConfig::Vendor(cfg) => {
            let vendor = VendorProvider::new(name, cfg, metrics.clone(), store)?;
            let (dialects, diagnostics) = compile_dir(&config.mappings);
            if !diagnostics.is_empty() {
                anyhow::bail!("{}", diag::render(&diagnostics));
            }
            let Some(dialect) = dialects.into_iter().find(|d| d.name == cfg.dialect) else {
                anyhow::bail!(
                    "provider `{name}`: no mapping file in {} defines dialect `{}`",
                    config.mappings.display(),
                    cfg.dialect
                );
            };
            vendor.install(vendor.prepare(dialect).map_err(anyhow::Error::msg)?);
            Arc::new(vendor)
        }
    })
}

/// Which end of the migration a side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Read from.
    Source,
    /// Written to.
    Target,
}

impl Role {
    /// The word in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Source => "source",
            Role::Target => "target",
        }
    }
}

/// One provider of a migration, paced.
pub struct Side {
    provider: SharedProvider,
    /// Source or target.
    pub role: Role,
    ctx: CallContext,
    limiter: Option<DefaultDirectRateLimiter>,
    backoff: ExponentialBuilder,
}

/// How often a call the provider could not serve now is tried again, and
/// how long the pauses grow: about a minute in all before giving up.
fn backoff(patience: Duration) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(10))
        .with_total_delay(Some(patience))
        .without_max_times()
        .with_jitter()
}

/// Whether an error is the provider not serving now (an outage or its rate
/// limit), worth trying again later.
pub fn transient(e: &Error) -> bool {
    e.kind == ErrorKind::UpstreamUnavailable
}

impl Side {
    /// `provider` for `app_key`, at most `rate` calls a second when given,
    /// retrying transient failures for up to `patience`.
    pub fn new(
        provider: SharedProvider,
        role: Role,
        app_key: &str,
        rate: Option<NonZeroU32>,
        patience: Duration,
    ) -> Side {
        Side {
            provider,
            role,
            ctx: CallContext {
                app_key: app_key.to_string(),
                request_id: format!("migrate-{}", role.as_str()),
                ..CallContext::default()
            },
            limiter: rate.map(|r| RateLimiter::direct(Quota::per_second(r))),
            backoff: backoff(patience),
        }
    }

    /// The provider's configured name.
    pub fn name(&self) -> &str {
        self.provider.name()
    }

    /// Whether the provider can run `op`.
    pub fn supports(&self, op: OpName) -> bool {
        self.provider.supports(op)
    }

    /// Whether the provider's list `op` answers every entity.
    pub fn enumerates(&self, op: OpName) -> bool {
        self.provider.enumerates(op)
    }

    /// What the provider keeps of each entity.
    pub fn keeps(&self) -> Keeps {
        self.provider.keeps()
    }

    /// Runs `op`, waiting for the rate limit and retrying while the provider
    /// cannot serve now.
    pub async fn run(&self, op: Op) -> Result<Output> {
        let attempt = || async {
            if let Some(l) = &self.limiter {
                l.until_ready().await;
            }
            self.provider.execute(op.clone(), &self.ctx).await
        };
        attempt
            .retry(self.backoff)
            .when(transient)
            .notify(|e, pause| {
                tracing::warn!(provider = self.name(), role = self.role.as_str(), error = %e, ?pause, "retrying");
            })
            .await
    }
}

/// The result of `op` as its own type: `take!(out, UserGet)` is the
/// `User` of a `user.get`.
macro_rules! take {
    ($out:expr, $variant:ident) => {
        match $out {
            $crate::canonical::Output::$variant(v) => Ok(v),
            other => Err($crate::canonical::Error::internal(format!(
                "expected a result of {}, got one of {}",
                $crate::canonical::OpName::$variant,
                other.name()
            ))),
        }
    };
}
pub(crate) use take;
