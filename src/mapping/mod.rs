//! Mapping files: the declarative description of a dialect. Loaded, checked
//! against the canonical model and compiled once into plans; the plans run per
//! request without parsing anything.

pub mod compile;
pub mod diag;
pub mod inbound;
pub mod outbound;
pub mod path;
pub mod plan;
pub mod spec;
pub mod template;
pub mod yaml;
