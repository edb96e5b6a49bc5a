//! Running the plan: kind after kind, page after page; the items of a page
//! copied concurrently (`--concurrency`), then the page's checkpoint and
//! failures saved in one transaction. A killed run resumes at the first page
//! not saved; its items are copied again, which finds them made already.

use std::time::Instant;

use futures::stream::{self, StreamExt};

use super::copy::{self, Conversation, Cx, Fatal, Step};
use super::kinds::Kind;
use super::plan::{KindPlan, Walk};
use super::progress::Progress;
use super::report::{KindReport, Resumed, Status};
use super::walk::{self, Found, Page, UserItem};
use super::MigrateMetrics;
use crate::canonical::model::UserRef;
use crate::canonical::model::{Group, Room};
use crate::canonical::user::UserChatroomsList;
use crate::canonical::user::UserGroupsList;
use crate::canonical::{Error, Op, Result};
use crate::migrate::sides::take;
use crate::store::migration::{Checkpoint, RunKey};
use crate::store::Store;

/// One run of a migration.
pub struct Run<'a> {
    /// What copying needs.
    pub cx: Cx<'a>,
    /// imbridge's store (checkpoints, id pairs).
    pub store: &'a Store,
    /// Which migration.
    pub key: &'a RunKey,
    /// Items copied at once.
    pub concurrency: usize,
    /// Where progress goes.
    pub progress: &'a Progress,
    /// This run resumes an interrupted one.
    pub resumed: bool,
    /// Counters.
    pub metrics: &'a MigrateMetrics,
    /// How users are walked, when they can be (groups and chatrooms may be
    /// found through them).
    pub users: Option<&'a Walk>,
}

/// Why a run stopped before the end.
pub type Stop = String;

