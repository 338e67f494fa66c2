//! Disaster recovery (`dr:` in the environment): the replica key the pipelines' replication rules
//! name, and `deployer dr status`: each replicated bucket's replication configuration read back and
//! its replication lag and backlog from CloudWatch.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_smithy_types::DateTime;
use environment::{Environment, Region};
use stacks::pipeline::{Names, REPLICATED, REPLICATION_RULE_ID};

use crate::aws::RegionClients;
use crate::{Error, api_error};

/// How far back `dr status` reads the replication metrics: S3 publishes them every minute, and a
/// quarter of an hour is S3 Replication Time Control's bound.
pub const METRICS_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The ARN of the replica key in the DR region (`clients`' region), found by its alias
/// ([`crate::keys::alias_target`]); `None` when the alias does not exist (the replica stack is not
/// deployed).
pub async fn replica_key_arn(
    clients: &RegionClients,
    env: &Environment,
) -> Result<Option<String>, Error> {
    let alias = Names::new(env).replica_key_alias();
    let region = clients.region.as_str();
    // Environments only name regions of the `aws` partition.
    Ok(crate::keys::alias_target(&clients.kms, &alias)
        .await?
        .map(|key| format!("arn:aws:kms:{region}:{}:key/{key}", env.account.as_str())))
}

/// One replicated bucket as `dr status` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketReplication {
    /// The source region.
    pub region: Region,
    /// `raw` or `curated`.
    pub purpose: &'static str,
    /// The source bucket.
    pub bucket: String,
    /// The replica bucket in the DR region.
    pub replica: String,
    /// The configuration read back from S3 (`None`: the bucket has none).
    pub configuration: Option<Configuration>,
    /// Lag and backlog from CloudWatch over [`METRICS_WINDOW`].
    pub metrics: Metrics,
}

/// The rule of a bucket's replication configuration that replicates to the DR region, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configuration {
    /// The role S3 replicates with.
    pub role: String,
    /// The rule's id.
    pub rule_id: Option<String>,
    /// `Enabled` or `Disabled`.
    pub status: String,
    /// The destination bucket's ARN.
    pub destination: String,
    /// The key encrypting replicas.
    pub replica_key: Option<String>,
    /// Replication Time Control's status (`Enabled` when on).
    pub replication_time: Option<String>,
    /// Replication metrics' status.
    pub metrics: Option<String>,
    /// Whether delete markers are replicated.
    pub delete_marker_replication: Option<String>,
}

/// Replication metrics over [`METRICS_WINDOW`]: each the latest datapoint's maximum, `None` when
/// CloudWatch has none (nothing written lately, or metrics not published yet).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Metrics {
    /// Seconds the replica lags the source (`ReplicationLatency`).
    pub latency_seconds: Option<f64>,
    /// Bytes waiting to replicate (`BytesPendingReplication`).
    pub bytes_pending: Option<f64>,
    /// Operations waiting to replicate (`OperationsPendingReplication`).
    pub operations_pending: Option<f64>,
}

impl BucketReplication {
    /// What is wrong with the bucket's replication, in words; empty when it is as deployed.
    pub fn problems(&self, env: &Environment) -> Vec<String> {
        let Some(config) = &self.configuration else {
            return vec![format!(
                "{} has no replication configuration: run `deployer up --env {}`",
                self.bucket,
                env.name.as_str()
            )];
        };
        let mut problems = Vec::new();
        if config.status != "Enabled" {
            problems.push(format!("the rule is {}", config.status));
        }
        if !config
            .destination
            .ends_with(&format!(":::{}", self.replica))
        {
            problems.push(format!(
                "it replicates to {}, not to {}",
                config.destination, self.replica
            ));
        }
        if config.replication_time.as_deref() != Some("Enabled") {
            problems.push("S3 Replication Time Control is off".to_owned());
        }
        if let (Some(dr), Some(latency)) = (&env.dr, self.metrics.latency_seconds)
            && latency >= f64::from(dr.rpo_minutes * 60)
        {
            problems.push(format!(
                "replication lags {latency:.0} s, at or over the RPO of {} min",
                dr.rpo_minutes
            ));
        }
        problems
    }
}

/// `dr status` for one source region: each replicated bucket's configuration and metrics.
pub async fn region_status(
    clients: &RegionClients,
    env: &Environment,
    now: SystemTime,
) -> Result<Vec<BucketReplication>, Error> {
    let names = Names::new(env);
    // The source buckets are in the region's account (`deploy.accounts`), the replicas in the DR
    // region's.
    let account = env.account_of(&clients.region).as_str();
    let replica_account = stacks::pipeline::replica_account(env).map_or(account, |a| a.as_str());
    let region = clients.region.as_str();
    let mut out = Vec::new();
    for (purpose, _) in REPLICATED {
        let bucket = names.bucket_in(purpose, account, region);
        let replica = names.replica_bucket_in(purpose, replica_account, region);
        let configuration = configuration(clients, &bucket).await?;
        let metrics = metrics(clients, &bucket, &replica, now).await?;
        out.push(BucketReplication {
            region: clients.region.clone(),
            purpose,
            bucket,
            replica,
            configuration,
            metrics,
        });
    }
    Ok(out)
}

