//! Integration tests of the `deployer` binary: its commands run as a user runs them, offline and against moto.
//!
//! One test binary for the crate (each file a module) so the crate and its dependencies are
//! linked once.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

mod against_deployed;
mod aws_errors;
mod bootstrap_e2e;
mod diff;
mod docs;
mod gitlab_ci;
mod grafana;
mod init;
mod moto_e2e;
mod policy;
mod policy_explain;
mod synth;
mod vpn;
