//! Copying one item of a kind (a user, a user's friends, a group, a group's
//! members, ...) from the source to the target: made when missing, compared
//! and brought up to date when present, never made twice.

pub(super) mod groups;
pub(super) mod messages;
pub(super) mod rooms;
pub(super) mod social;
mod users;

pub use groups::{group, members};
pub use messages::{messages, Conversation};
pub use rooms::{room, room_members};
pub use social::{blacklist, friends};
pub use users::user;

use std::collections::BTreeMap;

use serde_json::Value;

use super::passwords::Passwords;
use super::plan::Carried;
use super::sides::Side;
use crate::canonical::{Error, ErrorKind};
use crate::store::migration::{RunKey, Tally};
use crate::store::Store;

/// What copying needs.
pub struct Cx<'a> {
    /// Read from.
    pub source: &'a Side,
    /// Written to.
    pub target: &'a Side,
    /// imbridge's store (id pairs, pending passwords).
    pub store: &'a Store,
    /// Which migration.
    pub key: &'a RunKey,
    /// The fields that travel.
    pub carried: &'a Carried,
    /// The fields both sides keep and read back.
    pub compared: &'a Carried,
    /// Passwords for users made on the target.
    pub passwords: &'a Passwords,
}

/// What happened to one entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// Made on the target.
    Copied,
    /// Existed and was brought up to date.
    Updated,
    /// Existed as it is on the source.
    Skipped,
}

/// An error that stops the whole run (the provider is down beyond the
/// back-off, or refuses imbridge's credentials): a rerun resumes.
#[derive(Debug, Clone, PartialEq)]
pub struct Fatal(pub Error);

/// Whether an error stops the run rather than fail one entity.
fn fatal(e: &Error) -> bool {
    matches!(
        e.kind,
        ErrorKind::UpstreamUnavailable | ErrorKind::Unauthenticated
    )
}

/// The outcome of copying one item: counts and the entities that failed.
#[derive(Debug, Default)]
pub struct Step {
    /// Counts.
    pub tally: Tally,
    /// Entities that failed, with why.
    pub failures: Vec<(String, Error)>,
}

impl Step {
    /// Adds one entity's outcome; a fatal error stops the item.
    pub fn add(&mut self, entity: String, result: Result<Done, Error>) -> Result<(), Fatal> {
        match result {
            Ok(done) => match done {
                Done::Copied => self.tally.copied += 1,
                Done::Updated => self.tally.updated += 1,
                Done::Skipped => self.tally.skipped += 1,
            },
            Err(e) if fatal(&e) => return Err(Fatal(e)),
            Err(e) => {
                self.tally.failed += 1;
                self.failures.push((entity, e));
            }
        }
        Ok(())
    }

    /// The step of a single entity.
    pub fn one(entity: String, result: Result<Done, Error>) -> Result<Step, Fatal> {
        let mut step = Step::default();
        step.add(entity, result)?;
        Ok(step)
    }
}

/// Whether two field values are the same, an absent value being the same as
/// an empty one (`""`, `0`, `false`, `{}`, `[]`): providers fill defaults.
pub fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    fn empty(v: Option<&Value>) -> bool {
        match v {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(Value::Bool(b)) => !b,
            Some(Value::Number(n)) => n.as_f64() == Some(0.0),
            Some(Value::Array(a)) => a.is_empty(),
            Some(Value::Object(o)) => o.is_empty(),
        }
    }
    match (a, b) {
        (Some(x), Some(y)) if x == y => true,
        _ => empty(a) && empty(b),
    }
}

/// The fields of `fields` whose values differ between two records (as
/// JSON objects), with the source's value: what to write to bring the
/// target up to date. Fields the source leaves empty are not written.
pub fn changes(source: &Value, target: &Value, fields: &[&str]) -> BTreeMap<String, Value> {
    fields
        .iter()
        .filter_map(|f| {
            let (s, t) = (source.get(*f), target.get(*f));
            match s {
                Some(v) if !same(s, None) && !same(s, t) => Some((f.to_string(), v.clone())),
                _ => None,
            }
        })
        .collect()
}

/// `fields` of a record (a JSON object) that are set.
pub fn only(record: &Value, fields: &[&str]) -> serde_json::Map<String, Value> {
    fields
        .iter()
        .filter_map(|f| {
            record
                .get(*f)
                .filter(|v| !v.is_null())
                .map(|v| (f.to_string(), v.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn empty_values_are_absent_and_only_set_source_fields_change() {
        assert!(same(None, Some(&json!(""))));
        assert!(same(Some(&json!(0)), None));
        assert!(!same(Some(&json!("a")), None));
        let src = json!({"nickname": "Tom", "gender": 1, "region": null, "avatar": ""});
        let tgt = json!({"nickname": "Tim", "gender": 1, "region": "x"});
        let c = changes(&src, &tgt, &["nickname", "gender", "region", "avatar"]);
        assert_eq!(
            c.into_iter().collect::<Vec<_>>(),
            [("nickname".to_string(), json!("Tom"))]
        );
        assert_eq!(
            Value::Object(only(&src, &["nickname", "region", "avatar"])),
            json!({"nickname": "Tom", "avatar": ""})
        );
    }
}
