//! The Kinesis event source mapping's error handling against moto's Kinesis and SQS, with a
//! scripted function standing in for a Lambda: what each invocation received is recorded.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use local_run::esm::{FailureDestination, Mapping, MappingSettings};
use local_run::function::{Invoke, Outcome};
use serde_json::Value;
use testkit::Moto;
use tokio::sync::watch;

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:scripted";

/// A function that records the records' data of each invocation and answers with `answer`.
/// The answer to an invocation: from the records (sequence number, data) and the call's number.
type Answer = Box<dyn Fn(&[(String, String)], usize) -> Outcome + Send + Sync>;

struct Scripted {
    calls: Mutex<Vec<Vec<String>>>,
    answer: Answer,
}

impl Scripted {
    fn new(
        answer: impl Fn(&[(String, String)], usize) -> Outcome + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            calls: Mutex::new(Vec::new()),
            answer: Box::new(answer),
        })
    }

    fn calls(&self) -> Vec<Vec<String>> {
        self.calls.lock().unwrap().clone()
    }
}

impl Invoke for Scripted {
    async fn invoke(&self, event: String) -> Outcome {
        let event: aws_lambda_events::event::kinesis::KinesisEvent =
            serde_json::from_str(&event).expect("a Kinesis event");
        let records: Vec<(String, String)> = event
            .records
            .iter()
            .map(|r| {
                assert_eq!(r.event_source.as_deref(), Some("aws:kinesis"));
                assert_eq!(r.event_name.as_deref(), Some("aws:kinesis:record"));
                (
                    r.kinesis.sequence_number.clone(),
                    String::from_utf8(r.kinesis.data.0.clone()).unwrap(),
                )
            })
            .collect();
        let call = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(records.iter().map(|(_, d)| d.clone()).collect());
            calls.len()
        };
        (self.answer)(&records, call)
    }

    fn arn(&self) -> &str {
        ARN
    }
}

fn error() -> Outcome {
    Outcome::FunctionError {
        error_type: "Boom".into(),
        message: "scripted".into(),
    }
}

struct Stream {
    /// Kept for the test's life: the server stops on drop.
    _moto: Moto,
    kinesis: aws_sdk_kinesis::Client,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    name: String,
}

async fn stream(records: &[&str]) -> Stream {
    let moto = Moto::start();
    let sdk = moto.sdk_config("us-east-1").await;
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let name = "quotes".to_owned();
    kinesis
        .create_stream()
        .stream_name(&name)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    for data in records {
        kinesis
            .put_record()
            .stream_name(&name)
            .partition_key("AAPL")
            .data(aws_smithy_types::Blob::new(data.as_bytes()))
            .send()
            .await
            .unwrap();
    }
    let queue_url = sqs
        .create_queue()
        .queue_name("failed")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    Stream {
        _moto: moto,
        kinesis,
        sqs,
        queue_url,
        name,
    }
}

fn settings(stream: &Stream, batch_size: usize) -> MappingSettings {
    MappingSettings {
        stream_arn: format!(
            "arn:aws:kinesis:us-east-1:123456789012:stream/{}",
            stream.name
        ),
        stream_name: stream.name.clone(),
        starting_position: "TRIM_HORIZON".into(),
        batch_size,
        batching_window: Duration::ZERO,
        report_item_failures: true,
        bisect: true,
        max_retries: Some(1),
        max_record_age: None,
        on_failure: Some("arn:aws:sqs:us-east-1:123456789012:failed".into()),
    }
}

