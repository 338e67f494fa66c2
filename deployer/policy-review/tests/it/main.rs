//! Integration tests of `policy-review`: snapshots committed in a temporary git repository, read back
//! through `git`, compared and rendered.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod classification;
mod golden;
mod repo;
mod shipped;
mod templates;
