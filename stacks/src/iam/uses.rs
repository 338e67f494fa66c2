//! Why each grant exists: the uses of the pipeline's roles, each with the actions it needs and the
//! code path or AWS page that says so.
//!
//! A role's statement is built from its uses ([`super::Statement::grant`]): the statement's actions
//! are the union of its uses' actions, and the uses stay attached to it (never serialized), so the
//! reason cannot drift from the grant. `deployer policy explain` prints them per action, and the
//! check [`crate::grants::unexplained`] (run by `deployer synth --check` and the stacks tests) fails on
//! an action that no attached use accounts for. The KMS permissions on the data key are not listed by
//! hand: they are derived from the uses that touch an encrypted resource through
//! [`crate::kms_use::ROLE_USES`], whose rows carry AWS's documentation.

use std::fmt;

use lambda_contract::{prefixes, to_parquet, transform};

use super::Action;
use super::actions::{
    acm, autoscaling, cloudformation, cloudwatch, ec2, firehose, glue, iam, kinesis, kms, lambda,
    logs, s3, secretsmanager, sns, sqs, ssm, sts,
};
use crate::kms_use::{Encrypted, ROLE_USES, RoleUse};

/// One reason a role needs some actions: a call the project's code makes, or something AWS requires of
/// the role when a service acts with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Use {
    /// The scraper's sink sends quote records in batches.
    ScraperPutsQuotes,
    /// The instance's first boot fetches the scraper binary by the object version the deployer checked.
    ScraperFetchesItsBinary,
    /// The instance's first boot fetches its shard's configuration by its content-hash key.
    ScraperFetchesItsConfiguration,
    /// The heartbeat timer publishes the scraper's tick, quote and failure counts.
    ScraperPublishesHeartbeat,
    /// The heartbeat timer marks its instance unhealthy when the scraper's loop stalls.
    ScraperReportsStall,
    /// The heartbeat timer signals the shard's group once the new scraper ticks (rolling replacement).
    ScraperSignalsReady,
    /// transform reads the InfluxDB token from Secrets Manager.
    TransformReadsInfluxToken,
    /// transform writes records it cannot store to its quarantine prefix.
    TransformQuarantinesRecords,
    /// to-parquet reads the raw JSON-lines objects it was notified of.
    ToParquetReadsRawRecords,
    /// to-parquet skips a raw object that vanished, which S3 reports as 404 only with `s3:ListBucket`.
    ToParquetSeesVanishedRawRecords,
    /// to-parquet writes Parquet files as multipart uploads, aborted on failure.
    ToParquetWritesParquet,
    /// to-parquet writes invalid records to its quarantine prefix, streamed like Parquet files.
    ToParquetQuarantinesRecords,
    /// notify reads the Parquet files it was notified of.
    NotifyReadsParquet,
    /// notify keeps one reference-price object per symbol, read and written conditionally.
    NotifyKeepsReferencePrices,
    /// notify tells "no reference price yet" (404) from "not allowed" (403), which needs `s3:ListBucket`.
    NotifySeesMissingState,
    /// notify e-mails price moves through the topic.
    NotifyPublishesAlerts,
    /// Lambda's event source mapping polls the stream with the function's role.
    LambdaPollsQuoteStream,
    /// Lambda writes the function's logs with its role.
    LambdaWritesFunctionLogs,
    /// The event source mapping sends failed batches to its on-failure destination with the role.
    LambdaSendsFailedBatches,
    /// Lambda sends failed asynchronous events to the function's dead-letter queue with its role.
    LambdaSendsFailedEvents,
    /// Firehose reads the stream it delivers.
    FirehoseReadsQuoteStream,
    /// Firehose writes objects (and error output) to the raw bucket.
    FirehoseWritesRawRecords,
    /// Firehose reports delivery errors to its log stream.
    FirehoseLogsDeliveryErrors,
    /// The crawler lists the curated data under `quotes/`.
    CrawlerListsCuratedData,
    /// The crawler reads the curated Parquet files.
    CrawlerReadsCuratedData,
    /// The crawler reads its table and registers the partitions it finds.
    CrawlerMaintainsPartitions,
    /// Glue creates and encrypts the crawler's log group and writes to it as the crawler's role.
    CrawlerWritesEncryptedLogs,
    /// The flow logs service delivers flow records to its log group.
    FlowLogsDeliverRecords,
    /// The Managed Grafana workspace charts the pipeline's CloudWatch metrics.
    GrafanaReadsMetrics,
    /// The Managed Grafana workspace starts Logs Insights queries over the transform's log group.
    GrafanaQueriesTransformLogs,
    /// The Managed Grafana workspace stops the Logs Insights queries it started when they time out.
    GrafanaStopsLogQueries,
    /// The Managed Grafana workspace sends its alerts to the alert topic.
    GrafanaPublishesAlerts,
    /// S3 replication reads the source bucket's replication configuration and lists it.
    ReplicationReadsSourceBucket,
    /// S3 replication reads each new object version, its ACL and tags, to copy them.
    ReplicationReadsSourceVersions,
    /// S3 replication writes replicas, delete markers and tags into the DR region's bucket.
    ReplicationWritesReplicas,
    /// `diff` and `up` read stacks and plan each change as a change set (deleting it when declined).
    DeployerPlansChanges,
    /// `up` executes an approved change set.
    DeployerExecutesChanges,
    /// `up`, `down` and `status` follow a stack's events.
    DeployerFollowsEvents,
    /// `up` (next steps) and `down` (retained resources) list a stack's resources.
    DeployerListsResources,
    /// `down` deletes the pipeline stack.
    DeployerDeletesStacks,
    /// `status --drift` detects drift and reads each resource's.
    DeployerDetectsDrift,
    /// `status --drift` polls the detection, which has no resource-level permissions.
    DeployerWaitsForDrift,
    /// `up` watches the pipeline's alarms (rollback triggers, the canary's bake).
    DeployerWatchesAlarms,
    /// `up` (next steps) reads which alert addresses confirmed their subscription.
    DeployerChecksSubscriptions,
    /// `up` (next steps) reads whether the InfluxDB token's secret holds a value, never the value.
    DeployerChecksTokenSecret,
    /// `up` checks present artifacts and uploads missing ones (and large templates).
    DeployerStoresArtifacts,
    /// CloudFormation reads a template given by URL with the caller's credentials.
    CloudFormationReadsTemplateUrl,
    /// `down --purge-data` empties and deletes the retained data buckets and schedules the key's deletion.
    DeployerPurgesData,
    /// `up`, `diff` and `down` hand the execution role to CloudFormation (`RoleARN`).
    DeployerPassesExecutionRole,
    /// `up` and `diff` resolve the scraper's `latest` AMI from AWS's public SSM parameter.
    DeployerResolvesScraperImage,
    /// `up` and `down` find what an earlier `down` kept: a bucket by name, its key through its encryption.
    DeployerAdoptsKeptResources,
    /// `up` and `diff` find the DR region's replica key by its alias.
    DeployerFindsReplicaKey,
    /// `dr status` reads each replicated bucket's replication configuration.
    DeployerReadsReplication,
    /// `dr status` reads replication lag and backlog, `status` the scrapers' heartbeats.
    DeployerReadsMetrics,
    /// `status` reads each scraper shard's Auto Scaling group: its instance and the instance's health.
    DeployerReadsShardInstances,
    /// `vpn profile` exports the Client VPN endpoint's client configuration.
    DeployerExportsVpnProfile,
    /// `vpn profile` reads the endpoint's client root CA from ACM to check the operator's certificate.
    DeployerReadsVpnClientRootCa,
    /// `vpn revoke` imports a certificate revocation list into the Client VPN endpoint.
    DeployerRevokesVpnCertificates,
    /// `verify` (and `up`'s canary gate) checks the Lambdas, the delivery stream and the Glue table.
    DeployerVerifiesResources,
    /// `verify` (and `up`'s canary gate) checks the Lambdas' event source mappings.
    DeployerVerifiesEventSources,
    /// `verify` (and `up`'s canary gate) puts the canary quote on the stream.
    DeployerPutsCanary,
    /// `verify` (and `up`'s canary gate) follows the canary into the raw and curated buckets.
    DeployerFollowsCanary,
    /// `verify` (and `up`'s canary gate) removes the canary's objects.
    DeployerRemovesCanary,
    /// `verify` (and `up`'s canary gate) reads the InfluxDB token to find the canary's points.
    DeployerReadsInfluxToken,
    /// `verify`'s calls on the encrypted stream, buckets and secret use the pipeline's data key.
    DeployerUsesDataKey,
    /// `up`, `diff`, `down` and `status` of a multi-account environment assume, from the first account's deploy role (a GitLab job's session), the other accounts' deploy roles.
    DeployerAssumesOtherAccountsRoles,
    /// CloudFormation's create, read, update and delete handlers of a resource type call these with
    /// the execution role (`policies/handler-permissions.json`, from the resource provider schemas).
    HandlersOf {
        /// The resource type, such as `AWS::Kinesis::Stream`.
        kind: &'static str,
    },
    /// KMS on the resource's key, implied by calling `action` on an encrypted resource of kind `on`
    /// (a row of [`ROLE_USES`]).
    DataKeyFor {
        /// The action on the encrypted resource.
        action: Action,
        /// The kind of encrypted resource.
        on: Encrypted,
    },
}

