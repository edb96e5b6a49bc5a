//! `imbridge migrate`: copies an app's data from one provider to another at
//! the canonical level — the same operations `serve` runs, on providers
//! built from the config as `serve` builds them — so every pair works with
//! no migration code of its own.
//!
//! - `kinds`: what is copied, in dependency order; `plan`: what a pair can
//!   copy and which fields travel; `walk`: finding the source's entities page
//!   by page; `copy`: one item of a kind; `sides`: the two providers, paced
//!   and retried; `passwords`: what new users log in with; `run`: the loop;
//!   `progress`, `report`: what the operator sees. Checkpoints, id pairs and
//!   pending passwords live in imbridge's store (`crate::store::migration`,
//!   `pairs`, `passwords`).

mod copy;
pub mod exporter;
pub mod kinds;
pub mod lazy;
mod passwords;
pub mod plan;
mod progress;
pub mod report;
mod run;
mod sides;
pub mod verify;
mod walk;

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::capture::Sealer;
use crate::canonical::{Error, OpName};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::migration::RunKey;
use crate::store::Store;
use copy::{Cx, Step};
use kinds::Kind;
use passwords::Passwords;
use plan::Plan;
use progress::Progress;
use report::{KindReport, Pending, Report, Status};
use sides::{Role, Side};
use verify::{Verify, VerifyReport};
use walk::UsersFile;

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// Source provider (a name from the config).
    pub from: String,
    /// Target provider.
    pub to: String,
    /// The app whose data moves; the config's `app_key` when none.
    pub app_key: Option<String>,
    /// Only these kinds; every kind when none.
    pub only: Option<Vec<Kind>>,
    /// A file of user ids, one per line, for sources that cannot list users.
    pub users: Option<PathBuf>,
    /// Plan and count, write nothing.
    pub dry_run: bool,
    /// Calls per second to each provider, at most.
    pub rate: Option<NonZeroU32>,
    /// Items copied at once.
    pub concurrency: usize,
    /// How long a provider that cannot serve (outage, rate limit) is waited
    /// for before the run stops.
    pub patience: Duration,
}

/// The migration counters of one run, labelled with its providers.
pub struct MigrateMetrics {
    metrics: Arc<Metrics>,
    from: String,
    to: String,
}

impl MigrateMetrics {
    fn count(&self, kind: &str, step: &Step) {
        let t = step.tally;
        for (outcome, n) in [
            ("copied", t.copied),
            ("updated", t.updated),
            ("skipped", t.skipped),
            ("failed", t.failed),
        ] {
            if n > 0 {
                self.metrics
                    .migrate_entities
                    .with_label_values(&[&self.from, &self.to, kind, outcome])
                    .inc_by(n);
            }
        }
        for (_, e) in &step.failures {
            self.error(kind, e);
        }
    }

    fn error(&self, kind: &str, e: &Error) {
        self.metrics
            .migrate_errors
            .with_label_values(&[&self.from, &self.to, kind, e.kind.as_str()])
            .inc();
    }

    fn fatal(&self, kind: &str, e: &Error) {
        self.error(kind, e);
    }
}

/// Opens the two sides of a migration and plans it; the message says why
/// it cannot start.
fn prepare(
    config: &Config,
    opts: &Options,
    metrics: &Arc<Metrics>,
    store: Option<Arc<Store>>,
) -> Result<(Side, Side, Plan, String), String> {
    if opts.from == opts.to {
        return Err(format!(
            "--from and --to are both `{}`: name two different providers",
            opts.from
        ));
    }
    let open =
        |name: &str| sides::open(config, name, metrics, store.clone()).map_err(|e| e.to_string());
    let (from, to) = (open(&opts.from)?, open(&opts.to)?);
    let users = opts.users.as_deref().map(UsersFile::check).transpose()?;
    let app = opts
        .app_key
        .clone()
        .unwrap_or_else(|| config.app_key.clone());
    let source = Side::new(from, Role::Source, &app, opts.rate, opts.patience);
    let target = Side::new(to, Role::Target, &app, opts.rate, opts.patience);
    let kinds = opts.only.clone().unwrap_or_else(|| Kind::ALL.to_vec());
    let plan = plan::plan(&kinds, &source, &target, users.as_ref());
    if opts.only.is_some() {
        let cannot: Vec<String> = plan
            .kinds
            .iter()
            .filter_map(|k| {
                k.walk
                    .as_ref()
                    .err()
                    .map(|why| format!("{}: {why}", k.kind))
            })
            .collect();
        if !cannot.is_empty() {
            return Err(format!(
                "{} -> {} cannot copy what --only asks for:\n  {}",
                opts.from,
                opts.to,
                cannot.join("\n  ")
            ));
        }
    }
    Ok((source, target, plan, app))
}

