//! Users disabled through imbridge, whatever their provider: refused at
//! login and when a token is issued to them, on every replica, until they
//! are enabled again (`crate::frontend::access`).

use super::Store;
use crate::canonical::Result;

impl Store {
    /// Records that `username` of the app is disabled (or enabled again).
    pub async fn set_disabled(
        &self,
        app_key: &str,
        username: &str,
        disabled: bool,
        now_ms: i64,
    ) -> Result<()> {
        let (app, user) = (app_key.to_owned(), username.to_owned());
        self.db
            .write(move |tx| {
                match disabled {
                    true => tx.execute(
                        "INSERT INTO disabled_users (app_key, username, since) \
                         VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                        &[&app, &user, &now_ms],
                    )?,
                    false => tx.execute(
                        "DELETE FROM disabled_users WHERE app_key = ?1 AND username = ?2",
                        &[&app, &user],
                    )?,
                };
                Ok(())
            })
            .await
    }

    /// Whether `username` of the app was disabled through imbridge.
    pub async fn is_disabled(&self, app_key: &str, username: &str) -> Result<bool> {
        let (app, user) = (app_key.to_owned(), username.to_owned());
        self.db
            .read(move |tx| {
                tx.query_opt(
                    "SELECT 1 FROM disabled_users WHERE app_key = ?1 AND username = ?2",
                    &[&app, &user],
                    |_| Ok(()),
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
    async fn disabled_users_are_known_to_every_replica_until_enabled() {
        for (cfg, _guard) in test_configs() {
            let (a, b) = (Store::open(&cfg).unwrap(), Store::open(&cfg).unwrap());
            a.set_disabled("app", "alice", true, 1).await.unwrap();
            a.set_disabled("app", "alice", true, 2).await.unwrap();
            assert!(b.is_disabled("app", "alice").await.unwrap());
            assert!(!b.is_disabled("other", "alice").await.unwrap());
            assert!(!b.is_disabled("app", "bob").await.unwrap());
            b.set_disabled("app", "alice", false, 3).await.unwrap();
            assert!(!a.is_disabled("app", "alice").await.unwrap());
        }
    }
}
