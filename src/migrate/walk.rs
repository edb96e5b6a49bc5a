//! Finding the source's entities page by page, from a position a checkpoint
//! can keep: a listing's cursor, a byte offset in the users file, a place in
//! the entities found by walking users. Nothing holds more than a page.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::copy::Conversation;
use super::plan::Walk;
use super::sides::{take, Side};
use crate::canonical::common::Paging;
use crate::canonical::group::GroupList;
use crate::canonical::model::{Group, Room, User};
use crate::canonical::room::ChatroomList;
use crate::canonical::user::{UserGet, UserList};
use crate::canonical::{Error, ErrorKind, Op, Result};
use crate::store::migration::RunKey;
use crate::store::Store;

/// Items asked for per page: within every vendor's page limit.
pub const PAGE: usize = 100;

/// The operator's file of user ids, checked before the migration starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsersFile {
    /// Where it is.
    pub path: PathBuf,
    /// SHA-256 of its bytes: a checkpoint of another file does not apply.
    pub digest: String,
    /// How many ids it holds.
    pub lines: u64,
}

impl UsersFile {
    /// Reads the file through once: every line must be UTF-8 text without
    /// control characters; blank lines and lines starting with `#` are skipped.
    pub fn check(path: &Path) -> std::result::Result<UsersFile, String> {
        let file = std::fs::File::open(path)
            .map_err(|e| format!("cannot read the users file {}: {e}", path.display()))?;
        let mut reader = BufReader::new(file);
        let mut hash = Sha256::new();
        let mut line = Vec::new();
        let (mut number, mut lines) = (0u64, 0u64);
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| format!("cannot read the users file {}: {e}", path.display()))?;
            if n == 0 {
                break;
            }
            number += 1;
            hash.update(&line);
            let bad = |what: &str| format!("users file {} line {number}: {what}", path.display());
            let text = std::str::from_utf8(&line).map_err(|_| bad("not UTF-8 text"))?;
            match user_id(text) {
                Ok(Some(_)) => lines += 1,
                Ok(None) => {}
                Err(what) => return Err(bad(what)),
            }
        }
        Ok(UsersFile {
            path: path.to_path_buf(),
            digest: hex::encode(hash.finalize()),
            lines,
        })
    }

    /// Up to `PAGE` ids from byte `offset`, and the offset after them (none at
    /// the end).
    fn page(&self, offset: u64) -> Result<(Vec<String>, Option<u64>)> {
        let io =
            |e: std::io::Error| Error::internal(format!("users file {}: {e}", self.path.display()));
        let mut file = std::fs::File::open(&self.path).map_err(io)?;
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
        let mut reader = BufReader::new(file.take(u64::MAX));
        let (mut ids, mut at, mut line) = (Vec::new(), offset, String::new());
        while ids.len() < PAGE {
            line.clear();
            let n = reader.read_line(&mut line).map_err(io)?;
            if n == 0 {
                return Ok((ids, None));
            }
            at += n as u64;
            if let Ok(Some(id)) = user_id(&line) {
                ids.push(id.to_string());
            }
        }
        Ok((ids, Some(at)))
    }
}

/// The user id on a line: none for blank and `#` lines.
fn user_id(line: &str) -> std::result::Result<Option<&str>, &'static str> {
    let id = line.trim();
    if id.is_empty() || id.starts_with('#') {
        return Ok(None);
    }
    if id.chars().any(char::is_control) {
        return Err("a user id cannot hold control characters");
    }
    Ok(Some(id))
}

/// A user to copy, by name. (A listing's records are not used: some
/// vendors list users without their profiles.)
#[derive(Debug, Clone)]
pub struct UserItem {
    /// Login name.
    pub username: String,
}

impl UserItem {
    /// The source's record of the user (`user.get`).
    pub async fn record(self, source: &Side) -> Result<User> {
        let op = Op::UserGet(UserGet {
            username: self.username,
        });
        take!(source.run(op).await?, UserGet)
    }
}

/// One page of a walk.
#[derive(Debug)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Where the next page starts; none after the last.
    pub next: Option<String>,
    /// How many items there are in all, when the source tells.
    pub total: Option<u64>,
}

fn paging(cursor: &str) -> Paging {
    Paging {
        start: None,
        count: Some(PAGE as i64),
        cursor: (!cursor.is_empty()).then(|| cursor.to_string()),
    }
}

/// A listing's next cursor: none at the end (or when the source repeats the
/// cursor it was given, which would loop).
fn next_cursor(given: &str, next: Option<String>, count: usize) -> Option<String> {
    next.filter(|n| n != given && count > 0)
}

