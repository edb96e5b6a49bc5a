//! Kept passwords, the caller side: for providers that cannot check
//! passwords (JMessage, RongCloud, WildfireChat have no password check in
//! their server APIs), imbridge keeps an argon2 hash of every password set
//! through it — on registration and password changes — and checks logins
//! (`user.authenticate`) against it. Users registered outside imbridge log
//! in once a password was set through imbridge (or, copied by `imbridge
//! migrate` without one, with the password their source knows:
//! `migrate_lazily`). The hashes live in the store (`store::passwords`).

use super::Frontend;
use crate::canonical::common::Done;
use crate::canonical::user::UserAuthenticate;
use crate::canonical::{Error, ErrorKind, Op, OpName, Output, Result};
use crate::provider::CallContext;
use crate::store::Store;

/// The store that keeps and checks the frontend's passwords, when its
/// provider cannot check them itself.
pub fn keeper(frontend: &Frontend) -> Option<&Store> {
    frontend
        .store
        .as_deref()
        .filter(|_| !frontend.provider.supports(OpName::UserAuthenticate))
}

/// `user.authenticate` against the kept passwords.
pub async fn check(store: &Store, app_key: &str, login: &UserAuthenticate) -> Result<Output> {
    store
        .check_password(app_key, &login.username, &login.password)
        .await?;
    Ok(Output::UserAuthenticate(Done {}))
}

/// After a login was refused: a user `imbridge migrate` copied without a
/// password may still log in with the one its source provider knows
/// (`migrate::lazy`); otherwise the refusal stands.
pub async fn migrate_lazily(
    frontend: &Frontend,
    call: &CallContext,
    login: &UserAuthenticate,
    refused: Error,
) -> Result<()> {
    let Some(lazy) = frontend.lazy.as_deref() else {
        return Err(refused);
    };
    if refused.kind != ErrorKind::Unauthenticated {
        return Err(refused);
    }
    let accepted = lazy
        .accept(
            frontend.provider.as_ref(),
            call,
            &login.username,
            &login.password,
        )
        .await?;
    if accepted {
        Ok(())
    } else {
        Err(refused)
    }
}

/// The passwords a successful operation set: of the users a registration
/// made, of a password change.
fn set_by<'a>(op: &'a Op, result: &Output) -> Vec<(&'a str, &'a str)> {
    match (op, result) {
        (Op::UserRegister(req), Output::UserRegister(res)) => req
            .users
            .iter()
            .zip(&res.items)
            .filter(|(_, item)| item.error.is_none())
            .filter_map(|(user, _)| Some((user.username.as_str(), user.password.as_deref()?)))
            .collect(),
        (Op::UserPasswordSet(req), _) => vec![(req.username.as_str(), req.password.as_str())],
        _ => Vec::new(),
    }
}

/// After a successful operation, records what it changed about passwords:
/// kept hashes, captured passwords.
pub async fn record(frontend: &Frontend, op: &Op, result: &Output, now_ms: i64) -> Result<()> {
    let app = frontend.app_key.as_str();
    let set = set_by(op, result);
    capture(frontend, &set, now_ms).await;
    if let (Op::UserDelete(req), Some(store)) = (op, frontend.store.as_deref()) {
        if frontend.capture.is_some() {
            store.forget_captured(app, Some(&req.usernames)).await?;
        }
    }
    let Some(store) = keeper(frontend) else {
        return Ok(());
    };
    match op {
        Op::UserDelete(req) => store.forget_passwords(app, &req.usernames).await,
        _ => store.set_passwords(app, &set, now_ms).await,
    }
}

/// Keeps passwords seen (set, or accepted at a login) sealed, when capture
/// is on (`crate::auth::capture`). The caller's operation succeeded: a
/// failure to keep one is logged (never the password), and that user's
/// password stays pending in a migration.
pub async fn capture(frontend: &Frontend, passwords: &[(&str, &str)], now_ms: i64) {
    let (Some(sealer), Some(store)) = (frontend.capture.as_deref(), frontend.store.as_deref())
    else {
        return;
    };
    let kept = store
        .capture_passwords(sealer, &frontend.app_key, passwords, now_ms)
        .await;
    if let Err(e) = kept {
        tracing::warn!(frontend = %frontend.name, users = passwords.len(), error = %e,
            "a password seen could not be captured");
    }
}

/// Keeps the password of an accepted login sealed, when capture is on and
/// it is not the one kept already (a login writes only when it changed).
pub async fn capture_login(frontend: &Frontend, login: &UserAuthenticate, now_ms: i64) {
    let (Some(sealer), Some(store)) = (frontend.capture.as_deref(), frontend.store.as_deref())
    else {
        return;
    };
    let kept = store
        .captured_password(sealer, &frontend.app_key, &login.username)
        .await;
    if kept.is_ok_and(|pw| pw.as_deref() == Some(login.password.as_str())) {
        return;
    }
    capture(frontend, &[(&login.username, &login.password)], now_ms).await;
}
