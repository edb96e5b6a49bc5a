//! What keeps a failing vendor from taking imbridge with it: a circuit
//! breaker (open after `breaker_failures` operations in a row found the
//! vendor unavailable, one probe after `breaker_cooldown_ms`, closed again by
//! a success), a limit on operations in flight (`max_concurrency`, waiting at
//! most `queue_ms` for a slot), and back-off on failed token fetches (a vendor
//! refusing them is asked again after 1, 2, 4 ... up to 60 × `token_backoff_ms`,
//! not on every request: Easemob bans clients that insist). Refusals are the
//! canonical `upstream_unavailable`, so callers get their dialect's error.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus::{IntCounter, IntGauge};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::VendorConfig;
use crate::canonical::{Error, ErrorKind, Source};
use crate::metrics::Metrics;

/// Longest token back-off, in multiples of `token_backoff_ms`.
const MAX_BACKOFF_FACTOR: u32 = 60;

/// `imbridge_provider_circuit_state` values.
const CLOSED: i64 = 0;
const HALF_OPEN: i64 = 1;
const OPEN: i64 = 2;

/// The breaker's state.
#[derive(Default)]
struct Breaker {
    /// Operations in a row that found the vendor unavailable.
    failures: u32,
    /// Open until then (then one probe is let through).
    open_until: Option<Instant>,
    /// The probe is under way.
    probing: bool,
}

/// Token fetches refused until `until`.
struct Backoff {
    until: Instant,
    delay: Duration,
    message: String,
}

/// Rejection counters, one per reason.
struct Rejections {
    circuit_open: IntCounter,
    concurrency: IntCounter,
    deadline: IntCounter,
    token_backoff: IntCounter,
}

/// The protections of one vendor provider.
pub struct Guard {
    name: String,
    failures_to_open: u32,
    cooldown: Duration,
    queue: Duration,
    token_backoff: Duration,
    /// Longest an operation takes, all its calls and retries together.
    pub deadline: Duration,
    slots: Semaphore,
    breaker: Mutex<Breaker>,
    backoff: Mutex<Option<Backoff>>,
    state: IntGauge,
    in_flight: IntGauge,
    rejected: Rejections,
}

/// An admitted operation: holds its slot; reports how it went with
/// [`Ticket::finish`] (one dropped unfinished was cut short by its caller).
pub struct Ticket<'a> {
    guard: &'a Guard,
    probe: bool,
    finished: bool,
    _slot: SemaphorePermit<'a>,
}

fn unavailable(message: String) -> Error {
    Error::new(ErrorKind::UpstreamUnavailable, message).with_source(Source::Provider)
}

impl Guard {
    /// The guard of provider `name`, its metrics registered at their
    /// resting values (circuit closed, nothing rejected).
    pub fn new(name: &str, cfg: &VendorConfig, metrics: &Metrics) -> Guard {
        let reason = |r: &str| metrics.provider_rejections.with_label_values(&[name, r]);
        let guard = Guard {
            name: name.to_owned(),
            failures_to_open: cfg.breaker_failures,
            cooldown: Duration::from_millis(cfg.breaker_cooldown_ms),
            queue: Duration::from_millis(cfg.queue_ms),
            token_backoff: Duration::from_millis(cfg.token_backoff_ms),
            deadline: Duration::from_millis(cfg.deadline_ms),
            slots: Semaphore::new(cfg.max_concurrency.max(1)),
            breaker: Mutex::default(),
            backoff: Mutex::default(),
            state: metrics.provider_circuit_state.with_label_values(&[name]),
            in_flight: metrics.provider_in_flight.with_label_values(&[name]),
            rejected: Rejections {
                circuit_open: reason("circuit_open"),
                concurrency: reason("concurrency"),
                deadline: reason("deadline"),
                token_backoff: reason("token_backoff"),
            },
        };
        guard.state.set(CLOSED);
        guard
    }