/// Runs the mapping until `done` holds (or 60 s), then stops it.
async fn run_until(
    stream: &Stream,
    settings: MappingSettings,
    function: Arc<Scripted>,
    done: impl Fn(&Scripted, &local_run::esm::MappingStats) -> bool,
) -> Arc<local_run::esm::MappingStats> {
    let destination = FailureDestination::for_queue_arn(
        stream.sqs.clone(),
        settings.on_failure.as_deref().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(destination.queue_url, stream.queue_url);
    let mapping = Arc::new(Mapping::new(
        settings,
        stream.kinesis.clone(),
        Arc::clone(&function),
        "us-east-1",
        "arn:aws:iam::123456789012:role/TransformRole",
        Some(destination),
    ));
    let stats = mapping.stats();
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(Arc::clone(&mapping).run(stop));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(&function, &stats) {
        assert!(
            Instant::now() < deadline,
            "not done: calls {:?}",
            function.calls()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A little longer: nothing more may happen.
    tokio::time::sleep(Duration::from_millis(600)).await;
    stop_tx.send(true).unwrap();
    task.await.unwrap().unwrap();
    stats
}

async fn failure_records(stream: &Stream) -> Vec<Value> {
    let received = stream
        .sqs
        .receive_message()
        .queue_url(&stream.queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    received
        .messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_batch_failure_is_retried_from_the_first_failed_record() {
    let stream = stream(&["r0", "r1", "r2", "r3", "r4"]).await;
    // The first call reports r3 and r2 failed (out of order); later calls succeed.
    let function = Scripted::new(|records, call| {
        if call == 1 {
            let failed: Vec<String> = records
                .iter()
                .filter(|(_, d)| d == "r3" || d == "r2")
                .map(|(s, _)| format!("{{\"itemIdentifier\":\"{s}\"}}"))
                .collect();
            Outcome::Success(format!("{{\"batchItemFailures\":[{}]}}", failed.join(",")))
        } else {
            Outcome::Success("{\"batchItemFailures\":[]}".into())
        }
    });
    let stats = run_until(
        &stream,
        settings(&stream, 10),
        Arc::clone(&function),
        |f, _| f.calls().len() >= 2,
    )
    .await;
    assert_eq!(
        function.calls(),
        [vec!["r0", "r1", "r2", "r3", "r4"], vec!["r2", "r3", "r4"]]
    );
    assert_eq!(stats.records_done.load(Ordering::Relaxed), 5);
    assert_eq!(stats.records_discarded.load(Ordering::Relaxed), 0);
    assert!(failure_records(&stream).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_batch_is_bisected_and_the_poison_record_goes_to_the_on_failure_queue_after_its_retries()
 {
    let stream = stream(&["r0", "r1", "bad", "r3"]).await;
    let function = Scripted::new(|records, _| {
        if records.iter().any(|(_, d)| d == "bad") {
            error()
        } else {
            Outcome::Success(String::new())
        }
    });
    let stats = run_until(
        &stream,
        settings(&stream, 10),
        Arc::clone(&function),
        |_, s| s.records_done.load(Ordering::Relaxed) == 3,
    )
    .await;
    // Whole batch fails → halves (no retry used); [bad, r3] fails → halves; [bad] fails, is
    // retried once (MaximumRetryAttempts 1), fails again and is discarded; r3 then succeeds.
    assert_eq!(
        function.calls(),
        [
            vec!["r0", "r1", "bad", "r3"],
            vec!["r0", "r1"],
            vec!["bad", "r3"],
            vec!["bad"],
            vec!["bad"],
            vec!["r3"],
        ]
    );
    assert_eq!(stats.records_discarded.load(Ordering::Relaxed), 1);
    let records = failure_records(&stream).await;
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    assert_eq!(
        record["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    assert_eq!(record["requestContext"]["functionArn"], ARN);
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 2);
    assert_eq!(record["responseContext"]["functionError"], "Unhandled");
    let info = &record["KinesisBatchInfo"];
    assert_eq!(info["batchSize"], 1);
    assert_eq!(info["shardId"], "shardId-000000000000");
    assert_eq!(info["startSequenceNumber"], info["endSequenceNumber"]);
    assert_eq!(
        info["streamArn"],
        "arn:aws:kinesis:us-east-1:123456789012:stream/quotes"
    );
    // The discarded record is the bad one: read it back by its sequence number.
    let iterator = stream
        .kinesis
        .get_shard_iterator()
        .stream_name("quotes")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(info["startSequenceNumber"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let page = stream
        .kinesis
        .get_records()
        .shard_iterator(iterator.shard_iterator().unwrap())
        .limit(1)
        .send()
        .await
        .unwrap();
    assert_eq!(page.records()[0].data().as_ref(), b"bad");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_retries_minus_one_a_failing_record_is_retried_past_any_count_until_it_succeeds() {
    let stream = stream(&["r0"]).await;
    // Fails 20 times (more than the old default of 5 retries), then succeeds.
    let function = Scripted::new(|_, call| {
        if call <= 20 {
            error()
        } else {
            Outcome::Success(String::new())
        }
    });
    let mut settings = settings(&stream, 10);
    settings.max_retries = None;
    settings.max_record_age = Some(Duration::from_secs(3600));
    let stats = run_until(&stream, settings, Arc::clone(&function), |_, s| {
        s.records_done.load(Ordering::Relaxed) == 1
    })
    .await;
    assert_eq!(function.calls(), vec![vec!["r0"]; 21]);
    assert_eq!(stats.failed_invocations.load(Ordering::Relaxed), 20);
    assert_eq!(stats.records_discarded.load(Ordering::Relaxed), 0);
    assert!(failure_records(&stream).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_retries_minus_one_a_failing_record_is_discarded_once_it_reaches_the_maximum_age() {
    let stream = stream(&["bad"]).await;
    let function = Scripted::new(|_, _| error());
    let mut settings = settings(&stream, 10);
    settings.max_retries = None;
    settings.max_record_age = Some(Duration::from_secs(3));
    let stats = run_until(&stream, settings, Arc::clone(&function), |_, s| {
        s.records_discarded.load(Ordering::Relaxed) == 1
    })
    .await;
    // Retried (every 0.2 s) for about 3 s, not a fixed number of times; then discarded by age.
    let calls = function.calls().len();
    assert!(calls >= 5, "only {calls} invocations before the discard");
    assert_eq!(stats.records_done.load(Ordering::Relaxed), 0);
    let records = failure_records(&stream).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(
        records[0]["requestContext"]["condition"],
        "RecordAgeExceeded"
    );
    assert_eq!(records[0]["KinesisBatchInfo"]["batchSize"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_older_than_the_maximum_age_are_discarded_without_an_invocation() {
    let stream = stream(&["old0", "old1"]).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let function = Scripted::new(|_, _| Outcome::Success(String::new()));
    let mut settings = settings(&stream, 10);
    settings.max_record_age = Some(Duration::from_secs(1));
    run_until(&stream, settings, Arc::clone(&function), |_, s| {
        s.records_discarded.load(Ordering::Relaxed) == 2
    })
    .await;
    assert!(function.calls().is_empty(), "{:?}", function.calls());
    let records = failure_records(&stream).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(
        records[0]["requestContext"]["condition"],
        "RecordAgeExceeded"
    );
    assert_eq!(records[0]["KinesisBatchInfo"]["batchSize"], 2);
    assert!(records[0]["responseContext"]["functionError"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_cut_at_the_batch_size_in_order() {
    let stream = stream(&["a", "b", "c", "d", "e"]).await;
    let function = Scripted::new(|_, _| Outcome::Success(String::new()));
    let stats = run_until(
        &stream,
        settings(&stream, 2),
        Arc::clone(&function),
        |_, s| s.records_done.load(Ordering::Relaxed) == 5,
    )
    .await;
    assert_eq!(
        function.calls(),
        [vec!["a", "b"], vec!["c", "d"], vec!["e"]]
    );
    assert_eq!(stats.records_read.load(Ordering::Relaxed), 5);
}
