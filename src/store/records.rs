//! Records: what imbridge keeps about a provider's data that the vendor
//! cannot keep itself (entities it has seen pass, group and room metadata,
//! message coordinates, switches). Keyed JSON values grouped by kind, per
//! provider; outbound mapping files read and write them with store steps
//! (`mapping::outbound::store`), each call one transaction.

use serde_json::Value;

use super::Store;
use crate::canonical::{Error, Result};
use crate::db::Tx;
use crate::mapping::outbound::store::{found, listing, merged, missing, StoreCall};
use crate::mapping::outbound::{Answer, StoreAction};

/// `WHERE` of one kind of one provider, with keys starting with `?3`
/// (`substr`/`length` are the same in SQLite and PostgreSQL).
const PREFIXED: &str = "provider = ?1 AND kind = ?2 AND substr(key, 1, length(?3)) = ?3";

fn value_of(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::internal(format!("a record is not JSON: {e}")))
}

fn get(tx: &Tx<'_>, provider: &str, kind: &str, key: &str) -> Result<Option<(Value, i64)>> {
    let row: Option<(String, i64)> = tx.query_opt(
        "SELECT value, created FROM records WHERE provider = ?1 AND kind = ?2 AND key = ?3",
        &[&provider, &kind, &key],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    row.map(|(v, c)| Ok((value_of(&v)?, c))).transpose()
}

fn put(tx: &Tx<'_>, provider: &str, kind: &str, key: &str, value: &Value) -> Result<()> {
    let text = value.to_string();
    let now = tx.now();
    tx.execute(
        "INSERT INTO records (provider, kind, key, value, created, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (provider, kind, key) DO UPDATE SET value = ?4, updated = ?5",
        &[&provider, &kind, &key, &text, &now],
    )?;
    Ok(())
}

/// Runs one store call on `provider`'s records, in one transaction.
fn apply(tx: &Tx<'_>, provider: &str, call: &StoreCall) -> Result<Answer> {
    let (kind, key) = (call.kind.as_str(), call.key.as_str());
    Ok(match call.action {
        StoreAction::Get => match get(tx, provider, kind, key)? {
            Some((v, _)) => found(v),
            None => missing(),
        },
        StoreAction::Put => {
            put(tx, provider, kind, key, &call.value)?;
            found(call.value.clone())
        }
        StoreAction::Merge => {
            let old = get(tx, provider, kind, key)?.map(|(v, _)| v);
            let value = merged(old, call.value.clone());
            put(tx, provider, kind, key, &value)?;
            found(value)
        }
        StoreAction::Delete => match get(tx, provider, kind, key)? {
            Some((v, _)) => {
                tx.execute(
                    "DELETE FROM records WHERE provider = ?1 AND kind = ?2 AND key = ?3",
                    &[&provider, &kind, &key],
                )?;
                found(v)
            }
            None => missing(),
        },
        StoreAction::Clear => {
            let deleted = tx.execute(
                &format!("DELETE FROM records WHERE {PREFIXED}"),
                &[&provider, &kind, &call.prefix],
            )?;
            found(serde_json::json!({ "deleted": deleted }))
        }
        StoreAction::List => {
            let total: i64 = tx.query_one(
                &format!("SELECT COUNT(*) FROM records WHERE {PREFIXED}"),
                &[&provider, &kind, &call.prefix],
                |r| r.get(0),
            )?;
            let order = match (call.by_created, call.desc) {
                (false, false) => "key",
                (false, true) => "key DESC",
                (true, false) => "created, key",
                (true, true) => "created DESC, key DESC",
            };
            let start = i64::try_from(call.start).unwrap_or(i64::MAX);
            let count = call
                .count
                .map_or(i64::MAX, |c| i64::try_from(c).unwrap_or(i64::MAX));
            let rows: Vec<(String, String, i64)> = tx.query_all(
                &format!(
                    "SELECT key, value, created FROM records WHERE {PREFIXED}
                     ORDER BY {order} LIMIT ?5 OFFSET ?4"
                ),
                &[&provider, &kind, &call.prefix, &start, &count],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let items = rows
                .into_iter()
                .map(|(k, v, c)| Ok((k, value_of(&v)?, c)))
                .collect::<Result<Vec<_>>>()?;
            listing(u64::try_from(total).unwrap_or(0), items)
        }
        StoreAction::Host => {
            return Err(Error::internal("hosted media is kept by Store::host"));
        }
    })
}

impl Store {
    /// Runs a store call of an outbound operation on `provider`'s records.
    pub async fn records(&self, provider: &str, call: StoreCall) -> Result<Answer> {
        let provider = provider.to_string();
        let reads = matches!(call.action, StoreAction::Get | StoreAction::List);
        if reads {
            self.db.read(move |tx| apply(tx, &provider, &call)).await
        } else {
            self.db.write(move |tx| apply(tx, &provider, &call)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::mapping::outbound::store::Memory;
    use crate::store::test_configs;

    fn call(action: StoreAction, key: &str, value: Value) -> StoreCall {
        StoreCall {
            action,
            kind: "group".into(),
            key: key.into(),
            value,
            prefix: String::new(),
            start: 0,
            count: None,
            by_created: false,
            desc: false,
            upload: Value::Null,
        }
    }

    /// The database and the in-memory records (what golden cases run on)
    /// give the same answers to the same calls, and records survive a
    /// reopen.
    /// The database (on each backend) and the in-memory records (what
    /// golden cases run on) give the same answers to the same calls, and
    /// records survive a reopen.
    #[tokio::test]
    async fn records_answer_like_memory_and_persist() {
        for (cfg, _guard) in test_configs() {
            let store = Store::open(&cfg).unwrap();
            let mut memory = Memory::default();
            let mut list = call(StoreAction::List, "", Value::Null);
            list.prefix = "g".into();
            list.start = 1;
            list.count = Some(2);
            let mut clear = call(StoreAction::Clear, "", Value::Null);
            clear.prefix = "g1".into();
            let calls = [
                call(StoreAction::Get, "g1", Value::Null),
                call(StoreAction::Put, "g1", json!({"desc": "d", "owner": "tom"})),
                call(StoreAction::Merge, "g1", json!({"desc": null, "code": "7"})),
                call(StoreAction::Merge, "g2", json!({"owner": "ann", "x": null})),
                call(StoreAction::Put, "g3", json!("text")),
                call(StoreAction::Put, "h1", json!(1)),
                call(StoreAction::Get, "g1", Value::Null),
                list.clone(),
                call(StoreAction::Delete, "g3", Value::Null),
                call(StoreAction::Delete, "g3", Value::Null),
                list.clone(),
                clear,
                list,
            ];
            for c in calls {
                let db = store.records("rc", c.clone()).await.unwrap();
                let mem = memory.apply(&c, 0);
                let strip = |mut v: Value| {
                    // Times differ (the database's clock, the case's "now").
                    if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut) {
                        items.iter_mut().for_each(|i| i["created"] = json!(0));
                    }
                    v
                };
                assert_eq!(
                    (db.status, strip(db.body)),
                    (mem.status, strip(mem.body)),
                    "{c:?}"
                );
            }
            // Another provider sees none of them; a reopened store all of them.
            let other = store
                .records("other", call(StoreAction::Get, "g2", Value::Null))
                .await
                .unwrap();
            assert_eq!(other.status, 404);
            drop(store);
            let store = Store::open(&cfg).unwrap();
            let g2 = store
                .records("rc", call(StoreAction::Get, "g2", Value::Null))
                .await
                .unwrap();
            assert_eq!(g2.body, json!({"owner": "ann"}));
        }
    }
}
