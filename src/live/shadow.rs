//! Shadow reads: a sampled share of reads also runs on the other side in the
//! background; both canonical results are compared, ignoring what the pair
//! cannot carry and what differs by nature, and mismatches are counted by
//! operation and logged with a compact diff (no secret, no caller waiting).

use std::sync::Arc;

use serde_json::Value;

use super::ids::{Ids, Side};
use super::Live;
use crate::canonical::{Op, Output};
use crate::provider::{CallContext, SharedProvider};

/// A read the primary answered, to run again on the other side.
pub struct Call {
    /// The frontend (metric label).
    pub frontend: String,
    /// The old provider.
    pub old: SharedProvider,
    /// The new provider.
    pub new: SharedProvider,
    /// The side that answered.
    pub side: Side,
    /// The request as run there.
    pub op: Op,
    /// Its answer.
    pub out: Output,
    /// The call's context.
    pub ctx: CallContext,
}

/// Runs `call` on the other side in the background for a `sample` share of
/// calls, when a slot is free (else counts it `skipped`).
pub fn maybe(live: &Arc<Live>, call: Call, sample: f64) {
    if sample <= 0.0 || rand::random::<f64>() >= sample {
        return;
    }
    let op = call.op.name().as_str();
    let count = |outcome: &str| {
        live.metrics
            .migration_shadow
            .with_label_values(&[&call.frontend, op, outcome])
            .inc()
    };
    let Ok(slot) = live.shadow_slots.clone().try_acquire_owned() else {
        count("skipped");
        return;
    };
    let live = live.clone();
    tokio::spawn(async move {
        let outcome = compare(&live, &call).await;
        live.metrics
            .migration_shadow
            .with_label_values(&[&call.frontend, call.op.name().as_str(), outcome])
            .inc();
        drop(slot);
    });
}

async fn compare(live: &Live, call: &Call) -> &'static str {
    let (old, new) = (call.old.name(), call.new.name());
    let ids = Ids {
        sql: live.sql(),
        from: old,
        to: new,
    };
    let other = match call.side {
        Side::Old => &call.new,
        Side::New => &call.old,
    };
    let mut op = call.op.clone();
    let run = async {
        ids.across(&mut op, call.side).await?;
        let mut out = other.execute(op.clone(), &call.ctx).await?;
        ids.back(&op, &mut out, call.side).await?;
        Ok::<_, crate::canonical::Error>(out)
    };
    match run.await {
        Err(e) => {
            tracing::info!(frontend = %call.frontend, op = %call.op.name(), error = %e.kind, "shadow read failed on the other side");
            "error"
        }
        Ok(out) => match diff(&call.out.to_json(), &out.to_json()) {
            None => "match",
            Some(d) => {
                tracing::warn!(frontend = %call.frontend, op = %call.op.name(), primary = call.side.as_str(), diff = %d, "shadow read mismatch");
                "mismatch"
            }
        },
    }
}

/// Fields that differ between two providers by nature (times each side
/// sets, per-provider ids and app keys, paging cursors) or must never be
/// printed (secrets): not compared.
const IGNORED: &[&str] = &[
    "created", "modified", "joined", "uuid", "app_key", "cursor", "token", "secret", "password",
];

/// Differences between `a` (primary) and `b` (other side), as a compact
/// text listing at most 3 paths; `None` when they agree. A field one side
/// leaves out is one that side cannot carry: not a difference.
pub fn diff(a: &Value, b: &Value) -> Option<String> {
    let mut found = Vec::new();
    walk("$", a, b, &mut found);
    if found.is_empty() {
        return None;
    }
    let more = found.len().saturating_sub(3);
    found.truncate(3);
    let mut text = found.join("; ");
    if more > 0 {
        text.push_str(&format!("; and {more} more"));
    }
    Some(text)
}

fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                if IGNORED.contains(&k.as_str()) {
                    continue;
                }
                if let Some(vb) = y.get(k) {
                    walk(&format!("{path}.{k}"), va, vb, out);
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                walk(&format!("{path}[{i}]"), va, vb, out);
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            out.push(format!("{path}: {} items != {} items", x.len(), y.len()))
        }
        _ if a == b => {}
        _ => out.push(format!("{path}: {} != {}", short(a), short(b))),
    }
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diffs_ignore_volatile_and_uncarried_fields() {
        let a = json!({"username": "tom", "nickname": "Tom", "created": 1, "extras": {"k": 1}, "token": "s3cret"});
        let b = json!({"username": "tom", "nickname": "Tom", "created": 2, "token": "other"});
        assert_eq!(diff(&a, &b), None);
        let c = json!({"username": "tom", "nickname": "Tommy", "created": 2});
        assert_eq!(diff(&a, &c).unwrap(), "$.nickname: \"Tom\" != \"Tommy\"");
        let d = diff(&json!({"items": [1, 2]}), &json!({"items": [1]})).unwrap();
        assert_eq!(d, "$.items: 2 items != 1 items");
    }
}
