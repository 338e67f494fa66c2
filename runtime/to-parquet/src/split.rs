//! Splits a raw object's (decompressed) byte stream into records, chunk by chunk.
//!
//! Firehose writes records back to back: with a newline after each (our stack adds one), or with no
//! delimiter at all (`{...}{...}`). Both, and any mix, are split the same way: a record is one JSON
//! object, found by tracking brace depth outside strings. Whitespace between records is skipped.
//! Our records are single-line JSON, so a newline always ends a record: an object still open at a
//! newline is reported as truncated instead of swallowing the records after it, and bytes outside
//! any object are reported up to the end of their line. Nothing is dropped silently: every byte that
//! is not whitespace between records ends up in exactly one [`Segment`].
//!
//! Memory is bounded by [`MAX_RECORD_BYTES`] whatever the input: only the unfinished record is
//! carried from one chunk to the next.

/// The largest record kept whole (quote records are about 200 bytes). A longer one is reported as
/// [`SegmentKind::Oversized`] with only its first `MAX_RECORD_BYTES` bytes.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// What a segment of the stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    /// A complete JSON object (not yet validated).
    Object,
    /// An object cut short by a newline or by the end of the stream.
    Truncated,
    /// An object longer than [`MAX_RECORD_BYTES`] (its bytes are cut at that length).
    Oversized,
    /// Bytes outside any object, up to the end of their line.
    Stray,
}

/// One record, or one run of bytes that could not be one, with its place in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    /// Byte offset of its first byte in the decompressed stream.
    pub offset: u64,
    /// Its bytes (at most [`MAX_RECORD_BYTES`]).
    pub bytes: &'a [u8],
    /// What it is.
    pub kind: SegmentKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between records: skipping whitespace.
    Between,
    /// Inside an object, outside strings; `depth` open braces.
    Object { depth: u32 },
    /// Inside a string inside an object; `escaped` after a backslash.
    String { depth: u32, escaped: bool },
    /// Bytes outside an object, until the end of the line.
    Stray,
}

/// The splitter: feed it chunks with [`Splitter::push`], then call [`Splitter::finish`].
#[derive(Debug)]
pub struct Splitter {
    state: State,
    /// Stream offset of the next byte pushed.
    offset: u64,
    /// Stream offset of the current segment's first byte.
    start: u64,
    /// The current segment's bytes from earlier chunks (at most `MAX_RECORD_BYTES`).
    carry: Vec<u8>,
    /// Whether the current segment grew past `MAX_RECORD_BYTES`.
    oversized: bool,
}

impl Default for Splitter {
    fn default() -> Self {
        Self::new()
    }
}

impl Splitter {
    /// A splitter at the start of a stream.
    pub fn new() -> Self {
        Self {
            state: State::Between,
            offset: 0,
            start: 0,
            carry: Vec::new(),
            oversized: false,
        }
    }

