//! Ticker symbols.

use std::fmt;

/// The longest symbol the schema allows.
pub const MAX_SYMBOL_LEN: usize = 12;

/// A ticker symbol: `^[A-Z][A-Z0-9.\-]{0,11}$`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Symbol(String);

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
        let mut chars = text.chars();
        let first = chars.next().ok_or(SymbolError::Empty)?;
        if !first.is_ascii_uppercase() {
            return Err(SymbolError::BadFirst);
        }
        if let Some(bad) = chars
            .find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
        {
            return Err(SymbolError::BadChar(bad));
        }
        // All characters are ASCII here, so bytes == chars.
        if text.len() > MAX_SYMBOL_LEN {
            return Err(SymbolError::TooLong(text.len()));
        }
        Ok(Self(text.to_owned()))
    }

    /// The symbol as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
}
