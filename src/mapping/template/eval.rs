//! Evaluation of compiled templates: pure, no I/O, no parsing. The result is
//! `None` when the template found nothing (a missing path), which object and
//! array templates drop, so absent inputs give absent outputs.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, FixedOffset, TimeZone};
use serde_json::{Map, Number, Value};

use super::{CodeTable, Conversion, Func, Template, TimeFormat};
use crate::mapping::path::{Found, Path, Root};

/// Characters left as they are by `$escape` (RFC 3986 unreserved).
const URL_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What a template is evaluated against.
pub struct EvalEnv<'a> {
    /// The document `$` names.
    pub doc: &'a Value,
    /// The error code table for `$error_code`.
    pub codes: Option<&'a dyn CodeTable>,
    /// "Now" in milliseconds, fixed for one request.
    pub now_ms: i64,
}

/// Why a template could not be evaluated: a value of the wrong shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    /// What is wrong, naming the path or function at fault.
    pub message: String,
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EvalError {}

fn fail<T>(message: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError {
        message: message.into(),
    })
}

/// What evaluation gives: nothing, or a value borrowed from the document, a
/// scope item or the template itself when it can be, else a new one. Paths
/// copy nothing; only what goes into a new object or array is copied, once.
type Out<'s> = Result<Option<Cow<'s, Value>>, EvalError>;

/// Evaluates `template` in `env`.
pub fn eval(template: &Template, env: &EvalEnv) -> Result<Option<Value>, EvalError> {
    Ok(eval_ref(template, env)?.map(Cow::into_owned))
}

/// Evaluates `template` in `env`, borrowing what it can from the document
/// and the template (for callers that only read the result).
pub fn eval_ref<'s>(template: &'s Template, env: &EvalEnv<'s>) -> Out<'s> {
    let mut scope = Vec::new();
    eval_in(template, env, &mut scope)
}

/// Evaluates `template` with `item` as `@` (templates compiled with a scope).
pub fn eval_item(
    template: &Template,
    env: &EvalEnv,
    item: &Value,
) -> Result<Option<Value>, EvalError> {
    let mut scope = vec![item];
    Ok(eval_in(template, env, &mut scope)?.map(Cow::into_owned))
}

fn eval_in<'s>(template: &'s Template, env: &EvalEnv<'s>, scope: &mut Vec<&'s Value>) -> Out<'s> {
    match template {
        Template::Literal(v) => Ok(Some(Cow::Borrowed(v))),
        Template::Path(p) => Ok(lookup(p, env, scope)),
        Template::Object(members) => {
            let mut out = Map::with_capacity(members.len());
            for (key, t) in members {
                if let Some(v) = eval_in(t, env, scope)? {
                    out.insert(key.clone(), v.into_owned());
                }
            }
            Ok(Some(Cow::Owned(Value::Object(out))))
        }
        Template::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for t in items {
                if let Some(v) = eval_in(t, env, scope)? {
                    out.push(v.into_owned());
                }
            }
            Ok(Some(Cow::Owned(Value::Array(out))))
        }
        Template::Call(func) => call(func, env, scope),
    }
}

fn lookup<'s>(path: &Path, env: &EvalEnv<'s>, scope: &[&'s Value]) -> Option<Cow<'s, Value>> {
    let start: &'s Value = match path.root() {
        Root::Doc => env.doc,
        Root::Scope(i) => *scope.get(i)?,
    };
    match path.find(start) {
        Found::Missing => None,
        Found::One(v) => Some(Cow::Borrowed(v)),
        Found::Many(vs) => Some(Cow::Owned(Value::Array(vs.into_iter().cloned().collect()))),
    }
}

/// Evaluates to a value, treating null as missing.
fn present<'s>(t: &'s Template, env: &EvalEnv<'s>, scope: &mut Vec<&'s Value>) -> Out<'s> {
    Ok(eval_in(t, env, scope)?.filter(|v| !v.is_null()))
}

/// Evaluates to a new value (what goes into a built object or array).
fn owned<'s>(
    t: &'s Template,
    env: &EvalEnv<'s>,
    scope: &mut Vec<&'s Value>,
) -> Result<Option<Value>, EvalError> {
    Ok(eval_in(t, env, scope)?.map(Cow::into_owned))
}

