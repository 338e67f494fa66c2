//! The agreement between the deployer and the Lambdas, defined once and used by both sides.
//!
//! The deployer's `stacks` crate builds each function's environment from the typed configuration
//! of its module here ([`transform::Config`], [`to_parquet::Config`], [`notify::Config`],
//! [`vpn_connect::Config`], each
//! turned into its variables by `into_variables`), and each Lambda reads its environment back with
//! the same module's `from_lookup`. The environment model (`deployer/environment`) checks the
//! values it takes from `environments/<env>.yaml` with the same rules (such as
//! [`transform::influx_url_problem`]), so that what `deployer synth` accepts is what the functions
//! accept at cold start. [`prefixes`] are the bucket key prefixes every party writes or reads.
//! `docs/contracts.md` describes all of it.
//!
//! Deployment-time values CloudFormation fills in (bucket names, ARNs) have the type parameter `V`:
//! `String` in the functions, a template expression in the deployer.

pub mod notify;
pub mod prefixes;
pub mod to_parquet;
pub mod transform;
pub mod vars;
pub mod vpn_connect;

pub use vars::{ConfigError, Vars};
