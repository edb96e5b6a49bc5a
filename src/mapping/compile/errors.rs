//! The `errors:` section: status and code tables keyed by canonical kind or
//! kind/reason, and the body template.

use std::sync::Arc;

use marked_yaml::Node;

use super::FileContext;
use crate::canonical::{ErrorKind, Reason};
use crate::mapping::diag::Diagnostics;
use crate::mapping::plan::{ErrorKey, ErrorPlan};
use crate::mapping::spec::{self, key_list};
use crate::mapping::template::{compile as compile_template, DocShape, Shape};
use crate::mapping::yaml::{self, Fields, Spanned};

/// Compiles an `errors:` mapping; `with_body` allows the `body` template
/// (dialect level) or not (route overrides).
pub fn compile(
    node: &Node,
    cx: &FileContext,
    with_body: bool,
    d: &mut Diagnostics,
) -> Option<ErrorPlan> {
    let keys = if with_body {
        key_list!(spec::DialectErrors)
    } else {
        key_list!(spec::RouteErrors)
    };
    let f = Fields::new(node, "errors", keys, d)?;
    let mut plan = ErrorPlan::default();
    for (key, value) in f.entries("status", d) {
        let Some(k) = error_key(&key, d) else {
            continue;
        };
        match value
            .as_scalar()
            .and_then(|s| s.as_str().parse::<u16>().ok())
        {
            Some(status) if (100..=599).contains(&status) => {
                plan.status.insert(k, status);
            }
            _ => {
                d.error(
                    value.span(),
                    "E004",
                    "an HTTP status must be a number from 100 to 599",
                );
            }
        }
    }
    for (key, value) in f.entries("codes", d) {
        let code = yaml::to_json(value);
        if key.value == "default" {
            plan.default_code = Some(code);
        } else if let Some(k) = error_key(&key, d) {
            plan.codes.insert(k, code);
        }
    }
    for (key, value) in f.entries("messages", d) {
        let Some(k) = error_key(&key, d) else {
            continue;
        };
        if let Some(text) = yaml::string(value, "message", d) {
            plan.messages.insert(k, text.value);
        }
    }
    if let Some(body) = f.get("body") {
        let doc = DocShape::new(vec![
            (
                "error",
                Shape::Keys(Arc::new(
                    ["kind", "reason", "code", "message", "status"]
                        .map(String::from)
                        .to_vec(),
                )),
            ),
            ("input", Shape::Open),
            ("config", Shape::Keys(Arc::new(cx.public_params()))),
        ]);
        let tcx = cx.templates(&doc);
        plan.body = compile_template(body, &Shape::Open, &tcx, d).map(Arc::new);
    }
    Some(plan)
}

/// Parses `kind` or `kind/reason`.
pub fn error_key(key: &Spanned<String>, d: &mut Diagnostics) -> Option<ErrorKey> {
    let (kind, reason) = match key.value.split_once('/') {
        Some((k, r)) => (k, Some(r)),
        None => (key.value.as_str(), None),
    };
    let Some(kind) = ErrorKind::parse(kind) else {
        d.error_len(
            &key.span,
            key.value.chars().count(),
            "E030",
            format!("unknown error kind `{kind}`"),
        )
        .hint(format!(
            "kinds: {}",
            ErrorKind::ALL.map(ErrorKind::as_str).join(", ")
        ));
        return None;
    };
    let reason = match reason {
        None => None,
        Some(r) => match Reason::parse(r) {
            Some(r) => Some(r),
            None => {
                d.error_len(
                    &key.span,
                    key.value.chars().count(),
                    "E030",
                    format!("unknown error reason `{r}`"),
                )
                .hint(format!(
                    "reasons: {}",
                    Reason::ALL.map(Reason::as_str).join(", ")
                ));
                return None;
            }
        },
    };
    Some((kind, reason))
}
