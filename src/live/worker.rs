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

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use super::ids::{Ids, Side};
use super::ops::{self, Class, Replay};
use super::sql::{Entry, DEAD, INFLIGHT, PENDING};
use super::{now_ms, Live};
use crate::canonical::{ErrorKind, OpName, Reason};
use crate::provider::CallContext;
use crate::registry::Providers;

/// Chains applied at once (each entity's entries in order: entries sharing
/// a key are never in flight together).
const CONCURRENCY: usize = 8;
/// The oldest live entries a round looks at (every entry that could block
/// one of them is among them).
const WINDOW: usize = 1024;
/// Entries of the same entities one task applies in a row (one claim).
const CHAIN: usize = 64;
/// Longest time one apply may take; past it the call is abandoned.
const APPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed entry stays in flight before another worker may take
/// it over: longer than `APPLY_TIMEOUT`.
const LEASE_MS: i64 = 15_000;
/// Failed attempts before a retryable failure (other than the provider
/// being unreachable, which is retried for as long as it lasts) is a dead
/// letter.
const MAX_ATTEMPTS: i64 = 8;
/// Shortest time between two rounds (a burst of writes wakes the worker
/// once per round, not once per write).
const ROUND_GAP: Duration = Duration::from_millis(5);
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
        let mut last_round = std::time::Instant::now();
        loop {
            while running.try_join_next().is_some() {}
            if let Some(rest) = ROUND_GAP.checked_sub(last_round.elapsed()) {
                tokio::time::sleep(rest).await;
            }
            last_round = std::time::Instant::now();
            let providers = (self.providers)();
            let live = providers.live.clone();
            let mut saturated = false;
            if let Some(live) = &live {
                if last_gauges.elapsed() >= Duration::from_secs(1) {
                    gauges(live, &mut seen).await;
                    last_gauges = std::time::Instant::now();
                }
                let free = CONCURRENCY.saturating_sub(running.len());
                match claim(live, free).await {
                    Ok(chains) => {
                        saturated = free > 0 && chains.len() == free;
                        for chain in chains {
                            let (live, providers) = (live.clone(), providers.clone());
                            running.spawn(async move { run_chain(&live, &providers, chain).await });
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "outbox claim failed"),
                }
            }
            if saturated {
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

/// Who holds a key while planning a round.
enum Holder {
    /// The chain of this index will apply the entries with this key.
    Chain(usize),
    /// An entry that is not claimed this round: later ones wait.
    Blocked,
}

/// Plans a round over `window` (the oldest live entries, oldest first):
/// at most `free` chains, each a due entry no earlier live entry shares a
/// key with, followed by the next entries of exactly the same entities
/// (applied in a row by one task). Also returns the entries in flight past
/// their lease.
fn plan(window: Vec<Entry>, now: i64, free: usize) -> (Vec<Vec<Entry>>, Vec<Entry>) {
    let mut holders: HashMap<String, Holder> = HashMap::new();
    let mut chains: Vec<Vec<Entry>> = Vec::new();
    let mut expired = Vec::new();
    for e in window {
        if e.state == INFLIGHT && e.claimed_until.is_some_and(|t| t < now) {
            expired.push(e.clone());
        }
        let due = e.state == PENDING && e.next_at <= now;
        let mut held = e.write.keys.iter().map(|k| holders.get(k));
        let joins = if held.clone().all(|h| h.is_none()) {
            (due && chains.len() < free).then(|| {
                chains.push(Vec::new());
                chains.len() - 1
            })
        } else {
            match held.next().flatten() {
                Some(Holder::Chain(i))
                    if due
                        && chains[*i].len() < CHAIN
                        && chains[*i][0].write.keys == e.write.keys
                        && held.all(|h| matches!(h, Some(Holder::Chain(j)) if j == i)) =>
                {
                    Some(*i)
                }
                _ => None,
            }
        };
        let holder = |_: &String| match joins {
            Some(i) => Holder::Chain(i),
            None => Holder::Blocked,
        };
        for k in &e.write.keys {
            holders.insert(k.clone(), holder(k));
        }
        if let Some(i) = joins {
            chains[i].push(e);
        }
    }
    (chains, expired)
}

/// Plans a round and marks the head of each chain in flight (taking back
/// the entries whose lease ran out first: each by one worker of one
/// replica).
async fn claim(live: &Live, free: usize) -> crate::canonical::Result<Vec<Vec<Entry>>> {
    if free == 0 {
        return Ok(Vec::new());
    }
    let window = live.sql().window(WINDOW).await?;
    if window.is_empty() {
        return Ok(Vec::new());
    }
    let now = now_ms();
    let (chains, expired) = plan(window, now, free);
    if !expired.is_empty() {
        let seqs = expired.iter().map(|e| e.seq).collect();
        for (e, state) in live.sql().take_back(seqs, now, recovery).await? {
            tracing::warn!(seq = e.seq, op = %e.write.op, state, "outbox entry recovered");
            outcome(live, &e, if state == DEAD { "dead" } else { "recovered" });
        }
    }
    if chains.is_empty() {
        return Ok(Vec::new());
    }
    let heads = chains.iter().map(|c| c[0].seq).collect();
    let marked = live.sql().mark(heads, now + LEASE_MS).await?;
    let chains: Vec<Vec<Entry>> = chains
        .into_iter()
        .filter(|c| marked.contains(&c[0].seq))
        .collect();
    // The window is light: read the requests and results of what runs.
    let mut whole: HashMap<i64, Entry> = live
        .sql()
        .load(chains.iter().flatten().map(|e| e.seq).collect())
        .await?
        .into_iter()
        .map(|e| (e.seq, e))
        .collect();
    Ok(chains
        .into_iter()
        .map(|c| {
            c.into_iter()
                .map_while(|e| whole.remove(&e.seq))
                .collect::<Vec<_>>()
        })
        .filter(|c| !c.is_empty())
        .collect())
}

/// Applies a chain in order; stops at the first entry that is not applied
/// (the rest stay pending, behind it).
async fn run_chain(live: &Live, providers: &Providers, chain: Vec<Entry>) {
    for (i, e) in chain.iter().enumerate() {
        let next = chain.get(i + 1).map(|n| (n.seq, now_ms() + LEASE_MS));
        match apply(live, providers, e, next).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(err) => {
                tracing::error!(seq = e.seq, error = %err, "outbox entry not updated");
                return;
            }
        }
    }
}

/// What becomes of an entry found in flight past its lease: its new state
/// and why.
fn recovery(e: &Entry) -> (&'static str, String) {
    let replay = OpName::parse(&e.write.op)
        .and_then(|n| {
            let v = serde_json::from_str(&e.write.request).ok()?;
            n.decode_request(v).ok()
        })
        .map(|op| ops::class(&op));
    match replay {
        Some(Class::Write(Replay::Harmless)) => (
            PENDING,
            "was in flight when its worker stopped; applied again (harmless to repeat)".to_string(),
        ),
        _ => (
            DEAD,
            "was in flight when its worker stopped and may have been applied; not re-sent (it would duplicate): check the target, then `imbridge migrate outbox retry` or `drop`".to_string(),
        ),
    }
}

fn outcome(live: &Live, e: &Entry, outcome: &str) {
    live.metrics
        .migration_applied
        .with_label_values(&[&e.write.frontend, &e.write.op, outcome])
        .inc();
}

/// Applies one claimed entry and records what came of it; whether it was
/// applied and `next` (the chain's following entry and its lease) is now
/// in flight.
async fn apply(
    live: &Live,
    providers: &Providers,
    e: &Entry,
    next: Option<(i64, i64)>,
) -> crate::canonical::Result<bool> {
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
            let error = format!("unreadable entry: {reason}");
            live.sql()
                .fail(e.seq, DEAD, e.attempts + 1, now_ms(), error)
                .await?;
            return Ok(false);
        }
    };
    let Some(target) = providers.get(&w.target) else {
        outcome(live, e, "retry");
        let error = format!("provider `{}` is not configured", w.target);
        live.sql()
            .fail(e.seq, PENDING, e.attempts, now_ms() + 10_000, error)
            .await?;
        return Ok(false);
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
    if matches!(&result, Ok(Err(err)) if err.kind == ErrorKind::UpstreamUnavailable) {
        unreachable(live).insert(w.target.clone());
    }
    let (again, message) = match result {
        Ok(Ok(second)) => {
            let pairs = ids.pairs(&op, &first, &second, side);
            outcome(live, e, "applied");
            let marked = live.sql().complete(e.seq, pairs, next).await?;
            reached(live, &w.target).await;
            return Ok(marked);
        }
        Ok(Err(err)) if ops::already_applied(name, err.kind) => {
            outcome(live, e, "already");
            let marked = live.sql().complete(e.seq, Vec::new(), next).await?;
            reached(live, &w.target).await;
            return Ok(marked);
        }
        Ok(Err(err)) if duplicates && err.reason == Some(Reason::Timeout) => (
            false,
            format!("{err}: it may have been applied; not re-sent (it would duplicate): check the target, then `imbridge migrate outbox retry` or `drop`"),
        ),
        Ok(Err(err)) => (
            ops::retryable(err.kind)
                && (err.kind == ErrorKind::UpstreamUnavailable || attempts < MAX_ATTEMPTS),
            err.to_string(),
        ),
        Err(_) if duplicates => (false, "timed out and may have been applied; not re-sent (it would duplicate): check the target, then `imbridge migrate outbox retry` or `drop`".to_string()),
        Err(_) => (true, "timed out".to_string()),
    };
    tracing::info!(seq = e.seq, op = %name, target = %w.target, attempts, error = %message, "outbox apply failed");
    let (state, at) = if again {
        outcome(live, e, "retry");
        (PENDING, now_ms() + backoff_ms(attempts))
    } else {
        outcome(live, e, "dead");
        (DEAD, now_ms())
    };
    live.sql().fail(e.seq, state, attempts, at, message).await?;
    Ok(false)
}

/// The providers the worker could not reach last time it tried.
fn unreachable(live: &Live) -> std::sync::MutexGuard<'_, HashSet<String>> {
    live.unreachable
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `target` answered: if it could not be reached before, the entries
/// waiting for it are due now (not after their back-off, up to 12.5 s
/// later) and the worker wakes for them.
async fn reached(live: &Live, target: &str) {
    if !unreachable(live).remove(target) {
        return;
    }
    match live.sql().due_now(target, now_ms()).await {
        Ok(n) => tracing::info!(
            target,
            entries = n,
            "provider reachable again: its waiting outbox entries are due"
        ),
        // They keep their back-off: later, not lost.
        Err(e) => tracing::warn!(target, error = %e, "outbox entries not made due"),
    }
    live.wake.notify_one();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::sql::NewEntry;

    fn entry(
        seq: i64,
        keys: &[&str],
        state: &str,
        next_at: i64,
        claimed_until: Option<i64>,
    ) -> Entry {
        Entry {
            seq,
            write: NewEntry {
                frontend: "fe".into(),
                app_key: "app".into(),
                source: "old".into(),
                target: "new".into(),
                side: "old".into(),
                op: "user.update".into(),
                request: "{}".into(),
                result: "{}".into(),
                keys: keys.iter().map(|k| k.to_string()).collect(),
            },
            state: state.into(),
            attempts: 0,
            next_at,
            created: 0,
            error: None,
            claimed_until,
        }
    }

    fn seqs(chains: &[Vec<Entry>]) -> Vec<Vec<i64>> {
        chains
            .iter()
            .map(|c| c.iter().map(|e| e.seq).collect())
            .collect()
    }

    #[test]
    fn rounds_chain_an_entitys_entries_and_never_pass_a_blocked_one() {
        let window = || {
            vec![
                entry(1, &["a"], PENDING, 0, None),
                entry(2, &["a"], PENDING, 0, None),
                entry(3, &["a", "b"], PENDING, 0, None),
                entry(4, &["c"], PENDING, 0, None),
                entry(5, &["c"], PENDING, 150, None), // backing off
                entry(6, &["c"], PENDING, 0, None),
                entry(7, &["d"], INFLIGHT, 0, Some(200)),
                entry(8, &["d"], PENDING, 0, None),
                entry(9, &["e"], INFLIGHT, 0, Some(50)), // lease ran out
                entry(10, &["b"], PENDING, 0, None),
                entry(11, &["f"], PENDING, 0, None),
            ]
        };
        let (chains, expired) = plan(window(), 100, 8);
        assert_eq!(seqs(&chains), [vec![1, 2], vec![4], vec![11]]);
        assert_eq!(expired.iter().map(|e| e.seq).collect::<Vec<_>>(), [9]);
        // With one free slot, the first chain only; the others wait.
        let (chains, _) = plan(window(), 100, 1);
        assert_eq!(seqs(&chains), [vec![1, 2]]);
    }
}
