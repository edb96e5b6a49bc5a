//! The outbox worker: applies recorded writes to the other provider, in
//! order per entity, retried with back-off, ids translated, dead letters for
//! failures that will not succeed.
//!
//! Exactly once where it matters: an entry is marked in flight (with a
//! lease) in a committed transaction before it is sent, and removed in the
//! transaction that records the ids its apply made. An entry found in flight
//! past its lease (the worker died, or the call outlived its time) was
//! perhaps applied: one that is harmless to repeat goes back in line; one
//! that would duplicate (a message, a group whose id the provider picks) is
//! not re-sent but goes to the dead letters for the operator to check.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use super::ids::{Ids, Side};
use super::ops::{self, Class, Replay};
use super::sql::{Entry, DEAD, PENDING};
use super::{now_ms, Live};
use crate::canonical::{ErrorKind, OpName};
use crate::provider::CallContext;
use crate::registry::Providers;

/// Entries applied at once (each entity's in order: entries sharing a key
/// are never in flight together).
const CONCURRENCY: usize = 8;
/// Longest time one apply may take; past it the call is abandoned.
const APPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed entry stays in flight before another worker may take
/// it over: longer than `APPLY_TIMEOUT`.
const LEASE_MS: i64 = 15_000;
/// Failed attempts before a retryable failure (other than the provider
/// being unreachable, which is retried for as long as it lasts) is a dead
/// letter.
const MAX_ATTEMPTS: i64 = 8;
/// Wait between rounds when there is nothing to do (a write in this process
/// wakes the worker at once).
const IDLE: Duration = Duration::from_millis(250);

/// Back-off before attempt `attempts + 1`: 200 ms doubling to 10 s, plus up
/// to a quarter more at random (so retries of many entries spread out).
fn backoff_ms(attempts: i64) -> i64 {
    let base = (200i64 << attempts.clamp(0, 6)).min(10_000);
    base + rand::random_range(0..=base / 4)
}

/// The worker as a background service of `serve`; `providers` gives the
/// current set (reloads swap it: the worker follows without restarting).
pub struct Service<F> {
    /// The current providers.
    pub providers: F,
}

#[async_trait]
impl<F> BackgroundService for Service<F>
where
    F: Fn() -> Arc<Providers> + Send + Sync,
{
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut last_gauges = std::time::Instant::now() - Duration::from_secs(60);
        let mut seen = BTreeSet::new();
        // Applies under way: a slow one never holds back the others.
        let mut running = tokio::task::JoinSet::new();
        loop {
            while running.try_join_next().is_some() {}
            let providers = (self.providers)();
            let live = providers.live.clone();
            let mut started = 0;
            if let Some(live) = &live {
                if last_gauges.elapsed() >= Duration::from_secs(1) {
                    gauges(live, &mut seen).await;
                    last_gauges = std::time::Instant::now();
                }
                let free = CONCURRENCY.saturating_sub(running.len());
                match claim(live, free).await {
                    Ok(ready) => {
                        started = ready.len();
                        for e in ready {
                            let (live, providers) = (live.clone(), providers.clone());
                            running.spawn(async move {
                                if let Err(err) = apply(&live, &providers, &e).await {
                                    tracing::error!(seq = e.seq, error = %err, "outbox entry not updated");
                                }
                            });
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "outbox claim failed"),
                }
            }
            if started > 0 && running.len() < CONCURRENCY {
                continue;
            }
            let wake = live.as_ref().map(|l| l.wake.notified());
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = async { match wake { Some(w) => w.await, None => std::future::pending().await } } => {}
                Some(_) = running.join_next() => {}
                _ = tokio::time::sleep(IDLE) => {}
            }
        }
    }
}

/// Claims up to `free` due entries (recovering those whose lease ran out).
async fn claim(live: &Live, free: usize) -> crate::canonical::Result<Vec<Entry>> {
    let now = now_ms();
    if free == 0 || !live.sql().due(now).await? {
        return Ok(Vec::new());
    }
    let (ready, expired) = live.sql().claim(now, free, now + LEASE_MS).await?;
    for e in &expired {
        recover(live, e).await?;
    }
    Ok(ready)
}

/// An entry found in flight past its lease.
async fn recover(live: &Live, e: &Entry) -> crate::canonical::Result<()> {
    let replay = OpName::parse(&e.write.op)
        .and_then(|n| {
            let v = serde_json::from_str(&e.write.request).ok()?;
            n.decode_request(v).ok()
        })
        .map(|op| ops::class(&op));
    let (state, error) = match replay {
        Some(Class::Write(Replay::Harmless)) => (
            PENDING,
            "was in flight when its worker stopped; applied again (harmless to repeat)".to_string(),
        ),
        _ => (
            DEAD,
            "was in flight when its worker stopped and may have been applied; not re-sent (it would duplicate): check the target, then `imbridge migrate outbox retry` or `drop`".to_string(),
        ),
    };
    tracing::warn!(seq = e.seq, op = %e.write.op, state, "outbox entry recovered");
    outcome(live, e, if state == DEAD { "dead" } else { "recovered" });
    live.sql()
        .fail(e.seq, state, e.attempts, now_ms(), error)
        .await
}

