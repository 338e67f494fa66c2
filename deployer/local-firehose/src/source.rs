//! Reading the source stream as Firehose does: every shard, `GetRecords` about once a second per
//! shard (at once again while the shard is behind), a closed shard's children after the shard
//! itself (they are read from their start), new shards found by listing the stream again.
//!
//! Not emulated: KPL aggregation (records are delivered as they are in the stream; the scraper
//! does not aggregate), and checkpoints across runs (each run starts at
//! [`crate::StartPosition`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_connect::CallError;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::{Shard, ShardIteratorType};
use aws_smithy_types::DateTime;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::config::StartPosition;
use crate::{RunError, Stats};

/// One record as read from the stream.
#[derive(Debug, Clone)]
pub(crate) struct SourceRecord {
    /// Its data.
    pub data: Vec<u8>,
    /// `ApproximateArrivalTimestamp` (when the stream accepted it).
    pub arrival: DateTime,
}

/// Between `GetRecords` calls on a shard that is not behind: Firehose's documented rate.
const POLL: Duration = Duration::from_secs(1);
/// Between listings of the stream's shards (to find shards created by resharding).
const RELIST: Duration = Duration::from_secs(10);
/// The longest wait after a failed call.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The source: who to read, from where, and where records go.
pub(crate) struct Source {
    pub kinesis: Client,
    pub stream: String,
    pub start: StartPosition,
    pub records: mpsc::Sender<Vec<SourceRecord>>,
    pub stop: watch::Receiver<bool>,
    pub stats: Arc<Stats>,
}

/// True once `stop` says so, or its sender is gone.
pub(crate) fn stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

/// Waits `duration`, or less if `stop` is set; true when stopping.
async fn pause(stop: &mut watch::Receiver<bool>, duration: Duration) -> bool {
    if stopping(stop) {
        return true;
    }
    tokio::select! {
        () = tokio::time::sleep(duration) => {}
        _ = stop.changed() => {}
    }
    stopping(stop)
}

fn region(kinesis: &Client) -> String {
    kinesis
        .config()
        .region()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// Reads every shard until `stop`; fails only when the stream cannot be listed at start.
pub(crate) async fn read_stream(mut source: Source) -> Result<(), RunError> {
    let mut shards = list_shards(&source.kinesis, &source.stream)
        .await
        .map_err(RunError::Source)?;
    let initial: BTreeSet<String> = shards.keys().cloned().collect();
    tracing::info!(stream = %source.stream, shards = shards.len(), "Firehose emulation reads the stream");
    let mut started = BTreeSet::new();
    let mut finished = BTreeSet::new();
    let mut readers = JoinSet::new();
    loop {
        for (id, shard) in &shards {
            let parents_done = [shard.parent_shard_id(), shard.adjacent_parent_shard_id()]
                .into_iter()
                .flatten()
                .all(|parent| finished.contains(parent) || !shards.contains_key(parent));
            if parents_done && started.insert(id.clone()) {
                let position = if initial.contains(id) {
                    source.start
                } else {
                    StartPosition::TrimHorizon
                };
                readers.spawn(read_shard(ShardReader {
                    kinesis: source.kinesis.clone(),
                    stream: source.stream.clone(),
                    shard: id.clone(),
                    position,
                    records: source.records.clone(),
                    stop: source.stop.clone(),
                    stats: source.stats.clone(),
                }));
            }
        }
        tokio::select! {
            Some(done) = readers.join_next() => match done {
                Ok(Some(shard)) => {
                    finished.insert(shard);
                }
                Ok(None) => {}
                Err(e) => return Err(RunError::Task(format!("a shard reader failed: {e}"))),
            },
            () = tokio::time::sleep(RELIST) => {}
            _ = source.stop.changed() => {}
        }
        if stopping(&source.stop) {
            break;
        }
        match list_shards(&source.kinesis, &source.stream).await {
            Ok(listed) => shards = listed,
            Err(e) => {
                source.stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("{e}; the Firehose emulation keeps reading the shards it knows");
            }
        }
    }
    // Readers see `stop` too: each sends what it has read, then ends.
    while let Some(done) = readers.join_next().await {
        if let Err(e) = done {
            return Err(RunError::Task(format!("a shard reader failed: {e}")));
        }
    }
    Ok(())
}

async fn list_shards(kinesis: &Client, stream: &str) -> Result<BTreeMap<String, Shard>, CallError> {
    let mut shards = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        // ListShards takes either the stream name or the token of the previous page.
        let request = match &token {
            Some(t) => kinesis.list_shards().next_token(t),
            None => kinesis.list_shards().stream_name(stream),
        };
        let page = request
            .send()
            .await
            .map_err(|e| CallError::new(format!("ListShards {stream}"), &region(kinesis), &e))?;
        for shard in page.shards() {
            shards.insert(shard.shard_id().to_owned(), shard.clone());
        }
        match page.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => return Ok(shards),
        }
    }
}

