//! `outbound:`: how canonical operations become calls to the vendor's
//! server API — auth, error rules, per-operation steps, what it keeps.

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ErrorName, OneOrMany, Template};

/// How to call this vendor as a provider.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outbound {
    /// How calls are authenticated (default none).
    pub auth: Option<OutboundAuth>,
    /// How the vendor's answers say they failed, and which canonical error
    /// each failure is.
    pub errors: Option<VendorErrors>,
    /// Per canonical operation, the calls that run it; operations not
    /// listed are `unsupported` on this provider.
    #[serde(default)]
    #[schemars(schema_with = "ops")]
    pub ops: Option<BTreeMap<String, Op>>,
    /// Per entity, the canonical fields the vendor stores and gives back
    /// (default: everything; an entity left out keeps nothing).
    pub keeps: Option<Keeps>,
    /// Why the vendor cannot run an operation: one line each, printed under
    /// the compatibility matrix.
    #[serde(default)]
    #[schemars(schema_with = "unsupported")]
    pub unsupported: Option<BTreeMap<String, String>>,
    /// Operations imbridge runs itself for this vendor, on its first
    /// embedded provider (media for vendors without a media API).
    #[serde(default)]
    #[schemars(schema_with = "hosted")]
    pub hosted: Option<OneOrMany<String>>,
}

fn op_keys(values: Schema) -> Schema {
    let names: Vec<&str> = crate::canonical::OpName::ALL
        .iter()
        .map(|o| o.as_str())
        .collect();
    json!({
        "type": "object",
        "propertyNames": {"enum": names},
        "additionalProperties": values,
    })
    .try_into()
    .expect("a schema")
}

fn ops(generator: &mut SchemaGenerator) -> Schema {
    op_keys(generator.subschema_for::<Op>())
}

fn hosted(_: &mut SchemaGenerator) -> Schema {
    let name = super::op_name_schema();
    json!({"anyOf": [name, {"type": "array", "items": name}]})
        .try_into()
        .expect("a schema")
}

fn unsupported(generator: &mut SchemaGenerator) -> Schema {
    op_keys(generator.subschema_for::<String>())
}

/// How vendor calls are authenticated, chosen by `scheme:`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(tag = "scheme", rename_all = "snake_case", deny_unknown_fields)]
pub enum OutboundAuth {
    /// No authentication.
    None {},
    /// `Authorization: Basic` from two provider params.
    Basic {
        /// The param holding the user name.
        username: String,
        /// The param holding the password.
        password: String,
    },
    /// A SHA-1 signature in headers, new for every attempt.
    Signature {
        /// The signed text: `{nonce}`, `{secret}` and `{timestamp}` with
        /// their separators.
        layout: String,
        /// The param holding the secret.
        secret: String,
        /// The header carrying each part.
        headers: OutboundSignatureHeaders,
        /// The timestamp's unit (default millis).
        timestamp: Option<TimestampUnit>,
    },
    /// A token fetched by a call, cached until it expires, sent in a header.
    Token {
        /// The call that fetches a token.
        fetch: Box<HttpStep>,
        /// The token in the fetch's answer (`$.last.body.access_token`).
        token: Template,
        /// Its lifetime in seconds in the answer.
        expires_in: Option<Template>,
        /// The lifetime when the answer has none (default 3600).
        default_ttl_secs: Option<u64>,
        /// Fetch a new one this long before it expires (default 60).
        margin_secs: Option<u64>,
        /// The header carrying it (default `authorization`).
        header: Option<String>,
        /// The text before it (default `Bearer `).
        prefix: Option<String>,
        /// Statuses that mean the token is no longer valid (default 401):
        /// fetch a new one and retry once.
        invalid_status: Option<OneOrMany<u16>>,
    },
}

/// The unit of a signature's timestamp.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TimestampUnit {
    /// Milliseconds since the epoch.
    Millis,
    /// Seconds since the epoch.
    Seconds,
}

/// The header names of an outbound signature.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutboundSignatureHeaders {
    /// The nonce.
    pub nonce: String,
    /// The timestamp.
    pub timestamp: String,
    /// The signature.
    pub sign: String,
    /// The app key (the `app_key` param).
    pub app_key: Option<String>,
}

/// How the vendor's answers say they failed. Templates see `$.status`,
/// `$.body` and `$.headers` of the answer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VendorErrors {
    /// Truthy when a 2xx answer is an error (`{$not: {$eq: [$.body.code, 0]}}`).
    pub failed: Option<Template>,
    /// The vendor's error code in the answer.
    pub code: Option<Template>,
    /// The vendor's message in the answer.
    pub message: Option<Template>,
    /// Which canonical error each failure is; first match wins, unmatched
    /// failures are `upstream_error`.
    pub rules: Option<Vec<ErrorRule>>,
}

/// A vendor failure to a canonical error: matched by status and/or code;
/// exactly one of `error` or `ok`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorRule {
    /// The HTTP status, or several.
    pub status: Option<OneOrMany<u16>>,
    /// The vendor's code, or several.
    pub code: Option<Value>,
    /// The canonical error it is.
    pub error: Option<ErrorName>,
    /// Not an error after all.
    pub ok: Option<bool>,
}

/// How one canonical operation runs on the vendor.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Op {
    /// Vendor calls and store steps, in order.
    pub steps: Vec<Step>,
    /// The canonical result, from `$.steps.NAME` (checked against the
    /// operation's result type).
    pub result: Option<Template>,
    /// Before any call: an error object (`{kind, reason, message}`) fails the op.
    pub refuse: Option<Template>,
    /// After the steps: an error object fails the op.
    pub fail: Option<Template>,
    /// Error rules of this operation, tried before the dialect's.
    pub errors: Option<Vec<ErrorRule>>,
    /// A condition of the ✓ in the compatibility matrix, one line.
    pub note: Option<String>,
    /// false: a list operation that lists only what imbridge's records hold
    /// (default true).
    pub complete: Option<bool>,
}