/// Truthiness: missing, null, false, "", 0 and [] are false.
pub fn truthy(v: &Option<Value>) -> bool {
    is_truthy(v.as_ref())
}

fn is_truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

/// A new string value.
fn text<'s>(s: String) -> Out<'s> {
    Ok(Some(Cow::Owned(Value::String(s))))
}

fn call<'s>(func: &'s Func, env: &EvalEnv<'s>, scope: &mut Vec<&'s Value>) -> Out<'s> {
    match func {
        Func::Default(options) => {
            for t in options {
                if let Some(v) = present(t, env, scope)? {
                    return Ok(Some(v));
                }
            }
            Ok(None)
        }
        Func::Convert(conv, t, fallback) => match present(t, env, scope)? {
            None => Ok(None),
            Some(v) if converted(*conv, &v) => Ok(Some(v)),
            Some(v) => match (convert(*conv, v.into_owned()), fallback) {
                (Ok(v), _) => Ok(Some(Cow::Owned(v))),
                (Err(_), Some(f)) => eval_in(f, env, scope),
                (Err(e), None) => Err(e),
            },
        },
        Func::Map { source, to } => {
            let Some(items) = present(source, env, scope)? else {
                return Ok(None);
            };
            let Value::Array(items) = items.as_ref() else {
                return fail(format!(
                    "$map: expected an array, got {}",
                    type_name(&items)
                ));
            };
            let out = map_items(items, scope, |scope| owned(to, env, scope))?;
            Ok(Some(Cow::Owned(Value::Array(
                out.into_iter().flatten().collect(),
            ))))
        }
        Func::Flatten(t) => match present(t, env, scope)? {
            None => Ok(None),
            Some(v) => match v.into_owned() {
                Value::Array(items) => {
                    let mut out = Vec::new();
                    for item in items {
                        match item {
                            Value::Array(inner) => out.extend(inner),
                            other => out.push(other),
                        }
                    }
                    Ok(Some(Cow::Owned(Value::Array(out))))
                }
                other => fail(format!(
                    "$flatten: expected an array, got {}",
                    type_name(&other)
                )),
            },
        },
        Func::Enum {
            value,
            table,
            default,
        } => {
            let Some(v) = present(value, env, scope)? else {
                return match default {
                    Some(d) => eval_in(d, env, scope),
                    None => Ok(None),
                };
            };
            match (table.entries.get(scalar_str(&v).as_ref()), default) {
                (Some(out), _) => Ok(Some(Cow::Borrowed(out))),
                (None, Some(d)) => eval_in(d, env, scope),
                (None, None) => {
                    let mut keys: Vec<_> = table.entries.keys().cloned().collect();
                    keys.sort();
                    fail(format!(
                        "unknown value {} (expected one of: {})",
                        render_value(&v),
                        keys.join(", ")
                    ))
                }
            }
        }
        Func::ErrorCode(t) => {
            let Some(err) = present(t, env, scope)? else {
                return Ok(None);
            };
            Ok(env.codes.and_then(|c| c.code_for(&err)).map(Cow::Owned))
        }
        Func::Join(t, sep) => match present(t, env, scope)?.as_deref() {
            None => Ok(None),
            Some(Value::Array(items)) => {
                text(items.iter().map(scalar_text).collect::<Vec<_>>().join(sep))
            }
            Some(other) => text(scalar_text(other)),
        },
        Func::Split(t, sep) => match present(t, env, scope)?.as_deref() {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(Some(Cow::Owned(Value::Array(vec![])))),
            Some(Value::String(s)) => Ok(Some(Cow::Owned(Value::Array(
                s.split(sep.as_str())
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            )))),
            Some(Value::Array(items)) => Ok(Some(Cow::Owned(Value::Array(items.clone())))),
            Some(other) => fail(format!(
                "$split: expected a string, got {}",
                type_name(other)
            )),
        },
        Func::Concat(parts) => {
            let mut out = String::new();
            for t in parts {
                if let Some(v) = present(t, env, scope)? {
                    out.push_str(&scalar_str(&v));
                }
            }
            text(out)
        }
        Func::Time(t, format) => match present(t, env, scope)? {
            None => Ok(None),
            Some(v) => {
                let ms = as_i64(&v).ok_or_else(|| EvalError {
                    message: format!("$time: expected milliseconds, got {}", render_value(&v)),
                })?;
                text(format_time(ms, format))
            }
        },
        Func::ParseTime(t, format) => match present(t, env, scope)? {
            None => Ok(None),
            Some(v) => match v.as_ref() {
                Value::Number(_) => Ok(Some(v)),
                Value::String(s) => {
                    parse_time(s, format).map(|ms| Some(Cow::Owned(Value::from(ms))))
                }
                other => fail(format!(
                    "$parse_time: expected a string, got {}",
                    type_name(other)
                )),
            },
        },
        Func::Len(t) => Ok(present(t, env, scope)?.map(|v| {
            Cow::Owned(Value::from(match v.as_ref() {
                Value::Array(a) => a.len(),
                Value::String(s) => s.chars().count(),
                Value::Object(o) => o.len(),
                _ => 1,
            }))
        })),
        Func::Entries { source, key, value } => {
            let Some(items) = present(source, env, scope)? else {
                return Ok(None);
            };
            let Value::Array(items) = items.as_ref() else {
                return fail(format!(
                    "$entries: expected an array, got {}",
                    type_name(&items)
                ));
            };
            let pairs = map_items(items, scope, |scope| {
                let k = present(key, env, scope)?.map(|k| scalar_text(&k));
                let v = owned(value, env, scope)?;
                Ok(k.zip(v))
            })?;
            Ok(Some(Cow::Owned(Value::Object(
                pairs.into_iter().flatten().collect(),
            ))))
        }
        Func::If {
            cond,
            then,
            otherwise,
        } => {
            if is_truthy(eval_in(cond, env, scope)?.as_deref()) {
                eval_in(then, env, scope)
            } else {
                match otherwise {
                    Some(t) => eval_in(t, env, scope),
                    None => Ok(None),
                }
            }
        }
        Func::Eq(a, b) => {
            let a = present(a, env, scope)?;
            let b = present(b, env, scope)?;
            Ok(Some(Cow::Owned(Value::Bool(a == b))))
        }
        Func::Not(t) => Ok(Some(Cow::Owned(Value::Bool(!is_truthy(
            eval_in(t, env, scope)?.as_deref(),
        ))))),
        Func::Add(terms) => arithmetic(terms, env, scope, 0, i64::checked_add, |a, b| a + b),
        Func::Mul(terms) => arithmetic(terms, env, scope, 1, i64::checked_mul, |a, b| a * b),
        Func::Merge(parts) => {
            let mut out = Map::new();
            for t in parts {
                match present(t, env, scope)? {
                    None => {}
                    Some(Cow::Owned(Value::Object(m))) => out.extend(m),
                    Some(Cow::Borrowed(Value::Object(m))) => {
                        out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())))
                    }
                    Some(other) => {
                        return fail(format!(
                            "$merge: expected objects, got {}",
                            type_name(&other)
                        ))
                    }
                }
            }
            Ok(Some(Cow::Owned(Value::Object(out))))
        }
        Func::Use(template, arg) => match present(arg, env, scope)? {
            None => Ok(None),
            // The argument is the document's (or the template's): the
            // result may borrow from it.
            Some(Cow::Borrowed(value)) => eval_in(template, env, &mut vec![value]),
            Some(Cow::Owned(value)) => Ok(owned(template, env, &mut vec![&value])?.map(Cow::Owned)),
        },
        Func::Div(a, b) => {
            let a = present(a, env, scope)?.map(Cow::into_owned);
            let b = present(b, env, scope)?.map(Cow::into_owned);
            Ok(divide(a, b)?.map(Cow::Owned))
        }
        Func::Lower(t) => Ok(present(t, env, scope)?.map(|v| {
            Cow::Owned(match v.into_owned() {
                Value::Array(items) => Value::Array(
                    items
                        .into_iter()
                        .map(|i| match i {
                            Value::String(s) => Value::String(s.to_lowercase()),
                            other => other,
                        })
                        .collect(),
                ),
                other => Value::String(scalar_str(&other).to_lowercase()),
            })
        })),
        Func::Escape(t) => match present(t, env, scope)? {
            None => Ok(None),
            Some(v) => {
                let segment = scalar_str(&v);
                // Percent-encoding leaves these as they are, and URL parsers
                // take `%2e%2e` for `..` too: as a path segment they would
                // name another resource.
                if matches!(segment.as_ref(), "" | "." | "..") {
                    return fail(format!("`{segment}` cannot be a URL path segment"));
                }
                text(percent_encoding::utf8_percent_encode(&segment, URL_UNRESERVED).to_string())
            }
        },
        Func::Upper(t) => match present(t, env, scope)? {
            None => Ok(None),
            Some(v) => text(scalar_str(&v).to_uppercase()),
        },
        Func::Mask(t, words) => {
            let Some(original) = present(t, env, scope)? else {
                return Ok(None);
            };
            let mut words: Vec<String> = match present(words, env, scope)?.as_deref() {
                Some(Value::Array(items)) => items.iter().map(scalar_text).collect(),
                Some(other) => vec![scalar_text(other)],
                None => Vec::new(),
            };
            // Longer words first, so a word inside another is masked whole.
            words.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
            let mut out = scalar_text(&original);
            for w in words.iter().filter(|w| !w.is_empty()) {
                out = out.replace(w.as_str(), &"*".repeat(w.chars().count()));
            }
            text(out)
        }
        Func::Md5(t) => match present(t, env, scope)? {
            None => Ok(None),
            Some(v) => {
                use md5::Digest;
                text(hex::encode(md5::Md5::digest(scalar_str(&v).as_bytes())))
            }
        },
        Func::Uuid(t) => match present(t, env, scope)? {
            None => Ok(None),
            Some(v) => text(
                uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, scalar_str(&v).as_bytes())
                    .to_string(),
            ),
        },
        Func::First(t) => Ok(match present(t, env, scope)? {
            Some(Cow::Borrowed(Value::Array(items))) => items.first().map(Cow::Borrowed),
            Some(Cow::Owned(Value::Array(items))) => items.into_iter().next().map(Cow::Owned),
            other => other,
        }),
        Func::Now => Ok(Some(Cow::Owned(Value::from(env.now_ms)))),
        Func::Pairs {
            source,
            prefix,
            suffix,
        } => {
            let Some(value) = present(source, env, scope)? else {
                return Ok(None);
            };
            let Value::Object(members) = value.as_ref() else {
                return fail(format!(
                    "$pairs: expected an object, got {}",
                    type_name(&value)
                ));
            };
            let pairs = members
                .iter()
                .filter_map(|(k, v)| {
                    let key = k
                        .strip_prefix(prefix.as_str())?
                        .strip_suffix(suffix.as_str())?;
                    Some(serde_json::json!({"key": key, "value": v}))
                })
                .collect();
            Ok(Some(Cow::Owned(Value::Array(pairs))))
        }
        Func::Fail(t) => {
            let message = present(t, env, scope)?.map_or_else(
                || "the request cannot be carried out".to_string(),
                |v| scalar_text(&v),
            );
            fail(message)
        }
    }
}

