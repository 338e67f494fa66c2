//! Picking a quote out of a page: locators (CSS selector with optional `@attribute`, or a JSON path) → text
//! → numbers and times → a validated [`Quote`].
//!
//! Nothing is ever guessed: a locator that matches nothing, a text that is not a number, or a record the
//! shared crate refuses is an [`ExtractError`] naming the field and the locator, never a record with
//! invented values.
//!
//! Numbers (see docs/scraper.md, "Number normalisation"): surrounding whitespace (any Unicode space) is trimmed; an
//! optional sign `+`, `-` or `−` (U+2212 MINUS SIGN); digits with optional thousands separators (`,`,
//! `'`, no-break space U+00A0, thin space U+2009, narrow no-break space U+202F) that must group the
//! integer part by three (`1,234,567`); an optional `.` decimal part. `change_pct` may end with `%`.
//! A decimal comma (`1.234,56`) is refused, not guessed. Volume must be a whole, non-negative number.
//! JSON numbers are taken as they are; JSON strings go through the same normalisation; `null` counts as
//! absent (an error for a required field).

use html::{Html, Selector};
use quote_record::{Currency, Invalid, Quote, QuoteFields, Symbol, TimeError, Timestamp};
use scraper_config::{HtmlLocator, JsonPath, JsonStep, SourceConfig, SourceFormat, parse_selector};

/// A field of the record that is read from the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageField {
    /// `price`.
    Price,
    /// `change_pct`.
    ChangePct,
    /// `volume`.
    Volume,
    /// `market_time`.
    MarketTime,
    /// `currency`.
    Currency,
}

impl PageField {
    /// The key in `fields` and in the record.
    pub const fn key(self) -> &'static str {
        match self {
            PageField::Price => "price",
            PageField::ChangePct => "change_pct",
            PageField::Volume => "volume",
            PageField::MarketTime => "market_time",
            PageField::Currency => "currency",
        }
    }
}

impl std::fmt::Display for PageField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// Why no record could be made from a page.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExtractError {
    /// The locator matched nothing (a changed layout, or a page without the value).
    #[error("field `{field}`: `{locator}` matched nothing")]
    NotFound {
        /// The field.
        field: PageField,
        /// The locator as configured.
        locator: String,
    },
    /// The locator matched, but its text is not a value of the field's kind.
    #[error("field `{field}`: `{locator}` gave `{text}`, {reason}")]
    Unreadable {
        /// The field.
        field: PageField,
        /// The locator as configured.
        locator: String,
        /// The text found (cut to 80 characters).
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A JSON source's body is not JSON.
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    /// The values were read but the record is invalid (shared validation, such as a price of 0).
    #[error("invalid record: {0}")]
    Invalid(#[from] Invalid),
}

impl ExtractError {
    /// The locator that failed, if the failure is one locator's.
    pub fn locator(&self) -> Option<&str> {
        match self {
            ExtractError::NotFound { locator, .. } | ExtractError::Unreadable { locator, .. } => {
                Some(locator)
            }
            _ => None,
        }
    }

    /// A stable short code for logs and counters.
    pub fn code(&self) -> &'static str {
        match self {
            ExtractError::NotFound { .. } => "not_found",
            ExtractError::Unreadable { .. } => "unreadable",
            ExtractError::NotJson(_) => "not_json",
            ExtractError::Invalid(i) => i.code(),
        }
    }
}

/// A locator that does not compile (a bad CSS selector or JSON path).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("source `{source_name}`, field `{field}`: {reason}")]
pub struct CompileError {
    /// The source.
    pub source_name: String,
    /// The field.
    pub field: PageField,
    /// Why.
    pub reason: String,
}

#[derive(Debug, Clone)]
enum Compiled {
    Html {
        selector: Box<Selector>,
        attribute: Option<String>,
    },
    Json(JsonPath),
}

#[derive(Debug, Clone)]
struct Slot {
    field: PageField,
    text: String,
    compiled: Compiled,
}

