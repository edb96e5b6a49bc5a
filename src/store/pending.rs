//! Users whose password is not on a provider yet: `imbridge migrate` made
//! them there with a random one. Each sets it at the first login through
//! imbridge, checked against the provider the user came from (lazy password
//! migration).

use super::Store;
use crate::canonical::Result;

impl Store {
    /// Marks a user of `app` as having no password on `provider` yet, to be
    /// checked against `source`. Returns whether the mark is new.
    pub async fn pending_mark(
        &self,
        app: &str,
        provider: &str,
        source: &str,
        user: &str,
    ) -> Result<bool> {
        let args = [app, provider, user, source].map(String::from);
        self.db
            .write(move |tx| {
                let n = tx.execute(
                    "INSERT INTO password_pending (app_key, provider, username, source_provider, since) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                    &[&args[0], &args[1], &args[2], &args[3], &tx.now()],
                )?;
                Ok(n == 1)
            })
            .await
    }

    /// The provider a pending user's password is checked against, if the
    /// user is pending on `provider`.
    pub async fn pending_source(
        &self,
        app: &str,
        provider: &str,
        user: &str,
    ) -> Result<Option<String>> {
        let args = [app, provider, user].map(String::from);
        self.db
            .read(move |tx| {
                tx.query_opt(
                    "SELECT source_provider FROM password_pending \
                     WHERE app_key = ?1 AND provider = ?2 AND username = ?3",
                    &[&args[0], &args[1], &args[2]],
                    |r| r.get(0),
                )
            })
            .await
    }

    /// The user's password is on `provider` now.
    pub async fn pending_done(&self, app: &str, provider: &str, user: &str) -> Result<()> {
        let args = [app, provider, user].map(String::from);
        self.db
            .write(move |tx| {
                tx.execute(
                    "DELETE FROM password_pending WHERE app_key = ?1 AND provider = ?2 AND username = ?3",
                    &[&args[0], &args[1], &args[2]],
                )?;
                Ok(())
            })
            .await
    }

    /// Users of `app` still waiting for their password on `provider`, in
    /// name order (at most `limit`), and how many there are.
    pub async fn pending_list(
        &self,
        app: &str,
        provider: &str,
        limit: usize,
    ) -> Result<(u64, Vec<String>)> {
        let args = [app, provider].map(String::from);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .read(move |tx| {
                let n: i64 = tx.query_one(
                    "SELECT COUNT(*) FROM password_pending WHERE app_key = ?1 AND provider = ?2",
                    &[&args[0], &args[1]],
                    |r| r.get(0),
                )?;
                let users = tx.query_all(
                    "SELECT username FROM password_pending WHERE app_key = ?1 AND provider = ?2 \
                     ORDER BY username LIMIT ?3",
                    &[&args[0], &args[1], &limit],
                    |r| r.get(0),
                )?;
                Ok((u64::try_from(n).unwrap_or(0), users))
            })
            .await
    }
}
