//! Users: the lookups every module uses ("load user or not_found"), and
//! registration, profile reads and updates, deletion and listing.

use std::collections::HashSet;

use serde_json::Value;

use super::db::{json_column, tag, tag_column, to_json};
use super::paging::{list_query, Page, LIST};
use super::{validate, EmbeddedProvider};
use crate::canonical::common::{Done, Items, Listing};
use crate::canonical::model::{Profile, User, UserKind, UserRef};
use crate::canonical::user::{UserDelete, UserGet, UserList, UserUpdate};
use crate::canonical::{Error, Reason, Result};
use crate::db::{Row, Tx};

/// The columns [`user_from_row`] reads, for `users u`; a join's own columns follow.
macro_rules! user_columns {
    () => {
        "u.app, u.username, u.uuid, u.profile, u.kind, u.disabled, u.created, u.modified"
    };
}
pub(super) use user_columns;

/// How many columns [`user_columns!`] has (the index of the first joined column).
pub(super) const USER_WIDTH: usize = 8;

/// Builds a user from a row that starts with [`user_columns!`].
pub(super) fn user_from_row(row: &Row<'_>) -> Result<User> {
    Ok(User {
        app_key: row.get(0)?,
        username: row.get(1)?,
        uuid: row.get(2)?,
        profile: json_column(row, 3)?,
        kind: tag_column(row, 4)?,
        disabled: row.get(5)?,
        created: row.get(6)?,
        modified: row.get(7)?,
    })
}

/// not_found/user for `username`.
pub(super) fn no_user(username: &str) -> Error {
    Error::not_found(Reason::User, format!("user {username} does not exist"))
}

/// The row id of a user, when it exists.
pub(super) fn find_user(tx: &Tx<'_>, app: &str, username: &str) -> Result<Option<i64>> {
    tx.query_opt(
        "SELECT id FROM users WHERE app = ?1 AND username = ?2",
        &[&app, &username],
        |r| r.get(0),
    )
}

/// The row id of a user, or not_found/user.
pub(super) fn user_id(tx: &Tx<'_>, app: &str, username: &str) -> Result<i64> {
    find_user(tx, app, username)?.ok_or_else(|| no_user(username))
}

/// The app a reference points into: its own app key, else the caller's.
pub(super) fn app_of<'a>(app: &'a str, user: &'a UserRef) -> &'a str {
    user.app_key.as_deref().unwrap_or(app)
}

/// The row id of a referenced (possibly cross-app) user, or not_found/user.
pub(super) fn ref_id(tx: &Tx<'_>, app: &str, user: &UserRef) -> Result<i64> {
    user_id(tx, app_of(app, user), &user.username)
}