/// Where a use is documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A call in this repository: `path` (from the repository root) contains `call`.
    Code {
        /// The file making the call.
        path: &'static str,
        /// Text of the call as it appears in the file (checked by a test).
        call: &'static str,
    },
    /// A requirement AWS documents on this page.
    Aws(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Code { path, .. } => f.write_str(path),
            Source::Aws(doc) => f.write_str(doc),
        }
    }
}

/// What a use is: who needs which actions, why, and where that is written down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// Who makes the calls: a component of the pipeline, or the AWS service acting with the role.
    pub by: &'static str,
    /// What for, in one line.
    pub what: String,
    /// The actions it needs.
    pub actions: Vec<Action>,
    /// The code path or the AWS page.
    pub source: Source,
}

const LAMBDA_KINESIS: &str =
    "https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-create.html";
const LAMBDA_LOGS: &str =
    "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html";
const LAMBDA_ON_FAILURE: &str =
    "https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html";
const LAMBDA_DLQ: &str =
    "https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html";
const S3_GET_OBJECT_403: &str = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_RequestSyntax";
const FIREHOSE_S3: &str =
    "https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html#using-iam-s3";
const GLUE_CRAWLER: &str = "https://docs.aws.amazon.com/glue/latest/dg/crawler-prereqs.html";
const GLUE_LOG_ENCRYPTION: &str =
    "https://docs.aws.amazon.com/glue/latest/dg/encryption-security-configuration.html";
const GRAFANA_CLOUDWATCH: &str =
    "https://docs.aws.amazon.com/grafana/latest/userguide/using-amazon-cloudwatch-in-AMG.html";
const GRAFANA_SNS: &str =
    "https://docs.aws.amazon.com/grafana/latest/userguide/AMG-manage-permissions.html";
const S3_REPLICATION_ROLE: &str =
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html";
const FLOW_LOGS_ROLE: &str =
    "https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html";
const CFN_SERVICE_ROLE: &str =
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html";
const CFN_TEMPLATE_URL: &str =
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/control-access-with-iam.html";
const CFN_HANDLERS: &str =
    "https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html";

/// What the Lambda event source mapping calls on the stream it polls.
const LAMBDA_STREAM_READ: &[Action] = &[
    kinesis::DESCRIBE_STREAM,
    kinesis::DESCRIBE_STREAM_SUMMARY,
    kinesis::GET_RECORDS,
    kinesis::GET_SHARD_ITERATOR,
    kinesis::LIST_SHARDS,
];

