//! Quarantine entries: one JSON line per invalid record, with a stable reason code, the
//! explanation, where it was in the source, and its original bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;

/// Why a record was quarantined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The quote crate rejected it: its stable code (`price_not_positive`, `not_json`, …).
    Invalid(&'static str),
    /// An object cut short by a newline or the end of the source.
    Truncated,
    /// An object longer than the splitter keeps.
    Oversized,
    /// Bytes outside any JSON object.
    NotAnObject,
    /// The gzip stream broke: the rest of the source could not be read.
    CorruptGzip,
}

impl Reason {
    /// The stable machine code.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Invalid(code) => code,
            Reason::Truncated => "truncated",
            Reason::Oversized => "oversized",
            Reason::NotAnObject => "not_an_object",
            Reason::CorruptGzip => "corrupt_gzip",
        }
    }
}

/// One quarantined record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Stable machine code, see [`Reason::code`].
    pub reason: &'static str,
    /// The human explanation.
    pub message: String,
    /// The source object, `s3://bucket/key`.
    pub source: String,
    /// Byte offset of the record in the decompressed source.
    pub offset: u64,
    /// The original bytes, base64 (they may not be UTF-8).
    pub data_base64: String,
}

impl Entry {
    /// An entry for the bytes `data` found at `offset` in `source`.
    pub fn new(reason: Reason, message: String, source: &str, offset: u64, data: &[u8]) -> Self {
        Self {
            reason: reason.code(),
            message,
            source: source.to_owned(),
            offset,
            data_base64: BASE64.encode(data),
        }
    }

    /// Appends the entry as one JSON line.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        // Serializing a struct of strings and integers into a Vec cannot fail.
        if serde_json::to_writer(&mut *out, self).is_ok() {
            out.push(b'\n');
        }
    }
}
