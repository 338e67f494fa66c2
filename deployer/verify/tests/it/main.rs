//! Integration tests of `deployer verify`: checks and canary.
//!
//! One test binary for the crate (each file a module) so the crate and its dependencies are
//! linked once.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

mod canary;
mod checks;
