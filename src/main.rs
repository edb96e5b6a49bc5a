//! The `imbridge` binary.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's malloc: per-thread heaps with no arena locks.
/// Every request allocates and frees small values on whichever worker thread
/// runs it; under glibc that was a quarter of the CPU (malloc, free and
/// consolidation with arena lock waits), see bench/README.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    imbridge::cli::main(imbridge::cli::Cli::parse())
}
