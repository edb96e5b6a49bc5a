//! `inbound:`: how a dialect is served to clients — routes, checks, auth
//! schemes and how canonical errors are rendered.

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{error_pattern, ErrorName, OneOrMany, OpName, Template};

/// How to serve the dialect to clients.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inbound {
    /// Path prefixes the dialect owns: unknown paths under them get the
    /// dialect's errors.
    pub prefixes: Option<OneOrMany<String>>,
    /// The content type of responses (default `application/json; charset=utf-8`).
    pub content_type: Option<String>,
    /// How callers authenticate (each route may override it).
    pub auth: Option<Auth>,
    /// How canonical errors are rendered.
    pub errors: Option<DialectErrors>,
    /// Id kinds the dialect's clients can only take as integers: provider
    /// ids that are not are shown as stable integers from the ID map (and
    /// mapped back on the way in).
    pub ids: Option<Ids>,
    /// Checks every route runs before its own.
    pub check: Option<Vec<Check>>,
    /// One entry per endpoint.
    pub routes: Vec<Route>,
}

/// Id kinds and how clients take them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ids {
    /// Group ids.
    pub group: Option<IdType>,
    /// Chatroom ids.
    pub chatroom: Option<IdType>,
    /// Message ids.
    pub message: Option<IdType>,
}

/// How clients take an id.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IdType {
    /// Integers only (provider ids that are not are mapped).
    Integer,
    /// Any text (the default).
    String,
}

/// One endpoint: which requests it matches, the canonical operation they
/// become and how the result is answered.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The metric label `route` (default: the op).
    pub name: Option<String>,
    /// The canonical operation the request becomes.
    pub op: OpName,
    /// The HTTP method, or several.
    pub method: OneOrMany<String>,
    /// The path pattern, or several; `{name}` binds a segment (`$.path.name`).
    pub path: OneOrMany<String>,
    /// Conditions that must all hold (they choose between routes sharing a
    /// method and path).
    pub when: Option<Vec<Condition>>,
    /// Limits checked before the request template runs, in order.
    pub check: Option<Vec<Check>>,
    /// Overrides `inbound.auth` for this route.
    pub auth: Option<Auth>,
    /// The template producing the canonical request (over the input document:
    /// `$.path`, `$.query`, `$.headers`, `$.body`, `$.files`, `$.caller`, `$.config`).
    pub request: Option<Template>,
    /// How the result is answered (default: status 200, no body).
    pub response: Option<Response>,
    /// Overrides of the dialect's error statuses, codes and messages.
    pub errors: Option<RouteErrors>,
    /// A second operation run when the first fails with one of the listed
    /// errors (create-or-update endpoints).
    pub fallback: Option<Fallback>,
}

/// A condition of `when:`: exactly one of `equals` or `present`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// A `$` path into the input document.
    pub path: String,
    /// The value it must equal.
    pub equals: Option<Value>,
    /// Whether it must be present (true) or absent (false).
    pub present: Option<bool>,
}

/// A check: a path, one or more rules (checked in the order of the fields
/// below, the first that fails fails the request), and the error when one
/// fails (`message`, when given, is the message of every rule).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// A `$` path into the input document.
    pub path: String,
    /// The value must be present.
    pub required: Option<bool>,
    /// The value, when present, must have this type.
    pub is: Option<CheckType>,
    /// An array of at most this many items.
    pub max_items: Option<u64>,
    /// An array of at least this many items.
    pub min_items: Option<u64>,
    /// Text of at most this many bytes (UTF-8).
    pub max_bytes: Option<u64>,
    /// Text of at least this many bytes.
    pub min_bytes: Option<u64>,
    /// Text of at most this many characters.
    pub max_chars: Option<u64>,
    /// A number of at most this.
    pub max: Option<i64>,
    /// A number of at least this.
    pub min: Option<i64>,
    /// One of these values.
    pub one_of: Option<Vec<Value>>,
    /// Equal to the value at this `$` path.
    pub same_as: Option<String>,
    /// The error when the rule fails (default `invalid_argument/param`).
    pub error: Option<ErrorName>,
    /// Its message (default: the rule said of the path's last name, e.g.
    /// `userId is required`, `count must be at most 500`).
    pub message: Option<String>,
}

/// A type a check can require.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckType {
    /// A JSON array.
    Array,
    /// A JSON object.
    Object,
    /// An integer (or text of one).
    Integer,
}

/// How a route's result is answered.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// The HTTP status (default 200).
    #[schemars(range(min = 100, max = 599))]
    pub status: Option<u16>,
    /// The body template over `$.result`, `$.request`, `$.input`, `$.config`
    /// (absent or null: no body).
    pub body: Option<Template>,
    /// Response headers: name to template.
    pub headers: Option<BTreeMap<String, Template>>,
}

/// A second operation for a create-or-update endpoint.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fallback {
    /// The errors of the first operation that run this one.
    pub on: OneOrMany<ErrorName>,
    /// The canonical operation.
    pub op: OpName,
    /// Its request template.
    pub request: Option<Template>,
    /// Its response (default: the route's).
    pub response: Option<Response>,
}

/// How callers authenticate: `none`, or a scheme.
#[derive(Debug, JsonSchema)]
#[serde(untagged)]
pub enum Auth {
    /// `none`: no authentication.
    Keyword(NoAuth),
    /// A scheme with its settings.
    Scheme(AuthScheme),
}

