//! Property tests: JSON round trip over generated valid quotes, agreement with `serde_json`, and
//! line-protocol escaping read back by reference readers of InfluxDB 1.x and 2.x.

// Tests may unwrap (workspace policy); helpers outside #[test] functions need saying so.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use quote_record::line_protocol::{self as lp, check_measurement, check_tag};
use quote_record::{Currency, Quote, QuoteFields, Symbol, Timestamp, check_source};

fn symbol() -> impl Strategy<Value = Symbol> {
    let first = prop::sample::select(('A'..='Z').collect::<Vec<_>>());
    let rest_chars: Vec<char> = ('A'..='Z').chain('0'..='9').chain(['.', '-']).collect();
    let rest = prop::collection::vec(prop::sample::select(rest_chars), 0..12);
    (first, rest)
        .prop_map(|(f, r)| Symbol::parse(&std::iter::once(f).chain(r).collect::<String>()).unwrap())
}

fn currency() -> impl Strategy<Value = Currency> {
    prop::array::uniform3(b'A'..=b'Z')
        .prop_map(|b| Currency::parse(std::str::from_utf8(&b).unwrap()).unwrap())
}

/// Any text, weighted towards the characters that need escaping.
fn text() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        ' ',
        ',',
        '=',
        '"',
        '\\',
        'é',
        '東',
        '\n',
        '\t',
        '\u{1F600}',
    ]);
    let ch = prop_oneof![any::<char>(), special, prop::char::range('a', 'z')];
    prop::collection::vec(ch, 0..24).prop_map(String::from_iter)
}

fn price() -> impl Strategy<Value = f64> {
    prop_oneof![
        (1u64..100_000_000, 0i32..6).prop_map(|(n, d)| n as f64 / 10f64.powi(d)),
        any::<f64>().prop_filter("positive finite", |p| p.is_finite() && *p > 0.0),
    ]
}

fn change_pct() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-10_000i64..10_000).prop_map(|n| n as f64 / 100.0),
        any::<f64>().prop_filter("finite", |p| p.is_finite()),
    ]
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        any::<i64>().prop_map(Timestamp::from_unix_nanos),
        (1_700_000_000i64..1_900_000_000, 0i64..1000)
            .prop_map(|(s, ms)| Timestamp::from_unix_nanos(s * 1_000_000_000 + ms * 1_000_000)),
    ]
}

prop_compose! {
    fn quote()(
        symbol in symbol(),
        price in price(),
        currency in currency(),
        change_pct in change_pct(),
        volume in prop::option::of(0..=i64::MAX as u64),
        scraped_at in timestamp(),
        lead in -1_000_000_000_000i64..=300_000_000_000,
        source in text().prop_filter("valid source", |s| check_source(s).is_ok()),
    ) -> Quote {
        let market_time = Timestamp::from_unix_nanos(scraped_at.unix_nanos().saturating_add(lead).min(scraped_at.unix_nanos().saturating_add(300_000_000_000)));
        Quote::try_from(QuoteFields { symbol, price, currency, change_pct, volume, market_time, scraped_at, source }).unwrap()
    }
}

/// InfluxDB 1.x's reader: a backslash skips the next byte while scanning for a delimiter.
fn scan(b: &[u8], mut pos: usize, stops: &[u8]) -> usize {
    while pos < b.len() {
        if b[pos] == b'\\' {
            pos += 2;
            continue;
        }
        if stops.contains(&b[pos]) {
            break;
        }
        pos += 1;
    }
    pos.min(b.len())
}

/// InfluxDB 1.x's unescape: plain replacement of each escape sequence.
fn unescape_v1(s: &str, special: &[char]) -> String {
    let mut s = s.to_owned();
    for c in special {
        s = s.replace(&format!("\\{c}"), &c.to_string());
    }
    s
}

/// InfluxDB 2.x's (influxdata/line-protocol) unescape: `\` + special or `\` + `\` is the second
/// character, any other backslash is literal.
fn unescape_v2(s: &str, special: &[char]) -> String {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\'
            && let Some(&n) = it.peek()
            && (n == '\\' || special.contains(&n))
        {
            out.push(n);
            it.next();
            continue;
        }
        out.push(c);
    }
    out
}

/// Reads a string field value starting at its opening quote; returns the text and the end.
fn read_string_field(b: &str, start: usize) -> (String, usize) {
    let mut out = String::new();
    let mut chars = b[start + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, n) = chars.next().unwrap();
                if n != '\\' && n != '"' {
                    out.push('\\');
                }
                out.push(n);
            }
            '"' => return (out, start + 1 + i + 1),
            _ => out.push(c),
        }
    }
    panic!("unterminated string field in {b:?}");
}

