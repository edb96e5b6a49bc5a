//! Friends (symmetric, with the owner's notes) and blacklists.

use super::users::{
    find_user, load_user, ref_ids, user_columns, user_from_row, user_id, USER_WIDTH,
};
use super::EmbeddedProvider;
use crate::canonical::common::{Done, Items};
use crate::canonical::model::{Friend, User};
use crate::canonical::social::{BlacklistChange, FriendChange, FriendNoteUpdate, OfUser};
use crate::canonical::{Error, Reason, Result};
use crate::db::Tx;

fn are_friends(tx: &Tx<'_>, user: i64, friend: i64) -> Result<bool> {
    tx.query_one(
        "SELECT EXISTS (SELECT 1 FROM friends WHERE user_id = ?1 AND friend_id = ?2)",
        &[&user, &friend],
        |r| r.get(0),
    )
}

fn load_users(tx: &Tx<'_>, ids: &[i64]) -> Result<Items<User>> {
    let items = ids
        .iter()
        .map(|&id| load_user(tx, id))
        .collect::<Result<_>>()?;
    Ok(Items { items })
}

fn not_friend(username: &str) -> Error {
    Error::not_found(Reason::Friend, format!("{username} is not a friend"))
}

impl EmbeddedProvider {
    /// `friend.add`: both directions; fails whole when one is a friend already.
    /// Returns the new friends.
    pub(super) async fn friend_add(&self, app: &str, req: FriendChange) -> Result<Items<User>> {
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                let owner = user_id(tx, &app, &req.username)?;
                let created = tx.now();
                let friends = ref_ids(tx, &app, &req.friends)?;
                for &friend in &friends {
                    if friend == owner {
                        return Err(Error::invalid(Reason::Param, "cannot befriend oneself"));
                    }
                    if are_friends(tx, owner, friend)? {
                        return Err(Error::exists(Reason::Friend, "already friends"));
                    }
                    for (a, b) in [(owner, friend), (friend, owner)] {
                        tx.execute(
                            "INSERT INTO friends (user_id, friend_id, created) VALUES (?1, ?2, ?3)
                             ON CONFLICT DO NOTHING",
                            &[&a, &b, &created],
                        )?;
                    }
                }
                load_users(tx, &friends)
            })
            .await
    }

    /// `friend.remove`: both directions; removing a non-friend is a no-op.
    /// Returns the users named.
    pub(super) async fn friend_remove(&self, app: &str, req: FriendChange) -> Result<Items<User>> {
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                let owner = user_id(tx, &app, &req.username)?;
                let friends = ref_ids(tx, &app, &req.friends)?;
                for friend in &friends {
                    tx.execute(
                        "DELETE FROM friends WHERE (user_id = ?1 AND friend_id = ?2)
                                                OR (user_id = ?2 AND friend_id = ?1)",
                        &[&owner, friend],
                    )?;
                }
                load_users(tx, &friends)
            })
            .await
    }

    /// `friend.note.update`: only the notes present change.
    pub(super) async fn friend_note(&self, app: &str, req: FriendNoteUpdate) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                let owner = user_id(tx, &app, &req.username)?;
                for note in &req.notes {
                    let friend_app = note.app_key.as_deref().unwrap_or(&app);
                    let friend = find_user(tx, friend_app, &note.username)?
                        .ok_or_else(|| not_friend(&note.username))?;
                    let changed = tx.execute(
                        "UPDATE friends SET note_name = COALESCE(?3, note_name),
                                            others = COALESCE(?4, others)
                         WHERE user_id = ?1 AND friend_id = ?2",
                        &[&owner, &friend, &note.note_name, &note.others],
                    )?;
                    if changed == 0 {
                        return Err(not_friend(&note.username));
                    }
                }
                Ok(Done {})
            })
            .await
    }

    /// `friend.list`: in the order they became friends.
    pub(super) async fn friend_list(&self, app: &str, req: OfUser) -> Result<Items<Friend>> {
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            ", f.note_name, f.others
             FROM friends f JOIN users u ON u.id = f.friend_id
             WHERE f.user_id = ?1 ORDER BY f.created, f.seq"
        );
        self.user_items(app, req.username, sql, |r| {
            Ok(Friend {
                user: user_from_row(r)?,
                note_name: r.get(USER_WIDTH)?,
                others: r.get(USER_WIDTH + 1)?,
            })
        })
        .await
    }

    /// `blacklist.add`: idempotent.
    pub(super) async fn blacklist_add(&self, app: &str, req: BlacklistChange) -> Result<Done> {
        self.blacklist_change(app, req, true).await
    }

    /// `blacklist.remove`: idempotent.
    pub(super) async fn blacklist_remove(&self, app: &str, req: BlacklistChange) -> Result<Done> {
        self.blacklist_change(app, req, false).await
    }

    /// Blocks (`block`) or unblocks every listed user.
    async fn blacklist_change(&self, app: &str, req: BlacklistChange, block: bool) -> Result<Done> {
        let app = app.to_owned();
        self.db
            .write(move |tx| {
                let owner = user_id(tx, &app, &req.username)?;
                let created = tx.now();
                for blocked in ref_ids(tx, &app, &req.users)? {
                    match block {
                        true => tx.execute(
                            "INSERT INTO blacklist (user_id, blocked_id, created) VALUES (?1, ?2, ?3)
                             ON CONFLICT DO NOTHING",
                            &[&owner, &blocked, &created],
                        )?,
                        false => tx.execute(
                            "DELETE FROM blacklist WHERE user_id = ?1 AND blocked_id = ?2",
                            &[&owner, &blocked],
                        )?,
                    };
                }
                Ok(Done {})
            })
            .await
    }

    /// `blacklist.list`: in the order they were blocked.
    pub(super) async fn blacklist_list(&self, app: &str, req: OfUser) -> Result<Items<User>> {
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM blacklist b JOIN users u ON u.id = b.blocked_id
             WHERE b.user_id = ?1 ORDER BY b.created, b.seq"
        );
        self.user_items(app, req.username, sql, user_from_row).await
    }
}
