//! Faults in the running local pipeline, each named by `deployer verify` at the right hop, and
//! nothing lost once repaired: InfluxDB stopped for 60 s, and a transform binary that exits at
//! init (then replaced by the real one). And the notify topic deleted (hop `alert`; the topic
//! recreated as the template defines it, the kept events redriven).
//! The pipeline is `deployer run`'s (`LocalPipeline`) with
//! the real `transform` binary; the quotes are put on the deployed stream by the test, and counted
//! back in InfluxDB by the test's own queries.
//!
//! The environment is `local.yaml` as shipped: `transform.maximum_retry_attempts` is -1, so a batch
//! that fails fast (connection refused, a process that exits; retried every ~0.2 s locally) is
//! retried until its records reach the maximum record age, not discarded after a few retries
//! (see docs/local-run.md, "Faults").

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use engine::artifacts::{Artifact, zip_bootstrap};
use local_run::LocalPipeline;
use local_run::function::{FunctionHost, Outcome};
use local_run::view::{Snapshot, View};
use stacks::pipeline::{ArtifactParameter, StackKind};
use testkit::Influx1;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use verify::{Report, Stage};

use crate::common::{
    Deployment, deploy_with, fixture_artifacts, rfc3339, shipped_binary, tempfile_dir,
};

/// How long verify follows the canary while a fault is on: the InfluxDB hop passes within ~2 s
/// when healthy, so 20 s without it is a broken hop, not a slow one.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(20);

