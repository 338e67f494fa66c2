//! The quote record of the MyStockTracker pipeline (schema version 1, see DESIGN.md).
//!
//! Every component uses this one definition of the record, its validation and its encodings:
//! - [`Quote::from_json`] reads and validates a Kinesis payload, returning an [`Invalid`] reason
//!   with a stable [`Invalid::code`] for the quarantine;
//! - [`Quote::check_arrival`] is the time-sanity rule: neither time far ahead of (or implausibly
//!   long before) the instant the consumer trusts as "arrived at" (see `docs/record.md`);
//! - [`Quote::write_json`] writes it back (the scraper), [`Quote::write_line_protocol`] writes the
//!   InfluxDB point (the transform Lambda), and with the `arrow` feature [`arrow::QuoteBatchBuilder`]
//!   builds Arrow record batches for the curated Parquet (the to-parquet Lambda);
//! - [`influx`] names the measurement, tags and fields the line protocol writes;
//! - [`CANARY_SYMBOL`] is reserved for `deployer verify`'s canary quotes (no environment lists it);
//! - [`line_protocol`] holds the general escaping rules for any InfluxDB point.

mod arrival;
#[cfg(feature = "arrow")]
pub mod arrow;
mod canary;
mod currency;
pub mod influx;
mod invalid;
pub mod line_protocol;
mod parse;
mod quote;
mod source;
mod symbol;
mod time;

pub use arrival::{
    MAX_ARRIVAL_AGE_NANOS, MAX_ARRIVAL_LEAD_NANOS, check_arrival_time, latest_plausible,
};
pub use canary::{CANARY_SOURCE_PREFIX, CANARY_SYMBOL};
pub use currency::{Currency, CurrencyError};
pub use invalid::{Field, Invalid, JsonType, SourceError};
pub use quote::{
    MAX_MARKET_TIME_LEAD_NANOS, MAX_SOURCE_LEN, Quote, QuoteFields, SCHEMA_VERSION, check_source,
    write_json_string,
};
pub use symbol::{MAX_SYMBOL_LEN, Symbol, SymbolError};
pub use time::{TimeError, Timestamp};
