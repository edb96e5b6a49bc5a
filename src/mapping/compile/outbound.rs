//! The `outbound:` section: auth, error rules and per-operation steps.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use marked_yaml::types::MarkedScalarNode;
use marked_yaml::Node;
use serde_json::Value;

use super::errors::error_key;
use super::FileContext;
use crate::canonical::fields::{Entity, Keeps};
use crate::canonical::OpName;
use crate::mapping::diag::Diagnostics;
use crate::mapping::outbound::{
    Action, BodyPlan, ErrorRule, OpPlan, Outbound, OutboundAuth, OutboundSignature, Request, Step,
    StoreAction, StoreStep, TokenAuth, VendorErrors,
};
use crate::mapping::spec::{self, key_list};
use crate::mapping::template::compile::compile_in;
use crate::mapping::template::{DocShape, Func, Shape, Template};
use crate::mapping::yaml::{self, Fields, Spanned};

/// Compiles the `outbound:` section.
pub fn compile(node: &Node, cx: &FileContext, d: &mut Diagnostics) -> Option<Outbound> {
    let f = Fields::new(node, "outbound", key_list!(spec::Outbound), d)?;
    let auth = match f.get("auth") {
        Some(n) => auth(n, cx, d)?,
        None => OutboundAuth::None,
    };
    let errors = match f.get("errors") {
        Some(n) => errors(n, cx, d)?,
        None => VendorErrors::default(),
    };
    let mut ops = HashMap::new();
    for (name, node) in f.entries("ops", d) {
        let Some(op) = super::route::op_name_of(&name, d) else {
            continue;
        };
        if op.is_local() {
            d.error(
                &name.span,
                "E010",
                format!("`{op}` runs inside imbridge; a provider cannot implement it"),
            );
            continue;
        }
        if let Some(plan) = op_plan(op, node, cx, d) {
            ops.insert(op, plan);
        }
    }
    let keeps = match f.get("keeps") {
        Some(n) => keeps(n, d),
        None => Keeps::all(),
    };
    // Why the vendor cannot run an operation (one line each, for the
    // compatibility matrix).
    let mut unsupported = BTreeMap::new();
    for (name, node) in f.entries("unsupported", d) {
        let Some(op) = super::route::op_name_of(&name, d) else {
            continue;
        };
        if ops.contains_key(&op) {
            d.error(
                &name.span,
                "E003",
                format!("`{op}` is under `ops:`: it is supported"),
            );
            continue;
        }
        match node {
            Node::Scalar(s) => {
                unsupported.insert(op, s.as_str().to_string());
            }
            other => {
                d.error(other.span(), "E004", "a reason is one line of text");
            }
        }
    }
    // What imbridge runs itself for the vendor (on its embedded provider).
    let mut hosted = BTreeSet::new();
    for name in f.strings("hosted", d) {
        let Some(op) = super::route::op_name_of(&name, d) else {
            continue;
        };
        if ops.contains_key(&op) || unsupported.contains_key(&op) || op.is_local() {
            d.error(
                &name.span,
                "E003",
                format!("`{op}` is hosted: it cannot also be under `ops:` or `unsupported:`, or run inside imbridge"),
            );
            continue;
        }
        hosted.insert(op);
    }
    Some(Outbound {
        auth,
        errors,
        ops,
        keeps,
        unsupported,
        hosted,
    })
}

/// `keeps:`: per entity, the fields the vendor keeps; entities not named
/// keep nothing.
fn keeps(node: &Node, d: &mut Diagnostics) -> Keeps {
    let mut out = Keeps::none();
    for (name, fields) in yaml::entries(node, "keeps", d) {
        let Some(entity) = Entity::parse(&name.value) else {
            let known: Vec<&str> = Entity::ALL.iter().map(|e| e.as_str()).collect();
            d.error(
                &name.span,
                "E011",
                format!(
                    "unknown entity `{}` (known: {})",
                    name.value,
                    known.join(", ")
                ),
            );
            continue;
        };
        let mut kept = Vec::new();
        for field in yaml::strings(fields, entity.as_str(), d) {
            match entity.field(&field.value) {
                Some(f) => kept.push(f),
                None => {
                    d.error(
                        &field.span,
                        "E011",
                        format!(
                            "unknown field `{}` of {entity} (known: {})",
                            field.value,
                            entity.fields().join(", ")
                        ),
                    );
                }
            }
        }
        out.set(entity, kept);
    }
    out
}