/// What Firehose calls on a Kinesis stream source (its documented policy has no
/// `kinesis:DescribeStreamSummary`).
const FIREHOSE_STREAM_READ: &[Action] = &[
    kinesis::DESCRIBE_STREAM,
    kinesis::GET_RECORDS,
    kinesis::GET_SHARD_ITERATOR,
    kinesis::LIST_SHARDS,
];

fn code(
    by: &'static str,
    what: &str,
    actions: &[Action],
    path: &'static str,
    call: &'static str,
) -> Need {
    Need {
        by,
        what: what.to_owned(),
        actions: actions.to_vec(),
        source: Source::Code { path, call },
    }
}

fn aws(by: &'static str, what: &str, actions: &[Action], doc: &'static str) -> Need {
    Need {
        by,
        what: what.to_owned(),
        actions: actions.to_vec(),
        source: Source::Aws(doc),
    }
}

/// Every `kms:` action the KMS-use table may name, as typed actions.
const KMS_ACTIONS: &[Action] = &[
    kms::DECRYPT,
    kms::DESCRIBE_KEY,
    kms::ENCRYPT,
    kms::GENERATE_DATA_KEY,
    kms::RE_ENCRYPT_FROM,
    kms::RE_ENCRYPT_TO,
];

/// The typed `kms:` actions of a KMS-use row (every name it uses is in [`KMS_ACTIONS`]: a test checks).
pub(crate) fn kms_actions(row: &RoleUse) -> Vec<Action> {
    KMS_ACTIONS
        .iter()
        .copied()
        .filter(|action| row.kms.iter().any(|name| action.to_string() == *name))
        .collect()
}

/// The KMS-use row for `action` on an encrypted resource of kind `on`, if the call needs the key.
pub(crate) fn kms_row(action: Action, on: Encrypted) -> Option<&'static RoleUse> {
    let name = action.to_string();
    ROLE_USES
        .iter()
        .find(|row| row.on == on && row.action == name)
}

