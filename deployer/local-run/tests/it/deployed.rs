//! `local` deployed to moto by the engine with fixture artifacts, then prepared and run by
//! `local-run`: every function's environment resolved against the template equals what moto's
//! CloudFormation deployed (the secret moto skipped is provided by the run), the notification
//! rules and mapping settings come from the template, and the buckets' notifications invoke
//! exactly the functions whose filters match.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use lambda_contract::prefixes;
use local_run::{LocalPipeline, RunError, function_environment, resources_of};
use serde_json::Value;
use stacks::pipeline::StackKind;

use crate::common::{deploy, fixture_artifacts, tempfile_dir, workspace};

fn pipeline_template(d: &crate::common::Deployment) -> Value {
    d.synthesis.regions[0]
        .stacks
        .iter()
        .find(|s| s.kind == StackKind::Pipeline)
        .unwrap()
        .json
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_functions_environment_resolves_to_what_was_deployed_and_the_skipped_secret_is_provided()
 {
    let d = deploy(fixture_artifacts()).await;
    let mut options = d.options(tempfile_dir("run"));
    options.secret_value = "local-token".into();
    let pipeline = LocalPipeline::prepare(&options).await.unwrap();
    let template = pipeline_template(&d);
    let lambda = aws_connect::rest::RestClient::new(
        d.aws.sdk_config(),
        "us-east-1",
        aws_connect::rest::LAMBDA,
    );
    let secrets = d.clients().secrets;

    // The secret moto's CloudFormation skipped exists now, under the stack's name, with the value.
    let [secret] = pipeline.provided_secrets() else {
        panic!("{:?}", pipeline.provided_secrets());
    };
    assert_eq!(secret.name, "mst-local-pipeline-InfluxTokenSecret");
    let value = secrets
        .get_secret_value()
        .secret_id(&secret.arn)
        .send()
        .await
        .unwrap();
    assert_eq!(value.secret_string(), Some("local-token"));

    let functions: Vec<(&String, &Value)> =
        resources_of(&template, "AWS::Lambda::Function").collect();
    assert_eq!(functions.len(), 3);
    for (id, function) in functions {
        let ours = function_environment(function, pipeline.resolver()).unwrap();
        let declared: Vec<&String> = function["Properties"]["Environment"]["Variables"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(ours.keys().collect::<Vec<_>>(), declared, "{id}");
        let host = &pipeline.functions()[id];
        let config = host.config();
        let path = format!(
            "/2015-03-31/functions/{}/configuration",
            aws_connect::rest::segment(&config.name)
        );
        let deployed = lambda
            .call(
                "GetFunctionConfiguration",
                aws_connect::rest::Get::path(path),
            )
            .await
            .unwrap();
        let deployed_env: BTreeMap<String, String> =
            serde_json::from_value(deployed["Environment"]["Variables"].clone())
                .unwrap_or_default();
        for (name, value) in &ours {
            if name == lambda_contract::transform::INFLUX_TOKEN_SECRET_ARN {
                assert_eq!(value, &secret.arn, "{id}");
            } else {
                assert_eq!(Some(value), deployed_env.get(name), "{id} {name}");
            }
            assert_eq!(config.environment.get(name), Some(value), "{id} {name}");
        }
        assert_eq!(
            Some(config.timeout.as_secs()),
            deployed["Timeout"].as_u64(),
            "{id}"
        );
        assert_eq!(
            Some(i64::from(config.memory_mb)),
            deployed["MemorySize"].as_i64(),
            "{id}"
        );
        assert_eq!(config.environment["AWS_LAMBDA_FUNCTION_NAME"], config.name);
        assert_eq!(config.environment["AWS_ENDPOINT_URL"], d.moto.endpoint());
        assert_eq!(config.environment["AWS_REGION"], "us-east-1");
        assert_eq!(config.environment["AWS_LAMBDA_LOG_FORMAT"], "JSON");
        // The deployed artifact, unzipped: the fixture script.
        assert_eq!(
            std::fs::read_to_string(&config.binary).unwrap(),
            crate::common::ECHO_BOOTSTRAP
        );
    }

    // Notifications from the template: raw/ to to-parquet, quotes/*.parquet to notify.
    let rules: Vec<(&str, &str, &str, &str)> = pipeline
        .rules()
        .iter()
        .map(|r| {
            let function = pipeline
                .functions()
                .iter()
                .find(|(_, h)| h.config().arn == r.function_arn)
                .map(|(id, _)| id.as_str())
                .unwrap();
            (
                r.event.as_str(),
                r.prefix.as_str(),
                r.suffix.as_str(),
                function,
            )
        })
        .collect();
    let mut rules = rules;
    rules.sort_by_key(|r| r.3);
    assert_eq!(
        rules,
        [
            ("s3:ObjectCreated:*", prefixes::QUOTES, ".parquet", "Notify"),
            ("s3:ObjectCreated:*", prefixes::RAW, "", "ToParquet"),
        ]
    );
    // The mapping's settings are the environment's.
    let t = &d.env.transform;
    let summary = pipeline.summary();
    assert!(
        summary.contains(&format!(
            "batch {} / window {} s, ReportBatchItemFailures true, bisect true, retries {}, max age {} s",
            t.batch_size, t.batching_window_seconds, t.maximum_retry_attempts, t.maximum_record_age_seconds
        )),
        "{summary}"
    );
    assert!(summary.contains("function Transform ("), "{summary}");
    assert!(
        summary.contains(&format!(
            "timeout {} s, memory {} MB",
            t.timeout_seconds, t.memory_mb
        )),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_without_an_emulator_is_refused() {
    let d = deploy(fixture_artifacts()).await;
    let mut options = d.options(tempfile_dir("run"));
    options.env = environment::load(&workspace().join("environments/prod.yaml")).unwrap();
    let error = LocalPipeline::prepare(&options).await.err().unwrap();
    assert!(
        matches!(error, RunError::NotEmulator(ref name) if name == "prod"),
        "{error}"
    );
    assert!(
        error.to_string().contains("no `emulator:` section"),
        "{error}"
    );
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_objects_invoke_the_functions_whose_filters_match_and_stream_records_reach_transform() {
    let d = deploy(fixture_artifacts()).await;
    let run_dir = tempfile_dir("run");
    let pipeline = LocalPipeline::prepare(&d.options(run_dir.clone()))
        .await
        .unwrap();
    let bucket_of = |prefix: &str| {
        pipeline
            .rules()
            .iter()
            .find(|r| r.prefix == prefix)
            .unwrap()
            .bucket
            .clone()
    };
    let (raw, curated) = (bucket_of(prefixes::RAW), bucket_of(prefixes::QUOTES));
    let stream = pipeline
        .resolver()
        .resolve(&serde_json::json!({"Ref": resources_of(&pipeline_template(&d), "AWS::Kinesis::Stream").next().unwrap().0}))
        .unwrap();
    let clients = d.clients();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(async move {
        let mut view = local_run::view::View::Plain { last: None };
        pipeline.run(stop, &mut view).await
    });
    // The listing's first pass takes what exists as already seen.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let put = |bucket: &str, key: &str| {
        let (s3, bucket, key) = (clients.s3.clone(), bucket.to_owned(), key.to_owned());
        async move {
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(b"x".to_vec().into())
                .send()
                .await
                .unwrap();
        }
    };
    put(&raw, "raw/symbol=AAPL/dt=2026-11-27/part 1.gz").await;
    put(&raw, "quarantine/transform/x.json").await;
    put(&curated, "quotes/symbol=AAPL/dt=2026-11-27/a.parquet").await;
    put(&curated, "quotes/symbol=AAPL/dt=2026-11-27/a.json").await;
    put(&curated, "state/notify/AAPL.json").await;
    clients
        .kinesis
        .put_record()
        .stream_name(&stream)
        .partition_key("AAPL")
        .data(aws_smithy_types::Blob::new(&b"hello"[..]))
        .send()
        .await
        .unwrap();
    let events = |id: &str| lines(&run_dir.join(id).join("events"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while events("ToParquet").is_empty()
        || events("Notify").is_empty()
        || events("Transform").is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "no events: {:?} {:?} {:?}",
            events("ToParquet"),
            events("Notify"),
            events("Transform")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Longer than a listing interval: a non-matching object would have been delivered by now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop_tx.send(true).unwrap();
    let snapshot = run.await.unwrap().unwrap();

    let to_parquet = events("ToParquet");
    assert_eq!(to_parquet.len(), 1, "{to_parquet:?}");
    let event: aws_lambda_events::event::s3::S3Event =
        serde_json::from_str(&to_parquet[0]).unwrap();
    assert_eq!(
        event.records[0].s3.bucket.name.as_deref(),
        Some(raw.as_str())
    );
    assert_eq!(
        event.records[0].s3.object.key.as_deref(),
        Some("raw/symbol%3DAAPL/dt%3D2026-11-27/part+1.gz")
    );
    let notify = events("Notify");
    assert_eq!(notify.len(), 1, "{notify:?}");
    assert!(
        notify[0].contains("quotes/symbol%3DAAPL/dt%3D2026-11-27/a.parquet"),
        "{notify:?}"
    );
    let transform = events("Transform");
    assert_eq!(transform.len(), 1, "{transform:?}");
    let event: aws_lambda_events::event::kinesis::KinesisEvent =
        serde_json::from_str(&transform[0]).unwrap();
    assert_eq!(event.records[0].kinesis.data.0, b"hello");
    assert_eq!(event.records[0].kinesis.partition_key, "AAPL");
    // As Lambda sends it: the arrival time is a number of seconds, not a string.
    let raw_event: Value = serde_json::from_str(&transform[0]).unwrap();
    assert!(raw_event["Records"][0]["kinesis"]["approximateArrivalTimestamp"].is_f64());

    assert_eq!(snapshot.processed, 1);
    let mut objects = snapshot.objects.clone();
    objects.sort();
    assert_eq!(
        objects,
        [
            ("CuratedBucket quotes/*.parquet → Notify".to_owned(), 1),
            ("RawBucket raw/* → ToParquet".to_owned(), 1),
        ]
    );
    assert_eq!(snapshot.failures, 0);
}

/// moto's `/moto-api/data.json` (where the run counts alerts) answered 500 once a Lambda function
/// existed (its `docker_client` raised without Docker); testkit's `sitecustomize.py` makes it skip
/// that attribute. It answers with the functions deployed and after the run prepared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulators_data_dump_answers_once_functions_are_deployed() {
    let d = deploy(fixture_artifacts()).await;
    let data: Value = serde_json::from_str(&d.moto.data_json()).unwrap();
    let functions: std::collections::BTreeSet<&str> = data["awslambda"]["LambdaFunction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["function_name"].as_str().unwrap())
        .collect();
    assert_eq!(functions.len(), 3, "{functions:?}");
    let _pipeline = LocalPipeline::prepare(&d.options(tempfile_dir("run")))
        .await
        .unwrap();
    let after_prepare = d.moto.data_json();
    assert!(
        serde_json::from_str::<Value>(&after_prepare).is_ok(),
        "{}",
        &after_prepare[..after_prepare.len().min(2000)]
    );
}

/// moto runs a Kinesis event source mapping itself: for each record put on a mapped stream it
/// invokes the function in Docker, and without Docker each attempt failed slowly and stored
/// "error running docker" in the function's logs (moto's Kinesis took ~20 ms a record: the local
/// pipeline's bottleneck). testkit's `sitecustomize.py` skips the attempt when Docker does not
/// answer (`deployer run` is the mapping): records put leave no such log event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_put_on_the_mapped_stream_do_not_make_moto_try_docker() {
    let d = deploy(fixture_artifacts()).await;
    let data: Value = serde_json::from_str(&d.moto.data_json()).unwrap();
    let mappings = data["awslambda"]["EventSourceMapping"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(
        mappings >= 1,
        "moto holds no event source mapping: nothing to skip"
    );
    let pipeline = LocalPipeline::prepare(&d.options(tempfile_dir("run")))
        .await
        .unwrap();
    let template = &d.synthesis.regions[0]
        .stacks
        .iter()
        .find(|s| s.kind == StackKind::Pipeline)
        .unwrap()
        .json;
    let stream_id = resources_of(template, "AWS::Kinesis::Stream")
        .next()
        .unwrap()
        .0;
    let stream = pipeline
        .resolver()
        .resolve(&serde_json::json!({ "Ref": stream_id }))
        .unwrap();
    let records: Vec<_> = (0..20)
        .map(|i| {
            aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                .partition_key(format!("S{i}"))
                .data(aws_smithy_types::Blob::new(format!("{{\"n\":{i}}}")))
                .build()
                .unwrap()
        })
        .collect();
    let answer = d
        .clients()
        .kinesis
        .put_records()
        .stream_name(&stream)
        .set_records(Some(records))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.failed_record_count(), Some(0));
    let data: Value = serde_json::from_str(&d.moto.data_json()).unwrap();
    let docker_errors: Vec<&Value> = data["logs"]["LogEvent"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("error running docker"))
        })
        .collect();
    assert!(docker_errors.is_empty(), "{docker_errors:?}");
}