    /// Admits an operation, or refuses it: the circuit is open (or its
    /// probe under way), or no slot freed up within `queue_ms`.
    pub async fn admit(&self) -> Result<Ticket<'_>, Error> {
        let probe = {
            let mut b = self.breaker.lock().unwrap_or_else(|p| p.into_inner());
            match b.open_until {
                Some(until) if Instant::now() < until || b.probing => {
                    self.rejected.circuit_open.inc();
                    return Err(unavailable(format!(
                        "provider {} is unavailable (circuit open after {} failures)",
                        self.name, b.failures
                    )));
                }
                Some(_) => {
                    b.probing = true;
                    self.state.set(HALF_OPEN);
                    true
                }
                None => false,
            }
        };
        let slot = match tokio::time::timeout(self.queue, self.slots.acquire()).await {
            Ok(Ok(slot)) => slot,
            _ => {
                if probe {
                    self.settle(None, true);
                }
                self.rejected.concurrency.inc();
                return Err(unavailable(format!(
                    "provider {} is busy ({} operations in flight)",
                    self.name,
                    self.in_flight.get()
                )));
            }
        };
        self.in_flight.inc();
        Ok(Ticket {
            guard: self,
            probe,
            finished: false,
            _slot: slot,
        })
    }

    /// The error of an operation that passed its deadline (counted).
    pub fn past_deadline(&self) -> Error {
        self.rejected.deadline.inc();
        unavailable(format!(
            "provider {} did not finish the operation within {} ms",
            self.name,
            self.deadline.as_millis()
        ))
        .with_reason(crate::canonical::Reason::Timeout)
    }

    /// Records how an operation went: `Some(true)` the vendor was
    /// available, `Some(false)` it was not, none: unknown (cut short).
    fn settle(&self, available: Option<bool>, probe: bool) {
        let mut b = self.breaker.lock().unwrap_or_else(|p| p.into_inner());
        if probe {
            b.probing = false;
        }
        match available {
            Some(true) => {
                *b = Breaker::default();
                self.state.set(CLOSED);
            }
            Some(false) => {
                b.failures = b.failures.saturating_add(1);
                if self.failures_to_open > 0 && (probe || b.failures >= self.failures_to_open) {
                    b.open_until = Some(Instant::now() + self.cooldown);
                    self.state.set(OPEN);
                }
            }
            None if probe => self.state.set(OPEN),
            None => {}
        }
    }

    /// Refuses a token fetch while the last one's back-off runs.
    pub fn token_fetch_allowed(&self) -> Result<(), Error> {
        let backoff = self.backoff.lock().unwrap_or_else(|p| p.into_inner());
        match &*backoff {
            Some(b) if Instant::now() < b.until => {
                self.rejected.token_backoff.inc();
                Err(unavailable(format!(
                    "provider {}: the last token fetch failed ({}); next attempt in {} ms",
                    self.name,
                    b.message,
                    b.until
                        .saturating_duration_since(Instant::now())
                        .as_millis()
                )))
            }
            _ => Ok(()),
        }
    }

    /// Records a token fetch: a failure doubles the back-off, a success
    /// ends it.
    pub fn token_fetched(&self, outcome: Result<(), &Error>) {
        let mut backoff = self.backoff.lock().unwrap_or_else(|p| p.into_inner());
        *backoff = match outcome {
            Ok(()) => None,
            Err(e) => {
                let longest = self.token_backoff * MAX_BACKOFF_FACTOR;
                let delay = backoff
                    .as_ref()
                    .map_or(self.token_backoff, |b| (b.delay * 2).min(longest));
                Some(Backoff {
                    until: Instant::now() + delay,
                    delay,
                    message: e.message.clone(),
                })
            }
        };
    }
}