/// What step templates see.
fn step_doc(cx: &FileContext, request: Shape) -> DocShape {
    DocShape::new(vec![
        ("request", request),
        ("config", Shape::Keys(Arc::new(cx.public_params()))),
        ("params", Shape::Keys(Arc::new(cx.all_params()))),
        ("steps", Shape::Open),
        ("last", Shape::Open),
        ("fresh_id", Shape::Open),
        ("provider", Shape::Open),
    ])
}

fn template(
    node: &Node,
    expect: &Shape,
    cx: &FileContext,
    doc: &DocShape,
    item: bool,
    d: &mut Diagnostics,
) -> Option<Template> {
    let tcx = cx.templates(doc);
    let scope = if item {
        vec![(None, Shape::Open)]
    } else {
        Vec::new()
    };
    compile_in(node, expect, &tcx, scope, d)
}

fn op_plan(op: OpName, node: &Node, cx: &FileContext, d: &mut Diagnostics) -> Option<OpPlan> {
    let f = Fields::new(node, "an outbound operation", key_list!(spec::Op), d)?;
    let line = f.span().start().map_or(0, |m| m.line());
    let doc = step_doc(cx, Shape::schema(op.request_schema().to_value()));
    let steps = match f.required("steps", d)? {
        Node::Sequence(seq) => seq
            .iter()
            .filter_map(|n| step(n, cx, &doc, d))
            .collect::<Vec<_>>(),
        other => {
            d.error(other.span(), "E004", "`steps` must be a list");
            return None;
        }
    };
    let result_shape = Shape::schema(op.result_schema().to_value());
    let result = match f.get("result") {
        Some(n) => Some(template(n, &result_shape, cx, &doc, false, d)?),
        None => None,
    };
    let fail = match f.get("fail") {
        Some(n) => Some(template(n, &Shape::Open, cx, &doc, false, d)?),
        None => None,
    };
    let refuse = match f.get("refuse") {
        Some(n) => Some(template(n, &Shape::Open, cx, &doc, false, d)?),
        None => None,
    };
    let errors = match f.get("errors") {
        Some(n) => rules(n, d),
        None => Vec::new(),
    };
    Some(OpPlan {
        steps,
        result,
        refuse,
        fail,
        errors,
        note: f.string("note", d).map(|s| s.value),
        complete: f.boolean("complete", d).unwrap_or(true),
        line,
    })
}

fn step(node: &Node, cx: &FileContext, doc: &DocShape, d: &mut Diagnostics) -> Option<Step> {
    let is_store = matches!(node, Node::Mapping(m) if m.keys().any(|k| k.as_str() == "store"));
    let keys = if is_store {
        key_list!(spec::StoreStep)
    } else {
        key_list!(spec::HttpStep)
    };
    let f = Fields::new(node, "a step", keys, d)?;
    let open = Shape::Open;
    let item = f.get("foreach").is_some();
    let foreach = match f.get("foreach") {
        Some(n) => Some(template(n, &open, cx, doc, false, d)?),
        None => None,
    };
    let when = match f.get("when") {
        Some(n) => Some(template(n, &open, cx, doc, item, d)?),
        None => None,
    };
    let errors = match f.get("errors") {
        Some(n) => rules(n, d),
        None => Vec::new(),
    };
    let action = if is_store {
        Action::Store(store_step(&f, cx, doc, item, d)?)
    } else {
        Action::Http(request(&f, cx, doc, item, d)?)
    };
    Some(Step {
        name: f.string("name", d).map(|s| s.value),
        when,
        foreach,
        errors,
        action,
    })
}

