//! `imbridge migrate verify`: the source and the target compared entity by
//! entity, on the fields both keep and read back (what a pair cannot carry
//! is listed, not compared). Nothing is written.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use futures::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::Value;

use super::copy::{groups as g, messages as m, rooms as r, same, social, Conversation};
use super::kinds::Kind;
use super::plan::{Carried, Gap, Plan, Walk};
use super::sides::{take, Side};
use super::walk::{self, Found, UserItem};
use crate::canonical::fields::Entity;
use crate::canonical::message::HistoryMessage;
use crate::canonical::model::{Group, Room, User, UserRef};
use crate::canonical::user::{UserChatroomsList, UserGet, UserGroupsList};
use crate::canonical::{Error, ErrorKind, Op, OpName, Result};
use crate::store::Store;

/// Differences kept in the report at most (all are counted).
const KEEP: usize = 1000;

/// One difference between the source and the target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// The kind.
    pub kind: &'static str,
    /// The entity (`user tom`, `member ann of group 10001`).
    pub entity: String,
    /// The field, or `exists` for an entity missing on the target.
    pub field: String,
    /// The source's value.
    pub source: Value,
    /// The target's value.
    pub target: Value,
}

/// How one kind compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checked {
    /// The kind.
    pub kind: &'static str,
    /// Items compared (users, groups, ...), or why the kind was not.
    pub items: u64,
    /// Differences found.
    pub differences: u64,
    /// Why the kind was not compared, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// The report of `verify`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    /// Source provider.
    pub from: String,
    /// Target provider.
    pub to: String,
    /// The app.
    pub app_key: String,
    /// Seconds it took.
    pub seconds: f64,
    /// Per kind.
    pub kinds: Vec<Checked>,
    /// `entity.field` compared.
    pub compared: Vec<String>,
    /// Fields not compared, and why.
    pub not_compared: Vec<Gap>,
    /// Differences in all.
    pub total: u64,
    /// The first of them.
    pub differences: Vec<Difference>,
    /// Why verifying stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl VerifyReport {
    /// Whether the two sides agree.
    pub fn ok(&self) -> bool {
        self.total == 0 && self.stopped.is_none()
    }

    /// The table for people.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "verify {} -> {} (app {})\n\n{:<13} {:>8} {:>12}",
            self.from, self.to, self.app_key, "kind", "items", "differences"
        );
        for k in &self.kinds {
            let _ = match &k.skipped {
                Some(why) => writeln!(
                    out,
                    "{:<13} {:>8} {:>12}  not compared: {why}",
                    k.kind, "-", "-"
                ),
                None => writeln!(out, "{:<13} {:>8} {:>12}", k.kind, k.items, k.differences),
            };
        }
        if !self.not_compared.is_empty() {
            let _ = writeln!(out, "\nnot compared:");
            for g in &self.not_compared {
                let _ = writeln!(out, "  {}.{}: {}", g.entity, g.field, g.reason);
            }
        }
        if !self.differences.is_empty() {
            let _ = writeln!(out, "\ndifferences ({}):", self.total);
            for d in self.differences.iter().take(50) {
                let _ = writeln!(
                    out,
                    "  {} {}: {}: source {}, target {}",
                    d.kind, d.entity, d.field, d.source, d.target
                );
            }
            if self.total > 50 {
                let _ = writeln!(
                    out,
                    "  ... {} more (the first {KEEP} in --report FILE)",
                    self.total - 50
                );
            }
        }
        let _ = writeln!(out);
        let _ = match &self.stopped {
            Some(why) => writeln!(out, "stopped: {why}"),
            None if self.total == 0 => writeln!(
                out,
                "the target agrees with the source ({:.1}s)",
                self.seconds
            ),
            None => writeln!(out, "{} difference(s) ({:.1}s)", self.total, self.seconds),
        };
        out
    }
}