/// The compiled locators of one source: build once, use for every page.
#[derive(Debug, Clone)]
pub struct Extractor {
    source: String,
    format: SourceFormat,
    currency: Option<Currency>,
    price: Slot,
    change_pct: Slot,
    volume: Option<Slot>,
    market_time: Slot,
    currency_slot: Option<Slot>,
}

enum Page {
    Html(Html),
    Json(serde_json::Value),
}

/// A value found by a locator: text from HTML or a JSON string, or a JSON number.
enum Found {
    Text(String),
    Number(serde_json::Number),
}

impl Extractor {
    /// Compiles the locators of `source`.
    pub fn new(source: &SourceConfig) -> Result<Self, CompileError> {
        let slot = |field: PageField, text: &str| -> Result<Slot, CompileError> {
            let err = |reason: String| CompileError {
                source_name: source.name.clone(),
                field,
                reason,
            };
            let compiled = match source.format {
                SourceFormat::Html => {
                    let l = HtmlLocator::parse(text).map_err(|e| err(e.to_string()))?;
                    let selector = parse_selector(&l.selector).map_err(|e| err(e.reason))?;
                    Compiled::Html {
                        selector: Box::new(selector),
                        attribute: l.attribute,
                    }
                }
                SourceFormat::Json => {
                    Compiled::Json(JsonPath::parse(text).map_err(|e| err(e.to_string()))?)
                }
            };
            Ok(Slot {
                field,
                text: text.to_owned(),
                compiled,
            })
        };
        let f = &source.fields;
        Ok(Self {
            source: source.name.clone(),
            format: source.format,
            currency: source.currency,
            price: slot(PageField::Price, &f.price)?,
            change_pct: slot(PageField::ChangePct, &f.change_pct)?,
            volume: f
                .volume
                .as_deref()
                .map(|t| slot(PageField::Volume, t))
                .transpose()?,
            market_time: slot(PageField::MarketTime, &f.market_time)?,
            currency_slot: f
                .currency
                .as_deref()
                .map(|t| slot(PageField::Currency, t))
                .transpose()?,
        })
    }

    /// The source's name (the record's `source`).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Reads a record for `symbol` from `body`, scraped at `scraped_at`.
    pub fn extract(
        &self,
        symbol: &Symbol,
        body: &str,
        scraped_at: Timestamp,
    ) -> Result<Quote, ExtractError> {
        let page = match self.format {
            SourceFormat::Html => Page::Html(Html::parse_document(body)),
            SourceFormat::Json => Page::Json(
                serde_json::from_str(body).map_err(|e| ExtractError::NotJson(e.to_string()))?,
            ),
        };
        let price = number(&self.price, find(&page, &self.price)?, false)?;
        let change_pct = number(&self.change_pct, find(&page, &self.change_pct)?, true)?;
        let volume = match &self.volume {
            Some(slot) => match find_optional(&page, slot) {
                Some(found) => Some(integer(slot, found)?),
                None => None,
            },
            None => None,
        };
        let market_time = time(&self.market_time, find(&page, &self.market_time)?)?;
        let currency = match &self.currency_slot {
            Some(slot) => match (find_optional(&page, slot), self.currency) {
                (Some(found), _) => currency(slot, found)?,
                // The page states none here: the source's fixed currency applies.
                (None, Some(fixed)) => fixed,
                (None, None) => return Err(not_found(slot)),
            },
            None => self.currency.ok_or_else(|| ExtractError::NotFound {
                field: PageField::Currency,
                locator: String::new(),
            })?,
        };
        let quote = Quote::try_from(QuoteFields {
            symbol: *symbol,
            price,
            currency,
            change_pct,
            volume,
            market_time,
            scraped_at,
            source: self.source.clone(),
        })?;
        // The time-sanity rule with the clock that stamped `scraped_at` as "arrived at": a page
        // time from the future or implausibly old is dropped here, not put on the stream.
        quote.check_arrival(scraped_at)?;
        Ok(quote)
    }
}

fn not_found(slot: &Slot) -> ExtractError {
    ExtractError::NotFound {
        field: slot.field,
        locator: slot.text.clone(),
    }
}

