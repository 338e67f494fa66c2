//! Storage for the `source` value of a [`crate::Quote`].

use std::fmt;

use crate::line_protocol as lp;

/// The longest `source` held inline; longer ones (rare: sources are short names from the
/// scraper's configuration) go to the heap.
const INLINE_LEN: usize = 30;

/// A `source` value, inline when short so that reading a record allocates nothing.
#[derive(Clone)]
pub(crate) enum SourceText {
    /// Up to [`INLINE_LEN`] bytes of UTF-8 in `bytes[..len]`.
    Inline { len: u8, bytes: [u8; INLINE_LEN] },
    /// Anything longer.
    Heap(Box<str>),
}

impl SourceText {
    /// From UTF-8 bytes (the reader's checked strings).
    pub(crate) fn new(b: &[u8]) -> Self {
        if b.len() <= INLINE_LEN {
            let mut bytes = [0; INLINE_LEN];
            bytes[..b.len()].copy_from_slice(b);
            Self::Inline {
                len: b.len() as u8,
                bytes,
            }
        } else {
            Self::Heap(String::from_utf8_lossy(b).into())
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Self::Heap(text) => text.as_bytes(),
        }
    }

    /// Appends the text as a line-protocol tag value. An inline text without characters to
    /// escape (every source name seen so far) goes as a fixed-size copy ([`lp::push_prefix`]).
    pub(crate) fn write_tag(&self, out: &mut Vec<u8>) {
        match self {
            Self::Inline { len, bytes }
                if !self.as_bytes().iter().any(|c| lp::TAG_SPECIAL.contains(c)) =>
            {
                lp::push_prefix(bytes, usize::from(*len), out);
            }
            _ => lp::escape(self.as_bytes(), lp::TAG_SPECIAL, out),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Copied whole from UTF-8 (see `new`), so this never falls back.
            Self::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            Self::Heap(text) => text,
        }
    }
}

impl From<String> for SourceText {
    fn from(text: String) -> Self {
        if text.len() <= INLINE_LEN {
            Self::new(text.as_bytes())
        } else {
            Self::Heap(text.into_boxed_str())
        }
    }
}

impl PartialEq for SourceText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for SourceText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_text_of_every_length() {
        for len in [0, 1, 10, INLINE_LEN - 1, INLINE_LEN, INLINE_LEN + 1, 128] {
            let text: String = "é".repeat(len / 2) + &"x".repeat(len % 2);
            let inline = SourceText::new(text.as_bytes());
            let owned = SourceText::from(text.clone());
            assert_eq!(inline.as_str(), text);
            assert_eq!(owned.as_str(), text);
            assert_eq!(inline, owned);
            assert_eq!(
                matches!(inline, SourceText::Inline { .. }),
                text.len() <= INLINE_LEN
            );
        }
        assert_ne!(SourceText::new(b"a"), SourceText::new(b"ab"));
    }

    #[test]
    fn tags_are_escaped_whatever_the_storage() {
        for text in [
            "quote-page",
            "a b,c=d",
            "Börse",
            &"x=".repeat(40),
            &"y".repeat(40),
        ] {
            let mut fast = b"x".to_vec();
            SourceText::new(text.as_bytes()).write_tag(&mut fast);
            let mut general = b"x".to_vec();
            lp::escape(text.as_bytes(), lp::TAG_SPECIAL, &mut general);
            assert_eq!(fast, general, "{text}");
        }
    }
}
