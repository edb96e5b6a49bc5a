//! Tokens imbridge issues to callers of dialects that log in through it,
//! kept as SHA-256 digests, never in clear. Every token expires (a default
//! lifetime when the route names none, a longest one whatever it asks); a
//! user's tokens are revoked when the user's password changes, or the user
//! is deleted or disabled (`crate::frontend::access`).

use std::time::Duration;

use prometheus::IntCounterVec;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Store;
use crate::canonical::auth::TokenScope;
use crate::canonical::{Error, Reason, Result};

/// Lifetimes of issued tokens (`[store.tokens]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenPolicy {
    /// Lifetime of a token whose route names none (or 0), in seconds.
    pub default_ttl_secs: u64,
    /// Longest lifetime, whatever a route or caller asks, in seconds.
    pub max_ttl_secs: u64,
    /// Seconds a verified token is trusted without reading the store again:
    /// a revocation made on another replica counts there after at most this
    /// long (at once on the replica that made it); 0 reads it every time.
    pub recheck_secs: u64,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        TokenPolicy {
            default_ttl_secs: 30 * 86_400,
            max_ttl_secs: 60 * 86_400,
            recheck_secs: 5,
        }
    }
}

impl TokenPolicy {
    /// The lifetime of a token asked to live `asked` (none: the default).
    pub fn ttl(&self, asked: Option<Duration>) -> Duration {
        asked
            .filter(|t| !t.is_zero())
            .unwrap_or(Duration::from_secs(self.default_ttl_secs))
            .min(Duration::from_secs(self.max_ttl_secs))
    }
}

/// Why a user's tokens were revoked (`cause` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// The user's password was set.
    PasswordChange,
    /// The user was deleted.
    Delete,
    /// The user was disabled.
    Disable,
}

impl Revocation {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Revocation::PasswordChange => "password_change",
            Revocation::Delete => "delete",
            Revocation::Disable => "disable",
        }
    }
}

/// Counters of the store's tokens, registered with the process metrics by
/// the registry: `imbridge_tokens_revoked_total{cause}` (tokens revoked, by
/// [`Revocation`]) and `imbridge_tokens_refused_total{frontend,reason}`
/// (tokens presented and refused: `unknown` — never issued, revoked or
/// purged —, `expired`, `other_frontend`, `scope`).
#[derive(Debug, Clone)]
pub struct TokenCounters {
    /// `imbridge_tokens_revoked_total{cause}`.
    pub revoked: IntCounterVec,
    /// `imbridge_tokens_refused_total{frontend,reason}`.
    pub refused: IntCounterVec,
}

impl Default for TokenCounters {
    fn default() -> Self {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(prometheus::Opts::new(name, help), labels)
                .expect("static metric definition")
        };
        TokenCounters {
            revoked: counter(
                "imbridge_tokens_revoked_total",
                "Issued tokens revoked, by cause: password_change, delete, disable.",
                &["cause"],
            ),
            refused: counter(
                "imbridge_tokens_refused_total",
                "Issued tokens presented and refused, by frontend and reason: unknown (never issued, revoked or purged), expired, other_frontend, scope.",
                &["frontend", "reason"],
            ),
        }
    }
}

