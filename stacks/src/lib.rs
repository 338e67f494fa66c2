//! The MyStockTracker pipeline as typed CloudFormation stacks with least-privilege IAM.
//!
//! [`template`] is the typed template model, [`resources`] the resource types, [`iam`] policy documents
//! and the action vocabulary with the uses every grant is made for ([`iam::uses`]); [`grants`] reads
//! those reasons back per role and checks that none is missing; [`kms_use`] the KMS permissions each use of an encrypted resource needs;
//! [`pipeline`] builds the stacks of one region from an
//! [`environment::Environment`].

pub mod grants;
pub mod handlers;
pub mod iam;
pub mod kms_use;
pub mod pipeline;
pub mod resources;
pub mod template;
