//! The `imbridge` binary.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    imbridge::cli::main(imbridge::cli::Cli::parse())
}
