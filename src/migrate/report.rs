//! The report a migration ends with: a table a person reads on stdout, the
//! same as JSON with `--report FILE` for machines.

use std::fmt::Write as _;

use serde::Serialize;

use super::plan::Gap;
use crate::store::migration::{Failure, Tally};

/// How a kind went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every entity was walked.
    Done,
    /// The pair cannot copy this kind (see `reason`).
    Unsupported,
    /// The run stopped during this kind (see `reason`); a rerun resumes.
    Interrupted,
    /// Not reached: the run stopped before.
    NotRun,
    /// Planned only (`--dry-run`).
    Planned,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::Unsupported => "cannot",
            Status::Interrupted => "interrupted",
            Status::NotRun => "not run",
            Status::Planned => "planned",
        }
    }
}

/// What an interrupted run had done of a kind when this run resumed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Resumed {
    /// Items done by the interrupted run.
    pub done: u64,
    /// Their outcomes.
    pub tally: Tally,
}

/// One kind in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindReport {
    /// The kind.
    pub kind: &'static str,
    /// How it went.
    pub status: Status,
    /// How its entities were found, or why it was not copied.
    pub detail: String,
    /// Items walked (users, groups, ...).
    pub items: u64,
    /// Outcomes of its entities, the resumed part included.
    #[serde(flatten)]
    pub tally: Tally,
    /// What the interrupted run had done, when this run resumed the kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed: Option<Resumed>,
}

/// Users left without a usable password on the target.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Pending {
    /// How many.
    pub count: u64,
    /// Who (the first ones, by name).
    pub users: Vec<String>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Source provider.
    pub from: String,
    /// Target provider.
    pub to: String,
    /// The app.
    pub app_key: String,
    /// Nothing was written (`--dry-run`).
    pub dry_run: bool,
    /// This run resumed an interrupted one.
    pub resumed: bool,
    /// Seconds the run took.
    pub seconds: f64,
    /// Per kind, in copy order.
    pub kinds: Vec<KindReport>,
    /// Fields that do not travel between this pair, and why.
    pub not_carried: Vec<Gap>,
    /// Users this run gave the password imbridge captured (`[capture]`).
    pub password_captured: u64,
    /// Users whose password is set at their first login through imbridge.
    pub password_pending: Pending,
    /// Every entity that failed, with why.
    pub failures: Vec<Failure>,
    /// Why the run stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl Report {
    /// Whether the run went through with no failure. (Kinds the pair
    /// cannot copy are listed, not failures: asking for one with `--only`
    /// is refused before anything starts.)
    pub fn ok(&self) -> bool {
        self.stopped.is_none()
            && self.failures.is_empty()
            && self.kinds.iter().all(|k| {
                k.tally.failed == 0
                    && matches!(
                        k.status,
                        Status::Done | Status::Planned | Status::Unsupported
                    )
            })
    }

    /// The table for people.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let verb = if self.dry_run { "plan" } else { "migration" };
        let _ = writeln!(
            out,
            "{verb} {} -> {} (app {}){}",
            self.from,
            self.to,
            self.app_key,
            if self.resumed {
                ", resuming an interrupted run"
            } else {
                ""
            }
        );
        let _ = writeln!(
            out,
            "\n{:<13} {:<11} {:>8} {:>8} {:>8} {:>8} {:>8}  detail",
            "kind", "status", "items", "copied", "updated", "skipped", "failed"
        );
        for k in &self.kinds {
            let _ = writeln!(
                out,
                "{:<13} {:<11} {:>8} {:>8} {:>8} {:>8} {:>8}  {}",
                k.kind,
                k.status.as_str(),
                k.items,
                k.tally.copied,
                k.tally.updated,
                k.tally.skipped,
                k.tally.failed,
                k.detail
            );
            if let Some(r) = &k.resumed {
                let _ = writeln!(
                    out,
                    "{:<13} resumed after {} items done by the interrupted run ({} copied, {} updated, {} skipped, {} failed)",
                    "", r.done, r.tally.copied, r.tally.updated, r.tally.skipped, r.tally.failed
                );
            }
        }
        if !self.not_carried.is_empty() {
            let _ = writeln!(out, "\nnot carried between {} and {}:", self.from, self.to);
            for g in &self.not_carried {
                let _ = writeln!(out, "  {}.{}: {}", g.entity, g.field, g.reason);
            }
        }
        if self.password_captured > 0 {
            let _ = writeln!(
                out,
                "\n{} user(s) got the password imbridge captured ([capture]).",
                self.password_captured
            );
        }
        if self.password_pending.count > 0 {
            let _ = writeln!(
                out,
                "\n{} user(s) have no password on {} yet (password_pending; see docs/migration.md). First: {}",
                self.password_pending.count,
                self.to,
                self.password_pending.users.join(", ")
            );
        }
        if !self.failures.is_empty() {
            let _ = writeln!(out, "\nfailures ({}):", self.failures.len());
            for f in self.failures.iter().take(50) {
                let _ = writeln!(out, "  {} {}: {}", f.kind, f.entity, f.reason);
            }
            if self.failures.len() > 50 {
                let _ = writeln!(
                    out,
                    "  ... {} more (all of them in --report FILE)",
                    self.failures.len() - 50
                );
            }
        }
        let wrote: u64 = self
            .kinds
            .iter()
            .map(|k| k.tally.copied + k.tally.updated)
            .sum();
        let _ = writeln!(out);
        if let Some(why) = &self.stopped {
            let _ = writeln!(
                out,
                "stopped: {why}\nrun the same command again to resume where it stopped"
            );
        } else if self.dry_run {
            let _ = writeln!(out, "dry run: nothing was written");
        } else if wrote == 0 && self.ok() {
            let _ = writeln!(
                out,
                "nothing to copy: the target was up to date ({:.1}s)",
                self.seconds
            );
        } else {
            let _ = writeln!(
                out,
                "{} in {:.1}s",
                if self.ok() {
                    "done"
                } else {
                    "done with failures"
                },
                self.seconds
            );
        }
        out
    }
}
