//! Compiled dialects: what `compile` makes of a mapping file and what runs per
//! request. Nothing here holds a path string or YAML; paths are compiled,
//! templates are trees, ops are resolved.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use http::Method;
use serde_json::{Map, Value};

use super::path::Path;
use super::template::{CodeTable, Template};
use crate::auth::{InboundAuth, Params, Secret};
use crate::canonical::{Error, ErrorKind, OpName, Reason};

/// The content type of JSON bodies unless a dialect names another.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// A compiled dialect.
#[derive(Debug)]
pub struct Dialect {
    /// Dialect name (`jmessage`).
    pub name: String,
    /// The mapping file it came from.
    pub file: PathBuf,
    /// Parameters a frontend of this dialect must configure.
    pub params: Vec<Param>,
    /// The inbound half, when the file has one.
    pub inbound: Option<Inbound>,
    /// The outbound half, when the file has one.
    pub outbound: Option<super::outbound::Outbound>,
}

impl Dialect {
    /// Resolves the dialect's params from configured `values` (else their
    /// defaults) into `params`, `public` (non-secret ones, as `$.config`
    /// shows them) and `all` (as `$.params` shows them); returns the
    /// required params left unset.
    pub fn resolve_params(
        &self,
        values: &BTreeMap<String, Secret>,
        params: &mut Params,
        public: &mut Map<String, Value>,
        all: &mut Map<String, Value>,
    ) -> Vec<String> {
        let mut missing = Vec::new();
        for p in &self.params {
            let value = values
                .get(&p.name)
                .cloned()
                .or_else(|| p.default.clone().map(Secret::new));
            match value {
                Some(v) => {
                    let text = Value::String(v.expose().to_string());
                    if !p.secret {
                        public.insert(p.name.clone(), text.clone());
                    }
                    all.insert(p.name.clone(), text);
                    params.insert(p.name.clone(), v);
                }
                None if p.required => missing.push(p.name.clone()),
                None => {}
            }
        }
        missing
    }
}

/// A parameter a dialect reads from the frontend config.
#[derive(Debug, Clone)]
pub struct Param {
    /// Name.
    pub name: String,
    /// Must be set.
    pub required: bool,
    /// Never shown to templates, logs or `translate` output.
    pub secret: bool,
    /// Used when the config does not set it.
    pub default: Option<String>,
}

/// The inbound half of a dialect: how to serve it.
#[derive(Debug)]
pub struct Inbound {
    /// Path prefixes this dialect owns (unknown paths under them get its
    /// error shape).
    pub prefixes: Vec<String>,
    /// Content type of bodies it sends.
    pub content_type: String,
    /// How callers authenticate, unless a route says otherwise.
    pub auth: Arc<InboundAuth>,
    /// How errors look.
    pub errors: Arc<ErrorPlan>,
    /// The routes, in file order.
    pub routes: Vec<Arc<Route>>,
    /// The routes indexed for lookup by path.
    pub index: super::inbound::RouteIndex,
    /// Id kinds this dialect carries as integers (its clients cannot take
    /// other ids): provider ids that are not integers go through the ID map.
    pub integer_ids: Vec<crate::canonical::ids::IdKind>,
}

/// One path segment of a route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Must match exactly.
    Literal(String),
    /// Matches any one segment and binds it.
    Param(String),
}

/// A route path pattern (`/v1/users/{username}`).
#[derive(Debug, Clone)]
pub struct Pattern {
    /// As written.
    pub text: String,
    /// Segments, without empty ones (a trailing slash is optional).
    pub segments: Vec<Segment>,
}

/// A condition on the request that selects between routes sharing a path.
#[derive(Debug, Clone)]
pub enum Condition {
    /// The path finds this value (compared as text for scalars).
    Equals(Path, Value),
    /// The path finds something (true) or nothing (false).
    Present(Path, bool),
}

/// A limit checked on the inbound request before extraction.
#[derive(Debug, Clone)]
pub struct Check {
    /// What is checked.
    pub path: Path,
    /// The rule.
    pub rule: CheckRule,
    /// The error when it fails.
    pub error: Error,
}

/// Rules of `check`.
#[derive(Debug, Clone)]
pub enum CheckRule {
    /// Present and not null.
    Required,
    /// An array (or absent).
    IsArray,
    /// An object (or absent).
    IsObject,
    /// An integer or a string of digits (or absent).
    IsInteger,
    /// A number (or numeric string) of at most this.
    Max(f64),
    /// A number (or numeric string) of at least this.
    Min(f64),
    /// A string of at most N characters.
    MaxChars(usize),
    /// An array of at most N elements.
    MaxItems(usize),
    /// An array of at least N elements.
    MinItems(usize),
    /// A string of at most N bytes.
    MaxBytes(usize),
    /// A string of at least N bytes.
    MinBytes(usize),
    /// One of these values.
    OneOf(Vec<Value>),
    /// The same text as what another path finds (e.g. a path parameter and a
    /// frontend param: `{path: $.path.org, same_as: $.config.org_name}`).
    SameAs(Path),
}

/// How a successful result is rendered.
#[derive(Debug)]
pub struct ResponsePlan {
    /// HTTP status.
    pub status: u16,
    /// Body template; none means an empty body.
    pub body: Option<Template>,
    /// Extra headers.
    pub headers: Vec<(String, Template)>,
}