fn unreadable(slot: &Slot, text: &str, reason: impl Into<String>) -> ExtractError {
    let mut text: String = text.chars().take(80).collect();
    if text.len() < 80 {
        text = text.trim().to_owned();
    }
    ExtractError::Unreadable {
        field: slot.field,
        locator: slot.text.clone(),
        text,
        reason: reason.into(),
    }
}

fn find(page: &Page, slot: &Slot) -> Result<Found, ExtractError> {
    find_optional(page, slot).ok_or_else(|| not_found(slot))
}

/// The value at `slot`, `None` when nothing matches (or JSON `null`, or an empty HTML text/attribute).
fn find_optional(page: &Page, slot: &Slot) -> Option<Found> {
    match (page, &slot.compiled) {
        (
            Page::Html(doc),
            Compiled::Html {
                selector,
                attribute,
            },
        ) => {
            let element = doc.select(selector).next()?;
            let text = match attribute {
                Some(a) => element.value().attr(a)?.trim().to_owned(),
                None => element.text().collect::<String>().trim().to_owned(),
            };
            (!text.is_empty()).then_some(Found::Text(text))
        }
        (Page::Json(value), Compiled::Json(path)) => match json_at(value, path)? {
            serde_json::Value::Number(n) => Some(Found::Number(n.clone())),
            serde_json::Value::String(s) => Some(Found::Text(s.clone())),
            serde_json::Value::Null => None,
            other => Some(Found::Text(other.to_string())),
        },
        // The format decides both the page and the locators: they always agree.
        _ => None,
    }
}

/// Evaluates a [`JsonPath`]: `None` when a step finds no such key or index, or a value of the wrong kind.
pub fn json_at<'v>(value: &'v serde_json::Value, path: &JsonPath) -> Option<&'v serde_json::Value> {
    path.steps.iter().try_fold(value, |v, step| match step {
        JsonStep::Key(k) => v.as_object()?.get(k),
        JsonStep::Index(i) => v.as_array()?.get(*i),
    })
}

fn number(slot: &Slot, found: Found, percent: bool) -> Result<f64, ExtractError> {
    match found {
        Found::Number(n) => n
            .as_f64()
            .ok_or_else(|| unreadable(slot, &n.to_string(), "not a finite number")),
        Found::Text(t) => parse_number(&t, percent).map_err(|reason| unreadable(slot, &t, reason)),
    }
}

fn integer(slot: &Slot, found: Found) -> Result<u64, ExtractError> {
    match found {
        Found::Number(n) => n
            .as_u64()
            .ok_or_else(|| unreadable(slot, &n.to_string(), "not a whole non-negative number")),
        Found::Text(t) => parse_integer(&t).map_err(|reason| unreadable(slot, &t, reason)),
    }
}

fn currency(slot: &Slot, found: Found) -> Result<Currency, ExtractError> {
    let text = match found {
        Found::Text(t) => t,
        Found::Number(n) => n.to_string(),
    };
    Currency::parse(text.trim()).map_err(|_| {
        unreadable(
            slot,
            &text,
            "not an ISO 4217 currency code (three upper-case letters)",
        )
    })
}

fn time(slot: &Slot, found: Found) -> Result<Timestamp, ExtractError> {
    match found {
        Found::Number(n) => {
            let text = n.to_string();
            parse_unix(&text).map_err(|r| unreadable(slot, &text, r))
        }
        Found::Text(t) => parse_time(&t).map_err(|r| unreadable(slot, &t, r)),
    }
}

/// Thousands separators accepted between digit groups.
const GROUP_SEPARATORS: [char; 5] = [',', '\'', '\u{00A0}', '\u{2009}', '\u{202F}'];

