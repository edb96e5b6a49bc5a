//! Operations imbridge runs itself, with its own store, whatever the provider:
//! issuing the tokens that some dialects hand to their callers (Easemob
//! `/token`, the `/hx/getToken` wrapper, an app's login endpoint).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Who a token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    /// The app's administrator (server-to-server calls).
    App,
    /// One user (the token's subject).
    User,
}

impl TokenScope {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::App => "app",
            TokenScope::User => "user",
        }
    }
}

/// `auth.token.issue`: a new token for the app or a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenIssue {
    /// App or user token.
    pub scope: TokenScope,
    /// The user, for user tokens.
    #[serde(default)]
    pub subject: Option<String>,
    /// Lifetime in seconds; 0 or absent means the default of the route.
    #[serde(default)]
    pub ttl_secs: Option<i64>,
}

/// An issued token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IssuedToken {
    /// The token (shown once; only its digest is stored).
    pub token: String,
    /// App or user token.
    pub scope: TokenScope,
    /// The user, for user tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Seconds until it expires (every issued token does).
    pub expires_in: i64,
}
