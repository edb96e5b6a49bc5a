//! One entry of `inbound.routes`: matching (method, path, conditions), checks,
//! the request template, the response and error overrides.

use std::sync::Arc;

use http::Method;
use marked_yaml::Node;
use serde_json::Value;

use super::FileContext;
use crate::auth::InboundAuth;
use crate::canonical::{Error, ErrorKind, OpName};
use crate::mapping::diag::Diagnostics;
use crate::mapping::path::{split_root, Path, Root, RootName};
use crate::mapping::plan::{
    Check, CheckRule, Condition, ErrorPlan, Fallback, Pattern, ResponsePlan, Route, Segment,
};
use crate::mapping::spec::{self, key_list};
use crate::mapping::template::{compile as compile_template, DocShape, Shape, Template};
use crate::mapping::yaml::{self, Fields, Spanned};

/// Compiles one route.
pub fn compile(
    node: &Node,
    cx: &FileContext,
    dialect_errors: &Arc<ErrorPlan>,
    dialect_auth: &Arc<InboundAuth>,
    d: &mut Diagnostics,
) -> Option<Route> {
    let f = Fields::new(node, "a route", key_list!(spec::Route), d)?;
    let line = f.span().start().map_or(0, |m| m.line());
    let op_name = f.required_string("op", d);
    let op = op_name.as_ref().and_then(|s| op_name_of(s, d));
    let methods = methods(&f, d);
    let patterns: Vec<Pattern> = f
        .required("path", d)
        .map(|n| yaml::strings(n, "path", d))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| pattern(&p, d))
        .collect();
    let mut params: Vec<String> = patterns
        .iter()
        .flat_map(|p| p.segments.iter())
        .filter_map(|s| match s {
            Segment::Param(n) => Some(n.clone()),
            Segment::Literal(_) => None,
        })
        .collect();
    params.sort();
    params.dedup();
    let when = match f.get("when") {
        Some(n) => list(n, "when", d)
            .into_iter()
            .filter_map(|c| condition(c, d))
            .collect(),
        None => Vec::new(),
    };
    let checks = f.get("check").map(|n| checks(n, d)).unwrap_or_default();
    let auth = f
        .get("auth")
        .and_then(|n| super::auth::compile(n, cx, d))
        .map_or_else(|| dialect_auth.clone(), Arc::new);
    let errors = match f.get("errors") {
        Some(n) => {
            super::errors::compile(n, cx, false, d).map(|e| Arc::new(dialect_errors.overlay(&e)))
        }
        // Most routes share the dialect's plan.
        None => Some(dialect_errors.clone()),
    };
    let op = op?;
    let input = input_shape(cx, params);
    let request = request_template(f.get("request"), &f.span(), op, cx, &input, d);
    let response = response(f.get("response"), op, cx, &input, d);
    let fallback = match f.get("fallback") {
        Some(n) => Some(Box::new(fallback(n, f.get("response"), cx, &input, d)?)),
        None => None,
    };
    Some(Route {
        name: f
            .string("name", d)
            .map_or_else(|| op.as_str().to_string(), |s| s.value),
        line,
        op,
        methods,
        patterns,
        when,
        checks,
        auth,
        request: request?,
        response: response?,
        errors: errors?,
        fallback,
    })
}

/// What request templates see: the input document of a route with `params`.
fn input_shape(cx: &FileContext, params: Vec<String>) -> DocShape {
    DocShape::new(vec![
        ("method", Shape::Open),
        (
            "url",
            Shape::Keys(Arc::new(vec!["path".into(), "query".into()])),
        ),
        ("path", Shape::Keys(Arc::new(params))),
        ("query", Shape::Open),
        ("headers", Shape::Open),
        ("body", Shape::Open),
        ("files", Shape::Open),
        ("caller", Shape::Open),
        ("config", Shape::Keys(Arc::new(cx.public_params()))),
    ])
}

/// The `request:` template of `op` (an empty object when absent and `op`
/// needs no field).
fn request_template(
    node: Option<&Node>,
    span: &marked_yaml::Span,
    op: OpName,
    cx: &FileContext,
    input: &DocShape,
    d: &mut Diagnostics,
) -> Option<Template> {
    let request_shape = Shape::schema(op.request_schema().to_value());
    let tcx = cx.templates(input);
    match node {
        Some(n) => compile_template(n, &request_shape, &tcx, d),
        None => {
            if !request_shape.required().is_empty() {
                d.error(
                    span,
                    "E012",
                    format!("route for `{op}` needs a `request:` template"),
                )
                .hint(format!(
                    "required fields: {}",
                    request_shape.required().join(", ")
                ));
            }
            Some(Template::Object(Vec::new()))
        }
    }
}

