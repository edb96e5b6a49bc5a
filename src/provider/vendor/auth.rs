//! Outbound credentials: Basic from params, a fresh signature per call, or a
//! token fetched once and cached (moka: TTL from the vendor's `expires_in`
//! minus a margin, one fetch for any number of concurrent misses).

use std::time::{Duration, Instant};

use base64::Engine;
use rand::Rng;

use crate::auth::Params;
use crate::canonical::{Error, Result};
use crate::mapping::outbound::token::Token;
use crate::mapping::outbound::{OutboundAuth, OutboundSignature};

struct TokenExpiry;

impl moka::Expiry<(), Token> for TokenExpiry {
    fn expire_after_create(&self, _key: &(), value: &Token, _now: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// The token cache of one provider (one token per provider).
pub fn token_cache() -> moka::future::Cache<(), Token> {
    moka::future::Cache::builder()
        .max_capacity(1)
        .expire_after(TokenExpiry)
        .build()
}

fn param<'a>(params: &'a Params, name: &str) -> Result<&'a str> {
    params
        .get(name)
        .map(|s| s.expose())
        .ok_or_else(|| Error::internal(format!("provider param `{name}` is not configured")))
}

/// Headers for the static schemes (Basic, signature); none for token auth
/// (the caller adds the cached token).
pub fn static_headers(
    auth: &OutboundAuth,
    params: &Params,
    now_ms: i64,
) -> Result<Vec<(String, String)>> {
    Ok(match auth {
        OutboundAuth::None | OutboundAuth::Token(_) => Vec::new(),
        OutboundAuth::Basic { username, password } => {
            let raw = format!("{}:{}", param(params, username)?, param(params, password)?);
            vec![(
                "authorization".into(),
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                ),
            )]
        }
        OutboundAuth::Signature(sig) => signature_headers(sig, params, now_ms)?,
    })
}

fn signature_headers(
    sig: &OutboundSignature,
    params: &Params,
    now_ms: i64,
) -> Result<Vec<(String, String)>> {
    let nonce = rand::rng()
        .random_range(100_000_000u64..10_000_000_000)
        .to_string();
    let timestamp = if sig.millis { now_ms } else { now_ms / 1000 }.to_string();
    let sign = sig
        .layout
        .sign(&nonce, param(params, &sig.secret)?, &timestamp);
    let mut headers = vec![
        (sig.nonce.clone(), nonce),
        (sig.timestamp.clone(), timestamp),
        (sig.sign.clone(), sign),
    ];
    if let Some(h) = &sig.app_key {
        headers.push((h.clone(), param(params, "app_key")?.to_string()));
    }
    Ok(headers)
}