/// Whether `v` already is what the conversion gives (so it can stay borrowed).
fn converted(conv: Conversion, v: &Value) -> bool {
    match conv {
        Conversion::Int => v.is_i64(),
        Conversion::Float => v.is_number(),
        Conversion::String => v.is_string(),
        Conversion::Bool => v.is_boolean(),
        Conversion::Json => !v.is_string(),
        Conversion::Array => v.is_array(),
    }
}

/// `a / b`: floored integer division when both are integers, else a float
/// quotient; nothing when either is absent; division by zero is an error.
fn divide(a: Option<Value>, b: Option<Value>) -> Result<Option<Value>, EvalError> {
    let (Some(a), Some(b)) = (a, b) else {
        return Ok(None);
    };
    let number = |v: Value| -> Result<f64, EvalError> {
        match convert(Conversion::Float, v)? {
            Value::Number(n) => Ok(n.as_f64().unwrap_or(0.0)),
            _ => Ok(0.0),
        }
    };
    let (ia, ib) = (as_i64(&a), as_i64(&b));
    let (fa, fb) = (number(a)?, number(b)?);
    if fb == 0.0 {
        return fail("$div: division by zero");
    }
    Ok(Some(match (ia, ib) {
        (Some(x), Some(y)) if fa.fract() == 0.0 && fb.fract() == 0.0 => match x.checked_div(y) {
            // Floor, not truncation: -7 / 2 is -4.
            Some(q) if x % y != 0 && (x < 0) != (y < 0) => Value::from(q - 1),
            Some(q) => Value::from(q),
            None => Number::from_f64(fa / fb).map_or(Value::Null, Value::Number),
        },
        _ => Number::from_f64(fa / fb).map_or(Value::Null, Value::Number),
    }))
}

