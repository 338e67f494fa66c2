//! Integration tests of the deploy engine against moto and mocks.
//!
//! One test binary for the crate (each file a module) so the crate and its dependencies are
//! linked once.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

mod autoscaling;
mod build;
mod dr;
mod faults;
mod fleet_status;
mod kms;
mod replication_permissions;
mod ssm;
