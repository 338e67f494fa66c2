//! Integration tests of the typed CloudFormation and IAM of every environment.
//!
//! One test binary for the crate (each file a module) so the crate and its dependencies are
//! linked once.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

mod deploy_role_calls;
mod grants;
mod handler_permissions;
mod kms_use;
mod lambda_environments;
mod pipeline;
mod replication;