impl Ticket<'_> {
    /// Records the operation's outcome: only `upstream_unavailable` (no
    /// answer in time, unreachable, 502–504 after retries) counts against
    /// the vendor; any answer, an error too, shows it is there.
    pub fn finish<T>(mut self, outcome: &Result<T, Error>) {
        self.finished = true;
        let available = !matches!(outcome, Err(e) if e.kind == ErrorKind::UpstreamUnavailable);
        self.guard.settle(Some(available), self.probe);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.guard.in_flight.dec();
        if !self.finished {
            self.guard.settle(None, self.probe);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(failures: u32, cooldown_ms: u64, slots: usize) -> (Guard, Metrics) {
        let cfg: VendorConfig = serde_json::from_value(serde_json::json!({
            "dialect": "d", "base_url": "http://127.0.0.1:9",
            "breaker_failures": failures, "breaker_cooldown_ms": cooldown_ms,
            "max_concurrency": slots, "queue_ms": 20, "token_backoff_ms": 200
        }))
        .unwrap();
        let metrics = Metrics::new();
        (Guard::new("acme", &cfg, &metrics), metrics)
    }

    fn down() -> Result<(), Error> {
        Err(unavailable("down".into()))
    }

    #[tokio::test]
    async fn the_circuit_opens_probes_once_and_closes_on_success() {
        let (g, _m) = guard(3, 200, 8);
        for _ in 0..2 {
            g.admit().await.unwrap().finish(&down());
        }
        // A vendor error answer is no unavailability: the count starts over.
        g.admit()
            .await
            .unwrap()
            .finish::<()>(&Err(Error::new(ErrorKind::UpstreamError, "no")));
        for _ in 0..3 {
            g.admit().await.unwrap().finish(&down());
        }
        assert_eq!(g.state.get(), OPEN);
        assert!(g.admit().await.is_err());
        assert_eq!(g.rejected.circuit_open.get(), 1);
        tokio::time::sleep(Duration::from_millis(250)).await;
        // One probe; others are refused while it runs.
        let probe = g.admit().await.unwrap();
        assert_eq!(g.state.get(), HALF_OPEN);
        assert!(g.admit().await.is_err());
        probe.finish(&down());
        assert_eq!(g.state.get(), OPEN);
        assert!(g.admit().await.is_err());
        tokio::time::sleep(Duration::from_millis(250)).await;
        g.admit().await.unwrap().finish(&Ok(()));
        assert_eq!(g.state.get(), CLOSED);
        g.admit().await.unwrap().finish(&Ok(()));
    }

    #[tokio::test]
    async fn a_probe_cut_short_leaves_the_circuit_open_for_the_next_probe() {
        let (g, _m) = guard(1, 20, 8);
        g.admit().await.unwrap().finish(&down());
        tokio::time::sleep(Duration::from_millis(30)).await;
        drop(g.admit().await.unwrap());
        assert_eq!(g.state.get(), OPEN);
        // The next caller probes.
        g.admit().await.unwrap().finish(&Ok(()));
        assert_eq!(g.state.get(), CLOSED);
    }

    #[tokio::test]
    async fn beyond_the_slots_callers_wait_then_are_refused() {
        let (g, _m) = guard(5, 1000, 2);
        let (a, b) = (g.admit().await.unwrap(), g.admit().await.unwrap());
        assert_eq!(g.in_flight.get(), 2);
        let refused = g.admit().await.err().expect("no slot left");
        assert_eq!(refused.kind, ErrorKind::UpstreamUnavailable);
        assert_eq!(g.rejected.concurrency.get(), 1);
        drop(a);
        g.admit().await.unwrap().finish(&Ok(()));
        drop(b);
        assert_eq!(g.in_flight.get(), 0);
    }

    #[tokio::test]
    async fn failed_token_fetches_back_off_doubling_until_one_works() {
        let (g, _m) = guard(5, 1000, 2);
        let e = unavailable("refused".into());
        g.token_fetch_allowed().unwrap();
        g.token_fetched(Err(&e));
        let refused = g.token_fetch_allowed().unwrap_err();
        assert!(refused.message.contains("refused"), "{}", refused.message);
        tokio::time::sleep(Duration::from_millis(250)).await;
        g.token_fetch_allowed().unwrap();
        g.token_fetched(Err(&e));
        // Doubled: 400 ms now.
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(g.token_fetch_allowed().is_err());
        tokio::time::sleep(Duration::from_millis(200)).await;
        g.token_fetch_allowed().unwrap();
        g.token_fetched(Ok(()));
        g.token_fetch_allowed().unwrap();
        assert_eq!(g.rejected.token_backoff.get(), 2);
    }
}
