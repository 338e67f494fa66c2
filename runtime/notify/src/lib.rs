//! The notify Lambda: a new curated Parquet object (one symbol, one day, one Firehose flush) ->
//! per-symbol price moves between one-minute windows -> one SNS e-mail per object listing the
//! moves that reached the threshold, never the same alert twice.
//!
//! The binary (`src/main.rs`) only wires [`handler::handle`] to the Lambda runtime; everything else
//! lives here so that tests call the handler with real-shaped events.
//!
//! - [`config`]: environment variables.
//! - [`window`]: the alert rule (windows, last prices, moves, threshold), shared with the benchmark.
//! - [`object`]: curated object keys and Parquet reading.
//! - [`state`]: the per-symbol state object (recent windows, claimed alerts) and its merge.
//! - [`store`]: the state in S3, updated with conditional writes.
//! - [`email`]: subject and body.
//! - [`handler`]: the invocation and its exactly-once argument.

pub mod config;
pub mod email;
pub mod handler;
pub mod object;
pub mod state;
pub mod store;
pub mod window;

pub use config::Config;
pub use handler::{Notify, NotifyError, Outcome, handle};
