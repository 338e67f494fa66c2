//! The conversion itself, independent of S3: raw bytes in (gzip or not), Parquet bytes per
//! partition and quarantine lines out, with bounded memory.
//!
//! Records are split ([`crate::split`]), parsed and validated (on several threads when a batch is
//! big enough; the times also against the object's creation, [`Options::arrived_at`]), and the valid ones grouped into one Parquet file per partition
//! ([`crate::partitions`]); the invalid ones become quarantine lines. Encoded bytes wait in each
//! file's writer until the caller takes them with [`Converter::take_ready`] (the S3 side sends them
//! as multipart parts); [`Converter::finish`] closes every file in key order. Memory is about
//! [`Options::row_group_rows`] rows (~50 bytes each, twice while they are grouped) plus the encoded
//! bytes not yet taken, whatever the input's size.

use std::io::Write as _;
use std::sync::Arc;

use flate2::write::MultiGzDecoder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use quote_record::{Invalid, Quote, Timestamp};
use thiserror::Error;

use crate::layout::PartitionKey;
use crate::partitions::Partitions;
use crate::quarantine::{Entry, Reason};
use crate::split::{Segment, SegmentKind, Splitter};

/// Gzip input is decompressed in slices of this size, so one slice's output stays bounded even for
/// a highly compressible (or hostile) object.
const GZIP_SLICE: usize = 64 * 1024;

/// Tuning of a conversion.
#[derive(Debug, Clone)]
pub struct Options {
    /// Rows buffered (across all partitions) before they are written: each write gives every
    /// partition that has rows one row group, so this is also the largest row group.
    pub row_group_rows: usize,
    /// Where the input came from (`s3://bucket/key`): recorded in each file's metadata as
    /// `mystocktracker.source` and in each quarantine entry.
    pub source: String,
    /// When the input was created (the S3 event's time): the reference instant of the
    /// time-sanity rule ([`Quote::check_arrival`]). A record from after it (beyond the small
    /// lead) or implausibly long before it is quarantined. A property of the object, not of the
    /// run, so a retry or a replay of the same event gives the same output.
    pub arrived_at: Timestamp,
}

impl Options {
    /// Defaults for `source` created at `arrived_at`: 1,048,576 rows (~50 MB) buffered, so row
    /// groups of up to that many rows (Athena and DuckDB read large row groups fastest).
    pub fn new(source: impl Into<String>, arrived_at: Timestamp) -> Self {
        Self {
            row_group_rows: 1 << 20,
            source: source.into(),
            arrived_at,
        }
    }
}

/// The conversion failed (not because of bad records: those are quarantined).
#[derive(Debug, Error)]
pub enum ConvertError {
    /// The Parquet writer failed.
    #[error("cannot write Parquet for {partition}: {source}")]
    Parquet {
        /// The partition's path (`symbol=…/dt=…`).
        partition: String,
        /// The writer's error.
        source: parquet::errors::ParquetError,
    },
    /// Arrow refused a batch (a bug: the builder follows the schema).
    #[error("cannot build an Arrow batch: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
}

/// What an output is: one Parquet file per partition, plus the quarantine.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Output {
    /// The Parquet file of one partition.
    Partition(PartitionKey),
    /// The JSON lines of the invalid records.
    Quarantine,
}

/// Counters of one conversion, for the summary log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Decompressed bytes read.
    pub bytes: u64,
    /// Valid records written to Parquet.
    pub valid: u64,
    /// Records (or stray bytes) quarantined.
    pub invalid: u64,
    /// Whether the input was gzip.
    pub gzip: bool,
}

enum Input {
    /// Not enough bytes seen yet to tell gzip from plain text.
    Sniffing(Vec<u8>),
    Plain,
    Gzip(Box<MultiGzDecoder<Vec<u8>>>),
    /// The gzip stream broke; what follows cannot be read.
    Broken,
}

/// Converts one raw object; see the module documentation.
pub struct Converter {
    options: Options,
    input: Input,
    splitter: Splitter,
    batch: Batch,
    /// Threads that parse a batch.
    threads: usize,
    partitions: Partitions,
    quarantine: Vec<u8>,
    stats: Stats,
}

