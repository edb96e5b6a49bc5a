//! Compiled outbound halves: how a canonical operation becomes one or more
//! calls to a vendor's server API, how the vendor's answers become a canonical
//! result, how its errors map to canonical errors, and how calls authenticate.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use http::Method;
use serde_json::Value;

use crate::auth::signature::Layout;
use crate::canonical::fields::Keeps;
use crate::canonical::{ErrorKind, OpName, Reason};
use crate::mapping::template::Template;

/// The outbound half of a dialect.
#[derive(Debug)]
pub struct Outbound {
    /// How calls authenticate.
    pub auth: OutboundAuth,
    /// How vendor errors are recognized and mapped.
    pub errors: VendorErrors,
    /// Plans per operation; operations not here are unsupported.
    pub ops: HashMap<OpName, OpPlan>,
    /// The fields of each entity the vendor keeps (`keeps:`); every field
    /// when the file does not say.
    pub keeps: Keeps,
    /// Why the vendor cannot run an operation it does not list (one line
    /// each, for the compatibility matrix).
    pub unsupported: BTreeMap<OpName, String>,
    /// Operations the vendor's server API lacks that imbridge runs itself,
    /// on its embedded provider (`hosted:`; media for vendors without a
    /// media API), when one is configured.
    pub hosted: BTreeSet<OpName>,
}

/// Outbound auth schemes.
#[derive(Debug)]
pub enum OutboundAuth {
    /// No credentials.
    None,
    /// `Authorization: Basic base64(user:password)` from two params.
    Basic {
        /// Param with the user (app key).
        username: String,
        /// Param with the password (master secret).
        password: String,
    },
    /// Signature headers per request with a fresh nonce.
    Signature(OutboundSignature),
    /// A token fetched from a token endpoint and cached.
    Token(Box<TokenAuth>),
}

impl OutboundAuth {
    /// The headers that carry credentials in calls (to redact them).
    pub fn credential_headers(&self) -> Vec<&str> {
        match self {
            OutboundAuth::None => Vec::new(),
            OutboundAuth::Basic { .. } => vec!["authorization"],
            OutboundAuth::Signature(s) => vec![s.sign.as_str()],
            OutboundAuth::Token(t) => vec![t.header.as_str()],
        }
    }
}

/// Per-request signature headers.
#[derive(Debug)]
pub struct OutboundSignature {
    /// Order and separators of the signed string.
    pub layout: Layout,
    /// Param with the secret.
    pub secret: String,
    /// Header carrying the nonce.
    pub nonce: String,
    /// Header carrying the timestamp.
    pub timestamp: String,
    /// Header carrying the signature.
    pub sign: String,
    /// Header carrying the app key (param `app_key`), if any.
    pub app_key: Option<String>,
    /// Timestamp in milliseconds (else seconds).
    pub millis: bool,
}

/// Token auth (Easemob `client_credentials`).
#[derive(Debug)]
pub struct TokenAuth {
    /// The call that fetches a token.
    pub fetch: Step,
    /// Where the token is in its answer (`$.last.body.access_token`).
    pub token: Template,
    /// Where its lifetime in seconds is; none means `default_ttl`.
    pub expires_in: Option<Template>,
    /// Lifetime when the answer does not say (or says 0).
    pub default_ttl: Duration,
    /// Subtracted from the lifetime.
    pub margin: Duration,
    /// Header the token goes into.
    pub header: String,
    /// Text before the token (`Bearer `).
    pub prefix: String,
    /// Statuses meaning "token invalid": drop it, refetch once, retry once.
    pub invalid_status: Vec<u16>,
}

/// How to tell a vendor error from a success, and what it means.
#[derive(Debug, Default)]
pub struct VendorErrors {
    /// Holds on answers that are errors despite a 2xx status (`{code: 1004}`).
    pub failed: Option<Template>,
    /// The vendor's error code in an answer.
    pub code: Option<Template>,
    /// The vendor's error message in an answer.
    pub message: Option<Template>,
    /// Rules, first match wins; unmatched errors are `upstream_error`.
    pub rules: Vec<ErrorRule>,
}

/// A vendor error rule.
#[derive(Debug, Clone)]
pub struct ErrorRule {
    /// Matches these HTTP statuses (any when empty).
    pub status: Vec<u16>,
    /// Matches these vendor codes (any when empty).
    pub code: Vec<Value>,
    /// What it means; none means "not an error after all" (e.g. a delete of
    /// something already gone).
    pub error: Option<(ErrorKind, Option<Reason>)>,
}

