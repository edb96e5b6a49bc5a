//! The mapping file format as typed, documented structs: the one description
//! of which keys a mapping file has, what each holds and what it means.
//! From it come `imbridge schema` (a JSON Schema for editors), the key lists
//! the loader accepts (its unknown-key diagnostics) and a load-time check
//! that a file has the format's shape (E005). The loader then reads the
//! marked YAML itself, keeping line and column for every diagnostic, and
//! checks what a schema cannot: paths, templates against the canonical
//! model, params, collisions. Templates are free-form here (any YAML value);
//! their language is described in docs/mappings.md.

mod inbound;
mod outbound;
mod reference;

pub use inbound::*;
pub use outbound::*;

use std::collections::BTreeMap;

use marked_yaml::Node;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::diag::Diagnostics;

/// A mapping file: one vendor API (a dialect) — how to serve it to clients
/// (`inbound`) and how to call the vendor as a provider (`outbound`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    /// The dialect's name; frontends and providers name it in the config
    /// (`dialect = "..."`).
    pub dialect: String,
    /// Free text about the dialect.
    pub description: Option<String>,
    /// Values a frontend or provider of this dialect configures
    /// (`[frontends.X.params]`, `[providers.X.params]`); templates read them
    /// as `$.config.NAME` (secret ones only outbound, as `$.params.NAME`).
    #[serde(default)]
    pub params: BTreeMap<String, Param>,
    /// Named lookup tables for `$enum: x, table: NAME`.
    #[serde(default)]
    pub tables: BTreeMap<String, Map<String, Value>>,
    /// Named time formats for `$time` and `$parse_time`.
    #[serde(default)]
    pub time_formats: BTreeMap<String, TimeFormat>,
    /// Named partial templates for `$use: NAME`; inside, `@` is the value
    /// they are applied to. Each may use those above it.
    #[serde(default)]
    pub templates: BTreeMap<String, Template>,
    /// How to serve the dialect to clients.
    pub inbound: Option<Inbound>,
    /// How to call this vendor as a provider (`kind = "vendor"`).
    pub outbound: Option<Outbound>,
}

/// A template: JSON-shaped YAML whose leaves are literals, paths (`$.x`,
/// `@.x`) or functions (`{$name: ...}`); see docs/mappings.md, Templates.
pub type Template = Value;

/// A value a frontend or provider of the dialect configures.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Param {
    /// Whether the config must set it (default true; a `default` counts).
    pub required: Option<bool>,
    /// A secret: never visible to response templates, settable from the
    /// environment only (default false).
    pub secret: Option<bool>,
    /// The value when the config sets none.
    pub default: Option<Scalar>,
    /// What it is, for people.
    pub description: Option<String>,
}

/// A named time format.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeFormat {
    /// A chrono strftime pattern: `%Y-%m-%d %H:%M:%S`.
    pub format: String,
    /// The zone offset of the text, `+08:00` or `-05:30` (default UTC).
    #[schemars(regex(pattern = r"^[+-]\d{1,2}:\d{2}$"))]
    pub offset: Option<String>,
}

/// One YAML scalar: text, a number or true/false.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Scalar {
    /// Text.
    Text(String),
    /// A number.
    Number(serde_json::Number),
    /// true or false.
    Bool(bool),
}

/// One value, or a list of them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// A single value.
    One(T),
    /// A list.
    Many(Vec<T>),
}

/// A canonical error as `kind` or `kind/reason` (`not_found/user`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct ErrorName(#[schemars(schema_with = "error_name")] pub String);

/// A canonical operation's name (`user.get`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct OpName(#[schemars(schema_with = "op_name")] pub String);

fn op_name(_: &mut SchemaGenerator) -> Schema {
    op_name_schema().try_into().expect("a schema")
}

/// The schema of an operation's name: one of the canonical operations.
fn op_name_schema() -> Value {
    let names: Vec<&str> = crate::canonical::OpName::ALL
        .iter()
        .map(|o| o.as_str())
        .collect();
    json!({"type": "string", "enum": names})
}

fn error_name(_: &mut SchemaGenerator) -> Schema {
    json!({"type": "string", "pattern": error_pattern()})
        .try_into()
        .expect("a schema")
}

/// The regular expression of `kind` and `kind/reason`.
fn error_pattern() -> String {
    use crate::canonical::{ErrorKind, Reason};
    let kinds = ErrorKind::ALL.map(ErrorKind::as_str).join("|");
    let reasons = Reason::ALL.map(Reason::as_str).join("|");
    format!("^({kinds})(/({reasons}))?$")
}

/// The JSON Schema of mapping files (draft-07, which YAML language servers
/// read), with the canonical operations and error names spelled out.
pub fn schema() -> Value {
    let mut schema = settings()
        .into_generator()
        .into_root_schema_for::<MappingFile>()
        .to_value();
    if let Some(root) = schema.as_object_mut() {
        root.insert("title".into(), "imbridge mapping file".into());
    }
    schema
}