/// `fallback: {on: [kind/reason, ..], op, request, response}`; without its
/// own `response` it renders with the route's.
fn fallback(
    node: &Node,
    route_response: Option<&Node>,
    cx: &FileContext,
    input: &DocShape,
    d: &mut Diagnostics,
) -> Option<Fallback> {
    let f = Fields::new(node, "a fallback", key_list!(spec::Fallback), d)?;
    let on: Vec<_> = yaml::strings(f.required("on", d)?, "on", d)
        .iter()
        .filter_map(|e| super::errors::error_key(e, d))
        .collect();
    if on.is_empty() {
        d.error(&f.span(), "E003", "a fallback needs `on:` errors")
            .hint("e.g. on: [already_exists/user]");
        return None;
    }
    let name = f.required_string("op", d)?;
    let op = op_name_of(&name, d)?;
    let request = request_template(f.get("request"), &f.span(), op, cx, input, d);
    let response = response(f.get("response").or(route_response), op, cx, input, d);
    Some(Fallback {
        on,
        op,
        request: request?,
        response: response?,
    })
}

/// Compiles a `check:` list (of a route, or of the whole dialect).
pub fn checks(node: &Node, d: &mut Diagnostics) -> Vec<Check> {
    list(node, "check", d)
        .into_iter()
        .flat_map(|c| check(c, d))
        .collect()
}

/// The operation a name in a mapping file stands for, or E010 with the
/// operations that share its first word.
pub fn op_name_of(name: &Spanned<String>, d: &mut Diagnostics) -> Option<OpName> {
    let op = OpName::parse(&name.value);
    if op.is_none() {
        d.error_len(
            &name.span,
            name.value.chars().count(),
            "E010",
            format!("unknown operation `{}`", name.value),
        )
        .hint(suggest_op(&name.value));
    }
    op
}

fn suggest_op(name: &str) -> String {
    let prefix = name.split('.').next().unwrap_or(name);
    let close: Vec<&str> = OpName::ALL
        .iter()
        .map(|o| o.as_str())
        .filter(|o| o.starts_with(prefix))
        .collect();
    if close.is_empty() {
        "see docs/mappings.md for the list of operations".to_string()
    } else {
        format!("did you mean one of: {}", close.join(", "))
    }
}

fn list<'n>(node: &'n Node, what: &str, d: &mut Diagnostics) -> Vec<&'n Node> {
    match node {
        Node::Sequence(seq) => seq.iter().collect(),
        other => {
            d.error(other.span(), "E004", format!("`{what}` must be a list"));
            Vec::new()
        }
    }
}

fn methods(f: &Fields, d: &mut Diagnostics) -> Vec<Method> {
    let Some(node) = f.required("method", d) else {
        return Vec::new();
    };
    yaml::strings(node, "method", d)
        .iter()
        .filter_map(|m| method(m, d))
        .collect()
}

/// An HTTP method of a route or an outbound step, or E023.
pub fn method(name: &Spanned<String>, d: &mut Diagnostics) -> Option<Method> {
    let method = match name.value.to_ascii_uppercase().as_str() {
        "GET" => Method::GET,
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        "DELETE" => Method::DELETE,
        "PATCH" => Method::PATCH,
        _ => {
            d.error(
                &name.span,
                "E023",
                format!("unknown HTTP method `{}`", name.value),
            )
            .hint("methods: GET, POST, PUT, DELETE, PATCH");
            return None;
        }
    };
    Some(method)
}

fn pattern(text: &Spanned<String>, d: &mut Diagnostics) -> Option<Pattern> {
    if !text.value.starts_with('/') {
        d.error(
            &text.span,
            "E024",
            format!("path `{}` must start with /", text.value),
        );
        return None;
    }
    let mut segments = Vec::new();
    for seg in text.value.split('/').filter(|s| !s.is_empty()) {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                d.error(&text.span, "E024", format!("bad path parameter `{seg}`"))
                    .hint("write parameters as {name} with letters, digits and _");
                return None;
            }
            segments.push(Segment::Param(name.to_string()));
        } else if seg.contains(['{', '}', '?', '#']) {
            d.error(&text.span, "E024", format!("bad path segment `{seg}`"))
                .hint(
                    "a segment is literal text or a whole {param}; match query strings with `when`",
                );
            return None;
        } else {
            segments.push(Segment::Literal(seg.to_string()));
        }
    }
    Some(Pattern {
        text: text.value.clone(),
        segments,
    })
}