/// The row ids of referenced users, each once, in request order; not_found/user
/// for the first that does not exist.
pub(super) fn ref_ids(tx: &Tx<'_>, app: &str, users: &[UserRef]) -> Result<Vec<i64>> {
    let mut seen = HashSet::new();
    let mut ids = Vec::with_capacity(users.len());
    for user in users {
        let id = ref_id(tx, app, user)?;
        if seen.insert(id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// A stored user by row id.
pub(super) fn load_user(tx: &Tx<'_>, id: i64) -> Result<User> {
    tx.query_one(
        concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = ?1"),
        &[&id],
        user_from_row,
    )
}

/// Inserts a user; `None` when (app, username) is taken.
pub(super) fn insert_user(
    tx: &Tx<'_>,
    app: &str,
    username: &str,
    password_hash: Option<&str>,
    profile: &Profile,
    kind: UserKind,
) -> Result<Option<i64>> {
    tx.query_opt(
        "INSERT INTO users (app, username, uuid, kind, profile, password, created, modified)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
         ON CONFLICT (app, username) DO NOTHING RETURNING id",
        &[
            &app,
            &username,
            &uuid::Uuid::new_v4().to_string(),
            &tag(&kind),
            &to_json(profile)?,
            &password_hash,
            &tx.now(),
        ],
        |r| r.get(0),
    )
}

/// Inserts a user; already_exists/user when (app, username) is taken.
pub(super) fn create_user(
    tx: &Tx<'_>,
    app: &str,
    username: &str,
    profile: &Profile,
    kind: UserKind,
) -> Result<i64> {
    insert_user(tx, app, username, None, profile, kind)?.ok_or_else(user_exists)
}

/// Changes the profile fields present in `patch` of user `id`; `modified` bumps.
pub(super) fn patch_profile(tx: &Tx<'_>, id: i64, patch: &Profile) -> Result<()> {
    let profile = merge_profile(load_user(tx, id)?.profile, patch.clone())?;
    tx.execute(
        "UPDATE users SET profile = ?2, modified = ?3 WHERE id = ?1",
        &[&id, &to_json(&profile)?, &tx.now()],
    )?;
    Ok(())
}

/// `profile` with the fields present in `patch` replaced.
fn merge_profile(profile: Profile, patch: Profile) -> Result<Profile> {
    let as_json = |p: Profile| serde_json::to_value(p).map_err(Error::internal);
    let (mut base, patch) = (as_json(profile)?, as_json(patch)?);
    if let (Value::Object(base), Value::Object(patch)) = (&mut base, patch) {
        base.extend(patch);
    }
    serde_json::from_value(base).map_err(Error::internal)
}

impl EmbeddedProvider {
    /// The rows `sql` yields for user `username` of `app`, whose row id it
    /// takes as `?1`: the lists a user owns (friends, blacklist, rooms).
    pub(super) async fn user_items<T: Send + 'static>(
        &self,
        app: &str,
        username: String,
        sql: &'static str,
        read: fn(&Row<'_>) -> Result<T>,
    ) -> Result<Items<T>> {
        let app = app.to_owned();
        self.db
            .read(move |tx| {
                let user = user_id(tx, &app, &username)?;
                let items = tx.query_all(sql, &[&user], read)?;
                Ok(Items { items })
            })
            .await
    }

    /// `user.get`.
    pub(super) async fn user_get(&self, app: &str, req: UserGet) -> Result<User> {
        let app = app.to_owned();
        self.db
            .read(move |tx| load_user(tx, user_id(tx, &app, &req.username)?))
            .await
    }

    /// `user.update`: only the profile fields present change; `modified` bumps.
    pub(super) async fn user_update(&self, app: &str, req: UserUpdate) -> Result<Done> {
        validate::profile(&req.profile)?;
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                patch_profile(tx, user_id(tx, &app, &req.username)?, &req.profile)?;
                Ok(Done {})
            })
            .await
    }

    /// `user.delete`: all or none; owned groups are dismissed, every row that
    /// references the users goes with them (foreign keys cascade).
    pub(super) async fn user_delete(&self, app: &str, req: UserDelete) -> Result<Done> {
        let owned_app = app.to_owned();
        let names = req.usernames.clone();
        self.db
            .write(move |tx| {
                let ids = names
                    .iter()
                    .map(|n| user_id(tx, &owned_app, n))
                    .collect::<Result<Vec<_>>>()?;
                for id in ids {
                    tx.execute(
                        "DELETE FROM chat_groups WHERE id IN
                         (SELECT group_id FROM group_members
                          WHERE user_id = ?1 AND role = 'owner')",
                        &[&id],
                    )?;
                    tx.execute("DELETE FROM users WHERE id = ?1", &[&id])?;
                }
                Ok(())
            })
            .await?;
        Ok(Done {})
    }

    /// `user.list`: oldest first, optionally of one kind and only the
    /// disabled (or enabled) ones.
    pub(super) async fn user_list(&self, app: &str, req: UserList) -> Result<Listing<User>> {
        let page = Page::new(&req.paging, LIST)?;
        let (app, kind, disabled) = (app.to_owned(), req.kind.map(|k| tag(&k)), req.disabled);
        self.db
            .read(move |tx| {
                let query = list_query!(
                    columns: user_columns!(),
                    from: "FROM users u WHERE u.app = ?1 AND (u.kind = ?2 OR ?2 IS NULL) \
                           AND (u.disabled = ?3 OR ?3 IS NULL)",
                    order: "u.id",
                );
                page.fetch(tx, query, &[&app, &kind, &disabled], user_from_row)
            })
            .await
    }
}

/// already_exists/user.
pub(super) fn user_exists() -> Error {
    Error::exists(Reason::User, "user exists already")
}
