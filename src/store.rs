//! imbridge's own state, whatever the providers: the tokens it issues to
//! callers of dialects that log in through it (kept as SHA-256 digests, never
//! in clear), password hashes of users registered through imbridge on
//! providers that cannot check passwords themselves, and the ID map: stable
//! integers for provider ids a frontend's integer ids cannot carry. A SQLite file next to the
//! data (`[store] path`), so both survive restarts.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use deadpool_sqlite::rusqlite::OptionalExtension;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::password::{HashParams, Passwords};
use crate::canonical::auth::TokenScope;
use crate::canonical::ids::IdKind;
use crate::canonical::{Error, Reason, Result};
use crate::sqlite::Db;

/// Settings of the store.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// SQLite file.
    pub path: std::path::PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: "data/state.db".into(),
        }
    }
}

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE tokens (
    digest TEXT PRIMARY KEY,
    frontend TEXT NOT NULL,
    app_key TEXT NOT NULL,
    scope TEXT NOT NULL,
    subject TEXT,
    issued INTEGER NOT NULL,
    expires INTEGER
) WITHOUT ROWID;
CREATE INDEX tokens_expires ON tokens (expires);
"#,
    r#"
CREATE TABLE credentials (
    app_key TEXT NOT NULL,
    username TEXT NOT NULL,
    hash TEXT NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (app_key, username)
) WITHOUT ROWID;
"#,
    r#"
CREATE TABLE id_map (
    provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    external INTEGER NOT NULL,
    internal TEXT NOT NULL,
    PRIMARY KEY (provider, kind, internal),
    UNIQUE (provider, kind, external)
);
"#,
];

/// The first integer the ID map hands out: far above the ids vendors assign,
/// below 2^53 so JavaScript clients read it exactly.
pub const FIRST_MAPPED_ID: i64 = 1_000_000_000_000_000;

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

