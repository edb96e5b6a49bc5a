//! The operator interface: `imbridge serve | check | test | translate`, with
//! exit codes.

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
    },
    /// Show what a request becomes: route, canonical operation and, for a
    /// vendor provider, the calls it would make (secrets redacted). Offline.
    Translate {
        /// Config file (default: config/imbridge.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Frontend name in the config.
        #[arg(long)]
        frontend: String,
        /// HTTP method.
        #[arg(long, default_value = "GET")]
        method: String,
        /// Path with query string.
        #[arg(long)]
        path: String,
        /// A header, `name: value` (repeatable).
        #[arg(long = "header")]
        headers: Vec<String>,
        /// The body (JSON or form text).
        #[arg(long)]
        body: Option<String>,
        /// Show the calls of this provider instead of the frontend's.
        #[arg(long)]
        provider: Option<String>,
        /// The authenticated user (auth itself is not run).
        #[arg(long)]
        caller: Option<String>,
    },
}

fn load(config: Option<&PathBuf>) -> Result<Config, ExitCode> {
    Config::load(config.map(PathBuf::as_path)).map_err(|e| {
        eprintln!("error: bad configuration: {e}");
        ExitCode::from(2)
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

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Runs the CLI; returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Test { mappings, config } => {
            let dir = match mappings {
                Some(d) => d,
                None => match load(config.as_ref()) {
                    Ok(c) => c.mappings,
                    Err(code) => return code,
                },
            };
            let outcomes = match runtime().block_on(crate::golden::run_dir(&dir)) {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
            for o in &outcomes {
                match &o.failure {
                    None => println!("test {} ... passed", o.name),
                    Some(f) => println!("test {} ... FAILED\n{f}\n", o.name),
                }
            }
            println!("{} passed, {failed} failed", outcomes.len() - failed);
            if failed == 0 && !outcomes.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Translate {
            config,
            frontend,
            method,
            path,
            headers,
            body,
            provider,
            caller,
        } => {
            let config = match load(config.as_ref()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let req = translate::Request {
                frontend,
                method,
                path,
                headers,
                body,
                provider,
                caller,
            };
            match runtime().block_on(translate::translate(&config, &req)) {
                Ok(report) => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&report).unwrap_or_default()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve { config } => {
            let config_path = config.clone();
            let config = match load(config.as_ref()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            init_logs(&config);
            match crate::server::run(&config, config_path) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check { config, markdown } => {
            let config = match load(config.as_ref()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let providers = match Providers::dry(&config) {
                Ok(p) => std::sync::Arc::new(p),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match Registry::build(&config, &providers) {
                Ok(registry) if markdown => {
                    print!("{}", registry.capability_markdown(&providers));
                    ExitCode::SUCCESS
                }
                Ok(registry) => {
                    println!(
                        "ok: {} dialects, {} listeners",
                        registry.dialects.len(),
                        registry.listeners.len()
                    );
                    print!("{}", registry.capability_matrix());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
