//! Operations imbridge runs itself, with its own store (`OpName::is_local`):
//! issuing tokens to callers of dialects that log in through imbridge (never
//! to a user disabled through imbridge).

use std::time::Duration;

use super::Frontend;
use crate::canonical::auth::{IssuedToken, TokenScope};
use crate::canonical::{Error, Op, Output, Reason, Result};

/// Runs a local operation for `frontend`.
pub async fn execute(frontend: &Frontend, op: Op, now_ms: i64) -> Result<Output> {
    match op {
        Op::AuthTokenIssue(req) => {
            let store = frontend
                .store
                .as_ref()
                .ok_or_else(|| Error::internal("auth.token.issue needs the store"))?;
            if req.scope == TokenScope::User {
                let Some(user) = req.subject.as_deref().filter(|s| !s.is_empty()) else {
                    return Err(Error::invalid(
                        Reason::Param,
                        "a user token needs a subject",
                    ));
                };
                super::access::refuse_disabled(frontend, user).await?;
            }
            let ttl = req
                .ttl_secs
                .filter(|s| *s > 0)
                .map(|s| Duration::from_secs(s as u64));
            let (token, ttl) = store
                .issue(
                    &frontend.name,
                    &frontend.app_key,
                    req.scope,
                    req.subject.clone(),
                    ttl,
                    now_ms,
                )
                .await?;
            Ok(Output::AuthTokenIssue(IssuedToken {
                token,
                scope: req.scope,
                subject: req.subject,
                expires_in: ttl.as_secs() as i64,
            }))
        }
        other => Err(Error::internal(format!(
            "{} is not a local operation",
            other.name()
        ))),
    }
}
