//! Throttling of failed logins, per user and per client address: once a
//! user (or an address) has had its allowed failures within the window,
//! further password checks for it are refused at once with
//! `limit_exceeded/rate`, without running argon2 or asking the provider,
//! until the window ends. A check in progress counts as a failure until it
//! succeeds, so a burst of concurrent guesses cannot slip past the limit.
//!
//! Memory is bounded whatever the flood: both tables are capped caches whose
//! entries expire with their window.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use moka::sync::Cache;
use prometheus::IntCounterVec;
use serde::{Deserialize, Serialize};

use crate::canonical::{Error, Reason, Result};

/// Most users and most addresses tracked at once (each table).
const MAX_TRACKED: u64 = 100_000;

/// Limits on failed logins (`[logins]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginLimits {
    /// Failed password checks one user may have in a window (0: no limit).
    pub failures_per_user: u32,
    /// Failed password checks one client address may have in a window
    /// (IPv6: per /64; 0: no limit). Behind a load balancer every client
    /// has its address: raise this or set 0.
    pub failures_per_address: u32,
    /// Length of the window, from the first failure, in seconds.
    pub window_secs: u64,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            failures_per_user: 10,
            failures_per_address: 100,
            window_secs: 300,
        }
    }
}

type Counter = Arc<AtomicU32>;

/// The counters of one configuration.
struct Tables {
    limits: LoginLimits,
    users: Cache<(String, String), Counter>,
    addresses: Cache<IpAddr, Counter>,
}

/// A capped table of counters that expire a window after their first use.
fn table<K: std::hash::Hash + Eq + Send + Sync + 'static>(window_secs: u64) -> Cache<K, Counter> {
    Cache::builder()
        .max_capacity(MAX_TRACKED)
        .time_to_live(Duration::from_secs(window_secs.max(1)))
        .build()
}

impl Tables {
    fn new(limits: LoginLimits) -> Self {
        Tables {
            users: table(limits.window_secs),
            addresses: table(limits.window_secs),
            limits,
        }
    }
}

/// Failed-login counters, shared by every frontend and kept across reloads.
pub struct LoginGuard {
    tables: ArcSwap<Tables>,
    throttled: IntCounterVec,
}

/// A password check under way; [`Attempt::end`] says how it went.
#[must_use]
pub struct Attempt {
    user: Option<Counter>,
    address: Option<Counter>,
    tables: Arc<Tables>,
    key: (String, String),
}

/// Takes one from the counter of `key` when it is below `limit` (a limit of
/// 0 takes nothing and never refuses); `Err` when it is at the limit.
fn take<K>(
    cache: &Cache<K, Counter>,
    key: K,
    limit: u32,
) -> std::result::Result<Option<Counter>, ()>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
{
    if limit == 0 {
        return Ok(None);
    }
    let counter = cache.get_with(key, Counter::default);
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < limit).then_some(n + 1)
        })
        .map(|_| Some(counter))
        .map_err(|_| ())
}

/// The address a client is counted under: IPv6 clients by their /64.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
        v4 => v4,
    }
}

impl LoginGuard {
    /// A guard with these limits, counting refusals in
    /// `imbridge_logins_throttled_total{frontend,by}`.
    pub fn new(limits: LoginLimits, throttled: IntCounterVec) -> Self {
        LoginGuard {
            tables: ArcSwap::from_pointee(Tables::new(limits)),
            throttled,
        }
    }

    /// Applies new limits (a reload); counters restart when they change.
    pub fn configure(&self, limits: &LoginLimits) {
        if self.tables.load().limits != *limits {
            self.tables.store(Arc::new(Tables::new(limits.clone())));
        }
    }

    /// Starts a password check of `username` (of `app`) from `client`:
    /// `limit_exceeded/rate` when the user or the address is at its limit.
    pub fn begin(
        &self,
        frontend: &str,
        app: &str,
        username: &str,
        client: Option<IpAddr>,
    ) -> Result<Attempt> {
        let tables = self.tables.load_full();
        let limits = &tables.limits;
        let refuse = |by: &str| {
            self.throttled.with_label_values(&[frontend, by]).inc();
            Error::limit(Reason::Rate, "too many failed logins; try again later")
        };
        let address = match client {
            Some(ip) => take(
                &tables.addresses,
                address_key(ip),
                limits.failures_per_address,
            )
            .map_err(|()| refuse("address"))?,
            None => None,
        };
        let key = (app.to_owned(), username.to_owned());
        let user = match take(&tables.users, key.clone(), limits.failures_per_user) {
            Ok(user) => user,
            Err(()) => {
                if let Some(a) = &address {
                    a.fetch_sub(1, Ordering::SeqCst);
                }
                return Err(refuse("user"));
            }
        };
        Ok(Attempt {
            user,
            address,
            tables,
            key,
        })
    }
}

impl Attempt {
    /// The check is over: a wrong password stays counted; a success, or a
    /// failure that was not the caller's (the provider was down), is taken
    /// back, and a success clears the user's failures.
    pub fn end(self, wrong_password: bool) {
        if wrong_password {
            return;
        }
        if let Some(a) = &self.address {
            a.fetch_sub(1, Ordering::SeqCst);
        }
        if self.user.is_some() {
            self.tables.users.invalidate(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(per_user: u32, per_address: u32) -> LoginGuard {
        let limits = LoginLimits {
            failures_per_user: per_user,
            failures_per_address: per_address,
            window_secs: 60,
        };
        let counter =
            IntCounterVec::new(prometheus::Opts::new("t", "t"), &["frontend", "by"]).unwrap();
        LoginGuard::new(limits, counter)
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn a_user_is_refused_after_its_failures_and_a_success_clears_them() {
        let g = guard(3, 0);
        for _ in 0..2 {
            g.begin("f", "app", "u", None).unwrap().end(true);
        }
        g.begin("f", "app", "u", None).unwrap().end(false);
        for _ in 0..3 {
            g.begin("f", "app", "u", None).unwrap().end(true);
        }
        let err = g.begin("f", "app", "u", None).err().unwrap();
        assert_eq!(err.reason, Some(Reason::Rate));
        // Another user, or the same name in another app, is not affected.
        g.begin("f", "app", "v", None).unwrap().end(true);
        g.begin("f", "other", "u", None).unwrap().end(true);
    }

    #[test]
    fn checks_in_progress_count_and_addresses_go_by_slash_64() {
        let g = guard(0, 2);
        let a = g.begin("f", "app", "u1", ip("2001:db8::1")).unwrap();
        let b = g.begin("f", "app", "u2", ip("2001:db8::ffff")).unwrap();
        assert!(g.begin("f", "app", "u3", ip("2001:db8::2")).is_err());
        assert!(g.begin("f", "app", "u3", ip("2001:db9::2")).is_ok_and(|a| {
            a.end(false);
            true
        }));
        // A check that was not a wrong password gives its place back.
        a.end(false);
        g.begin("f", "app", "u4", ip("2001:db8::3"))
            .unwrap()
            .end(true);
        b.end(true);
        assert!(g.begin("f", "app", "u5", ip("2001:db8::4")).is_err());
    }

    #[test]
    fn a_refusal_by_user_does_not_use_up_the_address() {
        let g = guard(1, 2);
        g.begin("f", "app", "u", ip("10.0.0.1")).unwrap().end(true);
        for _ in 0..5 {
            assert!(g.begin("f", "app", "u", ip("10.0.0.1")).is_err());
        }
        g.begin("f", "app", "v", ip("10.0.0.1")).unwrap().end(true);
        assert!(g.begin("f", "app", "w", ip("10.0.0.1")).is_err());
    }
}
