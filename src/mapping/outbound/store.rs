//! Store steps as data: the store call a step makes (`StoreCall`, built from
//! the step's templates) and what its answer means. imbridge keeps, per
//! provider, records of what a vendor cannot keep (entities it has seen,
//! metadata, message coordinates, switches): keyed JSON values grouped by
//! kind. Providers answer store calls from `crate::store` (the database);
//! `imbridge test` and `translate` from [`Memory`], which follows the same
//! rules.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::call::Answer;
use super::plan::{ErrorRule, StoreAction, StoreStep};
use crate::canonical::{Error, Reason, Result};
use crate::mapping::template::eval::scalar_text;
use crate::mapping::template::{eval, eval_item, EvalEnv, Template};

/// The largest value a record keeps (JSON text).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// A store call ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreCall {
    /// What it does.
    pub action: StoreAction,
    /// The kind of records.
    pub kind: String,
    /// The key (get, put, merge, delete); empty otherwise.
    pub key: String,
    /// The value (put, merge); null otherwise.
    pub value: Value,
    /// Key prefix (list, clear).
    pub prefix: String,
    /// First item (list).
    pub start: u64,
    /// Page size (list); none means all.
    pub count: Option<u64>,
    /// Order by first write (list).
    pub by_created: bool,
    /// Reverse order (list).
    pub desc: bool,
    /// The upload to keep (host): `{slot, field, name, content_type, size}`.
    pub upload: Value,
}

impl StoreCall {
    /// The call as golden cases and `translate` show it.
    pub fn to_json(&self) -> Value {
        let mut call = json!({"store": self.action.as_str(), "kind": self.kind});
        match self.action {
            StoreAction::Get | StoreAction::Delete => call["key"] = json!(self.key),
            StoreAction::Put | StoreAction::Merge => {
                call["key"] = json!(self.key);
                call["value"] = self.value.clone();
            }
            StoreAction::Clear => call["prefix"] = json!(self.prefix),
            StoreAction::List => {
                call["prefix"] = json!(self.prefix);
                call["start"] = json!(self.start);
                if let Some(c) = self.count {
                    call["count"] = json!(c);
                }
                if self.by_created {
                    call["order"] = json!("created");
                }
                if self.desc {
                    call["desc"] = json!(true);
                }
            }
            StoreAction::Host => call["upload"] = self.upload.clone(),
        }
        call
    }
}

/// The store call a step makes (with `item` as `@` in foreach steps).
pub fn build(step: &StoreStep, env: &EvalEnv, item: Option<&Value>) -> Result<StoreCall> {
    let run = |t: &Template| -> Result<Option<Value>> {
        match item {
            Some(i) => eval_item(t, env, i),
            None => eval(t, env),
        }
        .map_err(|e| Error::invalid(Reason::Param, e.message))
    };
    let text = |t: &Option<Template>| -> Result<Option<String>> {
        Ok(match t {
            Some(t) => run(t)?.filter(|v| !v.is_null()).map(|v| scalar_text(&v)),
            None => None,
        })
    };
    let number = |t: &Option<Template>, what: &str| -> Result<Option<u64>> {
        match t {
            Some(t) => match run(t)?.filter(|v| !v.is_null()) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .or_else(|| scalar_text(&v).parse().ok())
                    .map(Some)
                    .ok_or_else(|| {
                        Error::invalid(
                            Reason::Param,
                            format!("{what} must be a non-negative integer"),
                        )
                    }),
            },
            None => Ok(None),
        }
    };
    let key = text(&step.key)?.unwrap_or_default();
    let keyed = matches!(
        step.action,
        StoreAction::Get | StoreAction::Put | StoreAction::Merge | StoreAction::Delete
    );
    if keyed && key.is_empty() {
        return Err(Error::invalid(
            Reason::Param,
            format!("no key for the {} record", step.kind),
        ));
    }
    let value = match &step.value {
        Some(t) => run(t)?.unwrap_or(Value::Null),
        None => Value::Null,
    };
    if value.to_string().len() > MAX_VALUE_BYTES {
        return Err(Error::limit(
            Reason::Param,
            format!(
                "the {} record is larger than {MAX_VALUE_BYTES} bytes",
                step.kind
            ),
        ));
    }
    let upload = match &step.upload {
        Some(t) => run(t)?.unwrap_or(Value::Null),
        None => Value::Null,
    };
    Ok(StoreCall {
        action: step.action,
        kind: step.kind.clone(),
        key,
        value,
        prefix: text(&step.prefix)?.unwrap_or_default(),
        start: number(&step.start, "start")?.unwrap_or(0),
        count: number(&step.count, "count")?,
        by_created: step.by_created,
        desc: step.desc,
        upload,
    })
}

/// A store answer: what the call found.
pub fn found(value: Value) -> Answer {
    Answer {
        status: 200,
        body: value,
        headers: Value::Null,
    }
}

