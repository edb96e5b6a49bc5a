//! App administration: sensitive words, on/off switches, system settings,
//! health, the configured accounts and robots.

use deadpool_sqlite::rusqlite::{Connection, OptionalExtension};
use rand::Rng;

use super::config::AccountConfig;
use super::db::{now, to_json};
use super::login::token_of;
use super::paging::{Page, Query, WORDS};
use super::password::random_string;
use super::users::{find_user, insert_user, load_user, merge_profile, user_id};
use super::{validate, EmbeddedProvider};
use crate::canonical::admin::{
    CustomerServiceGet, Health, Robot, RobotUpsert, SwitchSet, SystemSetting, SystemSettingGet,
    Word, WordAdd, WordDelete, WordList, WordUpdate,
};
use crate::canonical::common::{Account, Done, Listing, Switch};
use crate::canonical::model::{Profile, UserKind};
use crate::canonical::{Error, Reason, Result};

/// The switch of sensitive-word filtering.
pub(super) const WORD_FILTER: &str = "sensitive_word";

/// The switch of SDK-side registration.
pub(super) const SDK_REGISTER: &str = "app.sdk_register";

/// Random bytes of a robot secret (32 URL-safe characters).
const SECRET_BYTES: usize = 24;

/// Whether switch `name` of `app` is on (switches are on until turned off).
pub(super) fn switch_enabled(conn: &Connection, app: &str, name: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT enabled FROM switches WHERE app = ?1 AND name = ?2")?
        .query_row((app, name), |r| r.get(0))
        .optional()?
        .unwrap_or(true))
}

/// invalid_argument/param unless `word` has 1–64 characters.
fn check_word(word: &str) -> Result<()> {
    match word.chars().count() {
        1..=64 => Ok(()),
        _ => Err(Error::invalid(
            Reason::Param,
            "sensitive words have 1-64 characters",
        )),
    }
}

fn word_exists(conn: &Connection, app: &str, word: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM sensitive_words WHERE app = ?1 AND word = ?2)",
        )?
        .query_row((app, word), |r| r.get(0))?)
}

impl EmbeddedProvider {
    /// `sensitive_word.add`: re-adding a word is a no-op.
    pub(super) async fn word_add(&self, app: &str, req: WordAdd) -> Result<Done> {
        req.words.iter().try_for_each(|w| check_word(w))?;
        let app = app.to_owned();
        self.db
            .write(move |c| {
                let created = now();
                for word in &req.words {
                    c.execute(
                        "INSERT OR IGNORE INTO sensitive_words (app, word, created) VALUES (?1, ?2, ?3)",
                        (&app, word, created),
                    )?;
                }
                Ok(Done {})
            })
            .await
    }

    /// `sensitive_word.update`: replaces one word by another.
    pub(super) async fn word_update(&self, app: &str, req: WordUpdate) -> Result<Done> {
        check_word(&req.new_word)?;
        let app = app.to_owned();
        self.db
            .write(move |c| {
                if !word_exists(c, &app, &req.old_word)? {
                    return Err(no_word(&req.old_word));
                }
                if word_exists(c, &app, &req.new_word)? {
                    let msg = format!("sensitive word {} exists already", req.new_word);
                    return Err(Error::exists(Reason::Word, msg));
                }
                c.execute(
                    "UPDATE sensitive_words SET word = ?3, created = ?4 WHERE app = ?1 AND word = ?2",
                    (&app, &req.old_word, &req.new_word, now()),
                )?;
                Ok(Done {})
            })
            .await
    }