/// Folds numbers with integer arithmetic while every term is an integer (and
/// nothing overflows), else with floats; absent terms are skipped.
fn arithmetic<'s>(
    terms: &'s [Template],
    env: &EvalEnv<'s>,
    scope: &mut Vec<&'s Value>,
    unit: i64,
    int_op: fn(i64, i64) -> Option<i64>,
    float_op: fn(f64, f64) -> f64,
) -> Out<'s> {
    let mut int_acc = Some(unit);
    let mut float_acc = unit as f64;
    for t in terms {
        let Some(v) = present(t, env, scope)? else {
            continue;
        };
        let f = match convert(Conversion::Float, v.as_ref().clone())? {
            Value::Number(n) => n.as_f64().unwrap_or(0.0),
            _ => 0.0,
        };
        float_acc = float_op(float_acc, f);
        int_acc = match (int_acc, as_i64(&v).filter(|_| f.fract() == 0.0)) {
            (Some(acc), Some(i)) => int_op(acc, i),
            _ => None,
        };
    }
    Ok(Some(Cow::Owned(match int_acc {
        Some(i) => Value::from(i),
        None => Number::from_f64(float_acc).map_or(Value::Null, Value::Number),
    })))
}

/// Runs `f` once per item with the item pushed on the scope.
fn map_items<'t, T>(
    items: &'t [Value],
    scope: &[&'t Value],
    mut f: impl FnMut(&mut Vec<&'t Value>) -> Result<T, EvalError>,
) -> Result<Vec<T>, EvalError> {
    let mut out = Vec::with_capacity(items.len());
    let mut inner: Vec<&Value> = scope.to_vec();
    inner.push(&Value::Null);
    let last = inner.len() - 1;
    for item in items {
        inner[last] = item;
        out.push(f(&mut inner)?);
    }
    Ok(out)
}

/// The text of a scalar (strings without quotes); other values as JSON.
pub fn scalar_text(v: &Value) -> String {
    scalar_str(v).into_owned()
}

/// [`scalar_text`], borrowed when the value is a string.
pub fn scalar_str(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        Value::Null => Cow::Borrowed(""),
        other => Cow::Owned(other.to_string()),
    }
}

