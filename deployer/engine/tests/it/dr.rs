//! Disaster recovery at the SDK layer, with `aws-smithy-mocks` (moto has no CloudWatch metrics
//! API, and its GetBucketReplication is tested end to end elsewhere): `dr status` reads each
//! bucket's replication configuration and its lag and backlog from real-shaped responses; the
//! replica key is found by its alias; `up` deploys the DR region's stack before anything else and
//! starts no region when it fails.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test, with its message.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{MetricDataResult, StatusCode};
use aws_sdk_s3::operation::get_bucket_replication::{
    GetBucketReplicationError, GetBucketReplicationOutput,
};
use aws_sdk_s3::types::{
    DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, EncryptionConfiguration,
    Metrics, MetricsStatus, ReplicationConfiguration, ReplicationRule, ReplicationRuleFilter,
    ReplicationRuleStatus, ReplicationTime, ReplicationTimeStatus, ReplicationTimeValue,
};
use aws_smithy_mocks::{Rule, mock};
use engine::aws::RegionClients;
use engine::dr;
use environment::{Environment, Region};

/// Builds a client of any service crate over mock rules.
macro_rules! client {
    ($krate:ident, $rules:expr) => {
        testkit::mock_client!($krate, $rules, |c: $krate::config::Builder| c
            .retry_config($krate::config::retry::RetryConfig::disabled()))
    };
}

fn prod() -> Environment {
    environment::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments/prod.yaml"),
    )
    .unwrap()
}

const ACCOUNT: &str = "444455556666";
const REPLICA_KEY: &str =
    "arn:aws:kms:eu-north-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn clients(
    region: &str,
    s3: &[&Rule],
    cloudwatch: &[&Rule],
    kms: aws_connect::json::JsonClient,
) -> RegionClients {
    let region: Region = prod()
        .regions
        .into_iter()
        .chain(prod().dr.map(|d| d.region))
        .find(|r| r.as_str() == region)
        .unwrap();
    RegionClients {
        region,
        cloudformation: client!(aws_sdk_cloudformation, Vec::<&Rule>::new()),
        s3: client!(aws_sdk_s3, s3.iter().copied()),
        kms,
        sns: client!(aws_sdk_sns, Vec::<&Rule>::new()),
        secretsmanager: client!(aws_sdk_secretsmanager, Vec::<&Rule>::new()),
        sts: client!(aws_sdk_sts, Vec::<&Rule>::new()),
        cloudwatch: client!(aws_sdk_cloudwatch, cloudwatch.iter().copied()),
        ssm: crate::ssm::unused(),
        autoscaling: crate::autoscaling::unused(),
        credentials: "profile `ci`".to_owned(),
    }
}