/// The bucket's replication rule to the DR region, read back with GetBucketReplication.
async fn configuration(
    clients: &RegionClients,
    bucket: &str,
) -> Result<Option<Configuration>, Error> {
    let region = clients.region.as_str();
    let found = match clients
        .s3
        .get_bucket_replication()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(found) => found,
        Err(error)
            if error.as_service_error().is_some_and(|e| {
                aws_sdk_s3::error::ProvideErrorMetadata::code(e)
                    == Some("ReplicationConfigurationNotFoundError")
            }) =>
        {
            return Ok(None);
        }
        Err(error) => {
            return Err(api_error(
                format!("GetBucketReplication {bucket}"),
                region,
                error,
            ));
        }
    };
    let Some(config) = found.replication_configuration else {
        return Ok(None);
    };
    let rules = config.rules();
    let rule = rules
        .iter()
        .find(|r| r.id() == Some(REPLICATION_RULE_ID))
        .or_else(|| rules.first());
    let Some(rule) = rule else {
        return Ok(None);
    };
    let destination = rule.destination();
    Ok(Some(Configuration {
        role: config.role().to_owned(),
        rule_id: rule.id().map(str::to_owned),
        status: rule.status().as_str().to_owned(),
        destination: destination
            .map(|d| d.bucket().to_owned())
            .unwrap_or_default(),
        replica_key: destination
            .and_then(|d| d.encryption_configuration())
            .and_then(|e| e.replica_kms_key_id())
            .map(str::to_owned),
        replication_time: destination
            .and_then(|d| d.replication_time())
            .map(|t| t.status().as_str().to_owned()),
        metrics: destination
            .and_then(|d| d.metrics())
            .map(|m| m.status().as_str().to_owned()),
        delete_marker_replication: rule
            .delete_marker_replication()
            .and_then(|d| d.status())
            .map(|s| s.as_str().to_owned()),
    }))
}

/// The three metric names `dr status` reads, with the field each fills.
const METRICS: [&str; 3] = [
    "ReplicationLatency",
    "BytesPendingReplication",
    "OperationsPendingReplication",
];

/// The replication metrics of the rule from `bucket` to `replica` over [`METRICS_WINDOW`] before
/// `now`, read with one GetMetricData call.
async fn metrics(
    clients: &RegionClients,
    bucket: &str,
    replica: &str,
    now: SystemTime,
) -> Result<Metrics, Error> {
    let region = clients.region.as_str();
    let dimensions = [
        ("SourceBucket", bucket),
        ("DestinationBucket", replica),
        ("RuleId", REPLICATION_RULE_ID),
    ]
    .map(|(name, value)| Dimension::builder().name(name).value(value).build());
    let mut request = clients
        .cloudwatch
        .get_metric_data()
        .start_time(DateTime::from(now - METRICS_WINDOW))
        .end_time(DateTime::from(now));
    for (index, metric) in METRICS.iter().enumerate() {
        request = request.metric_data_queries(
            MetricDataQuery::builder()
                .id(format!("m{index}"))
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace("AWS/S3")
                                .metric_name(*metric)
                                .set_dimensions(Some(dimensions.to_vec()))
                                .build(),
                        )
                        .period(60)
                        .stat("Maximum")
                        .build(),
                )
                .return_data(true)
                .build(),
        );
    }
    let response = request.send().await.map_err(|e| {
        api_error(
            format!("GetMetricData (replication of {bucket})"),
            region,
            e,
        )
    })?;
    let mut out = Metrics::default();
    for result in response.metric_data_results() {
        // CloudWatch returns datapoints newest first (TimestampDescending, the default).
        let latest = latest(result.timestamps(), result.values());
        match result.id() {
            Some("m0") => out.latency_seconds = latest,
            Some("m1") => out.bytes_pending = latest,
            Some("m2") => out.operations_pending = latest,
            _ => {}
        }
    }
    Ok(out)
}

/// The value of the newest timestamp (CloudWatch's order is not relied on).
fn latest(timestamps: &[DateTime], values: &[f64]) -> Option<f64> {
    timestamps
        .iter()
        .zip(values)
        .max_by_key(|(time, _)| (time.secs(), time.subsec_nanos()))
        .map(|(_, value)| *value)
}

