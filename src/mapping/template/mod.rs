//! Structural templates: JSON-shaped trees whose leaves are literals, path
//! references or functions. Compiled once from YAML (`compile`), evaluated per
//! request against a JSON document (`eval`). Types survive: a number stays a
//! number unless a function converts it.

pub mod compile;
pub mod eval;
pub mod shape;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::path::Path;

pub use compile::{compile, TemplateContext};
pub use eval::{eval, eval_item, eval_ref, EvalEnv, EvalError};
pub use shape::{DocShape, Shape};

/// A document templates read: a JSON object of these members, moved in.
/// (`json!` would copy each value by serializing it again.)
pub fn document<const N: usize>(members: [(&str, Value); N]) -> Value {
    Value::Object(
        members
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// A compiled template.
#[derive(Debug, Clone)]
pub enum Template {
    /// A constant value.
    Literal(Value),
    /// A path reference.
    Path(Path),
    /// An object; members that evaluate to nothing are left out.
    Object(Vec<(String, Template)>),
    /// An array; elements that evaluate to nothing are left out.
    Array(Vec<Template>),
    /// A function call.
    Call(Box<Func>),
}

/// Scalar conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// To an integer (`$int`).
    Int,
    /// To a float (`$float`).
    Float,
    /// To a string (`$string`); objects and arrays become JSON text.
    String,
    /// To a boolean (`$bool`): true/false, "true"/"false", 1/0, "1"/"0".
    Bool,
    /// Parses JSON text (`$json`).
    Json,
    /// Wraps a non-array in an array (`$array`).
    Array,
}

/// A lookup table (`$enum`): keys are the string form of the input value.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Name, for messages.
    pub name: String,
    /// Entries.
    pub entries: HashMap<String, Value>,
}

/// A time format (`$time`, `$parse_time`), its pattern parsed at load.
#[derive(Debug, Clone)]
pub struct TimeFormat {
    /// strftime pattern, for messages.
    pub pattern: String,
    /// The pattern, parsed.
    pub items: Vec<chrono::format::Item<'static>>,
    /// Offset from UTC in seconds.
    pub offset_secs: i32,
}

impl TimeFormat {
    /// Parses a strftime `pattern`; says what is wrong with a bad one.
    pub fn new(pattern: &str, offset_secs: i32) -> Result<Self, String> {
        let items = chrono::format::StrftimeItems::new(pattern)
            .parse_to_owned()
            .map_err(|e| format!("bad strftime pattern `{pattern}`: {e}"))?;
        Ok(TimeFormat {
            pattern: pattern.to_string(),
            items,
            offset_secs,
        })
    }
}

/// The functions a template can call.
#[derive(Debug, Clone)]
pub enum Func {
    /// First argument that is present and not null.
    Default(Vec<Template>),
    /// A scalar conversion, with a fallback when the value does not convert.
    Convert(Conversion, Template, Option<Template>),
    /// Each element of an array through a template (scope gets the element).
    Map {
        /// The array.
        source: Template,
        /// The template per element.
        to: Template,
    },
    /// An array of arrays made one array.
    Flatten(Template),
    /// A table lookup.
    Enum {
        /// The key.
        value: Template,
        /// The table.
        table: Arc<Table>,
        /// Used when the key is not in the table (else an error).
        default: Option<Template>,
    },
    /// The dialect's error code for a canonical error object.
    ErrorCode(Template),
    /// Joins an array of scalars with a separator.
    Join(Template, String),
    /// Splits a string at a separator (empty string gives `[]`).
    Split(Template, String),
    /// Concatenates scalars as strings (missing parts are skipped).
    Concat(Vec<Template>),
    /// Formats milliseconds since the epoch.
    Time(Template, Arc<TimeFormat>),
    /// Parses a formatted time into milliseconds since the epoch.
    ParseTime(Template, Arc<TimeFormat>),
    /// Length of an array, string (in characters) or object.
    Len(Template),
    /// An object built from an array: one member per element.
    Entries {
        /// The array.
        source: Template,
        /// Member name per element.
        key: Template,
        /// Member value per element.
        value: Template,
    },
    /// `then` when the condition is truthy, else `else`.
    If {
        /// The condition.
        cond: Template,
        /// Value when truthy.
        then: Template,
        /// Value when falsy (nothing when absent).
        otherwise: Option<Template>,
    },
    /// Whether two values are equal.
    Eq(Template, Template),
    /// Logical not of truthiness.
    Not(Template),
    /// Sum of numbers.
    Add(Vec<Template>),
    /// Product of numbers.
    Mul(Vec<Template>),
    /// Quotient of two numbers: floored for integers.
    Div(Template, Template),
    /// Text in lower case (each element of an array of strings).
    Lower(Template),
    /// Text in upper case.
    Upper(Template),
    /// The text with every occurrence of each word (an array) replaced by
    /// as many `*` as it has characters (sensitive words imbridge applies).
    Mask(Template, Template),
    /// MD5 of the text, as lower-case hex (vendors' signatures made by the
    /// app server: JMessage's web SDK auth payload).
    Md5(Template),
    /// Percent-encodes text for a URL path segment or query value.
    Escape(Template),
    /// A stable UUID (v5) of the text of a value.
    Uuid(Template),
    /// The first element of an array (nothing when empty).
    First(Template),
    /// Objects merged left to right (later members win).
    Merge(Vec<Template>),
    /// A named template of the file applied to a value (its `@`).
    Use(Arc<Template>, Template),
    /// The current time in milliseconds.
    Now,
    /// The members of an object as `[{key, value}]`, in order; with a
    /// `prefix` and/or `suffix`, only members whose name has them, cut off
    /// (form fields named `group[ID]`).
    Pairs {
        /// The object.
        source: Template,
        /// Name prefix to require and cut.
        prefix: String,
        /// Name suffix to require and cut.
        suffix: String,
    },
    /// Stops the evaluation with this message (an `invalid_argument` error
    /// of the request), for inputs a check cannot express.
    Fail(Template),
}

/// Error code tables a template may consult (`$error_code`).
pub trait CodeTable: Send + Sync {
    /// The code for a canonical error object (`{kind, reason}`).
    fn code_for(&self, error: &Value) -> Option<Value>;
}