/// The store.
pub struct Store {
    db: Db,
    passwords: Passwords,
    /// ID map entries seen, both directions (they never change once made).
    ids: moka::future::Cache<(String, IdKind, bool, String), String>,
    /// Recently verified tokens by digest (bounded staleness: 30 s).
    verified: moka::future::Cache<String, TokenRecord>,
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
    /// Opens (creating) the store file.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        Ok(Store {
            db: Db::open(path, 2, MIGRATIONS, "state")?,
            passwords: Passwords::new(HashParams::default())?,
            ids: moka::future::Cache::new(1_000_000),
            verified: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(30))
                .build(),
        })
    }

    /// The database (for other modules' tables in the same file: the
    /// live migration outbox).
    pub fn db(&self) -> &Db {
        &self.db
    }

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
        let row = (
            digest(&token),
            frontend.to_string(),
            app_key.to_string(),
            scope.as_str(),
            subject,
            now_ms,
            ttl.map(|t| {
                i64::try_from(t.as_millis()).map_or(i64::MAX, |ms| now_ms.saturating_add(ms))
            }),
        );
        self.db
            .write(move |c| {
                c.execute(
                    "DELETE FROM tokens WHERE expires IS NOT NULL AND expires < ?1",
                    [now_ms],
                )?;
                c.execute(
                    "INSERT INTO tokens (digest, frontend, app_key, scope, subject, issued, expires) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    row,
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
                    .read(move |c| {
                        Ok(c.prepare_cached(
                            "SELECT frontend, scope, subject, expires FROM tokens WHERE digest = ?1",
                        )?
                        .query_row(
                            [&k],
                            |r| {
                                let scope: String = r.get(1)?;
                                Ok(TokenRecord {
                                    frontend: r.get(0)?,
                                    scope: if scope == "user" { TokenScope::User } else { TokenScope::App },
                                    subject: r.get(2)?,
                                    expires: r.get(3)?,
                                })
                            },
                        )
                        .optional()?)
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

impl Store {
    /// Records users' passwords (hashed, in one transaction) for providers
    /// that cannot check them.
    pub async fn set_passwords(
        &self,
        app_key: &str,
        passwords: &[(&str, &str)],
        now_ms: i64,
    ) -> Result<()> {
        if passwords.is_empty() {
            return Ok(());
        }
        let hashes = self
            .passwords
            .hash_all(passwords.iter().map(|(_, pw)| pw.to_string()).collect())
            .await?;
        let app = app_key.to_string();
        let rows: Vec<(String, String)> = passwords
            .iter()
            .map(|(user, _)| user.to_string())
            .zip(hashes)
            .collect();
        self.db
            .write(move |c| {
                let mut upsert = c.prepare_cached(
                    "INSERT INTO credentials (app_key, username, hash, updated) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (app_key, username) DO UPDATE SET hash = ?3, updated = ?4",
                )?;
                for (user, hash) in &rows {
                    upsert.execute((&app, user, hash, now_ms))?;
                }
                Ok(())
            })
            .await?;
        // After the write: a check racing it cannot cache the old hash under the new epoch.
        for (user, _) in passwords {
            self.passwords.forget(app_key, user).await;
        }
        Ok(())
    }

    /// Forgets users' passwords (they were deleted).
    pub async fn forget_passwords(&self, app_key: &str, usernames: &[String]) -> Result<()> {
        let (app, names) = (app_key.to_string(), usernames.to_vec());
        self.db
            .write(move |c| {
                let mut delete = c.prepare_cached(
                    "DELETE FROM credentials WHERE app_key = ?1 AND username = ?2",
                )?;
                for u in &names {
                    delete.execute((&app, u))?;
                }
                Ok(())
            })
            .await?;
        for u in usernames {
            self.passwords.forget(app_key, u).await;
        }
        Ok(())
    }

    /// Checks a password recorded with `set_passwords`: unknown users and wrong
    /// passwords are the same unauthenticated/credentials error.
    pub async fn check_password(
        &self,
        app_key: &str,
        username: &str,
        password: &str,
    ) -> Result<()> {
        if self.passwords.is_cached(app_key, username, password).await {
            return Ok(());
        }
        let epoch = self.passwords.epoch();
        let (app, user) = (app_key.to_string(), username.to_string());
        let hash: Option<String> = self
            .db
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT hash FROM credentials WHERE app_key = ?1 AND username = ?2",
                )?
                .query_row((&app, &user), |r| r.get(0))
                .optional()?)
            })
            .await?;
        if self.passwords.verify(hash, password.to_string()).await? {
            self.passwords
                .remember(epoch, app_key, username, password)
                .await;
            Ok(())
        } else {
            Err(Error::unauthenticated(
                Reason::Credentials,
                "invalid username or password",
            ))
        }
    }
}

impl Store {
    /// The integers standing for provider ids `internals`, keyed by kind and
    /// id; those the map lacks are made in one transaction.
    pub async fn external_ids(
        &self,
        provider: &str,
        internals: Vec<(IdKind, String)>,
    ) -> Result<HashMap<(IdKind, String), String>> {
        let mut known = HashMap::with_capacity(internals.len());
        let mut missing = Vec::new();
        for (kind, internal) in internals {
            let key = (provider.to_string(), kind, true, internal);
            match self.ids.get(&key).await {
                Some(external) => {
                    known.insert((kind, key.3), external);
                }
                // A repeated id is found by the transaction, made by its first.
                None => missing.push((kind, key.3)),
            }
        }
        if missing.is_empty() {
            return Ok(known);
        }
        let p = provider.to_string();
        let made: Vec<(IdKind, String, i64)> = self
            .db
            .write(move |c| {
                let mut find = c.prepare_cached(
                    "SELECT external FROM id_map WHERE provider = ?1 AND kind = ?2 AND internal = ?3",
                )?;
                let mut next = c.prepare_cached(
                    "SELECT COALESCE(MAX(external) + 1, ?3) FROM id_map WHERE provider = ?1 AND kind = ?2",
                )?;
                let mut insert = c.prepare_cached(
                    "INSERT INTO id_map (provider, kind, external, internal) VALUES (?1, ?2, ?3, ?4)",
                )?;
                let mut made = Vec::with_capacity(missing.len());
                for (kind, internal) in missing {
                    let k = kind.as_str();
                    let found: Option<i64> = find
                        .query_row((&p, k, &internal), |r| r.get(0))
                        .optional()?;
                    let external = match found {
                        Some(e) => e,
                        None => {
                            let e: i64 = next.query_row((&p, k, FIRST_MAPPED_ID), |r| r.get(0))?;
                            insert.execute((&p, k, e, &internal))?;
                            e
                        }
                    };
                    made.push((kind, internal, external));
                }
                Ok(made)
            })
            .await?;
        for (kind, internal, external) in made {
            let external = external.to_string();
            self.ids
                .insert(
                    (provider.to_string(), kind, true, internal.clone()),
                    external.clone(),
                )
                .await;
            self.ids
                .insert(
                    (provider.to_string(), kind, false, external.clone()),
                    internal.clone(),
                )
                .await;
            known.insert((kind, internal), external);
        }
        Ok(known)
    }

    /// The provider id an integer stands for, if the map made it.
    pub async fn internal_id(
        &self,
        provider: &str,
        kind: IdKind,
        external: &str,
    ) -> Result<Option<String>> {
        let key = (provider.to_string(), kind, false, external.to_string());
        if let Some(v) = self.ids.get(&key).await {
            return Ok(Some(v));
        }
        let Ok(number) = external.parse::<i64>() else {
            return Ok(None);
        };
        let (p, k) = (provider.to_string(), kind.as_str());
        let found: Option<String> = self
            .db
            .read(move |c| {
                Ok(c
                    .prepare_cached(
                        "SELECT internal FROM id_map WHERE provider = ?1 AND kind = ?2 AND external = ?3",
                    )?
                    .query_row((&p, k, number), |r| r.get(0))
                    .optional()?)
            })
            .await?;
        if let Some(v) = &found {
            self.ids.insert(key, v.clone()).await;
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn external(store: &Store, kind: IdKind, internal: &str) -> String {
        let mut made = store
            .external_ids("rc", vec![(kind, internal.into()), (kind, internal.into())])
            .await
            .unwrap();
        assert_eq!(made.len(), 1);
        made.remove(&(kind, internal.to_string())).unwrap()
    }

    #[tokio::test]
    async fn tokens_verify_expire_and_stay_with_their_frontend() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.db")).unwrap();
        let t = store
            .issue(
                "hx",
                "app",
                TokenScope::App,
                None,
                Some(Duration::from_secs(10)),
                1_000,
            )
            .await
            .unwrap();
        assert_eq!(
            store.verify("hx", &t, 2_000).await.unwrap().scope,
            TokenScope::App
        );
        assert_eq!(
            store.verify("other", &t, 2_000).await.unwrap_err().reason,
            Some(Reason::Token)
        );
        assert_eq!(
            store.verify("hx", &t, 11_000).await.unwrap_err().reason,
            Some(Reason::Expired)
        );
        assert_eq!(
            store.verify("hx", "nope", 2_000).await.unwrap_err().reason,
            Some(Reason::Token)
        );
        let u = store
            .issue(
                "app",
                "app",
                TokenScope::User,
                Some("alice".into()),
                None,
                1_000,
            )
            .await
            .unwrap();
        drop(store);
        let reopened = Store::open(&dir.path().join("state.db")).unwrap();
        let rec = reopened.verify("app", &u, i64::MAX - 1).await.unwrap();
        assert_eq!(rec.subject.as_deref(), Some("alice"));
    }

    #[tokio::test]
    async fn a_huge_ttl_saturates() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.db")).unwrap();
        let t = store
            .issue(
                "hx",
                "app",
                TokenScope::App,
                None,
                Some(Duration::MAX),
                1_000,
            )
            .await
            .unwrap();
        let rec = store.verify("hx", &t, i64::MAX - 1).await.unwrap();
        assert_eq!(rec.expires, Some(i64::MAX));
    }

    #[tokio::test]
    async fn id_map_is_stable_and_persistent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let store = Store::open(&path).unwrap();
        let a = external(&store, IdKind::Group, "grp-a").await;
        let b = external(&store, IdKind::Group, "grp-b").await;
        assert_eq!(a, FIRST_MAPPED_ID.to_string());
        assert_eq!(b, (FIRST_MAPPED_ID + 1).to_string());
        assert_eq!(external(&store, IdKind::Group, "grp-a").await, a);
        assert_eq!(external(&store, IdKind::Chatroom, "grp-a").await, a);
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store
                .internal_id("rc", IdKind::Group, &b)
                .await
                .unwrap()
                .as_deref(),
            Some("grp-b")
        );
        assert_eq!(
            store.internal_id("other", IdKind::Group, &b).await.unwrap(),
            None
        );
        assert_eq!(external(&store, IdKind::Group, "grp-b").await, b);
    }

    #[tokio::test]
    async fn shadow_passwords_check_and_forget() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.db")).unwrap();
        store
            .set_passwords("app", &[("bob", "pw1")], 1)
            .await
            .unwrap();
        store.check_password("app", "bob", "pw1").await.unwrap();
        assert!(store.check_password("app", "bob", "pw2").await.is_err());
        assert!(store.check_password("other", "bob", "pw1").await.is_err());
        store
            .set_passwords("app", &[("bob", "pw2")], 2)
            .await
            .unwrap();
        assert!(store.check_password("app", "bob", "pw1").await.is_err());
        store.check_password("app", "bob", "pw2").await.unwrap();
        store
            .forget_passwords("app", &["bob".into()])
            .await
            .unwrap();
        assert!(store.check_password("app", "bob", "pw2").await.is_err());
    }
}
