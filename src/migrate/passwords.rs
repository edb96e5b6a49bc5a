//! Passwords of users made on the target. No vendor exports them and the
//! hashes imbridge keeps cannot be replayed, so a user gets a random
//! password and is marked `password_pending`: the first login through
//! imbridge with a password the source accepts sets it on the target (lazy
//! password migration). A user whose kept hash already serves the target
//! (a target that cannot check passwords, where imbridge checks them) is not
//! pending.

use std::sync::Arc;

use rand::distr::{Alphanumeric, SampleString};

use crate::canonical::Result;
use crate::store::Store;

/// How passwords are chosen for one migration.
pub struct Passwords {
    store: Arc<Store>,
    app: String,
    /// The target checks passwords itself (`user.authenticate`); else
    /// imbridge's kept hashes do.
    target_checks: bool,
}

/// The password a new user gets on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// What to register the user with.
    pub password: String,
    /// The user cannot log in with it yet: set at the first login.
    pub pending: bool,
}

/// A random password: 24 letters and digits (fits every vendor's rules).
pub fn random() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 24)
}

impl Passwords {
    /// Passwords for users of `app` on a target that checks passwords itself
    /// or not.
    pub fn new(store: Arc<Store>, app: &str, target_checks: bool) -> Passwords {
        Passwords {
            store,
            app: app.to_string(),
            target_checks,
        }
    }

    /// The password `username` gets on the target.
    pub async fn choose(&self, username: &str) -> Result<Choice> {
        let kept = !self.target_checks && self.store.has_password(&self.app, username).await?;
        Ok(Choice {
            password: random(),
            pending: !kept,
        })
    }
}
