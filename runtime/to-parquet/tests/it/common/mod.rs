//! Test data: quote records as the scraper writes them, and a reader of the curated Parquet.

pub mod s3;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// When the test objects were created (the S3 event's time, the time-sanity rule's reference):
/// after every record of the test data (26 and 27 November 2026).
pub const CREATED: &str = "2026-11-28T00:00:00Z";

/// [`CREATED`] as a timestamp.
pub fn created() -> quote_record::Timestamp {
    quote_record::Timestamp::parse_rfc3339(CREATED).unwrap()
}

/// One valid record: `i` spreads it over symbols, two days and prices (deterministic).
pub fn valid_line(i: usize) -> String {
    const SYMBOLS: [&str; 4] = ["AAPL", "BRK.B", "MSFT", "X"];
    let symbol = SYMBOLS[i % SYMBOLS.len()];
    let day = 26 + (i / 7) % 2;
    let second = i % 60;
    let minute = (i / 60) % 60;
    let volume = if i.is_multiple_of(5) {
        String::new()
    } else {
        format!(",\"volume\":{}", 1000 + i)
    };
    format!(
        "{{\"v\":1,\"symbol\":\"{symbol}\",\"price\":{}.{:02},\"currency\":\"{}\",\"change_pct\":{}{volume},\"market_time\":\"2026-11-{day}T15:{minute:02}:{second:02}Z\",\"scraped_at\":\"2026-11-{day}T15:{minute:02}:{second:02}.5Z\",\"source\":\"{}\"}}",
        100 + i % 97,
        i % 100,
        if i.is_multiple_of(3) { "EUR" } else { "USD" },
        (i % 11) as f64 / 4.0 - 1.0,
        if i.is_multiple_of(2) {
            "quote-page"
        } else {
            r#"json api, \"v2\" é"#
        },
    )
}

/// Invalid records of several kinds (each one line).
pub const INVALID_LINES: [&str; 4] = [
    r#"{"symbol":"AAPL","price":-1,"currency":"USD","change_pct":0,"market_time":"2026-11-27T15:00:00Z","scraped_at":"2026-11-27T15:00:00Z","source":"s"}"#,
    r#"{"symbol":"lower","price":1,"currency":"USD","change_pct":0,"market_time":"2026-11-27T15:00:00Z","scraped_at":"2026-11-27T15:00:00Z","source":"s"}"#,
    r#"not json at all"#,
    r#"{"symbol":"AAPL","price":1"#,
];

/// A row as read back: (partition path, price, currency, change_pct, volume, market_time µs,
/// scraped_at µs, source).
pub type Row = (String, f64, String, f64, Option<i64>, i64, i64, String);

/// The rows the valid lines should become, sorted.
pub fn expected_rows(lines: &[String]) -> Vec<Row> {
    let mut rows: Vec<Row> = lines
        .iter()
        .filter_map(|l| quote_record::Quote::from_json(l.as_bytes()).ok())
        .map(|q| {
            let mut dt = String::new();
            q.market_time().write_utc_date(&mut dt);
            (
                format!("symbol={}/dt={dt}", q.symbol().as_str()),
                q.price(),
                q.currency().as_str().to_owned(),
                q.change_pct(),
                q.volume().map(|v| v as i64),
                q.market_time().unix_micros(),
                q.scraped_at().unix_micros(),
                q.source().to_owned(),
            )
        })
        .collect();
    rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rows
}

fn dictionary_value(batch: &RecordBatch, column: &str, row: usize) -> String {
    let array = batch
        .column_by_name(column)
        .unwrap()
        .as_dictionary::<Int32Type>();
    let values = array.values().as_string::<i32>();
    values.value(array.keys().value(row) as usize).to_owned()
}

/// Reads one curated file with the parquet crate's reader: its rows (tagged with `partition`) and
/// its row-group count.
pub fn read_parquet(partition: &str, bytes: Vec<u8>) -> (Vec<Row>, usize) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).unwrap();
    let row_groups = builder.metadata().num_row_groups();
    let mut rows = Vec::new();
    for batch in builder.build().unwrap() {
        let batch = batch.unwrap();
        assert_eq!(batch.schema(), quote_record::arrow::schema());
        let f64s = |name: &str| {
            batch
                .column_by_name(name)
                .unwrap()
                .as_primitive::<Float64Type>()
                .clone()
        };
        let times = |name: &str| {
            batch
                .column_by_name(name)
                .unwrap()
                .as_primitive::<TimestampMicrosecondType>()
                .clone()
        };
        let (price, change) = (f64s("price"), f64s("change_pct"));
        let volume = batch
            .column_by_name("volume")
            .unwrap()
            .as_primitive::<Int64Type>()
            .clone();
        let (market, scraped) = (times("market_time"), times("scraped_at"));
        for row in 0..batch.num_rows() {
            rows.push((
                partition.to_owned(),
                price.value(row),
                dictionary_value(&batch, "currency", row),
                change.value(row),
                (!volume.is_null(row)).then(|| volume.value(row)),
                market.value(row),
                scraped.value(row),
                dictionary_value(&batch, "source", row),
            ));
        }
    }
    (rows, row_groups)
}

/// Rows by partition, sorted.
pub fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rows
}

/// Gzip of `bytes` as `members` concatenated gzip members (Firehose and `cat a.gz b.gz` make those).
pub fn gzip(bytes: &[u8], members: usize) -> Vec<u8> {
    use std::io::Write as _;
    let mut out = Vec::new();
    let step = bytes.len().div_ceil(members.max(1)).max(1);
    for piece in bytes.chunks(step) {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(piece).unwrap();
        out.extend(encoder.finish().unwrap());
    }
    out
}
