//! Integration tests of the VPN connect Lambda: handler and runtime API.
//!
//! One test binary for the crate (each file a module) so the crate and its dependencies are
//! linked once.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

mod handler;
mod runtime_api;
