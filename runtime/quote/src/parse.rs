//! A single-pass JSON reader for the flat quote object.
//!
//! Hand-written because it is the hot path of the transform Lambda: decoding through
//! `serde_json` into a borrowed struct and validating afterwards measured well below the
//! 3M records/s goal (see docs/quote.md). It is a complete JSON syntax checker (RFC 8259: UTF-8,
//! escapes, surrogate pairs, number grammar, nesting up to [`MAX_DEPTH`] in ignored fields), it
//! decodes only the fields it knows, and it validates each value as it reads it. The property
//! tests and the fuzz target compare it with the encoder and with `serde_json`.
//!
//! What keeps it fast: strings are scanned eight bytes at a time, UTF-8 is checked only where a
//! string holds non-ASCII bytes, the record's own keys are recognised without reading them as
//! strings, plain decimals are converted without the general float parser, and nothing is
//! allocated for a record without escapes.

use std::borrow::Cow;

use crate::invalid::{Field, Invalid, JsonType};
use crate::quote::{check_change_pct, check_price, check_source_utf8, check_times, check_volume};
use crate::source::SourceText;
use crate::time::LastDate;
use crate::{Currency, Quote, Symbol, Timestamp};

/// Deepest nesting accepted inside an ignored (unknown) field.
const MAX_DEPTH: usize = 64;

/// The reader's position in one record. Its per-field methods are `#[inline(always)]`: when
/// called, their nested `Result`s (with the 32-byte [`Invalid`]) come back through memory and are
/// re-read at once, and those stalls cost about 15% of the benchmark.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