/// Equal, or equal as text (`1` and `"1"`): how conditions, checks and
/// vendor error rules compare a value with one written in a mapping.
pub fn loose_eq(a: &Value, b: &Value) -> bool {
    a == b || scalar_text(a) == scalar_text(b)
}

fn render_value(v: &Value) -> String {
    let text = v.to_string();
    if text.len() > 60 {
        format!("{}…", &text[..text.floor_char_boundary(60)])
    } else {
        text
    }
}

/// A JSON type name for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Applies a conversion to a present value.
pub fn convert(conv: Conversion, v: Value) -> Result<Value, EvalError> {
    let bad =
        |what: &str, v: &Value| fail::<Value>(format!("expected {what}, got {}", render_value(v)));
    match conv {
        Conversion::Int => match as_i64(&v) {
            Some(i) => Ok(Value::from(i)),
            None => bad("an integer", &v),
        },
        Conversion::Float => match &v {
            Value::Number(_) => Ok(v),
            Value::String(s) => match s.trim().parse::<f64>().ok().and_then(Number::from_f64) {
                Some(n) => Ok(Value::Number(n)),
                None => bad("a number", &v),
            },
            _ => bad("a number", &v),
        },
        Conversion::String => Ok(match v {
            Value::String(_) => v,
            Value::Array(_) | Value::Object(_) => Value::String(v.to_string()),
            other => Value::String(scalar_text(&other)),
        }),
        Conversion::Bool => match &v {
            Value::Bool(_) => Ok(v),
            Value::Number(n) if n.as_i64() == Some(0) => Ok(Value::Bool(false)),
            Value::Number(n) if n.as_i64() == Some(1) => Ok(Value::Bool(true)),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(Value::Bool(true)),
                "false" | "0" => Ok(Value::Bool(false)),
                _ => bad("true or false", &v),
            },
            _ => bad("true or false", &v),
        },
        Conversion::Json => match &v {
            Value::String(s) => serde_json::from_str(s).or_else(|_| bad("JSON text", &v)),
            _ => Ok(v),
        },
        Conversion::Array => Ok(match v {
            Value::Array(_) => v,
            other => Value::Array(vec![other]),
        }),
    }
}

