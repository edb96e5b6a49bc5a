//! Per-request signatures as SHA-1 over nonce, secret and timestamp in a
//! vendor's own order and separators. One piece of code signs outbound calls
//! and verifies inbound ones.
//!
//! WildfireChat: `sha1(nonce|secret|timestamp)`; RongCloud:
//! `sha1(secret nonce timestamp)` (plain concatenation).

use sha1::{Digest, Sha1};

/// One part of the signed string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// The nonce.
    Nonce,
    /// The shared secret.
    Secret,
    /// The timestamp as sent.
    Timestamp,
    /// Literal text (a separator).
    Text(String),
}

/// The order and separators of a signature, e.g. `{nonce}|{secret}|{timestamp}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout(Vec<Part>);

impl Layout {
    /// Parses a layout; `{nonce}`, `{secret}` and `{timestamp}` must each
    /// appear exactly once.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('{') {
                let end = after.find('}').ok_or("unclosed `{` in layout")?;
                parts.push(match &after[..end] {
                    "nonce" => Part::Nonce,
                    "secret" => Part::Secret,
                    "timestamp" => Part::Timestamp,
                    other => return Err(format!("unknown placeholder `{{{other}}}`; use {{nonce}}, {{secret}}, {{timestamp}}")),
                });
                rest = &after[end + 1..];
            } else {
                let end = rest.find('{').unwrap_or(rest.len());
                parts.push(Part::Text(rest[..end].to_string()));
                rest = &rest[end..];
            }
        }
        for needed in [Part::Nonce, Part::Secret, Part::Timestamp] {
            if parts.iter().filter(|p| **p == needed).count() != 1 {
                return Err("the layout needs {nonce}, {secret} and {timestamp} once each".into());
            }
        }
        Ok(Layout(parts))
    }

    /// Lowercase hex SHA-1 of the layout filled in.
    pub fn sign(&self, nonce: &str, secret: &str, timestamp: &str) -> String {
        let mut hasher = Sha1::new();
        for part in &self.0 {
            hasher.update(match part {
                Part::Nonce => nonce.as_bytes(),
                Part::Secret => secret.as_bytes(),
                Part::Timestamp => timestamp.as_bytes(),
                Part::Text(t) => t.as_bytes(),
            });
        }
        hex::encode(hasher.finalize())
    }
}

/// Milliseconds since the epoch from a timestamp in seconds or milliseconds
/// (vendors' SDKs send both; values below 10^11 are taken as seconds).
pub fn timestamp_ms(text: &str) -> Option<i64> {
    let v: i64 = text.trim().parse().ok()?;
    if v < 100_000_000_000 {
        v.checked_mul(1000)
    } else {
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_seconds_or_millis_and_no_overflow() {
        assert_eq!(timestamp_ms("1558350862"), Some(1_558_350_862_000));
        assert_eq!(timestamp_ms("1558350862502"), Some(1_558_350_862_502));
        assert_eq!(timestamp_ms("-9223372036854775808"), None);
        assert_eq!(timestamp_ms("x"), None);
    }

    #[test]
    fn wildfire_seed_vector() {
        let layout = Layout::parse("{nonce}|{secret}|{timestamp}").unwrap();
        assert_eq!(
            layout.sign("76616", "123456", "1558350862502"),
            "b98f9b0717f59febccf1440067a7f50d9b31bdde"
        );
    }

    #[test]
    fn rongcloud_vector() {
        let layout = Layout::parse("{secret}{nonce}{timestamp}").unwrap();
        assert_eq!(
            layout.sign("14314", "Y1W2MeFwwwRxa0", "1408710653491"),
            "dd11a264276f438b045b3b236a2741ddc89d48df"
        );
    }

    #[test]
    fn bad_layouts_are_rejected() {
        assert!(Layout::parse("{nonce}{timestamp}").is_err());
        assert!(Layout::parse("{nonce}{secret}{timestamp}{nonce}").is_err());
        assert!(Layout::parse("{nonce}{pepper}{timestamp}").is_err());
    }

    #[test]
    fn timestamps_in_seconds_or_millis() {
        assert_eq!(timestamp_ms("1558350862"), Some(1_558_350_862_000));
        assert_eq!(timestamp_ms("1558350862502"), Some(1_558_350_862_502));
        assert_eq!(timestamp_ms("x"), None);
    }
}
