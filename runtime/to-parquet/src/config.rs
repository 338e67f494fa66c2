//! The function's configuration, read once from environment variables at cold start.
//!
//! The variables, their formats and their checks are the contract shared with the deployer
//! (`lambda_contract::to_parquet`): the pipeline stack writes them from the same type this
//! function reads them into.

pub use lambda_contract::ConfigError;

/// Everything the function reads from its environment (`Config::from_env` at cold start,
/// `Config::from_lookup` in tests).
pub type Config = lambda_contract::to_parquet::Config<String>;
