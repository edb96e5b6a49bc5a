//! The operator interface: `imbridge serve | check | test | translate |
//! migrate | schema`, with
//! exit codes.

mod migrate;
mod translate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::registry::{Providers, Registry};

/// imbridge: serve one IM vendor's HTTP API on top of another.
#[derive(Debug, Parser)]
#[command(name = "imbridge", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the configured frontends until SIGTERM.
    Serve {
        /// Config file (default: config/imbridge.toml).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate the config and every mapping file; print the capability matrix.
    Check {
        /// Config file (default: config/imbridge.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print the frontend × provider matrix (every frontend against every
        /// configured provider) as Markdown instead (docs/compatibility.md).
        #[arg(long)]
        markdown: bool,
    },
    /// Run the golden cases beside the mapping files (mappings/tests/...), offline.
    Test {
        /// Mapping directory (default: the config's `mappings`).
        #[arg(long)]
        mappings: Option<PathBuf>,
        /// Config file (default: config/imbridge.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// First write golden cases from the recordings in this directory
        /// (`GOLDEN_RECORD_DIR`): each that passes offline and proves a route
        /// or operation no other does, into `tests/<dialect>/recorded-*.yaml`.
        #[arg(long, value_name = "DIR")]
        record: Option<PathBuf>,
    },
    /// Moving an app to another provider: copy its data (users, friends,
    /// blacklists, groups, members, chatrooms), resumably; `verify` compares
    /// both sides; `outbox` and `users` handle a live migration.
    Migrate(migrate::Migrate),
    /// Show what a request becomes: route, canonical operation and, for a
    /// vendor provider, the calls it would make (secrets redacted). Offline.
    Translate {
        /// Config file (default: config/imbridge.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// What to translate.
        #[command(flatten)]
        request: translate::Request,
    },
    /// Print the JSON Schema of mapping files (for editors: see
    /// docs/mappings.md, "Editing with a schema").
    Schema {
        /// Print the format's reference as Markdown instead (the reference
        /// section of docs/mappings.md).
        #[arg(long)]
        markdown: bool,
    },
}

/// Why a command failed: what to tell the operator (may be empty) and the
/// exit code (2 for a bad configuration, 1 otherwise).
struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    /// A failure with exit code 1.
    fn new(message: impl std::fmt::Display) -> Self {
        Failure {
            message: message.to_string(),
            code: 1,
        }
    }

    /// An error with exit code 1, printed as `error: …`.
    fn error(e: impl std::fmt::Display) -> Self {
        Failure::new(format_args!("error: {e}"))
    }
}

fn load(config: Option<&PathBuf>) -> Result<Config, Failure> {
    Config::load(config.map(PathBuf::as_path)).map_err(|e| Failure {
        message: format!("error: bad configuration: {e}"),
        code: 2,
    })
}

fn init_logs(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a log file or journald gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = if config.server.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// The commands' runtime. Database calls run on blocking threads; tokio
/// would start up to 512 of them as bursts come, each keeping its own
/// allocator heap, so a long `imbridge migrate` grew with its duration
/// (44 threads, 202 MB at 30,000 users): 16 are more than the pools'
/// connections can use at once by default (4 + 4).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(16)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Runs the CLI; returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Test {
            mappings,
            config,
            record,
        } => test(mappings, config, record),
        Command::Translate { config, request } => load(config.as_ref()).and_then(|config| {
            let report = runtime()
                .block_on(translate::translate(&config, &request))
                .map_err(Failure::error)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            Ok(())
        }),
        Command::Serve { config } => load(config.as_ref()).and_then(|loaded| {
            init_logs(&loaded);
            crate::server::run(&loaded, config).map_err(Failure::error)
        }),
        Command::Check { config, markdown } => check(config, markdown),
        Command::Migrate(m) => migrate::run(m),
        Command::Schema { markdown } => {
            if markdown {
                print!("{}", crate::mapping::spec::reference());
            } else {
                let schema = crate::mapping::spec::schema();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&schema).unwrap_or_default()
                );
            }
            Ok(())
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("{}", failure.message);
            }
            ExitCode::from(failure.code)
        }
    }
}