/// How one operation runs.
#[derive(Debug)]
pub struct OpPlan {
    /// The calls, in order.
    pub steps: Vec<Step>,
    /// The canonical result, over the answers; `{}` when absent.
    pub result: Option<Template>,
    /// Evaluated before any step (over the request, config and params):
    /// when it gives an error object (`{kind, reason, message}`), the
    /// operation fails with it and no call is made (a request the vendor
    /// cannot carry, e.g. a field it has no place for).
    pub refuse: Option<Template>,
    /// Evaluated after the steps: when it gives an error object
    /// (`{kind, reason, message}`), the operation fails with it.
    pub fail: Option<Template>,
    /// Error rules tried before the dialect's.
    pub errors: Vec<ErrorRule>,
    /// What a user of the operation on this vendor should know (a
    /// condition, what imbridge keeps): a note in the compatibility matrix.
    pub note: Option<String>,
    /// For list operations: the answer holds every entity (false: only
    /// those imbridge's records hold, e.g. the users it has seen made;
    /// `imbridge migrate` then reaches entities another way).
    pub complete: bool,
    /// 1-based line in the mapping file.
    pub line: usize,
}

/// How a body is sent.
#[derive(Debug)]
pub enum BodyPlan {
    /// JSON.
    Json(Template),
    /// `application/x-www-form-urlencoded` from an object (arrays repeat keys).
    Form(Template),
    /// `multipart/form-data`: members that are uploads (`{slot, ...}`) are
    /// files, others text.
    Multipart(Template),
}

/// One step of an operation: a vendor call or a store call.
#[derive(Debug)]
pub struct Step {
    /// Name under which later steps and the result see its answer.
    pub name: Option<String>,
    /// Skip the step when this is falsy.
    pub when: Option<Template>,
    /// Run the step once per element (`@` is the element); the step's answer
    /// is then the list of answers, each with the element as `item`.
    pub foreach: Option<Template>,
    /// Error rules tried first for this step.
    pub errors: Vec<ErrorRule>,
    /// What the step does.
    pub action: Action,
}

impl Step {
    /// The vendor call, for a step that makes one.
    pub fn request(&self) -> Option<&Request> {
        match &self.action {
            Action::Http(r) => Some(r),
            Action::Store(_) => None,
        }
    }
}

/// What a step does.
// Compiled once per step and read in place: boxing either variant would
// only add an indirection per call.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Action {
    /// Calls the vendor.
    Http(Request),
    /// Reads or writes imbridge's own records of the provider
    /// (`crate::store::records`): what the vendor cannot keep.
    Store(StoreStep),
}

/// One vendor call.
#[derive(Debug)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Path (with query string when the template adds one), evaluated.
    pub path: Template,
    /// Query parameters (an object; arrays repeat keys).
    pub query: Option<Template>,
    /// Extra headers.
    pub headers: Vec<(String, Template)>,
    /// Body.
    pub body: Option<BodyPlan>,
    /// Safe to retry.
    pub idempotent: bool,
}

/// What a store step does with the records of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreAction {
    /// One record by key: `200 {value}`, or `404` when there is none.
    Get,
    /// Sets a record (replacing it): `200 {value}`.
    Put,
    /// Merges an object into a record (made when absent): `200 {value}`
    /// with the merged value; members set to null are removed.
    Merge,
    /// Removes a record: `200 {value}` with the old value, or `404`.
    Delete,
    /// Removes every record whose key starts with `prefix`:
    /// `200 {deleted}`.
    Clear,
    /// Records whose key starts with `prefix`, by key (or by first write
    /// with `order: created`), a page of them: `200 {total, items: [{key,
    /// value, created}]}`.
    List,
    /// Keeps the file uploaded with the request (`upload`) for imbridge
    /// to serve (vendors without a media API): `200 {media_id, url, size,
    /// content_type, filename, hash, width, height, format}`.
    Host,
}

impl StoreAction {
    /// Every action, as mapping files name them.
    pub const ALL: &'static [(&'static str, StoreAction)] = &[
        ("get", StoreAction::Get),
        ("put", StoreAction::Put),
        ("merge", StoreAction::Merge),
        ("delete", StoreAction::Delete),
        ("clear", StoreAction::Clear),
        ("list", StoreAction::List),
        ("host", StoreAction::Host),
    ];

    /// The name mapping files use.
    pub fn as_str(self) -> &'static str {
        StoreAction::ALL
            .iter()
            .find(|(_, a)| *a == self)
            .map_or("", |(n, _)| n)
    }
}

/// A store step, compiled.
#[derive(Debug)]
pub struct StoreStep {
    /// What it does.
    pub action: StoreAction,
    /// The kind of records (`group`, `message`, ...): a literal name.
    pub kind: String,
    /// The record's key (get, put, merge, delete).
    pub key: Option<Template>,
    /// The value (put, merge).
    pub value: Option<Template>,
    /// Key prefix (list, clear; none means every record of the kind).
    pub prefix: Option<Template>,
    /// First item of the page (list; default 0).
    pub start: Option<Template>,
    /// Page size (list; default every record).
    pub count: Option<Template>,
    /// Order by first write instead of key (list).
    pub by_created: bool,
    /// Newest (or greatest key) first (list).
    pub desc: bool,
    /// The upload to keep (host): a canonical `Upload` (`{slot, ...}`).
    pub upload: Option<Template>,
}
