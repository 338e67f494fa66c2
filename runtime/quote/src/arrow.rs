//! Arrow schema and record-batch builder for the curated Parquet (feature `arrow`).

use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, Float64Builder, Int64Builder, StringDictionaryBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::Quote;

/// Time zone of the timestamp columns: Parquet then marks them `isAdjustedToUTC`.
pub const TIME_ZONE: &str = "UTC";

fn dictionary_utf8() -> DataType {
    // Few distinct values per file (a handful of currencies and sources): a
    // dictionary keeps the batch small and is what the Parquet writer encodes anyway.
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

fn timestamp_utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(TIME_ZONE.into()))
}

/// The Arrow schema of the curated Parquet: the record's fields in JSON order, timestamps as UTC
/// microseconds, `volume` as nullable `Int64` (Athena's `bigint`).
///
/// `symbol` is not a column: the curated layout is Hive-partitioned (`symbol=<S>/dt=<YYYY-MM-DD>/`),
/// so the symbol and the date live in the object key, as Athena, Glue and DuckDB expect (a column that
/// is also a partition key is an error in Athena).
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("price", DataType::Float64, false),
        Field::new("currency", dictionary_utf8(), false),
        Field::new("change_pct", DataType::Float64, false),
        Field::new("volume", DataType::Int64, true),
        Field::new("market_time", timestamp_utc_micros(), false),
        Field::new("scraped_at", timestamp_utc_micros(), false),
        Field::new("source", dictionary_utf8(), false),
    ]))
}

/// Collects validated quotes column by column and produces a [`RecordBatch`] of [`schema`].
pub struct QuoteBatchBuilder {
    schema: SchemaRef,
    price: Float64Builder,
    currency: StringDictionaryBuilder<Int32Type>,
    change_pct: Float64Builder,
    volume: Int64Builder,
    market_time: TimestampMicrosecondBuilder,
    scraped_at: TimestampMicrosecondBuilder,
    source: StringDictionaryBuilder<Int32Type>,
}

impl std::fmt::Debug for QuoteBatchBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The string builders are not Debug; the row count is what matters when debugging.
        f.debug_struct("QuoteBatchBuilder")
            .field("rows", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for QuoteBatchBuilder {
    fn default() -> Self {
        Self::with_capacity(1024)
    }
}

impl QuoteBatchBuilder {
    /// A builder with room for `rows` quotes before it reallocates.
    pub fn with_capacity(rows: usize) -> Self {
        Self {
            schema: schema(),
            price: Float64Builder::with_capacity(rows),
            currency: StringDictionaryBuilder::new(),
            change_pct: Float64Builder::with_capacity(rows),
            volume: Int64Builder::with_capacity(rows),
            market_time: TimestampMicrosecondBuilder::with_capacity(rows).with_timezone(TIME_ZONE),
            scraped_at: TimestampMicrosecondBuilder::with_capacity(rows).with_timezone(TIME_ZONE),
            source: StringDictionaryBuilder::new(),
        }
    }

    /// Appends one quote as a row (its symbol belongs to the partition, see [`schema`]).
    pub fn append(&mut self, q: &Quote) {
        self.price.append_value(q.price);
        self.currency.append_value(q.currency.as_str());
        self.change_pct.append_value(q.change_pct);
        // Validation keeps volume within i64.
        self.volume.append_option(q.volume.map(|v| v as i64));
        self.market_time.append_value(q.market_time.unix_micros());
        self.scraped_at.append_value(q.scraped_at.unix_micros());
        self.source.append_value(q.source());
    }

    /// Rows appended since the last [`QuoteBatchBuilder::finish`].
    pub fn len(&self) -> usize {
        self.price.len()
    }

    /// Whether no rows were appended since the last [`QuoteBatchBuilder::finish`].
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes the rows appended so far as a batch and leaves the builder empty.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.price.finish()),
            Arc::new(self.currency.finish()),
            Arc::new(self.change_pct.finish()),
            Arc::new(self.volume.finish()),
            Arc::new(self.market_time.finish()),
            Arc::new(self.scraped_at.finish()),
            Arc::new(self.source.finish()),
        ];
        RecordBatch::try_new(self.schema.clone(), columns)
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};

    use super::*;

    const LINE: &[u8] = br#"{"symbol":"AAPL","price":189.23,"currency":"USD","change_pct":-0.42,"volume":51234567,"market_time":"2026-11-27T15:30:01Z","scraped_at":"2026-11-27T15:30:02.123456789Z","source":"quote-page"}"#;

    #[test]
    fn builds_a_batch_of_the_schema() {
        let q = Quote::from_json(LINE).unwrap();
        let mut no_volume = q.clone().into_fields();
        no_volume.volume = None;
        let q2 = Quote::try_from(no_volume).unwrap();
        let mut b = QuoteBatchBuilder::default();
        assert!(b.is_empty());
        b.append(&q);
        b.append(&q2);
        assert_eq!(b.len(), 2);
        let batch = b.finish().unwrap();
        assert!(b.is_empty());
        assert_eq!(batch.schema(), schema());
        assert_eq!(batch.num_rows(), 2);
        assert!(batch.schema().column_with_name("symbol").is_none());
        let currency = batch.column(1).as_dictionary::<Int32Type>();
        let values = currency.values().as_string::<i32>();
        assert_eq!(values.value(currency.keys().value(1) as usize), "USD");
        assert_eq!(
            batch.column(0).as_primitive::<Float64Type>().value(0),
            189.23
        );
        let vol = batch.column(3).as_primitive::<Int64Type>();
        assert_eq!(vol.value(0), 51_234_567);
        assert!(vol.is_null(1));
        let mt = batch.column(4).as_primitive::<TimestampMicrosecondType>();
        assert_eq!(mt.value(0), 1_795_793_401_000_000);
        // Sub-microsecond digits are dropped towards the past.
        let sa = batch.column(5).as_primitive::<TimestampMicrosecondType>();
        assert_eq!(sa.value(0), 1_795_793_402_123_456);
        assert_eq!(mt.timezone(), Some("UTC"));
    }
}
