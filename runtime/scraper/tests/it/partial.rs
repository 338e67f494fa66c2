//! Partial `PutRecords` failures (moto never produces them) with `aws-smithy-mocks`: a fake stream that
//! fails some entries keeps what it accepts; records of one symbol must arrive in order, a call must never
//! carry two records of one symbol, failed entries are retried, and a symbol that keeps failing goes to the
//! spool with everything after it while other symbols carry on.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::temp_dir;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::operation::put_records::PutRecordsOutput;
use aws_sdk_kinesis::types::PutRecordsResultEntry;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use scraper::{Record, Sink, SinkSettings, Spool};
use tokio::time::Instant;

#[derive(Default)]
struct Fake {
    /// Accepted (key, data) in arrival order.
    stream: Vec<(String, String)>,
    /// Attempts seen per data.
    seen: HashMap<String, u32>,
    /// Calls that carried two entries of one key.
    duplicate_keys_in_a_call: u32,
}

/// A client whose PutRecords fails entry `data` while `fail(data, attempt)` says so.
fn fake(fail: impl Fn(&str, u32) -> bool + Send + Sync + 'static) -> (Client, Arc<Mutex<Fake>>) {
    let state = Arc::new(Mutex::new(Fake::default()));
    let st = Arc::clone(&state);
    let rule = mock!(Client::put_records).then_compute_output(move |req| {
        let mut s = st.lock().unwrap();
        let mut keys = std::collections::HashSet::new();
        let mut out = PutRecordsOutput::builder();
        let mut failed = 0;
        for e in req.records() {
            if !keys.insert(e.partition_key().to_owned()) {
                s.duplicate_keys_in_a_call += 1;
            }
            let data = String::from_utf8(e.data().as_ref().to_vec()).unwrap();
            let n = {
                let n = s.seen.entry(data.clone()).or_default();
                *n += 1;
                *n
            };
            let entry = if fail(&data, n) {
                failed += 1;
                PutRecordsResultEntry::builder()
                    .error_code("ProvisionedThroughputExceededException")
                    .error_message("Rate exceeded for shard")
                    .build()
            } else {
                s.stream.push((e.partition_key().to_owned(), data));
                PutRecordsResultEntry::builder()
                    .sequence_number(s.stream.len().to_string())
                    .shard_id("shardId-000000000000")
                    .build()
            };
            out = out.records(entry);
        }
        out.failed_record_count(failed).build().unwrap()
    });
    let client = mock_client!(aws_sdk_kinesis, RuleMode::MatchAny, [&rule]);
    (client, state)
}

fn records(symbols: &[&str], per_symbol: usize) -> Vec<Record> {
    (0..per_symbol)
        .flat_map(|n| {
            symbols.iter().map(move |s| Record {
                key: (*s).into(),
                data: format!("{s}-{n}").into_bytes(),
            })
        })
        .collect()
}

fn by_key(stream: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, d) in stream {
        m.entry(k.clone()).or_default().push(d.clone());
    }
    m
}

fn settings() -> SinkSettings {
    SinkSettings {
        max_attempts: 4,
        backoff_base: Duration::from_millis(1),
        backoff_cap: Duration::from_millis(5),
        ..SinkSettings::default()
    }
}

#[tokio::test]
async fn failed_entries_are_retried_without_reordering() {
    // Every record of AAPL fails twice before it is accepted; MSFT's third record fails once.
    let (client, state) = fake(|data, attempt| {
        (data.starts_with("AAPL") && attempt <= 2) || (data == "MSFT-2" && attempt == 1)
    });
    let dir = temp_dir("partial");
    let mut sink = Sink::new(client, "s", Spool::open(&dir, 1 << 20).unwrap(), settings());
    let sent = records(&["AAPL", "MSFT", "SAP"], 5);
    let stats = sink
        .submit(sent, Instant::now() + Duration::from_secs(30))
        .await;
    assert_eq!((stats.put, stats.spooled, stats.dropped), (15, 0, 0));
    assert_eq!(stats.retried, 5 * 2 + 1);
    let s = state.lock().unwrap();
    assert_eq!(s.duplicate_keys_in_a_call, 0);
    for (key, got) in by_key(&s.stream) {
        let want: Vec<String> = (0..5).map(|n| format!("{key}-{n}")).collect();
        assert_eq!(got, want, "{key}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_symbol_that_keeps_failing_is_spooled_from_its_failure_on() {
    // MSFT-1 never gets in: MSFT-1.. go to the spool in order; the others are delivered.
    let (client, state) = fake(|data, _| data == "MSFT-1");
    let dir = temp_dir("stuck");
    let mut sink = Sink::new(client, "s", Spool::open(&dir, 1 << 20).unwrap(), settings());
    let stats = sink
        .submit(
            records(&["AAPL", "MSFT"], 4),
            Instant::now() + Duration::from_secs(30),
        )
        .await;
    assert_eq!((stats.put, stats.spooled, stats.spool_len), (5, 3, 3));
    {
        let s = state.lock().unwrap();
        let got = by_key(&s.stream);
        assert_eq!(got["AAPL"], ["AAPL-0", "AAPL-1", "AAPL-2", "AAPL-3"]);
        assert_eq!(got["MSFT"], ["MSFT-0"]);
    }
    // New records queue behind the spool: MSFT-4 must not overtake MSFT-1.
    let stats = sink
        .submit(
            vec![Record {
                key: "MSFT".into(),
                data: b"MSFT-4".to_vec(),
            }],
            Instant::now() + Duration::from_secs(30),
        )
        .await;
    assert_eq!((stats.put, stats.spooled, stats.spool_len), (0, 1, 4));
    let spool: Vec<String> = Spool::open(&dir, 1 << 20)
        .unwrap()
        .peek(10)
        .unwrap()
        .into_iter()
        .map(|(_, r)| String::from_utf8(r.data).unwrap())
        .collect();
    assert_eq!(spool, ["MSFT-1", "MSFT-2", "MSFT-3", "MSFT-4"]);
    std::fs::remove_dir_all(dir).unwrap();
}
