//! Passwords for providers that cannot check them (JMessage, RongCloud,
//! WildfireChat have no password check in their server APIs): imbridge keeps
//! an argon2 hash of every password set through it — on registration and
//! password changes — and checks logins against it. Users registered outside
//! imbridge log in once a password was set through imbridge.

use super::Frontend;
use crate::auth::password_keeper;
use crate::canonical::{Op, Output, Result};

/// After a successful operation, records what it changed about passwords.
pub async fn record(frontend: &Frontend, op: &Op, result: &Output, now_ms: i64) -> Result<()> {
    let Some(store) = password_keeper(frontend.store.as_deref(), frontend.provider.as_ref()) else {
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
