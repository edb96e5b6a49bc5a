//! A user's friends (with the notes the user keeps about them) and
//! blacklist. A friendship is made once for both users: the second user
//! finds it there already.

use std::collections::HashMap;

use serde_json::Value;

use super::{changes, Cx, Done, Fatal, Step};
use crate::canonical::fields::Entity;
use crate::canonical::model::{Friend, UserRef};
use crate::canonical::social::{
    BlacklistChange, FriendChange, FriendNote, FriendNoteUpdate, OfUser,
};
use crate::canonical::{ErrorKind, Op, Result};
use crate::migrate::sides::{take, Side};
use crate::migrate::walk::UserItem;

/// A user's friends on `side`.
pub(in crate::migrate) async fn friends_of(side: &Side, username: &str) -> Result<Vec<Friend>> {
    let op = Op::FriendList(OfUser {
        username: username.to_string(),
    });
    Ok(take!(side.run(op).await?, FriendList)?.items)
}

/// The notes a user keeps about a friend, as JSON.
pub(in crate::migrate) fn notes(f: &Friend) -> Value {
    serde_json::json!({"note_name": f.note_name, "others": f.others})
}

/// Copies one user's friends.
pub async fn friends(cx: &Cx<'_>, item: UserItem) -> std::result::Result<Step, Fatal> {
    let mut step = Step::default();
    let user = item.username;
    let entity = |f: &str| format!("friend {user} → {f}");
    let listed = async {
        let src = friends_of(cx.source, &user).await?;
        let tgt = friends_of(cx.target, &user).await?;
        Ok::<_, crate::canonical::Error>((src, tgt))
    };
    let (src, tgt) = match listed.await {
        Ok(lists) => lists,
        Err(e) => {
            step.add(format!("friends of {user}"), Err(e))?;
            return Ok(step);
        }
    };
    let have: HashMap<&str, &Friend> = tgt.iter().map(|f| (f.user.username.as_str(), f)).collect();
    let carried = cx.carried.fields(Entity::Friend);
    // An existing friendship's notes are compared only where the target
    // reads them back; a new one gets every note that travels.
    let readable: Vec<&str> = carried
        .iter()
        .copied()
        .filter(|f| cx.compared.has(Entity::Friend, f))
        .collect();
    for f in &src {
        let name = f.user.username.as_str();
        let r = async {
            let done = match have.get(name) {
                Some(_) => Done::Skipped,
                None => {
                    let op = Op::FriendAdd(FriendChange {
                        username: user.clone(),
                        friends: vec![UserRef::local(name)],
                    });
                    match cx.target.run(op).await {
                        Ok(_) => Done::Copied,
                        // The friend's own walk made it meanwhile (both ways).
                        Err(e) if e.kind == ErrorKind::AlreadyExists => Done::Skipped,
                        Err(e) => return Err(e),
                    }
                }
            };
            let (now, fields) = match have.get(name) {
                Some(t) => (notes(t), readable.as_slice()),
                None => (Value::Null, carried),
            };
            let diff = changes(&notes(f), &now, fields);
            if diff.is_empty() {
                return Ok(done);
            }
            let text = |k: &str| diff.get(k).and_then(Value::as_str).map(String::from);
            let op = Op::FriendNoteUpdate(FriendNoteUpdate {
                username: user.clone(),
                notes: vec![FriendNote {
                    username: name.to_string(),
                    app_key: None,
                    note_name: text("note_name"),
                    others: text("others"),
                }],
            });
            cx.target.run(op).await?;
            Ok(if done == Done::Skipped {
                Done::Updated
            } else {
                done
            })
        };
        step.add(entity(name), r.await)?;
    }
    Ok(step)
}

/// The users a user blocks on `side`.
pub(in crate::migrate) async fn blocked_by(
    side: &Side,
    username: &str,
) -> Result<Vec<crate::canonical::model::User>> {
    let op = Op::BlacklistList(OfUser {
        username: username.to_string(),
    });
    Ok(take!(side.run(op).await?, BlacklistList)?.items)
}

/// Copies one user's blacklist.
pub async fn blacklist(cx: &Cx<'_>, item: UserItem) -> std::result::Result<Step, Fatal> {
    let mut step = Step::default();
    let user = item.username;
    let lists = async {
        let src = blocked_by(cx.source, &user).await?;
        Ok::<_, crate::canonical::Error>((src, blocked_by(cx.target, &user).await?))
    };
    let (src, tgt) = match lists.await {
        Ok(l) => l,
        Err(e) => {
            step.add(format!("blacklist of {user}"), Err(e))?;
            return Ok(step);
        }
    };
    let missing: Vec<&str> = src
        .iter()
        .map(|u| u.username.as_str())
        .filter(|n| !tgt.iter().any(|t| t.username == *n))
        .collect();
    for u in &src {
        if !missing.contains(&u.username.as_str()) {
            step.add(
                format!("blocked {user} → {}", u.username),
                Ok(Done::Skipped),
            )?;
        }
    }
    if missing.is_empty() {
        return Ok(step);
    }
    let op = Op::BlacklistAdd(BlacklistChange {
        username: user.clone(),
        users: missing.iter().map(|n| UserRef::local(*n)).collect(),
    });
    let r = cx.target.run(op).await.map(|_| Done::Copied);
    for n in missing {
        step.add(format!("blocked {user} → {n}"), r.clone())?;
    }
    Ok(step)
}