/// Reads `none` or a scheme; a scheme's own error (an unknown key, a missing
/// one) is reported rather than "no variant matched".
impl<'de> Deserialize<'de> for Auth {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        if value == "none" {
            return Ok(Auth::Keyword(NoAuth::None));
        }
        AuthScheme::deserialize(value)
            .map(Auth::Scheme)
            .map_err(serde::de::Error::custom)
    }
}

/// The word `none`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NoAuth {
    /// No authentication.
    None,
}

/// An inbound auth scheme, chosen by `scheme:`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(tag = "scheme", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthScheme {
    /// No authentication.
    None {},
    /// `Authorization: Basic` against two frontend params, in constant time.
    Basic {
        /// The param holding the user name.
        username: String,
        /// The param holding the password.
        password: String,
    },
    /// A SHA-1 signature over nonce, secret and timestamp.
    Signature {
        /// The signed text: `{nonce}`, `{secret}` and `{timestamp}` with
        /// their separators (`{nonce}|{secret}|{timestamp}`).
        layout: String,
        /// The param holding the secret.
        secret: String,
        /// The headers carrying each part.
        headers: SignatureHeaders,
        /// Signatures older than this are stale (default: any age).
        max_age_secs: Option<u64>,
        /// Refuse a signature used before (default true).
        reject_replay: Option<bool>,
    },
    /// A user's `Authorization: Basic`, checked as `user.authenticate`.
    UserBasic {
        /// Fold the user name to lower case first (default false).
        lowercase: Option<bool>,
    },
    /// A user's password from the request, checked as `user.authenticate`.
    UserPassword {
        /// `$` path of the user name.
        username: String,
        /// `$` path of the password.
        password: String,
        /// Fold the user name to lower case first (default false).
        lowercase: Option<bool>,
    },
    /// Request values equal to frontend params, in constant time.
    Params {
        /// Param name to `$` path of the request value.
        r#match: BTreeMap<String, String>,
    },
    /// A token imbridge issued to this frontend (`auth.token.issue`).
    IssuedToken {
        /// `$` path of the token.
        token: String,
        /// Text before the token (`Bearer `).
        prefix: Option<String>,
        /// Whose token it is.
        scope: TokenScope,
    },
    /// The first of several schemes whose kind of credentials the request
    /// carries decides (else the first).
    Any {
        /// The schemes, in order (not `any` again).
        of: Vec<Auth>,
    },
}

/// Whose token a scheme takes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// The app's.
    App,
    /// A user's (the user becomes `$.caller`).
    User,
}

/// The headers of an inbound signature: each a header name or several
/// (the first present is used).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureHeaders {
    /// The nonce.
    pub nonce: OneOrMany<String>,
    /// The timestamp (seconds or milliseconds).
    pub timestamp: OneOrMany<String>,
    /// The signature.
    pub sign: OneOrMany<String>,
    /// The app key (checked against the frontend's).
    pub app_key: Option<OneOrMany<String>>,
}

/// How the dialect renders canonical errors. Lookup goes `kind/reason`,
/// then `kind`, then `default`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DialectErrors {
    /// `kind` or `kind/reason` to HTTP status.
    #[serde(default)]
    #[schemars(schema_with = "status_table")]
    pub status: Option<BTreeMap<String, u16>>,
    /// `kind` or `kind/reason` (or `default`) to the dialect's code.
    #[serde(default)]
    #[schemars(schema_with = "code_table")]
    pub codes: Option<BTreeMap<String, Value>>,
    /// `kind` or `kind/reason` to a fixed message.
    #[serde(default)]
    #[schemars(schema_with = "message_table")]
    pub messages: Option<BTreeMap<String, String>>,
    /// The error body template over `$.error` (`kind`, `reason`, `code`,
    /// `message`, `status`), `$.input` and `$.config`.
    pub body: Option<Template>,
}

/// A route's overrides of the dialect's error tables.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteErrors {
    /// `kind` or `kind/reason` to HTTP status.
    #[serde(default)]
    #[schemars(schema_with = "status_table")]
    pub status: Option<BTreeMap<String, u16>>,
    /// `kind` or `kind/reason` (or `default`) to the dialect's code.
    #[serde(default)]
    #[schemars(schema_with = "code_table")]
    pub codes: Option<BTreeMap<String, Value>>,
    /// `kind` or `kind/reason` to a fixed message.
    #[serde(default)]
    #[schemars(schema_with = "message_table")]
    pub messages: Option<BTreeMap<String, String>>,
}

/// An object keyed by error names (and `default` when `with_default`)
/// whose values have the schema `values`.
fn error_table(values: Value, with_default: bool) -> Schema {
    let names = if with_default {
        json!({"anyOf": [{"const": "default"}, {"pattern": error_pattern()}]})
    } else {
        json!({"pattern": error_pattern()})
    };
    json!({"type": "object", "propertyNames": names, "additionalProperties": values})
        .try_into()
        .expect("a schema")
}

fn status_table(_: &mut SchemaGenerator) -> Schema {
    error_table(
        json!({"type": "integer", "minimum": 100, "maximum": 599}),
        false,
    )
}

fn code_table(_: &mut SchemaGenerator) -> Schema {
    error_table(json!({}), true)
}

fn message_table(_: &mut SchemaGenerator) -> Schema {
    error_table(json!({"type": "string"}), false)
}
