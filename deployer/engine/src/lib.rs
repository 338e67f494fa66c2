//! The deploy engine behind `deployer diff`, `up`, `down` and `status`.
//!
//! One small module per operation, in the spirit of `cloudformatious`: [`aws`] (clients over `aws-connect`,
//! the account check), [`artifacts`] (build, hash, upload), [`change_set`] (create, describe, delete,
//! and how IAM changes, through `policy-review`, the comparison of `deployer policy diff`), [`apply`]
//! (execute and wait), [`adopt`] (importing what `down` kept), [`events`] (stack events), [`gate`] (rollback triggers, the canary's bake and gate), [`image`] (the scraper's AMI, resolved once), [`waves`] (canary first, then parallel waves),
//! [`deploy`] (one region's `up`), [`dr`] (the replica key, `dr status`), [`delete`], [`status`], [`fleet`] (the scraper shards) and [`drift`]. CloudFormation holds all
//! state: the engine keeps none of its own.
//!
//! Everything that talks to AWS takes SDK clients, so tests drive it with `aws-smithy-mocks`; the
//! wave logic is a pure function over per-region results.

pub mod adopt;
pub mod apply;
pub mod artifacts;
pub mod aws;
pub mod change_set;
pub mod delete;
pub mod deploy;
pub mod dr;
pub mod drift;
mod error;
pub mod events;
pub mod fleet;
pub mod gate;
pub mod image;
pub mod keys;
pub mod next_steps;
pub mod sources;
pub mod status;
pub mod waves;

pub use error::{Error, WrongAccount, api_error};