/// Compares one pair.
pub struct Verify<'a> {
    /// Read from.
    pub source: &'a Side,
    /// Compared with.
    pub target: &'a Side,
    /// The id pairs.
    pub store: &'a Store,
    /// The plan (walks, compared fields).
    pub plan: &'a Plan,
    /// Items compared at once.
    pub concurrency: usize,
}

/// What comparing one item found.
type Diffs = Result<Vec<Difference>>;

impl Verify<'_> {
    fn compared(&self) -> &Carried {
        &self.plan.compared
    }

    /// Compares every kind of the plan.
    pub async fn run(&self, report: &mut VerifyReport) {
        for kp in &self.plan.kinds {
            let walk = match &kp.walk {
                Ok(w) => w,
                Err(why) => {
                    report.kinds.push(Checked {
                        kind: kp.kind.as_str(),
                        items: 0,
                        differences: 0,
                        skipped: Some(why.clone()),
                    });
                    continue;
                }
            };
            let mut checked = Checked {
                kind: kp.kind.as_str(),
                items: 0,
                differences: 0,
                skipped: None,
            };
            let result = self.kind(kp.kind, walk, &mut checked, report).await;
            report.kinds.push(checked);
            if let Err(e) = result {
                report.stopped = Some(format!("{}: {e}", kp.kind));
                return;
            }
        }
    }

    async fn kind(
        &self,
        kind: Kind,
        walk: &Walk,
        checked: &mut Checked,
        report: &mut VerifyReport,
    ) -> Result<()> {
        let users = async |c: &str| walk::users(self.source, walk, c).await;
        match kind {
            Kind::Users => {
                self.pages(checked, report, users, async |u| self.user(u).await)
                    .await
            }
            Kind::Friends => {
                self.pages(checked, report, users, async |u| self.friends(u).await)
                    .await
            }
            Kind::Blacklists => {
                self.pages(checked, report, users, async |u| self.blacklist(u).await)
                    .await
            }
            Kind::Groups | Kind::Members => {
                let found = self.found_groups(walk).await?;
                let groups = async |c: &str| match &found {
                    Some(list) => Ok(held(list, c)),
                    None => walk::groups(self.source, &Found::Listed, c).await,
                };
                if kind == Kind::Groups {
                    self.pages(checked, report, groups, async |x| self.group(x).await)
                        .await
                } else {
                    self.pages(checked, report, groups, async |x| self.members(x).await)
                        .await
                }
            }
            Kind::Chatrooms | Kind::RoomMembers => {
                let found = self.found_rooms(walk).await?;
                let rooms = async |c: &str| match &found {
                    Some(list) => Ok(held(list, c)),
                    None => walk::rooms(self.source, &Found::Listed, c).await,
                };
                if kind == Kind::Chatrooms {
                    self.pages(checked, report, rooms, async |x| self.room(x).await)
                        .await
                } else {
                    self.pages(checked, report, rooms, async |x| self.room_members(x).await)
                        .await
                }
            }
            Kind::Messages => {
                let Walk::Conversations {
                    users,
                    groups: group_walk,
                } = walk
                else {
                    return Ok(());
                };
                if !self.target.supports(OpName::MessageHistoryList) {
                    checked.skipped = Some(format!(
                        "target {} cannot read message history back (message.history.list): not compared",
                        self.target.name()
                    ));
                    return Ok(());
                }
                let found = match group_walk.as_deref() {
                    Some(w) => self.found_groups(w).await?,
                    None => None,
                };
                let groups = async |c: &str| match (&found, group_walk) {
                    (Some(list), _) => Ok(held(list, c)),
                    (None, Some(_)) => walk::groups(self.source, &Found::Listed, c).await,
                    (None, None) => Ok(walk::empty()),
                };
                let conversations =
                    async |c: &str| walk::conversations(self.source, users, &groups, c).await;
                self.pages(checked, report, conversations, async |c| {
                    self.history(c).await
                })
                .await
            }
        }
    }

    /// Compares a conversation's messages: each source message's twin (its
    /// pair) by sender, time, kind and content, and the counts.
    async fn history(&self, c: Conversation) -> Diffs {
        let entity = c.describe();
        let t = match &c {
            Conversation::Sent(u) => u.clone(),
            Conversation::Group(id) => match self.paired("messages", "group", id).await? {
                Ok(t) => t,
                Err(d) => return Ok(vec![d]),
            },
        };
        let mut tgt = HashMap::new();
        m::history(self.target, &c, &t, async |msg: HistoryMessage| {
            tgt.insert(msg.id.clone(), message_json(&msg));
            Ok(())
        })
        .await?;
        let mut out = Vec::new();
        let mut count = 0u64;
        let (from, to) = (self.source.name(), self.target.name());
        m::history(
            self.source,
            &c,
            c.source_id(),
            async |msg: HistoryMessage| {
                count += 1;
                let what = format!("message {} ({entity})", msg.id);
                let twin = self.store.pair_target(from, to, "message", &msg.id).await?;
                match twin.and_then(|id| tgt.get(&id)) {
                    None => out.push(missing("messages", what)),
                    Some(t) => out.extend(fields(
                        "messages",
                        &what,
                        &message_json(&msg),
                        t,
                        &["from", "time", "kind", "content"],
                    )),
                }
                Ok(())
            },
        )
        .await?;
        if count != tgt.len() as u64 {
            out.push(Difference {
                kind: "messages",
                entity,
                field: "count".into(),
                source: count.into(),
                target: (tgt.len() as u64).into(),
            });
        }
        Ok(out)
    }

    /// Walks pages, comparing each page's items concurrently.
    async fn pages<T>(
        &self,
        checked: &mut Checked,
        report: &mut VerifyReport,
        fetch: impl AsyncFn(&str) -> Result<walk::Page<T>>,
        check: impl AsyncFn(T) -> Diffs,
    ) -> Result<()> {
        let mut cursor = String::new();
        loop {
            let page = fetch(&cursor).await?;
            checked.items += page.items.len() as u64;
            let mut found = stream::iter(page.items)
                .map(|item| check(item))
                .buffer_unordered(self.concurrency.max(1));
            while let Some(diffs) = found.next().await {
                for d in diffs? {
                    checked.differences += 1;
                    report.total += 1;
                    if report.differences.len() < KEEP {
                        report.differences.push(d);
                    }
                }
            }
            match page.next {
                Some(n) => cursor = n,
                None => return Ok(()),
            }
        }
    }

    async fn user(&self, item: UserItem) -> Diffs {
        let entity = format!("user {}", item.username);
        let src = item.record(self.source).await?;
        let op = Op::UserGet(UserGet {
            username: src.username.clone(),
        });
        let tgt = match self.target.run(op).await {
            Ok(out) => take!(out, UserGet)?,
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(vec![missing("users", entity)]),
            Err(e) => return Err(e),
        };
        let (s, t) = (user_json(&src), user_json(&tgt));
        Ok(fields(
            "users",
            &entity,
            &s,
            &t,
            self.compared().fields(Entity::User),
        ))
    }

    async fn friends(&self, item: UserItem) -> Diffs {
        let user = item.username;
        let src = social::friends_of(self.source, &user).await?;
        let tgt = social::friends_of(self.target, &user).await?;
        let have: HashMap<&str, Value> = tgt
            .iter()
            .map(|f| (f.user.username.as_str(), social::notes(f)))
            .collect();
        let mut out = Vec::new();
        for f in &src {
            let entity = format!("friend {user} → {}", f.user.username);
            match have.get(f.user.username.as_str()) {
                None => out.push(missing("friends", entity)),
                Some(t) => out.extend(fields(
                    "friends",
                    &entity,
                    &social::notes(f),
                    t,
                    self.compared().fields(Entity::Friend),
                )),
            }
        }
        Ok(out)
    }

    async fn blacklist(&self, item: UserItem) -> Diffs {
        let user = item.username;
        let src = social::blocked_by(self.source, &user).await?;
        let tgt: HashSet<String> = social::blocked_by(self.target, &user)
            .await?
            .into_iter()
            .map(|u| u.username)
            .collect();
        Ok(src
            .into_iter()
            .filter(|u| !tgt.contains(&u.username))
            .map(|u| missing("blacklists", format!("blocked {user} → {}", u.username)))
            .collect())
    }

    /// The target id of a copied group or room, or the difference saying it
    /// was not copied.
    async fn paired(
        &self,
        kind: &'static str,
        pair: &str,
        id: &str,
    ) -> Result<std::result::Result<String, Difference>> {
        let found = self
            .store
            .pair_target(self.source.name(), self.target.name(), pair, id)
            .await?;
        Ok(found.ok_or_else(|| missing(kind, format!("{pair} {id}"))))
    }

    async fn group(&self, src: Group) -> Diffs {
        let src = match g::complete(self.source, src).await {
            Ok(s) => s,
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let t = match self.paired("groups", "group", &src.id).await? {
            Ok(t) => t,
            Err(d) => return Ok(vec![d]),
        };
        let entity = format!("group {}", src.id);
        let Some(tgt) = g::read(self.target, &t).await? else {
            return Ok(vec![missing("groups", entity)]);
        };
        let fields_: Vec<&str> = self
            .compared()
            .fields(Entity::Group)
            .iter()
            .copied()
            .filter(|f| *f != "id")
            .collect();
        Ok(fields(
            "groups",
            &entity,
            &json(&src),
            &json(&tgt),
            &fields_,
        ))
    }

    async fn members(&self, src: Group) -> Diffs {
        let t = match self.paired("members", "group", &src.id).await? {
            Ok(t) => t,
            Err(d) => return Ok(vec![d]),
        };
        let tgt: HashMap<String, Value> = g::all_members(self.target, &t)
            .await?
            .into_iter()
            .map(|m| (m.user.username.clone(), member_json(m.role, m.muted)))
            .collect();
        let mut out = Vec::new();
        for m in g::all_members(self.source, &src.id).await? {
            let entity = format!("member {} of group {}", m.user.username, src.id);
            match tgt.get(&m.user.username) {
                None => out.push(missing("members", entity)),
                Some(t) => out.extend(fields(
                    "members",
                    &entity,
                    &member_json(m.role, m.muted),
                    t,
                    self.compared().fields(Entity::Member),
                )),
            }
        }
        Ok(out)
    }

    async fn room(&self, src: Room) -> Diffs {
        let t = match self.paired("chatrooms", "chatroom", &src.id).await? {
            Ok(t) => t,
            Err(d) => return Ok(vec![d]),
        };
        let entity = format!("chatroom {}", src.id);
        let Some(tgt) = r::read(self.target, &t).await? else {
            return Ok(vec![missing("chatrooms", entity)]);
        };
        let fields_: Vec<&str> = self
            .compared()
            .fields(Entity::Chatroom)
            .iter()
            .copied()
            .filter(|f| *f != "id")
            .collect();
        Ok(fields(
            "chatrooms",
            &entity,
            &json(&src),
            &json(&tgt),
            &fields_,
        ))
    }

    async fn room_members(&self, src: Room) -> Diffs {
        let t = match self.paired("room_members", "chatroom", &src.id).await? {
            Ok(t) => t,
            Err(d) => return Ok(vec![d]),
        };
        let tgt: HashMap<String, bool> = r::all_members(self.target, &t)
            .await?
            .into_iter()
            .map(|m| (m.user.username, m.muted))
            .collect();
        let mut out = Vec::new();
        for m in r::all_members(self.source, &src.id).await? {
            let entity = format!("member {} of chatroom {}", m.user.username, src.id);
            match tgt.get(&m.user.username) {
                None => out.push(missing("room_members", entity)),
                Some(muted) => out.extend(fields(
                    "room_members",
                    &entity,
                    &serde_json::json!({"muted": m.muted}),
                    &serde_json::json!({"muted": muted}),
                    self.compared().fields(Entity::RoomMember),
                )),
            }
        }
        Ok(out)
    }

    /// Groups found through users (held in memory), when the source cannot
    /// list them.
    async fn found_groups(&self, walk: &Walk) -> Result<Option<Vec<Group>>> {
        if *walk != Walk::GroupsOfUsers {
            return Ok(None);
        }
        let mut seen = HashMap::new();
        self.each_user(
            async |u: String| {
                let op = Op::UserGroupsList(UserGroupsList {
                    user: UserRef::local(u),
                });
                Ok(take!(self.source.run(op).await?, UserGroupsList)?.items)
            },
            &mut |g: Group| {
                seen.entry(g.id.clone()).or_insert(g);
            },
        )
        .await?;
        Ok(Some(seen.into_values().collect()))
    }

    /// Chatrooms found through users, when the source cannot list them.
    async fn found_rooms(&self, walk: &Walk) -> Result<Option<Vec<Room>>> {
        if *walk != Walk::RoomsOfUsers {
            return Ok(None);
        }
        let mut seen = HashMap::new();
        self.each_user(
            async |u: String| {
                let op = Op::UserChatroomsList(UserChatroomsList { username: u });
                Ok(take!(self.source.run(op).await?, UserChatroomsList)?.items)
            },
            &mut |r: Room| {
                seen.entry(r.id.clone()).or_insert(r);
            },
        )
        .await?;
        Ok(Some(seen.into_values().collect()))
    }

    async fn each_user<T>(
        &self,
        of: impl AsyncFn(String) -> Result<Vec<T>>,
        keep: &mut impl FnMut(T),
    ) -> Result<()> {
        let Some(users) = &self.plan.users else {
            return Err(Error::new(ErrorKind::Unsupported, "users cannot be walked"));
        };
        let mut cursor = String::new();
        loop {
            let page = walk::users(self.source, users, &cursor).await?;
            for u in page.items {
                of(u.username).await?.into_iter().for_each(&mut *keep);
            }
            match page.next {
                Some(n) => cursor = n,
                None => return Ok(()),
            }
        }
    }
}

