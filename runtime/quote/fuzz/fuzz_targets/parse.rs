//! Fuzz target: `Quote::from_json` never panics, what it accepts round-trips through the JSON
//! and line-protocol encoders, it accepts only what `serde_json` also reads as that object, and
//! the same object written another way (whitespace, key order, escapes: the reader's general
//! path rather than its fast one) reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quote_record::Quote;

fuzz_target!(|data: &[u8]| {
    let Ok(q) = Quote::from_json(data) else { return };
    let json = q.to_json();
    assert_eq!(Quote::from_json(json.as_bytes()).as_ref(), Ok(&q), "{json}");
    let _ = q.to_line_protocol();
    let v: serde_json::Value = serde_json::from_slice(data).expect("accepted input is JSON");
    assert_eq!(v["symbol"].as_str(), Some(q.symbol().as_str()));
    assert_eq!(v["source"].as_str(), Some(q.source()));
    assert_eq!(v["currency"].as_str(), Some(q.currency().as_str()));
    // serde_json sorts the keys and indents; `\u00e9`-style escapes for non-ASCII on top.
    let pretty = serde_json::to_string_pretty(&v).expect("a Value serializes");
    assert_eq!(Quote::from_json(pretty.as_bytes()).as_ref(), Ok(&q), "{pretty}");
    let escaped: String = pretty
        .chars()
        .map(|c| if c.is_ascii() { c.to_string() } else { c.encode_utf16(&mut [0; 2]).iter().map(|u| format!("\\u{u:04x}")).collect() })
        .collect();
    assert_eq!(Quote::from_json(escaped.as_bytes()).as_ref(), Ok(&q), "{escaped}");
});
