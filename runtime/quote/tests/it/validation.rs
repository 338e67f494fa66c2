//! One test per validation rule: each rejected record gives its typed reason and stable code.

// Tests may unwrap (workspace policy); helpers outside #[test] functions need saying so.
#![allow(clippy::unwrap_used)]

use quote_record::{
    Currency, CurrencyError, Field, Invalid, JsonType, Quote, SourceError, Symbol, SymbolError,
    TimeError, Timestamp,
};

const GOOD: &str = r#"{"v":1,"symbol":"AAPL","price":189.23,"currency":"USD","change_pct":-0.42,"volume":51234567,"market_time":"2026-11-27T15:30:01Z","scraped_at":"2026-11-27T15:30:02.123Z","source":"quote-page"}"#;

/// GOOD with `key`'s value replaced by `value` (raw JSON), or removed when `value` is None.
fn with(key: &str, value: Option<&str>) -> String {
    let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(GOOD).unwrap();
    let mut out = String::from("{");
    for (k, val) in &v {
        let text = if k == key {
            value.map(str::to_owned)
        } else {
            Some(val.to_string())
        };
        if let Some(text) = text {
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str(&format!("{}:{text}", serde_json::Value::from(k.as_str())));
        }
    }
    out.push('}');
    out
}

fn reason(json: &str) -> Invalid {
    Quote::from_json(json.as_bytes()).expect_err(json)
}

#[test]
fn accepts_the_design_example() {
    let q = Quote::from_json(GOOD.as_bytes()).unwrap();
    assert_eq!(q.symbol().as_str(), "AAPL");
    assert_eq!(q.price(), 189.23);
    assert_eq!(q.currency().as_str(), "USD");
    assert_eq!(q.change_pct(), -0.42);
    assert_eq!(q.volume(), Some(51_234_567));
    assert_eq!(q.market_time().unix_nanos(), 1_795_793_401_000_000_000);
    assert_eq!(q.scraped_at().to_string(), "2026-11-27T15:30:02.123Z");
    assert_eq!(q.source(), "quote-page");
    assert_eq!(q.to_json(), GOOD);
    assert_eq!(
        q.to_line_protocol(),
        "quote,currency=USD,source=quote-page,symbol=AAPL change_pct=-0.42,price=189.23,volume=51234567i 1795793401000000000"
    );
}

