//! Buffering per partition: Firehose keeps one buffer per evaluated prefix and writes it as one
//! object when it holds `SizeInMBs` of records or its first record has waited `IntervalInSeconds`,
//! whichever comes first. Time is passed in (`now`), so the rules are tested without waiting.
//!
//! Not emulated: Firehose's multi-stage buffering (an object may come up to 1.5 times the interval
//! late in AWS; here it is on time), and the limit of 500 active partitions (records beyond it go
//! to the error prefix as `activePartitionExceeded` in AWS; here every partition is kept).

use std::collections::BTreeMap;
use std::time::Instant;

use aws_smithy_types::DateTime;

use crate::config::Buffering;

/// Where a buffer's object goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    /// Under `Prefix`, with these partition keys.
    Data {
        /// The records' partition keys (empty without dynamic partitioning).
        keys: BTreeMap<String, String>,
    },
    /// Under `ErrorOutputPrefix`, with `!{firehose:error-output-type}` = `output_type`.
    Error {
        /// Such as `metadata-extraction-failed`.
        output_type: &'static str,
    },
}

/// The records of one object, uncompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Batch {
    /// Where it goes.
    pub destination: Destination,
    /// The records, each with its delimiter (or error documents, one per line).
    pub body: Vec<u8>,
    /// How many records.
    pub records: u64,
    /// Approximate arrival time of the oldest record: the object's `!{timestamp:}` and name time.
    pub oldest_arrival: DateTime,
}

struct Open {
    batch: Batch,
    opened: Instant,
}

/// The open buffers, by partition (the prefix evaluated for the record).
pub(crate) struct Buffers {
    open: BTreeMap<String, Open>,
    buffering: Buffering,
}

impl Buffers {
    pub(crate) fn new(buffering: Buffering) -> Self {
        Buffers {
            open: BTreeMap::new(),
            buffering,
        }
    }

    /// Adds a record to `partition`'s buffer (opened at `now` if new); returns the buffer when it
    /// has reached the size hint.
    pub(crate) fn add(
        &mut self,
        partition: String,
        destination: Destination,
        record: &[u8],
        arrival: DateTime,
        now: Instant,
    ) -> Option<Batch> {
        let open = self.open.entry(partition.clone()).or_insert_with(|| Open {
            batch: Batch {
                destination,
                body: Vec::new(),
                records: 0,
                oldest_arrival: arrival,
            },
            opened: now,
        });
        open.batch.body.extend_from_slice(record);
        open.batch.records += 1;
        if arrival < open.batch.oldest_arrival {
            open.batch.oldest_arrival = arrival;
        }
        if open.batch.body.len() as u64 >= self.buffering.size_bytes {
            return self.open.remove(&partition).map(|o| o.batch);
        }
        None
    }

    /// When the oldest open buffer is due.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.open
            .values()
            .map(|o| o.opened + self.buffering.interval)
            .min()
    }

    /// The buffers whose interval has passed at `now`, removed.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<Batch> {
        let interval = self.buffering.interval;
        let due: Vec<String> = self
            .open
            .iter()
            .filter(|(_, o)| now.saturating_duration_since(o.opened) >= interval)
            .map(|(k, _)| k.clone())
            .collect();
        due.into_iter()
            .filter_map(|k| self.open.remove(&k).map(|o| o.batch))
            .collect()
    }

    /// Every open buffer, removed (on stop).
    pub(crate) fn drain(&mut self) -> Vec<Batch> {
        std::mem::take(&mut self.open)
            .into_values()
            .map(|o| o.batch)
            .collect()
    }

    /// Open buffers.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn data(symbol: &str) -> Destination {
        Destination::Data {
            keys: [("symbol".to_owned(), symbol.to_owned())].into(),
        }
    }

    fn buffers(size_bytes: u64, seconds: u64) -> Buffers {
        Buffers::new(Buffering {
            size_bytes,
            interval: Duration::from_secs(seconds),
        })
    }

    #[test]
    fn a_buffer_is_written_when_it_reaches_the_size_hint() {
        let mut b = buffers(10, 60);
        let t0 = Instant::now();
        assert_eq!(
            b.add("a".into(), data("A"), b"1234\n", DateTime::from_secs(5), t0),
            None
        );
        assert_eq!(
            b.add(
                "b".into(),
                data("B"),
                b"xxxxxxxx\n",
                DateTime::from_secs(4),
                t0
            ),
            None
        );
        // The record that reaches the hint is in the object.
        let full = b
            .add("a".into(), data("A"), b"5678\n", DateTime::from_secs(3), t0)
            .unwrap();
        assert_eq!(full.body, b"1234\n5678\n");
        assert_eq!(full.records, 2);
        assert_eq!(full.oldest_arrival, DateTime::from_secs(3));
        assert_eq!(full.destination, data("A"));
        assert_eq!(b.len(), 1, "the other partition's buffer stays open");
    }

    #[test]
    fn a_buffer_is_written_when_its_first_record_has_waited_the_interval() {
        let mut b = buffers(1 << 20, 60);
        let t0 = Instant::now();
        b.add("a".into(), data("A"), b"1\n", DateTime::from_secs(1), t0);
        b.add(
            "b".into(),
            data("B"),
            b"2\n",
            DateTime::from_secs(1),
            t0 + Duration::from_secs(30),
        );
        b.add(
            "a".into(),
            data("A"),
            b"3\n",
            DateTime::from_secs(2),
            t0 + Duration::from_secs(59),
        );
        assert_eq!(b.next_deadline(), Some(t0 + Duration::from_secs(60)));
        assert!(b.due(t0 + Duration::from_secs(59)).is_empty());
        let due = b.due(t0 + Duration::from_secs(60));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].body, b"1\n3\n");
        assert_eq!(b.next_deadline(), Some(t0 + Duration::from_secs(90)));
        // A new record of a written partition opens a new buffer with its own clock.
        b.add(
            "a".into(),
            data("A"),
            b"4\n",
            DateTime::from_secs(3),
            t0 + Duration::from_secs(61),
        );
        let rest = b.drain();
        assert_eq!(rest.len(), 2);
        assert_eq!(b.len(), 0);
        assert_eq!(b.next_deadline(), None);
    }
}