fn outcome(live: &Live, e: &Entry, outcome: &str) {
    live.metrics
        .migration_applied
        .with_label_values(&[&e.write.frontend, &e.write.op, outcome])
        .inc();
}

/// Applies one claimed entry and records what came of it.
async fn apply(live: &Live, providers: &Providers, e: &Entry) -> crate::canonical::Result<()> {
    let w = &e.write;
    let decoded = OpName::parse(&w.op)
        .ok_or_else(|| format!("unknown operation {}", w.op))
        .and_then(|name| {
            let req = serde_json::from_str(&w.request).map_err(|x| x.to_string())?;
            let res = serde_json::from_str(&w.result).map_err(|x| x.to_string())?;
            Ok((
                name.decode_request(req).map_err(|x| x.to_string())?,
                name.decode_result(res).map_err(|x| x.to_string())?,
            ))
        });
    let (mut op, first) = match decoded {
        Ok(d) => d,
        Err(reason) => {
            outcome(live, e, "dead");
            return live
                .sql()
                .fail(
                    e.seq,
                    DEAD,
                    e.attempts + 1,
                    now_ms(),
                    format!("unreadable entry: {reason}"),
                )
                .await;
        }
    };
    let Some(target) = providers.get(&w.target) else {
        outcome(live, e, "retry");
        let error = format!("provider `{}` is not configured", w.target);
        return live
            .sql()
            .fail(e.seq, PENDING, e.attempts, now_ms() + 10_000, error)
            .await;
    };
    let side = if w.side == Side::New.as_str() {
        Side::New
    } else {
        Side::Old
    };
    let (from, to) = match side {
        Side::Old => (w.source.as_str(), w.target.as_str()),
        Side::New => (w.target.as_str(), w.source.as_str()),
    };
    let ids = Ids {
        sql: live.sql(),
        from,
        to,
    };
    ids.across(&mut op, side).await?;
    let ctx = CallContext {
        app_key: w.app_key.clone(),
        request_id: format!("outbox-{}", e.seq),
        ..CallContext::default()
    };
    let name = op.name();
    let result = tokio::time::timeout(APPLY_TIMEOUT, target.execute(op.clone(), &ctx)).await;
    let duplicates = matches!(ops::class(&op), Class::Write(Replay::Duplicates));
    let attempts = e.attempts + 1;
    let (again, message) = match result {
        Ok(Ok(second)) => {
            let pairs = ids.pairs(&op, &first, &second, side);
            outcome(live, e, "applied");
            return live.sql().complete(e.seq, pairs).await;
        }
        Ok(Err(err)) if ops::already_applied(name, err.kind) => {
            outcome(live, e, "already");
            return live.sql().complete(e.seq, Vec::new()).await;
        }
        Ok(Err(err)) => (
            ops::retryable(err.kind)
                && (err.kind == ErrorKind::UpstreamUnavailable || attempts < MAX_ATTEMPTS),
            err.to_string(),
        ),
        Err(_) if duplicates => (false, "timed out and may have been applied; not re-sent (it would duplicate): check the target, then `imbridge migrate outbox retry` or `drop`".to_string()),
        Err(_) => (true, "timed out".to_string()),
    };
    tracing::info!(seq = e.seq, op = %name, target = %w.target, attempts, error = %message, "outbox apply failed");
    if again {
        outcome(live, e, "retry");
        live.sql()
            .fail(
                e.seq,
                PENDING,
                attempts,
                now_ms() + backoff_ms(attempts),
                message,
            )
            .await
    } else {
        outcome(live, e, "dead");
        live.sql()
            .fail(e.seq, DEAD, attempts, now_ms(), message)
            .await
    }
}

/// Sets the outbox gauges from the store; frontends seen before and empty
/// now read 0.
async fn gauges(live: &Live, seen: &mut BTreeSet<String>) {
    let depths = match live.sql().depths().await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "outbox depth unreadable");
            return;
        }
    };
    let m = &live.metrics;
    let now = now_ms();
    for f in seen.iter() {
        if !depths.iter().any(|(d, _)| d == f) {
            for state in ["pending", "inflight", "dead"] {
                m.migration_outbox.with_label_values(&[f, state]).set(0);
            }
            m.migration_oldest.with_label_values(&[f]).set(0.0);
        }
    }
    for (f, d) in depths {
        m.migration_outbox
            .with_label_values(&[&f, "pending"])
            .set(d.pending);
        m.migration_outbox
            .with_label_values(&[&f, "inflight"])
            .set(d.inflight);
        m.migration_outbox
            .with_label_values(&[&f, "dead"])
            .set(d.dead);
        let age = d.oldest.map_or(0.0, |o| (now - o).max(0) as f64 / 1000.0);
        m.migration_oldest.with_label_values(&[&f]).set(age);
        seen.insert(f);
    }
}
