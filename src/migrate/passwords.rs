//! Passwords of users made on the target. No vendor exports them and the
//! hashes imbridge keeps cannot be replayed. A user whose plain password
//! imbridge captured (`[capture]`, `crate::auth::capture`) gets it on the
//! target; any other gets a random password and is marked
//! `password_pending`: the first login through imbridge with a password the
//! source accepts sets it on the target (lazy password migration). A user
//! whose kept hash already serves the target (a target that cannot check
//! passwords, where imbridge checks them) is not pending.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rand::distr::{Alphanumeric, SampleString};

use super::sides::Side;
use crate::auth::capture::Sealer;
use crate::canonical::user::UserPasswordSet;
use crate::canonical::{Op, Result};
use crate::store::Store;

/// How passwords are chosen for one migration.
pub struct Passwords {
    store: Arc<Store>,
    app: String,
    /// The target checks passwords itself (`user.authenticate`); else
    /// imbridge's kept hashes do.
    target_checks: bool,
    /// Opens captured passwords; none when no key is configured.
    captured: Option<Sealer>,
    /// Users given their captured password by this run.
    given: AtomicU64,
}

/// The password a new user gets on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// What to register the user with.
    pub password: String,
    /// The user cannot log in with it yet: set at the first login.
    pub pending: bool,
    /// It is the user's own, captured through imbridge.
    pub captured: bool,
}

/// A random password: 24 letters and digits (fits every vendor's rules).
pub fn random() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 24)
}

impl Passwords {
    /// Passwords for users of `app` on a target that checks passwords itself
    /// or not, using the passwords `captured` opens.
    pub fn new(
        store: Arc<Store>,
        app: &str,
        target_checks: bool,
        captured: Option<Sealer>,
    ) -> Passwords {
        Passwords {
            store,
            app: app.to_string(),
            target_checks,
            captured,
            given: AtomicU64::new(0),
        }
    }

    /// The password `username` gets on the target.
    pub async fn choose(&self, username: &str) -> Result<Choice> {
        if let Some(password) = self.captured(username).await? {
            if !self.target_checks {
                let now = chrono::Utc::now().timestamp_millis();
                let pw = [(username, password.as_str())];
                self.store.set_passwords(&self.app, &pw, now).await?;
            }
            return Ok(Choice {
                password,
                pending: false,
                captured: true,
            });
        }
        let kept = !self.target_checks && self.store.has_password(&self.app, username).await?;
        Ok(Choice {
            password: random(),
            pending: !kept,
            captured: false,
        })
    }

    async fn captured(&self, username: &str) -> Result<Option<String>> {
        match &self.captured {
            Some(sealer) => {
                self.store
                    .captured_password(sealer, &self.app, username)
                    .await
            }
            None => Ok(None),
        }
    }

    /// A user was made on the target with `choice`.
    pub fn made(&self, choice: &Choice) {
        if choice.captured {
            self.given.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A user the target has already: when an earlier run left it pending
    /// and its password was captured since, the password is set on the
    /// target and the user is pending no more.
    pub async fn settle(&self, target: &Side, choice: &Choice, username: &str) -> Result<()> {
        let to = target.name();
        if !choice.captured
            || self
                .store
                .pending_source(&self.app, to, username)
                .await?
                .is_none()
        {
            return Ok(());
        }
        if self.target_checks {
            let op = Op::UserPasswordSet(UserPasswordSet {
                username: username.to_string(),
                password: choice.password.clone(),
            });
            target.run(op).await?;
        }
        self.store.pending_done(&self.app, to, username).await?;
        self.made(choice);
        Ok(())
    }

    /// How many users this run gave their captured password.
    pub fn given(&self) -> u64 {
        self.given.load(Ordering::Relaxed)
    }
}
