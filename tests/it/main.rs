//! Integration tests: real imbridge servers on loopback, real HTTP, real
//! SQLite files. One test binary (faster to build); cargo-nextest runs each
//! test in its own process.

mod diagnostics;
mod harness;
mod jm;
mod jmessage_endpoints;
mod jmessage_errors;
mod persistence;
mod sdk_jmessage;
