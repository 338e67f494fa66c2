//! The quote scraper daemon: every `interval_seconds` it fetches each symbol from each configured source,
//! turns each page into a validated quote record (or a counted, logged failure), and puts the records to
//! Kinesis, keeping per-symbol order, with a bounded on-disk spool for when Kinesis is unreachable.
//!
//! Modules: [`extract`] (locators → record), [`fetch`] (HTTP, rate limit, proxies, `Retry-After`),
//! [`tick`] (one round of fetches), [`sink`] (Kinesis batching and retries), [`spool`] (the on-disk
//! queue), [`daemon`] (the loop and shutdown), [`heartbeat`] (the file written after every tick). The configuration is the `scraper-config` crate.

pub mod daemon;
pub mod extract;
pub mod fetch;
pub mod heartbeat;
pub mod sink;
pub mod spool;
pub mod tick;

pub use daemon::{Totals, record_of, run};
pub use extract::{ExtractError, Extractor, PageField};
pub use fetch::{FetchError, FetchSettings, Fetcher};
pub use heartbeat::Heartbeat;
pub use sink::{Sink, SinkSettings, SinkStats, kinesis_client, kinesis_client_with};
pub use spool::{Record, Spool};
pub use tick::{Failure, FailureKind, Scrape, TickReport};