/// A vendor call's fields.
fn request(
    f: &Fields,
    cx: &FileContext,
    doc: &DocShape,
    item: bool,
    d: &mut Diagnostics,
) -> Option<Request> {
    let open = Shape::Open;
    let method = super::route::method(&f.required_string("method", d)?, d)?;
    // A path is text with `{path}` holes, or any template giving the text.
    let path = match f.required("path", d)? {
        Node::Scalar(_) => {
            let text = f.required_string("path", d)?;
            path_template(&text, cx, doc, item, d)?
        }
        other => template(other, &open, cx, doc, item, d)?,
    };
    let query = match f.get("query") {
        Some(n) => Some(template(n, &open, cx, doc, item, d)?),
        None => None,
    };
    let mut headers = Vec::new();
    for (name, value) in f.entries("headers", d) {
        headers.push((
            name.value.to_ascii_lowercase(),
            template(value, &open, cx, doc, item, d)?,
        ));
    }
    let bodies: Vec<&str> = ["body", "form", "multipart"]
        .into_iter()
        .filter(|k| f.get(k).is_some())
        .collect();
    if bodies.len() > 1 {
        d.error(
            &f.span(),
            "E003",
            "a step has one of `body`, `form` or `multipart`, not several",
        );
        return None;
    }
    let body = match bodies.first() {
        None => None,
        Some(&kind) => {
            let t = template(f.get(kind)?, &open, cx, doc, item, d)?;
            Some(match kind {
                "body" => BodyPlan::Json(t),
                "form" => BodyPlan::Form(t),
                _ => BodyPlan::Multipart(t),
            })
        }
    };
    let idempotent = f
        .boolean("idempotent", d)
        .unwrap_or(matches!(method, Method::GET | Method::PUT | Method::DELETE));
    Some(Request {
        method,
        path,
        query,
        headers,
        body,
        idempotent,
    })
}

/// A store step's fields: `store: ACTION`, `kind:` (a literal name) and
/// what the action needs.
fn store_step(
    f: &Fields,
    cx: &FileContext,
    doc: &DocShape,
    item: bool,
    d: &mut Diagnostics,
) -> Option<StoreStep> {
    let action_name = f.required_string("store", d)?;
    let Some(action) = StoreAction::ALL
        .iter()
        .find(|(n, _)| *n == action_name.value)
        .map(|(_, a)| *a)
    else {
        let known: Vec<&str> = StoreAction::ALL.iter().map(|(n, _)| *n).collect();
        d.error(
            &action_name.span,
            "E022",
            format!("unknown store action `{}`", action_name.value),
        )
        .hint(format!("actions: {}", known.join(", ")));
        return None;
    };
    let kind = f.required_string("kind", d)?;
    let valid = kind.value.starts_with(|c: char| c.is_ascii_lowercase())
        && kind
            .value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        d.error(
            &kind.span,
            "E004",
            format!("record kind `{}` must be a lower-case name", kind.value),
        )
        .hint("letters, digits and `_`, starting with a letter: group, message, user_setting");
        return None;
    }
    // Which fields each action takes; others are refused, so a typo or a
    // misplaced field is found at load.
    let (needs, allows): (&[&str], &[&str]) = match action {
        StoreAction::Get | StoreAction::Delete => (&["key"], &[]),
        StoreAction::Put | StoreAction::Merge => (&["key", "value"], &[]),
        StoreAction::Clear => (&[], &["prefix"]),
        StoreAction::List => (&[], &["prefix", "start", "count", "order", "desc"]),
        StoreAction::Host => (&["upload"], &[]),
    };
    for field in [
        "key", "value", "prefix", "start", "count", "order", "desc", "upload",
    ] {
        if f.get(field).is_some() && !needs.contains(&field) && !allows.contains(&field) {
            d.error(
                &f.span(),
                "E003",
                format!("`store: {}` takes no `{field}`", action.as_str()),
            );
            return None;
        }
    }
    for field in needs {
        f.required(field, d)?;
    }
    let open = Shape::Open;
    let t = |field: &str, d: &mut Diagnostics| -> Option<Option<Template>> {
        match f.get(field) {
            Some(n) => template(n, &open, cx, doc, item, d).map(Some),
            None => Some(None),
        }
    };
    let key = t("key", d)?;
    let value = t("value", d)?;
    let prefix = t("prefix", d)?;
    let start = t("start", d)?;
    let count = t("count", d)?;
    let upload = t("upload", d)?;
    let by_created = match f.string("order", d) {
        None => false,
        Some(s) if s.value == "key" => false,
        Some(s) if s.value == "created" => true,
        Some(s) => {
            d.error(&s.span, "E004", "order must be `key` or `created`");
            return None;
        }
    };
    Some(StoreStep {
        action,
        kind: kind.value,
        key,
        value,
        prefix,
        start,
        count,
        by_created,
        desc: f.boolean("desc", d).unwrap_or(false),
        upload,
    })
}

