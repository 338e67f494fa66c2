//! Integration tests of the scraper daemon: pages, Kinesis, fleet, stop and permissions.
//!
//! One test binary for the crate (each file a module) so the crate and its dependencies are
//! linked once.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

mod common;
mod daemon;
mod fleet;
mod heartbeat_script;
mod kinesis;
mod pages;
mod partial;
mod permissions;
mod stop;
mod time_sanity;
