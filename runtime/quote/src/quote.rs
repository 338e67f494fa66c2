//! The record itself, its validation and its JSON and line-protocol encodings.

use crate::influx::{
    field_change_pct, field_price, field_volume, measurement, tag_currency, tag_source, tag_symbol,
};
use crate::invalid::{Invalid, SourceError};
use crate::line_protocol as lp;
use crate::source::SourceText;
use crate::{Currency, Symbol, Timestamp};

/// The schema version this crate reads and writes.
pub const SCHEMA_VERSION: u64 = 1;

/// The longest `source` accepted, in bytes.
pub const MAX_SOURCE_LEN: usize = 128;

/// How far `market_time` may be after `scraped_at` (clock skew between exchange and scraper).
pub const MAX_MARKET_TIME_LEAD_NANOS: i64 = 5 * 60 * 1_000_000_000;

/// A validated quote record (schema version 1).
///
/// Only validated values can be built ([`Quote::from_json`] or `Quote::try_from(QuoteFields)`),
/// so every encoding can rely on the rules: prices are finite and positive, `volume` fits
/// InfluxDB's signed integer, and `source` is a valid tag value.
#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    pub(crate) symbol: Symbol,
    pub(crate) price: f64,
    pub(crate) currency: Currency,
    pub(crate) change_pct: f64,
    pub(crate) volume: Option<u64>,
    pub(crate) market_time: Timestamp,
    pub(crate) scraped_at: Timestamp,
    pub(crate) source: SourceText,
}

/// The fields of a [`Quote`] before validation, for building one in code (the scraper).
#[derive(Debug, Clone, PartialEq)]
pub struct QuoteFields {
    /// Ticker symbol.
    pub symbol: Symbol,
    /// Last price, finite and > 0.
    pub price: f64,
    /// Currency of the price.
    pub currency: Currency,
    /// Change against the previous close in percent, finite.
    pub change_pct: f64,
    /// Shares traded in the session so far, if the page shows it; at most `i64::MAX`.
    pub volume: Option<u64>,
    /// When the exchange priced the quote.
    pub market_time: Timestamp,
    /// When the scraper read it.
    pub scraped_at: Timestamp,
    /// Which scraper source produced it (an InfluxDB tag).
    pub source: String,
}

impl TryFrom<QuoteFields> for Quote {
    type Error = Invalid;

    fn try_from(f: QuoteFields) -> Result<Self, Invalid> {
        check_price(f.price)?;
        check_change_pct(f.change_pct)?;
        if let Some(v) = f.volume {
            check_volume(v)?;
        }
        check_source(&f.source).map_err(Invalid::BadSource)?;
        check_times(f.market_time, f.scraped_at)?;
        Ok(Self {
            symbol: f.symbol,
            price: f.price,
            currency: f.currency,
            change_pct: f.change_pct,
            volume: f.volume,
            market_time: f.market_time,
            scraped_at: f.scraped_at,
            source: f.source.into(),
        })
    }
}

pub(crate) fn check_price(p: f64) -> Result<(), Invalid> {
    if !p.is_finite() {
        Err(Invalid::PriceNotFinite)
    } else if p <= 0.0 {
        Err(Invalid::PriceNotPositive)
    } else {
        Ok(())
    }
}

pub(crate) fn check_change_pct(c: f64) -> Result<(), Invalid> {
    if c.is_finite() {
        Ok(())
    } else {
        Err(Invalid::ChangePctNotFinite)
    }
}

pub(crate) fn check_volume(v: u64) -> Result<(), Invalid> {
    if v > i64::MAX as u64 {
        Err(Invalid::VolumeTooLarge)
    } else {
        Ok(())
    }
}

/// The `source` rule. DESIGN.md does not constrain `source`, but it is an InfluxDB tag, so it must
/// be non-empty and survive line-protocol escaping; the length cap keeps series keys small.
pub fn check_source(s: &str) -> Result<(), SourceError> {
    check_source_utf8(s.as_bytes())
}

/// [`check_source`] over UTF-8 bytes (the record reader's strings).
pub(crate) fn check_source_utf8(b: &[u8]) -> Result<(), SourceError> {
    if b.is_empty() {
        return Err(SourceError::Empty);
    }
    if b.len() > MAX_SOURCE_LEN {
        return Err(SourceError::TooLong(b.len()));
    }
    // Fast path: printable ASCII without backslashes (every source name seen so far).
    if b.iter().all(|&c| (b' '..=b'~').contains(&c) && c != b'\\') {
        return Ok(());
    }
    let s = String::from_utf8_lossy(b);
    if s.chars().any(char::is_control) {
        return Err(SourceError::ControlCharacter);
    }
    lp::check_tag(&s).map_err(|_| SourceError::Backslash)
}

pub(crate) fn check_times(market_time: Timestamp, scraped_at: Timestamp) -> Result<(), Invalid> {
    if market_time.unix_nanos()
        > scraped_at
            .unix_nanos()
            .saturating_add(MAX_MARKET_TIME_LEAD_NANOS)
    {
        Err(Invalid::MarketTimeAfterScrape {
            market_time,
            scraped_at,
        })
    } else {
        Ok(())
    }
}