/// GetBucketReplication as S3 answers it for a bucket `up` configured.
fn replication_of(purpose: &str) -> GetBucketReplicationOutput {
    let rule = ReplicationRule::builder()
        .id("ReplicateToDr")
        .priority(1)
        .status(ReplicationRuleStatus::Enabled)
        .filter(ReplicationRuleFilter::builder().prefix("").build())
        .delete_marker_replication(
            DeleteMarkerReplication::builder()
                .status(DeleteMarkerReplicationStatus::Disabled)
                .build(),
        )
        .destination(
            Destination::builder()
                .bucket(format!(
                    "arn:aws:s3:::mst-prod-{purpose}-dr-{ACCOUNT}-eu-west-1"
                ))
                .encryption_configuration(
                    EncryptionConfiguration::builder()
                        .replica_kms_key_id(REPLICA_KEY)
                        .build(),
                )
                .replication_time(
                    ReplicationTime::builder()
                        .status(ReplicationTimeStatus::Enabled)
                        .time(ReplicationTimeValue::builder().minutes(15).build())
                        .build()
                        .unwrap(),
                )
                .metrics(
                    Metrics::builder()
                        .status(MetricsStatus::Enabled)
                        .event_threshold(ReplicationTimeValue::builder().minutes(15).build())
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    GetBucketReplicationOutput::builder()
        .replication_configuration(
            ReplicationConfiguration::builder()
                .role(format!(
                    "arn:aws:iam::{ACCOUNT}:role/mst-prod-pipeline-ReplicationRole-AbCdEf"
                ))
                .rules(rule)
                .build()
                .unwrap(),
        )
        .build()
}

/// GetMetricData as CloudWatch answers it: each query's datapoints, newest first, per minute.
fn metric_data(latency: &[f64], bytes: &[f64], operations: &[f64]) -> GetMetricDataOutput {
    let result = |id: &str, label: &str, values: &[f64]| {
        let now = 1_765_000_000;
        MetricDataResult::builder()
            .id(id)
            .label(label)
            .set_timestamps(Some(
                (0..values.len() as i64)
                    .map(|i| DateTime::from_secs(now - 60 * i))
                    .collect(),
            ))
            .set_values(Some(values.to_vec()))
            .status_code(StatusCode::Complete)
            .build()
    };
    GetMetricDataOutput::builder()
        .metric_data_results(result("m0", "ReplicationLatency", latency))
        .metric_data_results(result("m1", "BytesPendingReplication", bytes))
        .metric_data_results(result("m2", "OperationsPendingReplication", operations))
        .build()
}

/// A GetMetricData request for the rule from `purpose`'s bucket in eu-west-1 to its replica:
/// the three metrics, with all three dimensions, per minute, over the window before `now`.
fn asks_for_the_rule_of(
    request: &aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataInput,
    purpose: &str,
    now: SystemTime,
) -> bool {
    let queries = request.metric_data_queries();
    let names: Vec<&str> = queries
        .iter()
        .filter_map(|q| q.metric_stat()?.metric()?.metric_name())
        .collect();
    let dimensions_ok = queries.iter().all(|q| {
        let stat = q.metric_stat().unwrap();
        let metric = stat.metric().unwrap();
        let dims: Vec<(&str, &str)> = metric
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap(), d.value().unwrap()))
            .collect();
        metric.namespace() == Some("AWS/S3")
            && stat.period() == Some(60)
            && dims
                == [
                    (
                        "SourceBucket",
                        format!("mst-prod-{purpose}-{ACCOUNT}-eu-west-1").as_str(),
                    ),
                    (
                        "DestinationBucket",
                        format!("mst-prod-{purpose}-dr-{ACCOUNT}-eu-west-1").as_str(),
                    ),
                    ("RuleId", "ReplicateToDr"),
                ]
    });
    let window = request
        .start_time()
        .zip(request.end_time())
        .is_some_and(|(start, end)| {
            end.secs() - start.secs() == dr::METRICS_WINDOW.as_secs() as i64
                && end.secs() == DateTime::from(now).secs()
        });
    names
        == [
            "ReplicationLatency",
            "BytesPendingReplication",
            "OperationsPendingReplication",
        ]
        && dimensions_ok
        && window
}