impl std::fmt::Debug for Converter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Converter")
            .field("source", &self.options.source)
            .field("partitions", &self.partitions.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Below this many records a batch is parsed on the calling thread (a thread costs more).
const PARALLEL_MIN_RECORDS: usize = 2048;

/// The records split from one piece of input, copied into one buffer so that other threads can
/// parse them.
#[derive(Debug, Default)]
struct Batch {
    bytes: Vec<u8>,
    segments: Vec<(u64, std::ops::Range<usize>, SegmentKind)>,
}

impl Batch {
    fn clear(&mut self) {
        self.bytes.clear();
        self.segments.clear();
    }

    fn add(&mut self, segment: Segment<'_>) -> Result<(), std::convert::Infallible> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(segment.bytes);
        self.segments
            .push((segment.offset, start..self.bytes.len(), segment.kind));
        Ok(())
    }

    fn segments(&self) -> impl Iterator<Item = Segment<'_>> {
        self.segments.iter().map(|(offset, range, kind)| Segment {
            offset: *offset,
            bytes: &self.bytes[range.clone()],
            kind: *kind,
        })
    }

    /// Each object segment parsed (`None` for the others), in order.
    fn parse(&self, threads: usize) -> Vec<Option<Result<Quote, Invalid>>> {
        let parse = |segments: &[(u64, std::ops::Range<usize>, SegmentKind)]| {
            segments
                .iter()
                .map(|(_, range, kind)| {
                    (*kind == SegmentKind::Object)
                        .then(|| Quote::from_json(&self.bytes[range.clone()]))
                })
                .collect::<Vec<_>>()
        };
        if threads <= 1 || self.segments.len() < PARALLEL_MIN_RECORDS {
            return parse(&self.segments);
        }
        let share = self.segments.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = self
                .segments
                .chunks(share)
                .map(|segments| scope.spawn(move || parse(segments)))
                .collect();
            let mut parsed = Vec::with_capacity(self.segments.len());
            for worker in workers {
                match worker.join() {
                    Ok(part) => parsed.extend(part),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            parsed
        })
    }
}

/// The writer settings of every curated file: zstd, page statistics (Athena and DuckDB skip row
/// groups and pages by min/max), dictionary encoding only where values repeat (currency, source:
/// prices and times are nearly unique, a dictionary would be built and thrown away).
pub fn writer_properties(source: &str) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_enabled(false)
        .set_column_dictionary_enabled(ColumnPath::from("currency"), true)
        .set_column_dictionary_enabled(ColumnPath::from("source"), true)
        .set_key_value_metadata(Some(vec![KeyValue::new(
            "mystocktracker.source".to_owned(),
            source.to_owned(),
        )]))
        .build()
}

