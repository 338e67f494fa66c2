//! `local-run` against a moto server each test starts (`testkit::Moto`), with the `local`
//! environment deployed by the engine (`engine::deploy::up`) the way `deployer up` deploys it.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

mod common;
mod deployed;
mod end_to_end;
mod esm;
mod faults;
mod firehose;
mod function;