struct ShardReader {
    kinesis: Client,
    stream: String,
    shard: String,
    position: StartPosition,
    records: mpsc::Sender<Vec<SourceRecord>>,
    stop: watch::Receiver<bool>,
    stats: Arc<Stats>,
}

impl ShardReader {
    fn fail(&self, e: &CallError) {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(shard = %self.shard, "{e}; retrying");
    }

    async fn iterator(&self, after: Option<&str>) -> Result<Option<String>, CallError> {
        let mut request = self
            .kinesis
            .get_shard_iterator()
            .stream_name(&self.stream)
            .shard_id(&self.shard);
        request = match (after, self.position) {
            (Some(sequence), _) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(sequence),
            (None, StartPosition::Latest) => request.shard_iterator_type(ShardIteratorType::Latest),
            (None, StartPosition::TrimHorizon) => {
                request.shard_iterator_type(ShardIteratorType::TrimHorizon)
            }
            (None, StartPosition::AtTimestamp { unix_millis }) => request
                .shard_iterator_type(ShardIteratorType::AtTimestamp)
                .timestamp(DateTime::from_millis(unix_millis)),
        };
        let out = request.send().await.map_err(|e| {
            CallError::new(
                format!("GetShardIterator {} {}", self.stream, self.shard),
                &region(&self.kinesis),
                &e,
            )
        })?;
        Ok(out.shard_iterator().map(str::to_owned))
    }
}

/// Reads one shard until it ends (returns its id) or `stop` (returns `None`).
async fn read_shard(mut reader: ShardReader) -> Option<String> {
    let mut last_sequence: Option<String> = None;
    let mut backoff = POLL;
    let mut iterator = loop {
        match reader.iterator(None).await {
            Ok(Some(it)) => break it,
            Ok(None) => return Some(reader.shard),
            Err(e) => {
                reader.fail(&e);
                if pause(&mut reader.stop, backoff).await {
                    return None;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    };
    loop {
        if stopping(&reader.stop) {
            return None;
        }
        let result = reader
            .kinesis
            .get_records()
            .shard_iterator(&iterator)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) => {
                let expired = e
                    .as_service_error()
                    .is_some_and(|s| s.is_expired_iterator_exception());
                if expired {
                    // A new iterator where reading stopped (iterators last five minutes).
                    match reader.iterator(last_sequence.as_deref()).await {
                        Ok(Some(it)) => iterator = it,
                        Ok(None) => return Some(reader.shard),
                        Err(e) => reader.fail(&e),
                    }
                } else {
                    reader.fail(&CallError::new(
                        format!("GetRecords {} {}", reader.stream, reader.shard),
                        &region(&reader.kinesis),
                        &e,
                    ));
                }
                if pause(&mut reader.stop, backoff).await {
                    return None;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = POLL;
        let records: Vec<SourceRecord> = out
            .records()
            .iter()
            .map(|r| SourceRecord {
                data: r.data().as_ref().to_vec(),
                arrival: r
                    .approximate_arrival_timestamp()
                    .copied()
                    .unwrap_or_else(|| DateTime::from(std::time::SystemTime::now())),
            })
            .collect();
        if let Some(last) = out.records().last() {
            last_sequence = Some(last.sequence_number().to_owned());
        }
        let behind = out.millis_behind_latest().unwrap_or(0) > 0 && !out.records().is_empty();
        if !records.is_empty() {
            reader
                .stats
                .records_in
                .fetch_add(records.len() as u64, Ordering::Relaxed);
            if reader.records.send(records).await.is_err() {
                return None;
            }
        }
        match out.next_shard_iterator() {
            Some(next) => iterator = next.to_owned(),
            // The shard is closed and fully read: its children may start.
            None => return Some(reader.shard),
        }
        if !behind && pause(&mut reader.stop, POLL).await {
            return None;
        }
    }
}
