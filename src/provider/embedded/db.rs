//! Helpers every module of the embedded provider shares: enum and JSON
//! columns, id counters. (The pool itself is `crate::db::Db`.)

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::validate;
use crate::canonical::{Error, Reason, Result};
use crate::db::{Dialect, Row, Tx};

/// The serde name of a unit enum value (`UserKind::Robot` → `"robot"`), as stored.
pub(super) fn tag<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Reads a column written with [`tag`].
pub(super) fn tag_column<T: DeserializeOwned>(row: &Row<'_>, idx: usize) -> Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_value(serde_json::Value::String(text))
        .map_err(|e| Error::internal(format_args!("column {idx}: {e}")))
}

/// Serializes a value for a JSON column.
pub(super) fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::internal(format_args!("json: {e}")))
}

/// Reads a JSON column.
pub(super) fn json_column<T: DeserializeOwned>(row: &Row<'_>, idx: usize) -> Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| Error::internal(format_args!("column {idx}: {e}")))
}

/// The id counters (decimal ids assigned by the embedded provider).
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

    /// `n` (`?1`) values of the counter's PostgreSQL sequence.
    fn nextval(self) -> &'static str {
        match self {
            Counter::Group => "SELECT nextval('group_ids') FROM generate_series(1, ?1)",
            Counter::Room => "SELECT nextval('room_ids') FROM generate_series(1, ?1)",
            Counter::Message => "SELECT nextval('message_ids') FROM generate_series(1, ?1)",
        }
    }
}

/// Reserves `n` ids of `counter`, ascending: consecutive on SQLite (one
/// writer at a time), from a sequence on PostgreSQL (unique across
/// replicas, without write conflicts; gaps where a transaction failed).
pub(super) fn allocate(tx: &Tx<'_>, counter: Counter, n: i64) -> Result<Vec<i64>> {
    match tx.dialect() {
        Dialect::Sqlite => {
            let first: i64 = tx.query_one(
                "UPDATE counters SET next = next + ?2 WHERE name = ?1 RETURNING next - ?2",
                &[&counter.name(), &n],
                |r| r.get(0),
            )?;
            Ok((first..first.saturating_add(n)).collect())
        }
        Dialect::Postgres => tx.query_all(counter.nextval(), &[&n], |r| r.get(0)),
    }
}

/// The id of a new group or room: the caller's choice (non-empty, at most 64
/// bytes, not `taken` else already_exists/`reason`) or the next free counter value.
pub(super) fn claim_id(
    tx: &Tx<'_>,
    counter: Counter,
    requested: Option<&str>,
    reason: Reason,
    taken: impl Fn(&str) -> Result<bool>,
) -> Result<String> {
    if let Some(id) = requested {
        validate::id(id)?;
        if taken(id)? {
            return Err(Error::exists(reason, format!("{id} exists already")));
        }
        return Ok(id.to_owned());
    }
    loop {
        let id = allocate(tx, counter, 1)?
            .first()
            .ok_or_else(|| Error::internal("no id allocated"))?
            .to_string();
        if !taken(&id)? {
            return Ok(id);
        }
    }
}
