//! Writes points to a real InfluxDB 1.x (`influxd`, Debian package `influxdb`) started by
//! `testkit` on a free loopback port, and reads them back: escaping of names, tag values and string
//! fields, float round trips and the quote's own encoding, as the server sees them.

#![allow(clippy::unwrap_used)]

use quote_record::line_protocol as lp;
use quote_record::{Quote, QuoteFields, Symbol, Timestamp};
use serde_json::Value;
use testkit::Influx1;

/// The server and its answers as JSON.
struct Influxd(Influx1);

impl Influxd {
    fn start() -> Self {
        Self(Influx1::start())
    }

    fn query(&self, db: &str, q: &str) -> Value {
        serde_json::from_str(&self.0.query(db, q)).unwrap()
    }

    fn write(&self, db: &str, body: &[u8]) {
        self.0.write(db, std::str::from_utf8(body).unwrap());
    }
}

/// Rows of the first series of a query result as (column -> value) maps.
fn rows(result: &Value) -> Vec<serde_json::Map<String, Value>> {
    let series = &result["results"][0]["series"][0];
    let columns: Vec<&str> = series["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    series["values"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows in {result}"))
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| c.to_string())
                .zip(row.as_array().unwrap().iter().cloned())
                .collect()
        })
        .collect()
}

/// Texts that need every kind of escaping, and some that need none.
const AWKWARD: [&str; 6] = [
    "plain",
    "with space, comma=equals",
    "quote \"double\" 'single'",
    "C:\\path\\to feed",
    "Börse Frankfurt – 東京 😀",
    "=,= lead",
];

#[test]
fn real_influxdb_reads_back_what_we_write() {
    let server = Influxd::start();
    server.query("", "CREATE DATABASE t");

    // 1. Generic points: escaped measurement, tag key/value, field key and string field.
    let mut body = Vec::new();
    for (i, text) in AWKWARD.iter().enumerate() {
        lp::escape_measurement("odd m,1", &mut body);
        body.push(b',');
        lp::escape_tag("tag k=1", &mut body);
        body.push(b'=');
        assert!(lp::check_tag(text).is_ok());
        lp::escape_tag(text, &mut body);
        body.push(b' ');
        lp::escape_tag("s f,1", &mut body);
        body.push(b'=');
        // String fields carry anything, including backslashes at the end and line breaks.
        lp::write_string_field(&format!("{text} \\ \"end\\\" \\\\ \nline2\\"), &mut body);
        body.push(b',');
        lp::escape_tag("x", &mut body);
        body.push(b'=');
        lp::write_float(
            [1e-7, 1.7976931348623157e308, 5e-324, 123456.789, -0.0, 0.1][i],
            &mut body,
        )
        .unwrap();
        body.push(b' ');
        lp::write_timestamp(1_000 + i as i64, &mut body);
        body.push(b'\n');
    }
    server.write("t", &body);
    let got = rows(&server.query("t", r#"SELECT * FROM "odd m,1" ORDER BY time"#));
    assert_eq!(got.len(), AWKWARD.len(), "{got:?}");
    for (i, (row, text)) in got.iter().zip(AWKWARD).enumerate() {
        assert_eq!(row["time"], Value::from(1_000 + i as i64));
        assert_eq!(row["tag k=1"], Value::from(text), "tag value");
        assert_eq!(
            row["s f,1"],
            Value::from(format!("{text} \\ \"end\\\" \\\\ \nline2\\")),
            "string field"
        );
        let x = [1e-7, 1.7976931348623157e308, 5e-324, 123456.789, -0.0, 0.1][i];
        assert_eq!(row["x"].as_f64().unwrap(), x, "float field");
    }

    // 2. Quotes as the transform Lambda writes them, with awkward sources.
    let base = Quote::from_json(
        br#"{"symbol":"BRK.B","price":412.5,"currency":"USD","change_pct":-0.42,"volume":51234567,"market_time":"2026-11-27T15:30:01Z","scraped_at":"2026-11-27T15:30:02.123Z","source":"x"}"#,
    )
    .unwrap();
    let mut body = Vec::new();
    let mut quotes = Vec::new();
    for (i, text) in AWKWARD.iter().enumerate() {
        let mut f: QuoteFields = base.clone().into_fields();
        f.source = (*text).to_owned();
        f.symbol = Symbol::parse(&format!("S{i}")).unwrap();
        f.price = [189.23, 0.0512, 1e-5, 3000.0, 12.345678901234, 7.0][i];
        f.volume = if i == 5 {
            None
        } else {
            Some(i as u64 * 1_000_000_007)
        };
        f.market_time =
            Timestamp::from_unix_nanos(base.market_time().unix_nanos() + i as i64 * 1_234_567);
        let q = Quote::try_from(f).unwrap();
        q.write_line_protocol(&mut body);
        body.push(b'\n');
        quotes.push(q);
    }
    server.write("t", &body);
    let got = rows(&server.query("t", "SELECT * FROM quote ORDER BY time"));
    assert_eq!(got.len(), quotes.len(), "{got:?}");
    for (row, q) in got.iter().zip(&quotes) {
        assert_eq!(row["time"], Value::from(q.market_time().unix_nanos()));
        assert_eq!(row["symbol"], Value::from(q.symbol().as_str()));
        assert_eq!(row["currency"], Value::from("USD"));
        assert_eq!(row["source"], Value::from(q.source()));
        assert_eq!(row["price"].as_f64().unwrap(), q.price());
        assert_eq!(row["change_pct"].as_f64().unwrap(), q.change_pct());
        assert_eq!(row["volume"].as_u64(), q.volume());
    }
    // volume is stored as an integer field, the others as floats.
    let types = rows(&server.query("t", "SHOW FIELD KEYS FROM quote"));
    let types: Vec<(String, String)> = types
        .iter()
        .map(|r| {
            (
                r["fieldKey"].as_str().unwrap().to_owned(),
                r["fieldType"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        types.contains(&("volume".into(), "integer".into())),
        "{types:?}"
    );
    assert!(
        types.contains(&("price".into(), "float".into())),
        "{types:?}"
    );
}