fn syntax(offset: usize, what: &'static str) -> Invalid {
    Invalid::NotJson { offset, what }
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Quote, Invalid> {
    // The reader checks UTF-8 only inside strings: a non-ASCII byte anywhere else is a syntax
    // error anyway. So a record it accepts is valid UTF-8, and for one it rejects, invalid
    // UTF-8 anywhere is the reason given, as if the whole input had been checked first.
    read_quote(bytes).map_err(|reason| match std::str::from_utf8(bytes) {
        Err(e) => syntax(e.valid_up_to(), "invalid UTF-8"),
        Ok(_) => reason,
    })
}

fn read_quote(bytes: &[u8]) -> Result<Quote, Invalid> {
    let mut r = Reader { b: bytes, pos: 0 };
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

    let mut fields = Fields::default();
    let mut last_date = LastDate::default();
    r.skip_ws();
    if r.peek() == Some(b'}') {
        r.pos += 1;
    } else {
        loop {
            if r.peek() != Some(b'"') {
                return Err(syntax(r.pos, "expected a field name"));
            }
            let field = match r.plain_key() {
                Some(field) => Some(field),
                None => {
                    let key = r.string()?;
                    r.skip_ws();
                    if r.peek() != Some(b':') {
                        return Err(syntax(r.pos, "expected ':'"));
                    }
                    r.pos += 1;
                    Field::from_key(&key)
                }
            };
            r.skip_ws();
            if let Some(field) = field {
                fields.first_time(field)?;
            }
            match field {
                Some(Field::Version) => {
                    fields.keep(Field::Version, r.version()?);
                }
                Some(Field::Symbol) => {
                    let value = r.string_field(Field::Symbol, |s| {
                        Symbol::from_utf8(s).map_err(Invalid::BadSymbol)
                    })?;
                    fields.symbol = fields.keep(Field::Symbol, value);
                }
                Some(Field::Price) => {
                    let value = r.float_field(Field::Price, check_price)?;
                    fields.price = fields.keep(Field::Price, value);
                }
                Some(Field::Currency) => {
                    let value = r.string_field(Field::Currency, |s| {
                        Currency::from_bytes(s).map_err(Invalid::BadCurrency)
                    })?;
                    fields.currency = fields.keep(Field::Currency, value);
                }
                Some(Field::ChangePct) => {
                    let value = r.float_field(Field::ChangePct, check_change_pct)?;
                    fields.change_pct = fields.keep(Field::ChangePct, value);
                }
                Some(Field::Volume) => {
                    let value = r.volume()?;
                    fields.volume = fields.keep(Field::Volume, value).flatten();
                }
                Some(Field::MarketTime) => {
                    let value = r.string_field(Field::MarketTime, |s| {
                        Timestamp::parse_rfc3339_bytes(s, &mut last_date)
                            .map_err(Invalid::BadMarketTime)
                    })?;
                    fields.market_time = fields.keep(Field::MarketTime, value);
                }
                Some(Field::ScrapedAt) => {
                    let value = r.string_field(Field::ScrapedAt, |s| {
                        Timestamp::parse_rfc3339_bytes(s, &mut last_date)
                            .map_err(Invalid::BadScrapedAt)
                    })?;
                    fields.scraped_at = fields.keep(Field::ScrapedAt, value);
                }
                Some(Field::Source) => {
                    let value = r.string_field(Field::Source, |s| {
                        check_source_utf8(s)
                            .map(|()| SourceText::new(s))
                            .map_err(Invalid::BadSource)
                    })?;
                    fields.source = fields.keep(Field::Source, value);
                }
                // Unknown fields are tolerated (forward compatibility) but must be valid JSON.
                None => r.skip_value(1)?,
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
    fields.into_quote()
}

/// The record's fields as read so far, and the first problem with a value.
#[derive(Default)]
struct Fields {
    /// One bit per [`Field`] met, to reject duplicates.
    seen: u16,
    /// The bad value of the earliest field in the JSON form's order.
    problem: Option<(Field, Invalid)>,
    symbol: Option<Symbol>,
    price: Option<f64>,
    currency: Option<Currency>,
    change_pct: Option<f64>,
    volume: Option<u64>,
    market_time: Option<Timestamp>,
    scraped_at: Option<Timestamp>,
    source: Option<SourceText>,
}

impl Fields {
    fn bit(field: Field) -> u16 {
        1 << field as u16
    }

    /// Notes that `field` was met; a second occurrence is an error in itself.
    #[inline(always)]
    fn first_time(&mut self, field: Field) -> Result<(), Invalid> {
        if self.seen & Self::bit(field) != 0 {
            return Err(Invalid::DuplicateField(field));
        }
        self.seen |= Self::bit(field);
        Ok(())
    }

    /// The value, or `None` after noting the problem (kept if it is the earliest so far).
    #[inline(always)]
    fn keep<T>(&mut self, field: Field, value: Result<T, Invalid>) -> Option<T> {
        match value {
            Ok(value) => Some(value),
            Err(reason) => {
                if self
                    .problem
                    .as_ref()
                    .is_none_or(|(first, _)| (field as u8) < (*first as u8))
                {
                    self.problem = Some((field, reason));
                }
                None
            }
        }
    }

    /// The quote, or the first problem in the JSON form's order (a missing field or a bad
    /// value), then `market_time` against `scraped_at`.
    fn into_quote(self) -> Result<Quote, Invalid> {
        if let Some((field, reason)) = self.problem {
            let missing_before = Field::ALL[..field as usize].iter().find(|f| {
                !matches!(f, Field::Version | Field::Volume) && self.seen & Self::bit(**f) == 0
            });
            return Err(missing_before.map_or(reason, |f| Invalid::MissingField(*f)));
        }
        let missing = Invalid::MissingField;
        let quote = Quote {
            symbol: self.symbol.ok_or(missing(Field::Symbol))?,
            price: self.price.ok_or(missing(Field::Price))?,
            currency: self.currency.ok_or(missing(Field::Currency))?,
            change_pct: self.change_pct.ok_or(missing(Field::ChangePct))?,
            volume: self.volume,
            market_time: self.market_time.ok_or(missing(Field::MarketTime))?,
            scraped_at: self.scraped_at.ok_or(missing(Field::ScrapedAt))?,
            source: self.source.ok_or(missing(Field::Source))?,
        };
        check_times(quote.market_time, quote.scraped_at)?;
        Ok(quote)
    }
}

/// Whether `c` ends a plain run in a JSON string: `"`, `\`, a control character or not ASCII.
fn is_stop(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20 || !c.is_ascii()
}

/// [`is_stop`] for eight bytes at once: a mask with the high bit set in the lowest byte of `x`
/// that is a stop, using the "has zero byte" bit tricks. Only the lowest set bit is exact (a
/// borrow may mark bytes above it), and that is the only one used.
#[inline]
fn stop_bytes(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let quote = zero(x ^ (ONES * u64::from(b'"')));
    let backslash = zero(x ^ (ONES * u64::from(b'\\')));
    let control = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
    quote | backslash | control | (x & HIGHS)
}

/// A JSON number as scanned: where it starts, and its decimal digits as one integer, which
/// gives most numbers their value without the general float parser.
struct Number {
    start: usize,
    negative: bool,
    /// The digits of the integer and fraction parts, as one integer (wrapped when there are
    /// more than 19 of them).
    mantissa: u64,
    /// How many digits those are, leading zeros included.
    digits: usize,
    /// How many of them follow the decimal point.
    fraction_digits: usize,
    exponent: bool,
}

impl Number {
    /// No fraction and no exponent.
    fn is_integer(&self) -> bool {
        self.fraction_digits == 0 && !self.exponent
    }

    /// Clinger's fast path: a decimal with at most 15 digits and no exponent is `m / 10^k` with
    /// `m` and `10^k` both exact in `f64`, so one correctly rounded division gives the correctly
    /// rounded value, the same as the general parser. `None` for anything else.
    #[inline]
    fn plain_f64(&self) -> Option<f64> {
        /// Powers of ten up to 10^15, all exact in `f64`.
        const POW10: [f64; 16] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
        ];
        if self.exponent || self.digits > 15 {
            return None;
        }
        // Below 10^15, so the signed conversion (one instruction; the unsigned one is several
        // on baseline x86-64) is exact.
        let value = self.mantissa as i64 as f64 / POW10[self.fraction_digits];
        Some(if self.negative { -value } else { value })
    }
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

    /// At a field name's opening quote: one of the record's keys written plainly and followed
    /// directly by `:` (what every encoder writes), recognised by comparing bytes and consumed
    /// with its colon. `None` (anything else) consumes nothing: the caller reads the key as a
    /// string.
    #[inline]
    fn plain_key(&mut self) -> Option<Field> {
        let rest = self.b.get(self.pos + 1..)?;
        // Fixed-size comparisons, which compile to a few integer compares.
        fn is<const N: usize>(rest: &[u8], key: &[u8; N]) -> bool {
            rest.get(..N).is_some_and(|head| head == key)
        }
        let field = match rest.first()? {
            b's' if is(rest, b"symbol\":") => Field::Symbol,
            b's' if is(rest, b"scraped_at\":") => Field::ScrapedAt,
            b's' if is(rest, b"source\":") => Field::Source,
            b'p' if is(rest, b"price\":") => Field::Price,
            b'c' if is(rest, b"currency\":") => Field::Currency,
            b'c' if is(rest, b"change_pct\":") => Field::ChangePct,
            b'v' if is(rest, b"v\":") => Field::Version,
            b'v' if is(rest, b"volume\":") => Field::Volume,
            b'm' if is(rest, b"market_time\":") => Field::MarketTime,
            _ => return None,
        };
        // The quotes around the key and the colon.
        self.pos += field.key().len() + 3;
        Some(field)
    }

    /// A string field: decodes it and applies `check`; other types are a wrong-type error.
    #[inline(always)]
    fn string_field<T>(
        &mut self,
        field: Field,
        check: impl FnOnce(&[u8]) -> Result<T, Invalid>,
    ) -> Result<Result<T, Invalid>, Invalid> {
        if self.peek() != Some(b'"') {
            return self.wrong_type(field);
        }
        if let Some(s) = self.plain_string() {
            return Ok(check(s));
        }
        let s = self.string()?;
        Ok(check(&s))
    }

    /// A float field: `check` sees the value; NaN/Infinity tokens are read as such so that they
    /// are reported as "not finite" (Python's `json` writes them).
    #[inline(always)]
    fn float_field(
        &mut self,
        field: Field,
        check: fn(f64) -> Result<(), Invalid>,
    ) -> Result<Result<f64, Invalid>, Invalid> {
        match (self.peek(), self.b.get(self.pos + 1)) {
            (Some(b'0'..=b'9'), _) => {}
            (Some(b'-'), next) if next != Some(&b'I') => {}
            _ => {
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
                return self.wrong_type(field);
            }
        }
        let number = self.number()?;
        let value = match number.plain_f64() {
            Some(value) => value,
            // The grammar was checked and numbers are ASCII, so this cannot fail.
            None => String::from_utf8_lossy(&self.b[number.start..self.pos])
                .parse()
                .map_err(|_| syntax(number.start, "invalid number"))?,
        };
        Ok(check(value).map(|()| value))
    }

    /// `v`: the integer 1 (absent also means 1, handled by the caller).
    fn version(&mut self) -> Result<Result<(), Invalid>, Invalid> {
        if !matches!(self.peek(), Some(b'-' | b'0'..=b'9')) {
            return self.wrong_type(Field::Version);
        }
        let start = self.number()?.start;
        let text = &self.b[start..self.pos];
        Ok(if text == b"1" {
            Ok(())
        } else {
            Err(Invalid::UnsupportedVersion(
                String::from_utf8_lossy(text).chars().take(32).collect(),
            ))
        })
    }

    /// `volume`: a non-negative integer within `i64`, or `null` for absent.
    #[inline(always)]
    fn volume(&mut self) -> Result<Result<Option<u64>, Invalid>, Invalid> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => {}
            Some(b'n') => {
                self.literal(b"null")?;
                return Ok(Ok(None));
            }
            _ => return self.wrong_type(Field::Volume),
        }
        let number = self.number()?;
        if number.is_integer() && !number.negative && number.digits <= 18 {
            // At most 18 digits: exact, and below i64::MAX.
            return Ok(Ok(Some(number.mantissa)));
        }
        let integer = number.is_integer();
        let text = &self.b[number.start..self.pos];
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

    /// Scans a JSON number, checking its grammar.
    #[inline(always)]
    fn number(&mut self) -> Result<Number, Invalid> {
        let mut n = Number {
            start: self.pos,
            negative: false,
            mantissa: 0,
            digits: 0,
            fraction_digits: 0,
            exponent: false,
        };
        if self.peek() == Some(b'-') {
            n.negative = true;
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                n.digits = 1;
            }
            Some(b'1'..=b'9') => self.mantissa_digits(&mut n),
            _ => return Err(syntax(self.pos, "invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(syntax(self.pos, "expected a digit after '.'"));
            }
            let before = n.digits;
            self.mantissa_digits(&mut n);
            n.fraction_digits = n.digits - before;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(syntax(self.pos, "expected a digit in the exponent"));
            }
            while let Some(b'0'..=b'9') = self.peek() {
                self.pos += 1;
            }
            n.exponent = true;
        }
        Ok(n)
    }

    /// Reads a run of digits into `n`'s mantissa.
    #[inline]
    fn mantissa_digits(&mut self, n: &mut Number) {
        while let Some(c @ b'0'..=b'9') = self.peek() {
            n.mantissa = n
                .mantissa
                .wrapping_mul(10)
                .wrapping_add(u64::from(c - b'0'));
            n.digits += 1;
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

    /// The first position from `pos` on whose byte ends a plain run in a string: `"`, `\`, a
    /// control character or a non-ASCII byte (or the end of the input).
    #[inline(always)]
    fn plain_run(&self, mut pos: usize) -> usize {
        while let Some(chunk) = self.b.get(pos..pos + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let stops = stop_bytes(u64::from_le_bytes(word));
            if stops != 0 {
                return pos + (stops.trailing_zeros() / 8) as usize;
            }
            pos += 8;
        }
        // Fewer than eight bytes left. Read the input's last eight (the tail of a record, every
        // time) and shift out those before `pos`: the bytes shifted in are zero, which count
        // as stops, so a stop at or past the end means none. No copy of a variable length,
        // which would be a `memcpy` call.
        let len = self.b.len();
        let Some(last) = len.checked_sub(8).and_then(|from| self.b.get(from..)) else {
            // An input shorter than eight bytes.
            return pos
                + self.b[pos.min(len)..]
                    .iter()
                    .position(|&c| is_stop(c))
                    .unwrap_or(len - pos.min(len));
        };
        let mut word = [0u8; 8];
        word.copy_from_slice(last);
        let skip = (pos + 8 - len) as u32 * 8;
        let stops = u64::from_le_bytes(word)
            .checked_shr(skip)
            .map_or(0, stop_bytes);
        (pos + (stops.trailing_zeros() / 8) as usize).min(len)
    }

    /// Checks the run of non-ASCII bytes at `pos` as UTF-8 and returns where it ends. A valid
    /// run holds whole characters: ASCII bytes never continue one.
    fn non_ascii_run(&self, pos: usize) -> Result<usize, Invalid> {
        let run = &self.b[pos..];
        let len = run.iter().position(u8::is_ascii).unwrap_or(run.len());
        std::str::from_utf8(&run[..len])
            .map_err(|e| syntax(pos + e.valid_up_to(), "invalid UTF-8"))?;
        Ok(pos + len)
    }

    /// Reads a string of plain bytes (no escape, control character or non-ASCII byte) starting
    /// at its opening quote; `None` (having consumed nothing) for any other string, which
    /// [`Reader::string`] then reads. The field readers' inlined fast path: going through
    /// `string` (a call returning a `Cow`) costs 6.5% more instructions per record (callgrind,
    /// 100k file).
    #[inline(always)]
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        let start = self.pos + 1;
        let end = self.plain_run(start);
        if self.b.get(end) != Some(&b'"') {
            return None;
        }
        self.pos = end + 1;
        Some(&self.b[start..end])
    }

    /// Reads a string starting at its opening quote: its bytes, valid UTF-8, borrowed unless it
    /// has escapes.
    #[inline]
    fn string(&mut self) -> Result<Cow<'a, [u8]>, Invalid> {
        let start = self.pos + 1;
        let mut pos = start;
        loop {
            pos = self.plain_run(pos);
            match self.b.get(pos) {
                Some(b'"') => {
                    self.pos = pos + 1;
                    return Ok(Cow::Borrowed(&self.b[start..pos]));
                }
                Some(b'\\') => {
                    self.pos = pos;
                    return self.escaped_string(start).map(Cow::Owned);
                }
                Some(c) if !c.is_ascii() => pos = self.non_ascii_run(pos)?,
                Some(_) => return Err(syntax(pos, "control character in a string")),
                None => return Err(syntax(pos, "unterminated string")),
            }
        }
    }

    /// The slow path of [`Reader::string`]: decodes escapes from the first backslash on (at
    /// `self.pos`; the bytes from `start` up to it are already checked).
    fn escaped_string(&mut self, start: usize) -> Result<Vec<u8>, Invalid> {
        let mut out = self.b[start..self.pos].to_vec();
        loop {
            let run_end = self.plain_run(self.pos);
            out.extend_from_slice(&self.b[self.pos..run_end]);
            self.pos = run_end;
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
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
                    out.extend_from_slice(decoded.encode_utf8(&mut [0; 4]).as_bytes());
                }
                Some(c) if !c.is_ascii() => {
                    let run_end = self.non_ascii_run(self.pos)?;
                    out.extend_from_slice(&self.b[self.pos..run_end]);
                    self.pos = run_end;
                }
                Some(_) => return Err(syntax(self.pos, "control character in a string")),
                None => return Err(syntax(self.pos, "unterminated string")),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_discriminants_follow_the_json_form() {
        for (i, field) in Field::ALL.into_iter().enumerate() {
            assert_eq!(field as usize, i);
        }
        assert!(Field::ALL.len() <= 16, "Fields::seen has 16 bits");
    }

    #[test]
    fn plain_keys_are_the_fields_keys() {
        for field in Field::ALL {
            let text = format!("\"{}\": 1", field.key());
            let mut r = Reader {
                b: text.as_bytes(),
                pos: 0,
            };
            assert_eq!(r.plain_key(), Some(field));
            assert_eq!(&text[r.pos..], " 1", "{field}");
            // Not followed directly by ':', or a longer key: the general path decides.
            for other in [
                format!("\"{}\" :", field.key()),
                format!("\"{}x\":", field.key()),
            ] {
                let mut r = Reader {
                    b: other.as_bytes(),
                    pos: 0,
                };
                assert_eq!(r.plain_key(), None, "{other}");
                assert_eq!(r.pos, 0);
            }
        }
    }

    #[test]
    fn plain_decimals_match_the_general_parser() {
        for text in [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1",
            "189.23",
            "-0.42",
            "0.1",
            "0.3",
            "72.0",
            "1.10",
            "123456789012345",
            "12345678901234.5",
            "0.000000000000001",
            "999999999999999",
            "9007199254740993",
            "1234567890123456",
            "0.1234567890123456",
            "1e5",
            "1.5E-3",
        ] {
            let parsed: f64 = text.parse().unwrap();
            let mut r = Reader {
                b: text.as_bytes(),
                pos: 0,
            };
            let number = r.number().unwrap();
            assert_eq!(r.pos, text.len());
            match number.plain_f64() {
                Some(v) => assert_eq!(v.to_bits(), parsed.to_bits(), "{text}"),
                // Only exponents and more than 15 digits go to the general parser.
                None => assert!(
                    text.contains(['e', 'E'])
                        || text.bytes().filter(u8::is_ascii_digit).count() > 15,
                    "{text}"
                ),
            }
        }
    }

    #[test]
    fn stop_bytes_finds_the_first_stop() {
        let plain = *b"abcdefgh";
        for at in 0..8 {
            for stop in [b'"', b'\\', 0x00, 0x1f, 0x80, 0xff] {
                let mut word = plain;
                word[at] = stop;
                // A later stop (which may follow a borrow) does not hide the first.
                if at < 7 {
                    word[7] = 0x00;
                }
                let mask = stop_bytes(u64::from_le_bytes(word));
                assert_eq!(mask.trailing_zeros() / 8, at as u32, "{word:?}");
            }
        }
        assert_eq!(stop_bytes(u64::from_le_bytes(*b" ~!#[]{}")), 0);
    }

    #[test]
    fn plain_runs_end_at_the_first_stop_or_the_end() {
        for text in ["", "a", "abc", "abcdefg", "abcdefgh", "abcdefghijklmnopq"] {
            for stop in [None, Some(b'"'), Some(b'\\'), Some(b'\n'), Some(0xc3)] {
                for at in 0..=text.len() {
                    let mut b = text.as_bytes().to_vec();
                    if let Some(stop) = stop {
                        b.insert(at, stop);
                    }
                    let r = Reader { b: &b, pos: 0 };
                    for from in 0..=b.len() {
                        let expected = match stop {
                            Some(_) if from <= at => at,
                            _ => b.len(),
                        };
                        assert_eq!(r.plain_run(from), expected, "{b:?} from {from}");
                    }
                }
            }
        }
    }
}
