//! `imbridge migrate`: copy an app's data from one provider to another
//! (`imbridge migrate --from A --to B`), compare both sides (`imbridge
//! migrate verify --from A --to B`), or handle a live migration (`outbox`,
//! `users`, in `crate::live::cli`).

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::{load, runtime, Failure};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::migrate::kinds::Kind;
use crate::migrate::{self, Options};

/// `imbridge migrate [verify]`.
#[derive(Debug, Args)]
#[command(subcommand_negates_reqs = true)]
pub struct Migrate {
    /// Config file (default: config/imbridge.toml).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Something else than a copy.
    #[command(subcommand)]
    pub action: Option<Action>,
    /// The copy.
    #[command(flatten)]
    pub copy: CopyArgs,
}

/// What `imbridge migrate` does besides copying.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Compare the source and the target entity by entity (fields a side
    /// cannot keep are left out); exit 0 when they agree.
    Verify(Pair),
    /// The live migration's outbox: writes on their way to the other provider.
    #[command(subcommand)]
    Outbox(crate::live::cli::Outbox),
    /// Users served by the new provider by name (cut-over).
    #[command(subcommand)]
    Users(crate::live::cli::Users),
    /// Delete the passwords captured for migrations (`[capture]`) of the
    /// app: once every user is migrated, or to undo capturing.
    PurgePasswords {
        /// The app (default: the config's app_key).
        #[arg(long)]
        app_key: Option<String>,
    },
}

/// The providers of a migration and where to report.
#[derive(Debug, Args)]
pub struct Pair {
    /// Source provider (a name from the config).
    #[arg(long, required = true)]
    pub from: Option<String>,
    /// Target provider (a name from the config).
    #[arg(long, required = true)]
    pub to: Option<String>,
    /// The app whose data moves (default: the config's app_key).
    #[arg(long)]
    pub app_key: Option<String>,
    /// A file of user ids, one per line, for sources that cannot list users
    /// (RongCloud, WildfireChat).
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// Only these kinds, comma-separated: users, friends, blacklists,
    /// groups, members, chatrooms, room_members, messages.
    #[arg(long, value_name = "KINDS")]
    pub only: Option<String>,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Calls per second to each of the two providers, at most.
    #[arg(long, value_name = "N")]
    pub rate: Option<NonZeroU32>,
    /// Entities worked on at once.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
}

/// `imbridge migrate --from A --to B`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Providers, kinds, pacing, report.
    #[command(flatten)]
    pub pair: Pair,
    /// Show what would be copied and what cannot travel; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Seconds a provider that cannot serve (an outage, its rate limit) is
    /// waited for, retrying with back-off, before the run stops.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub patience: u64,
    /// Serve the run's metrics at http://ADDR/metrics while it runs (for
    /// Prometheus; e.g. 127.0.0.1:9184).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
}

/// Runs `imbridge migrate`.
pub fn run(m: Migrate) -> Result<(), Failure> {
    let config = load(m.config.as_ref())?;
    let live = |text: Result<String, anyhow::Error>| {
        print!("{}", text.map_err(Failure::error)?);
        Ok(())
    };
    match m.action {
        Some(Action::Verify(pair)) => verify(&config, pair),
        Some(Action::Outbox(c)) => live(runtime().block_on(crate::live::cli::outbox(&config, c))),
        Some(Action::Users(c)) => live(runtime().block_on(crate::live::cli::users(&config, c))),
        Some(Action::PurgePasswords { app_key }) => {
            let app = app_key.unwrap_or_else(|| config.app_key.clone());
            live(runtime().block_on(purge_passwords(&config, app)))
        }
        None => copy(&config, m.copy),
    }
}

/// `imbridge migrate purge-passwords`: what to print.
async fn purge_passwords(config: &Config, app: String) -> anyhow::Result<String> {
    let store = crate::store::Store::open(&config.store)?;
    let n = store.forget_captured(&app, None).await?;
    let still = if config.capture.passwords {
        "; [capture] passwords is still on: set it to false to stop capturing"
    } else {
        ""
    };
    Ok(format!(
        "{n} captured password(s) of app {app} deleted{still}\n"
    ))
}

/// A failure to start: exit code 2.
fn refused(message: String) -> Failure {
    Failure {
        message: format!("error: {message}"),
        code: 2,
    }
}

/// The options of `pair` (`--dry-run` and `--patience` for a copy).
fn options(config: &Config, pair: &Pair, dry_run: bool, patience: u64) -> Result<Options, Failure> {
    super::init_logs(config);
    let only = pair
        .only
        .as_deref()
        .map(Kind::parse_list)
        .transpose()
        .map_err(refused)?;
    Ok(Options {
        from: pair.from.clone().unwrap_or_default(),
        to: pair.to.clone().unwrap_or_default(),
        app_key: pair.app_key.clone(),
        only,
        users: pair.users.clone(),
        dry_run,
        rate: pair.rate,
        concurrency: pair.concurrency.max(1),
        patience: Duration::from_secs(patience),
    })
}

fn copy(config: &Config, args: CopyArgs) -> Result<(), Failure> {
    let opts = options(config, &args.pair, args.dry_run, args.patience)?;
    let metrics = Arc::new(Metrics::new());
    let report = runtime()
        .block_on(async {
            let _exporter = match &args.metrics_listen {
                Some(addr) => Some(
                    migrate::exporter::serve(addr, metrics.clone())
                        .await
                        .map_err(|e| format!("--metrics-listen {addr}: {e}"))?,
                ),
                None => None,
            };
            migrate::migrate(config, &opts, metrics).await
        })
        .map_err(refused)?;
    finish(
        &report.table(),
        &report,
        args.pair.report.as_ref(),
        report.ok(),
    )
}

fn verify(config: &Config, pair: Pair) -> Result<(), Failure> {
    let opts = options(config, &pair, false, 60)?;
    let metrics = Arc::new(Metrics::new());
    let report = runtime()
        .block_on(migrate::verify(config, &opts, metrics))
        .map_err(refused)?;
    finish(&report.table(), &report, pair.report.as_ref(), report.ok())
}

/// Prints the table, writes the JSON, and fails when `ok` is false.
fn finish(
    table: &str,
    report: &impl serde::Serialize,
    file: Option<&PathBuf>,
    ok: bool,
) -> Result<(), Failure> {
    print!("{table}");
    if let Some(path) = file {
        let json = serde_json::to_vec_pretty(report).map_err(Failure::error)?;
        std::fs::write(path, json)
            .map_err(|e| Failure::error(format_args!("writing {}: {e}", path.display())))?;
    }
    if ok {
        Ok(())
    } else {
        Err(Failure::new(""))
    }
}
