//! The inbound half of a mapping file, evaluated: which route a request
//! takes (`routes`, `select`), the checks it must pass (`check`), the
//! canonical operation it becomes (`extract`), and how a result or a
//! canonical error is answered (`render`). Pure functions over the input
//! document (`$.path`, `$.query`, `$.body`, ...): the frontend builds that
//! document, authenticates and runs the operation; `imbridge test` and
//! `imbridge translate` call the same functions.

pub mod binding;
pub mod check;
pub mod extract;
pub mod render;
pub mod routes;
pub mod select;

pub use binding::Binding;
pub use extract::{extract, fallback};
pub use render::Reply;
pub use routes::{Candidate, RouteIndex};
pub use select::select;
