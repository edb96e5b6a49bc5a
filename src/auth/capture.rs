//! Captured passwords. No vendor exports its users' passwords, so a user
//! `imbridge migrate` copies would log in on the target only after a first
//! login through imbridge (lazy password migration). With `[capture]
//! passwords = true`, imbridge keeps the plain passwords it sees on
//! registrations, password changes and logins, sealed with
//! XChaCha20-Poly1305 under the operator's key (a random nonce each, bound to
//! the app and the user so that a sealed password cannot be moved to another
//! user), and `imbridge migrate` sets them on the target. The key comes from
//! the config or the environment (`IMBRIDGE_CAPTURE__KEY`), is never
//! logged, and is refused when it is the development value shipped in
//! config/ while a listener serves beyond loopback.

use std::fmt;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

use super::Secret;

/// `[capture]`: keeping plain passwords seen through imbridge, sealed, for
/// `imbridge migrate`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureConfig {
    /// Keep the passwords of registrations, password changes and logins.
    pub passwords: bool,
    /// The sealing key: 64 hex digits (32 random bytes, e.g. `openssl rand
    /// -hex 32`); from the environment (`IMBRIDGE_CAPTURE__KEY`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Secret>,
}

impl CaptureConfig {
    /// The sealer when capture is on; `Err` says why the key is refused.
    /// `shipped` are the development keys of the shipped configs,
    /// `beyond_loopback` a listener serving beyond loopback, if any.
    pub fn sealer(
        &self,
        shipped: &[Secret],
        beyond_loopback: Option<&str>,
    ) -> Result<Option<Sealer>, String> {
        if !self.passwords {
            return Ok(None);
        }
        let Some(key) = &self.key else {
            return Err("[capture] passwords = true needs a key: 64 hex digits \
                 (IMBRIDGE_CAPTURE__KEY, e.g. from `openssl rand -hex 32`)"
                .into());
        };
        if let Some(listen) = beyond_loopback {
            if shipped.iter().any(|s| key.matches(s.expose())) {
                return Err(format!(
                    "[capture] key is the development value shipped in config/ and {listen} \
                     serves beyond loopback: set your own (IMBRIDGE_CAPTURE__KEY)"
                ));
            }
        }
        Sealer::new(key).map(Some)
    }
}

/// Seals and opens captured passwords under one key.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(**REDACTED**)")
    }
}

/// Bytes of a nonce, stored before the ciphertext.
const NONCE: usize = 24;

/// What a sealed password is bound to: its app and its user.
fn bound(app: &str, user: &str) -> Vec<u8> {
    [app.as_bytes(), b"\0", user.as_bytes()].concat()
}

impl Sealer {
    /// A sealer with `key` (64 hex digits); the error never shows the key.
    pub fn new(key: &Secret) -> Result<Sealer, String> {
        let bytes = hex::decode(key.expose().trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or("[capture] key must be 64 hex digits (32 bytes)")?;
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
            .map_err(|_| "[capture] key must be 32 bytes")?;
        Ok(Sealer { cipher })
    }

    /// `password` of `user` in `app`, sealed (base64 of nonce and ciphertext).
    pub fn seal(&self, app: &str, user: &str, password: &str) -> String {
        let mut nonce = [0u8; NONCE];
        rand::fill(&mut nonce);
        let aad = bound(app, user);
        let payload = Payload {
            msg: password.as_bytes(),
            aad: &aad,
        };
        // Encryption into a Vec fails only beyond 256 GiB of input.
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), payload)
            .unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode([&nonce[..], &sealed].concat())
    }

    /// The password `seal` sealed for `user` in `app`; `None` when it was
    /// sealed under another key, for another user, or altered.
    pub fn open(&self, app: &str, user: &str, sealed: &str) -> Option<String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .ok()?;
        if bytes.len() < NONCE {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE);
        let aad = bound(app, user);
        let payload = Payload {
            msg: ciphertext,
            aad: &aad,
        };
        let nonce = XNonce::try_from(nonce).ok()?;
        let plain = self.cipher.decrypt(&nonce, payload).ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn a_sealed_password_opens_for_its_user_only() {
        let s = Sealer::new(&Secret::new(KEY)).unwrap();
        let sealed = s.seal("app", "bob", "hunter2");
        assert!(!sealed.contains("hunter2"));
        assert_ne!(sealed, s.seal("app", "bob", "hunter2"), "a nonce each");
        assert_eq!(s.open("app", "bob", &sealed).as_deref(), Some("hunter2"));
        assert_eq!(s.open("app", "eve", &sealed), None);
        assert_eq!(s.open("other", "bob", &sealed), None);
        let other = Sealer::new(&Secret::new(KEY.replace('0', "1"))).unwrap();
        assert_eq!(other.open("app", "bob", &sealed), None);
        let mut altered = base64::engine::general_purpose::STANDARD
            .decode(&sealed)
            .unwrap();
        altered[30] ^= 1;
        let altered = base64::engine::general_purpose::STANDARD.encode(altered);
        assert_eq!(s.open("app", "bob", &altered), None);
        assert_eq!(s.open("app", "bob", "not base64!"), None);
    }

    #[test]
    fn keys_are_checked_and_never_shown() {
        let on = |key: Option<&str>| CaptureConfig {
            passwords: true,
            key: key.map(Secret::new),
        };
        assert!(CaptureConfig::default()
            .sealer(&[], None)
            .unwrap()
            .is_none());
        assert!(on(None).sealer(&[], None).is_err());
        let short = on(Some("abcd")).sealer(&[], None).unwrap_err();
        assert!(!short.contains("abcd"), "{short}");
        let shipped = [Secret::new(KEY)];
        assert!(on(Some(KEY)).sealer(&shipped, None).unwrap().is_some());
        let refused = on(Some(KEY))
            .sealer(&shipped, Some("0.0.0.0:8080"))
            .unwrap_err();
        assert!(refused.contains("development value") && !refused.contains(KEY));
        assert_eq!(
            format!("{:?}", Sealer::new(&Secret::new(KEY)).unwrap()),
            "Sealer(**REDACTED**)"
        );
    }
}
