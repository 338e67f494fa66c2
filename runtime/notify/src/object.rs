//! Curated objects: which keys are ours, the symbol from the key, and the windows of a Parquet
//! object (only the `price` and `market_time` columns are read).

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampMicrosecondType};
use bytes::Bytes;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use quote_record::{Field, Invalid, Symbol, Timestamp, check_arrival_time};
use thiserror::Error;

use crate::window::Windows;

/// The key prefix of curated quote objects (the contract's, shared with to-parquet and the stack).
pub use lambda_contract::prefixes::QUOTES as QUOTES_PREFIX;

/// Why an object key is not a curated quote object (the event record is ignored and logged).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// Not under `quotes/` or not `.parquet`.
    #[error(
        "not a curated quote object (expected quotes/symbol=<S>/dt=<YYYY-MM-DD>/<name>.parquet)"
    )]
    NotQuotes,
    /// No `symbol=` segment, or its value is not a valid symbol.
    #[error("the key's symbol= segment is missing or not a valid symbol: {0}")]
    Symbol(String),
}

/// The symbol of a curated object key `quotes/symbol=<S>/dt=<YYYY-MM-DD>/<name>.parquet`.
pub fn symbol_of_key(key: &str) -> Result<Symbol, KeyError> {
    let rest = key.strip_prefix(QUOTES_PREFIX).ok_or(KeyError::NotQuotes)?;
    if !rest.ends_with(".parquet") {
        return Err(KeyError::NotQuotes);
    }
    let value = rest
        .split('/')
        .find_map(|seg| seg.strip_prefix("symbol="))
        .ok_or_else(|| KeyError::Symbol("no symbol= segment".into()))?;
    Symbol::parse(value).map_err(|e| KeyError::Symbol(format!("{value:?}: {e}")))
}

/// A Parquet object that cannot be read as curated quotes.
#[derive(Debug, Error)]
pub enum ReadError {
    /// The Parquet reader failed (not Parquet, corrupt, unsupported encoding).
    #[error("not a readable Parquet file: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// A decoded batch failed.
    #[error("cannot decode a record batch: {0}")]
    Arrow(String),
    /// A needed column is missing or has another type than `quote_record::arrow::schema()`.
    #[error(
        "column {0} is missing or not of the curated schema (price Float64, market_time Timestamp(µs, UTC)): was the object written by to-parquet?"
    )]
    Column(&'static str),
}

/// What one object holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectWindows {
    /// Rows read.
    pub rows: usize,
    /// Rows skipped: null, non-finite or non-positive price, or null time.
    pub skipped: usize,
    /// Rows skipped because their `market_time` breaks the time-sanity rule against the clock
    /// (from the future, or implausibly old).
    pub implausible: usize,
    /// Why the first of those was skipped, for the log.
    pub first_implausible: Option<Invalid>,
    /// The last price per window.
    pub windows: Windows,
}

/// Reads the `price` and `market_time` columns of a curated Parquet object into windows. Rows
/// whose `market_time` breaks the time-sanity rule against `now` (the function's clock) are
/// skipped: a record from the future never reaches the state.
pub fn read_windows(data: Bytes, now: Timestamp) -> Result<ObjectWindows, ReadError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(data)?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), ["price", "market_time"]);
    let reader = builder.with_projection(mask).build()?;
    let mut out = ObjectWindows::default();
    for batch in reader {
        let batch = batch.map_err(|e| ReadError::Arrow(e.to_string()))?;
        let price = batch
            .column_by_name("price")
            .and_then(|c| c.as_primitive_opt::<Float64Type>())
            .ok_or(ReadError::Column("price"))?;
        let time = batch
            .column_by_name("market_time")
            .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
            .ok_or(ReadError::Column("market_time"))?;
        out.rows += batch.num_rows();
        for i in 0..batch.num_rows() {
            let p = price.value(i);
            if price.is_null(i) || time.is_null(i) || !(p.is_finite() && p > 0.0) {
                out.skipped += 1;
                continue;
            }
            let market_time = Timestamp::from_unix_nanos(time.value(i).saturating_mul(1_000));
            if let Err(invalid) = check_arrival_time(Field::MarketTime, market_time, now) {
                out.implausible += 1;
                out.first_implausible.get_or_insert(invalid);
                continue;
            }
            out.windows.observe(time.value(i), p);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(
            symbol_of_key("quotes/symbol=BRK.B/dt=2026-11-27/f-1.parquet")
                .unwrap()
                .as_str(),
            "BRK.B"
        );
        assert_eq!(
            symbol_of_key("raw/symbol=A/x.parquet"),
            Err(KeyError::NotQuotes)
        );
        assert_eq!(
            symbol_of_key("quotes/symbol=A/dt=2026-11-27/x.json"),
            Err(KeyError::NotQuotes)
        );
        assert!(matches!(
            symbol_of_key("quotes/symbol=aapl/dt=2026-11-27/x.parquet"),
            Err(KeyError::Symbol(_))
        ));
        assert!(matches!(
            symbol_of_key("quotes/dt=2026-11-27/x.parquet"),
            Err(KeyError::Symbol(_))
        ));
    }

    #[test]
    fn not_parquet() {
        let err = read_windows(Bytes::from_static(b"hello"), Timestamp::UNIX_EPOCH).unwrap_err();
        assert!(err.to_string().contains("Parquet"), "{err}");
    }
}
