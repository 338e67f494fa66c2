//! The delivery stream read from the templates `stacks` synthesizes for each shipped environment,
//! and the contract with to-parquet: the objects the emulation writes for the `local` template are
//! ones the raw bucket's notification hands to to-parquet, whose own key handling and reader
//! accept them, into the partition the Firehose prefix names.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::collections::BTreeMap;
use std::io::Read as _;

use serde_json::Value;

use super::*;

fn template(env_name: &str, partitioning: Option<bool>) -> Value {
    let path = format!(
        "{}/../../environments/{env_name}.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut env = environment::load(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{e}"));
    if let Some(on) = partitioning {
        env.firehose.dynamic_partitioning = on;
        if !on {
            env.firehose.buffering_mb = 5;
        }
    }
    let stacks = stacks::pipeline::stacks(&env, env.canary_region()).unwrap();
    stacks
        .into_iter()
        .find(|s| s.kind == stacks::pipeline::StackKind::Pipeline)
        .unwrap()
        .template
        .to_json()
        .unwrap()
}

fn resource<'a>(template: &'a Value, kind: &str) -> (&'a String, &'a Value) {
    let found: Vec<_> = template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect();
    assert_eq!(found.len(), 1, "one {kind}");
    found[0]
}

/// Physical values as a deployed stack would give them (the runner resolves from its stack).
fn physical(logical: &str) -> String {
    match logical {
        "AWS::Partition" => "aws".into(),
        "AWS::Region" => "us-east-1".into(),
        "AWS::AccountId" => "123456789012".into(),
        "QuoteStream" => "mst-local-quotes".into(),
        "RawBucket" => "mst-local-raw-123456789012-us-east-1".into(),
        "DataKey" => "0f1e2d3c-aaaa-bbbb-cccc-000000000000".into(),
        other => format!("{other}-physical"),
    }
}

/// `Ref`, `Fn::GetAtt` (`Arn`) and `Fn::Sub` over [`physical`].
fn resolve(value: &Value) -> Option<String> {
    if let Some(id) = value.get("Ref").and_then(Value::as_str) {
        return Some(physical(id));
    }
    if let Some(parts) = value.get("Fn::GetAtt").and_then(Value::as_array) {
        return Some(format!(
            "arn:aws:iam::123456789012:role/{}",
            physical(parts[0].as_str()?)
        ));
    }
    let mut text = value.get("Fn::Sub")?.as_str()?.to_owned();
    while let Some(start) = text.find("${") {
        let end = start + text[start..].find('}')?;
        let name = text[start + 2..end].to_owned();
        text.replace_range(start..=end, &physical(&name));
    }
    Some(text)
}

fn config_of(template: &Value) -> DeliveryConfig {
    let (_, stream) = resource(template, "AWS::KinesisFirehose::DeliveryStream");
    DeliveryConfig::from_resource(&stream["Properties"], &resolve).unwrap_or_else(|e| panic!("{e}"))
}

