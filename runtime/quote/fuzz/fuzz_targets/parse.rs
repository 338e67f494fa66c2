//! Fuzz target: `Quote::from_json` never panics, what it accepts round-trips through the JSON
//! and line-protocol encoders, and it accepts only what `serde_json` also reads as that object.
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
});
