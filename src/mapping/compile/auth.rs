//! The `auth:` section: which scheme, with which params.

use std::time::Duration;

use marked_yaml::Node;

use super::route::input_path;
use super::FileContext;
use crate::auth::signature::Layout;
use crate::auth::{InboundAuth, SignatureCheck};
use crate::canonical::auth::TokenScope;
use crate::mapping::diag::Diagnostics;
use crate::mapping::spec::{self, key_list};
use crate::mapping::yaml::{Fields, Spanned};

/// Compiles an `auth:` mapping (or the scalar `none`).
pub fn compile(node: &Node, cx: &FileContext, d: &mut Diagnostics) -> Option<InboundAuth> {
    if node.as_scalar().is_some_and(|s| s.as_str() == "none") {
        return Some(InboundAuth::None);
    }
    let f = Fields::new(node, "auth", key_list!(spec::AuthScheme), d)?;
    let scheme = f.required_string("scheme", d)?;
    let param = |key: &str, d: &mut Diagnostics| param(&f, key, cx, d);
    match scheme.value.as_str() {
        "none" => Some(InboundAuth::None),
        "basic" => Some(InboundAuth::Basic {
            username: param("username", d)?,
            password: param("password", d)?,
        }),
        "signature" => {
            let layout = layout(&f, d)?;
            let secret = param("secret", d)?;
            let headers = Fields::new(
                f.required("headers", d)?,
                "signature headers",
                key_list!(spec::SignatureHeaders),
                d,
            )?;
            let names = |key: &str, d: &mut Diagnostics| -> Vec<String> {
                headers
                    .strings(key, d)
                    .into_iter()
                    .map(|s| s.value.to_ascii_lowercase())
                    .collect()
            };
            let (nonce, timestamp, sign) =
                (names("nonce", d), names("timestamp", d), names("sign", d));
            if nonce.is_empty() || timestamp.is_empty() || sign.is_empty() {
                d.error(
                    &headers.span(),
                    "E003",
                    "signature headers need `nonce`, `timestamp` and `sign`",
                );
                return None;
            }
            let max_age = f
                .integer("max_age_secs", d)
                .map(|s| Duration::from_secs(s.value.max(0) as u64));
            let replay = f.boolean("reject_replay", d).unwrap_or(true).then(|| {
                // A timestamp passes while within max_age of now either way,
                // so a signature stays usable up to 2 × max_age after its
                // first use: remember it that long.
                max_age.unwrap_or(Duration::from_secs(24 * 3600)) * 2
            });
            Some(InboundAuth::Signature(SignatureCheck {
                layout,
                secret,
                nonce,
                timestamp,
                sign,
                app_key: names("app_key", d),
                max_age,
                replay,
            }))
        }
        "any" => {
            let of = f.required("of", d)?;
            let Some(items) = of.as_sequence() else {
                d.error(of.span(), "E003", "`of` is a list of auth schemes");
                return None;
            };
            let mut schemes = Vec::new();
            for item in items.iter() {
                match compile(item, cx, d)? {
                    InboundAuth::Any(_) => {
                        d.error(item.span(), "E003", "`any` cannot hold `any`");
                        return None;
                    }
                    scheme => schemes.push(scheme),
                }
            }
            if schemes.is_empty() {
                d.error(of.span(), "E003", "`of` names no scheme");
                return None;
            }
            Some(InboundAuth::Any(schemes))
        }
        "user_basic" => Some(InboundAuth::UserBasic {
            lowercase: f.boolean("lowercase", d).unwrap_or(false),
        }),
        "user_password" => Some(InboundAuth::UserPassword {
            username: input_path(f.required("username", d)?, d)?,
            password: input_path(f.required("password", d)?, d)?,
            lowercase: f.boolean("lowercase", d).unwrap_or(false),
        }),
        "params" => {
            let mut fields = Vec::new();
            for (name, node) in f.entries("match", d) {
                if !known_param(&name, cx, d) {
                    continue;
                }
                fields.push((name.value, input_path(node, d)?));
            }
            if fields.is_empty() {
                d.error(
                    &f.span(),
                    "E003",
                    "the params scheme needs `match: {PARAM: $.path, ...}`",
                );
                return None;
            }
            Some(InboundAuth::Params(fields))
        }
        "issued_token" => {
            let token = input_path(f.required("token", d)?, d)?;
            let scope_name = f.required_string("scope", d)?;
            let scope = match scope_name.value.as_str() {
                "app" => TokenScope::App,
                "user" => TokenScope::User,
                other => {
                    d.error(
                        &scope_name.span,
                        "E004",
                        format!("unknown token scope `{other}`"),
                    )
                    .hint("scope: app or user");
                    return None;
                }
            };
            Some(InboundAuth::IssuedToken {
                token,
                prefix: f.string("prefix", d).map(|p| p.value),
                scope,
            })
        }
        other => {
            d.error(
                &scheme.span,
                "E022",
                format!("unknown auth scheme `{other}`"),
            )
            .hint("schemes: none, basic, signature, user_password, user_basic, issued_token, params, any");
            None
        }
    }
}

/// A required key naming a declared param (E019 otherwise).
pub(super) fn param(
    f: &Fields,
    key: &str,
    cx: &FileContext,
    d: &mut Diagnostics,
) -> Option<String> {
    let name = f.required_string(key, d)?;
    known_param(&name, cx, d).then_some(name.value)
}

/// Whether `name` is a declared param; records E019 when not.
pub(super) fn known_param(name: &Spanned<String>, cx: &FileContext, d: &mut Diagnostics) -> bool {
    if cx.has_param(&name.value) {
        return true;
    }
    d.error_len(
        &name.span,
        name.value.chars().count(),
        "E019",
        format!("unknown param `{}`", name.value),
    )
    .hint(format!(
        "declare it under `params:`; declared: {}",
        cx.param_names()
    ));
    false
}

/// The `layout:` of a signature scheme (E021 when it does not parse).
pub(super) fn layout(f: &Fields, d: &mut Diagnostics) -> Option<Layout> {
    let text = f.required_string("layout", d)?;
    match Layout::parse(&text.value) {
        Ok(l) => Some(l),
        Err(e) => {
            d.error(&text.span, "E021", format!("bad signature layout: {e}"));
            None
        }
    }
}
