//! Integration tests of the test servers testkit starts.
//!
//! One test binary for the crate (each file a module) so the crate and its dependencies are
//! linked once.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

#[cfg(feature = "aws")]
mod moto_iam;
mod quote_site;
mod sitecustomize;