#[tokio::test]
async fn status_reads_back_each_buckets_rule_and_its_lag_and_backlog() {
    let env = prod();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_765_000_030);
    let raw = mock!(aws_sdk_s3::Client::get_bucket_replication)
        .match_requests(|r| r.bucket() == Some("mst-prod-raw-444455556666-eu-west-1"))
        .then_output(|| replication_of("raw"));
    let curated = mock!(aws_sdk_s3::Client::get_bucket_replication)
        .match_requests(|r| r.bucket() == Some("mst-prod-curated-444455556666-eu-west-1"))
        .then_output(|| replication_of("curated"));
    let raw_metrics = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(move |r| asks_for_the_rule_of(r, "raw", now))
        .then_output(|| metric_data(&[42.0, 61.0, 30.0], &[1024.0, 0.0], &[3.0, 0.0]));
    let curated_metrics = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(move |r| asks_for_the_rule_of(r, "curated", now))
        .then_output(|| metric_data(&[], &[], &[]));
    let clients = clients(
        "eu-west-1",
        &[&raw, &curated],
        &[&raw_metrics, &curated_metrics],
        crate::kms::unused(),
    );
    let status = dr::region_status(&clients, &env, now).await.unwrap();
    assert_eq!(status.len(), 2);
    let (raw_status, curated_status) = (&status[0], &status[1]);
    assert_eq!(raw_status.purpose, "raw");
    assert_eq!(raw_status.replica, "mst-prod-raw-dr-444455556666-eu-west-1");
    let config = raw_status.configuration.as_ref().unwrap();
    assert_eq!(config.rule_id.as_deref(), Some("ReplicateToDr"));
    assert_eq!(config.status, "Enabled");
    assert_eq!(config.replica_key.as_deref(), Some(REPLICA_KEY));
    assert_eq!(config.replication_time.as_deref(), Some("Enabled"));
    assert_eq!(config.metrics.as_deref(), Some("Enabled"));
    assert_eq!(
        config.delete_marker_replication.as_deref(),
        Some("Disabled")
    );
    // The newest datapoint of each metric.
    assert_eq!(raw_status.metrics.latency_seconds, Some(42.0));
    assert_eq!(raw_status.metrics.bytes_pending, Some(1024.0));
    assert_eq!(raw_status.metrics.operations_pending, Some(3.0));
    assert!(
        raw_status.problems(&env).is_empty(),
        "{:?}",
        raw_status.problems(&env)
    );
    // No datapoints: nothing written lately, which is no problem.
    assert_eq!(curated_status.metrics, dr::Metrics::default());
    assert!(curated_status.problems(&env).is_empty());
    assert_eq!(raw.num_calls() + curated.num_calls(), 2);
    assert_eq!(raw_metrics.num_calls() + curated_metrics.num_calls(), 2);
}

#[tokio::test]
async fn a_lag_at_the_rpo_and_a_missing_configuration_are_problems() {
    let env = prod();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_765_000_030);
    let raw = mock!(aws_sdk_s3::Client::get_bucket_replication)
        .match_requests(|r| r.bucket() == Some("mst-prod-raw-444455556666-eu-west-1"))
        .then_output(|| replication_of("raw"));
    let curated = mock!(aws_sdk_s3::Client::get_bucket_replication)
        .match_requests(|r| r.bucket() == Some("mst-prod-curated-444455556666-eu-west-1"))
        .then_error(|| {
            // S3's answer for a bucket without replication: 404 with this code.
            GetBucketReplicationError::generic(
                aws_sdk_s3::error::ErrorMetadata::builder()
                    .code("ReplicationConfigurationNotFoundError")
                    .message("The replication configuration was not found")
                    .build(),
            )
        });
    // prod's RPO is 15 minutes: 900 s of lag is at the objective.
    let metrics = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .then_output(|| metric_data(&[900.0], &[5.0e6], &[250.0]));
    let clients = clients(
        "eu-west-1",
        &[&raw, &curated],
        &[&metrics],
        crate::kms::unused(),
    );
    let status = dr::region_status(&clients, &env, now).await.unwrap();
    let problems = status[0].problems(&env);
    assert_eq!(
        problems,
        ["replication lags 900 s, at or over the RPO of 15 min"]
    );
    assert_eq!(status[1].configuration, None);
    let problems = status[1].problems(&env);
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].contains("has no replication configuration: run `deployer up --env prod`"),
        "{problems:?}"
    );
}

fn alias(name: &str, key: &str) -> serde_json::Value {
    serde_json::json!({
        "AliasName": name,
        "AliasArn": format!("arn:aws:kms:eu-north-1:{ACCOUNT}:{name}"),
        "TargetKeyId": key,
    })
}