/// One inbound route.
#[derive(Debug)]
pub struct Route {
    /// Name for metrics and messages (the op name unless set).
    pub name: String,
    /// 1-based line of the route in its file.
    pub line: usize,
    /// The canonical operation it runs.
    pub op: OpName,
    /// Accepted methods.
    pub methods: Vec<Method>,
    /// Accepted paths.
    pub patterns: Vec<Pattern>,
    /// Conditions that must all hold.
    pub when: Vec<Condition>,
    /// Limits checked first.
    pub checks: Vec<Check>,
    /// How callers authenticate: the route's own scheme, else the dialect's.
    pub auth: Arc<InboundAuth>,
    /// Template producing the canonical request.
    pub request: Template,
    /// How the result is rendered.
    pub response: ResponsePlan,
    /// Error overrides for this route, over the dialect's.
    pub errors: Arc<ErrorPlan>,
    /// A second operation run when the first fails with certain errors
    /// (create-or-update endpoints: register, and update when the user exists).
    pub fallback: Option<Box<Fallback>>,
}

/// `fallback:` of a route: when the route's operation fails with one of
/// `on`, this operation runs instead and its result is rendered.
#[derive(Debug)]
pub struct Fallback {
    /// Errors (kind, or kind and reason) that trigger it.
    pub on: Vec<ErrorKey>,
    /// The operation.
    pub op: OpName,
    /// Template producing its request (over the same input document).
    pub request: Template,
    /// How its result is rendered.
    pub response: ResponsePlan,
}

impl Fallback {
    /// Whether `err` triggers the fallback.
    pub fn catches(&self, err: &Error) -> bool {
        self.on
            .iter()
            .any(|(kind, reason)| *kind == err.kind && (reason.is_none() || *reason == err.reason))
    }
}

/// Key of the status and code tables: a kind, optionally with a reason.
pub type ErrorKey = (ErrorKind, Option<Reason>);

/// How a dialect renders canonical errors.
#[derive(Debug, Default, Clone)]
pub struct ErrorPlan {
    /// HTTP status by kind[/reason].
    pub status: HashMap<ErrorKey, u16>,
    /// Dialect error code by kind[/reason].
    pub codes: HashMap<ErrorKey, Value>,
    /// Code when nothing else matches.
    pub default_code: Option<Value>,
    /// Messages shown instead of the canonical ones, by kind[/reason].
    pub messages: HashMap<ErrorKey, String>,
    /// Body template; `$.error` holds `{kind, reason, code, message, status}`.
    pub body: Option<Arc<Template>>,
}

impl ErrorPlan {
    fn find<T>(
        table: &HashMap<ErrorKey, T>,
        kind: ErrorKind,
        reason: Option<Reason>,
    ) -> Option<&T> {
        reason
            .and_then(|r| table.get(&(kind, Some(r))))
            .or_else(|| table.get(&(kind, None)))
    }

    /// The HTTP status for an error.
    pub fn status_for(&self, kind: ErrorKind, reason: Option<Reason>) -> u16 {
        Self::find(&self.status, kind, reason)
            .copied()
            .unwrap_or(match kind {
                ErrorKind::InvalidArgument if reason == Some(Reason::Method) => 405,
                ErrorKind::InvalidArgument => 400,
                ErrorKind::Unauthenticated => 401,
                ErrorKind::PermissionDenied => 403,
                ErrorKind::NotFound => 404,
                ErrorKind::AlreadyExists => 409,
                ErrorKind::LimitExceeded => 413,
                ErrorKind::Unsupported => 501,
                ErrorKind::UpstreamUnavailable => 503,
                ErrorKind::UpstreamError => 502,
                ErrorKind::Internal => 500,
            })
    }

    /// The dialect's error code for an error.
    pub fn code(&self, kind: ErrorKind, reason: Option<Reason>) -> Option<Value> {
        Self::find(&self.codes, kind, reason)
            .cloned()
            .or_else(|| self.default_code.clone())
    }

    /// The message to show for an error: the dialect's own when it has one.
    pub fn message<'a>(
        &'a self,
        kind: ErrorKind,
        reason: Option<Reason>,
        canonical: &'a str,
    ) -> &'a str {
        Self::find(&self.messages, kind, reason).map_or(canonical, String::as_str)
    }

    /// This plan with `over`'s entries taking precedence.
    pub fn overlay(&self, over: &ErrorPlan) -> ErrorPlan {
        let mut out = self.clone();
        out.status.extend(over.status.iter().map(|(k, v)| (*k, *v)));
        out.codes
            .extend(over.codes.iter().map(|(k, v)| (*k, v.clone())));
        out.messages
            .extend(over.messages.iter().map(|(k, v)| (*k, v.clone())));
        if over.default_code.is_some() {
            out.default_code = over.default_code.clone();
        }
        if over.body.is_some() {
            out.body = over.body.clone();
        }
        out
    }
}

impl CodeTable for ErrorPlan {
    fn code_for(&self, error: &Value) -> Option<Value> {
        let kind = error
            .get("kind")
            .and_then(Value::as_str)
            .and_then(ErrorKind::parse)?;
        let reason = error
            .get("reason")
            .and_then(Value::as_str)
            .and_then(Reason::parse);
        self.code(kind, reason)
    }
}
