//! The conversion itself, independent of S3: raw bytes in (gzip or not), Parquet bytes per
//! partition and quarantine lines out, with bounded memory.
//!
//! Rows are buffered per partition (`symbol`, `dt`) in Arrow builders. A partition's rows become a
//! Parquet row group when they reach [`Options::row_group_rows`], or earlier when all partitions
//! together hold [`Options::max_buffered_rows`] (the biggest is flushed). Encoded bytes wait in the
//! partition's writer until the caller takes them with [`Converter::take_ready`] (the S3 side sends
//! them as multipart parts); [`Converter::finish`] closes every file in key order. So memory is about
//! `max_buffered_rows` rows (~50 bytes each) plus one part per file whatever the input's size.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;

use flate2::write::MultiGzDecoder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use quote_record::Quote;
use quote_record::arrow::QuoteBatchBuilder;
use thiserror::Error;

use crate::layout::PartitionKey;
use crate::quarantine::{Entry, Reason};
use crate::split::{Segment, SegmentKind, Splitter};

/// Gzip input is decompressed in slices of this size, so one slice's output stays bounded even for
/// a highly compressible (or hostile) object.
const GZIP_SLICE: usize = 64 * 1024;

/// Tuning of a conversion.
#[derive(Debug, Clone)]
pub struct Options {
    /// Rows per Parquet row group (the last one of a file may be smaller).
    pub row_group_rows: usize,
    /// Rows buffered across all partitions before the biggest is flushed early.
    pub max_buffered_rows: usize,
    /// Where the input came from (`s3://bucket/key`): recorded in each file's metadata as
    /// `mystocktracker.source` and in each quarantine entry.
    pub source: String,
}

impl Options {
    /// Defaults for `source`: row groups of 1,048,576 rows (Athena and DuckDB read large row
    /// groups fastest), at most 2,097,152 rows (~100 MB) buffered.
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            row_group_rows: 1 << 20,
            max_buffered_rows: 2 << 20,
            source: source.into(),
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

struct Partition {
    builder: QuoteBatchBuilder,
    writer: Option<ArrowWriter<Vec<u8>>>,
}

/// Converts one raw object; see the module documentation.
pub struct Converter {
    options: Options,
    properties: Arc<WriterProperties>,
    input: Input,
    splitter: Splitter,
    partitions: HashMap<PartitionKey, Partition>,
    buffered_rows: usize,
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
        Self {
            options,
            properties,
            input: Input::Sniffing(Vec::new()),
            splitter: Splitter::new(),
            partitions: HashMap::new(),
            buffered_rows: 0,
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
        let mut splitter = std::mem::take(&mut self.splitter);
        let result = splitter.push(text, |segment| self.record(segment));
        self.splitter = splitter;
        result
    }