impl Use {
    /// Every use except [`Use::DataKeyFor`], for tests and documentation.
    pub const NAMED: &'static [Use] = &[
        Use::ScraperPutsQuotes,
        Use::ScraperFetchesItsBinary,
        Use::ScraperFetchesItsConfiguration,
        Use::ScraperPublishesHeartbeat,
        Use::ScraperReportsStall,
        Use::ScraperSignalsReady,
        Use::TransformReadsInfluxToken,
        Use::TransformQuarantinesRecords,
        Use::ToParquetReadsRawRecords,
        Use::ToParquetSeesVanishedRawRecords,
        Use::ToParquetWritesParquet,
        Use::ToParquetQuarantinesRecords,
        Use::NotifyReadsParquet,
        Use::NotifyKeepsReferencePrices,
        Use::NotifySeesMissingState,
        Use::NotifyPublishesAlerts,
        Use::LambdaPollsQuoteStream,
        Use::LambdaWritesFunctionLogs,
        Use::LambdaSendsFailedBatches,
        Use::LambdaSendsFailedEvents,
        Use::FirehoseReadsQuoteStream,
        Use::FirehoseWritesRawRecords,
        Use::FirehoseLogsDeliveryErrors,
        Use::CrawlerListsCuratedData,
        Use::CrawlerReadsCuratedData,
        Use::CrawlerMaintainsPartitions,
        Use::CrawlerWritesEncryptedLogs,
        Use::FlowLogsDeliverRecords,
        Use::GrafanaReadsMetrics,
        Use::GrafanaQueriesTransformLogs,
        Use::GrafanaStopsLogQueries,
        Use::GrafanaPublishesAlerts,
        Use::ReplicationReadsSourceBucket,
        Use::ReplicationReadsSourceVersions,
        Use::ReplicationWritesReplicas,
        Use::DeployerPlansChanges,
        Use::DeployerExecutesChanges,
        Use::DeployerFollowsEvents,
        Use::DeployerListsResources,
        Use::DeployerDeletesStacks,
        Use::DeployerDetectsDrift,
        Use::DeployerWaitsForDrift,
        Use::DeployerWatchesAlarms,
        Use::DeployerChecksSubscriptions,
        Use::DeployerChecksTokenSecret,
        Use::DeployerStoresArtifacts,
        Use::CloudFormationReadsTemplateUrl,
        Use::DeployerPurgesData,
        Use::DeployerPassesExecutionRole,
        Use::DeployerResolvesScraperImage,
        Use::DeployerAdoptsKeptResources,
        Use::DeployerFindsReplicaKey,
        Use::DeployerReadsReplication,
        Use::DeployerReadsMetrics,
        Use::DeployerReadsShardInstances,
        Use::DeployerExportsVpnProfile,
        Use::DeployerReadsVpnClientRootCa,
        Use::DeployerRevokesVpnCertificates,
        Use::DeployerVerifiesResources,
        Use::DeployerVerifiesEventSources,
        Use::DeployerPutsCanary,
        Use::DeployerFollowsCanary,
        Use::DeployerRemovesCanary,
        Use::DeployerReadsInfluxToken,
        Use::DeployerUsesDataKey,
        Use::DeployerAssumesOtherAccountsRoles,
    ];

    /// Who needs which actions for this use, why, and where it is written down.
    pub fn need(self) -> Need {
        use Use::*;
        match self {
            ScraperPutsQuotes => code(
                "scraper",
                "PutRecords: the sink sends each batch of quote records (one per symbol per call)",
                &[kinesis::PUT_RECORDS],
                "runtime/scraper/src/sink.rs",
                ".put_records()",
            ),
            ScraperFetchesItsBinary => code(
                "scraper instance",
                "first boot fetches the scraper binary by the object version the deployer checked (get-object --version-id)",
                &[s3::GET_OBJECT_VERSION],
                "stacks/src/pipeline/network.rs",
                "--version-id",
            ),
            ScraperFetchesItsConfiguration => code(
                "scraper instance",
                "first boot fetches its shard's configuration by content-hash key and checks its SHA-256",
                &[s3::GET_OBJECT],
                "stacks/src/pipeline/network.rs",
                "config_key=",
            ),
            ScraperPublishesHeartbeat => code(
                "scraper instance",
                "the heartbeat timer publishes ticks, quotes and fetch failures of its shard",
                &[cloudwatch::PUT_METRIC_DATA],
                "runtime/scraper/systemd/mystocktracker-heartbeat.sh",
                "put-metric-data",
            ),
            ScraperReportsStall => code(
                "scraper instance",
                "the heartbeat timer marks the instance unhealthy when the heartbeat is stale, so its group replaces it",
                &[autoscaling::SET_INSTANCE_HEALTH],
                "runtime/scraper/systemd/mystocktracker-heartbeat.sh",
                "set-instance-health",
            ),
            ScraperSignalsReady => code(
                "scraper instance",
                "the heartbeat timer signals the shard's group after the first tick (creation and replacement wait for it)",
                &[cloudformation::SIGNAL_RESOURCE],
                "runtime/scraper/systemd/mystocktracker-heartbeat.sh",
                "signal-resource",
            ),
            TransformReadsInfluxToken => code(
                "transform",
                "GetSecretValue: the InfluxDB token, once per container and again when InfluxDB rejects it",
                &[secretsmanager::GET_SECRET_VALUE],
                "runtime/transform/src/secrets.rs",
                ".get_secret_value()",
            ),
            TransformQuarantinesRecords => code(
                "transform",
                &format!(
                    "PutObject {}: invalid records and those InfluxDB refused, with the reason",
                    prefixes::quarantine(transform::QUARANTINE_NAME)
                ),
                &[s3::PUT_OBJECT],
                "runtime/transform/src/quarantine.rs",
                ".put_object()",
            ),
            ToParquetReadsRawRecords => code(
                "to-parquet",
                &format!(
                    "GetObject {}: the raw JSON-lines object it was notified of",
                    prefixes::RAW
                ),
                &[s3::GET_OBJECT],
                "runtime/to-parquet/src/handler.rs",
                ".get_object()",
            ),
            ToParquetSeesVanishedRawRecords => aws(
                "to-parquet",
                &format!(
                    "ListBucket (prefix {}): without it S3 answers a vanished object with 403, not the 404 NoSuchKey the handler skips (runtime/to-parquet/src/handler.rs)",
                    prefixes::RAW
                ),
                &[s3::LIST_BUCKET],
                S3_GET_OBJECT_403,
            ),
            ToParquetWritesParquet => code(
                "to-parquet",
                &format!(
                    "PutObject (multipart parts) {}, AbortMultipartUpload when a file fails",
                    prefixes::QUOTES
                ),
                &[s3::PUT_OBJECT, s3::ABORT_MULTIPART_UPLOAD],
                "runtime/to-parquet/src/upload.rs",
                ".abort_multipart_upload()",
            ),
            ToParquetQuarantinesRecords => code(
                "to-parquet",
                &format!(
                    "PutObject (multipart parts) {}: invalid records, streamed like Parquet files and aborted on failure",
                    prefixes::quarantine(to_parquet::QUARANTINE_NAME)
                ),
                &[s3::PUT_OBJECT, s3::ABORT_MULTIPART_UPLOAD],
                "runtime/to-parquet/src/handler.rs",
                "quarantine_key(",
            ),
            NotifyReadsParquet => code(
                "notify",
                &format!(
                    "GetObject {}: the Parquet file it was notified of",
                    prefixes::QUOTES
                ),
                &[s3::GET_OBJECT],
                "runtime/notify/src/handler.rs",
                ".get_object()",
            ),
            NotifyKeepsReferencePrices => code(
                "notify",
                &format!(
                    "GetObject/PutObject {}: one reference-price object per symbol, written conditionally",
                    prefixes::NOTIFY_STATE
                ),
                &[s3::GET_OBJECT, s3::PUT_OBJECT],
                "runtime/notify/src/store.rs",
                ".put_object()",
            ),
            NotifySeesMissingState => aws(
                "notify",
                &format!(
                    "ListBucket (prefix {}): without it S3 answers a missing state object with 403, not the 404 NoSuchKey that means \"no reference price yet\" (runtime/notify/src/store.rs)",
                    prefixes::NOTIFY_STATE
                ),
                &[s3::LIST_BUCKET],
                S3_GET_OBJECT_403,
            ),
            NotifyPublishesAlerts => code(
                "notify",
                "Publish: the price-move e-mail",
                &[sns::PUBLISH],
                "runtime/notify/src/handler.rs",
                ".publish()",
            ),
            LambdaPollsQuoteStream => aws(
                "Lambda event source mapping",
                "polls the quote stream for transform with the function's role",
                LAMBDA_STREAM_READ,
                LAMBDA_KINESIS,
            ),
            LambdaWritesFunctionLogs => aws(
                "Lambda",
                "writes the function's logs to its own log group with the function's role",
                &[logs::CREATE_LOG_STREAM, logs::PUT_LOG_EVENTS],
                LAMBDA_LOGS,
            ),
            LambdaSendsFailedBatches => aws(
                "Lambda event source mapping",
                "sends batches that failed every retry to its on-failure destination with the function's role",
                &[sqs::SEND_MESSAGE],
                LAMBDA_ON_FAILURE,
            ),
            LambdaSendsFailedEvents => aws(
                "Lambda",
                "sends S3 events that failed every retry to the function's dead-letter queue with the function's role",
                &[sqs::SEND_MESSAGE],
                LAMBDA_DLQ,
            ),
            FirehoseReadsQuoteStream => aws(
                "Firehose",
                "reads its Kinesis stream source",
                FIREHOSE_STREAM_READ,
                FIREHOSE_S3,
            ),
            FirehoseWritesRawRecords => aws(
                "Firehose",
                &format!(
                    "delivers {} objects and {} output to the bucket (its documented S3 destination policy)",
                    prefixes::RAW,
                    prefixes::FIREHOSE_ERRORS
                ),
                &[
                    s3::ABORT_MULTIPART_UPLOAD,
                    s3::GET_BUCKET_LOCATION,
                    s3::GET_OBJECT,
                    s3::LIST_BUCKET,
                    s3::LIST_BUCKET_MULTIPART_UPLOADS,
                    s3::PUT_OBJECT,
                ],
                FIREHOSE_S3,
            ),
            FirehoseLogsDeliveryErrors => aws(
                "Firehose",
                "reports delivery errors to its log stream",
                &[logs::PUT_LOG_EVENTS],
                FIREHOSE_S3,
            ),
            CrawlerListsCuratedData => aws(
                "Glue crawler",
                &format!("lists the curated data under {}", prefixes::QUOTES),
                &[s3::LIST_BUCKET],
                GLUE_CRAWLER,
            ),
            CrawlerReadsCuratedData => aws(
                "Glue crawler",
                "reads the curated Parquet files to compare them with the table",
                &[s3::GET_OBJECT],
                GLUE_CRAWLER,
            ),
            CrawlerMaintainsPartitions => aws(
                "Glue crawler",
                "reads the quotes table (catalog target, LOG behaviours) and registers the partitions it finds",
                &[
                    glue::GET_DATABASE,
                    glue::GET_TABLE,
                    glue::GET_PARTITION,
                    glue::GET_PARTITIONS,
                    glue::BATCH_GET_PARTITION,
                    glue::CREATE_PARTITION,
                    glue::BATCH_CREATE_PARTITION,
                    glue::UPDATE_PARTITION,
                    glue::BATCH_UPDATE_PARTITION,
                ],
                GLUE_CRAWLER,
            ),
            CrawlerWritesEncryptedLogs => aws(
                "Glue crawler",
                "creates /aws-glue/crawlers-role/<role>-<configuration>, encrypts it with the security configuration's key and logs to it",
                &[
                    logs::ASSOCIATE_KMS_KEY,
                    logs::CREATE_LOG_GROUP,
                    logs::CREATE_LOG_STREAM,
                    logs::PUT_LOG_EVENTS,
                ],
                GLUE_LOG_ENCRYPTION,
            ),
            FlowLogsDeliverRecords => aws(
                "VPC flow logs",
                "creates its log streams, checks them and writes flow records",
                &[
                    logs::CREATE_LOG_STREAM,
                    logs::DESCRIBE_LOG_STREAMS,
                    logs::PUT_LOG_EVENTS,
                ],
                FLOW_LOGS_ROLE,
            ),
            GrafanaReadsMetrics => code(
                "Managed Grafana",
                "GetMetricData (search expressions on the pipeline's names) and ListMetrics (the CloudWatch query editor): the pipeline-health dashboard and its alert rules",
                &[cloudwatch::GET_METRIC_DATA, cloudwatch::LIST_METRICS],
                "deployer/grafana/src/health.rs",
                "SEARCH('",
            ),
            GrafanaQueriesTransformLogs => code(
                "Managed Grafana",
                "StartQuery and GetQueryResults: the Logs Insights query summing the transform's quarantined records",
                &[logs::START_QUERY, logs::GET_QUERY_RESULTS],
                "deployer/grafana/src/health.rs",
                "SOURCE logGroups(namePrefix",
            ),
            GrafanaStopsLogQueries => aws(
                "Managed Grafana",
                "StopQuery: the CloudWatch data source stops a query that outlives its timeout",
                &[logs::STOP_QUERY],
                GRAFANA_CLOUDWATCH,
            ),
            GrafanaPublishesAlerts => aws(
                "Managed Grafana",
                "Publish: alert notifications through an SNS contact point (a workspace sends no e-mail itself)",
                &[sns::PUBLISH],
                GRAFANA_SNS,
            ),
            ReplicationReadsSourceBucket => aws(
                "S3 replication",
                "reads the source bucket's replication configuration and lists the bucket",
                &[s3::GET_REPLICATION_CONFIGURATION, s3::LIST_BUCKET],
                S3_REPLICATION_ROLE,
            ),
            ReplicationReadsSourceVersions => aws(
                "S3 replication",
                "reads each object version to replicate, with its ACL and tags",
                &[
                    s3::GET_OBJECT_VERSION_FOR_REPLICATION,
                    s3::GET_OBJECT_VERSION_ACL,
                    s3::GET_OBJECT_VERSION_TAGGING,
                ],
                S3_REPLICATION_ROLE,
            ),
            ReplicationWritesReplicas => aws(
                "S3 replication",
                "writes replicas, delete markers and tags to the DR region's bucket (delete markers are not replicated by the rule, but the documented policy grants it)",
                &[
                    s3::REPLICATE_OBJECT,
                    s3::REPLICATE_DELETE,
                    s3::REPLICATE_TAGS,
                ],
                S3_REPLICATION_ROLE,
            ),
            DeployerPlansChanges => code(
                "deployer",
                "DescribeStacks/GetTemplate, then CreateChangeSet, DescribeChangeSet and DeleteChangeSet (a declined plan; DeleteStack for a stack that only held it)",
                &[
                    cloudformation::DESCRIBE_STACKS,
                    cloudformation::GET_TEMPLATE,
                    cloudformation::CREATE_CHANGE_SET,
                    cloudformation::DESCRIBE_CHANGE_SET,
                    cloudformation::DELETE_CHANGE_SET,
                    cloudformation::DELETE_STACK,
                ],
                "deployer/engine/src/change_set.rs",
                ".create_change_set()",
            ),
            DeployerExecutesChanges => code(
                "deployer",
                "ExecuteChangeSet: the approved plan",
                &[cloudformation::EXECUTE_CHANGE_SET],
                "deployer/engine/src/apply.rs",
                ".execute_change_set()",
            ),
            DeployerFollowsEvents => code(
                "deployer",
                "DescribeStackEvents: live progress and the failing resource",
                &[cloudformation::DESCRIBE_STACK_EVENTS],
                "deployer/engine/src/events.rs",
                ".describe_stack_events()",
            ),
            DeployerListsResources => code(
                "deployer",
                "ListStackResources: next steps after up, retained resources after down",
                &[cloudformation::LIST_STACK_RESOURCES],
                "deployer/engine/src/status.rs",
                ".list_stack_resources()",
            ),
            DeployerDeletesStacks => code(
                "deployer",
                "DeleteStack: `down`",
                &[cloudformation::DELETE_STACK],
                "deployer/engine/src/delete.rs",
                ".delete_stack()",
            ),
            DeployerDetectsDrift => code(
                "deployer",
                "DetectStackDrift and DescribeStackResourceDrifts: `status --drift`",
                &[
                    cloudformation::DETECT_STACK_DRIFT,
                    cloudformation::DESCRIBE_STACK_RESOURCE_DRIFTS,
                ],
                "deployer/engine/src/drift.rs",
                ".detect_stack_drift()",
            ),
            DeployerWaitsForDrift => code(
                "deployer",
                "DescribeStackDriftDetectionStatus: polls the detection (IAM allows it only on \"*\")",
                &[cloudformation::DESCRIBE_STACK_DRIFT_DETECTION_STATUS],
                "deployer/engine/src/drift.rs",
                ".describe_stack_drift_detection_status()",
            ),
            DeployerWatchesAlarms => code(
                "deployer",
                "DescribeAlarms: the rollback alarms before a change set and during the canary's bake",
                &[cloudwatch::DESCRIBE_ALARMS],
                "deployer/engine/src/gate.rs",
                ".describe_alarms()",
            ),
            DeployerChecksSubscriptions => code(
                "deployer",
                "ListSubscriptionsByTopic: which alert addresses still have to confirm",
                &[sns::LIST_SUBSCRIPTIONS_BY_TOPIC],
                "deployer/engine/src/next_steps.rs",
                ".list_subscriptions_by_topic()",
            ),
            DeployerChecksTokenSecret => code(
                "deployer",
                "DescribeSecret: whether the InfluxDB token was put in (never its value)",
                &[secretsmanager::DESCRIBE_SECRET],
                "deployer/engine/src/next_steps.rs",
                ".describe_secret()",
            ),
            DeployerStoresArtifacts => code(
                "deployer",
                "HeadObject (s3:GetObject) checks a present artifact's checksum, PutObject uploads a missing one or a large template",
                &[s3::GET_OBJECT, s3::PUT_OBJECT],
                "deployer/engine/src/artifacts.rs",
                ".head_object()",
            ),
            CloudFormationReadsTemplateUrl => aws(
                "CloudFormation",
                "reads a template passed by URL (too large to send inline) with the caller's credentials",
                &[s3::GET_OBJECT],
                CFN_TEMPLATE_URL,
            ),
            DeployerPurgesData => code(
                "deployer",
                "`down --purge-data`: ListObjectVersions, DeleteObjects (every version), DeleteBucket; DescribeKey and ScheduleKeyDeletion on the data key",
                &[
                    s3::LIST_BUCKET_VERSIONS,
                    s3::DELETE_OBJECT,
                    s3::DELETE_OBJECT_VERSION,
                    s3::DELETE_BUCKET,
                    kms::DESCRIBE_KEY,
                    kms::SCHEDULE_KEY_DELETION,
                ],
                "deployer/engine/src/delete.rs",
                "keys::schedule_deletion(",
            ),
            DeployerPassesExecutionRole => aws(
                "deployer",
                "passes the CloudFormation execution role as the change set's and the deletion's RoleARN",
                &[iam::PASS_ROLE],
                CFN_SERVICE_ROLE,
            ),
            DeployerResolvesScraperImage => code(
                "deployer",
                "GetParameter: the newest Amazon Linux 2023 AMI (`scraper.ami: latest`), once per region, passed to the pipeline as a plain image id",
                &[ssm::GET_PARAMETER],
                "deployer/engine/src/image.rs",
                // A direct JSON call of `aws_connect` (no SDK crate): the operation as a literal.
                "\"GetParameter\"",
            ),
            DeployerAdoptsKeptResources => code(
                "deployer",
                "HeadBucket (s3:ListBucket) finds a kept data bucket, GetBucketEncryption (s3:GetEncryptionConfiguration) its key, DescribeKey whether that key is pending deletion",
                &[
                    s3::LIST_BUCKET,
                    s3::GET_ENCRYPTION_CONFIGURATION,
                    kms::DESCRIBE_KEY,
                ],
                "deployer/engine/src/adopt.rs",
                ".head_bucket()",
            ),
            DeployerFindsReplicaKey => code(
                "deployer",
                "ListAliases: the replica key's ARN for the replication rules (IAM allows it only on \"*\")",
                &[kms::LIST_ALIASES],
                "deployer/engine/src/keys.rs",
                // A direct JSON call of `aws_connect` (no SDK crate): the operation as a literal.
                "\"ListAliases\"",
            ),
            DeployerReadsReplication => code(
                "deployer",
                "GetBucketReplication (s3:GetReplicationConfiguration): `dr status` reads the rule back",
                &[s3::GET_REPLICATION_CONFIGURATION],
                "deployer/engine/src/dr.rs",
                ".get_bucket_replication()",
            ),
            DeployerReadsMetrics => code(
                "deployer",
                "GetMetricData (`dr status`: replication lag and backlog) and GetMetricStatistics (`status`: each shard's heartbeat); CloudWatch metrics have no resource-level permissions",
                &[
                    cloudwatch::GET_METRIC_DATA,
                    cloudwatch::GET_METRIC_STATISTICS,
                ],
                "deployer/engine/src/fleet.rs",
                ".get_metric_statistics()",
            ),
            DeployerReadsShardInstances => code(
                "deployer",
                "DescribeAutoScalingGroups: each shard's instance, lifecycle state and health (`status`); Auto Scaling has no resource-level permissions for it",
                &[autoscaling::DESCRIBE_AUTO_SCALING_GROUPS],
                "deployer/engine/src/fleet.rs",
                // A direct Query call of `aws_connect` (no SDK crate): the operation as a literal.
                "\"DescribeAutoScalingGroups\"",
            ),
            DeployerExportsVpnProfile => code(
                "deployer vpn profile",
                "ExportClientVpnClientConfiguration: the endpoint's OpenVPN configuration, written out with the operator's certificate and key",
                &[ec2::EXPORT_CLIENT_VPN_CLIENT_CONFIGURATION],
                "deployer/vpn/src/lib.rs",
                // A direct Query call of `aws_connect` (no SDK crate): the operation as a literal.
                "\"ExportClientVpnClientConfiguration\"",
            ),
            DeployerReadsVpnClientRootCa => code(
                "deployer vpn profile",
                "GetCertificate: the client root CA the environment names, to check the operator's certificate before a profile is written",
                &[acm::GET_CERTIFICATE],
                "deployer/vpn/src/lib.rs",
                // A direct JSON call of `aws_connect` (no SDK crate): the operation as a literal.
                "\"GetCertificate\"",
            ),
            DeployerRevokesVpnCertificates => code(
                "deployer vpn revoke",
                "ImportClientVpnClientCertificateRevocationList: the operator's revocation list replaces the endpoint's",
                &[ec2::IMPORT_CLIENT_VPN_CLIENT_CERTIFICATE_REVOCATION_LIST],
                "deployer/vpn/src/lib.rs",
                "\"ImportClientVpnClientCertificateRevocationList\"",
            ),
            DeployerVerifiesResources => code(
                "deployer verify",
                "GetFunction (each Lambda is active), DescribeDeliveryStream, GetTable (the curated table)",
                &[
                    lambda::GET_FUNCTION,
                    firehose::DESCRIBE_DELIVERY_STREAM,
                    glue::GET_TABLE,
                ],
                "deployer/verify/src/checks.rs",
                // A direct REST-JSON call of `aws_connect` (no SDK crate): the operation as a literal.
                "\"GetFunction\"",
            ),
            DeployerVerifiesEventSources => code(
                "deployer verify",
                "ListEventSourceMappings: each Lambda reads its source (IAM allows it only on \"*\")",
                &[lambda::LIST_EVENT_SOURCE_MAPPINGS],
                "deployer/verify/src/checks.rs",
                "\"ListEventSourceMappings\"",
            ),
            DeployerPutsCanary => code(
                "deployer verify",
                "PutRecords: the canary quote pair, as the scraper puts quotes",
                &[kinesis::PUT_RECORDS],
                "deployer/verify/src/hops.rs",
                ".put_records()",
            ),
            DeployerFollowsCanary => code(
                "deployer verify",
                "ListObjectsV2 (s3:ListBucket) and GetObject: the canary's raw record, Parquet object and notify's state",
                &[s3::LIST_BUCKET, s3::GET_OBJECT],
                "deployer/verify/src/hops.rs",
                ".list_objects_v2()",
            ),
            DeployerRemovesCanary => code(
                "deployer verify",
                "ListObjectsV2 (s3:ListBucket) and DeleteObjects (s3:DeleteObject): the canary's objects, and nothing else",
                &[s3::LIST_BUCKET, s3::DELETE_OBJECT],
                "deployer/verify/src/cleanup.rs",
                ".delete_objects()",
            ),
            DeployerReadsInfluxToken => code(
                "deployer verify",
                "GetSecretValue: the InfluxDB token, to query and remove the canary's points as the transform Lambda writes them",
                &[secretsmanager::GET_SECRET_VALUE],
                "deployer/verify/src/influx.rs",
                ".get_secret_value()",
            ),
            DeployerAssumesOtherAccountsRoles => code(
                "deployer",
                "AssumeRole: the deploy role of each other account of the environment, from the first account's (cross-account, the caller's policy must allow it too)",
                &[sts::ASSUME_ROLE],
                "deployer/engine/src/aws.rs",
                "base.assume(&role, &session)",
            ),
            DeployerUsesDataKey => code(
                "deployer verify",
                "GenerateDataKey (PutRecords on the encrypted stream) and Decrypt (GetObject on SSE-KMS objects, GetSecretValue), through those services",
                &[kms::DECRYPT, kms::GENERATE_DATA_KEY],
                "deployer/verify/src/hops.rs",
                ".put_records()",
            ),
            HandlersOf { kind } => Need {
                by: "CloudFormation",
                what: format!("the create, read, update and delete handlers of {kind}"),
                actions: crate::handlers::actions(kind).unwrap_or_default(),
                source: Source::Aws(CFN_HANDLERS),
            },
            DataKeyFor { action, on } => match kms_row(action, on) {
                Some(row) => Need {
                    by: "KMS",
                    what: format!(
                        "{action} on {} calls KMS through {} with the caller's credentials",
                        on.describe(),
                        row.via
                    ),
                    actions: kms_actions(row),
                    source: Source::Aws(row.doc),
                },
                // Never built: `data_key_uses` only makes rows it found. Accounts for nothing.
                None => Need {
                    by: "KMS",
                    what: format!("{action} on {} needs no key permission", on.describe()),
                    actions: Vec::new(),
                    source: Source::Aws(""),
                },
            },
        }
    }

    /// The encrypted resource this use calls actions on (every one is encrypted with the region's data
    /// key), so that its KMS permissions can be derived; `None` when it touches nothing encrypted by a
    /// role's own call (log groups: CloudWatch Logs uses the key itself).
    pub fn touches(self) -> Option<Encrypted> {
        use Use::*;
        match self {
            ScraperPutsQuotes | LambdaPollsQuoteStream | FirehoseReadsQuoteStream => {
                Some(Encrypted::KinesisStream)
            }
            TransformQuarantinesRecords
            | ToParquetReadsRawRecords
            | ToParquetWritesParquet
            | ToParquetQuarantinesRecords
            | NotifyReadsParquet
            | NotifyKeepsReferencePrices
            | FirehoseWritesRawRecords
            | CrawlerReadsCuratedData
            | ReplicationReadsSourceVersions
            | ReplicationWritesReplicas => Some(Encrypted::S3Objects),
            TransformReadsInfluxToken => Some(Encrypted::Secret),
            NotifyPublishesAlerts | GrafanaPublishesAlerts => Some(Encrypted::SnsTopic),
            LambdaSendsFailedBatches | LambdaSendsFailedEvents => Some(Encrypted::SqsQueue),
            // The artifacts bucket is SSE-S3; listing reads no object; log groups and the catalog are
            // encrypted by their services.
            ScraperFetchesItsBinary
            | ScraperFetchesItsConfiguration
            | ScraperPublishesHeartbeat
            | ScraperReportsStall
            | ScraperSignalsReady
            | ToParquetSeesVanishedRawRecords
            | NotifySeesMissingState
            | LambdaWritesFunctionLogs
            | FirehoseLogsDeliveryErrors
            | CrawlerListsCuratedData
            | CrawlerMaintainsPartitions
            | CrawlerWritesEncryptedLogs
            | FlowLogsDeliverRecords
            | GrafanaReadsMetrics
            | GrafanaQueriesTransformLogs
            | GrafanaStopsLogQueries
            | ReplicationReadsSourceBucket
            | DataKeyFor { .. } => None,
            // The deployer's and CloudFormation's own calls: the artifacts bucket is SSE-S3, and
            // deleting objects or describing resources needs no key.
            DeployerPlansChanges
            | DeployerExecutesChanges
            | DeployerFollowsEvents
            | DeployerListsResources
            | DeployerDeletesStacks
            | DeployerDetectsDrift
            | DeployerWaitsForDrift
            | DeployerWatchesAlarms
            | DeployerChecksSubscriptions
            | DeployerChecksTokenSecret
            | DeployerStoresArtifacts
            | CloudFormationReadsTemplateUrl
            | DeployerPurgesData
            | DeployerPassesExecutionRole
            | DeployerResolvesScraperImage
            | DeployerAdoptsKeptResources
            | DeployerFindsReplicaKey
            | DeployerReadsReplication
            | DeployerReadsMetrics
            | DeployerVerifiesResources
            | DeployerVerifiesEventSources
            | DeployerPutsCanary
            | DeployerFollowsCanary
            | DeployerRemovesCanary
            | DeployerReadsInfluxToken
            | DeployerUsesDataKey
            | DeployerReadsShardInstances
            | DeployerExportsVpnProfile
            | DeployerReadsVpnClientRootCa
            | DeployerRevokesVpnCertificates
            | DeployerAssumesOtherAccountsRoles
            | HandlersOf { .. } => None,
        }
    }
}

