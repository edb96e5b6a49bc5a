//! Helpers every module of the store shares: enum and JSON columns, id
//! counters, the clock. (The pool itself is `crate::sqlite::Db`.)

use deadpool_sqlite::rusqlite::types::Type;
use deadpool_sqlite::rusqlite::{self, Connection, Params, Row, Statement};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::validate;
use crate::canonical::common::Items;
use crate::canonical::model::Millis;
use crate::canonical::{Error, Reason, Result};

/// The current time in milliseconds since the epoch.
pub(super) fn now() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// The serde name of a unit enum value (`UserKind::Robot` → `"robot"`), as stored.
pub(super) fn tag<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Reads a column written with [`tag`].
pub(super) fn tag_column<T: DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_value(serde_json::Value::String(text))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

/// Every row `stmt` yields for `params`, each read by `read`: the body of the list operations.
pub(super) fn items<T, P: Params>(
    stmt: &mut Statement<'_>,
    params: P,
    read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Items<T>> {
    let items = stmt
        .query_map(params, read)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Items { items })
}

/// Serializes a value for a JSON column.
pub(super) fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::internal(format_args!("json: {e}")))
}

/// Reads a JSON column.
pub(super) fn json_column<T: DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

/// The id counters (decimal ids assigned by the store).
#[derive(Debug, Clone, Copy)]
pub(super) enum Counter {
    /// Group ids, from 10000.
    Group,
    /// Chatroom ids, from 10000000.
    Room,
    /// Message ids, from 1000000000.
    Message,
}

impl Counter {
    fn name(self) -> &'static str {
        match self {
            Counter::Group => "group",
            Counter::Room => "room",
            Counter::Message => "message",
        }
    }
}

/// Reserves `n` consecutive ids of `counter` and returns the first.
pub(super) fn allocate(conn: &Connection, counter: Counter, n: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached("UPDATE counters SET next = next + ?2 WHERE name = ?1 RETURNING next - ?2")?
        .query_row((counter.name(), n), |r| r.get(0))?)
}

/// The id of a new group or room: the caller's choice (non-empty, at most 64
/// bytes, not `taken` else already_exists/`reason`) or the next free counter value.
pub(super) fn claim_id(
    conn: &Connection,
    counter: Counter,
    requested: Option<String>,
    reason: Reason,
    taken: impl Fn(&str) -> Result<bool>,
) -> Result<String> {
    if let Some(id) = requested {
        validate::id(&id)?;
        if taken(&id)? {
            return Err(Error::exists(reason, format!("{id} exists already")));
        }
        return Ok(id);
    }
    loop {
        let id = allocate(conn, counter, 1)?.to_string();
        if !taken(&id)? {
            return Ok(id);
        }
    }
}