fn offset(format: &TimeFormat) -> FixedOffset {
    FixedOffset::east_opt(format.offset_secs).unwrap_or_else(|| FixedOffset::east_opt(0).unwrap())
}

/// Formats milliseconds since the epoch.
pub fn format_time(ms: i64, format: &TimeFormat) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) => t
            .with_timezone(&offset(format))
            .format_with_items(format.items.iter())
            .to_string(),
        None => String::new(),
    }
}

fn parse_time(text: &str, format: &TimeFormat) -> Result<i64, EvalError> {
    let mut parsed = chrono::format::Parsed::new();
    let naive = chrono::format::parse(&mut parsed, text, format.items.iter())
        .and_then(|()| match parsed.to_naive_time() {
            Ok(time) => parsed.to_naive_date().map(|d| d.and_time(time)),
            Err(_) => parsed
                .to_naive_date()
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default()),
        })
        .map_err(|_| EvalError {
            message: format!("expected a time like {}, got {text:?}", format.pattern),
        })?;
    offset(format)
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| EvalError {
            message: format!("invalid time {text:?}"),
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(func: Func) -> Result<Option<Value>, EvalError> {
        let doc = json!({});
        let env = EvalEnv {
            doc: &doc,
            codes: None,
            now_ms: 0,
        };
        eval(&Template::Call(Box::new(func)), &env)
    }

    fn lit(v: Value) -> Template {
        Template::Literal(v)
    }

    #[test]
    fn div_floors_integers_and_divides_floats() {
        let div = |a, b| run(Func::Div(lit(a), lit(b)));
        assert_eq!(div(json!(7), json!(2)).unwrap(), Some(json!(3)));
        assert_eq!(div(json!("40"), json!(20)).unwrap(), Some(json!(2)));
        assert_eq!(div(json!(-7), json!(2)).unwrap(), Some(json!(-4)));
        assert_eq!(div(json!(7), json!(-2)).unwrap(), Some(json!(-4)));
        assert_eq!(div(json!(1.5), json!(2)).unwrap(), Some(json!(0.75)));
        assert!(div(json!(1), json!(0)).is_err());
        assert!(div(json!("x"), json!(2)).is_err());
        let missing = Template::Path(
            crate::mapping::path::Path::compile(Root::Doc, "$.nothing", "$").unwrap(),
        );
        assert_eq!(run(Func::Div(missing, lit(json!(2)))).unwrap(), None);
    }

    #[test]
    fn escape_encodes_a_segment_and_refuses_dot_segments() {
        let escape = |v| run(Func::Escape(lit(v)));
        assert_eq!(
            escape(json!("a/b c.d")).unwrap(),
            Some(json!("a%2Fb%20c.d"))
        );
        assert_eq!(escape(json!("...")).unwrap(), Some(json!("...")));
        assert_eq!(escape(json!(7)).unwrap(), Some(json!("7")));
        for bad in ["", ".", ".."] {
            assert!(escape(json!(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lower_lowercases_text_and_arrays_of_text() {
        let lower = |v| run(Func::Lower(lit(v)));
        assert_eq!(lower(json!("Tom.O_K")).unwrap(), Some(json!("tom.o_k")));
        assert_eq!(
            lower(json!(["A", "b", 3])).unwrap(),
            Some(json!(["a", "b", 3]))
        );
        assert_eq!(lower(json!(12)).unwrap(), Some(json!("12")));
    }

    #[test]
    fn mask_stars_every_word_longest_first() {
        let mask = |t, w| run(Func::Mask(lit(t), lit(w)));
        assert_eq!(
            mask(
                json!("坏蛋 bad badly bad"),
                json!(["bad", "badly", "坏蛋", ""])
            )
            .unwrap(),
            Some(json!("** *** ***** ***"))
        );
        assert_eq!(
            mask(json!("clean"), json!([])).unwrap(),
            Some(json!("clean"))
        );
    }

    #[test]
    fn md5_is_lower_hex_and_upper_uppercases() {
        let md5 = |v| run(Func::Md5(lit(v)));
        assert_eq!(
            md5(json!("")).unwrap(),
            Some(json!("d41d8cd98f00b204e9800998ecf8427e"))
        );
        assert_eq!(
            md5(json!("appkey=a&timestamp=1&random_str=r&key=s")).unwrap(),
            Some(json!("a6a1626368a2dec0888d8bffb47edbcb"))
        );
        assert_eq!(
            run(Func::Upper(lit(json!("ab1")))).unwrap(),
            Some(json!("AB1"))
        );
    }

    /// Compiles `request` as the request template of a `group.sync` route
    /// and evaluates it against `doc`.
    fn request(request: &str, doc: &Value) -> Result<Option<Value>, EvalError> {
        let text = format!(
            "dialect: t\ninbound:\n  prefixes: [/t]\n  routes:\n    - op: group.sync\n      method: POST\n      path: /t\n      request:\n{}\n",
            request
                .lines()
                .map(|l| format!("        {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        let dialect = crate::mapping::compile::compile_file(std::path::Path::new("t.yaml"), &text)
            .unwrap_or_else(|d| panic!("does not compile: {d:?}"));
        let route = dialect.inbound.expect("inbound").routes[0].clone();
        let env = EvalEnv {
            doc,
            codes: None,
            now_ms: 0,
        };
        eval(&route.request, &env)
    }

    #[test]
    fn pairs_lists_members_matching_prefix_and_suffix() {
        let doc = json!({"body": {"userId": "u1", "group[g1]": "one", "group[g2]": "two", "group[x": "no"}});
        let out = request(
            "username: $.body.userId\ngroups:\n  $map: {$pairs: $.body, prefix: \"group[\", suffix: \"]\"}\n  to: {id: \"@.key\", name: \"@.value\"}",
            &doc,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            out,
            json!({"username": "u1", "groups": [{"id": "g1", "name": "one"}, {"id": "g2", "name": "two"}]})
        );
        // Without prefix and suffix: every member, in order.
        let all = request(
            "username: u\ngroups:\n  $map: {$pairs: $.body}\n  to: {id: \"@.key\", name: {$string: \"@.value\"}}",
            &doc,
        )
        .unwrap()
        .unwrap();
        assert_eq!(all["groups"].as_array().unwrap().len(), 4);
        assert_eq!(all["groups"][0], json!({"id": "userId", "name": "u1"}));
        // Not an object: an error naming the function; absent: nothing.
        let err = request("username: u\ngroups: {$pairs: $.body.userId}", &doc).unwrap_err();
        assert!(err.message.contains("$pairs"), "{}", err.message);
        let none = request("username: u\ngroups: {$pairs: $.body.missing}", &doc)
            .unwrap()
            .unwrap();
        assert_eq!(none, json!({"username": "u"}));
    }

    #[test]
    fn fail_stops_with_its_message_only_when_evaluated() {
        let doc = json!({"body": {"n": 2}});
        let template = "username: u\ngroups:\n  $if: {$eq: [$.body.n, 1]}\n  then: []\n  else: {$fail: {$concat: [\"one at a time, not \", $.body.n]}}";
        let err = request(template, &doc).unwrap_err();
        assert_eq!(err.message, "one at a time, not 2");
        let ok = request(template, &json!({"body": {"n": 1}}))
            .unwrap()
            .unwrap();
        assert_eq!(ok, json!({"username": "u", "groups": []}));
    }
}