/// Normalises a page's number (see the module documentation): sign, grouping, decimal point, and `%`
/// when `percent`.
pub fn parse_number(text: &str, percent: bool) -> Result<f64, &'static str> {
    let mut t = text.trim();
    if percent && let Some(rest) = t.strip_suffix('%') {
        t = rest.trim_end();
    }
    let (negative, rest) = match t.chars().next() {
        Some('+') => (false, &t[1..]),
        Some('-') => (true, &t[1..]),
        Some('\u{2212}') => (true, &t['\u{2212}'.len_utf8()..]),
        _ => (false, t),
    };
    let (int_part, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    let mut ascii = String::with_capacity(rest.len() + 1);
    if negative {
        ascii.push('-');
    }
    push_grouped(int_part, &mut ascii)?;
    if let Some(f) = frac {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return Err("not a number (digits expected after the decimal point)");
        }
        ascii.push('.');
        ascii.push_str(f);
    }
    let value: f64 = ascii.parse().map_err(|_| "not a number")?;
    if !value.is_finite() {
        return Err("not a finite number");
    }
    Ok(value)
}

/// Appends the digits of `int_part`, checking its thousands grouping.
fn push_grouped(int_part: &str, out: &mut String) -> Result<(), &'static str> {
    let groups: Vec<&str> = int_part.split(GROUP_SEPARATORS).collect();
    let first = groups.first().copied().unwrap_or_default();
    if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not a number");
    }
    if groups.len() > 1 {
        if first.len() > 3 {
            return Err("not a number (thousands separators must group digits by three)");
        }
        for g in &groups[1..] {
            if g.len() != 3 || !g.bytes().all(|b| b.is_ascii_digit()) {
                return Err(
                    "not a number (thousands separators must group digits by three; a decimal comma is not accepted)",
                );
            }
        }
    }
    groups.iter().for_each(|g| out.push_str(g));
    Ok(())
}

/// A whole non-negative number with optional thousands separators and a `+` sign.
pub fn parse_integer(text: &str) -> Result<u64, &'static str> {
    let t = text.trim();
    if t.starts_with(['-', '\u{2212}']) {
        return Err("negative");
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.contains('.') {
        return Err("not a whole number");
    }
    let mut digits = String::with_capacity(t.len());
    push_grouped(t, &mut digits)?;
    digits.parse().map_err(|_| "too large")
}

/// A market time: RFC 3339 with any offset (converted to UTC), or Unix seconds or milliseconds.
pub fn parse_time(text: &str) -> Result<Timestamp, &'static str> {
    let t = text.trim();
    if t.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !t.is_empty() {
        return parse_unix(t);
    }
    match Timestamp::parse_rfc3339(t) {
        Ok(ts) => Ok(ts),
        Err(TimeError::NotUtc) => parse_with_offset(t),
        Err(TimeError::Layout) => Err(
            "not a time (RFC 3339 such as `2026-11-27T15:30:01Z`, or Unix seconds or milliseconds)",
        ),
        Err(TimeError::FieldRange) => Err("a date or time field is out of range"),
        Err(TimeError::OutOfRange) => Err("the time is outside 1677..2262"),
    }
}

/// `…±HH:MM`: the UTC time it denotes.
fn parse_with_offset(t: &str) -> Result<Timestamp, &'static str> {
    const BAD: &str = "the time's offset is not `±HH:MM`";
    let split = t.len().checked_sub(6).ok_or(BAD)?;
    let (local, offset) = (t.get(..split).ok_or(BAD)?, t.get(split..).ok_or(BAD)?);
    let b = offset.as_bytes();
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return Err(BAD),
    };
    if b[3] != b':' {
        return Err(BAD);
    }
    let hours: i64 = offset[1..3].parse().map_err(|_| BAD)?;
    let minutes: i64 = offset[4..6].parse().map_err(|_| BAD)?;
    if hours > 23 || minutes > 59 {
        return Err(BAD);
    }
    if sign < 0 && hours == 0 && minutes == 0 {
        return Err("`-00:00` means the offset is unknown");
    }
    let as_utc = Timestamp::parse_rfc3339(&format!("{local}Z")).map_err(|_| BAD)?;
    let shift = sign * (hours * 3600 + minutes * 60) * 1_000_000_000;
    Ok(Timestamp::from_unix_nanos(as_utc.unix_nanos() - shift))
}