/// The log lines of this test process (`tracing`), for the failures the run reports.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Installs the capture as this process's subscriber (nextest runs each test in its own).
    fn install() -> Self {
        let captured = Captured::default();
        let writer = captured.clone();
        // Plain text: the assertions match `function="..."`, which colours would split.
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .init();
        captured
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Attributes of a `CreateTopic` or `Subscribe` call.
type Attributes = Vec<(String, String)>;

/// A topic and its subscriptions as the template defines them, resolved against the deployment.
struct TopicDefinition {
    /// The topic's name (the last part of its ARN: a topic created again under it has the same
    /// ARN, the one the stack and notify's `TOPIC_ARN` hold).
    name: String,
    /// `CreateTopic` attributes (`DisplayName`, `KmsMasterKeyId`).
    attributes: Attributes,
    /// Each `AWS::SNS::Subscription` of the topic: protocol, endpoint and attributes.
    subscriptions: Vec<(String, String, Attributes)>,
}

impl TopicDefinition {
    /// The definition of the template's topic whose ARN is `arn`.
    fn of(template: &serde_json::Value, pipeline: &LocalPipeline, arn: &str) -> Self {
        let resolve = |v: &serde_json::Value| pipeline.resolver().resolve(v).unwrap();
        let (id, topic) = local_run::resources_of(template, "AWS::SNS::Topic")
            .find(|(id, _)| resolve(&serde_json::json!({ "Ref": id })) == arn)
            .unwrap_or_else(|| panic!("no AWS::SNS::Topic of the template is {arn}"));
        let attributes = ["DisplayName", "KmsMasterKeyId"]
            .into_iter()
            .filter(|key| !topic["Properties"][key].is_null())
            .map(|key| (key.to_owned(), resolve(&topic["Properties"][key])))
            .collect();
        let subscriptions: Vec<_> = local_run::resources_of(template, "AWS::SNS::Subscription")
            .map(|(_, s)| &s["Properties"])
            .filter(|p| p["TopicArn"] == serde_json::json!({ "Ref": id }))
            .map(|p| {
                let mut attributes = Vec::new();
                if !p["FilterPolicy"].is_null() {
                    // A policy document, not an intrinsic: sent as written.
                    attributes.push(("FilterPolicy".to_owned(), p["FilterPolicy"].to_string()));
                }
                if let Some(scope) = p["FilterPolicyScope"].as_str() {
                    attributes.push(("FilterPolicyScope".to_owned(), scope.to_owned()));
                }
                (resolve(&p["Protocol"]), resolve(&p["Endpoint"]), attributes)
            })
            .collect();
        assert!(
            !subscriptions.is_empty(),
            "the template subscribes nobody to {arn}"
        );
        Self {
            name: arn.rsplit(':').next().unwrap().to_owned(),
            attributes,
            subscriptions,
        }
    }
}

/// The local pipeline running with `transform` as the Transform function's bootstrap.
struct Running {
    d: Deployment,
    influx: Influx1,
    stream: String,
    transform_binary: std::path::PathBuf,
    transform_log: std::path::PathBuf,
    /// The alert topic (notify's `TOPIC_ARN`).
    topic: String,
    /// The alert topic and its subscriptions as the template defines them: what a repair recreates.
    topic_definition: TopicDefinition,
    /// The hosted notify function (a redrive invokes it).
    notify: Arc<FunctionHost>,
    /// Notify's `DeadLetterConfig` queue (ARN).
    notify_dead_letters: String,
    stop: watch::Sender<bool>,
    run: JoinHandle<Result<Snapshot, local_run::RunError>>,
}

async fn start(transform: &[u8]) -> Running {
    start_with(&[(ArtifactParameter::Transform, transform.to_vec())]).await
}

/// [`start`] with these functions' binaries (the others are the echo fixture).
async fn start_with(binaries: &[(ArtifactParameter, Vec<u8>)]) -> Running {
    let influx = Influx1::start();
    influx.create_database("quotes");
    let artifacts: Vec<Artifact> = fixture_artifacts()
        .into_iter()
        .map(|a| {
            match binaries
                .iter()
                .find(|(parameter, _)| *parameter == a.parameter)
            {
                Some((parameter, binary)) => {
                    Artifact::new(*parameter, zip_bootstrap(binary).unwrap())
                }
                None => a,
            }
        })
        .collect();
    let d = deploy_with(artifacts, Some(influx.url())).await;
    let mut options = d.options(tempfile_dir("faults"));
    options.scraper = false;
    let pipeline = LocalPipeline::prepare(&options).await.unwrap();
    assert!(
        pipeline
            .summary()
            .contains("retries until expired, max age 3600 s"),
        "{}",
        pipeline.summary()
    );
    let template = &d.synthesis.regions[0]
        .stacks
        .iter()
        .find(|s| s.kind == StackKind::Pipeline)
        .unwrap()
        .json;
    let stream_id = local_run::resources_of(template, "AWS::Kinesis::Stream")
        .next()
        .unwrap()
        .0
        .clone();
    let stream = pipeline
        .resolver()
        .resolve(&serde_json::json!({ "Ref": stream_id }))
        .unwrap();
    let config = pipeline.functions()["Transform"].config().clone();
    let topic = pipeline.functions()["Notify"].config().environment
        [lambda_contract::notify::TOPIC_ARN]
        .clone();
    let topic_definition = TopicDefinition::of(template, &pipeline, &topic);
    let notify = Arc::clone(&pipeline.functions()["Notify"]);
    let (_, notify_resource) = local_run::resources_of(template, "AWS::Lambda::Function")
        .find(|(id, _)| id.as_str() == "Notify")
        .unwrap();
    let notify_dead_letters = pipeline
        .resolver()
        .resolve(&notify_resource["Properties"]["DeadLetterConfig"]["TargetArn"])
        .unwrap();
    let (stop, stop_rx) = watch::channel(false);
    let run = tokio::spawn(async move {
        let mut view = View::Plain { last: None };
        pipeline.run(stop_rx, &mut view).await
    });
    Running {
        d,
        influx,
        stream,
        transform_binary: config.binary,
        transform_log: config.log,
        topic,
        topic_definition,
        notify,
        notify_dead_letters,
        stop,
        run,
    }
}

impl Running {
    /// Puts one quote of each of `symbols`, each with its own market time (so each is its own
    /// InfluxDB point), `offset` seconds apart from earlier calls'.
    async fn put(&self, symbols: &[&str], offset: u64) {
        let kinesis = self.d.clients().kinesis;
        let now = SystemTime::now();
        for (i, symbol) in symbols.iter().enumerate() {
            let market = now - Duration::from_secs(600 + offset + i as u64);
            let record = serde_json::json!({
                "v": 1, "symbol": symbol, "price": 100.5 + i as f64, "currency": "USD",
                "change_pct": 0.25, "volume": 1000 + i as u64,
                "market_time": rfc3339(market), "scraped_at": rfc3339(market + Duration::from_secs(1)),
                "source": "quote-page",
            });
            kinesis
                .put_record()
                .stream_name(&self.stream)
                .partition_key(*symbol)
                .data(aws_smithy_types::Blob::new(record.to_string().into_bytes()))
                .send()
                .await
                .unwrap();
        }
    }

    /// Puts a pair of `symbol` quotes one minute apart whose price moves by 5 % (notify's threshold
    /// in local.yaml is 1 %): one alert.
    async fn put_move(&self, symbol: &str) {
        let kinesis = self.d.clients().kinesis;
        let second = SystemTime::now() - Duration::from_secs(120);
        for (price, market) in [(100.0, second - Duration::from_secs(60)), (105.0, second)] {
            let record = serde_json::json!({
                "v": 1, "symbol": symbol, "price": price, "currency": "USD",
                "change_pct": 0.0, "volume": 1000,
                "market_time": rfc3339(market), "scraped_at": rfc3339(market + Duration::from_secs(1)),
                "source": "quote-page",
            });
            kinesis
                .put_record()
                .stream_name(&self.stream)
                .partition_key(symbol)
                .data(aws_smithy_types::Blob::new(record.to_string().into_bytes()))
                .send()
                .await
                .unwrap();
        }
    }

    /// Repairs a deleted alert topic as an operator must (CloudFormation does not recreate a
    /// resource deleted behind its back: `deployer up` finds the stack unchanged): the topic is
    /// created again under its name, so it has the ARN the stack and notify hold, with the
    /// template's attributes and subscriptions.
    async fn recreate_alert_topic(&self) {
        let sns = aws_sdk_sns::Client::new(self.d.aws.sdk_config());
        let definition = &self.topic_definition;
        let created = sns
            .create_topic()
            .name(&definition.name)
            .set_attributes(Some(definition.attributes.iter().cloned().collect()))
            .send()
            .await
            .unwrap();
        assert_eq!(created.topic_arn(), Some(self.topic.as_str()));
        for (protocol, endpoint, attributes) in &definition.subscriptions {
            sns.subscribe()
                .topic_arn(&self.topic)
                .protocol(protocol)
                .endpoint(endpoint)
                .set_attributes(Some(attributes.iter().cloned().collect()))
                .send()
                .await
                .unwrap();
        }
    }

    /// The events in notify's dead-letter queue, by the object key each is about (a look: they
    /// stay in the queue).
    async fn notify_dead_letter_keys(&self) -> Vec<String> {
        self.notify_dead_letter_messages(0)
            .await
            .iter()
            .map(|(_, event)| event_key(event))
            .collect()
    }

    /// Up to 10 messages of notify's dead-letter queue, hidden for `visibility` seconds: (receipt
    /// handle, body).
    async fn notify_dead_letter_messages(&self, visibility: i32) -> Vec<(String, String)> {
        let sqs = self.d.clients().sqs;
        let name = self.notify_dead_letters.rsplit(':').next().unwrap();
        let url = sqs.get_queue_url().queue_name(name).send().await.unwrap();
        let answer = sqs
            .receive_message()
            .queue_url(url.queue_url().unwrap())
            .max_number_of_messages(10)
            .visibility_timeout(visibility)
            .send()
            .await
            .unwrap();
        answer
            .messages()
            .iter()
            .map(|m| {
                (
                    m.receipt_handle().unwrap().to_owned(),
                    m.body().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// Redrives the dead-lettered events of notify whose key `matches`: each is invoked again
    /// with the event as Lambda kept it (the message body), and deleted from the queue once
    /// handled. The outcome of each, by key.
    async fn redrive_notify(&self, matches: impl Fn(&str) -> bool) -> Vec<(String, Outcome)> {
        let sqs = self.d.clients().sqs;
        let name = self.notify_dead_letters.rsplit(':').next().unwrap();
        let url = sqs.get_queue_url().queue_name(name).send().await.unwrap();
        let mut outcomes = Vec::new();
        for (receipt, event) in self.notify_dead_letter_messages(60).await {
            let key = event_key(&event);
            if !matches(&key) {
                continue;
            }
            let outcome = self.notify.invoke(event).await;
            if outcome.is_success() {
                sqs.delete_message()
                    .queue_url(url.queue_url().unwrap())
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .unwrap();
            }
            outcomes.push((key, outcome));
        }
        outcomes
    }

    /// The messages the emulator recorded as published to the alert topic (moto's data dump).
    fn published_alerts(&self) -> Vec<String> {
        let url = aws_connect::emulator_sns_dump_url(self.d.moto.endpoint());
        let text = ureq::get(&url)
            .call()
            .unwrap()
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .unwrap();
        let data: serde_json::Value = serde_json::from_str(&text).unwrap();
        data["sns"]["Topic"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["arn"] == self.topic.as_str())
            .flat_map(|t| {
                t["sent_notifications"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|n| n.to_string())
            .collect()
    }

    fn points(&self) -> u64 {
        points(&self.influx)
    }

    /// Waits (bounded) until InfluxDB holds `expected` points of users' symbols.
    async fn wait_for_points(&self, expected: u64, within: Duration) {
        let deadline = Instant::now() + within;
        while self.points() < expected {
            assert!(
                Instant::now() < deadline,
                "InfluxDB has {} of {expected} points after {within:?}; the function's log:\n{}",
                self.points(),
                std::fs::read_to_string(&self.transform_log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// `deployer verify`'s report for the deployment, following the canary for [`VERIFY_TIMEOUT`].
    async fn verify(&self) -> Report {
        self.verify_for(VERIFY_TIMEOUT).await
    }

    /// `deployer verify`'s report for the deployment, following the canary for `timeout`.
    async fn verify_for(&self, timeout: Duration) -> Report {
        verify::verify_region(
            self.d.aws.connection(),
            &self.d.env,
            self.d.env.canary_region(),
            timeout,
        )
        .await
        .unwrap()
    }

    /// Messages in every queue of the emulator (the mapping's on-failure queue, the functions'
    /// dead-letter queues): what was discarded. A look: the messages stay visible.
    async fn discarded(&self) -> Vec<String> {
        let sqs = self.d.clients().sqs;
        let mut bodies = Vec::new();
        let queues = sqs.list_queues().send().await.unwrap();
        for url in queues.queue_urls() {
            let answer = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
            bodies.extend(
                answer
                    .messages()
                    .iter()
                    .map(|m| format!("{url}: {}", m.body().unwrap_or_default())),
            );
        }
        bodies
    }

    /// Objects the transform quarantined.
    async fn quarantined(&self) -> Vec<String> {
        let s3 = self.d.clients().s3;
        let mut keys = Vec::new();
        for bucket in s3.list_buckets().send().await.unwrap().buckets() {
            let name = bucket.name().unwrap();
            let listed = s3
                .list_objects_v2()
                .bucket(name)
                .prefix("quarantine/")
                .send()
                .await
                .unwrap();
            keys.extend(
                listed
                    .contents()
                    .iter()
                    .map(|o| format!("s3://{name}/{}", o.key().unwrap_or_default())),
            );
        }
        keys
    }

    async fn stop(self) -> (Snapshot, Running2) {
        self.stop.send(true).unwrap();
        let snapshot = self.run.await.unwrap().unwrap_or_else(|e| {
            panic!(
                "the run failed: {e}; the function's log:\n{}",
                std::fs::read_to_string(&self.transform_log).unwrap_or_default()
            )
        });
        (
            snapshot,
            Running2 {
                d: self.d,
                influx: self.influx,
            },
        )
    }
}

/// Points of users' symbols (the canary left out) in InfluxDB.
fn points(influx: &Influx1) -> u64 {
    let answer = influx.query(
        "quotes",
        "SELECT count(price) FROM quote WHERE symbol != 'MST-CANARY'",
    );
    let value: serde_json::Value = serde_json::from_str(&answer).unwrap();
    value["results"][0]["series"][0]["values"][0][1]
        .as_u64()
        .unwrap_or(0)
}

/// The object key an S3 event (notify's dead-lettered event) is about, decoded (S3 events carry
/// it form-URL-encoded).
fn event_key(event: &str) -> String {
    let event: serde_json::Value = serde_json::from_str(event).unwrap();
    let encoded = event["Records"][0]["s3"]["object"]["key"]
        .as_str()
        .unwrap_or_default();
    lambda_support::s3_event_key(encoded).unwrap()
}

/// What stays of a run after it stopped (the servers, for the last counts).
struct Running2 {
    d: Deployment,
    influx: Influx1,
}

fn first_broken(report: &Report) -> (Stage, String) {
    let row = report
        .first_broken()
        .unwrap_or_else(|| panic!("verify passed during the fault:\n{report}"));
    (row.stage, row.name.clone())
}

/// The quarantine prefix the template gives the transform (checked, so the look above is the
/// right one).
fn assert_quarantine_prefix(running: &Running2) {
    let template = &running.d.synthesis.regions[0]
        .stacks
        .iter()
        .find(|s| s.kind == StackKind::Pipeline)
        .unwrap()
        .json;
    let (_, function) = local_run::resources_of(template, "AWS::Lambda::Function")
        .find(|(id, _)| id.as_str() == "Transform")
        .unwrap();
    let prefix = &function["Properties"]["Environment"]["Variables"]
        [lambda_contract::transform::QUARANTINE_PREFIX];
    assert!(
        prefix
            .as_str()
            .is_some_and(|p| p.starts_with("quarantine/")),
        "the transform's quarantine prefix is {prefix}: update `quarantined`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxdb_stopped_for_60_s_is_named_by_verify_and_every_record_is_written_once_back() {
    let captured = Captured::install();
    let binary = std::fs::read(shipped_binary(ArtifactParameter::Transform)).unwrap();
    let mut running = start(&binary).await;

    // Healthy first: the path works.
    running.put(&["AAPL", "MSFT", "NVDA"], 0).await;
    running.wait_for_points(3, Duration::from_secs(60)).await;

    running.influx.stop();
    let stopped = Instant::now();
    let symbols = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOG"];
    for round in 0..4 {
        running.put(&symbols, 10 + round * 10).await;
    }
    let report = running.verify().await;
    assert_eq!(
        first_broken(&report),
        (Stage::Hop, "influxdb".to_owned()),
        "{report}"
    );
    // The outage lasts 60 s; then InfluxDB comes back with its data, on the same port.
    let left = Duration::from_secs(60).saturating_sub(stopped.elapsed());
    tokio::time::sleep(left).await;
    running.influx.restart();

    running
        .wait_for_points(3 + 20, Duration::from_secs(60))
        .await;
    assert!(
        running.discarded().await.is_empty(),
        "{:?}",
        running.discarded().await
    );
    assert!(
        running.quarantined().await.is_empty(),
        "{:?}",
        running.quarantined().await
    );
    let transform_log = running.transform_log.clone();
    let (snapshot, after) = running.stop().await;
    assert_quarantine_prefix(&after);
    // Each point once: 3 before, 20 during the outage (a retried write overwrites its point).
    assert_eq!(points(&after.influx), 3 + 20);
    let log = std::fs::read_to_string(&transform_log).unwrap_or_default();
    assert!(
        snapshot.retried_batches > 0,
        "no batch was retried: {snapshot:?}\n{log}"
    );
    assert_eq!(snapshot.failures, 0, "{snapshot:?}\n{}", captured.text());
    assert!(
        log.contains("InfluxDB write failed; the batch is retried"),
        "the transform did not report the outage:\n{log}"
    );
}

/// A `bootstrap` that exits at once, before asking the Runtime API for work.
const EXITS_AT_INIT: &[u8] = b"#!/bin/sh\necho 'cannot start' >&2\nexit 1\n";

/// Replaces the hosted function's binary, as a new deployment would: the next cold start runs it.
fn replace_binary(path: &std::path::Path, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt as _;
    let temporary = path.with_extension("repaired");
    let mut file = std::fs::File::create(&temporary).unwrap();
    file.write_all(bytes).unwrap();
    drop(file);
    std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transform_that_exits_at_init_is_reported_retried_and_named_by_verify() {
    let captured = Captured::install();
    let binary = std::fs::read(shipped_binary(ArtifactParameter::Transform)).unwrap();
    let running = start(EXITS_AT_INIT).await;

    running.put(&["AAPL", "MSFT", "NVDA"], 0).await;
    let report = running.verify().await;
    assert_eq!(
        first_broken(&report),
        (Stage::Hop, "influxdb".to_owned()),
        "{report}"
    );
    assert_eq!(running.points(), 0);
    // Reported as Lambda reports it, naming the function, never silently.
    let logged = captured.text();
    let reported = logged
        .lines()
        .filter(|l| {
            l.contains("function=\"Transform\"")
                && l.contains("init failed: Runtime.ExitError: Runtime exited with error")
        })
        .count();
    assert!(
        reported >= 2,
        "expected the init failure reported at each retry:\n{logged}"
    );

    // Repaired: the real binary; the trigger's next retry cold-starts it.
    replace_binary(&running.transform_binary, &binary);
    running.wait_for_points(3, Duration::from_secs(60)).await;
    assert!(
        running.discarded().await.is_empty(),
        "{:?}",
        running.discarded().await
    );
    assert!(
        running.quarantined().await.is_empty(),
        "{:?}",
        running.quarantined().await
    );
    let (snapshot, after) = running.stop().await;
    assert_quarantine_prefix(&after);
    assert_eq!(points(&after.influx), 3);
    assert!(
        snapshot.failures >= 2,
        "the init failures are counted: {snapshot:?}"
    );
    assert!(snapshot.retried_batches >= 2, "{snapshot:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_notify_topic_is_named_by_verify_and_its_events_kept_then_redriven_once_repaired()
{
    let captured = Captured::install();
    let binaries: Vec<(ArtifactParameter, Vec<u8>)> = [
        ArtifactParameter::Transform,
        ArtifactParameter::ToParquet,
        ArtifactParameter::Notify,
    ]
    .into_iter()
    .map(|parameter| (parameter, std::fs::read(shipped_binary(parameter)).unwrap()))
    .collect();
    let running = start_with(&binaries).await;
    // The pipeline runs (and its Firehose reads the stream) before the fault.
    running.put(&["AAPL", "MSFT", "NVDA"], 0).await;
    running.wait_for_points(3, Duration::from_secs(60)).await;

    let sns = aws_sdk_sns::Client::new(running.d.aws.sdk_config());
    sns.delete_topic()
        .topic_arn(&running.topic)
        .send()
        .await
        .unwrap();
    // A user's move during the fault: its alert cannot be sent.
    running.put_move("AMZN").await;
    // Firehose buffers 60 s in local.yaml; then to-parquet and notify run within seconds.
    let report = running.verify_for(Duration::from_secs(60 + 90)).await;
    let hops: Vec<(&str, bool)> = report
        .rows
        .iter()
        .filter(|r| r.stage == Stage::Hop)
        .map(|r| (r.name.as_str(), r.outcome == verify::Outcome::Passed))
        .collect();
    assert_eq!(
        hops,
        [
            ("stream", true),
            ("influxdb", true),
            ("raw", true),
            ("curated", true),
            ("alert", false)
        ],
        "{report}"
    );
    assert_eq!(
        first_broken(&report),
        (Stage::Hop, "alert".to_owned()),
        "{report}"
    );
    // The failed publish is reported, naming the function, and after the asynchronous retries
    // (1 s and 2 s apart) the events are kept in notify's dead-letter queue: the canary's and the
    // user's move. verify may end before the retries do: wait for them, bounded.
    let user_key = |key: &str| key.contains("symbol=AMZN/");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let logged = captured.text();
        let reported = logged.lines().any(|l| {
            l.contains("function=\"Notify\"")
                && l.contains("cannot publish")
                && l.contains(&running.topic)
        });
        let kept = running.notify_dead_letter_keys().await;
        if reported
            && kept.iter().any(|k| k.contains("MST-CANARY"))
            && kept.iter().any(|k| user_key(k))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "expected notify's publish error naming the topic, and the canary's and AMZN's Parquet events in its dead-letter queue; kept: {kept:?}; log:\n{logged}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(running.published_alerts().is_empty());

    // Repaired: the topic and its subscription are back; verify passes every hop again.
    running.recreate_alert_topic().await;
    let report = running.verify_for(Duration::from_secs(60 + 90)).await;
    assert!(report.first_broken().is_none(), "{report}");
    let published = running.published_alerts();
    assert!(
        published.iter().any(|m| m.contains("MST-CANARY")),
        "{published:?}"
    );
    assert!(
        !published.iter().any(|m| m.contains("AMZN")),
        "{published:?}"
    );

    // Nothing lost: the user's kept event, redriven (invoked again as Lambda kept it), sends the
    // alert the fault held back. The canary's own kept event is left: verify removed its objects.
    let redriven = running.redrive_notify(user_key).await;
    assert_eq!(redriven.len(), 1, "{redriven:?}");
    assert!(redriven[0].1.is_success(), "{redriven:?}");
    let published = running.published_alerts();
    let alerts = published.iter().filter(|m| m.contains("AMZN")).count();
    assert_eq!(alerts, 1, "{published:?}");
    assert!(
        !running
            .notify_dead_letter_keys()
            .await
            .iter()
            .any(|k| user_key(k)),
        "the redriven event is still in the queue"
    );
    // A second redrive finds nothing of the user's: each alert is sent once.
    assert!(running.redrive_notify(user_key).await.is_empty());
    let (snapshot, _) = running.stop().await;
    assert!(snapshot.failures >= 1, "{snapshot:?}");
}