/// A store answer: no such record.
pub fn missing() -> Answer {
    Answer {
        status: 404,
        body: Value::Null,
        headers: Value::Null,
    }
}

/// `patch` merged into `old`: members of an object patch replace those of
/// an object record, and null members remove them; anything else replaces
/// the record.
pub fn merged(old: Option<Value>, patch: Value) -> Value {
    match (old, patch) {
        (Some(Value::Object(mut old)), Value::Object(patch)) => {
            for (k, v) in patch {
                if v.is_null() {
                    old.remove(&k);
                } else {
                    old.insert(k, v);
                }
            }
            Value::Object(old)
        }
        (_, Value::Object(patch)) => {
            Value::Object(patch.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        (_, patch) => patch,
    }
}

/// The list answer: `{total, items: [{key, value, created}]}`.
pub fn listing(total: u64, items: Vec<(String, Value, i64)>) -> Answer {
    found(json!({
        "total": total,
        "items": items
            .into_iter()
            .map(|(key, value, created)| json!({"key": key, "value": value, "created": created}))
            .collect::<Vec<_>>(),
    }))
}

/// Whether a store answer is an error: only a rule of the step says so (a
/// missing record is an answer, not a failure, unless a rule makes it one).
/// Rules match on `status` (200 found, 404 missing); a rule without one
/// matches a missing record.
pub fn check(call: &StoreCall, status: u16, rules: &[ErrorRule]) -> Result<()> {
    let rule = rules.iter().find(|r| {
        r.code.is_empty() && (r.status.contains(&status) || (r.status.is_empty() && status != 200))
    });
    match rule {
        Some(ErrorRule {
            error: Some((k, reason)),
            ..
        }) => {
            let what = match call.key.as_str() {
                "" => call.kind.clone(),
                key => format!("{} {key}", call.kind),
            };
            let message = match status {
                200 => format!("{what} exists already"),
                _ => format!("{what} not found"),
            };
            let mut e = Error::new(*k, message);
            e.reason = *reason;
            Err(e)
        }
        _ => Ok(()),
    }
}

/// Records kept in memory: the store as `imbridge test` and `translate`
/// see it, with the same answers as the database's.
#[derive(Debug, Default, Clone)]
pub struct Memory {
    records: BTreeMap<(String, String), (Value, i64)>,
    hosted: u64,
}

impl Memory {
    /// Seeds a record (golden cases' `records:`).
    pub fn insert(&mut self, kind: &str, key: &str, value: Value, created: i64) {
        self.records
            .insert((kind.to_string(), key.to_string()), (value, created));
    }

    /// Runs a call at `now_ms`.
    pub fn apply(&mut self, call: &StoreCall, now_ms: i64) -> Answer {
        let id = (call.kind.clone(), call.key.clone());
        match call.action {
            StoreAction::Get => match self.records.get(&id) {
                Some((v, _)) => found(v.clone()),
                None => missing(),
            },
            StoreAction::Put | StoreAction::Merge => {
                let old = self.records.get(&id).cloned();
                let created = old.as_ref().map_or(now_ms, |(_, c)| *c);
                let value = match call.action {
                    StoreAction::Merge => merged(old.map(|(v, _)| v), call.value.clone()),
                    _ => call.value.clone(),
                };
                self.records.insert(id, (value.clone(), created));
                found(value)
            }
            StoreAction::Delete => match self.records.remove(&id) {
                Some((v, _)) => found(v),
                None => missing(),
            },
            StoreAction::Clear => {
                let before = self.records.len();
                self.records
                    .retain(|(k, key), _| !(*k == call.kind && key.starts_with(&call.prefix)));
                found(json!({"deleted": before - self.records.len()}))
            }
            StoreAction::List => {
                let mut all: Vec<(String, Value, i64)> = self
                    .records
                    .iter()
                    .filter(|((k, key), _)| *k == call.kind && key.starts_with(&call.prefix))
                    .map(|((_, key), (v, c))| (key.clone(), v.clone(), *c))
                    .collect();
                if call.by_created {
                    all.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
                }
                if call.desc {
                    all.reverse();
                }
                let total = all.len() as u64;
                let page = all
                    .into_iter()
                    .skip(call.start as usize)
                    .take(call.count.map_or(usize::MAX, |c| c as usize))
                    .collect();
                listing(total, page)
            }
            StoreAction::Host => {
                self.hosted += 1;
                let id = format!("hosted{}", self.hosted);
                found(json!({
                    "media_id": id,
                    "url": format!("memory:///{id}"),
                    "size": call.upload.get("size").cloned().unwrap_or(json!(0)),
                    "filename": call.upload.get("name").cloned().unwrap_or(Value::Null),
                    "content_type": call.upload.get("content_type").cloned().unwrap_or(Value::Null),
                }))
            }
        }
    }
}
