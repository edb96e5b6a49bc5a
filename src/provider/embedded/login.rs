//! Logging in: passwords, authentication, IM tokens, login status and the
//! disable flag.

use super::users::{create_user, find_user, no_user, user_id};
use super::{validate, EmbeddedProvider};
use crate::auth::password::random_string;
use crate::canonical::common::{Done, Items};
use crate::canonical::model::UserKind;
use crate::canonical::user::{
    StatusItem, Token, UserAuthenticate, UserDisable, UserPasswordSet, UserStatus, UserToken,
};
use crate::canonical::{Error, Reason, Result};
use crate::db::Tx;

/// Random bytes of an IM token (64 URL-safe characters).
const TOKEN_BYTES: usize = 48;

/// The IM token of user `id`: generated on first use and then stable; marks
/// the user as logged in.
pub(super) fn token_of(tx: &Tx<'_>, id: i64) -> Result<String> {
    tx.query_one(
        "UPDATE users SET token = COALESCE(token, ?2), login = TRUE WHERE id = ?1 RETURNING token",
        &[&id, &random_string(TOKEN_BYTES)],
        |r| r.get(0),
    )
}

/// What authentication needs to know about a user.
struct Credentials {
    id: i64,
    hash: Option<String>,
    disabled: bool,
    login: bool,
}

fn credentials(tx: &Tx<'_>, app: &str, username: &str) -> Result<Option<Credentials>> {
    tx.query_opt(
        "SELECT id, password, disabled, login FROM users WHERE app = ?1 AND username = ?2",
        &[&app, &username],
        |r| {
            Ok(Credentials {
                id: r.get(0)?,
                hash: r.get(1)?,
                disabled: r.get(2)?,
                login: r.get(3)?,
            })
        },
    )
}

impl EmbeddedProvider {
    /// `user.password.set`.
    pub(super) async fn password_set(&self, app: &str, req: UserPasswordSet) -> Result<Done> {
        validate::password(&req.password)?;
        let hash = self.passwords.hash(req.password).await?;
        let (owned_app, username) = (app.to_owned(), req.username.clone());
        self.db
            .write(move |tx| {
                let id = user_id(tx, &owned_app, &username)?;
                tx.execute(
                    "UPDATE users SET password = ?2 WHERE id = ?1",
                    &[&id, &hash],
                )?;
                Ok(())
            })
            .await?;
        Ok(Done {})
    }

    /// `user.authenticate`: the user's hash and flags are read every time (a
    /// change made through another replica counts at once); argon2 runs only
    /// for a (hash, password) pair not verified within the last minute.
    pub(super) async fn authenticate(&self, app: &str, req: UserAuthenticate) -> Result<Done> {
        let (username, password) = (req.username, req.password);
        let (owned_app, name) = (app.to_owned(), username.clone());
        let found = self
            .db
            .read(move |tx| credentials(tx, &owned_app, &name))
            .await?;
        let hash = found.as_ref().and_then(|f| f.hash.clone());
        let verified = self.passwords.verify(hash, password).await?;
        let user = match found {
            Some(user) if verified => user,
            _ => {
                return Err(Error::unauthenticated(
                    Reason::Credentials,
                    "invalid username or password",
                ))
            }
        };
        if user.disabled {
            return Err(disabled(&username));
        }
        if !user.login {
            let id = user.id;
            self.db
                .write(move |tx| {
                    tx.execute("UPDATE users SET login = TRUE WHERE id = ?1", &[&id])?;
                    Ok(())
                })
                .await?;
        }
        Ok(Done {})
    }

    /// `user.token`: the user's IM token; creates the user when missing and
    /// `create` is given.
    pub(super) async fn user_token(&self, app: &str, req: UserToken) -> Result<Token> {
        if let Some(profile) = &req.create {
            validate::username(&req.username)?;
            validate::profile(profile)?;
        }
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                let id = match (find_user(tx, &app, &req.username)?, &req.create) {
                    (Some(id), _) => id,
                    (None, Some(profile)) => {
                        create_user(tx, &app, &req.username, profile, UserKind::User)?
                    }
                    (None, None) => return Err(no_user(&req.username)),
                };
                Ok(Token {
                    token: token_of(tx, id)?,
                    username: req.username.clone(),
                })
            })
            .await
    }

    /// `user.status`: the embedded provider has no live connections, so `online` is false
    /// and `devices` empty; `login` tells whether the user ever got a token
    /// or authenticated.
    pub(super) async fn user_status(
        &self,
        app: &str,
        req: UserStatus,
    ) -> Result<Items<StatusItem>> {
        let app = app.to_owned();
        self.db
            .read(move |tx| {
                let mut items = Vec::with_capacity(req.usernames.len());
                for username in &req.usernames {
                    let login: Option<bool> = tx.query_opt(
                        "SELECT login FROM users WHERE app = ?1 AND username = ?2",
                        &[&app, username],
                        |r| r.get(0),
                    )?;
                    if login.is_none() && req.require_existing {
                        return Err(no_user(username));
                    }
                    items.push(StatusItem {
                        username: username.clone(),
                        exists: login.is_some(),
                        login: login.unwrap_or(false),
                        online: false,
                        devices: Vec::new(),
                    });
                }
                Ok(Items { items })
            })
            .await
    }

    /// `user.disable`: disabled users can neither authenticate nor send.
    pub(super) async fn user_disable(&self, app: &str, req: UserDisable) -> Result<Done> {
        let (owned_app, username) = (app.to_owned(), req.username.clone());
        self.db
            .write(move |tx| {
                let id = user_id(tx, &owned_app, &username)?;
                tx.execute(
                    "UPDATE users SET disabled = ?2 WHERE id = ?1",
                    &[&id, &req.disabled],
                )?;
                Ok(())
            })
            .await?;
        Ok(Done {})
    }
}

/// permission_denied/forbidden for a disabled user.
pub(super) fn disabled(username: &str) -> Error {
    Error::denied(Reason::Forbidden, format!("user {username} is disabled"))
}
