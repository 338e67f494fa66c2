//! The MyStockTracker pipeline as typed CloudFormation stacks with least-privilege IAM.
//!
//! [`template`] is the typed template model, [`resources`] the resource types, [`iam`] policy documents
//! and the action vocabulary; [`kms_use`] the KMS permissions each use of an encrypted resource needs;
//! [`pipeline`] builds the stacks of one region from an
//! [`environment::Environment`].

pub mod iam;
pub mod kms_use;
pub mod pipeline;
pub mod resources;
pub mod template;