/// The KMS uses implied by `uses`: one [`Use::DataKeyFor`] per action of a use on an encrypted
/// resource that [`ROLE_USES`] says needs the key, sorted and without repeats.
pub fn data_key_uses(uses: impl IntoIterator<Item = Use>) -> Vec<Use> {
    let mut out: Vec<Use> = Vec::new();
    for used in uses {
        let Some(on) = used.touches() else { continue };
        for action in used.need().actions {
            if kms_row(action, on).is_some() {
                out.push(Use::DataKeyFor { action, on });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use std::path::Path;

    use super::*;

    /// A code use names a file of this repository that makes the call it cites, so a moved or
    /// removed call shows up here instead of leaving a reason that no longer holds.
    #[test]
    fn every_code_use_cites_a_file_that_makes_the_call() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for used in Use::NAMED {
            let need = used.need();
            assert!(!need.actions.is_empty(), "{used:?} needs no action");
            match need.source {
                Source::Code { path, call } => {
                    let text = std::fs::read_to_string(root.join(path))
                        .unwrap_or_else(|e| panic!("{used:?}: {path}: {e}"));
                    assert!(text.contains(call), "{used:?}: {path} no longer has {call}");
                }
                Source::Aws(doc) => {
                    assert!(doc.starts_with("https://docs.aws.amazon.com/"), "{used:?}")
                }
            }
        }
    }

    #[test]
    fn every_kms_action_of_the_kms_use_table_is_typed() {
        for row in ROLE_USES {
            assert_eq!(kms_actions(row).len(), row.kms.len(), "{}", row.action);
        }
    }

    #[test]
    fn kms_uses_are_derived_from_the_encrypted_resources_a_use_touches() {
        let uses = data_key_uses([
            Use::TransformQuarantinesRecords,
            Use::LambdaPollsQuoteStream,
            Use::LambdaWritesFunctionLogs,
        ]);
        assert_eq!(
            uses,
            [
                Use::DataKeyFor {
                    action: kinesis::GET_RECORDS,
                    on: Encrypted::KinesisStream
                },
                Use::DataKeyFor {
                    action: s3::PUT_OBJECT,
                    on: Encrypted::S3Objects
                },
            ]
        );
        assert_eq!(uses[1].need().actions, [kms::GENERATE_DATA_KEY]);
        assert!(uses[1].need().what.contains("through s3"));
    }
}