/// `s` made acceptable to [`check_tag`]/[`check_measurement`]: line breaks and the backslashes
/// that cannot be carried are dropped, and an empty result becomes `x`.
fn representable(s: &str, special: &str) -> String {
    let chars: Vec<char> = s.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1);
        if c == '\\' && next.is_none_or(|n| *n == '\\' || special.contains(*n)) {
            continue;
        }
        out.push(c);
    }
    // Dropping a backslash can expose an earlier one; repeat until stable.
    if out.len() != s.len() && out != s {
        return representable(&out, special);
    }
    if out.is_empty() || out.starts_with('#') {
        out.insert(0, 'x');
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn json_round_trip(q in quote()) {
        let json = q.to_json();
        prop_assert_eq!(Quote::from_json(json.as_bytes()), Ok(q.clone()));
        // serde_json reads the same values from our encoding.
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(v["v"].as_u64(), Some(1));
        prop_assert_eq!(v["symbol"].as_str(), Some(q.symbol().as_str()));
        prop_assert_eq!(v["price"].as_f64(), Some(q.price()));
        prop_assert_eq!(v["change_pct"].as_f64(), Some(q.change_pct()));
        prop_assert_eq!(v["volume"].as_u64(), q.volume());
        prop_assert_eq!(v["source"].as_str(), Some(q.source()));
        prop_assert_eq!(v["market_time"].as_str().map(|s| s.parse::<Timestamp>()), Some(Ok(q.market_time())));
        // Pretty-printed by serde_json (other whitespace, escapes, key order) it reads the same.
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        prop_assert_eq!(Quote::from_json(pretty.as_bytes()), Ok(q));
    }

    #[test]
    fn strings_decode_like_serde_json(s in text()) {
        // Any string serde_json writes, with every character also as \u escapes, decodes to s.
        let plain = serde_json::to_string(&s).unwrap();
        let escaped: String = std::iter::once("\"".to_owned())
            .chain(s.encode_utf16().map(|u| format!("\\u{u:04x}")))
            .chain(std::iter::once("\"".to_owned()))
            .collect();
        for encoded in [plain, escaped] {
            let json = format!(r#"{{"symbol":"A","price":1,"currency":"USD","change_pct":0,"market_time":"2026-01-01T00:00:00Z","scraped_at":"2026-01-01T00:00:00Z","source":{encoded}}}"#);
            match Quote::from_json(json.as_bytes()) {
                Ok(q) => prop_assert_eq!(q.source(), s.as_str()),
                Err(e) => {
                    prop_assert_eq!(e.code(), "bad_source");
                    prop_assert!(check_source(&s).is_err());
                }
            }
        }
    }

    #[test]
    fn line_protocol_escaping_reads_back(m in text(), k in text(), v in text(), fk in text(), sv in text()) {
        let (m, k, v, fk) = (representable(&m, ", "), representable(&k, ", ="), representable(&v, ", ="), representable(&fk, ", ="));
        prop_assert!(check_measurement(&m).is_ok() && check_tag(&k).is_ok() && check_tag(&v).is_ok() && check_tag(&fk).is_ok());
        let mut line = Vec::new();
        lp::escape_measurement(&m, &mut line);
        line.push(b',');
        lp::escape_tag(&k, &mut line);
        line.push(b'=');
        lp::escape_tag(&v, &mut line);
        line.push(b' ');
        lp::escape_tag(&fk, &mut line);
        line.push(b'=');
        lp::write_string_field(&sv, &mut line);
        line.extend_from_slice(b" 1");
        let line = String::from_utf8(line).unwrap();

        let b = line.as_bytes();
        let m_end = scan(b, 0, b", ");
        prop_assert_eq!(b[m_end], b',');
        let k_end = scan(b, m_end + 1, b"=");
        let v_end = scan(b, k_end + 1, b", ");
        prop_assert_eq!(b[v_end], b' ');
        let fk_end = scan(b, v_end + 1, b"=");
        let (field, end) = read_string_field(&line, fk_end + 1);
        prop_assert_eq!(&line[end..], " 1");
        prop_assert_eq!(field, sv);
        for unescape in [unescape_v1, unescape_v2] {
            prop_assert_eq!(unescape(&line[..m_end], &[',', ' ']), m.clone());
            prop_assert_eq!(unescape(&line[m_end + 1..k_end], &[',', '=', ' ']), k.clone());
            prop_assert_eq!(unescape(&line[k_end + 1..v_end], &[',', '=', ' ']), v.clone());
            prop_assert_eq!(unescape(&line[v_end + 1..fk_end], &[',', '=', ' ']), fk.clone());
        }
    }

    #[test]
    fn line_protocol_floats_round_trip(x in any::<f64>().prop_filter("finite", |x| x.is_finite()), n in (1u64..1_000_000_000, 0i32..8)) {
        for v in [x, n.0 as f64 / 10f64.powi(n.1)] {
            let mut s = Vec::new();
            lp::write_float(v, &mut s).unwrap();
            let s = String::from_utf8(s).unwrap();
            prop_assert_eq!(s.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{}", s);
        }
    }

    #[test]
    fn quote_line_protocol_fields(q in quote()) {
        let line = q.to_line_protocol();
        let b = line.as_bytes();
        let tags_end = scan(b, 0, b" ");
        let fields_end = scan(b, tags_end + 1, b" ");
        prop_assert_eq!(&line[fields_end + 1..], q.market_time().unix_nanos().to_string());
        let src_start = line.find(",source=").unwrap() + 8;
        let src_end = scan(b, src_start, b", ");
        prop_assert_eq!(unescape_v1(&line[src_start..src_end], &[',', '=', ' ']), q.source());
        for field in line[tags_end + 1..fields_end].split(',') {
            let (key, value) = field.split_once('=').unwrap();
            match key {
                "price" => prop_assert_eq!(value.parse::<f64>().unwrap(), q.price()),
                "change_pct" => prop_assert_eq!(value.parse::<f64>().unwrap(), q.change_pct()),
                "volume" => prop_assert_eq!(value.strip_suffix('i').unwrap().parse::<u64>().ok(), q.volume()),
                _ => prop_assert!(false, "unexpected field {}", key),
            }
        }
    }

    #[test]
    fn parser_never_panics_on_mutations(q in quote(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        // A one-byte change of a valid record is either rejected or still round-trips.
        let mut json = q.to_json().into_bytes();
        let i = pos.index(json.len());
        json[i] = byte;
        if let Ok(q2) = Quote::from_json(&json) {
            prop_assert_eq!(Quote::from_json(q2.to_json().as_bytes()), Ok(q2));
        }
    }
}