    /// Splits the next chunk of the stream, calling `emit` for every segment that ends in it.
    pub fn push<E>(
        &mut self,
        chunk: &[u8],
        mut emit: impl FnMut(Segment<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        // Index in `chunk` where the current segment's bytes in this chunk begin.
        let mut seg_from = 0usize;
        let mut i = 0usize;
        while i < chunk.len() {
            let b = chunk[i];
            match self.state {
                State::Between => match b {
                    b' ' | b'\t' | b'\r' | b'\n' => {}
                    b'{' => {
                        self.begin(i, &mut seg_from);
                        self.state = State::Object { depth: 1 };
                    }
                    _ => {
                        self.begin(i, &mut seg_from);
                        self.state = State::Stray;
                    }
                },
                State::Object { depth } => match b {
                    b'"' => {
                        self.state = State::String {
                            depth,
                            escaped: false,
                        }
                    }
                    b'{' => self.state = State::Object { depth: depth + 1 },
                    b'}' if depth == 1 => {
                        self.end(chunk, seg_from, i + 1, SegmentKind::Object, &mut emit)?;
                    }
                    b'}' => self.state = State::Object { depth: depth - 1 },
                    b'\n' => self.end(chunk, seg_from, i, SegmentKind::Truncated, &mut emit)?,
                    _ => {}
                },
                State::String {
                    depth,
                    escaped: true,
                } => {
                    if b == b'\n' {
                        self.end(chunk, seg_from, i, SegmentKind::Truncated, &mut emit)?;
                    } else {
                        self.state = State::String {
                            depth,
                            escaped: false,
                        };
                    }
                }
                State::String {
                    depth,
                    escaped: false,
                } => {
                    // Most of a record's bytes are inside strings: jump to the next byte that matters.
                    match memchr::memchr3(b'"', b'\\', b'\n', &chunk[i..]) {
                        None => i = chunk.len() - 1,
                        Some(skip) => {
                            i += skip;
                            match chunk[i] {
                                b'"' => self.state = State::Object { depth },
                                b'\\' => {
                                    self.state = State::String {
                                        depth,
                                        escaped: true,
                                    }
                                }
                                _ => {
                                    self.end(chunk, seg_from, i, SegmentKind::Truncated, &mut emit)?
                                }
                            }
                        }
                    }
                }
                State::Stray => match memchr::memchr(b'\n', &chunk[i..]) {
                    None => i = chunk.len() - 1,
                    Some(skip) => {
                        i += skip;
                        self.end(chunk, seg_from, i, SegmentKind::Stray, &mut emit)?;
                    }
                },
            }
            i += 1;
        }
        if self.state != State::Between {
            self.keep(&chunk[seg_from..]);
        }
        self.offset += chunk.len() as u64;
        Ok(())
    }

    /// Ends the stream: an unfinished object is reported as truncated, trailing stray bytes as stray.
    pub fn finish<E>(
        &mut self,
        mut emit: impl FnMut(Segment<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let kind = match self.state {
            State::Between => return Ok(()),
            State::Stray => SegmentKind::Stray,
            State::Object { .. } | State::String { .. } => SegmentKind::Truncated,
        };
        self.end(&[], 0, 0, kind, &mut emit)
    }

    fn begin(&mut self, i: usize, seg_from: &mut usize) {
        self.start = self.offset + i as u64;
        *seg_from = i;
        self.carry.clear();
        self.oversized = false;
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = MAX_RECORD_BYTES - self.carry.len();
        if bytes.len() > room {
            self.oversized = true;
        }
        self.carry
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// Emits the current segment, which ends at `chunk[..to]`, and goes back to `Between`.
    fn end<E>(
        &mut self,
        chunk: &[u8],
        seg_from: usize,
        to: usize,
        kind: SegmentKind,
        emit: &mut impl FnMut(Segment<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.state = State::Between;
        let started_here = self.start >= self.offset;
        let kind = |oversized: bool| {
            if oversized && kind == SegmentKind::Object {
                SegmentKind::Oversized
            } else {
                kind
            }
        };
        if started_here && to - seg_from <= MAX_RECORD_BYTES {
            // The common case: the whole segment is in this chunk, no copy.
            return emit(Segment {
                offset: self.start,
                bytes: &chunk[seg_from..to],
                kind: kind(false),
            });
        }
        if started_here {
            self.carry.clear();
            self.oversized = false;
        }
        self.keep(&chunk[seg_from..to]);
        let segment = Segment {
            offset: self.start,
            bytes: &self.carry,
            kind: kind(self.oversized),
        };
        emit(segment)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    /// Splits `input` fed in chunks of `chunk` bytes into (offset, text, kind).
    fn split(input: &[u8], chunk: usize) -> Vec<(u64, String, SegmentKind)> {
        let mut out = Vec::new();
        let mut s = Splitter::new();
        let mut record = |seg: Segment<'_>| {
            out.push((
                seg.offset,
                String::from_utf8_lossy(seg.bytes).into_owned(),
                seg.kind,
            ));
            Ok::<(), Infallible>(())
        };
        for piece in input.chunks(chunk.max(1)) {
            s.push(piece, &mut record).unwrap();
        }
        s.finish(&mut record).unwrap();
        out
    }

    fn every_chunking(input: &[u8]) -> Vec<(u64, String, SegmentKind)> {
        let whole = split(input, input.len());
        for chunk in 1..=input.len() {
            assert_eq!(split(input, chunk), whole, "chunk size {chunk}");
        }
        whole
    }

    use SegmentKind::*;

    #[test]
    fn newline_delimited_records() {
        let got = every_chunking(b"{\"a\":1}\n{\"b\":\"x}\"}\n");
        assert_eq!(
            got,
            vec![
                (0, "{\"a\":1}".into(), Object),
                (8, "{\"b\":\"x}\"}".into(), Object)
            ]
        );
    }

    #[test]
    fn concatenated_records_without_delimiter() {
        let got = every_chunking(br#"{"a":{"n":1}}{"b":"{\"}"}  {"c":3}"#);
        assert_eq!(
            got,
            vec![
                (0, r#"{"a":{"n":1}}"#.into(), Object),
                (13, r#"{"b":"{\"}"}"#.into(), Object),
                (27, r#"{"c":3}"#.into(), Object),
            ]
        );
    }

    #[test]
    fn broken_input_is_reported_not_dropped() {
        let got = every_chunking(b"{\"a\":1\n[1,2]\n{\"b\":\"unterminated\n{\"c\":2}\n{\"d\"");
        assert_eq!(
            got,
            vec![
                (0, "{\"a\":1".into(), Truncated),
                (7, "[1,2]".into(), Stray),
                (13, "{\"b\":\"unterminated".into(), Truncated),
                (32, "{\"c\":2}".into(), Object),
                (40, "{\"d\"".into(), Truncated),
            ]
        );
    }

    #[test]
    fn crlf_and_blank_lines_are_whitespace() {
        let got = every_chunking(b"\r\n\r\n{\"a\":1}\r\n\n  \t{\"b\":2}");
        assert_eq!(
            got,
            vec![
                (4, "{\"a\":1}".into(), Object),
                (17, "{\"b\":2}".into(), Object)
            ]
        );
    }

    #[test]
    fn oversized_records_are_cut_and_the_stream_goes_on() {
        let mut input = b"{\"big\":\"".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES * 2));
        input.extend_from_slice(b"\"}{\"next\":1}");
        for chunk in [7, 4096, input.len()] {
            let got = split(&input, chunk);
            assert_eq!(got.len(), 2, "chunk size {chunk}");
            assert_eq!(got[0].2, Oversized);
            assert_eq!(got[0].1.len(), MAX_RECORD_BYTES);
            assert_eq!(
                got[1],
                ((input.len() - 10) as u64, "{\"next\":1}".into(), Object)
            );
        }
    }
}