    /// `sensitive_word.delete`: all must exist.
    pub(super) async fn word_delete(&self, app: &str, req: WordDelete) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |c| {
                for word in &req.words {
                    let deleted = c.execute(
                        "DELETE FROM sensitive_words WHERE app = ?1 AND word = ?2",
                        (&app, word),
                    )?;
                    if deleted == 0 {
                        return Err(no_word(word));
                    }
                }
                Ok(Done {})
            })
            .await
    }

    /// `sensitive_word.list`: oldest first.
    pub(super) async fn word_list(&self, app: &str, req: WordList) -> Result<Listing<Word>> {
        let page = Page::new(&req.paging, WORDS)?;
        let app = app.to_owned();
        self.db
            .read(move |c| {
                let query = Query {
                    columns: "word, created",
                    from: "FROM sensitive_words WHERE app = ?1",
                    order: "created, word",
                };
                page.fetch(c, query, &[&app], |r| {
                    Ok(Word {
                        word: r.get(0)?,
                        created: r.get(1)?,
                    })
                })
            })
            .await
    }

    /// Sets switch `name` (`sensitive_word.status.set`, `app.sdk_register.set`).
    pub(super) async fn switch_set(
        &self,
        app: &str,
        name: &'static str,
        req: SwitchSet,
    ) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |c| {
                c.execute(
                    "INSERT INTO switches (app, name, enabled) VALUES (?1, ?2, ?3)
                     ON CONFLICT (app, name) DO UPDATE SET enabled = excluded.enabled",
                    (&app, name, req.enabled),
                )?;
                Ok(Done {})
            })
            .await
    }

    /// Reads switch `name` (on by default).
    pub(super) async fn switch_get(&self, app: &str, name: &'static str) -> Result<Switch> {
        let app = app.to_owned();
        let enabled = self.db.read(move |c| switch_enabled(c, &app, name)).await?;
        Ok(Switch { enabled })
    }

    /// `system.settings.get`: not_found/setting for an id never set.
    pub(super) async fn system_setting_get(
        &self,
        app: &str,
        req: SystemSettingGet,
    ) -> Result<SystemSetting> {
        let app = app.to_owned();
        self.db
            .read(move |c| {
                c.query_row(
                    "SELECT value, description FROM system_settings WHERE app = ?1 AND id = ?2",
                    (&app, req.id),
                    |r| {
                        Ok(SystemSetting {
                            id: req.id,
                            value: r.get(0)?,
                            desc: r.get(1)?,
                        })
                    },
                )
                .optional()?
                .ok_or_else(|| {
                    Error::not_found(
                        Reason::Setting,
                        format!("setting {} does not exist", req.id),
                    )
                })
            })
            .await
    }

    /// `system.settings.set`: insert or replace.
    pub(super) async fn system_setting_set(&self, app: &str, req: SystemSetting) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |c| {
                c.execute(
                    "INSERT INTO system_settings (app, id, value, description) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (app, id) DO UPDATE SET value = excluded.value,
                                                         description = excluded.description",
                    (&app, req.id, &req.value, &req.desc),
                )?;
                Ok(Done {})
            })
            .await
    }

    /// `health.check`: the database answers a query.
    pub(super) async fn health(&self) -> Result<Health> {
        self.db
            .read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .await?;
        Ok(Health {
            status: "healthy".to_owned(),
            provider: self.name.clone(),
        })
    }

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
                    .write(move |c| token_of(c, user_id(c, &app, &username)?))
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
        let (app, secret) = (app.to_owned(), random_string(SECRET_BYTES));
        self.db
            .write(move |c| {
                let id = match find_user(c, &app, &username)? {
                    Some(id) => {
                        let user = load_user(c, id)?;
                        if user.kind != UserKind::Robot {
                            let msg = format!("{username} is a user, not a robot");
                            return Err(Error::exists(Reason::User, msg));
                        }
                        let profile = to_json(&merge_profile(user.profile, patch)?)?;
                        c.execute(
                            "UPDATE users SET profile = ?2, modified = ?3 WHERE id = ?1",
                            (id, profile, now()),
                        )?;
                        id
                    }
                    None => insert_user(c, &app, &username, None, &patch, UserKind::Robot)?
                        .ok_or_else(|| Error::exists(Reason::User, "user exists already"))?,
                };
                let (name, secret) = c.query_row(
                    "INSERT INTO robots (user_id, name, secret, owner, callback, extra)
                     VALUES (?1, COALESCE(?2, ?7), COALESCE(?3, ?8), ?4, ?5, ?6)
                     ON CONFLICT (user_id) DO UPDATE SET name = COALESCE(?2, name),
                        secret = COALESCE(?3, secret), owner = COALESCE(?4, owner),
                        callback = COALESCE(?5, callback), extra = COALESCE(?6, extra)
                     RETURNING name, secret",
                    (
                        id,
                        &req.name,
                        &req.secret,
                        &req.owner,
                        &req.callback,
                        &req.extra,
                        &username,
                        secret,
                    ),
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                Ok(Robot {
                    username,
                    name,
                    secret,
                })
            })
            .await
    }
}

fn account(cfg: &AccountConfig, token: Option<String>) -> Account {
    Account {
        id: cfg.id.clone(),
        name: cfg.name.clone(),
        token,
    }
}

fn no_word(word: &str) -> Error {
    Error::not_found(
        Reason::Word,
        format!("sensitive word {word} does not exist"),
    )
}