/// An empty report of `plan`, each kind as `status` (or `Unsupported`).
fn planned(plan: &Plan, status: Status) -> Vec<KindReport> {
    plan.kinds
        .iter()
        .map(|k| KindReport {
            kind: k.kind.as_str(),
            status: if k.walk.is_ok() {
                status
            } else {
                Status::Unsupported
            },
            detail: match &k.walk {
                Ok(w) => w.describe(),
                Err(why) => why.clone(),
            },
            items: 0,
            tally: Default::default(),
            resumed: None,
        })
        .collect()
}

/// What opens the passwords captured through imbridge: the `[capture]`
/// sealer when capture is on; when it is off by now, its key still opens
/// what was captured while it was on.
fn captured(config: &Config) -> Result<Option<Sealer>, String> {
    if config.capture.passwords {
        return config.capture_sealer();
    }
    Ok(config
        .capture
        .key
        .as_ref()
        .and_then(|key| Sealer::new(key).ok()))
}

/// Runs a migration (or plans it, with `dry_run`). `Err` says why it could
/// not start (nothing was written); a run that stops midway is a report
/// with `stopped` set.
pub async fn migrate(
    config: &Config,
    opts: &Options,
    metrics: Arc<Metrics>,
) -> Result<Report, String> {
    let started = Instant::now();
    let captured = captured(config)?;
    // A dry run writes nothing, the store included.
    let store = match opts.dry_run {
        true => None,
        false => Some(Arc::new(
            Store::open(&config.store).map_err(|e| format!("{e:#}"))?,
        )),
    };
    let (source, target, plan, app) = prepare(config, opts, &metrics, store.clone())?;
    let mut report = Report {
        from: opts.from.clone(),
        to: opts.to.clone(),
        app_key: app.clone(),
        dry_run: opts.dry_run,
        resumed: false,
        seconds: 0.0,
        kinds: planned(&plan, Status::NotRun),
        not_carried: plan.gaps.clone(),
        password_captured: 0,
        password_pending: Pending::default(),
        failures: Vec::new(),
        stopped: None,
    };
    if opts.dry_run {
        report.kinds = planned(&plan, Status::Planned);
        return Ok(report);
    }
    let Some(store) = store else {
        return Err("no store outside a dry run".into());
    };
    let key = RunKey {
        from: opts.from.clone(),
        to: opts.to.clone(),
        app: app.clone(),
    };
    let begun = store.begin_run(&key).await;
    report.resumed = begun.map_err(|e| format!("starting the run: {e}"))?;
    let passwords = Passwords::new(
        store.clone(),
        &app,
        target.supports(OpName::UserAuthenticate),
        captured,
    );
    let counters = MigrateMetrics {
        metrics: metrics.clone(),
        from: opts.from.clone(),
        to: opts.to.clone(),
    };
    let running = metrics
        .migrate_running
        .with_label_values(&[&opts.from, &opts.to]);
    running.set(1);
    let progress = Progress::new();
    let run = run::Run {
        cx: Cx {
            source: &source,
            target: &target,
            store: &store,
            key: &key,
            carried: &plan.carried,
            compared: &plan.compared,
            passwords: &passwords,
        },
        store: &store,
        key: &key,
        concurrency: opts.concurrency,
        progress: &progress,
        resumed: report.resumed,
        metrics: &counters,
        users: plan.users.as_ref(),
    };
    for (i, kp) in plan.kinds.iter().enumerate() {
        match run.kind(kp).await {
            Ok(r) => report.kinds[i] = r,
            Err((r, why)) => {
                report.kinds[i] = r;
                report.stopped = Some(why);
                break;
            }
        }
    }
    running.set(0);
    if report.stopped.is_none() {
        store
            .finish_run(&key)
            .await
            .map_err(|e| format!("finishing the run: {e}"))?;
    }
    report.password_captured = passwords.given();
    report.failures = store.failures(&key).await.unwrap_or_default();
    if let Ok((count, users)) = store.pending_list(&app, &opts.to, 20).await {
        report.password_pending = Pending { count, users };
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Compares the source and the target of a migration (`imbridge migrate
/// verify`). `Err` says why it could not start.
pub async fn verify(
    config: &Config,
    opts: &Options,
    metrics: Arc<Metrics>,
) -> Result<VerifyReport, String> {
    let started = Instant::now();
    let store = Arc::new(Store::open(&config.store).map_err(|e| format!("{e:#}"))?);
    let (source, target, plan, app) = prepare(config, opts, &metrics, Some(store.clone()))?;
    let mut report = VerifyReport {
        from: opts.from.clone(),
        to: opts.to.clone(),
        app_key: app,
        seconds: 0.0,
        kinds: Vec::new(),
        compared: plan
            .kinds
            .iter()
            .filter_map(|k| plan::entity_of(k.kind))
            .flat_map(|e| {
                plan.compared
                    .fields(e)
                    .iter()
                    .map(move |f| format!("{e}.{f}"))
            })
            .collect(),
        not_compared: plan.gaps.clone(),
        total: 0,
        differences: Vec::new(),
        stopped: None,
    };
    Verify {
        source: &source,
        target: &target,
        store: &store,
        plan: &plan,
        concurrency: opts.concurrency,
    }
    .run(&mut report)
    .await;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