impl Quote {
    /// Parses and validates one record (a Kinesis payload: one JSON object, UTF-8).
    ///
    /// Whitespace around the object (a trailing newline) is allowed; anything else after it is
    /// [`Invalid::TrailingGarbage`]. Unknown fields are ignored so that producers can add fields
    /// before every reader knows them (forward compatibility); they must still be valid JSON.
    /// `volume: null` means absent. `NaN`/`Infinity`/`-Infinity` (which Python's `json` writes)
    /// in `price` or `change_pct` are reported as not finite rather than as not JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Invalid> {
        crate::parse::parse(bytes)
    }

    /// The ticker symbol.
    pub fn symbol(&self) -> &Symbol {
        &self.symbol
    }
    /// The price, finite and > 0.
    pub fn price(&self) -> f64 {
        self.price
    }
    /// The currency of the price.
    pub fn currency(&self) -> Currency {
        self.currency
    }
    /// Change against the previous close in percent.
    pub fn change_pct(&self) -> f64 {
        self.change_pct
    }
    /// Session volume, if known.
    pub fn volume(&self) -> Option<u64> {
        self.volume
    }
    /// When the exchange priced the quote.
    pub fn market_time(&self) -> Timestamp {
        self.market_time
    }
    /// When the scraper read it.
    pub fn scraped_at(&self) -> Timestamp {
        self.scraped_at
    }
    /// The scraper source.
    pub fn source(&self) -> &str {
        self.source.as_str()
    }

    /// The fields, to change some and validate again.
    pub fn into_fields(self) -> QuoteFields {
        QuoteFields {
            symbol: self.symbol,
            price: self.price,
            currency: self.currency,
            change_pct: self.change_pct,
            volume: self.volume,
            market_time: self.market_time,
            scraped_at: self.scraped_at,
            source: self.source.as_str().to_owned(),
        }
    }

    /// Appends the JSON form: one object, keys in DESIGN.md's order starting with `"v":1`, no
    /// whitespace and no trailing newline. `volume` is left out when absent.
    pub fn write_json(&self, out: &mut String) {
        let mut f = ryu::Buffer::new();
        out.push_str("{\"v\":1,\"symbol\":");
        write_json_string(self.symbol.as_str(), out);
        out.push_str(",\"price\":");
        out.push_str(f.format_finite(self.price));
        out.push_str(",\"currency\":\"");
        out.push_str(self.currency.as_str());
        out.push_str("\",\"change_pct\":");
        out.push_str(f.format_finite(self.change_pct));
        if let Some(v) = self.volume {
            out.push_str(",\"volume\":");
            out.push_str(itoa::Buffer::new().format(v));
        }
        out.push_str(",\"market_time\":\"");
        self.market_time.write_rfc3339(out);
        out.push_str("\",\"scraped_at\":\"");
        self.scraped_at.write_rfc3339(out);
        out.push_str("\",\"source\":");
        write_json_string(self.source.as_str(), out);
        out.push('}');
    }

    /// The JSON form as a new string (see [`Quote::write_json`]).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(200);
        self.write_json(&mut out);
        out
    }

    /// Appends the InfluxDB line-protocol point, without a newline:
    /// `quote,currency=USD,source=quote-page,symbol=AAPL change_pct=-0.42,price=189.23,volume=51234567i 1795793401000000000`.
    ///
    /// Tags and fields are sorted by key (InfluxDB's recommendation, and what the Python client
    /// writes); `volume` is left out when absent; the timestamp is `market_time` in nanoseconds.
    pub fn write_line_protocol(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(concat!(measurement!(), ",", tag_currency!(), "=").as_bytes());
        out.extend_from_slice(self.currency.as_bytes());
        out.extend_from_slice(concat!(",", tag_source!(), "=").as_bytes());
        self.source.write_tag(out);
        // Symbols are [A-Z0-9.-]: nothing to escape.
        out.extend_from_slice(concat!(",", tag_symbol!(), "=").as_bytes());
        self.symbol.write_to(out);
        out.extend_from_slice(concat!(" ", field_change_pct!(), "=").as_bytes());
        // Both floats are finite by construction, so these cannot fail.
        let _ = lp::write_float(self.change_pct, out);
        out.extend_from_slice(concat!(",", field_price!(), "=").as_bytes());
        let _ = lp::write_float(self.price, out);
        if let Some(v) = self.volume {
            out.extend_from_slice(concat!(",", field_volume!(), "=").as_bytes());
            // check_volume keeps it within i64.
            lp::write_integer(v as i64, out);
        }
        out.push(b' ');
        lp::write_timestamp(self.market_time.unix_nanos(), out);
    }

    /// The line-protocol point as text (see [`Quote::write_line_protocol`]).
    pub fn to_line_protocol(&self) -> String {
        let mut out = Vec::with_capacity(128);
        self.write_line_protocol(&mut out);
        // Every part written is UTF-8 (ASCII, or the source's own text).
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Appends `s` as a JSON string: `"` and `\` escaped, control characters as `\u00XX` (or the
/// short forms), everything else (non-ASCII included) as UTF-8.
pub fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    let b = s.as_bytes();
    let mut from = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &str = match c {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[from..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(c >> 4)]));
            out.push(char::from(HEX[usize::from(c & 15)]));
        } else {
            out.push_str(esc);
        }
        from = i + 1;
    }
    out.push_str(&s[from..]);
    out.push('"');
}
