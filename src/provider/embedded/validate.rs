//! Checks of client-supplied strings; each failure is invalid_argument/param
//! with a message naming the rule.

use crate::canonical::model::Profile;
use crate::canonical::{Error, Reason, Result};

/// Longest username, password or display name, in bytes.
const MAX_LEN: usize = 128;

/// Longest caller-chosen group or room id, in bytes.
const MAX_ID_LEN: usize = 64;

/// Characters a username must not contain (they break URLs).
const FORBIDDEN: &[char] = &['/', '\\', '?', '#', '%'];

fn param(message: impl Into<String>) -> Error {
    Error::invalid(Reason::Param, message)
}

/// A username: 1–128 bytes, starting with a letter or digit, without
/// whitespace, control characters or any of `/ \ ? # %`.
pub(super) fn username(name: &str) -> Result<()> {
    let starts_well = name.chars().next().is_some_and(char::is_alphanumeric);
    let clean = !name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || FORBIDDEN.contains(&c));
    if name.len() > MAX_LEN || !starts_well || !clean {
        return Err(param(format!(
            "invalid username {name:?}: 1-128 bytes, starting with a letter or digit, \
             without spaces or / \\ ? # %"
        )));
    }
    Ok(())
}

/// A password: at most 128 bytes.
pub(super) fn password(password: &str) -> Result<()> {
    if password.len() > MAX_LEN {
        return Err(param("password longer than 128 bytes"));
    }
    Ok(())
}

/// A display name (`field` names it in the message): at most 128 bytes, one line.
pub(super) fn name(field: &str, value: &str) -> Result<()> {
    if value.len() > MAX_LEN || value.contains(['\n', '\r']) {
        return Err(param(format!(
            "{field} must be at most 128 bytes on one line"
        )));
    }
    Ok(())
}

/// The profile fields with rules: the nickname is a display name.
pub(super) fn profile(profile: &Profile) -> Result<()> {
    profile
        .nickname
        .as_deref()
        .map_or(Ok(()), |n| name("nickname", n))
}

/// A caller-chosen group or room id: 1–64 bytes.
pub(super) fn id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(param("id must be 1-64 bytes"));
    }
    Ok(())
}
