//! InfluxDB line protocol: escaping and number formatting, usable for any point.
//!
//! A line is `measurement[,tag_key=tag_value...] field_key=field_value[,...] [timestamp]`.
//! The escaping rules (InfluxDB 1.x and 2.x agree on these):
//! - measurement: `,` and space are escaped with a backslash;
//! - tag keys, tag values and field keys: `,`, `=` and space;
//! - string field values: inside double quotes, `"` and `\`.
//!
//! Two things cannot be escaped at all: a newline in a name or tag value (it ends the line), and a
//! backslash in a name or tag value that stands before another backslash, an escaped character or
//! the end (InfluxDB 1.x reads `\\` literally while 2.x reads it as one backslash, so no escaping
//! means the same to both). [`check_tag`] and [`check_measurement`] say whether a text is carried
//! faithfully; the escaping functions themselves never fail, so check first where it matters.
//!
//! Everything appends to a byte buffer: a write body is bytes (gzipped on its way out), and
//! building it as bytes spares the UTF-8 checks a `String` would need.

/// Why a text cannot be written as a line-protocol name or tag value without changing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LineProtocolError {
    /// Names and tag values must not be empty.
    #[error("must not be empty")]
    Empty,
    /// A newline or carriage return ends the line and cannot be escaped.
    #[error("must not contain a line break")]
    LineBreak,
    /// A backslash before another backslash, a character that needs escaping, or the end.
    #[error("a backslash must not stand before a backslash, a special character or the end")]
    Backslash,
    /// A measurement starting with `#` is read as a comment line.
    #[error("a measurement must not start with '#'")]
    Comment,
    /// Floats must be finite: line protocol has no NaN or infinity.
    #[error("a float field must be finite")]
    NotFinite,
}

fn check(text: &str, special: &[u8]) -> Result<(), LineProtocolError> {
    let b = text.as_bytes();
    if b.is_empty() {
        return Err(LineProtocolError::Empty);
    }
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'\n' | b'\r' => return Err(LineProtocolError::LineBreak),
            b'\\' => match b.get(i + 1) {
                None => return Err(LineProtocolError::Backslash),
                Some(n) if *n == b'\\' || special.contains(n) => {
                    return Err(LineProtocolError::Backslash);
                }
                Some(_) => {}
            },
            _ => {}
        }
    }
    Ok(())
}

/// Whether `text` is carried faithfully as a tag key, tag value or field key.
pub fn check_tag(text: &str) -> Result<(), LineProtocolError> {
    check(text, b", =")
}

/// Whether `text` is carried faithfully as a measurement name.
pub fn check_measurement(text: &str) -> Result<(), LineProtocolError> {
    if text.starts_with('#') {
        return Err(LineProtocolError::Comment);
    }
    check(text, b", ")
}

/// Appends UTF-8 `text` with a backslash before each byte in `special` (all ASCII).
#[inline]
pub(crate) fn escape(text: &[u8], special: &[u8], out: &mut Vec<u8>) {
    let mut from = 0;
    for (i, c) in text.iter().enumerate() {
        if special.contains(c) {
            out.extend_from_slice(&text[from..i]);
            out.push(b'\\');
            from = i;
        }
    }
    out.extend_from_slice(&text[from..]);
}

/// Appends the first `len` bytes of `block`: all of it, then cut back. A copy of a fixed size
/// compiles to a few moves, where one of a variable length is a `memcpy` call (a tenth of the
/// record benchmark, when every short part of a line was appended that way).
#[inline]
pub(crate) fn push_prefix<const N: usize>(block: &[u8; N], len: usize, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(block);
    out.truncate(start + len.min(N));
}

/// The bytes escaped in tag keys, tag values and field keys.
pub(crate) const TAG_SPECIAL: &[u8] = b", =";

/// Appends a measurement name, escaping `,` and space.
pub fn escape_measurement(text: &str, out: &mut Vec<u8>) {
    escape(text.as_bytes(), b", ", out);
}

/// Appends a tag key, tag value or field key, escaping `,`, `=` and space.
pub fn escape_tag(text: &str, out: &mut Vec<u8>) {
    escape(text.as_bytes(), TAG_SPECIAL, out);
}

/// Appends a string field value in double quotes, escaping `"` and `\`.
///
/// Any text is carried faithfully, line breaks included.
pub fn write_string_field(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    escape(text.as_bytes(), b"\"\\", out);
    out.push(b'"');
}

/// Appends a float field value: the shortest text that parses back to the same `f64`, with a
/// trailing `.0` dropped (`190` rather than `190.0`, as the Python client writes it; a number
/// without the `i` suffix is a float to InfluxDB either way).
pub fn write_float(value: f64, out: &mut Vec<u8>) -> Result<(), LineProtocolError> {
    if !value.is_finite() {
        return Err(LineProtocolError::NotFinite);
    }
    if !short_decimal(value, out) {
        let mut buf = ryu::Buffer::new();
        let text = buf.format_finite(value);
        out.extend_from_slice(text.strip_suffix(".0").unwrap_or(text).as_bytes());
    }
    Ok(())
}

