//! The embedded provider (work in progress).