/// Draft-07, where an optional key is its value's schema (not "or null",
/// as schemars writes an `Option`): a validator then reports a wrong value
/// where it is, not as "no alternative matched" at its parent.
fn settings() -> schemars::generate::SchemaSettings {
    let mut settings = schemars::generate::SchemaSettings::draft07();
    settings
        .transforms
        .push(Box::new(schemars::transform::RecursiveTransform(
            |schema: &mut Schema| {
                if let Some(object) = schema.as_object_mut() {
                    drop_null(object);
                }
            },
        )));
    settings
}

/// Removes the `null` alternative of one schema object.
fn drop_null(object: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            object.insert("type".into(), only);
        }
    }
    let null = json!({"type": "null"});
    if let Some(Value::Array(alternatives)) = object.get("anyOf") {
        if alternatives.len() == 2 && alternatives.contains(&null) {
            let other = alternatives.iter().find(|a| **a != null).cloned();
            object.remove("anyOf");
            if let Some(Value::Object(other)) = other {
                for (k, v) in other {
                    object.entry(k).or_insert(v);
                }
            }
        }
    }
}

/// The reference section of docs/mappings.md: every type of the format
/// with its keys and their doc comments, as Markdown.
pub fn reference() -> String {
    reference::markdown(&schema())
}

/// The keys an object of type `T` may have, in declaration order (for an
/// enum of objects, every variant's keys): the loader's unknown-key lists.
pub fn keys<T: JsonSchema>() -> Vec<String> {
    let schema = settings()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    let mut out = Vec::new();
    collect_keys(&schema, &schema, &mut out);
    out
}

fn collect_keys(root: &Value, node: &Value, out: &mut Vec<String>) {
    if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or_default();
        if let Some(target) = root.get("definitions").and_then(|d| d.get(name)) {
            collect_keys(root, target, out);
        }
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for key in props.keys() {
            if !out.contains(key) {
                out.push(key.clone());
            }
        }
    }
    for alternatives in ["oneOf", "anyOf"] {
        for alt in node
            .get(alternatives)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            collect_keys(root, alt, out);
        }
    }
}

/// The keys of a spec type (`keys::<T>()`), computed once per type.
macro_rules! key_list {
    ($ty:ty) => {{
        static KEYS: std::sync::LazyLock<Vec<String>> =
            std::sync::LazyLock::new($crate::mapping::spec::keys::<$ty>);
        KEYS.as_slice()
    }};
}
pub(crate) use key_list;

/// Checks that a parsed file has the format's shape, recording the first
/// mismatch (E005) at the line and column of the value at fault. Run after
/// the loader when it found nothing: it only adds what the loader's own
/// reading let through.
pub fn check(root: &Node, d: &mut Diagnostics) {
    let value = super::yaml::to_json(root);
    let Err(err) = serde_path_to_error::deserialize::<_, MappingFile>(value) else {
        return;
    };
    let path = err.path().to_string();
    let node = find(root, err.path());
    d.error(
        node.span(),
        "E005",
        format!(
            "`{path}` does not match the mapping file format: {}",
            err.inner()
        ),
    )
    .hint("`imbridge schema` prints the format as a JSON Schema; see docs/mappings.md");
}

/// The deepest node along `path` that the file has.
fn find<'n>(root: &'n Node, path: &serde_path_to_error::Path) -> &'n Node {
    use serde_path_to_error::Segment;
    let mut node = root;
    for segment in path.iter() {
        let next = match (segment, node) {
            (Segment::Map { key }, Node::Mapping(m)) => m.get(key.as_str()),
            (Segment::Seq { index }, Node::Sequence(s)) => s.get(*index),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    node
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::mapping::compile::compile_file;

    /// What the loader's own reading lets through, the spec refuses at
    /// load, at the line of the value at fault: a key of another scheme.
    #[test]
    fn a_key_of_another_auth_scheme_is_refused_at_its_line() {
        let text = "dialect: t\nparams:\n  u: {}\ninbound:\n  auth: {scheme: basic, username: u, password: u, token: $.query.t}\n  routes: []\n";
        let diags = compile_file(Path::new("t.yaml"), text).expect_err("refused");
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].is("E005", 5), "{}", diags[0]);
        assert!(diags[0].message.contains("token"), "{}", diags[0]);
    }

    /// Every key list the loader reads by comes from a spec type.
    #[test]
    fn key_lists_are_the_spec_types_keys() {
        let route = super::keys::<super::Route>();
        assert_eq!(
            route.join(", "),
            "name, op, method, path, when, check, auth, request, response, errors, fallback"
        );
        assert!(super::keys::<super::AuthScheme>().contains(&"scheme".to_string()));
    }
}
