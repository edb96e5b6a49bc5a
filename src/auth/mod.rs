//! Auth primitives named by mapping files. Inbound: who is calling (HTTP Basic
//! against frontend params, signature headers with a freshness window and
//! replay check). The schemes are written here once; mapping files only pick
//! one and name its parameters.

pub mod secret;
pub mod signature;

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use http::HeaderMap;

use crate::canonical::{Error, Reason};
pub use secret::Secret;
use signature::Layout;

/// Parameter values of one frontend, by name.
pub type Params = HashMap<String, Secret>;

/// Who the caller turned out to be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The authenticated user, for per-user schemes.
    pub username: Option<String>,
}

/// How inbound callers of a dialect authenticate.
#[derive(Debug)]
pub enum InboundAuth {
    /// Anyone may call.
    None,
    /// `Authorization: Basic base64(user:password)` against two params.
    Basic {
        /// Param holding the expected user name (e.g. `app_key`).
        username: String,
        /// Param holding the expected password (e.g. `master_secret`).
        password: String,
    },
    /// Signature headers over nonce, secret and timestamp.
    Signature(SignatureCheck),
}

/// Inbound signature verification.
#[derive(Debug)]
pub struct SignatureCheck {
    /// Order and separators of the signed string.
    pub layout: Layout,
    /// Param holding the shared secret.
    pub secret: String,
    /// Header names (first found wins) of the nonce.
    pub nonce: Vec<String>,
    /// Header names of the timestamp.
    pub timestamp: Vec<String>,
    /// Header names of the signature.
    pub sign: Vec<String>,
    /// Header names of an app key that must equal the `app_key` param.
    pub app_key: Vec<String>,
    /// Maximum age of the timestamp; none disables the check.
    pub max_age: Option<Duration>,
    /// Seen signatures within `max_age`, to reject replays.
    pub replay: Option<moka::sync::Cache<String, ()>>,
}

fn header<'a>(headers: &'a HeaderMap, names: &[String]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| headers.get(n.as_str()))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn param<'a>(params: &'a Params, name: &str) -> Result<&'a Secret, Error> {
    params
        .get(name)
        .ok_or_else(|| Error::internal(format!("frontend param `{name}` is not configured")))
}

