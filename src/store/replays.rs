//! The replay cache: request signatures seen recently, kept in the store so
//! that every replica refuses a signature another one accepted. Keys are
//! kept as SHA-256 digests; an entry lives until its signature could no
//! longer pass the freshness check anyway.

use sha2::{Digest, Sha256};

use super::Store;
use crate::canonical::Result;

/// How many expired entries one use purges at most (amortized cleanup; the
/// expiry index keeps it cheap).
const PURGE_BATCH: i64 = 100;

impl Store {
    /// Records the first use of `key` (what makes a signed request unique,
    /// normalized by the caller) within `scope` (the frontend), remembered
    /// until `until_ms`; whether this is its first use. Of concurrent uses,
    /// on any replica, exactly one is first.
    pub async fn first_use(&self, scope: &str, key: &str, until_ms: i64) -> Result<bool> {
        let digest = {
            let mut sha = Sha256::new();
            sha.update(scope.as_bytes());
            sha.update([0]);
            sha.update(key.as_bytes());
            hex::encode(sha.finalize())
        };
        self.db
            .write(move |tx| {
                let now = tx.now();
                tx.execute(
                    "DELETE FROM replays WHERE digest IN \
                     (SELECT digest FROM replays WHERE expires < ?1 ORDER BY expires LIMIT ?2)",
                    &[&now, &PURGE_BATCH],
                )?;
                let added = tx.execute(
                    "INSERT INTO replays (digest, expires) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    &[&digest, &until_ms],
                )?;
                Ok(added == 1)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::test_configs;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_key_is_first_once_even_among_replicas() {
        for (cfg, _guard) in test_configs() {
            // Two stores on one database stand for two replicas.
            let a = Arc::new(Store::open(&cfg).unwrap());
            let b = Arc::new(Store::open(&cfg).unwrap());
            let later = chrono::Utc::now().timestamp_millis() + 60_000;
            assert!(a.first_use("wf", "n1|t1|s1", later).await.unwrap());
            assert!(!b.first_use("wf", "n1|t1|s1", later).await.unwrap());
            assert!(!a.first_use("wf", "n1|t1|s1", later).await.unwrap());
            assert!(b.first_use("other", "n1|t1|s1", later).await.unwrap());
            // Concurrent uses of one new key: exactly one is first.
            let uses = (0..20).map(|i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                tokio::spawn(async move { store.first_use("wf", "n2", later).await.unwrap() })
            });
            let firsts = futures::future::join_all(uses)
                .await
                .into_iter()
                .filter(|r| *r.as_ref().unwrap())
                .count();
            assert_eq!(firsts, 1, "{:?}", cfg.location().unwrap());
            // An expired entry is forgotten.
            let past = chrono::Utc::now().timestamp_millis() - 1;
            assert!(a.first_use("wf", "old", past).await.unwrap());
            assert!(b.first_use("wf", "old", later).await.unwrap());
        }
    }
}
