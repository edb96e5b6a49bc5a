//! Captured passwords (`crate::auth::capture`): sealed, by app and user,
//! read by `imbridge migrate`, purged with `imbridge migrate purge-passwords`.

use super::Store;
use crate::auth::capture::Sealer;
use crate::canonical::Result;

impl Store {
    /// Keeps users' passwords sealed (in one transaction), replacing what
    /// was kept of them.
    pub async fn capture_passwords(
        &self,
        sealer: &Sealer,
        app_key: &str,
        passwords: &[(&str, &str)],
        now_ms: i64,
    ) -> Result<()> {
        if passwords.is_empty() {
            return Ok(());
        }
        let app = app_key.to_string();
        let rows: Vec<(String, String)> = passwords
            .iter()
            .map(|(user, pw)| (user.to_string(), sealer.seal(app_key, user, pw)))
            .collect();
        self.db
            .write(move |tx| {
                for (user, sealed) in &rows {
                    tx.execute(
                        "INSERT INTO captured_passwords (app_key, username, sealed, updated) \
                         VALUES (?1, ?2, ?3, ?4) \
                         ON CONFLICT (app_key, username) DO UPDATE SET sealed = ?3, updated = ?4",
                        &[&app, user, sealed, &now_ms],
                    )?;
                }
                Ok(())
            })
            .await
    }

    /// The captured password of a user, if one was kept and opens with
    /// `sealer`'s key (one sealed under another key is none).
    pub async fn captured_password(
        &self,
        sealer: &Sealer,
        app_key: &str,
        username: &str,
    ) -> Result<Option<String>> {
        let (app, user) = (app_key.to_string(), username.to_string());
        let sealed: Option<String> = self
            .db
            .read(move |tx| {
                tx.query_opt(
                    "SELECT sealed FROM captured_passwords WHERE app_key = ?1 AND username = ?2",
                    &[&app, &user],
                    |r| r.get(0),
                )
            })
            .await?;
        Ok(sealed.and_then(|s| sealer.open(app_key, username, &s)))
    }

    /// Forgets the captured passwords of users (deleted), or of every user
    /// of the app (`None`: the migration is over). Returns how many.
    pub async fn forget_captured(
        &self,
        app_key: &str,
        usernames: Option<&[String]>,
    ) -> Result<u64> {
        let app = app_key.to_string();
        let names = usernames.map(<[String]>::to_vec);
        self.db
            .write(move |tx| match &names {
                None => tx.execute("DELETE FROM captured_passwords WHERE app_key = ?1", &[&app]),
                Some(names) => names.iter().try_fold(0, |n, u| {
                    let sql = "DELETE FROM captured_passwords WHERE app_key = ?1 AND username = ?2";
                    Ok(n + tx.execute(sql, &[&app, u])?)
                }),
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Secret;
    use crate::store::test_configs;

    #[tokio::test]
    async fn captured_passwords_are_sealed_read_and_purged() {
        let key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let sealer = Sealer::new(&Secret::new(key)).unwrap();
        let other = Sealer::new(&Secret::new(key.replace('0', "2"))).unwrap();
        for (cfg, _guard) in test_configs() {
            let store = Store::open(&cfg).unwrap();
            let pws = [("bob", "pw1"), ("amy", "pw2")];
            store
                .capture_passwords(&sealer, "app", &pws, 1)
                .await
                .unwrap();
            store
                .capture_passwords(&sealer, "app", &[("bob", "pw3")], 2)
                .await
                .unwrap();
            let got = store
                .captured_password(&sealer, "app", "bob")
                .await
                .unwrap();
            assert_eq!(got.as_deref(), Some("pw3"));
            assert_eq!(
                store.captured_password(&other, "app", "bob").await.unwrap(),
                None
            );
            assert_eq!(
                store.captured_password(&sealer, "x", "bob").await.unwrap(),
                None
            );
            let n = store
                .forget_captured("app", Some(&["bob".into()]))
                .await
                .unwrap();
            assert_eq!(n, 1);
            assert_eq!(
                store
                    .captured_password(&sealer, "app", "bob")
                    .await
                    .unwrap(),
                None
            );
            assert_eq!(store.forget_captured("app", None).await.unwrap(), 1);
            assert_eq!(
                store
                    .captured_password(&sealer, "app", "amy")
                    .await
                    .unwrap(),
                None
            );
        }
    }
}