impl Run<'_> {
    /// The checkpoint `name` resumes from (a fresh one unless this run
    /// resumes and the walk's source is the same).
    async fn checkpoint(&self, name: &str, source: &str) -> Result<Checkpoint> {
        let saved = match self.resumed {
            true => self.store.checkpoint(self.key, name).await?,
            false => None,
        };
        Ok(saved.filter(|c| c.source == source).unwrap_or(Checkpoint {
            source: source.to_string(),
            ..Checkpoint::default()
        }))
    }

    /// Copies one kind; `Err` when the run must stop (with the kind's
    /// report so far).
    pub async fn kind(&self, kp: &KindPlan) -> std::result::Result<KindReport, (KindReport, Stop)> {
        let walk = match &kp.walk {
            Ok(w) => w,
            Err(why) => {
                return Ok(KindReport {
                    kind: kp.kind.as_str(),
                    status: Status::Unsupported,
                    detail: why.clone(),
                    items: 0,
                    tally: Default::default(),
                    resumed: None,
                })
            }
        };
        let source = match walk {
            Walk::UserFile(f) => format!("file:{}", f.digest),
            other => other.describe(),
        };
        let mut report = KindReport {
            kind: kp.kind.as_str(),
            status: Status::Done,
            detail: walk.describe(),
            items: 0,
            tally: Default::default(),
            resumed: None,
        };
        let stop = |report: &KindReport, why: String| {
            let mut r = report.clone();
            r.status = Status::Interrupted;
            (r, why)
        };
        let mut cp = match self.checkpoint(kp.kind.as_str(), &source).await {
            Ok(cp) => cp,
            Err(e) => return Err(stop(&report, e.to_string())),
        };
        if cp.done > 0 || cp.finished {
            report.resumed = Some(Resumed {
                done: cp.done,
                tally: cp.tally,
            });
        }
        let result = if cp.finished {
            Ok(())
        } else {
            self.walk(kp.kind, walk, &source, &mut cp).await
        };
        report.items = cp.done;
        report.tally = cp.tally;
        match result {
            Ok(()) => Ok(report),
            Err(why) => Err(stop(&report, why)),
        }
    }

    async fn walk(
        &self,
        kind: Kind,
        walk: &Walk,
        source: &str,
        cp: &mut Checkpoint,
    ) -> std::result::Result<(), Stop> {
        let cx = &self.cx;
        let users = async |cursor: &str| walk::users(cx.source, walk, cursor).await;
        let found = Found::Stored(self.store, self.key);
        let listed = Found::Listed;
        let groups_from = if *walk == Walk::GroupsOfUsers {
            &found
        } else {
            &listed
        };
        let rooms_from = if *walk == Walk::RoomsOfUsers {
            &found
        } else {
            &listed
        };
        let groups = async |cursor: &str| walk::groups(cx.source, groups_from, cursor).await;
        let rooms = async |cursor: &str| walk::rooms(cx.source, rooms_from, cursor).await;
        let name = kind.as_str();
        match kind {
            Kind::Users => {
                self.drive(name, cp, users, async |u: UserItem| copy::user(cx, u).await)
                    .await
            }
            Kind::Friends => {
                self.drive(name, cp, users, async |u: UserItem| {
                    copy::friends(cx, u).await
                })
                .await
            }
            Kind::Blacklists => {
                self.drive(name, cp, users, async |u: UserItem| {
                    copy::blacklist(cx, u).await
                })
                .await
            }
            Kind::Groups | Kind::Members => {
                if *walk == Walk::GroupsOfUsers {
                    self.discover("groups", source).await?;
                }
                if kind == Kind::Groups {
                    self.drive(name, cp, groups, async |g: Group| copy::group(cx, g).await)
                        .await
                } else {
                    self.drive(name, cp, groups, async |g: Group| {
                        copy::members(cx, g).await
                    })
                    .await
                }
            }
            Kind::Chatrooms | Kind::RoomMembers => {
                if *walk == Walk::RoomsOfUsers {
                    self.discover("chatrooms", source).await?;
                }
                if kind == Kind::Chatrooms {
                    self.drive(name, cp, rooms, async |r: Room| copy::room(cx, r).await)
                        .await
                } else {
                    self.drive(name, cp, rooms, async |r: Room| {
                        copy::room_members(cx, r).await
                    })
                    .await
                }
            }
            Kind::Messages => {
                let Walk::Conversations {
                    users: user_walk,
                    groups: group_walk,
                } = walk
                else {
                    return Err(format!("messages cannot be walked {}", walk.describe()));
                };
                if group_walk.as_deref() == Some(&Walk::GroupsOfUsers) {
                    self.discover("groups", &Walk::GroupsOfUsers.describe())
                        .await?;
                }
                let from = match group_walk.as_deref() {
                    Some(Walk::GroupsOfUsers) => Some(&found),
                    Some(_) => Some(&listed),
                    None => None,
                };
                let groups = async |cursor: &str| match from {
                    Some(f) => walk::groups(cx.source, f, cursor).await,
                    None => Ok(walk::empty()),
                };
                let conversations = async |cursor: &str| {
                    walk::conversations(cx.source, user_walk, &groups, cursor).await
                };
                self.drive(name, cp, conversations, async |c: Conversation| {
                    copy::messages(cx, c).await
                })
                .await
            }
        }
    }

    /// Finds the groups or chatrooms (`what`) of every user, once per run,
    /// keeping them in the store for the kinds that walk them.
    async fn discover(&self, what: &'static str, source: &str) -> std::result::Result<(), Stop> {
        let name = format!("{what}:found");
        let mut cp = self
            .checkpoint(&name, source)
            .await
            .map_err(|e| e.to_string())?;
        if cp.finished {
            return Ok(());
        }
        let cx = &self.cx;
        let Some(walk) = self.users else {
            return Err(format!(
                "{what} are reached from users, which cannot be walked"
            ));
        };
        let users = async |cursor: &str| walk::users(cx.source, walk, cursor).await;
        let find = async |u: UserItem| -> std::result::Result<Step, Fatal> {
            let mut step = Step::default();
            let entity = format!("{what} of user {}", u.username);
            let found = self.found_of(what, &u.username).await;
            match found {
                Ok(items) => {
                    let added = self.store.found_add(self.key, what, items).await;
                    step.add(entity, added.map(|_| copy::Done::Skipped))?;
                }
                Err(e) => step.add(entity, Err(e))?,
            }
            Ok(step)
        };
        self.drive(&name, &mut cp, users, find).await
    }

    /// The groups or chatrooms of one user on the source, as (id, JSON).
    async fn found_of(&self, what: &str, username: &str) -> Result<Vec<(String, String)>> {
        let source = self.cx.source;
        fn json(v: &impl serde::Serialize) -> String {
            serde_json::to_string(v).unwrap_or_default()
        }
        if what == "groups" {
            let op = Op::UserGroupsList(UserGroupsList {
                user: UserRef::local(username),
            });
            let items = take!(source.run(op).await?, UserGroupsList)?.items;
            Ok(items.iter().map(|g| (g.id.clone(), json(g))).collect())
        } else {
            let op = Op::UserChatroomsList(UserChatroomsList {
                username: username.to_string(),
            });
            let items = take!(source.run(op).await?, UserChatroomsList)?.items;
            Ok(items.iter().map(|r| (r.id.clone(), json(r))).collect())
        }
    }

    /// Walks pages from the checkpoint to the end, copying each page's items
    /// concurrently and saving the checkpoint after each page.
    async fn drive<T>(
        &self,
        name: &str,
        cp: &mut Checkpoint,
        fetch: impl AsyncFn(&str) -> Result<Page<T>>,
        copy: impl AsyncFn(T) -> std::result::Result<Step, Fatal>,
    ) -> std::result::Result<(), Stop> {
        let bar = self.progress.bar(name, cp.done);
        let started = Instant::now();
        while !cp.finished {
            let page = fetch(&cp.cursor).await.map_err(|e| {
                format!("reading {name} from source {}: {e}", self.cx.source.name())
            })?;
            bar.set_total(page.total);
            let n = page.items.len() as u64;
            let mut steps = stream::iter(page.items)
                .map(|item| copy(item))
                .buffer_unordered(self.concurrency.max(1));
            let mut failures = Vec::new();
            while let Some(step) = steps.next().await {
                let step = step.map_err(|Fatal(e)| self.fatal(name, &e))?;
                self.metrics.count(name, &step);
                cp.tally.add(step.tally);
                failures.extend(
                    step.failures
                        .into_iter()
                        .map(|(entity, e)| (entity, e.to_string())),
                );
                bar.inc(1);
            }
            drop(steps);
            cp.done += n;
            match page.next {
                Some(next) => cp.cursor = next,
                None => cp.finished = true,
            }
            self.store
                .save_checkpoint(self.key, name, cp, failures)
                .await
                .map_err(|e| format!("saving the checkpoint of {name}: {e}"))?;
        }
        let t = cp.tally;
        bar.finish(&format!(
            "{} copied, {} updated, {} skipped, {} failed ({:.1}s)",
            t.copied,
            t.updated,
            t.skipped,
            t.failed,
            started.elapsed().as_secs_f64()
        ));
        Ok(())
    }

    fn fatal(&self, name: &str, e: &Error) -> Stop {
        self.metrics.fatal(name, e);
        format!("{name}: {e}")
    }
}