/// A page of users of `walk` from `cursor`.
pub async fn users(source: &Side, walk: &Walk, cursor: &str) -> Result<Page<UserItem>> {
    match walk {
        Walk::UserFile(f) => {
            let offset = cursor.parse().unwrap_or(0);
            let (ids, next) = f.page(offset)?;
            Ok(Page {
                items: ids
                    .into_iter()
                    .map(|username| UserItem { username })
                    .collect(),
                next: next.map(|n| n.to_string()),
                total: Some(f.lines),
            })
        }
        _ => {
            let listing = take!(
                source
                    .run(Op::UserList(UserList {
                        paging: paging(cursor),
                        kind: None,
                        disabled: None,
                    }))
                    .await?,
                UserList
            )?;
            let count = listing.items.len();
            Ok(Page {
                next: next_cursor(cursor, listing.cursor, count),
                total: u64::try_from(listing.total).ok(),
                items: listing
                    .items
                    .into_iter()
                    .map(|u| UserItem {
                        username: u.username,
                    })
                    .collect(),
            })
        }
    }
}

/// What the copy phase of groups and chatrooms walks: a listing, or the
/// entities found by walking users.
pub enum Found<'a> {
    /// The source lists them.
    Listed,
    /// They were found by walking users, kept in the store.
    Stored(&'a Store, &'a RunKey),
}

/// A page of groups from `cursor`.
pub async fn groups(source: &Side, found: &Found<'_>, cursor: &str) -> Result<Page<Group>> {
    match found {
        Found::Listed => {
            let listing = take!(
                source
                    .run(Op::GroupList(GroupList {
                        paging: paging(cursor)
                    }))
                    .await?,
                GroupList
            )?;
            let count = listing.items.len();
            Ok(Page {
                next: next_cursor(cursor, listing.cursor, count),
                total: u64::try_from(listing.total).ok(),
                items: listing.items,
            })
        }
        Found::Stored(store, key) => stored(store, key, "groups", cursor).await,
    }
}

/// A page of chatrooms from `cursor`.
pub async fn rooms(source: &Side, found: &Found<'_>, cursor: &str) -> Result<Page<Room>> {
    match found {
        Found::Listed => {
            let listing = take!(
                source
                    .run(Op::ChatroomList(ChatroomList {
                        paging: paging(cursor)
                    }))
                    .await?,
                ChatroomList
            )?;
            let count = listing.items.len();
            Ok(Page {
                next: next_cursor(cursor, listing.cursor, count),
                total: u64::try_from(listing.total).ok(),
                items: listing.items,
            })
        }
        Found::Stored(store, key) => stored(store, key, "chatrooms", cursor).await,
    }
}

async fn stored<T: serde::de::DeserializeOwned>(
    store: &Store,
    key: &RunKey,
    kind: &str,
    cursor: &str,
) -> Result<Page<T>> {
    let after = cursor.parse().unwrap_or(0);
    let rows = store.found_page(key, kind, after, PAGE).await?;
    let next = (rows.len() == PAGE).then(|| rows.last().map(|(seq, _)| seq.to_string()));
    let items = rows
        .into_iter()
        .map(|(_, data)| {
            serde_json::from_str(&data).map_err(|e| {
                Error::new(ErrorKind::Internal, format!("a stored {kind} record: {e}"))
            })
        })
        .collect::<Result<Vec<T>>>()?;
    Ok(Page {
        items,
        next: next.flatten(),
        total: Some(store.found_count(key, kind).await?),
    })
}

/// A page of conversations from `cursor`: the one-to-one messages of each
/// user (`users_walk`; cursor `u:` and the users' cursor), then each group's
/// (pages of `groups`; cursor `g:` and the groups' cursor).
pub async fn conversations(
    source: &Side,
    users_walk: &Walk,
    groups: impl AsyncFn(&str) -> Result<Page<Group>>,
    cursor: &str,
) -> Result<Page<Conversation>> {
    if let Some(at) = cursor.strip_prefix("g:") {
        let page = groups(at).await?;
        return Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|g| Conversation::Group(g.id))
                .collect(),
            next: page.next.map(|n| format!("g:{n}")),
            total: None,
        });
    }
    let at = cursor.strip_prefix("u:").unwrap_or("");
    let page = users(source, users_walk, at).await?;
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|u| Conversation::Sent(u.username))
            .collect(),
        next: Some(page.next.map_or("g:".to_string(), |n| format!("u:{n}"))),
        total: None,
    })
}

/// A page of nothing: the groups of a source that cannot walk them.
pub fn empty<T>() -> Page<T> {
    Page {
        items: Vec::new(),
        next: None,
        total: None,
    }
}
