//! The operator interface: `imbridge serve | check`, with exit codes.

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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.server.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Runs the CLI; returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve { config } => {
            let config = match load(config.as_ref()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            init_logs(&config);
            match crate::server::run(&config) {
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
                Ok(p) => p,
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
