//! Integration tests: real imbridge servers on loopback, real HTTP, real
//! SQLite files and PostgreSQL clusters. One test binary (faster to build); cargo-nextest runs each
//! test in its own process.

mod chain;
mod compatibility;
mod cross_dialect;
mod diagnostics;
mod easemob;
mod easemob_hx;
mod faults;
mod gaps;
mod golden;
mod haorenao;
#[allow(dead_code)] // shared helpers: not every test module uses every one
mod harness;
mod jm;
mod jmessage_endpoints;
mod jmessage_errors;
mod limits;
mod live;
mod logins;
mod matrix;
mod media;
mod migrate;
mod migrate_capture;
mod migrate_managers;
mod migrate_messages;
mod migrate_pairs;
mod migrate_sites;
mod persistence;
mod pg;
mod ports;
mod postgres;
mod prometheus;
mod prop;
mod reload;
mod replicas;
mod rongcloud;
mod rongcloud_app;
mod schema;
mod sdk_jmessage;
mod sdk_rongcloud;
mod secrets;
mod tokens;
mod trust;
mod wildfire;
mod wildfire_admin;
mod wildfire_chain;
mod wire;