    fn record(&mut self, segment: Segment<'_>) -> Result<(), ConvertError> {
        let quote = match segment.kind {
            SegmentKind::Object => Quote::from_json(segment.bytes),
            SegmentKind::Truncated => {
                return self.invalid(Reason::Truncated, "the record ends before its closing brace (cut by a newline or the end of the object)".into(), segment);
            }
            SegmentKind::Oversized => {
                return self.invalid(
                    Reason::Oversized,
                    format!(
                        "the record is longer than {} bytes (only its start is kept here)",
                        crate::split::MAX_RECORD_BYTES
                    ),
                    segment,
                );
            }
            SegmentKind::Stray => {
                return self.invalid(
                    Reason::NotAnObject,
                    "bytes outside any JSON object (up to the end of the line)".into(),
                    segment,
                );
            }
        };
        match quote {
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
        let key = PartitionKey::of(&quote);
        let partition = self
            .partitions
            .entry(key.clone())
            .or_insert_with(|| Partition {
                builder: QuoteBatchBuilder::with_capacity(1024),
                writer: None,
            });
        partition.builder.append(&quote);
        self.buffered_rows += 1;
        if partition.builder.len() >= self.options.row_group_rows {
            self.flush(&key)?;
        } else if self.buffered_rows >= self.options.max_buffered_rows {
            let biggest = self
                .partitions
                .iter()
                .max_by_key(|(k, p)| (p.builder.len(), std::cmp::Reverse(*k)))
                .map(|(k, _)| k.clone());
            if let Some(biggest) = biggest {
                self.flush(&biggest)?;
            }
        }
        Ok(())
    }

    /// Writes a partition's buffered rows as one row group.
    fn flush(&mut self, key: &PartitionKey) -> Result<(), ConvertError> {
        let Some(partition) = self.partitions.get_mut(key) else {
            return Ok(());
        };
        let rows = partition.builder.len();
        if rows == 0 {
            return Ok(());
        }
        let batch = partition.builder.finish()?;
        self.buffered_rows -= rows;
        let parquet = |source| ConvertError::Parquet {
            partition: key.path(),
            source,
        };
        let writer = match &mut partition.writer {
            Some(writer) => writer,
            None => partition.writer.insert(
                ArrowWriter::try_new(
                    Vec::new(),
                    quote_record::arrow::schema(),
                    Some((*self.properties).clone()),
                )
                .map_err(parquet)?,
            ),
        };
        writer.write(&batch).map_err(parquet)?;
        writer.flush().map_err(parquet)?;
        writer.sync().map_err(|e| parquet(e.into()))?;
        Ok(())
    }

    /// Takes the encoded bytes that are ready to be sent: each open file's bytes once there are at
    /// least `min_bytes` of them (S3 parts must be at least 5 MiB, except the last), and the
    /// quarantine's likewise.
    pub fn take_ready(&mut self, min_bytes: usize) -> Vec<(Output, Vec<u8>)> {
        let mut ready: Vec<(Output, Vec<u8>)> = self
            .partitions
            .iter_mut()
            .filter_map(|(key, partition)| {
                let writer = partition.writer.as_mut()?;
                let bytes = writer.inner_mut();
                (bytes.len() >= min_bytes.max(1))
                    .then(|| (Output::Partition(key.clone()), std::mem::take(bytes)))
            })
            .collect();
        if self.quarantine.len() >= min_bytes.max(1) {
            ready.push((Output::Quarantine, std::mem::take(&mut self.quarantine)));
        }
        ready.sort_by(|a, b| a.0.cmp(&b.0));
        ready
    }

    /// Ends the input and closes every file, in key order (partitions, then the quarantine if it
    /// has entries): each output's remaining bytes, for outputs that have any data at all.
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
        let mut splitter = std::mem::take(&mut self.splitter);
        splitter.finish(|segment| self.record(segment))?;
        let mut keys: Vec<PartitionKey> = self.partitions.keys().cloned().collect();
        keys.sort();
        Ok(Finished {
            converter: self,
            keys: keys.into_iter(),
        })
    }
}

/// The closing of a conversion: iterate to get each output's last bytes, one file at a time (so
/// only one file's tail is in memory at once).
pub struct Finished {
    converter: Converter,
    keys: std::vec::IntoIter<PartitionKey>,
}

impl std::fmt::Debug for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finished")
            .field("remaining", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl Finished {
    /// Counters of the whole conversion.
    pub fn stats(&self) -> Stats {
        self.converter.stats
    }

    /// The partitions written, in key order, each once.
    pub fn partitions(&self) -> impl Iterator<Item = &PartitionKey> {
        self.keys.as_slice().iter()
    }
}

impl Iterator for Finished {
    type Item = Result<(Output, Vec<u8>), ConvertError>;

    fn next(&mut self) -> Option<Self::Item> {
        let Some(key) = self.keys.next() else {
            let quarantine = std::mem::take(&mut self.converter.quarantine);
            return (!quarantine.is_empty()).then_some(Ok((Output::Quarantine, quarantine)));
        };
        let result = (|| {
            self.converter.flush(&key)?;
            let partition =
                self.converter
                    .partitions
                    .remove(&key)
                    .ok_or_else(|| ConvertError::Parquet {
                        partition: key.path(),
                        source: parquet::errors::ParquetError::General("partition vanished".into()),
                    })?;
            let bytes = match partition.writer {
                // `into_inner` flushes the last row group and writes the footer.
                Some(writer) => writer
                    .into_inner()
                    .map_err(|source| ConvertError::Parquet {
                        partition: key.path(),
                        source,
                    })?,
                None => Vec::new(),
            };
            Ok((Output::Partition(key.clone()), bytes))
        })();
        Some(result)
    }
}
