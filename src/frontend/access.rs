//! Who may still call after an operation changed a user, on every provider:
//! a password change, a delete or a disable revokes the user's issued
//! tokens; a user disabled through imbridge is refused at login and when a
//! token is issued to them until enabled again. Kept in the store, so every
//! replica agrees.

use super::Frontend;
use crate::canonical::{Error, Op, Reason, Result};
use crate::store::Revocation;

/// After a successful operation of `frontend`, revokes and records what it
/// changed about who may call.
pub async fn record(frontend: &Frontend, op: &Op, now_ms: i64) -> Result<()> {
    let Some(store) = frontend.store.as_deref() else {
        return Ok(());
    };
    let app = frontend.app_key.as_str();
    match op {
        Op::UserPasswordSet(req) => {
            store
                .revoke(app, &req.username, Revocation::PasswordChange)
                .await?;
        }
        Op::UserDelete(req) => {
            for user in &req.usernames {
                store.revoke(app, user, Revocation::Delete).await?;
                store.set_disabled(app, user, false, now_ms).await?;
            }
        }
        Op::UserDisable(req) => {
            store
                .set_disabled(app, &req.username, req.disabled, now_ms)
                .await?;
            if req.disabled {
                store
                    .revoke(app, &req.username, Revocation::Disable)
                    .await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Refuses `username` when disabled through imbridge
/// (permission_denied/forbidden, as providers refuse their disabled users).
pub async fn refuse_disabled(frontend: &Frontend, username: &str) -> Result<()> {
    let Some(store) = frontend.store.as_deref() else {
        return Ok(());
    };
    match store.is_disabled(&frontend.app_key, username).await? {
        true => Err(Error::denied(
            Reason::Forbidden,
            format!("user {username} is disabled"),
        )),
        false => Ok(()),
    }
}
