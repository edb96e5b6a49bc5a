//! The canonical model: one vendor-neutral Rust type per operation request and
//! result, plus the canonical errors. Frontends extract these from requests,
//! providers execute them, frontends render the results.

pub mod admin;
pub mod auth;
pub mod common;
pub mod error;
pub mod fields;
pub mod group;
pub mod ids;
pub mod message;
pub mod model;
pub mod op;
pub mod room;
pub mod social;
pub mod user;

pub use error::{Error, ErrorKind, Reason, Result, Source};
pub use op::{Op, OpName, Output};
