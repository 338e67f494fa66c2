//! The transform Lambda: quote records from Kinesis are validated (the shared `quote-record` crate),
//! written to InfluxDB as line protocol, and invalid ones are quarantined in S3 with their reason.
//!
//! The binary (`src/main.rs`) only wires [`handler::handle`] to the Lambda runtime; everything else
//! lives here so that tests call the handler with real-shaped events.
//!
//! - [`config`]: environment variables.
//! - [`influx`]: the writer (v1/v2 API, gzip, batches of at most 5,000 lines).
//! - [`secrets`]: the InfluxDB token from Secrets Manager, cached and re-read on a 401.
//! - [`quarantine`]: one JSON-lines S3 object of invalid (or refused) records per invocation.
//! - [`write`]: writing the bodies in order; bisecting a body whose points InfluxDB refuses.
//! - [`handler`]: the batch logic and its delivery guarantees.

pub mod config;
pub mod handler;
pub mod influx;
pub mod quarantine;
pub mod secrets;
pub mod write;

pub use config::Config;
pub use handler::{Outcome, Transform, handle, handle_until};
