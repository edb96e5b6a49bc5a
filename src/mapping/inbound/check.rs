//! `check`: limits a route puts on the request before its canonical request
//! is built, each failing with the error the mapping file names.

use serde_json::Value;

use super::select::found;
use crate::canonical::Error;
use crate::mapping::path::Found;
use crate::mapping::plan::{Check, CheckRule};
use crate::mapping::template::eval::{loose_eq, scalar_text};

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Runs one check on the input document: its error when it fails.
pub fn run(check: &Check, input: &Value) -> Result<(), Error> {
    let mut values: Vec<&Value> = match check.path.find(input) {
        Found::Missing => Vec::new(),
        Found::One(v) => vec![v],
        Found::Many(vs) => vs,
    };
    values.retain(|v| !v.is_null());
    let ok = match &check.rule {
        CheckRule::Required => !values.is_empty(),
        CheckRule::IsArray => values.iter().all(|v| v.is_array()),
        CheckRule::IsObject => values.iter().all(|v| v.is_object()),
        CheckRule::IsInteger => values
            .iter()
            .all(|v| as_f64(v).is_some_and(|n| n.fract() == 0.0)),
        CheckRule::Max(n) => values.iter().all(|v| as_f64(v).is_some_and(|x| x <= *n)),
        CheckRule::Min(n) => values.iter().all(|v| as_f64(v).is_some_and(|x| x >= *n)),
        CheckRule::MaxChars(n) => values.iter().all(|v| scalar_text(v).chars().count() <= *n),
        CheckRule::MaxItems(n) => values
            .iter()
            .all(|v| v.as_array().is_none_or(|a| a.len() <= *n)),
        CheckRule::MinItems(n) => values
            .iter()
            .all(|v| v.as_array().is_none_or(|a| a.len() >= *n)),
        CheckRule::MaxBytes(n) => values.iter().all(|v| scalar_text(v).len() <= *n),
        CheckRule::MinBytes(n) => values.iter().all(|v| scalar_text(v).len() >= *n),
        CheckRule::SameAs(other) => {
            let expected = found(other, input).map(|v| scalar_text(&v));
            values
                .iter()
                .all(|v| expected.as_deref() == Some(scalar_text(v).as_str()))
        }
        CheckRule::OneOf(options) => values
            .iter()
            .all(|v| options.iter().any(|o| loose_eq(o, v))),
    };
    if ok {
        Ok(())
    } else {
        Err(check.error.clone())
    }
}