/// The emulation without AWS: records through routing and buffers, every buffer written at the
/// end; (key, object body) in write order.
fn deliver_offline(
    config: &DeliveryConfig,
    records: &[(&[u8], DateTime)],
) -> Vec<(String, Vec<u8>)> {
    let mut buffers = Buffers::new(config.buffering);
    let mut out = Vec::new();
    let mut write = |batch: buffer::Batch| {
        let key = object::key(config, &batch);
        out.push((
            key,
            object::encode(&batch.body, config.compression).unwrap(),
        ));
    };
    for (data, arrival) in records {
        let record = SourceRecord {
            data: data.to_vec(),
            arrival: *arrival,
        };
        let routed = route(config, &record);
        if let Some(full) = buffers.add(
            routed.partition,
            routed.destination,
            &routed.body,
            *arrival,
            Instant::now(),
        ) {
            write(full);
        }
    }
    for batch in buffers.drain() {
        write(batch);
    }
    out
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// A valid quote record (no trailing newline, as the scraper writes it), priced a minute ago so
/// that the time-sanity rule accepts it.
fn quote(symbol: &str, price: f64) -> (String, quote_record::Timestamp) {
    let market_time = quote_record::Timestamp::from_unix_nanos(
        quote_record::Timestamp::now().unix_nanos() - 60_000_000_000,
    );
    let record = format!(
        r#"{{"v":1,"symbol":"{symbol}","price":{price},"currency":"USD","change_pct":0.5,"volume":100,"market_time":"{market_time}","scraped_at":"{market_time}","source":"contract-test"}}"#
    );
    (record, market_time)
}

#[test]
fn every_shipped_environment_s_delivery_stream_is_emulated_as_written() {
    for name in ["local", "dev", "prod"] {
        let template = template(name, None);
        let config = config_of(&template);
        let (_, stream) = resource(&template, "AWS::KinesisFirehose::DeliveryStream");
        let s3 = &stream["Properties"]["ExtendedS3DestinationConfiguration"];
        assert_eq!(config.stream_name, physical("QuoteStream"), "{name}");
        assert_eq!(config.bucket, physical("RawBucket"), "{name}");
        assert_eq!(
            config.prefix.as_str(),
            s3["Prefix"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            config.error_output_prefix.as_ref().unwrap().as_str(),
            s3["ErrorOutputPrefix"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            config.buffering.size_bytes,
            s3["BufferingHints"]["SizeInMBs"].as_u64().unwrap() << 20,
            "{name}"
        );
        assert_eq!(
            config.buffering.interval.as_secs(),
            s3["BufferingHints"]["IntervalInSeconds"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(config.compression, Compression::Gzip, "{name}");
        assert_eq!(config.delimiter.as_deref(), Some(&b"\n"[..]), "{name}");
        assert_eq!(
            config.kms_key_arn.as_deref(),
            Some("arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-aaaa-bbbb-cccc-000000000000"),
            "{name}"
        );
        let partitioning = config
            .partitioning
            .as_ref()
            .expect("every environment partitions");
        assert_eq!(
            partitioning.query.as_str(),
            s3["ProcessingConfiguration"]["Processors"][0]["Parameters"][0]["ParameterValue"]
                .as_str()
                .unwrap()
        );
        assert_eq!(
            partitioning.retry.as_secs(),
            s3["DynamicPartitioningConfiguration"]["RetryOptions"]["DurationInSeconds"]
                .as_u64()
                .unwrap()
        );
        assert_eq!(config.start, StartPosition::Latest);
    }
    // Without dynamic partitioning the stacks write another prefix and no query: read too.
    let config = config_of(&template("local", Some(false)));
    assert!(config.partitioning.is_none());
    assert_eq!(config.prefix.as_str(), "raw/dt=!{timestamp:yyyy-MM-dd}/");
    assert_eq!(config.delimiter.as_deref(), Some(&b"\n"[..]));
}

/// The raw bucket's notification filter for to-parquet, from the template: (prefix, suffix).
fn to_parquet_filter(template: &Value) -> (String, String) {
    let bucket = &template["Resources"]["RawBucket"]["Properties"];
    let configs = bucket["NotificationConfiguration"]["LambdaConfigurations"]
        .as_array()
        .unwrap();
    let to_parquet = configs
        .iter()
        .find(|c| c["Function"]["Fn::GetAtt"][0] == "ToParquet")
        .unwrap();
    assert_eq!(to_parquet["Event"], "s3:ObjectCreated:*");
    let mut filter = (String::new(), String::new());
    for rule in to_parquet["Filter"]["S3Key"]["Rules"].as_array().unwrap() {
        let value = rule["Value"].as_str().unwrap().to_owned();
        match rule["Name"].as_str().unwrap() {
            "prefix" => filter.0 = value,
            "suffix" => filter.1 = value,
            other => panic!("unknown filter rule {other}"),
        }
    }
    filter
}

#[test]
fn objects_for_the_local_template_are_what_to_parquet_reads_in_the_partition_they_name() {
    let template = template("local", None);
    let config = config_of(&template);
    let now = DateTime::from(std::time::SystemTime::now());
    let (aapl1, market_time) = quote("AAPL", 189.25);
    let (brk, _) = quote("BRK.B", 412.5);
    let (aapl2, _) = quote("AAPL", 189.5);
    let objects = deliver_offline(
        &config,
        &[
            (aapl1.as_bytes(), now),
            (brk.as_bytes(), now),
            (aapl2.as_bytes(), now),
        ],
    );
    assert_eq!(objects.len(), 2, "one object per partition");
    let (prefix, suffix) = to_parquet_filter(&template);
    let date = &market_time.to_string()[..10];
    let mut expected: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    expected.insert("AAPL", vec![&aapl1, &aapl2]);
    expected.insert("BRK.B", vec![&brk]);
    for (key, body) in &objects {
        // The raw bucket's notification hands the object to to-parquet...
        assert!(key.starts_with(&prefix) && key.ends_with(&suffix), "{key}");
        assert!(key.starts_with(lambda_contract::prefixes::RAW), "{key}");
        // ...as an event key that to-parquet's decoding gives back...
        assert_eq!(
            lambda_support::s3_event_key(&testkit::s3::event_key(key)).unwrap(),
            *key
        );
        // ...named after the Firehose object (`<name>-1-<time>-<uuid>` without `.gz`).
        let file = key.rsplit('/').next().unwrap();
        let stem = to_parquet::layout::output_stem(&config.bucket, key);
        assert!(file.ends_with(".gz"), "{key}");
        assert!(
            stem.starts_with(&format!("{}-", file.strip_suffix(".gz").unwrap())),
            "{stem}"
        );
        assert!(file.starts_with(&format!("{}-1-", config.name)), "{file}");

        // The gunzipped body is the records, newline-delimited, in arrival order.
        let text = String::from_utf8(gunzip(body)).unwrap();
        let symbol = key
            .split("symbol=")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines, expected[symbol], "{key}");
        assert!(text.ends_with('\n'));
        assert!(
            key.starts_with(&format!("raw/symbol={symbol}/dt={date}/")),
            "{key}"
        );

        // to-parquet's reader takes every record, into the partition the raw key names.
        let mut converter = to_parquet::Converter::new(to_parquet::Options::new(
            format!("s3://{}/{key}", config.bucket),
            quote_record::Timestamp::now(),
        ));
        converter.push(body).unwrap();
        let finished = converter.finish().unwrap();
        let stats = finished.stats();
        assert!(stats.gzip);
        assert_eq!(
            (stats.valid, stats.invalid),
            (lines.len() as u64, 0),
            "{key}"
        );
        let outputs: Vec<_> = finished.map(|(output, _)| output).collect();
        assert_eq!(outputs.len(), 1);
        let to_parquet::Output::Partition(partition) = &outputs[0] else {
            panic!("{key}: {outputs:?}")
        };
        assert!(
            key.starts_with(&format!("raw/{}/", partition.path())),
            "{key} vs {}",
            partition.path()
        );
    }
}

#[test]
fn records_without_partition_keys_go_under_the_error_prefix_as_error_documents() {
    let config = config_of(&template("local", None));
    // 2026-11-27T09:05:03.250Z.
    let arrival = DateTime::from_millis(1_795_770_303_250);
    let (good, _) = quote("MSFT", 420.0);
    let no_symbol = br#"{"v":1,"price":1.0,"market_time":"2026-11-27T09:00:00Z"}"#;
    let objects = deliver_offline(
        &config,
        &[
            (b"not json at all", arrival),
            (good.as_bytes(), arrival),
            (no_symbol, arrival),
        ],
    );
    let errors: Vec<_> = objects
        .iter()
        .filter(|(k, _)| k.starts_with("errors/"))
        .collect();
    assert_eq!(errors.len(), 1, "{objects:?}");
    let (key, body) = errors[0];
    assert!(
        key.starts_with(&format!(
            "errors/{METADATA_EXTRACTION_FAILED}/dt=2026-11-27/{}-1-2026-11-27-09-05-03-",
            config.name
        )),
        "{key}"
    );
    assert!(key.ends_with(".gz"));
    let text = String::from_utf8(gunzip(body)).unwrap();
    let documents: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(documents.len(), 2);
    let raw: Vec<Vec<u8>> = documents
        .iter()
        .map(|d| aws_smithy_types::base64::decode(d["rawData"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(raw, [b"not json at all".to_vec(), no_symbol.to_vec()]);
    for d in &documents {
        assert_eq!(d["errorCode"], partition::METADATA_EXTRACTION_FAILED);
        assert_eq!(d["arrivalTimestamp"], 1_795_770_303_250_i64);
        assert_eq!(d["attemptsMade"], 1);
    }
    assert_eq!(documents[0]["errorMessage"], "Non JSON record provided");
    assert_eq!(
        documents[1]["errorMessage"],
        "partitionKeys values must not be null or empty"
    );
    let data: Vec<_> = objects
        .iter()
        .filter(|(k, _)| k.starts_with("raw/"))
        .collect();
    assert_eq!(data.len(), 1);
}

#[test]
fn without_partitioning_one_buffer_takes_every_record_under_the_oldest_arrival_date() {
    let config = config_of(&template("local", Some(false)));
    let late = DateTime::from_millis(1_795_770_303_250);
    let early = DateTime::from_millis(1_795_770_303_250 - 86_400_000);
    let (a, _) = quote("A", 1.0);
    let (b, _) = quote("B", 2.0);
    let objects = deliver_offline(&config, &[(a.as_bytes(), late), (b.as_bytes(), early)]);
    assert_eq!(objects.len(), 1);
    assert!(
        objects[0].0.starts_with(&format!(
            "raw/dt=2026-11-26/{}-1-2026-11-26-09-05-03-",
            config.name
        )),
        "{}",
        objects[0].0
    );
    assert_eq!(
        String::from_utf8(gunzip(&objects[0].1)).unwrap(),
        format!("{a}\n{b}\n")
    );
}