/// `imbridge test`: runs the golden cases of a mappings folder.
fn test(
    mappings: Option<PathBuf>,
    config: Option<PathBuf>,
    record: Option<PathBuf>,
) -> Result<(), Failure> {
    let dir = match mappings {
        Some(d) => d,
        None => load(config.as_ref())?.mappings,
    };
    if let Some(recordings) = record {
        let written = runtime()
            .block_on(crate::golden::write_recorded(&dir, &recordings))
            .map_err(Failure::new)?;
        for (name, why) in &written.refused {
            println!("recorded {name} ... did not pass offline\n{why}\n");
        }
        for (path, cases) in &written.files {
            println!("wrote {} ({cases} cases)", path.display());
        }
        println!(
            "recorded: {} read, {} did not pass offline",
            written.read,
            written.refused.len()
        );
    }
    let report = runtime()
        .block_on(crate::golden::run_dir(&dir))
        .map_err(Failure::new)?;
    let outcomes = &report.outcomes;
    let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
    for o in outcomes {
        match &o.failure {
            None => println!("test {} ... passed", o.name),
            Some(f) => println!("test {} ... FAILED\n{f}\n", o.name),
        }
    }
    print_coverage(&report.coverage);
    println!("{} passed, {failed} failed", outcomes.len() - failed);
    if failed == 0 && !outcomes.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(""))
    }
}

/// Per dialect: how many routes and operations a passing case covers, and
/// which none does; then the totals.
fn print_coverage(coverage: &[crate::golden::Coverage]) {
    let (mut routes, mut routes_left, mut ops, mut ops_left) = (0, 0, 0, 0);
    for c in coverage {
        println!(
            "coverage {}: {} of {} routes, {} of {} operations",
            c.dialect,
            c.routes - c.uncovered_routes.len(),
            c.routes,
            c.operations - c.uncovered_operations.len(),
            c.operations
        );
        if !c.uncovered_routes.is_empty() {
            println!("  routes without a case: {}", c.uncovered_routes.join(", "));
        }
        if !c.uncovered_operations.is_empty() {
            println!(
                "  operations without a case: {}",
                c.uncovered_operations.join(", ")
            );
        }
        routes += c.routes;
        routes_left += c.uncovered_routes.len();
        ops += c.operations;
        ops_left += c.uncovered_operations.len();
    }
    println!(
        "coverage: {} of {routes} routes, {} of {ops} operations",
        routes - routes_left,
        ops - ops_left
    );
}

/// `imbridge check`: compiles every mapping and prints what each frontend
/// supports (as Markdown with `markdown`); warns on stderr about shipped
/// development secrets on frontends served beyond loopback; refuses a
/// `[capture]` key `serve` would refuse.
fn check(config: Option<PathBuf>, markdown: bool) -> Result<(), Failure> {
    let config = load(config.as_ref())?;
    config.capture_sealer().map_err(Failure::error)?;
    let providers = Providers::dry(&config)
        .map(std::sync::Arc::new)
        .map_err(Failure::error)?;
    let registry = Registry::build(&config, &providers).map_err(Failure::new)?;
    for warning in config.development_secrets() {
        eprintln!("warning: {warning}");
    }
    if markdown {
        print!("{}", registry.capability_markdown(&providers));
    } else {
        println!(
            "ok: {} dialects, {} listeners",
            registry.dialects.len(),
            registry.listeners.len()
        );
        print!("{}", registry.capability_matrix());
        for (name, fc) in &config.frontends {
            if let Some(m) = &fc.migration {
                println!("{name}: {}", m.describe(&fc.provider));
            }
        }
    }
    Ok(())
}
