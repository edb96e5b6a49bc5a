//! Reading a vendor's answer as success or canonical error: the dialect's
//! `errors` (a `failed` test for 2xx answers that are errors, where the code
//! and message are) and rules from the step, the operation and the dialect,
//! first match wins. Unmatched errors are `upstream_error`, naming the vendor
//! code and message (never our credentials).

use serde_json::Value;

use super::call::upstream;
#[cfg(doc)]
use super::call::Answer;
use super::plan::{ErrorRule, VendorErrors};
use crate::canonical::{Error, Source};
use crate::mapping::template::eval::{loose_eq, scalar_text, truthy};
use crate::mapping::template::{eval, EvalEnv};

/// Ok when the answer (`status` and its [`Answer::into_json`] document) is a
/// success (or a rule says the error is fine), else the canonical error.
pub fn check(
    status: u16,
    doc: &Value,
    errors: &VendorErrors,
    rules: &[&[ErrorRule]],
    provider: &str,
    now_ms: i64,
) -> Result<(), Error> {
    let env = EvalEnv {
        doc,
        codes: None,
        now_ms,
    };
    let look = |t: &Option<crate::mapping::template::Template>| -> Option<Value> {
        t.as_ref()
            .and_then(|t| eval(t, &env).ok().flatten())
            .filter(|v| !v.is_null())
    };
    let failed = (200..300)
        .contains(&status)
        .then(|| truthy(&look(&errors.failed)));
    if failed == Some(false) {
        return Ok(());
    }
    let code = look(&errors.code);
    let message = look(&errors.message).map(|m| scalar_text(&m));
    let rule = rules
        .iter()
        .flat_map(|r| r.iter())
        .find(|r| matches(r, status, code.as_ref()));
    match rule {
        Some(ErrorRule { error: None, .. }) => Ok(()),
        Some(ErrorRule {
            error: Some((kind, reason)),
            ..
        }) => {
            let mut e = Error::new(
                *kind,
                message.unwrap_or_else(|| format!("provider {provider} refused the request")),
            )
            .with_source(Source::Provider);
            e.reason = *reason;
            Err(e)
        }
        None => Err(upstream(format!(
            "provider {provider} answered HTTP {}{}{}",
            status,
            code.map(|c| format!(", code {}", scalar_text(&c)))
                .unwrap_or_default(),
            message.map(|m| format!(": {m}")).unwrap_or_default(),
        ))),
    }
}

fn matches(rule: &ErrorRule, status: u16, code: Option<&Value>) -> bool {
    let status_ok = rule.status.is_empty() || rule.status.contains(&status);
    let code_ok =
        rule.code.is_empty() || code.is_some_and(|c| rule.code.iter().any(|r| loose_eq(r, c)));
    status_ok && code_ok
}