/// Unix time as digits: seconds (with an optional fraction), or milliseconds when the whole part is 12
/// digits or more (1e11 seconds is the year 5138; 1e11 milliseconds is 1973).
fn parse_unix(t: &str) -> Result<Timestamp, &'static str> {
    const BAD: &str = "not a Unix time (whole seconds or milliseconds, digits only)";
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(BAD);
    }
    let whole_n: i64 = whole.parse().map_err(|_| BAD)?;
    let (unit_nanos, frac_scale) = if whole.len() >= 12 {
        (1_000_000_i64, 1_000_000_i64)
    } else {
        (1_000_000_000, 1_000_000_000)
    };
    let mut frac_nanos = 0i64;
    let mut scale = frac_scale;
    for d in frac.bytes().take(9) {
        scale /= 10;
        frac_nanos += i64::from(d - b'0') * scale;
    }
    whole_n
        .checked_mul(unit_nanos)
        .and_then(|n| n.checked_add(frac_nanos))
        .map(Timestamp::from_unix_nanos)
        .ok_or("the time is outside 1677..2262")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("189.23", false), Ok(189.23));
        assert_eq!(parse_number(" 1,234.5 ", false), Ok(1234.5));
        assert_eq!(
            parse_number("1\u{202F}234\u{202F}567", false),
            Ok(1_234_567.0)
        );
        assert_eq!(parse_number("+0.42%", true), Ok(0.42));
        assert_eq!(parse_number("\u{2212}0.42 %", true), Ok(-0.42));
        assert_eq!(parse_number("-3", true), Ok(-3.0));
        assert!(parse_number("0.42%", false).is_err());
        assert!(parse_number("1.234,56", false).is_err());
        assert!(parse_number("1,23", false).is_err());
        assert!(parse_number("12,3456", false).is_err());
        assert!(parse_number("1234,567", false).is_err());
        assert!(parse_number("", false).is_err());
        assert!(parse_number("N/A", false).is_err());
        assert!(parse_number("1.", false).is_err());
        assert!(parse_number(".5", false).is_err());
        assert!(parse_number("inf", false).is_err());
        assert!(parse_number("1e5", false).is_err());
        assert!(parse_number("$5", false).is_err());
    }

    #[test]
    fn integers() {
        assert_eq!(parse_integer("51,234,567"), Ok(51_234_567));
        assert_eq!(parse_integer("+7"), Ok(7));
        assert_eq!(parse_integer("−7"), Err("negative"));
        assert_eq!(parse_integer("1.5"), Err("not a whole number"));
        assert!(parse_integer("99999999999999999999999").is_err());
    }

    #[test]
    fn times() {
        let z = Timestamp::parse_rfc3339("2026-11-27T15:30:01Z").unwrap();
        assert_eq!(parse_time("2026-11-27T15:30:01Z"), Ok(z));
        assert_eq!(parse_time("2026-11-27T10:30:01-05:00"), Ok(z));
        assert_eq!(parse_time("2026-11-27T16:30:01+01:00"), Ok(z));
        assert_eq!(parse_time("1795793401"), Ok(z));
        assert_eq!(parse_time("1795793401000"), Ok(z));
        assert_eq!(
            parse_time("1795793401.5").map(|t| t.unix_nanos() - z.unix_nanos()),
            Ok(500_000_000)
        );
        assert!(parse_time("2026-11-27T15:30:01-00:00").is_err());
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2026-11-27 15:30").is_err());
    }

    #[test]
    fn json_paths() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"a":{"b":[{"c":1},{"c":2}]},"d e":null}"#).unwrap();
        let at = |p: &str| json_at(&v, &JsonPath::parse(p).unwrap()).cloned();
        assert_eq!(at("$.a.b[1].c"), Some(serde_json::json!(2)));
        assert_eq!(at("$['d e']"), Some(serde_json::Value::Null));
        assert_eq!(at("$.a.b[2]"), None);
        assert_eq!(at("$.a.b.c"), None);
        assert_eq!(at("$.a[0]"), None);
    }
}