/// A `$`-rooted path into the input document (conditions, checks, auth).
pub fn input_path(node: &Node, d: &mut Diagnostics) -> Option<Path> {
    let text = yaml::string(node, "path", d)?;
    match split_root(&text.value) {
        Some(r) if r.root == RootName::Doc => {
            match Path::compile(Root::Doc, &r.jsonpath, &text.value) {
                Ok(p) => Some(p),
                Err(e) => {
                    d.error(
                        &text.span,
                        "E013",
                        format!("invalid JSONPath `{}`: {e}", text.value),
                    );
                    None
                }
            }
        }
        _ => {
            d.error(
                &text.span,
                "E013",
                format!("`{}` must be a path starting with $", text.value),
            );
            None
        }
    }
}

fn condition(node: &Node, d: &mut Diagnostics) -> Option<Condition> {
    let f = Fields::new(node, "a condition", key_list!(spec::Condition), d)?;
    let path = input_path(f.required("path", d)?, d)?;
    match (f.get("equals"), f.boolean("present", d)) {
        (Some(v), None) => Some(Condition::Equals(path, yaml::to_json(v))),
        (None, Some(p)) => Some(Condition::Present(path, p)),
        _ => {
            d.error(
                &f.span(),
                "E003",
                "a condition needs exactly one of `equals` or `present`",
            );
            None
        }
    }
}

/// A check's rules, each a check of its own (in the order of
/// `spec::Check`'s fields), with the same path and error.
fn check(node: &Node, d: &mut Diagnostics) -> Vec<Check> {
    let Some(f) = Fields::new(node, "a check", key_list!(spec::Check), d) else {
        return Vec::new();
    };
    let Some(path) = f.required("path", d).and_then(|p| input_path(p, d)) else {
        return Vec::new();
    };
    let size = |key: &str, d: &mut Diagnostics| f.integer(key, d).map(|v| v.value.max(0) as usize);
    let mut rules = Vec::new();
    if f.boolean("required", d) == Some(true) {
        rules.push(CheckRule::Required);
    }
    if let Some(kind) = f.string("is", d) {
        match kind.value.as_str() {
            "array" => rules.push(CheckRule::IsArray),
            "object" => rules.push(CheckRule::IsObject),
            "integer" => rules.push(CheckRule::IsInteger),
            other => {
                d.error(&kind.span, "E004", format!("unknown type `{other}`"))
                    .hint("is: array, object or integer");
            }
        }
    }
    if let Some(n) = size("max_items", d) {
        rules.push(CheckRule::MaxItems(n));
    }
    if let Some(n) = size("min_items", d) {
        rules.push(CheckRule::MinItems(n));
    }
    if let Some(n) = size("max_bytes", d) {
        rules.push(CheckRule::MaxBytes(n));
    }
    if let Some(n) = size("min_bytes", d) {
        rules.push(CheckRule::MinBytes(n));
    }
    if let Some(n) = size("max_chars", d) {
        rules.push(CheckRule::MaxChars(n));
    }
    if let Some(n) = f.integer("max", d) {
        rules.push(CheckRule::Max(n.value as f64));
    }
    if let Some(n) = f.integer("min", d) {
        rules.push(CheckRule::Min(n.value as f64));
    }
    if let Some(v) = f.get("one_of") {
        match yaml::to_json(v) {
            Value::Array(items) => rules.push(CheckRule::OneOf(items)),
            _ => {
                d.error(v.span(), "E004", "`one_of` must be a list");
            }
        }
    }
    if let Some(other) = f.get("same_as") {
        match input_path(other, d) {
            Some(other) => rules.push(CheckRule::SameAs(other)),
            None => return Vec::new(),
        }
    }
    if rules.is_empty() {
        d.error(&f.span(), "E003", "a check needs a rule")
            .hint("rules: required, is, max_items, min_items, max_bytes, min_bytes, max_chars, max, min, one_of, same_as");
        return Vec::new();
    }
    let (kind, reason) = match f.string("error", d) {
        Some(e) => match super::errors::error_key(&e, d) {
            Some(key) => key,
            None => return Vec::new(),
        },
        None => (
            ErrorKind::InvalidArgument,
            Some(crate::canonical::Reason::Param),
        ),
    };
    let path_text = path.text().to_string();
    let message = f.string("message", d).map(|m| m.value);
    rules
        .into_iter()
        .map(|rule| {
            let text = message
                .clone()
                .unwrap_or_else(|| default_message(&rule, &path_text));
            let mut error = Error::new(kind, text);
            error.reason = reason;
            Check {
                path: path.clone(),
                rule,
                error,
            }
        })
        .collect()
}

