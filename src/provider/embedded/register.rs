//! `user.register`: batch registration where each item succeeds or fails on
//! its own; passwords of the new users are hashed in parallel.

use std::collections::HashSet;

use super::users::{find_user, insert_user, load_user, user_exists};
use super::{validate, EmbeddedProvider};
use crate::canonical::model::User;
use crate::canonical::user::{NewUser, RegisterItem, Registered, UserRegister};
use crate::canonical::{Error, Reason, Result};

/// Checks of one registration item that need no database.
fn check_new_user(user: &NewUser, require_password: bool) -> Result<()> {
    validate::username(&user.username)?;
    validate::profile(&user.profile)?;
    match user.password.as_deref() {
        Some(p) if !p.is_empty() => validate::password(p),
        _ if require_password => Err(Error::invalid(Reason::Param, "password is required")),
        _ => Ok(()),
    }
}

/// A registration item that passed its checks.
struct Pending {
    index: usize,
    user: NewUser,
    hash: Option<String>,
}

/// The items of `pending` whose positions are listed in `fresh` (ascending).
fn keep(pending: Vec<Pending>, fresh: &[usize]) -> Vec<Pending> {
    pending
        .into_iter()
        .enumerate()
        .filter(|(i, _)| fresh.binary_search(i).is_ok())
        .map(|(_, p)| p)
        .collect()
}

impl EmbeddedProvider {
    /// `user.register`: each item succeeds or fails on its own, or, when
    /// `atomic`, the first failure fails the whole request.
    pub(super) async fn user_register(&self, app: &str, req: UserRegister) -> Result<Registered> {
        let atomic = req.atomic;
        let usernames: Vec<String> = req.users.iter().map(|u| u.username.clone()).collect();
        let mut outcomes: Vec<Result<User>> = Vec::with_capacity(req.users.len());
        let mut seen = HashSet::new();
        let mut pending = Vec::new();
        for (index, user) in req.users.into_iter().enumerate() {
            let check = check_new_user(&user, req.require_password);
            let first = check.is_ok() && seen.insert(user.username.clone());
            if atomic {
                check.clone()?;
                if !first {
                    return Err(user_exists());
                }
            }
            // A valid item counts as "exists already" until inserted below.
            outcomes.push(check.and(Err(user_exists())));
            if first {
                pending.push(Pending {
                    index,
                    user,
                    hash: None,
                });
            }
        }
        // Skip hashing for users that exist already; the insert re-checks.
        let owned_app = app.to_owned();
        let names: Vec<String> = pending.iter().map(|p| p.user.username.clone()).collect();
        let fresh = self
            .db
            .read(move |tx| {
                let mut fresh = Vec::with_capacity(names.len());
                for (i, name) in names.iter().enumerate() {
                    if find_user(tx, &owned_app, name)?.is_none() {
                        fresh.push(i);
                    } else if atomic {
                        return Err(user_exists());
                    }
                }
                Ok(fresh)
            })
            .await?;
        let pending = keep(pending, &fresh);
        let pending = self.hash_pending(pending).await?;
        let (app, kind) = (app.to_owned(), req.kind);
        let inserted = self
            .db
            .write(move |tx| {
                let mut inserted = Vec::with_capacity(pending.len());
                for p in &pending {
                    let (name, profile) = (&p.user.username, &p.user.profile);
                    match insert_user(tx, &app, name, p.hash.as_deref(), profile, kind)? {
                        Some(id) => inserted.push((p.index, load_user(tx, id)?)),
                        // Registered meanwhile by another request.
                        None if atomic => return Err(user_exists()),
                        None => {}
                    }
                }
                Ok(inserted)
            })
            .await?;
        for (index, user) in inserted {
            outcomes[index] = Ok(user);
        }
        let items = usernames
            .into_iter()
            .zip(outcomes)
            .map(|(username, outcome)| match outcome {
                Ok(user) => RegisterItem {
                    username,
                    user: Some(user),
                    error: None,
                },
                Err(e) => RegisterItem {
                    username,
                    user: None,
                    error: Some(e),
                },
            })
            .collect();
        Ok(Registered { items })
    }

    /// Hashes the passwords of pending registrations in parallel.
    async fn hash_pending(&self, mut pending: Vec<Pending>) -> Result<Vec<Pending>> {
        let with_password: Vec<usize> = (0..pending.len())
            .filter(|&i| {
                pending[i]
                    .user
                    .password
                    .as_deref()
                    .is_some_and(|p| !p.is_empty())
            })
            .collect();
        let passwords = with_password
            .iter()
            .map(|&i| pending[i].user.password.take().unwrap_or_default())
            .collect();
        let hashes = self.passwords.hash_all(passwords).await?;
        for (i, hash) in with_password.into_iter().zip(hashes) {
            pending[i].hash = Some(hash);
        }
        Ok(pending)
    }
}
