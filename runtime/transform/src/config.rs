//! The function's configuration, read once from environment variables at cold start.
//!
//! The variables, their formats and their checks are the contract shared with the deployer
//! (`lambda_contract::transform`): the pipeline stack writes them from the same types this
//! function reads them into, and `deployer synth` refuses values this function would refuse.

pub use lambda_contract::ConfigError;
pub use lambda_contract::transform::{DEFAULT_INFLUX_TIMEOUT, InfluxApi, InfluxConfig};

/// Everything the function reads from its environment (`Config::from_env` at cold start,
/// `Config::from_lookup` in tests).
pub type Config = lambda_contract::transform::Config<String>;