/// Powers of ten that are exact in `f64`.
const POW10: [f64; 10] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// The fast path of [`write_float`] for the common case, a price with a few decimals: finds the
/// fewest fraction digits `d` for which `round(value * 10^d) / 10^d == value`, and writes that
/// integer with a decimal point. This is the same text `ryu` gives (the shortest that round-trips):
/// the division of two exact integers is correctly rounded, exactly like parsing the decimal,
/// and below 2^50 the rounded product is the only candidate with `d` digits. Returns false
/// (writing nothing) outside the range where `ryu` writes positional notation or when more than
/// nine fraction digits are needed.
///
/// Hundredths are tried first (most prices and changes have two decimals): if they work, so does
/// every `d` from the fewest up, with the same number times a power of ten, so dropping the
/// candidate's trailing zeros finds the fewest. Otherwise the fewest is above two.
#[inline]
fn short_decimal(value: f64, out: &mut Vec<u8>) -> bool {
    const LIMIT: f64 = (1u64 << 50) as f64;
    let magnitude = value.abs();
    if !(1e-5..LIMIT).contains(&magnitude) {
        return false;
    }
    let candidate = |digits: usize| {
        let scale = POW10[digits];
        let scaled = value * scale;
        if scaled.abs() >= LIMIT {
            return None;
        }
        // |scaled| < 2^50: adding ±0.5 and truncating rounds half away from zero exactly, in
        // one instruction instead of a libm call.
        let n = (scaled + 0.5f64.copysign(scaled)) as i64;
        (n as f64 / scale == value).then_some((n, digits))
    };
    let Some((mut n, mut digits)) = candidate(2).or_else(|| (3..POW10.len()).find_map(candidate))
    else {
        return false;
    };
    while digits > 0 && n % 10 == 0 {
        n /= 10;
        digits -= 1;
    }
    if n < 0 {
        out.push(b'-');
    }
    let mut buf = itoa::Buffer::new();
    let text = buf.format(n.unsigned_abs()).as_bytes();
    if text.len() <= digits {
        // Below 1: "0." and the leading zeros of the fraction.
        out.extend_from_slice(b"0.");
        out.resize(out.len() + digits - text.len(), b'0');
        out.extend_from_slice(text);
    } else {
        // All digits in one copy, then the fraction moved one place right, a byte at a time (a
        // few bytes; a `copy_within` would be a `memmove` call), to make room for the point.
        out.extend_from_slice(text);
        if digits > 0 {
            let point = out.len() - digits;
            out.push(b'0');
            for i in (point..out.len() - 1).rev() {
                out[i + 1] = out[i];
            }
            out[point] = b'.';
        }
    }
    true
}

/// Appends a signed integer field value with its `i` suffix.
pub fn write_integer(value: i64, out: &mut Vec<u8>) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(value).as_bytes());
    out.push(b'i');
}

/// Appends a timestamp (an integer in the write's precision, here always nanoseconds).
pub fn write_timestamp(nanos: i64, out: &mut Vec<u8>) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(nanos).as_bytes());
}

/// Appends a boolean field value.
pub fn write_bool(value: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(f: fn(&str, &mut Vec<u8>), s: &str) -> String {
        let mut out = Vec::new();
        f(s, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_per_position() {
        assert_eq!(esc(escape_measurement, "a b,c=d\"e"), "a\\ b\\,c=d\"e");
        assert_eq!(esc(escape_tag, "a b,c=d\"e"), "a\\ b\\,c\\=d\"e");
        assert_eq!(
            esc(write_string_field, "a \"b\" \\c,="),
            "\"a \\\"b\\\" \\\\c,=\""
        );
        assert_eq!(esc(escape_tag, "Börse"), "Börse");
    }

    #[test]
    fn checks() {
        assert_eq!(check_tag("C:\\dir"), Ok(()));
        assert_eq!(check_tag(""), Err(LineProtocolError::Empty));
        assert_eq!(check_tag("a\nb"), Err(LineProtocolError::LineBreak));
        assert_eq!(check_tag("a\\"), Err(LineProtocolError::Backslash));
        assert_eq!(check_tag("a\\,b"), Err(LineProtocolError::Backslash));
        assert_eq!(check_tag("a\\\\b"), Err(LineProtocolError::Backslash));
        assert_eq!(check_measurement("a\\=b"), Ok(()));
        assert_eq!(check_measurement("#x"), Err(LineProtocolError::Comment));
    }

    fn ryu_trimmed(v: f64) -> String {
        let mut buf = ryu::Buffer::new();
        let t = buf.format_finite(v);
        t.strip_suffix(".0").unwrap_or(t).to_owned()
    }

    #[test]
    fn short_decimal_matches_ryu() {
        let mut cases = vec![
            1e-5,
            0.00001234,
            0.1,
            0.3,
            1.0,
            189.23,
            0.0512,
            123456.789,
            999999999999999.0,
            1125899906842623.0,
        ];
        for i in 0..200_000u32 {
            let cents = f64::from(i) * 0.01 + 0.01;
            cases.push(cents);
            cases.push(-cents);
            cases.push(f64::from(i) / 10_000.0 + 0.0001);
            cases.push(f64::from(i).sqrt());
        }
        for v in cases {
            let mut s = Vec::new();
            write_float(v, &mut s).unwrap();
            assert_eq!(String::from_utf8(s).unwrap(), ryu_trimmed(v), "{v:?}");
        }
    }

    #[test]
    fn floats() {
        let f = |v: f64| {
            let mut s = Vec::new();
            write_float(v, &mut s).map(|()| String::from_utf8(s).unwrap())
        };
        assert_eq!(f(189.23).unwrap(), "189.23");
        assert_eq!(f(-0.42).unwrap(), "-0.42");
        assert_eq!(f(190.0).unwrap(), "190");
        assert_eq!(f(0.0).unwrap(), "0");
        assert_eq!(f(1e-7).unwrap(), "1e-7");
        assert_eq!(f(f64::NAN), Err(LineProtocolError::NotFinite));
        let mut s = Vec::new();
        write_integer(-5, &mut s);
        write_bool(true, &mut s);
        write_bool(false, &mut s);
        assert_eq!(s, b"-5itruefalse");
    }
}