/// `"/v1/users/{$.request.username}"`: literal text with `{path}` holes whose
/// values are percent-encoded.
fn path_template(
    text: &Spanned<String>,
    cx: &FileContext,
    doc: &DocShape,
    item: bool,
    d: &mut Diagnostics,
) -> Option<Template> {
    let mut parts = Vec::new();
    let mut rest = text.value.as_str();
    while !rest.is_empty() {
        match rest.find('{') {
            Some(0) => {
                let Some(end) = rest.find('}') else {
                    d.error(
                        &text.span,
                        "E024",
                        format!("unclosed `{{` in path `{}`", text.value),
                    );
                    return None;
                };
                let hole = Node::Scalar(MarkedScalarNode::new(text.span, &rest[1..end]));
                let t = template(&hole, &Shape::Open, cx, doc, item, d)?;
                parts.push(Template::Call(Box::new(Func::Escape(t))));
                rest = &rest[end + 1..];
            }
            Some(i) => {
                parts.push(Template::Literal(Value::String(rest[..i].to_string())));
                rest = &rest[i..];
            }
            None => {
                parts.push(Template::Literal(Value::String(rest.to_string())));
                rest = "";
            }
        }
    }
    Some(Template::Call(Box::new(Func::Concat(parts))))
}

fn auth(node: &Node, cx: &FileContext, d: &mut Diagnostics) -> Option<OutboundAuth> {
    let f = Fields::new(node, "outbound auth", key_list!(spec::OutboundAuth), d)?;
    let scheme = f.required_string("scheme", d)?;
    let param = |key: &str, d: &mut Diagnostics| super::auth::param(&f, key, cx, d);
    match scheme.value.as_str() {
        "none" => Some(OutboundAuth::None),
        "basic" => Some(OutboundAuth::Basic {
            username: param("username", d)?,
            password: param("password", d)?,
        }),
        "signature" => {
            let layout = super::auth::layout(&f, d)?;
            let secret = param("secret", d)?;
            let h = Fields::new(
                f.required("headers", d)?,
                "signature headers",
                key_list!(spec::OutboundSignatureHeaders),
                d,
            )?;
            let millis = match f.string("timestamp", d) {
                None => true,
                Some(s) if s.value == "millis" => true,
                Some(s) if s.value == "seconds" => false,
                Some(s) => {
                    d.error(&s.span, "E004", "timestamp must be millis or seconds");
                    return None;
                }
            };
            Some(OutboundAuth::Signature(OutboundSignature {
                layout,
                secret,
                nonce: h.required_string("nonce", d)?.value,
                timestamp: h.required_string("timestamp", d)?.value,
                sign: h.required_string("sign", d)?.value,
                app_key: h.string("app_key", d).map(|s| s.value),
                millis,
            }))
        }
        "token" => {
            let doc = step_doc(cx, Shape::Open);
            let fetch_node = f.required("fetch", d)?;
            let fetch = step(fetch_node, cx, &doc, d)?;
            if fetch.request().is_none() {
                d.error(fetch_node.span(), "E004", "a token fetch is a vendor call");
                return None;
            }
            let open = Shape::Open;
            let token = template(f.required("token", d)?, &open, cx, &doc, false, d)?;
            let expires_in = match f.get("expires_in") {
                Some(n) => Some(template(n, &open, cx, &doc, false, d)?),
                None => None,
            };
            let secs = |key: &str, default: u64, d: &mut Diagnostics| {
                Duration::from_secs(f.integer(key, d).map_or(default, |v| v.value.max(0) as u64))
            };
            let invalid_status = match f.get("invalid_status") {
                Some(n) => yaml::strings(n, "invalid_status", d)
                    .iter()
                    .filter_map(|s| s.value.parse().ok())
                    .collect(),
                None => vec![401],
            };
            Some(OutboundAuth::Token(Box::new(TokenAuth {
                fetch,
                token,
                expires_in,
                default_ttl: secs("default_ttl_secs", 3600, d),
                margin: secs("margin_secs", 60, d),
                header: f.string("header", d).map_or_else(
                    || "authorization".to_string(),
                    |s| s.value.to_ascii_lowercase(),
                ),
                prefix: f
                    .string("prefix", d)
                    .map_or_else(|| "Bearer ".to_string(), |s| s.value),
                invalid_status,
            })))
        }
        other => {
            d.error(
                &scheme.span,
                "E022",
                format!("unknown outbound auth scheme `{other}`"),
            )
            .hint("schemes: none, basic, signature, token");
            None
        }
    }
}