/// What a valid token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The frontend that issued it.
    pub frontend: String,
    /// The app it was issued for.
    pub app_key: String,
    /// App or user token.
    pub scope: TokenScope,
    /// The user, for user tokens.
    pub subject: Option<String>,
    /// Expiry in ms since the epoch; none means never.
    pub expires: Option<i64>,
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Store {
    /// Issues a token of `frontend` for `scope`/`subject`, asked to live
    /// `ttl` (the policy's default when none, never beyond its longest);
    /// returns it with its lifetime. Expired tokens are purged on the way.
    pub async fn issue(
        &self,
        frontend: &str,
        app_key: &str,
        scope: TokenScope,
        subject: Option<String>,
        ttl: Option<Duration>,
        now_ms: i64,
    ) -> Result<(String, Duration)> {
        let token = new_token();
        let (key, frontend, app_key) = (digest(&token), frontend.to_owned(), app_key.to_owned());
        let ttl = self.token_policy.ttl(ttl);
        let expires =
            i64::try_from(ttl.as_millis()).map_or(i64::MAX, |ms| now_ms.saturating_add(ms));
        self.db
            .write(move |tx| {
                tx.execute(
                    "DELETE FROM tokens WHERE expires IS NOT NULL AND expires < ?1",
                    &[&now_ms],
                )?;
                tx.execute(
                    "INSERT INTO tokens (digest, frontend, app_key, scope, subject, issued, expires) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    &[&key, &frontend, &app_key, &scope.as_str(), &subject, &now_ms, &expires],
                )?;
                Ok(())
            })
            .await?;
        Ok((token, ttl))
    }

    /// Revokes every user token of `username` in the app, on every
    /// frontend; the number revoked. Other replicas stop accepting them
    /// within `recheck_secs`, this one at once.
    pub async fn revoke(&self, app_key: &str, username: &str, cause: Revocation) -> Result<u64> {
        let (app, user) = (app_key.to_owned(), username.to_owned());
        let revoked = self
            .db
            .write(move |tx| {
                tx.execute(
                    "DELETE FROM tokens WHERE app_key = ?1 AND subject = ?2 AND scope = 'user'",
                    &[&app, &user],
                )
            })
            .await?;
        let (app, user) = (app_key.to_owned(), username.to_owned());
        self.verified
            .invalidate_entries_if(move |_, r| {
                r.app_key == app && r.subject.as_deref() == Some(user.as_str())
            })
            .map_err(|e| crate::canonical::Error::internal(format!("token cache: {e}")))?;
        self.token_counters
            .revoked
            .with_label_values(&[cause.as_str()])
            .inc_by(revoked);
        Ok(revoked)
    }

    /// Checks a token presented to `frontend`: unknown (or another frontend's)
    /// is unauthenticated/token, past its expiry unauthenticated/expired.
    pub async fn verify(&self, frontend: &str, token: &str, now_ms: i64) -> Result<TokenRecord> {
        let key = digest(token);
        let cached = match self.token_policy.recheck_secs {
            0 => None,
            _ => self.verified.get(&key).await,
        };
        let record = match cached {
            Some(r) => Some(r),
            None => {
                let k = key.clone();
                let found = self
                    .db
                    .read(move |tx| {
                        tx.query_opt(
                            "SELECT frontend, app_key, scope, subject, expires FROM tokens \
                             WHERE digest = ?1",
                            &[&k],
                            |r| {
                                let scope: String = r.get(2)?;
                                Ok(TokenRecord {
                                    frontend: r.get(0)?,
                                    app_key: r.get(1)?,
                                    scope: match scope.as_str() {
                                        "user" => TokenScope::User,
                                        _ => TokenScope::App,
                                    },
                                    subject: r.get(3)?,
                                    expires: r.get(4)?,
                                })
                            },
                        )
                    })
                    .await?;
                if let Some(r) = &found {
                    self.verified.insert(key, r.clone()).await;
                }
                found
            }
        };
        let invalid = || Error::unauthenticated(Reason::Token, "invalid token");
        let record = match record {
            None => return Err(self.refused(frontend, "unknown", invalid())),
            Some(r) if r.frontend != frontend => {
                return Err(self.refused(frontend, "other_frontend", invalid()))
            }
            Some(r) => r,
        };
        if record.expires.is_some_and(|e| e <= now_ms) {
            let expired = Error::unauthenticated(Reason::Expired, "token expired");
            return Err(self.refused(frontend, "expired", expired));
        }
        Ok(record)
    }

    /// Counts a token of `frontend` refused for `reason`; returns `err`.
    pub fn refused(&self, frontend: &str, reason: &str, err: Error) -> Error {
        self.token_counters
            .refused
            .with_label_values(&[frontend, reason])
            .inc();
        err
    }

    /// The token counters, for the process metrics.
    pub fn token_counters(&self) -> &TokenCounters {
        &self.token_counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{test_configs, StoreConfig};

    #[tokio::test]
    async fn tokens_verify_expire_and_stay_with_their_frontend() {
        for (cfg, _guard) in test_configs() {
            let store = Store::open(&cfg).unwrap();
            let ttl = Some(Duration::from_secs(10));
            let (t, lives) = store
                .issue("hx", "app", TokenScope::App, None, ttl, 1_000)
                .await
                .unwrap();
            assert_eq!(lives, Duration::from_secs(10));
            let verify = |frontend: &'static str, token: String, now: i64| {
                let store = &store;
                async move { store.verify(frontend, &token, now).await }
            };
            let reason = |r: Result<TokenRecord>| r.unwrap_err().reason;
            assert_eq!(
                verify("hx", t.clone(), 2_000).await.unwrap().scope,
                TokenScope::App
            );
            assert_eq!(
                reason(verify("other", t.clone(), 2_000).await),
                Some(Reason::Token)
            );
            assert_eq!(reason(verify("hx", t, 11_000).await), Some(Reason::Expired));
            assert_eq!(
                reason(verify("hx", "nope".into(), 2_000).await),
                Some(Reason::Token)
            );
            let refused = &store.token_counters().refused;
            for (frontend, why) in [
                ("other", "other_frontend"),
                ("hx", "expired"),
                ("hx", "unknown"),
            ] {
                assert_eq!(
                    refused.with_label_values(&[frontend, why]).get(),
                    1,
                    "{why}"
                );
            }
            let alice = Some("alice".to_owned());
            let (u, _) = store
                .issue("app", "app", TokenScope::User, alice, None, 1_000)
                .await
                .unwrap();
            drop(store);
            let reopened = Store::open(&cfg).unwrap();
            let rec = reopened.verify("app", &u, 2_000).await.unwrap();
            assert_eq!(rec.subject.as_deref(), Some("alice"));
        }
    }

    /// No token lives forever: none asked is the default, too much is the
    /// longest.
    #[tokio::test]
    async fn every_token_expires() {
        for (cfg, _guard) in test_configs() {
            let store = Store::open(&cfg).unwrap();
            let policy = TokenPolicy::default();
            for (asked, lives) in [
                (None, policy.default_ttl_secs),
                (Some(Duration::ZERO), policy.default_ttl_secs),
                (Some(Duration::MAX), policy.max_ttl_secs),
            ] {
                let (t, ttl) = store
                    .issue("hx", "app", TokenScope::App, None, asked, 1_000)
                    .await
                    .unwrap();
                assert_eq!(ttl, Duration::from_secs(lives));
                let end = 1_000 + lives as i64 * 1000;
                assert!(store.verify("hx", &t, end - 1).await.is_ok());
                let late = store.verify("hx", &t, end).await.unwrap_err();
                assert_eq!(late.reason, Some(Reason::Expired));
            }
        }
    }

    /// Revoked on one replica: refused there at once, on another within
    /// `recheck_secs`; other users' and app tokens stay.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn revoked_tokens_are_refused_on_every_replica() {
        for (cfg, _guard) in test_configs() {
            let cfg = StoreConfig {
                tokens: TokenPolicy {
                    recheck_secs: 1,
                    ..TokenPolicy::default()
                },
                ..cfg
            };
            let (a, b) = (Store::open(&cfg).unwrap(), Store::open(&cfg).unwrap());
            let now = chrono::Utc::now().timestamp_millis();
            let user = |name: &str| Some(name.to_owned());
            let (alice, _) = a
                .issue("fe", "app", TokenScope::User, user("alice"), None, now)
                .await
                .unwrap();
            let (bob, _) = a
                .issue("fe", "app", TokenScope::User, user("bob"), None, now)
                .await
                .unwrap();
            let (admin, _) = a
                .issue("fe", "app", TokenScope::App, None, None, now)
                .await
                .unwrap();
            for token in [&alice, &bob, &admin] {
                a.verify("fe", token, now).await.unwrap();
                b.verify("fe", token, now).await.unwrap();
            }
            assert_eq!(
                a.revoke("app", "alice", Revocation::Delete).await.unwrap(),
                1
            );
            assert_eq!(
                a.revoke("other-app", "bob", Revocation::Delete)
                    .await
                    .unwrap(),
                0
            );
            let refused = a.verify("fe", &alice, now).await.unwrap_err();
            assert_eq!(refused.reason, Some(Reason::Token));
            tokio::time::sleep(Duration::from_millis(1100)).await;
            assert!(b.verify("fe", &alice, now).await.is_err());
            for token in [&bob, &admin] {
                a.verify("fe", token, now).await.unwrap();
                b.verify("fe", token, now).await.unwrap();
            }
        }
    }
}
