//! The to-parquet Lambda: each raw object Firehose writes (JSON records, newline-delimited or
//! back to back, gzip or not) becomes validated, Hive-partitioned, zstd Parquet in the curated
//! bucket; invalid records go to the quarantine with their reasons.
//!
//! The binary (`src/main.rs`) only wires [`handler::handle`] to the Lambda runtime.
//!
//! - [`split`]: the raw byte stream into records, chunk by chunk, bounded memory.
//! - [`convert`]: records into Parquet bytes per partition and quarantine lines (no I/O); the
//!   grouping into partitions lives in the private `partitions` module.
//! - [`layout`]: the output keys, derived from the source object only (retries rewrite the same keys).
//! - [`quarantine`]: the quarantine entry.
//! - [`upload`]: streaming outputs to S3 (single `PutObject` or multipart).
//! - [`handler`]: the S3 event, the streamed read and the delivery guarantees.
//! - [`config`]: environment variables.

pub mod config;
pub mod convert;
pub mod handler;
pub mod layout;
mod partitions;
pub mod quarantine;
pub mod split;
pub mod upload;

pub use config::Config;
pub use convert::{Converter, Options, Output, Stats};
pub use handler::{Summary, handle};