fn errors(node: &Node, cx: &FileContext, d: &mut Diagnostics) -> Option<VendorErrors> {
    let f = Fields::new(node, "outbound errors", key_list!(spec::VendorErrors), d)?;
    let doc = DocShape::new(vec![
        ("status", Shape::Open),
        ("body", Shape::Open),
        ("headers", Shape::Open),
    ]);
    let open = Shape::Open;
    let t = |key: &str, d: &mut Diagnostics| -> Option<Option<Template>> {
        match f.get(key) {
            Some(n) => template(n, &open, cx, &doc, false, d).map(Some),
            None => Some(None),
        }
    };
    Some(VendorErrors {
        failed: t("failed", d)?,
        code: t("code", d)?,
        message: t("message", d)?,
        rules: f.get("rules").map(|n| rules(n, d)).unwrap_or_default(),
    })
}

fn rules(node: &Node, d: &mut Diagnostics) -> Vec<ErrorRule> {
    let Node::Sequence(seq) = node else {
        d.error(node.span(), "E004", "error rules must be a list");
        return Vec::new();
    };
    let mut out = Vec::new();
    for n in seq.iter() {
        let Some(f) = Fields::new(n, "an error rule", key_list!(spec::ErrorRule), d) else {
            continue;
        };
        let status = f
            .get("status")
            .map(|n| {
                yaml::strings(n, "status", d)
                    .iter()
                    .filter_map(|s| s.value.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let code = match f.get("code").map(yaml::to_json) {
            None => Vec::new(),
            Some(Value::Array(items)) => items,
            Some(v) => vec![v],
        };
        let error = match (f.string("error", d), f.boolean("ok", d)) {
            (Some(e), None) => match error_key(&e, d) {
                Some(k) => Some(k),
                None => continue,
            },
            (None, Some(true)) => None,
            _ => {
                d.error(
                    &f.span(),
                    "E003",
                    "an error rule needs `error: kind/reason` or `ok: true`",
                );
                continue;
            }
        };
        out.push(ErrorRule {
            status,
            code,
            error,
        });
    }
    out
}