/// A check's message when the file gives none: the rule said of the last
/// name of the path (`$.body.userId` → `userId is required`).
fn default_message(rule: &CheckRule, path: &str) -> String {
    let path = path.trim_start_matches("$.");
    let field = path.rsplit('.').next().unwrap_or(path);
    match rule {
        CheckRule::Required => format!("{field} is required"),
        CheckRule::IsArray => format!("{field} must be an array"),
        CheckRule::IsObject => format!("{field} must be an object"),
        CheckRule::IsInteger => format!("{field} must be an integer"),
        CheckRule::Max(n) => format!("{field} must be at most {n}"),
        CheckRule::Min(n) => format!("{field} must be at least {n}"),
        CheckRule::MaxChars(n) => format!("{field} is longer than {n} characters"),
        CheckRule::MaxItems(n) => format!("{field} has more than {n} items"),
        CheckRule::MinItems(n) => format!("{field} needs at least {n} items"),
        CheckRule::MaxBytes(n) => format!("{field} is longer than {n} bytes"),
        CheckRule::MinBytes(n) => format!("{field} is shorter than {n} bytes"),
        CheckRule::SameAs(other) => {
            format!("{field} must be {}", other.text().trim_start_matches("$."))
        }
        CheckRule::OneOf(values) => format!(
            "{field} must be one of {}",
            values
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn response(
    node: Option<&Node>,
    op: OpName,
    cx: &FileContext,
    input: &DocShape,
    d: &mut Diagnostics,
) -> Option<ResponsePlan> {
    let Some(node) = node else {
        return Some(ResponsePlan {
            status: 200,
            body: None,
            headers: Vec::new(),
        });
    };
    let f = Fields::new(node, "a response", key_list!(spec::Response), d)?;
    let status = match f.integer("status", d) {
        None => 200,
        Some(s) if (100..=599).contains(&s.value) => s.value as u16,
        Some(s) => {
            d.error(&s.span, "E004", "status must be from 100 to 599");
            200
        }
    };
    let doc = DocShape::new(vec![
        ("result", Shape::schema(op.result_schema().to_value())),
        ("request", Shape::schema(op.request_schema().to_value())),
        ("input", input.as_shape()),
        ("config", Shape::Keys(Arc::new(cx.public_params()))),
    ]);
    let tcx = cx.templates(&doc);
    let body = match f.get("body") {
        None => None,
        Some(n)
            if n.as_scalar()
                .is_some_and(|s| s.may_coerce() && matches!(s.as_str(), "null" | "~" | "")) =>
        {
            None
        }
        Some(n) => Some(compile_template(n, &Shape::Open, &tcx, d)?),
    };
    let mut headers = Vec::new();
    for (name, value) in f.entries("headers", d) {
        if http::HeaderName::from_bytes(name.value.as_bytes()).is_err() {
            d.error(
                &name.span,
                "E004",
                format!("`{}` is not a valid header name", name.value),
            );
        }
        headers.push((name.value, compile_template(value, &Shape::Open, &tcx, d)?));
    }
    Some(ResponsePlan {
        status,
        body,
        headers,
    })
}

/// Reports routes of one dialect that would match the same requests.
pub fn check_collisions(routes: &[Arc<Route>], d: &mut Diagnostics) {
    for (i, a) in routes.iter().enumerate() {
        for b in &routes[..i] {
            if let Some(what) = collision(a, b) {
                d.at(
                    a.line,
                    1,
                    1,
                    "E020",
                    format!("route collides with the route at line {}: {what}", b.line),
                )
                .hint("give one of them a `when:` condition, or remove the duplicate");
            }
        }
    }
}

/// Whether two routes can match the same request; says how.
pub fn collision(a: &Route, b: &Route) -> Option<String> {
    if !a.when.is_empty() || !b.when.is_empty() {
        return None;
    }
    let method = a.methods.iter().find(|m| b.methods.contains(m))?;
    for pa in &a.patterns {
        for pb in &b.patterns {
            if same_shape(&pa.segments, &pb.segments) {
                return Some(format!("{method} {} and {}", pa.text, pb.text));
            }
        }
    }
    None
}

fn same_shape(a: &[Segment], b: &[Segment]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Segment::Literal(l), Segment::Literal(r)) => l == r,
            (Segment::Param(_), Segment::Param(_)) => true,
            _ => false,
        })
}
