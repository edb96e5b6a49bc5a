//! Tokens imbridge issues to callers of dialects that log in through it,
//! kept as SHA-256 digests, never in clear.

use std::time::Duration;

use rand::RngCore;
use sha2::{Digest, Sha256};

use super::Store;
use crate::canonical::auth::TokenScope;
use crate::canonical::{Error, Reason, Result};

/// What a valid token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The frontend that issued it.
    pub frontend: String,
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
    /// Issues a token of `frontend` for `scope`/`subject`, valid for `ttl`
    /// (forever when none). Expired tokens are purged on the way.
    pub async fn issue(
        &self,
        frontend: &str,
        app_key: &str,
        scope: TokenScope,
        subject: Option<String>,
        ttl: Option<Duration>,
        now_ms: i64,
    ) -> Result<String> {
        let token = new_token();
        let (key, frontend, app_key) = (digest(&token), frontend.to_owned(), app_key.to_owned());
        let expires = ttl
            .map(|t| i64::try_from(t.as_millis()).map_or(i64::MAX, |ms| now_ms.saturating_add(ms)));
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
        Ok(token)
    }

    /// Checks a token presented to `frontend`: unknown (or another frontend's)
    /// is unauthenticated/token, past its expiry unauthenticated/expired.
    pub async fn verify(&self, frontend: &str, token: &str, now_ms: i64) -> Result<TokenRecord> {
        let key = digest(token);
        let record = match self.verified.get(&key).await {
            Some(r) => Some(r),
            None => {
                let k = key.clone();
                let found = self
                    .db
                    .read(move |tx| {
                        tx.query_opt(
                            "SELECT frontend, scope, subject, expires FROM tokens WHERE digest = ?1",
                            &[&k],
                            |r| {
                                let scope: String = r.get(1)?;
                                Ok(TokenRecord {
                                    frontend: r.get(0)?,
                                    scope: match scope.as_str() {
                                        "user" => TokenScope::User,
                                        _ => TokenScope::App,
                                    },
                                    subject: r.get(2)?,
                                    expires: r.get(3)?,
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
        let record = record
            .filter(|r| r.frontend == frontend)
            .ok_or_else(invalid)?;
        if record.expires.is_some_and(|e| e <= now_ms) {
            return Err(Error::unauthenticated(Reason::Expired, "token expired"));
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_configs;

    #[tokio::test]
    async fn tokens_verify_expire_and_stay_with_their_frontend() {
        for (cfg, _guard) in test_configs() {
            let store = Store::open(&cfg).unwrap();
            let ttl = Some(Duration::from_secs(10));
            let t = store
                .issue("hx", "app", TokenScope::App, None, ttl, 1_000)
                .await
                .unwrap();
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
            let alice = Some("alice".to_owned());
            let u = store
                .issue("app", "app", TokenScope::User, alice, None, 1_000)
                .await
                .unwrap();
            drop(store);
            let reopened = Store::open(&cfg).unwrap();
            let rec = reopened.verify("app", &u, i64::MAX - 1).await.unwrap();
            assert_eq!(rec.subject.as_deref(), Some("alice"));
        }
    }

    #[tokio::test]
    async fn a_huge_ttl_saturates() {
        for (cfg, _guard) in test_configs() {
            let store = Store::open(&cfg).unwrap();
            let ttl = Some(Duration::MAX);
            let t = store
                .issue("hx", "app", TokenScope::App, None, ttl, 1_000)
                .await
                .unwrap();
            let rec = store.verify("hx", &t, i64::MAX - 1).await.unwrap();
            assert_eq!(rec.expires, Some(i64::MAX));
        }
    }
}
