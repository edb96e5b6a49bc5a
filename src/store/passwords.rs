//! Kept passwords: argon2 hashes of users registered through imbridge on
//! providers that cannot check passwords themselves.

use super::Store;
use crate::canonical::{Error, Reason, Result};

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
            .write(move |tx| {
                for (user, hash) in &rows {
                    tx.execute(
                        "INSERT INTO credentials (app_key, username, hash, updated) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (app_key, username) DO UPDATE SET hash = ?3, updated = ?4",
                        &[&app, user, hash, &now_ms],
                    )?;
                }
                Ok(())
            })
            .await
    }

    /// Forgets users' passwords (they were deleted).
    pub async fn forget_passwords(&self, app_key: &str, usernames: &[String]) -> Result<()> {
        let (app, names) = (app_key.to_string(), usernames.to_vec());
        self.db
            .write(move |tx| {
                for u in &names {
                    tx.execute(
                        "DELETE FROM credentials WHERE app_key = ?1 AND username = ?2",
                        &[&app, u],
                    )?;
                }
                Ok(())
            })
            .await
    }

    /// Checks a password recorded with `set_passwords`: unknown users and wrong
    /// passwords are the same unauthenticated/credentials error. The hash is
    /// read every time (a change made through another replica counts at
    /// once); argon2 runs only for a (hash, password) pair not verified in
    /// the last minute.
    pub async fn check_password(
        &self,
        app_key: &str,
        username: &str,
        password: &str,
    ) -> Result<()> {
        let (app, user) = (app_key.to_string(), username.to_string());
        let hash: Option<String> = self
            .db
            .read(move |tx| {
                tx.query_opt(
                    "SELECT hash FROM credentials WHERE app_key = ?1 AND username = ?2",
                    &[&app, &user],
                    |r| r.get(0),
                )
            })
            .await?;
        if self.passwords.verify(hash, password.to_string()).await? {
            Ok(())
        } else {
            Err(Error::unauthenticated(
                Reason::Credentials,
                "invalid username or password",
            ))
        }
    }

    /// Whether a password of the user is kept (such a user can log in on a
    /// provider that cannot check passwords, where imbridge checks them).
    pub async fn has_password(&self, app_key: &str, username: &str) -> Result<bool> {
        let (app, user) = (app_key.to_string(), username.to_string());
        self.db
            .read(move |tx| {
                tx.query_opt(
                    "SELECT 1 FROM credentials WHERE app_key = ?1 AND username = ?2",
                    &[&app, &user],
                    |r| r.get::<i64>(0),
                )
            })
            .await
            .map(|found| found.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_configs;

    #[tokio::test]
    async fn kept_passwords_check_and_forget() {
        for (cfg, _guard) in test_configs() {
            let store = Store::open(&cfg).unwrap();
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

    #[tokio::test]
    async fn a_change_through_another_replica_counts_at_once() {
        for (cfg, _guard) in test_configs() {
            let (a, b) = (Store::open(&cfg).unwrap(), Store::open(&cfg).unwrap());
            a.set_passwords("app", &[("bob", "pw1")], 1).await.unwrap();
            a.check_password("app", "bob", "pw1").await.unwrap();
            b.set_passwords("app", &[("bob", "pw2")], 2).await.unwrap();
            assert!(a.check_password("app", "bob", "pw1").await.is_err());
            a.check_password("app", "bob", "pw2").await.unwrap();
            b.forget_passwords("app", &["bob".into()]).await.unwrap();
            assert!(a.check_password("app", "bob", "pw2").await.is_err());
        }
    }
}