impl Converter {
    /// A converter for one raw object.
    pub fn new(options: Options) -> Self {
        let properties = Arc::new(writer_properties(&options.source));
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(4);
        Self {
            partitions: Partitions::new(properties, options.row_group_rows, threads),
            options,
            input: Input::Sniffing(Vec::new()),
            splitter: Splitter::new(),
            batch: Batch::default(),
            threads,
            quarantine: Vec::new(),
            stats: Stats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Feeds the next bytes of the raw object, as stored (gzip is recognised by its magic bytes).
    pub fn push(&mut self, raw: &[u8]) -> Result<(), ConvertError> {
        match &mut self.input {
            Input::Sniffing(head) => {
                head.extend_from_slice(raw);
                if head.len() < 2 {
                    return Ok(());
                }
                let head = std::mem::take(head);
                self.input = if head.starts_with(&[0x1f, 0x8b]) {
                    self.stats.gzip = true;
                    Input::Gzip(Box::new(MultiGzDecoder::new(Vec::with_capacity(
                        GZIP_SLICE * 8,
                    ))))
                } else {
                    Input::Plain
                };
                self.push(&head)
            }
            Input::Plain => self.records(raw),
            Input::Gzip(_) => {
                for slice in raw.chunks(GZIP_SLICE) {
                    let Input::Gzip(decoder) = &mut self.input else {
                        break;
                    };
                    let written = decoder.write_all(slice);
                    let text = std::mem::take(decoder.get_mut());
                    self.records(&text)?;
                    if let Input::Gzip(decoder) = &mut self.input {
                        // Hand the buffer back to keep its capacity.
                        let mut text = text;
                        text.clear();
                        *decoder.get_mut() = text;
                    }
                    if let Err(e) = written {
                        self.broken_gzip(&e);
                    }
                }
                Ok(())
            }
            Input::Broken => Ok(()),
        }
    }

    fn broken_gzip(&mut self, error: &std::io::Error) {
        let offset = self.stats.bytes;
        self.input = Input::Broken;
        self.quarantine_entry(Entry::new(
            Reason::CorruptGzip,
            format!("the gzip stream is corrupt after {offset} decompressed bytes ({error}); the rest of the object cannot be read"),
            &self.options.source,
            offset,
            &[],
        ));
    }

    fn records(&mut self, text: &[u8]) -> Result<(), ConvertError> {
        self.stats.bytes += text.len() as u64;
        let mut batch = std::mem::take(&mut self.batch);
        batch.clear();
        let Ok(()) = self.splitter.push(text, |segment| batch.add(segment));
        let result = self.apply(&batch);
        self.batch = batch;
        result
    }

    /// Parses a batch's records (on several threads when it is big enough: parsing is most of the
    /// work) and handles them in input order, so the output does not depend on the threads.
    fn apply(&mut self, batch: &Batch) -> Result<(), ConvertError> {
        for (segment, quote) in batch.segments().zip(batch.parse(self.threads)) {
            self.record(segment, quote)?;
        }
        Ok(())
    }

    fn record(
        &mut self,
        segment: Segment<'_>,
        parsed: Option<Result<Quote, Invalid>>,
    ) -> Result<(), ConvertError> {
        let quote = match (segment.kind, parsed) {
            (SegmentKind::Object, Some(quote)) => quote,
            (SegmentKind::Object, None) => Quote::from_json(segment.bytes),
            (SegmentKind::Truncated, _) => {
                return self.invalid(Reason::Truncated, "the record ends before its closing brace (cut by a newline or the end of the object)".into(), segment);
            }
            (SegmentKind::Oversized, _) => {
                return self.invalid(
                    Reason::Oversized,
                    format!(
                        "the record is longer than {} bytes (only its start is kept here)",
                        crate::split::MAX_RECORD_BYTES
                    ),
                    segment,
                );
            }
            (SegmentKind::Stray, _) => {
                return self.invalid(
                    Reason::NotAnObject,
                    "bytes outside any JSON object (up to the end of the line)".into(),
                    segment,
                );
            }
        };
        let arrived_at = self.options.arrived_at;
        match quote.and_then(|q| q.check_arrival(arrived_at).map(|()| q)) {
            Ok(quote) => self.append(quote),
            Err(invalid) => self.invalid(
                Reason::Invalid(invalid.code()),
                invalid.to_string(),
                segment,
            ),
        }
    }

    fn invalid(
        &mut self,
        reason: Reason,
        message: String,
        segment: Segment<'_>,
    ) -> Result<(), ConvertError> {
        self.quarantine_entry(Entry::new(
            reason,
            message,
            &self.options.source,
            segment.offset,
            segment.bytes,
        ));
        Ok(())
    }

    fn quarantine_entry(&mut self, entry: Entry) {
        self.stats.invalid += 1;
        entry.write_line(&mut self.quarantine);
    }

    fn append(&mut self, quote: Quote) -> Result<(), ConvertError> {
        self.stats.valid += 1;
        self.partitions.append(&quote)
    }

    /// Takes the encoded bytes that are ready to be sent: each open file's bytes once there are at
    /// least `min_bytes` of them (S3 parts must be at least 5 MiB, except the last), and the
    /// quarantine's likewise.
    pub fn take_ready(&mut self, min_bytes: usize) -> Vec<(Output, Vec<u8>)> {
        let mut ready: Vec<(Output, Vec<u8>)> = self
            .partitions
            .take_ready(min_bytes)
            .into_iter()
            .map(|(key, bytes)| (Output::Partition(key), bytes))
            .collect();
        if self.quarantine.len() >= min_bytes.max(1) {
            ready.push((Output::Quarantine, std::mem::take(&mut self.quarantine)));
        }
        ready.sort_by(|a, b| a.0.cmp(&b.0));
        ready
    }

    /// Ends the input and closes every file: each output's remaining bytes, in key order
    /// (partitions, then the quarantine if it has entries).
    pub fn finish(mut self) -> Result<Finished, ConvertError> {
        if let Input::Sniffing(head) = &mut self.input {
            // An object of 0 or 1 bytes.
            let head = std::mem::take(head);
            self.input = Input::Plain;
            self.records(&head)?;
        }
        if let Input::Gzip(decoder) = &mut self.input {
            let finished = decoder.try_finish();
            let text = std::mem::take(decoder.get_mut());
            self.records(&text)?;
            if let Err(e) = finished {
                self.broken_gzip(&e);
            }
        }
        let mut batch = std::mem::take(&mut self.batch);
        batch.clear();
        let Ok(()) = self.splitter.finish(|segment| batch.add(segment));
        self.apply(&batch)?;
        let mut outputs: Vec<(Output, Vec<u8>)> = self
            .partitions
            .close()?
            .into_iter()
            .map(|(key, bytes)| (Output::Partition(key), bytes))
            .collect();
        let quarantine = std::mem::take(&mut self.quarantine);
        if !quarantine.is_empty() {
            outputs.push((Output::Quarantine, quarantine));
        }
        Ok(Finished {
            stats: self.stats,
            outputs: outputs.into_iter(),
        })
    }
}

/// The closing of a conversion: each output's last bytes, in key order (partitions, then the
/// quarantine if it has entries).
#[derive(Debug)]
pub struct Finished {
    stats: Stats,
    outputs: std::vec::IntoIter<(Output, Vec<u8>)>,
}

impl Finished {
    /// Counters of the whole conversion.
    pub fn stats(&self) -> Stats {
        self.stats
    }
}

impl Iterator for Finished {
    type Item = (Output, Vec<u8>);

    fn next(&mut self) -> Option<Self::Item> {
        self.outputs.next()
    }
}
