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

/// After a successful operation, records what it changed about passwords.
pub async fn record(frontend: &Frontend, op: &Op, result: &Output, now_ms: i64) -> Result<()> {
    let Some(store) = keeper(frontend) else {
        return Ok(());
    };
    let app = frontend.app_key.as_str();
    match (op, result) {
        (Op::UserRegister(req), Output::UserRegister(res)) => {
            let registered: Vec<(&str, &str)> = req
                .users
                .iter()
                .zip(&res.items)
                .filter(|(_, item)| item.error.is_none())
                .filter_map(|(user, _)| Some((user.username.as_str(), user.password.as_deref()?)))
                .collect();
            store.set_passwords(app, &registered, now_ms).await?
        }
        (Op::UserPasswordSet(req), _) => {
            store
                .set_passwords(app, &[(&req.username, &req.password)], now_ms)
                .await?
        }
        (Op::UserDelete(req), _) => store.forget_passwords(app, &req.usernames).await?,
        _ => {}
    }
    Ok(())
}
