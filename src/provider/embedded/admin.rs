//! App administration: sensitive words, on/off switches, system settings and
//! health.

use super::paging::{list_query, Page, WORDS};
use super::EmbeddedProvider;
use crate::canonical::admin::{
    Health, SwitchSet, SystemSetting, SystemSettingGet, Word, WordAdd, WordDelete, WordList,
    WordUpdate,
};
use crate::canonical::common::{Done, Listing, Switch};
use crate::canonical::{Error, Reason, Result};
use crate::db::Tx;

/// The switch of sensitive-word filtering.
pub(super) const WORD_FILTER: &str = "sensitive_word";

/// The switch of SDK-side registration.
pub(super) const SDK_REGISTER: &str = "app.sdk_register";

/// Whether switch `name` of `app` is on (switches are on until turned off).
pub(super) fn switch_enabled(tx: &Tx<'_>, app: &str, name: &str) -> Result<bool> {
    Ok(tx
        .query_opt(
            "SELECT enabled FROM switches WHERE app = ?1 AND name = ?2",
            &[&app, &name],
            |r| r.get(0),
        )?
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

fn word_exists(tx: &Tx<'_>, app: &str, word: &str) -> Result<bool> {
    tx.query_one(
        "SELECT EXISTS (SELECT 1 FROM sensitive_words WHERE app = ?1 AND word = ?2)",
        &[&app, &word],
        |r| r.get(0),
    )
}

impl EmbeddedProvider {
    /// `sensitive_word.add`: re-adding a word is a no-op.
    pub(super) async fn word_add(&self, app: &str, req: WordAdd) -> Result<Done> {
        req.words.iter().try_for_each(|w| check_word(w))?;
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                let created = tx.now();
                for word in &req.words {
                    tx.execute(
                        "INSERT INTO sensitive_words (app, word, created) VALUES (?1, ?2, ?3)
                         ON CONFLICT DO NOTHING",
                        &[&app, word, &created],
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
            .write(move |tx| {
                if !word_exists(tx, &app, &req.old_word)? {
                    return Err(no_word(&req.old_word));
                }
                if word_exists(tx, &app, &req.new_word)? {
                    let msg = format!("sensitive word {} exists already", req.new_word);
                    return Err(Error::exists(Reason::Word, msg));
                }
                tx.execute(
                    "UPDATE sensitive_words SET word = ?3, created = ?4
                     WHERE app = ?1 AND word = ?2",
                    &[&app, &req.old_word, &req.new_word, &tx.now()],
                )?;
                Ok(Done {})
            })
            .await
    }

    /// `sensitive_word.delete`: all must exist.
    pub(super) async fn word_delete(&self, app: &str, req: WordDelete) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                for word in &req.words {
                    let deleted = tx.execute(
                        "DELETE FROM sensitive_words WHERE app = ?1 AND word = ?2",
                        &[&app, word],
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
            .read(move |tx| {
                let query = list_query!(
                    columns: "word, created",
                    from: "FROM sensitive_words WHERE app = ?1",
                    order: "created, word",
                );
                page.fetch(tx, query, &[&app], |r| {
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
            .write(move |tx| {
                tx.execute(
                    "INSERT INTO switches (app, name, enabled) VALUES (?1, ?2, ?3)
                     ON CONFLICT (app, name) DO UPDATE SET enabled = excluded.enabled",
                    &[&app, &name, &req.enabled],
                )?;
                Ok(Done {})
            })
            .await
    }

    /// Reads switch `name` (on by default).
    pub(super) async fn switch_get(&self, app: &str, name: &'static str) -> Result<Switch> {
        let app = app.to_owned();
        let enabled = self
            .db
            .read(move |tx| switch_enabled(tx, &app, name))
            .await?;
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
            .read(move |tx| {
                tx.query_opt(
                    "SELECT value, description FROM system_settings WHERE app = ?1 AND id = ?2",
                    &[&app, &req.id],
                    |r| {
                        Ok(SystemSetting {
                            id: req.id,
                            value: r.get(0)?,
                            desc: r.get(1)?,
                        })
                    },
                )?
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
            .write(move |tx| {
                tx.execute(
                    "INSERT INTO system_settings (app, id, value, description)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (app, id) DO UPDATE SET value = excluded.value,
                                                         description = excluded.description",
                    &[&app, &req.id, &req.value, &req.desc],
                )?;
                Ok(Done {})
            })
            .await
    }

    /// `health.check`: the database answers a query.
    pub(super) async fn health(&self) -> Result<Health> {
        self.db.health().await?;
        Ok(Health {
            status: "healthy".to_owned(),
            provider: self.name.clone(),
        })
    }
}

fn no_word(word: &str) -> Error {
    Error::not_found(
        Reason::Word,
        format!("sensitive word {word} does not exist"),
    )
}
