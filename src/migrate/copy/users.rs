//! A user: registered on the target with the profile fields that travel,
//! its password chosen (or marked pending), disabled when the source says so;
//! a user the target has already is compared and updated.

use serde_json::Value;

use super::{changes, only, Cx, Done, Fatal, Step};
use crate::canonical::fields::Entity;
use crate::canonical::model::{Profile, User};
use crate::canonical::user::{NewUser, UserDisable, UserGet, UserRegister, UserUpdate};
use crate::canonical::{Error, ErrorKind, Op, Reason, Result};
use crate::migrate::sides::take;
use crate::migrate::walk::UserItem;

/// Copies one user.
pub async fn user(cx: &Cx<'_>, item: UserItem) -> std::result::Result<Step, Fatal> {
    let entity = format!("user {}", item.username);
    Step::one(entity, copy(cx, item).await)
}

/// The profile fields that travel (all but `disabled`, written on its own).
fn profile_fields(cx: &Cx<'_>) -> Vec<&'static str> {
    cx.carried
        .fields(Entity::User)
        .iter()
        .copied()
        .filter(|f| *f != "disabled")
        .collect()
}

fn json(user: &User) -> Value {
    serde_json::to_value(&user.profile).unwrap_or(Value::Null)
}

fn profile(fields: serde_json::Map<String, Value>) -> Result<Profile> {
    serde_json::from_value(Value::Object(fields))
        .map_err(|e| Error::internal(format!("a copied profile: {e}")))
}

async fn copy(cx: &Cx<'_>, item: UserItem) -> Result<Done> {
    let src = item.record(cx.source).await?;
    let fields = profile_fields(cx);
    let choice = cx.passwords.choose(&src.username).await?;
    let (app, to, from) = (&cx.key.app, cx.target.name(), cx.source.name());
    // The mark comes first: a user made by an attempt that was killed right
    // after is still marked when the rerun finds it.
    let marked = choice.pending && cx.store.pending_mark(app, to, from, &src.username).await?;
    let register = UserRegister {
        users: vec![NewUser {
            username: src.username.clone(),
            password: Some(choice.password.clone()),
            profile: profile(only(&json(&src), &fields))?,
        }],
        kind: src.kind,
        require_password: false,
        atomic: false,
    };
    let out = take!(
        cx.target.run(Op::UserRegister(register)).await?,
        UserRegister
    )?;
    let error = out.items.into_iter().next().and_then(|i| i.error);
    match error {
        None => {
            cx.passwords.made(&choice);
            if src.disabled && cx.carried.has(Entity::User, "disabled") {
                disable(cx, &src.username, true).await?;
            }
            Ok(Done::Copied)
        }
        Some(e) if e.kind == ErrorKind::AlreadyExists => {
            if marked {
                // Not made by an earlier attempt (it marks first): the
                // user's password on the target is its own.
                cx.store.pending_done(app, to, &src.username).await?;
            }
            cx.passwords
                .settle(cx.target, &choice, &src.username)
                .await?;
            update(cx, &src, &fields).await
        }
        Some(e) => Err(e),
    }
}

/// Brings a user the target has up to date.
async fn update(cx: &Cx<'_>, src: &User, fields: &[&str]) -> Result<Done> {
    let get = UserGet {
        username: src.username.clone(),
    };
    let tgt = take!(cx.target.run(Op::UserGet(get)).await?, UserGet)?;
    let diff = changes(&json(src), &json(&tgt), fields);
    let mut done = Done::Skipped;
    if !diff.is_empty() {
        let update = UserUpdate {
            username: src.username.clone(),
            profile: profile(diff.into_iter().collect())?,
        };
        cx.target.run(Op::UserUpdate(update)).await?;
        done = Done::Updated;
    }
    if cx.carried.has(Entity::User, "disabled") {
        if cx.compared.has(Entity::User, "disabled") {
            if tgt.disabled != src.disabled {
                disable(cx, &src.username, src.disabled).await?;
                done = Done::Updated;
            }
        } else if src.disabled {
            // The target cannot tell: disabling again changes nothing.
            disable(cx, &src.username, true).await?;
        }
    }
    Ok(done)
}

async fn disable(cx: &Cx<'_>, username: &str, disabled: bool) -> Result<()> {
    let op = Op::UserDisable(UserDisable {
        username: username.to_string(),
        disabled,
    });
    match cx.target.run(op).await {
        Ok(_) => Ok(()),
        // Some vendors refuse a change to the state the user is in.
        Err(e) if matches!(e.reason, Some(Reason::AlreadyOn | Reason::AlreadyOff)) => Ok(()),
        Err(e) => Err(e),
    }
}
