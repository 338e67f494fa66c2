//! Ticker symbols.

use std::fmt;

/// The longest symbol the schema allows.
pub const MAX_SYMBOL_LEN: usize = 12;

/// A ticker symbol: `^[A-Z][A-Z0-9.\-]{0,11}$`.
///
/// Held inline (no allocation, `Copy`): the transform Lambda reads millions of them. The unused
/// tail of `bytes` is zero, and no symbol byte is zero, so the derived ordering (bytes first) is
/// the ordering of the text.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Symbol {
    bytes: [u8; MAX_SYMBOL_LEN],
    len: u8,
}

/// Why a text is not a valid symbol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SymbolError {
    /// The text is empty.
    #[error("a symbol must not be empty")]
    Empty,
    /// The text is longer than [`MAX_SYMBOL_LEN`].
    #[error("a symbol has at most {MAX_SYMBOL_LEN} characters, this one has {0}")]
    TooLong(usize),
    /// The first character is not an upper-case ASCII letter.
    #[error("a symbol starts with an upper-case letter A-Z")]
    BadFirst,
    /// A later character is not `A-Z`, `0-9`, `.` or `-`.
    #[error("a symbol holds only A-Z, 0-9, '.' and '-', found {0:?}")]
    BadChar(char),
}

impl Symbol {
    /// Checks `text` against the schema's symbol rule.
    pub fn parse(text: &str) -> Result<Self, SymbolError> {
        Self::from_utf8(text.as_bytes())
    }

    /// [`Symbol::parse`] over UTF-8 bytes (the record reader's strings).
    pub(crate) fn from_utf8(b: &[u8]) -> Result<Self, SymbolError> {
        let first = *b.first().ok_or(SymbolError::Empty)?;
        if !first.is_ascii_uppercase() {
            return Err(SymbolError::BadFirst);
        }
        // One pass that checks and copies (a copy of a variable length would be a `memcpy`
        // call): the first bad character wins over the length, as the rule reads.
        let mut bytes = [0; MAX_SYMBOL_LEN];
        let mut bad = None;
        for (i, &c) in b.iter().enumerate().skip(1) {
            if !is_symbol_byte(c) {
                bad = Some(i);
                break;
            }
            if let Some(slot) = bytes.get_mut(i) {
                *slot = c;
            }
        }
        if let Some(at) = bad {
            // Every byte before it is ASCII, so the offending character starts there.
            let bad = String::from_utf8_lossy(&b[at..])
                .chars()
                .next()
                .unwrap_or_default();
            return Err(SymbolError::BadChar(bad));
        }
        if b.len() > MAX_SYMBOL_LEN {
            return Err(SymbolError::TooLong(b.len()));
        }
        bytes[0] = first;
        Ok(Self {
            bytes,
            len: b.len() as u8,
        })
    }

    /// The symbol's bytes (ASCII).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Appends the symbol (as a fixed-size copy, see [`crate::line_protocol::push_prefix`]).
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        crate::line_protocol::push_prefix(&self.bytes, usize::from(self.len), out);
    }

    /// The symbol as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (see `parse`), so this never falls back.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// `A-Z`, `0-9`, `.` or `-`: what may follow a symbol's first letter.
fn is_symbol_byte(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'.' || c == b'-'
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Symbol").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_schema_symbols() {
        for ok in ["A", "AAPL", "BRK.B", "RDS-A", "A1234567890Z"] {
            assert_eq!(Symbol::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_each_rule() {
        assert_eq!(Symbol::parse(""), Err(SymbolError::Empty));
        assert_eq!(Symbol::parse("aapl"), Err(SymbolError::BadFirst));
        assert_eq!(Symbol::parse("1AB"), Err(SymbolError::BadFirst));
        assert_eq!(Symbol::parse("AB C"), Err(SymbolError::BadChar(' ')));
        assert_eq!(
            Symbol::parse("ABCDEFGHIJKLM"),
            Err(SymbolError::TooLong(13))
        );
        assert_eq!(Symbol::parse("AÉ"), Err(SymbolError::BadChar('É')));
    }

    #[test]
    fn orders_and_compares_like_text() {
        let mut texts = [
            "B",
            "A1",
            "A",
            "AB",
            "A.B",
            "A-B",
            "Z",
            "A1234567890Z",
            "AA",
        ];
        let mut symbols: Vec<Symbol> = texts.iter().map(|t| Symbol::parse(t).unwrap()).collect();
        texts.sort_unstable();
        symbols.sort_unstable();
        let sorted: Vec<&str> = symbols.iter().map(Symbol::as_str).collect();
        assert_eq!(sorted, texts);
        assert_ne!(Symbol::parse("A").unwrap(), Symbol::parse("AA").unwrap());
        assert_eq!(
            format!("{:?}", Symbol::parse("BRK.B").unwrap()),
            "Symbol(\"BRK.B\")"
        );
    }
}