impl InboundAuth {
    /// Checks a request's credentials. Called once per request before the
    /// canonical request is built.
    pub fn check(
        &self,
        headers: &HeaderMap,
        params: &Params,
        now_ms: i64,
    ) -> Result<Caller, Error> {
        match self {
            InboundAuth::None => Ok(Caller::default()),
            InboundAuth::Basic { username, password } => {
                let expected_user = param(params, username)?;
                let expected_pass = param(params, password)?;
                let missing =
                    || Error::unauthenticated(Reason::Credentials, "Basic authentication failed");
                let value = headers
                    .get(http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(missing)?;
                let encoded = value
                    .strip_prefix("Basic ")
                    .or_else(|| value.strip_prefix("basic "))
                    .ok_or_else(missing)?;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .map_err(|_| missing())?;
                let text = String::from_utf8(decoded).map_err(|_| missing())?;
                let (user, pass) = text.split_once(':').ok_or_else(missing)?;
                // Evaluate both comparisons so timing does not reveal which failed.
                let user_ok = expected_user.matches(user);
                let pass_ok = expected_pass.matches(pass);
                if user_ok & pass_ok {
                    Ok(Caller::default())
                } else {
                    Err(missing())
                }
            }
            InboundAuth::Signature(check) => check.verify(headers, params, now_ms),
        }
    }
}

impl SignatureCheck {
    fn verify(&self, headers: &HeaderMap, params: &Params, now_ms: i64) -> Result<Caller, Error> {
        let (Some(nonce), Some(ts), Some(sign)) = (
            header(headers, &self.nonce),
            header(headers, &self.timestamp),
            header(headers, &self.sign),
        ) else {
            return Err(Error::unauthenticated(
                Reason::Signature,
                "request is not signed",
            ));
        };
        let Some(ts_ms) = signature::timestamp_ms(ts) else {
            return Err(Error::unauthenticated(
                Reason::Signature,
                "request is not signed",
            ));
        };
        if !self.app_key.is_empty() {
            let expected = param(params, "app_key")?;
            if !header(headers, &self.app_key).is_some_and(|k| expected.matches(k)) {
                return Err(Error::unauthenticated(
                    Reason::Credentials,
                    "app key mismatch",
                ));
            }
        }
        if let Some(max_age) = self.max_age {
            if (now_ms - ts_ms).unsigned_abs() > max_age.as_millis() as u64 {
                return Err(Error::unauthenticated(Reason::Expired, "signature expired"));
            }
        }
        let secret = param(params, &self.secret)?;
        let expected = self.layout.sign(nonce, secret.expose(), ts);
        if !secret::constant_time_eq(expected.as_bytes(), sign.to_ascii_lowercase().as_bytes()) {
            return Err(Error::unauthenticated(Reason::Credentials, "auth failure"));
        }
        if let Some(seen) = &self.replay {
            let key = format!("{nonce}\u{0}{ts}\u{0}{sign}");
            if seen.contains_key(&key) {
                return Err(Error::unauthenticated(
                    Reason::Expired,
                    "signature already used",
                ));
            }
            seen.insert(key, ());
        }
        Ok(Caller::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params::from([
            ("app_key".to_string(), Secret::new("appkey1")),
            ("master_secret".to_string(), Secret::new("secret1")),
            ("secret".to_string(), Secret::new("123456")),
        ])
    }

    #[test]
    fn basic_auth_accepts_the_configured_pair_only() {
        let auth = InboundAuth::Basic {
            username: "app_key".into(),
            password: "master_secret".into(),
        };
        let mut h = HeaderMap::new();
        assert_eq!(
            auth.check(&h, &params(), 0).unwrap_err().reason,
            Some(Reason::Credentials)
        );
        h.insert(
            "authorization",
            "Basic YXBwa2V5MTpzZWNyZXQx".parse().unwrap(),
        );
        assert!(auth.check(&h, &params(), 0).is_ok());
        h.insert(
            "authorization",
            "Basic YXBwa2V5MTpzZWNyZXQy".parse().unwrap(),
        );
        assert!(auth.check(&h, &params(), 0).is_err());
    }

    fn wildfire(max_age: Option<Duration>) -> InboundAuth {
        InboundAuth::Signature(SignatureCheck {
            layout: Layout::parse("{nonce}|{secret}|{timestamp}").unwrap(),
            secret: "secret".into(),
            nonce: vec!["nonce".into()],
            timestamp: vec!["timestamp".into()],
            sign: vec!["sign".into()],
            app_key: vec![],
            max_age,
            replay: Some(moka::sync::Cache::new(1000)),
        })
    }

    fn signed(nonce: &str, ts: &str, sign: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("nonce", nonce.parse().unwrap());
        h.insert("timestamp", ts.parse().unwrap());
        h.insert("sign", sign.parse().unwrap());
        h
    }

    #[test]
    fn signature_seed_vector_then_replay() {
        let auth = wildfire(None);
        let h = signed(
            "76616",
            "1558350862502",
            "b98f9b0717f59febccf1440067a7f50d9b31bdde",
        );
        assert!(auth.check(&h, &params(), 0).is_ok());
        let replay = auth.check(&h, &params(), 0).unwrap_err();
        assert_eq!(replay.reason, Some(Reason::Expired));
    }

    #[test]
    fn signature_freshness_and_mismatch() {
        let auth = wildfire(Some(Duration::from_secs(7200)));
        let h = signed(
            "76616",
            "1558350862502",
            "b98f9b0717f59febccf1440067a7f50d9b31bdde",
        );
        let now = 1_558_350_862_502 + 3 * 3600 * 1000;
        assert_eq!(
            auth.check(&h, &params(), now).unwrap_err().reason,
            Some(Reason::Expired)
        );
        let bad = signed("76616", "1558350862502", "00");
        assert_eq!(
            auth.check(&bad, &params(), 1_558_350_862_502)
                .unwrap_err()
                .reason,
            Some(Reason::Credentials)
        );
        assert_eq!(
            auth.check(&HeaderMap::new(), &params(), 0)
                .unwrap_err()
                .reason,
            Some(Reason::Signature)
        );
    }
}