/// A step: a vendor call, or a read or write of imbridge's records.
#[derive(Debug, JsonSchema)]
#[serde(untagged)]
pub enum Step {
    /// `store: ACTION`: imbridge's records.
    Store(StoreStep),
    /// `method:` and `path:`: a vendor call.
    Http(HttpStep),
}

/// A step with `store:` is a store step, any other a vendor call; the
/// chosen kind's own error is reported.
impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let step = if value.get("store").is_some() {
            StoreStep::deserialize(value).map(Step::Store)
        } else {
            HttpStep::deserialize(value).map(Step::Http)
        };
        step.map_err(serde::de::Error::custom)
    }
}

/// A vendor call. Templates see `$.request`, `$.config`, `$.params`,
/// `$.steps.NAME`, `$.last`, `$.fresh_id`, `$.provider`, and `@` in a
/// `foreach`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    /// Later templates see its answer as `$.steps.NAME`.
    pub name: Option<String>,
    /// Skipped when falsy.
    pub when: Option<Template>,
    /// One call per element (`@`); the answer is the list of answers.
    pub foreach: Option<Template>,
    /// The HTTP method.
    pub method: String,
    /// Text with `{$.path}` holes (percent-encoded), or a template giving it.
    pub path: Template,
    /// Query parameters: an object template.
    pub query: Option<Template>,
    /// Headers: name to template.
    pub headers: Option<BTreeMap<String, Template>>,
    /// A JSON body.
    pub body: Option<Template>,
    /// A form-urlencoded body.
    pub form: Option<Template>,
    /// A multipart body.
    pub multipart: Option<Template>,
    /// Retried on timeouts (default: GET, PUT and DELETE are).
    pub idempotent: Option<bool>,
    /// Error rules of this call, tried before the operation's.
    pub errors: Option<Vec<ErrorRule>>,
}

/// A read or write of imbridge's records (JSON values by key, grouped by
/// kind, per provider).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreStep {
    /// Later templates see its answer as `$.steps.NAME`.
    pub name: Option<String>,
    /// Skipped when falsy.
    pub when: Option<Template>,
    /// One step per element (`@`).
    pub foreach: Option<Template>,
    /// Rules turning answers into errors (`{status: 404, error: ...}`).
    pub errors: Option<Vec<ErrorRule>>,
    /// The action.
    pub store: StoreAction,
    /// The records' kind: a lower-case name (`group`, `user_setting`).
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub kind: String,
    /// The record's key (get, put, merge, delete).
    pub key: Option<Template>,
    /// The value (put, merge).
    pub value: Option<Template>,
    /// Only keys starting with this (clear, list).
    pub prefix: Option<Template>,
    /// The first key (list).
    pub start: Option<Template>,
    /// How many (list).
    pub count: Option<Template>,
    /// By key or by first write (list; default key).
    pub order: Option<StoreOrder>,
    /// Descending (list; default false).
    pub desc: Option<bool>,
    /// The upload to host (host).
    pub upload: Option<Template>,
}

/// What a store step does.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StoreAction {
    /// Read a record: 200 and its value, or 404.
    Get,
    /// Write a record (replaced).
    Put,
    /// Merge an object into a record (null members remove), made when absent.
    Merge,
    /// Remove a record: 200 and the old value, or 404.
    Delete,
    /// Remove every record of the kind (whose key starts with `prefix`).
    Clear,
    /// List records: `{total, items: [{key, value, created}]}`.
    List,
    /// Keep an uploaded file and answer its URL.
    Host,
}

/// The order of a store list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StoreOrder {
    /// By key.
    Key,
    /// By first write.
    Created,
}

/// Per entity, the canonical fields the vendor keeps.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Keeps {
    /// A user's profile fields.
    #[serde(default)]
    #[schemars(schema_with = "user_fields")]
    pub user: Option<OneOrMany<String>>,
    /// A friend's fields.
    #[serde(default)]
    #[schemars(schema_with = "friend_fields")]
    pub friend: Option<OneOrMany<String>>,
    /// A group's fields.
    #[serde(default)]
    #[schemars(schema_with = "group_fields")]
    pub group: Option<OneOrMany<String>>,
    /// A group member's fields.
    #[serde(default)]
    #[schemars(schema_with = "member_fields")]
    pub member: Option<OneOrMany<String>>,
    /// A chatroom's fields.
    #[serde(default)]
    #[schemars(schema_with = "chatroom_fields")]
    pub chatroom: Option<OneOrMany<String>>,
    /// A chatroom member's fields.
    #[serde(default)]
    #[schemars(schema_with = "room_member_fields")]
    pub room_member: Option<OneOrMany<String>>,
}

fn fields_of(entity: crate::canonical::fields::Entity) -> Schema {
    let names = entity.fields();
    json!({"anyOf": [
        {"type": "string", "enum": names},
        {"type": "array", "items": {"type": "string", "enum": names}},
    ]})
    .try_into()
    .expect("a schema")
}

macro_rules! entity_fields {
    ($($name:ident: $entity:ident),*) => {$(
        fn $name(_: &mut SchemaGenerator) -> Schema {
            fields_of(crate::canonical::fields::Entity::$entity)
        }
    )*};
}

entity_fields!(
    user_fields: User,
    friend_fields: Friend,
    group_fields: Group,
    member_fields: Member,
    chatroom_fields: Chatroom,
    room_member_fields: RoomMember
);