#[tokio::test]
async fn the_replica_key_is_found_by_its_alias_in_the_dr_region() {
    let env = prod();
    // Two pages, as ListAliases returns them: the alias is on the second.
    let pages = crate::kms::answering(|operation, input| {
        assert_eq!(operation, "ListAliases");
        let page = match input["Marker"].as_str() {
            None => serde_json::json!({
                "Aliases": [alias("alias/aws/s3", "0000aaaa-0000-4000-8000-000000000000")],
                "Truncated": true,
                "NextMarker": "page-2",
            }),
            Some("page-2") => serde_json::json!({
                "Aliases": [
                    alias("alias/mst-prod-data", "1111bbbb-0000-4000-8000-000000000000"),
                    alias("alias/mst-prod-replica", "1234abcd-12ab-34cd-56ef-1234567890ab"),
                ],
                "Truncated": false,
            }),
            Some(other) => return crate::kms::error("InvalidMarkerException", other),
        };
        (200, page)
    });
    let clients_found = clients("eu-north-1", &[], &[], pages.client.clone());
    assert_eq!(
        dr::replica_key_arn(&clients_found, &env)
            .await
            .unwrap()
            .as_deref(),
        Some(REPLICA_KEY)
    );
    assert_eq!(pages.requests().len(), 2);
    let none = crate::kms::answering(|_, _| {
        let page = serde_json::json!({
            "Aliases": [alias("alias/aws/s3", "0000aaaa-0000-4000-8000-000000000000")],
            "Truncated": false,
        });
        (200, page)
    });
    let clients_missing = clients("eu-north-1", &[], &[], none.client.clone());
    assert_eq!(
        dr::replica_key_arn(&clients_missing, &env).await.unwrap(),
        None
    );
    let denied = crate::kms::answering(|_, _| {
        crate::kms::error(
            "AccessDeniedException",
            "not authorized to perform kms:ListAliases",
        )
    });
    let clients_denied = clients("eu-north-1", &[], &[], denied.client.clone());
    let error = dr::replica_key_arn(&clients_denied, &env)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("ListAliases (looking for alias/mst-prod-replica)"),
        "{error}"
    );
}

#[tokio::test]
async fn a_region_in_another_account_reads_its_own_buckets_and_names_the_dr_accounts_replicas() {
    // eu-west-1 in a second account; the DR region (eu-north-1) stays in prod's `account`.
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments/prod.yaml");
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replacen(
            "deploy:\n",
            "deploy:\n  accounts:\n    eu-west-1: \"777788889999\"\n",
            1,
        )
        // The region's VPN certificates are in its own account (ACM certificates are not shared).
        .replace(
            "arn:aws:acm:eu-west-1:444455556666:",
            "arn:aws:acm:eu-west-1:777788889999:",
        );
    let env = environment::parse("prod.yaml", &text).unwrap();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_765_000_030);
    let rules = mock!(aws_sdk_s3::Client::get_bucket_replication)
        .match_requests(|r| {
            r.bucket()
                .is_some_and(|b| b.ends_with("-777788889999-eu-west-1"))
        })
        .then_compute_output(|r| {
            let purpose = if r.bucket().unwrap().starts_with("mst-prod-raw-") {
                "raw"
            } else {
                "curated"
            };
            replication_of(purpose)
        });
    let quiet = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .then_output(|| metric_data(&[], &[], &[]));
    let clients = clients("eu-west-1", &[&rules], &[&quiet], crate::kms::unused());
    let status = dr::region_status(&clients, &env, now).await.unwrap();
    let names: Vec<(&str, &str)> = status
        .iter()
        .map(|s| (s.bucket.as_str(), s.replica.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            (
                "mst-prod-raw-777788889999-eu-west-1",
                "mst-prod-raw-dr-444455556666-eu-west-1"
            ),
            (
                "mst-prod-curated-777788889999-eu-west-1",
                "mst-prod-curated-dr-444455556666-eu-west-1"
            ),
        ]
    );
    // The rules S3 reports name those replicas: no problem.
    for bucket in &status {
        assert!(
            bucket.problems(&env).is_empty(),
            "{:?}",
            bucket.problems(&env)
        );
    }
    assert_eq!(rules.num_calls(), 2);
}
