//! A string that must never be printed nor be empty: `Debug` and `Display` show
//! `**REDACTED**`; `expose()` gives the value to the code that needs it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;

/// A secret string (password, master secret, token).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the code that signs or compares with it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares with `other` in constant time (for equal lengths).
    pub fn matches(&self, other: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), other.as_bytes())
    }
}

/// Byte comparison whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("**REDACTED**")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("**REDACTED**")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("**REDACTED**")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = String::deserialize(d)?;
        if value.trim().is_empty() {
            // An empty master secret or signing key would let anyone in.
            return Err(serde::de::Error::custom(
                "a secret cannot be empty: set a long random value",
            ));
        }
        Ok(Secret(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "**REDACTED** **REDACTED**");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"**REDACTED**\"");
        assert!(s.matches("hunter2"));
        assert!(!s.matches("hunter3"));
    }

    #[test]
    fn empty_secrets_are_refused() {
        let read = |text: &str| serde_json::from_str::<Secret>(text);
        assert_eq!(read("\"k3y\"").unwrap().expose(), "k3y");
        for empty in ["\"\"", "\"  \""] {
            let e = read(empty).err().unwrap();
            assert!(e.to_string().contains("cannot be empty"), "{e}");
        }
    }
}