/// The emulator's CloudFormation (moto) creates buckets without their `VersioningConfiguration` and
/// `ReplicationConfiguration`: on an emulator only, `up` applies what the pipeline template says
/// with the S3 API, so the local environment replicates as the template describes (moto copies no
/// object; `GetBucketReplication` reads the rule back). `template` is the pipeline stack's template
/// as synthesized, `stack` its name, `replica_key` the ARN the stack was given.
pub async fn apply_replication_on_emulator(
    clients: &RegionClients,
    env: &Environment,
    template: &serde_json::Value,
    stack: &str,
    replica_key: &str,
) -> Result<(), Error> {
    let region = clients.region.as_str();
    // The source buckets and the replication role are in the region's account.
    let account = env.account_of(&clients.region).as_str();
    let role = crate::status::stack_resources(&clients.cloudformation, region, stack)
        .await?
        .into_iter()
        .find(|r| r.logical_resource_id() == Some("ReplicationRole"))
        .and_then(|r| r.physical_resource_id)
        .ok_or_else(|| {
            Error::Other(format!(
                "{stack} in {region} has no ReplicationRole: the emulator did not create it"
            ))
        })?;
    let role_arn = format!("arn:aws:iam::{account}:role/{role}");
    let resolve = |value: &serde_json::Value| -> String {
        value["Fn::Sub"]
            .as_str()
            .or_else(|| value.as_str())
            .unwrap_or_default()
            .replace("${AWS::Partition}", "aws")
            .replace("${AWS::AccountId}", account)
            .replace("${AWS::Region}", region)
    };
    let names = Names::new(env);
    for (purpose, id) in REPLICATED {
        let bucket = names.bucket_in(purpose, account, region);
        let config = &template["Resources"][id]["Properties"]["ReplicationConfiguration"];
        let rule = &config["Rules"][0];
        crate::artifacts::enable_versioning_on_emulator(&clients.s3, region, &bucket).await?;
        let destination = &rule["Destination"];
        let status = |v: &serde_json::Value| v["Status"].as_str().unwrap_or("Disabled").to_owned();
        let minutes = |v: &serde_json::Value| {
            v["Minutes"]
                .as_i64()
                .and_then(|m| i32::try_from(m).ok())
                .unwrap_or(15)
        };
        use aws_sdk_s3::types as s3;
        let built = s3::ReplicationRule::builder()
            .id(rule["Id"].as_str().unwrap_or(REPLICATION_RULE_ID))
            .priority(
                rule["Priority"]
                    .as_i64()
                    .and_then(|p| i32::try_from(p).ok())
                    .unwrap_or(1),
            )
            .status(s3::ReplicationRuleStatus::from(status(rule).as_str()))
            .filter(
                s3::ReplicationRuleFilter::builder()
                    .prefix(rule["Filter"]["Prefix"].as_str().unwrap_or_default())
                    .build(),
            )
            .delete_marker_replication(
                s3::DeleteMarkerReplication::builder()
                    .status(s3::DeleteMarkerReplicationStatus::from(
                        status(&rule["DeleteMarkerReplication"]).as_str(),
                    ))
                    .build(),
            )
            .source_selection_criteria(
                s3::SourceSelectionCriteria::builder()
                    .sse_kms_encrypted_objects(
                        s3::SseKmsEncryptedObjects::builder()
                            .status(s3::SseKmsEncryptedObjectsStatus::from(
                                status(&rule["SourceSelectionCriteria"]["SseKmsEncryptedObjects"])
                                    .as_str(),
                            ))
                            .build()
                            .map_err(|e| {
                                Error::Other(format!("replication rule of {bucket}: {e}"))
                            })?,
                    )
                    .build(),
            )
            .destination(
                s3::Destination::builder()
                    .bucket(resolve(&destination["Bucket"]))
                    .encryption_configuration(
                        s3::EncryptionConfiguration::builder()
                            .replica_kms_key_id(replica_key)
                            .build(),
                    )
                    .replication_time(
                        s3::ReplicationTime::builder()
                            .status(s3::ReplicationTimeStatus::from(
                                status(&destination["ReplicationTime"]).as_str(),
                            ))
                            .time(
                                s3::ReplicationTimeValue::builder()
                                    .minutes(minutes(&destination["ReplicationTime"]["Time"]))
                                    .build(),
                            )
                            .build()
                            .map_err(|e| {
                                Error::Other(format!("replication rule of {bucket}: {e}"))
                            })?,
                    )
                    .metrics(
                        s3::Metrics::builder()
                            .status(s3::MetricsStatus::from(
                                status(&destination["Metrics"]).as_str(),
                            ))
                            .event_threshold(
                                s3::ReplicationTimeValue::builder()
                                    .minutes(minutes(&destination["Metrics"]["EventThreshold"]))
                                    .build(),
                            )
                            .build()
                            .map_err(|e| {
                                Error::Other(format!("replication rule of {bucket}: {e}"))
                            })?,
                    )
                    .build()
                    .map_err(|e| Error::Other(format!("replication rule of {bucket}: {e}")))?,
            )
            .build()
            .map_err(|e| Error::Other(format!("replication rule of {bucket}: {e}")))?;
        let configuration = s3::ReplicationConfiguration::builder()
            .role(&role_arn)
            .rules(built)
            .build()
            .map_err(|e| Error::Other(format!("replication configuration of {bucket}: {e}")))?;
        clients
            .s3
            .put_bucket_replication()
            .bucket(&bucket)
            .replication_configuration(configuration)
            .send()
            .await
            .map_err(|e| api_error(format!("PutBucketReplication {bucket}"), region, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_datapoint_wins_whatever_the_order() {
        let t = |secs| DateTime::from_secs(secs);
        assert_eq!(latest(&[t(10), t(30), t(20)], &[1.0, 3.0, 2.0]), Some(3.0));
        assert_eq!(latest(&[], &[]), None);
    }
}
