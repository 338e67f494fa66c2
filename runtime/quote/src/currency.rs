//! Currency codes.

use std::fmt;

/// A currency code of ISO-4217 shape: three upper-case ASCII letters (`USD`, `EUR`).
///
/// Only the shape is checked, not membership in the ISO list: the list changes, and a new code
/// should not make the pipeline drop quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

/// Why a text is not a currency code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a currency is three upper-case letters A-Z (ISO-4217)")]
pub struct CurrencyError;

impl Currency {
    /// Checks `text` against the ISO-4217 shape.
    pub fn parse(text: &str) -> Result<Self, CurrencyError> {
        Self::from_bytes(text.as_bytes())
    }

    /// [`Currency::parse`] over bytes (the record reader's strings).
    pub(crate) fn from_bytes(b: &[u8]) -> Result<Self, CurrencyError> {
        match *b {
            [a, b, c]
                if a.is_ascii_uppercase() && b.is_ascii_uppercase() && c.is_ascii_uppercase() =>
            {
                Ok(Self([a, b, c]))
            }
            _ => Err(CurrencyError),
        }
    }

    /// The code's bytes (ASCII letters).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // The bytes are ASCII letters by construction, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape() {
        assert_eq!(Currency::parse("USD").unwrap().as_str(), "USD");
        for bad in ["", "usd", "US$", "DOLLAR", "US", "ÉUR", "US1"] {
            assert_eq!(Currency::parse(bad), Err(CurrencyError), "{bad}");
        }
    }
}
