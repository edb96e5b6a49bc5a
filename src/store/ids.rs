//! The ID map: stable integers for provider ids that a frontend's integer
//! ids cannot carry, the same for every frontend and across restarts.

use std::collections::HashMap;

use super::Store;
use crate::canonical::ids::IdKind;
use crate::canonical::Result;
use crate::db::{Dialect, Tx};

/// The first integer the ID map hands out: far above the ids vendors assign,
/// below 2^53 so JavaScript clients read it exactly.
pub const FIRST_MAPPED_ID: i64 = 1_000_000_000_000_000;

/// The next integer of the map for `provider`'s ids of `kind`: counted per
/// provider and kind on SQLite (one writer at a time), from one sequence on
/// PostgreSQL (unique across replicas without write conflicts).
fn next_external(tx: &Tx<'_>, provider: &str, kind: &str) -> Result<i64> {
    match tx.dialect() {
        Dialect::Sqlite => tx.query_one(
            "SELECT COALESCE(MAX(external) + 1, ?3) FROM id_map WHERE provider = ?1 AND kind = ?2",
            &[&provider, &kind, &FIRST_MAPPED_ID],
            |r| r.get(0),
        ),
        Dialect::Postgres => tx.query_one("SELECT nextval('mapped_ids')", &[], |r| r.get(0)),
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
            .write(move |tx| {
                let mut made = Vec::with_capacity(missing.len());
                for (kind, internal) in &missing {
                    let k = kind.as_str();
                    let found: Option<i64> = tx.query_opt(
                        "SELECT external FROM id_map WHERE provider = ?1 AND kind = ?2 AND internal = ?3",
                        &[&p, &k, internal],
                        |r| r.get(0),
                    )?;
                    let external = match found {
                        Some(e) => e,
                        None => {
                            let e = next_external(tx, &p, k)?;
                            tx.execute(
                                "INSERT INTO id_map (provider, kind, external, internal) \
                                 VALUES (?1, ?2, ?3, ?4)",
                                &[&p, &k, &e, internal],
                            )?;
                            e
                        }
                    };
                    made.push((*kind, internal.clone(), external));
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
            .read(move |tx| {
                tx.query_opt(
                    "SELECT internal FROM id_map WHERE provider = ?1 AND kind = ?2 AND external = ?3",
                    &[&p, &k, &number],
                    |r| r.get(0),
                )
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
    use crate::store::test_configs;

    async fn external(store: &Store, kind: IdKind, internal: &str) -> String {
        let mut made = store
            .external_ids("rc", vec![(kind, internal.into()), (kind, internal.into())])
            .await
            .unwrap();
        assert_eq!(made.len(), 1);
        made.remove(&(kind, internal.to_string())).unwrap()
    }

    #[tokio::test]
    async fn id_map_is_stable_and_persistent() {
        for (cfg, _guard) in test_configs() {
            let store = Store::open(&cfg).unwrap();
            let a = external(&store, IdKind::Group, "grp-a").await;
            let b = external(&store, IdKind::Group, "grp-b").await;
            assert_eq!(a, FIRST_MAPPED_ID.to_string());
            assert_eq!(b, (FIRST_MAPPED_ID + 1).to_string());
            assert_eq!(external(&store, IdKind::Group, "grp-a").await, a);
            let room = external(&store, IdKind::Chatroom, "grp-a").await;
            drop(store);
            let store = Store::open(&cfg).unwrap();
            let internal = |kind, external: String| {
                let store = &store;
                async move { store.internal_id("rc", kind, &external).await.unwrap() }
            };
            assert_eq!(
                internal(IdKind::Group, b.clone()).await.as_deref(),
                Some("grp-b")
            );
            assert_eq!(
                internal(IdKind::Chatroom, room).await.as_deref(),
                Some("grp-a")
            );
            assert_eq!(
                store.internal_id("other", IdKind::Group, &b).await.unwrap(),
                None
            );
            assert_eq!(external(&store, IdKind::Group, "grp-b").await, b);
        }
    }
}
