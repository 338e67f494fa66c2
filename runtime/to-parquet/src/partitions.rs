//! Valid rows grouped into one Parquet file per partition (`symbol`, `dt`), with bounded memory.
//!
//! Rows are appended to one Arrow buffer in arrival order, each tagged with its partition. When the
//! buffer holds `spill_rows` rows, or at the end, it is *spilled*: a stable counting sort groups the
//! rows by partition (one `take` over the whole batch), and each partition's slice becomes one row
//! group of its file, the files encoded on every core. Appending to one buffer instead of one per
//! partition keeps the hot loop in cache when records of many partitions interleave; the order
//! within a partition is the input's, so the output is deterministic.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{RecordBatch, UInt32Array};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use quote_record::Quote;
use quote_record::arrow::QuoteBatchBuilder;

use crate::convert::ConvertError;
use crate::layout::PartitionKey;

/// One partition's file.
struct File {
    key: PartitionKey,
    writer: Option<ArrowWriter<Vec<u8>>>,
}

impl File {
    fn error(&self, source: parquet::errors::ParquetError) -> ConvertError {
        ConvertError::Parquet {
            partition: self.key.path(),
            source,
        }
    }

    /// Writes `rows` as one row group and moves its bytes to the writer's buffer.
    fn write(
        &mut self,
        rows: &RecordBatch,
        properties: &WriterProperties,
    ) -> Result<(), ConvertError> {
        if self.writer.is_none() {
            let writer = ArrowWriter::try_new(
                Vec::new(),
                quote_record::arrow::schema(),
                Some(properties.clone()),
            )
            .map_err(|e| self.error(e))?;
            self.writer = Some(writer);
        }
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        let written = writer
            .write(rows)
            .and_then(|()| writer.flush())
            .and_then(|()| writer.sync().map_err(Into::into));
        written.map_err(|e| self.error(e))
    }

    /// Writes the footer: the file's remaining bytes.
    fn close(mut self) -> Result<(PartitionKey, Vec<u8>), ConvertError> {
        let bytes = match self.writer.take() {
            Some(writer) => writer.into_inner().map_err(|e| self.error(e))?,
            None => Vec::new(),
        };
        Ok((self.key, bytes))
    }
}

/// The partitions of one conversion; see the module documentation.
pub(crate) struct Partitions {
    properties: Arc<WriterProperties>,
    spill_rows: usize,
    threads: usize,
    /// Symbol, then day, to the file's index: looked up by `&str`, so no key is built per row.
    ids: HashMap<String, HashMap<i64, u32>>,
    files: Vec<File>,
    rows: QuoteBatchBuilder,
    row_files: Vec<u32>,
}

impl Partitions {
    pub(crate) fn new(
        properties: Arc<WriterProperties>,
        spill_rows: usize,
        threads: usize,
    ) -> Self {
        Self {
            properties,
            spill_rows: spill_rows.max(1),
            threads: threads.max(1),
            ids: HashMap::new(),
            files: Vec::new(),
            rows: QuoteBatchBuilder::with_capacity(spill_rows.clamp(1, 1 << 16)),
            row_files: Vec::new(),
        }
    }

    /// Partitions seen so far.
    pub(crate) fn len(&self) -> usize {
        self.files.len()
    }

    pub(crate) fn append(&mut self, quote: &Quote) -> Result<(), ConvertError> {
        let symbol = quote.symbol().as_str();
        if !self.ids.contains_key(symbol) {
            self.ids.insert(symbol.to_owned(), HashMap::new());
        }
        let Some(by_day) = self.ids.get_mut(symbol) else {
            return Ok(());
        };
        let files = &mut self.files;
        let id = *by_day
            .entry(quote.market_time().unix_days())
            .or_insert_with(|| {
                files.push(File {
                    key: PartitionKey::of(quote),
                    writer: None,
                });
                (files.len() - 1) as u32
            });
        self.rows.append(quote);
        self.row_files.push(id);
        if self.row_files.len() >= self.spill_rows {
            self.spill()?;
        }
        Ok(())
    }

    /// Writes the buffered rows: one row group per partition that has some.
    fn spill(&mut self) -> Result<(), ConvertError> {
        if self.row_files.is_empty() {
            return Ok(());
        }
        let batch = self.rows.finish()?;
        let row_files = std::mem::take(&mut self.row_files);
        // Stable counting sort of the row numbers by file.
        let mut starts = vec![0usize; self.files.len() + 1];
        for &file in &row_files {
            starts[file as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut next = starts.clone();
        let mut order = vec![0u32; row_files.len()];
        for (row, &file) in row_files.iter().enumerate() {
            order[next[file as usize]] = row as u32;
            next[file as usize] += 1;
        }
        let grouped = arrow_select::take::take_record_batch(&batch, &UInt32Array::from(order))?;
        drop(batch);
        let properties = &*self.properties;
        let write = |first: usize, files: &mut [File]| -> Result<(), ConvertError> {
            for (i, file) in files.iter_mut().enumerate() {
                let (start, end) = (starts[first + i], starts[first + i + 1]);
                if end > start {
                    file.write(&grouped.slice(start, end - start), properties)?;
                }
            }
            Ok(())
        };
        let share = self.files.len().div_ceil(self.threads);
        if self.threads == 1 || self.files.len() < 2 {
            return write(0, &mut self.files);
        }
        std::thread::scope(|scope| {
            let workers: Vec<_> = self
                .files
                .chunks_mut(share)
                .enumerate()
                .map(|(n, files)| scope.spawn(move || write(n * share, files)))
                .collect();
            for worker in workers {
                match worker.join() {
                    Ok(result) => result?,
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            Ok(())
        })
    }

    /// Each file's encoded bytes once there are at least `min_bytes`, in key order.
    pub(crate) fn take_ready(&mut self, min_bytes: usize) -> Vec<(PartitionKey, Vec<u8>)> {
        let mut ready: Vec<(PartitionKey, Vec<u8>)> = self
            .files
            .iter_mut()
            .filter_map(|file| {
                let bytes = file.writer.as_mut()?.inner_mut();
                (bytes.len() >= min_bytes.max(1)).then(|| (file.key.clone(), std::mem::take(bytes)))
            })
            .collect();
        ready.sort_by(|a, b| a.0.cmp(&b.0));
        ready
    }

    /// Spills what is buffered and closes every file: each file's remaining bytes, in key order.
    pub(crate) fn close(mut self) -> Result<Vec<(PartitionKey, Vec<u8>)>, ConvertError> {
        self.spill()?;
        let mut files = std::mem::take(&mut self.files);
        files.sort_by(|a, b| a.key.cmp(&b.key));
        files.into_iter().map(File::close).collect()
    }
}
