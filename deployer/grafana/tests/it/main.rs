//! Integration tests of the generated Grafana dashboards, alert rules and push.
//!
//! One test binary for the crate (each file a module) so the crate and its dependencies are
//! linked once.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

mod common;
mod push;
mod queries;
mod schemas;
mod semantics;