#[test]
fn version_absent_means_1_and_others_are_rejected() {
    assert!(Quote::from_json(with("v", None).as_bytes()).is_ok());
    for v in ["2", "0", "1.0", "-1", "10000000000000000000000"] {
        let r = reason(&with("v", Some(v)));
        assert_eq!(r, Invalid::UnsupportedVersion(v.into()));
        assert_eq!(r.code(), "unsupported_version");
    }
    assert_eq!(
        reason(&with("v", Some("\"1\""))),
        Invalid::WrongType {
            field: Field::Version,
            found: JsonType::String
        }
    );
    // The version is checked before the fields: a v2 record may have other fields.
    assert_eq!(reason(r#"{"v":2}"#).code(), "unsupported_version");
}

#[test]
fn not_json() {
    for bad in [
        "",
        "   ",
        "{",
        "{\"symbol\"",
        "{'a':1}",
        "{\"a\":01}",
        "{\"a\":1,}",
        "{\"a\":.5}",
        "{\"a\":tru}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":[1,]}",
        "{\"a\" 1}",
    ] {
        let r = reason(bad);
        assert!(matches!(r, Invalid::NotJson { .. }), "{bad:?}: {r:?}");
        assert_eq!(r.code(), "not_json");
    }
    let r = Quote::from_json(b"{\"symbol\":\"A\xff\"}").unwrap_err();
    assert_eq!(
        r,
        Invalid::NotJson {
            offset: 12,
            what: "invalid UTF-8"
        }
    );
    let deep = format!("{{\"x\":{}{}}}", "[".repeat(100), "]".repeat(100));
    assert!(matches!(
        reason(&deep),
        Invalid::NotJson {
            what: "nested too deeply",
            ..
        }
    ));
}

#[test]
fn not_an_object() {
    assert_eq!(reason("[]"), Invalid::NotObject(JsonType::Array));
    assert_eq!(reason("null"), Invalid::NotObject(JsonType::Null));
    assert_eq!(reason(" 42 "), Invalid::NotObject(JsonType::Number));
    assert_eq!(reason("\"AAPL\""), Invalid::NotObject(JsonType::String));
    assert_eq!(reason("[]").code(), "not_object");
}

#[test]
fn trailing_garbage() {
    let r = reason(&format!("{GOOD}x"));
    assert_eq!(r, Invalid::TrailingGarbage { offset: GOOD.len() });
    assert_eq!(r.code(), "trailing_garbage");
    assert_eq!(reason(&format!("{GOOD}{GOOD}")).code(), "trailing_garbage");
    // Whitespace around the record (Firehose's newline) is fine.
    assert!(Quote::from_json(format!(" \t{GOOD}\r\n").as_bytes()).is_ok());
}

#[test]
fn duplicate_field() {
    let dup = GOOD.replace("\"source\"", "\"price\":1,\"source\"");
    assert_eq!(reason(&dup), Invalid::DuplicateField(Field::Price));
    assert_eq!(reason(&dup).code(), "duplicate_field");
}

#[test]
fn missing_fields() {
    for field in Field::ALL {
        let json = with(field.key(), None);
        match field {
            Field::Version | Field::Volume => assert!(Quote::from_json(json.as_bytes()).is_ok()),
            _ => {
                assert_eq!(reason(&json), Invalid::MissingField(field));
                assert_eq!(reason(&json).code(), "missing_field");
            }
        }
    }
    assert_eq!(reason("{}"), Invalid::MissingField(Field::Symbol));
}

#[test]
fn wrong_types() {
    let cases = [
        (Field::Symbol, "1", JsonType::Number),
        (Field::Price, "\"189.23\"", JsonType::String),
        (Field::Price, "true", JsonType::Bool),
        (Field::Currency, "null", JsonType::Null),
        (Field::ChangePct, "[1]", JsonType::Array),
        (Field::Volume, "true", JsonType::Bool),
        (Field::Volume, "\"5\"", JsonType::String),
        (Field::MarketTime, "1795793401", JsonType::Number),
        (Field::ScrapedAt, "{}", JsonType::Object),
        (Field::Source, "false", JsonType::Bool),
    ];
    for (field, value, found) in cases {
        let r = reason(&with(field.key(), Some(value)));
        assert_eq!(r, Invalid::WrongType { field, found }, "{field} = {value}");
        assert_eq!(r.code(), "wrong_type");
        assert_eq!(r.field(), Some(field));
    }
}

#[test]
fn bad_symbol() {
    let cases = [
        ("\"aapl\"", SymbolError::BadFirst),
        ("\"\"", SymbolError::Empty),
        ("\"N/A\"", SymbolError::BadChar('/')),
        ("\"TOOLONGSYMBOL\"", SymbolError::TooLong(13)),
    ];
    for (value, e) in cases {
        let r = reason(&with("symbol", Some(value)));
        assert_eq!(r, Invalid::BadSymbol(e));
        assert_eq!(r.code(), "bad_symbol");
    }
    // Escapes are decoded before the rule applies.
    let q = Quote::from_json(with("symbol", Some("\"A\\u0041PL\"")).as_bytes()).unwrap();
    assert_eq!(q.symbol(), &Symbol::parse("AAPL").unwrap());
}

#[test]
fn price_rules() {
    for v in ["0", "0.0", "-0.0", "-0.01", "-189.23"] {
        assert_eq!(
            reason(&with("price", Some(v))),
            Invalid::PriceNotPositive,
            "{v}"
        );
    }
    for v in ["NaN", "Infinity", "-Infinity", "1e400"] {
        let r = reason(&with("price", Some(v)));
        assert_eq!(r, Invalid::PriceNotFinite, "{v}");
        assert_eq!(r.code(), "price_not_finite");
    }
    assert_eq!(
        reason(&with("price", Some("-1"))).code(),
        "price_not_positive"
    );
    assert_eq!(
        Quote::from_json(with("price", Some("5e-324")).as_bytes())
            .unwrap()
            .price(),
        5e-324
    );
}

#[test]
fn currency_shape() {
    for v in ["\"usd\"", "\"US$\"", "\"DOLLAR\"", "\"\""] {
        let r = reason(&with("currency", Some(v)));
        assert_eq!(r, Invalid::BadCurrency(CurrencyError));
        assert_eq!(r.code(), "bad_currency");
    }
}

#[test]
fn change_pct_finite() {
    for v in ["NaN", "Infinity", "-1e999"] {
        let r = reason(&with("change_pct", Some(v)));
        assert_eq!(r, Invalid::ChangePctNotFinite);
        assert_eq!(r.code(), "change_pct_not_finite");
    }
    assert!(Quote::from_json(with("change_pct", Some("0")).as_bytes()).is_ok());
    // NaN is only tolerated (as "not finite") where a number is expected.
    assert_eq!(reason(&with("source", Some("NaN"))).code(), "not_json");
}

#[test]
fn volume_rules() {
    for v in ["-1", "-0.5", "-1e3"] {
        assert_eq!(
            reason(&with("volume", Some(v))),
            Invalid::VolumeNegative,
            "{v}"
        );
    }
    for v in ["1.0", "1e3", "51234567.5", "-0.0"] {
        assert_eq!(
            reason(&with("volume", Some(v))),
            Invalid::VolumeNotInteger,
            "{v}"
        );
    }
    for v in [
        "9223372036854775808",
        "18446744073709551616",
        "99999999999999999999999",
    ] {
        assert_eq!(
            reason(&with("volume", Some(v))),
            Invalid::VolumeTooLarge,
            "{v}"
        );
    }
    assert_eq!(
        reason(&with("volume", Some("-1"))).code(),
        "volume_negative"
    );
    let ok = |v: &str| {
        Quote::from_json(with("volume", Some(v)).as_bytes())
            .unwrap()
            .volume()
    };
    assert_eq!(ok("0"), Some(0));
    assert_eq!(ok("-0"), Some(0));
    assert_eq!(ok("null"), None);
    assert_eq!(ok("9223372036854775807"), Some(i64::MAX as u64));
}

#[test]
fn times_rfc3339_utc() {
    let cases = [
        ("\"yesterday\"", TimeError::Layout),
        ("\"2026-11-27T25:61:00Z\"", TimeError::FieldRange),
        ("\"2026-02-30T10:00:00Z\"", TimeError::FieldRange),
        ("\"2026-11-27T10:30:01-05:00\"", TimeError::NotUtc),
        ("\"2026-11-27T15:30:01\"", TimeError::Layout),
    ];
    for (v, e) in cases {
        let r = reason(&with("market_time", Some(v)));
        assert_eq!(r, Invalid::BadMarketTime(e), "{v}");
        assert_eq!(r.code(), "bad_market_time");
        let r = reason(&with("scraped_at", Some(v)));
        assert_eq!(r, Invalid::BadScrapedAt(e), "{v}");
        assert_eq!(r.code(), "bad_scraped_at");
    }
}

#[test]
fn market_time_at_most_five_minutes_after_scrape() {
    let at = |mt: &str| Quote::from_json(with("market_time", Some(mt)).as_bytes());
    assert!(at("\"2026-11-27T15:35:02.123Z\"").is_ok());
    let r = at("\"2026-11-27T15:35:02.124Z\"").unwrap_err();
    assert_eq!(
        r,
        Invalid::MarketTimeAfterScrape {
            market_time: Timestamp::parse_rfc3339("2026-11-27T15:35:02.124Z").unwrap(),
            scraped_at: Timestamp::parse_rfc3339("2026-11-27T15:30:02.123Z").unwrap(),
        }
    );
    assert_eq!(r.code(), "market_time_after_scraped_at");
}

#[test]
fn source_rules() {
    let cases = [
        ("\"\"", SourceError::Empty),
        ("\"a\\nb\"", SourceError::ControlCharacter),
        ("\"feed\\\\\"", SourceError::Backslash),
        ("\"a\\\\,b\"", SourceError::Backslash),
    ];
    for (v, e) in cases {
        let r = reason(&with("source", Some(v)));
        assert_eq!(r, Invalid::BadSource(e), "{v}");
        assert_eq!(r.code(), "bad_source");
    }
    let long = format!("\"{}\"", "x".repeat(129));
    assert_eq!(
        reason(&with("source", Some(&long))),
        Invalid::BadSource(SourceError::TooLong(129))
    );
    let q =
        Quote::from_json(with("source", Some("\"Börse, \\\"live\\\" = C:\\\\feed\"")).as_bytes())
            .unwrap();
    assert_eq!(q.source(), "Börse, \"live\" = C:\\feed");
}

#[test]
fn unknown_fields_are_tolerated() {
    let json = GOOD.replace(
        "{\"v\":1,",
        "{\"v\":1,\"bid\":{\"p\":[1,2,{\"x\":null}]},\"note\":\"é\",",
    );
    assert_eq!(
        Quote::from_json(json.as_bytes()).unwrap(),
        Quote::from_json(GOOD.as_bytes()).unwrap()
    );
}

#[test]
fn first_reason_follows_schema_order() {
    // Both symbol and price are bad: symbol comes first in the schema.
    let json = with("price", Some("-1")).replace("AAPL", "aapl");
    assert_eq!(reason(&json).code(), "bad_symbol");
    // Syntax wins over field rules.
    assert_eq!(
        reason(&format!("{}x", with("price", Some("-1")))).code(),
        "trailing_garbage"
    );
}

#[test]
fn messages_are_human() {
    assert_eq!(
        reason(&with("price", Some("0"))).to_string(),
        "price must be greater than 0"
    );
    assert_eq!(
        reason(&with("symbol", None)).to_string(),
        "field `symbol` is missing"
    );
    assert_eq!(
        reason("[]").to_string(),
        "the record is an array, not an object"
    );
    assert_eq!(
        reason(&with("volume", Some("\"5\""))).to_string(),
        "field `volume` must be an integer, found a string"
    );
}

#[test]
fn building_in_code_validates() {
    let q = Quote::from_json(GOOD.as_bytes()).unwrap();
    let mut f = q.clone().into_fields();
    assert_eq!(Quote::try_from(f.clone()).unwrap(), q);
    f.price = f64::NAN;
    assert_eq!(
        Quote::try_from(f.clone()).unwrap_err(),
        Invalid::PriceNotFinite
    );
    f.price = 1.0;
    f.volume = Some(u64::MAX);
    assert_eq!(
        Quote::try_from(f.clone()).unwrap_err(),
        Invalid::VolumeTooLarge
    );
    f.volume = None;
    f.currency = Currency::parse("EUR").unwrap();
    f.source = String::new();
    assert_eq!(
        Quote::try_from(f).unwrap_err(),
        Invalid::BadSource(SourceError::Empty)
    );
}
