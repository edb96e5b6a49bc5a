//! The provider a migrating frontend runs on: it picks the primary side of
//! each call, runs the call there, records writes in the outbox before the
//! caller gets the answer, and shadows a sample of reads.

use std::sync::Arc;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use super::ids::{Ids, Side};
use super::ops::{self, Class};
use super::sql::NewEntry;
use super::{now_ms, shadow, Live, MigrationConfig, Mode};
use crate::canonical::{Error, Op, OpName, Output, Result};
use crate::provider::{CallContext, Provider, SharedProvider};

/// A frontend's provider during a migration from `old` to `new`.
pub struct Migrating {
    frontend: String,
    old: SharedProvider,
    new: SharedProvider,
    config: MigrationConfig,
    live: Arc<Live>,
}

impl Migrating {
    /// Wraps the frontend's provider (`old`) and the migration's (`new`).
    pub fn new(
        frontend: &str,
        old: SharedProvider,
        new: SharedProvider,
        config: MigrationConfig,
        live: Arc<Live>,
    ) -> Self {
        let percent = if config.mode == Mode::Cutover {
            config.percent
        } else {
            0
        };
        live.metrics
            .migration_percent
            .with_label_values(&[frontend])
            .set(i64::from(percent));
        Migrating {
            frontend: frontend.to_string(),
            old,
            new,
            config,
            live,
        }
    }

    fn provider(&self, side: Side) -> &SharedProvider {
        match side {
            Side::Old => &self.old,
            Side::New => &self.new,
        }
    }

    fn ids(&self) -> Ids<'_> {
        Ids {
            sql: self.live.sql(),
            from: self.old.name(),
            to: self.new.name(),
        }
    }

    /// Which side serves `op`: the old one, except in cut-over for users
    /// moved by name and for the `percent` share of users (the app's share
    /// for app-level calls). An entity whose writes are still on their way
    /// to the chosen side stays on the side that has them, so its writes
    /// never cross each other in the outbox.
    async fn primary(&self, op: &Op, ctx: &CallContext) -> Result<Side> {
        if self.config.mode != Mode::Cutover {
            return Ok(Side::Old);
        }
        let actor = ops::actor(op);
        let moved = match actor {
            Some(user) => self.live.moved(&self.frontend).await?.contains(user),
            None => false,
        };
        let chosen = if moved || bucket(&ctx.app_key, actor.unwrap_or("")) < self.config.percent {
            Side::New
        } else {
            Side::Old
        };
        let keys = scoped(&ctx.app_key, ops::keys(op, None));
        let behind = self.live.sql().pending_targets(keys).await?;
        let chosen_name = self.provider(chosen).name();
        let other_name = self.provider(chosen.other()).name();
        Ok(
            if behind.iter().any(|t| t == chosen_name) && !behind.iter().any(|t| t == other_name) {
                chosen.other()
            } else {
                chosen
            },
        )
    }

    /// Records a write the primary (`side`) answered, for the other side.
    async fn record(
        &self,
        app: &Op,
        run: &Op,
        out: &Output,
        side: Side,
        ctx: &CallContext,
    ) -> Result<()> {
        let name = run.name();
        let other = self.provider(side.other());
        let m = &self.live.metrics;
        let labels = |outcome: &str| {
            [
                self.frontend.clone(),
                name.as_str().to_string(),
                outcome.to_string(),
            ]
        };
        if !other.supports(name) {
            m.migration_writes
                .with_label_values(&labels("unsupported"))
                .inc();
            return Ok(());
        }
        let entry = NewEntry {
            frontend: self.frontend.clone(),
            app_key: ctx.app_key.clone(),
            source: self.provider(side).name().to_string(),
            target: other.name().to_string(),
            side: side.as_str().to_string(),
            op: name.as_str().to_string(),
            request: run.to_json().to_string(),
            result: out.to_json().to_string(),
            keys: scoped(&ctx.app_key, ops::keys(app, Some(out))),
        };
        match self.live.sql().enqueue(entry, now_ms()).await {
            Ok(_) => {
                m.migration_writes
                    .with_label_values(&labels("recorded"))
                    .inc();
                self.live.wake.notify_one();
                Ok(())
            }
            Err(e) => {
                // The primary has the write; the other side will not get it.
                m.migration_writes
                    .with_label_values(&labels("outbox_failed"))
                    .inc();
                tracing::error!(frontend = %self.frontend, op = %name, error = %e,
                    "outbox write failed after the primary applied the write: the caller gets an error, the other side misses the write until repaired (`imbridge migrate verify`)");
                Err(Error::internal(format_args!("outbox write failed: {e}")))
            }
        }
    }
}

/// Keys scoped to the app (two apps' users never share a key).
fn scoped(app: &str, keys: Vec<String>) -> Vec<String> {
    keys.into_iter().map(|k| format!("{app}/{k}")).collect()
}

/// A user's stable place in 0..100: raising the percentage only ever moves
/// users from the old side to the new one.
pub fn bucket(app: &str, user: &str) -> u8 {
    let digest = Sha256::new()
        .chain_update(app.as_bytes())
        .chain_update([0])
        .chain_update(user.as_bytes())
        .finalize();
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    u8::try_from(u64::from_be_bytes(head) % 100).unwrap_or(0)
}

#[async_trait]
impl Provider for Migrating {
    fn name(&self) -> &str {
        self.old.name()
    }

    fn supports(&self, op: OpName) -> bool {
        self.old.supports(op) && (self.config.mode != Mode::Cutover || self.new.supports(op))
    }

    async fn execute(&self, op: Op, ctx: &CallContext) -> Result<Output> {
        let class = ops::class(&op);
        let side = self.primary(&op, ctx).await?;
        self.live
            .metrics
            .migration_calls
            .with_label_values(&[&self.frontend, side.as_str()])
            .inc();
        // Ids only differ from the app's on the new side, or on the old side
        // for entities cut-over users made on the new side first.
        let translate = side == Side::New || self.config.mode == Mode::Cutover;
        let mut run = op.clone();
        if translate {
            self.ids().side_ids(&mut run, side).await?;
        }
        let mut out = self.provider(side).execute(run.clone(), ctx).await?;
        match class {
            Class::Write(_) => self.record(&op, &run, &out, side, ctx).await?,
            Class::Read if self.config.mode != Mode::DualWrite => shadow::maybe(
                &self.live,
                shadow::Call {
                    frontend: self.frontend.clone(),
                    old: self.old.clone(),
                    new: self.new.clone(),
                    side,
                    op: run,
                    out: out.clone(),
                    ctx: ctx.clone(),
                },
                self.config.shadow_sample,
            ),
            _ => {}
        }
        if translate {
            self.ids().app_ids(&op, &mut out, side).await?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_stable_and_spread() {
        assert_eq!(bucket("app", "tom"), bucket("app", "tom"));
        let mut seen = [0u32; 100];
        for i in 0..10_000 {
            seen[usize::from(bucket("app", &format!("user{i}")))] += 1;
        }
        // Every bucket gets its share (100 expected; far from 0 and 200).
        assert!(seen.iter().all(|n| (50..150).contains(n)), "{seen:?}");
    }
}
