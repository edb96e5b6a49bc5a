//! The accounts imbridge answers for: the configured customer and
//! customer-service accounts, and robot users.

use rand::Rng;

use super::config::AccountConfig;
use super::login::token_of;
use super::users::{create_user, find_user, load_user, patch_profile, user_id};
use super::{validate, EmbeddedProvider};
use crate::auth::password::random_string;
use crate::canonical::admin::{CustomerServiceGet, Robot, RobotUpsert};
use crate::canonical::common::Account;
use crate::canonical::model::{Profile, UserKind};
use crate::canonical::{Error, Reason, Result};

/// Random bytes of a robot secret (32 URL-safe characters).
const SECRET_BYTES: usize = 24;

fn account(cfg: &AccountConfig, token: Option<String>) -> Account {
    Account {
        id: cfg.id.clone(),
        name: cfg.name.clone(),
        token,
    }
}

impl EmbeddedProvider {
    /// `customer.get`: the configured customer account.
    pub(super) fn customer(&self) -> Account {
        account(&self.cfg.customer, None)
    }

    /// `customer_service.get`: the configured account, plus the IM token of
    /// `username` when given.
    pub(super) async fn customer_service(
        &self,
        app: &str,
        req: CustomerServiceGet,
    ) -> Result<Account> {
        let token = match req.username {
            Some(username) => {
                let app = app.to_owned();
                let token = self
                    .db
                    .write(move |tx| token_of(tx, user_id(tx, &app, &username)?))
                    .await?;
                Some(token)
            }
            None => None,
        };
        Ok(account(&self.cfg.customer_service, token))
    }

    /// `robot.upsert`: creates or updates a robot user and its settings.
    pub(super) async fn robot_upsert(&self, app: &str, req: RobotUpsert) -> Result<Robot> {
        let username = req
            .username
            .clone()
            .unwrap_or_else(|| format!("robot_{:08x}", rand::rng().random::<u32>()));
        validate::username(&username)?;
        let patch = Profile {
            nickname: req.display_name.clone(),
            avatar: req.portrait.clone(),
            ..Profile::default()
        };
        validate::profile(&patch)?;
        if let Some(name) = &req.name {
            validate::name("name", name)?;
        }
        let (app, secret) = (app.to_owned(), random_string(SECRET_BYTES));
        self.db
            .write(move |tx| {
                let id = match find_user(tx, &app, &username)? {
                    Some(id) => {
                        if load_user(tx, id)?.kind != UserKind::Robot {
                            let msg = format!("{username} is a user, not a robot");
                            return Err(Error::exists(Reason::User, msg));
                        }
                        patch_profile(tx, id, &patch)?;
                        id
                    }
                    None => create_user(tx, &app, &username, &patch, UserKind::Robot)?,
                };
                let (name, secret) = tx.query_one(
                    "INSERT INTO robots (user_id, name, secret, owner, callback, extra)
                     VALUES (?1, COALESCE(?2, ?7), COALESCE(?3, ?8), ?4, ?5, ?6)
                     ON CONFLICT (user_id) DO UPDATE SET name = COALESCE(?2, robots.name),
                        secret = COALESCE(?3, robots.secret), owner = COALESCE(?4, robots.owner),
                        callback = COALESCE(?5, robots.callback),
                        extra = COALESCE(?6, robots.extra)
                     RETURNING name, secret",
                    &[
                        &id,
                        &req.name,
                        &req.secret,
                        &req.owner,
                        &req.callback,
                        &req.extra,
                        &username,
                        &secret,
                    ],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                Ok(Robot {
                    username: username.clone(),
                    name,
                    secret,
                })
            })
            .await
    }
}
