//! A single-pass JSON reader for the flat quote object.
//!
//! Hand-written because it is the hot path of the transform Lambda: decoding through
//! `serde_json` into a borrowed struct and validating afterwards measured well below the
//! 3M records/s goal (see README). It is a complete JSON syntax checker (RFC 8259: UTF-8,
//! escapes, surrogate pairs, number grammar, nesting up to [`MAX_DEPTH`] in ignored fields), it
//! decodes only the fields it knows, and it validates each value as it reads it. The property
//! tests and the fuzz target compare it with the encoder and with `serde_json`.

use std::borrow::Cow;

use crate::invalid::{Field, Invalid, JsonType};
use crate::quote::{check_change_pct, check_price, check_source, check_times, check_volume};
use crate::{Currency, Quote, Symbol, Timestamp};

/// Deepest nesting accepted inside an ignored (unknown) field.
const MAX_DEPTH: usize = 64;

type Slot<T> = Option<Result<T, Invalid>>;

struct Reader<'a> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
}

fn syntax(offset: usize, what: &'static str) -> Invalid {
    Invalid::NotJson { offset, what }
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Quote, Invalid> {
    let text = std::str::from_utf8(bytes).map_err(|e| syntax(e.valid_up_to(), "invalid UTF-8"))?;
    let mut r = Reader {
        text,
        b: bytes,
        pos: 0,
    };
    r.skip_ws();
    match r.peek() {
        None => return Err(syntax(r.pos, "empty input")),
        Some(b'{') => {}
        Some(_) => {
            let found = r.value_type()?;
            r.skip_value(0)?;
            r.end()?;
            return Err(Invalid::NotObject(found));
        }
    }
    r.pos += 1;

    let mut version: Slot<()> = None;
    let mut symbol: Slot<Symbol> = None;
    let mut price: Slot<f64> = None;
    let mut currency: Slot<Currency> = None;
    let mut change_pct: Slot<f64> = None;
    let mut volume: Slot<Option<u64>> = None;
    let mut market_time: Slot<Timestamp> = None;
    let mut scraped_at: Slot<Timestamp> = None;
    let mut source: Slot<String> = None;

    r.skip_ws();
    if r.peek() == Some(b'}') {
        r.pos += 1;
    } else {
        loop {
            if r.peek() != Some(b'"') {
                return Err(syntax(r.pos, "expected a field name"));
            }
            let key = r.string()?;
            r.skip_ws();
            if r.peek() != Some(b':') {
                return Err(syntax(r.pos, "expected ':'"));
            }
            r.pos += 1;
            r.skip_ws();
            match &*key {
                "v" => put(&mut version, Field::Version, r.version()?)?,
                "symbol" => put(
                    &mut symbol,
                    Field::Symbol,
                    r.string_field(Field::Symbol, |s| {
                        Symbol::parse(s).map_err(Invalid::BadSymbol)
                    })?,
                )?,
                "price" => put(
                    &mut price,
                    Field::Price,
                    r.float_field(Field::Price, check_price)?,
                )?,
                "currency" => put(
                    &mut currency,
                    Field::Currency,
                    r.string_field(Field::Currency, |s| {
                        Currency::parse(s).map_err(Invalid::BadCurrency)
                    })?,
                )?,
                "change_pct" => put(
                    &mut change_pct,
                    Field::ChangePct,
                    r.float_field(Field::ChangePct, check_change_pct)?,
                )?,
                "volume" => put(&mut volume, Field::Volume, r.volume()?)?,
                "market_time" => put(
                    &mut market_time,
                    Field::MarketTime,
                    r.string_field(Field::MarketTime, |s| {
                        Timestamp::parse_rfc3339(s).map_err(Invalid::BadMarketTime)
                    })?,
                )?,
                "scraped_at" => put(
                    &mut scraped_at,
                    Field::ScrapedAt,
                    r.string_field(Field::ScrapedAt, |s| {
                        Timestamp::parse_rfc3339(s).map_err(Invalid::BadScrapedAt)
                    })?,
                )?,
                "source" => put(
                    &mut source,
                    Field::Source,
                    r.string_field(Field::Source, |s| {
                        check_source(s)
                            .map(|()| s.to_owned())
                            .map_err(Invalid::BadSource)
                    })?,
                )?,
                // Unknown fields are tolerated (forward compatibility) but must be valid JSON.
                _ => r.skip_value(1)?,
            }
            r.skip_ws();
            match r.peek() {
                Some(b',') => {
                    r.pos += 1;
                    r.skip_ws();
                }
                Some(b'}') => {
                    r.pos += 1;
                    break;
                }
                _ => return Err(syntax(r.pos, "expected ',' or '}'")),
            }
        }
    }
    r.end()?;

    if let Some(v) = version {
        v?;
    }
    let symbol = required(symbol, Field::Symbol)?;
    let price = required(price, Field::Price)?;
    let currency = required(currency, Field::Currency)?;
    let change_pct = required(change_pct, Field::ChangePct)?;
    let volume = volume.transpose()?.flatten();
    let market_time = required(market_time, Field::MarketTime)?;
    let scraped_at = required(scraped_at, Field::ScrapedAt)?;
    let source = required(source, Field::Source)?;
    check_times(market_time, scraped_at)?;
    Ok(Quote {
        symbol,
        price,
        currency,
        change_pct,
        volume,
        market_time,
        scraped_at,
        source,
    })
}

/// Whether any byte of `x` is `"`, `\\` or below 0x20 (the bytes that end a plain run in a
/// JSON string), by the classic "has zero byte" bit trick; exact, no false positives.
#[inline]
fn has_special(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let quote = zero(x ^ (ONES * u64::from(b'"')));
    let backslash = zero(x ^ (ONES * u64::from(b'\\')));
    let control = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
    (quote | backslash | control) != 0
}

/// Stores a field's outcome; a second occurrence of the field is an error in itself.
#[inline]
fn put<T>(slot: &mut Slot<T>, field: Field, value: Result<T, Invalid>) -> Result<(), Invalid> {
    if slot.is_some() {
        return Err(Invalid::DuplicateField(field));
    }
    *slot = Some(value);
    Ok(())
}

#[inline]
fn required<T>(slot: Slot<T>, field: Field) -> Result<T, Invalid> {
    slot.unwrap_or(Err(Invalid::MissingField(field)))
}

impl<'a> Reader<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Only whitespace may follow the value.
    fn end(&mut self) -> Result<(), Invalid> {
        self.skip_ws();
        if self.pos == self.b.len() {
            Ok(())
        } else {
            Err(Invalid::TrailingGarbage { offset: self.pos })
        }
    }

    /// The type of the value starting here (syntax is checked when it is read).
    fn value_type(&self) -> Result<JsonType, Invalid> {
        Ok(match self.peek() {
            Some(b'"') => JsonType::String,
            Some(b'{') => JsonType::Object,
            Some(b'[') => JsonType::Array,
            Some(b't' | b'f') => JsonType::Bool,
            Some(b'n') => JsonType::Null,
            Some(b'-' | b'0'..=b'9') => JsonType::Number,
            _ => return Err(syntax(self.pos, "expected a JSON value")),
        })
    }

    /// Reads a value of the wrong type and reports it for `field`.
    fn wrong_type<T>(&mut self, field: Field) -> Result<Result<T, Invalid>, Invalid> {
        let found = self.value_type()?;
        self.skip_value(1)?;
        Ok(Err(Invalid::WrongType { field, found }))
    }

    /// A string field: decodes it and applies `check`; other types are a wrong-type error.
    #[inline]
    fn string_field<T>(
        &mut self,
        field: Field,
        check: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Result<Result<T, Invalid>, Invalid> {
        if self.peek() != Some(b'"') {
            return self.wrong_type(field);
        }
        let s = self.string()?;
        Ok(check(&s))
    }

    /// A float field: `check` sees the value; NaN/Infinity tokens are read as such so that they
    /// are reported as "not finite" (Python's `json` writes them).
    #[inline]
    fn float_field(
        &mut self,
        field: Field,
        check: fn(f64) -> Result<(), Invalid>,
    ) -> Result<Result<f64, Invalid>, Invalid> {
        let rest = &self.b[self.pos..];
        for (token, value) in [
            (&b"NaN"[..], f64::NAN),
            (b"Infinity", f64::INFINITY),
            (b"-Infinity", f64::NEG_INFINITY),
        ] {
            if rest.starts_with(token) {
                self.pos += token.len();
                return Ok(check(value).map(|()| value));
            }
        }
        if !matches!(self.peek(), Some(b'-' | b'0'..=b'9')) {
            return self.wrong_type(field);
        }
        let (start, _) = self.number()?;
        let text = &self.text[start..self.pos];
        let value: f64 = text.parse().map_err(|_| syntax(start, "invalid number"))?;
        Ok(check(value).map(|()| value))
    }

    /// `v`: the integer 1 (absent also means 1, handled by the caller).
    fn version(&mut self) -> Result<Result<(), Invalid>, Invalid> {
        if !matches!(self.peek(), Some(b'-' | b'0'..=b'9')) {
            return self.wrong_type(Field::Version);
        }
        let (start, _) = self.number()?;
        let text = &self.text[start..self.pos];
        Ok(if text == "1" {
            Ok(())
        } else {
            Err(Invalid::UnsupportedVersion(text.chars().take(32).collect()))
        })
    }

    /// `volume`: a non-negative integer within `i64`, or `null` for absent.
    fn volume(&mut self) -> Result<Result<Option<u64>, Invalid>, Invalid> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => {}
            Some(b'n') => {
                self.literal(b"null")?;
                return Ok(Ok(None));
            }
            _ => return self.wrong_type(Field::Volume),
        }
        let (start, integer) = self.number()?;
        let text = &self.b[start..self.pos];
        let (negative, digits) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, text),
        };
        // `-0` and `-0.0` are zero, not negative.
        if negative && digits.iter().any(|c| (b'1'..=b'9').contains(c)) {
            let mantissa = digits
                .split(|c| *c == b'e' || *c == b'E')
                .next()
                .unwrap_or_default();
            if mantissa.iter().any(|c| (b'1'..=b'9').contains(c)) {
                return Ok(Err(Invalid::VolumeNegative));
            }
        }
        if !integer {
            return Ok(Err(Invalid::VolumeNotInteger));
        }
        let mut v: u64 = 0;
        for &c in digits {
            match v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(c - b'0')))
            {
                Some(n) => v = n,
                None => return Ok(Err(Invalid::VolumeTooLarge)),
            }
        }
        Ok(check_volume(v).map(|()| Some(v)))
    }

    /// Scans a JSON number; returns its start and whether it is an integer (no fraction or
    /// exponent).
    #[inline]
    fn number(&mut self) -> Result<(usize, bool), Invalid> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(syntax(self.pos, "invalid number")),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(syntax(self.pos, "expected a digit after '.'"));
            }
            self.digits();
            integer = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(syntax(self.pos, "expected a digit in the exponent"));
            }
            self.digits();
            integer = false;
        }
        Ok((start, integer))
    }

    #[inline]
    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Invalid> {
        if self.b[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(syntax(self.pos, "invalid literal"))
        }
    }

    /// Reads a string starting at its opening quote; borrows it unless it has escapes.
    #[inline]
    fn string(&mut self) -> Result<Cow<'a, str>, Invalid> {
        self.pos += 1;
        let start = self.pos;
        // Eight bytes at a time while none of them is a quote, backslash or control character.
        while let Some(chunk) = self.b.get(self.pos..self.pos + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            if has_special(u64::from_le_bytes(word)) {
                break;
            }
            self.pos += 8;
        }
        while let Some(&c) = self.b.get(self.pos) {
            match c {
                b'"' => {
                    self.pos += 1;
                    // Both ends are at ASCII quotes, hence char boundaries.
                    return Ok(Cow::Borrowed(&self.text[start..self.pos - 1]));
                }
                b'\\' => return self.escaped_string(start).map(Cow::Owned),
                0..=0x1f => return Err(syntax(self.pos, "control character in a string")),
                _ => self.pos += 1,
            }
        }
        Err(syntax(self.pos, "unterminated string"))
    }

    /// The slow path of [`Reader::string`]: decodes escapes from the first backslash on.
    fn escaped_string(&mut self, start: usize) -> Result<String, Invalid> {
        let mut out = String::from(&self.text[start..self.pos]);
        loop {
            let Some(&c) = self.b.get(self.pos) else {
                return Err(syntax(self.pos, "unterminated string"));
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    self.pos += 1;
                    let e = self
                        .peek()
                        .ok_or_else(|| syntax(self.pos, "unterminated string"))?;
                    self.pos += 1;
                    let decoded = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(syntax(self.pos - 1, "invalid escape")),
                    };
                    out.push(decoded);
                }
                0..=0x1f => return Err(syntax(self.pos, "control character in a string")),
                _ => {
                    // Copy the run up to the next quote, backslash or control character.
                    let run_start = self.pos;
                    while let Some(&c) = self.b.get(self.pos) {
                        if c == b'"' || c == b'\\' || c < 0x20 {
                            break;
                        }
                        self.pos += 1;
                    }
                    out.push_str(&self.text[run_start..self.pos]);
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, Invalid> {
        let at = self.pos;
        let hex = self
            .b
            .get(at..at + 4)
            .ok_or_else(|| syntax(at, "short \\u escape"))?;
        let mut v = 0;
        for &h in hex {
            let d = (h as char)
                .to_digit(16)
                .ok_or_else(|| syntax(at, "invalid \\u escape"))?;
            v = v * 16 + d;
        }
        self.pos += 4;
        Ok(v)
    }

    /// After `\u`: one code point, joining a surrogate pair; lone surrogates are errors.
    fn unicode_escape(&mut self) -> Result<char, Invalid> {
        let at = self.pos;
        let hi = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&hi) {
            if !self.b[self.pos..].starts_with(b"\\u") {
                return Err(syntax(at, "lone surrogate"));
            }
            self.pos += 2;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(syntax(at, "lone surrogate"));
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else {
            hi
        };
        char::from_u32(code).ok_or_else(|| syntax(at, "lone surrogate"))
    }

    /// Checks and skips any JSON value (ignored fields, values of the wrong type).
    fn skip_value(&mut self, depth: usize) -> Result<(), Invalid> {
        if depth > MAX_DEPTH {
            return Err(syntax(self.pos, "nested too deeply"));
        }
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            Some(open @ (b'[' | b'{')) => {
                let close = if open == b'[' { b']' } else { b'}' };
                self.pos += 1;
                self.skip_ws();
                if self.peek() == Some(close) {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    if open == b'{' {
                        if self.peek() != Some(b'"') {
                            return Err(syntax(self.pos, "expected a field name"));
                        }
                        self.string()?;
                        self.skip_ws();
                        if self.peek() != Some(b':') {
                            return Err(syntax(self.pos, "expected ':'"));
                        }
                        self.pos += 1;
                        self.skip_ws();
                    }
                    self.skip_value(depth + 1)?;
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => {
                            self.pos += 1;
                            self.skip_ws();
                        }
                        Some(c) if c == close => {
                            self.pos += 1;
                            return Ok(());
                        }
                        _ => return Err(syntax(self.pos, "expected ',' or a closing bracket")),
                    }
                }
            }
            _ => Err(syntax(self.pos, "expected a JSON value")),
        }
    }
}