/// A page of held items from position `cursor`.
fn held<T: Clone>(list: &[T], cursor: &str) -> walk::Page<T> {
    let at: usize = cursor.parse().unwrap_or(0);
    let end = (at + walk::PAGE).min(list.len());
    walk::Page {
        items: list[at.min(end)..end].to_vec(),
        next: (end < list.len()).then(|| end.to_string()),
        total: Some(list.len() as u64),
    }
}

/// What verify compares of a message (its id and target are the side's own).
fn message_json(m: &HistoryMessage) -> Value {
    serde_json::json!({"from": m.from, "time": m.time, "kind": m.kind, "content": m.content})
}

fn missing(kind: &'static str, entity: String) -> Difference {
    Difference {
        kind,
        entity,
        field: "exists".into(),
        source: Value::Bool(true),
        target: Value::Bool(false),
    }
}

fn json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn user_json(u: &User) -> Value {
    let mut v = json(&u.profile);
    v["disabled"] = Value::Bool(u.disabled);
    v
}

fn member_json(role: crate::canonical::model::Role, muted: bool) -> Value {
    serde_json::json!({"role": role, "muted": muted})
}

/// The differences of `fields` between two records.
fn fields(
    kind: &'static str,
    entity: &str,
    s: &Value,
    t: &Value,
    fields: &[&str],
) -> Vec<Difference> {
    fields
        .iter()
        .filter(|f| !same(s.get(**f), t.get(**f)))
        .map(|f| Difference {
            kind,
            entity: entity.to_string(),
            field: f.to_string(),
            source: s.get(*f).cloned().unwrap_or(Value::Null),
            target: t.get(*f).cloned().unwrap_or(Value::Null),
        })
        .collect()
}
