//! The IAM actions the pipeline grants, one constant each, grouped by service.
//!
//! Keeping them here, typed, means a misspelt action is a compile error in every use, and a reviewer can
//! read the complete vocabulary of the project's permissions in one file.

use super::Action;

/// Amazon Kinesis Data Streams.
pub mod kinesis {
    use super::Action;
    /// Read records from a shard iterator.
    pub const GET_RECORDS: Action = Action::new("kinesis", "GetRecords");
    /// Open a shard iterator.
    pub const GET_SHARD_ITERATOR: Action = Action::new("kinesis", "GetShardIterator");
    /// Describe the stream (status, shards).
    pub const DESCRIBE_STREAM: Action = Action::new("kinesis", "DescribeStream");
    /// Describe the stream without its shards.
    pub const DESCRIBE_STREAM_SUMMARY: Action = Action::new("kinesis", "DescribeStreamSummary");
    /// List the stream's shards.
    pub const LIST_SHARDS: Action = Action::new("kinesis", "ListShards");
    /// Put a batch of records.
    pub const PUT_RECORDS: Action = Action::new("kinesis", "PutRecords");
}

/// AWS Key Management Service.
pub mod kms {
    use super::Action;
    /// Decrypt data or a data key.
    pub const DECRYPT: Action = Action::new("kms", "Decrypt");
    /// Encrypt data.
    pub const ENCRYPT: Action = Action::new("kms", "Encrypt");
    /// Make a data key for envelope encryption.
    pub const GENERATE_DATA_KEY: Action = Action::new("kms", "GenerateDataKey");
    /// Re-encrypt: the source side.
    pub const RE_ENCRYPT_FROM: Action = Action::new("kms", "ReEncryptFrom");
    /// Re-encrypt: the destination side.
    pub const RE_ENCRYPT_TO: Action = Action::new("kms", "ReEncryptTo");
    /// Describe the key.
    pub const DESCRIBE_KEY: Action = Action::new("kms", "DescribeKey");
    /// Schedule a key's deletion.
    pub const SCHEDULE_KEY_DELETION: Action = Action::new("kms", "ScheduleKeyDeletion");
    /// List the account's key aliases (no resource-level permissions).
    pub const LIST_ALIASES: Action = Action::new("kms", "ListAliases");
}

/// Amazon S3.
pub mod s3 {
    use super::Action;
    /// Read an object.
    pub const GET_OBJECT: Action = Action::new("s3", "GetObject");
    /// Read a given version of an object.
    pub const GET_OBJECT_VERSION: Action = Action::new("s3", "GetObjectVersion");
    /// Write an object (also each part of a multipart upload).
    pub const PUT_OBJECT: Action = Action::new("s3", "PutObject");
    /// Abandon a multipart upload.
    pub const ABORT_MULTIPART_UPLOAD: Action = Action::new("s3", "AbortMultipartUpload");
    /// List objects.
    pub const LIST_BUCKET: Action = Action::new("s3", "ListBucket");
    /// List unfinished multipart uploads.
    pub const LIST_BUCKET_MULTIPART_UPLOADS: Action =
        Action::new("s3", "ListBucketMultipartUploads");
    /// Find a bucket's region.
    pub const GET_BUCKET_LOCATION: Action = Action::new("s3", "GetBucketLocation");
    /// Read a bucket's replication configuration (S3 replication, with the replication role).
    pub const GET_REPLICATION_CONFIGURATION: Action =
        Action::new("s3", "GetReplicationConfiguration");
    /// Read an object version and its metadata to replicate it.
    pub const GET_OBJECT_VERSION_FOR_REPLICATION: Action =
        Action::new("s3", "GetObjectVersionForReplication");
    /// Read an object version's ACL to replicate it.
    pub const GET_OBJECT_VERSION_ACL: Action = Action::new("s3", "GetObjectVersionAcl");
    /// Read an object version's tags to replicate them.
    pub const GET_OBJECT_VERSION_TAGGING: Action = Action::new("s3", "GetObjectVersionTagging");
    /// Write a replica.
    pub const REPLICATE_OBJECT: Action = Action::new("s3", "ReplicateObject");
    /// Replicate a delete marker.
    pub const REPLICATE_DELETE: Action = Action::new("s3", "ReplicateDelete");
    /// Replicate an object's tags.
    pub const REPLICATE_TAGS: Action = Action::new("s3", "ReplicateTags");
    /// List the object versions of a bucket.
    pub const LIST_BUCKET_VERSIONS: Action = Action::new("s3", "ListBucketVersions");
    /// Delete an object (its current version).
    pub const DELETE_OBJECT: Action = Action::new("s3", "DeleteObject");
    /// Delete an object version.
    pub const DELETE_OBJECT_VERSION: Action = Action::new("s3", "DeleteObjectVersion");
    /// Delete an empty bucket.
    pub const DELETE_BUCKET: Action = Action::new("s3", "DeleteBucket");
    /// Read a bucket's default encryption (GetBucketEncryption).
    pub const GET_ENCRYPTION_CONFIGURATION: Action =
        Action::new("s3", "GetEncryptionConfiguration");
}

/// Amazon SQS.
pub mod sqs {
    use super::Action;
    /// Send a message.
    pub const SEND_MESSAGE: Action = Action::new("sqs", "SendMessage");
}

/// Amazon SNS.
pub mod sns {
    use super::Action;
    /// Publish a message to a topic.
    pub const PUBLISH: Action = Action::new("sns", "Publish");
    /// List a topic's subscriptions.
    pub const LIST_SUBSCRIPTIONS_BY_TOPIC: Action = Action::new("sns", "ListSubscriptionsByTopic");
}

/// AWS Secrets Manager.
pub mod secretsmanager {
    use super::Action;
    /// Read a secret's value.
    pub const GET_SECRET_VALUE: Action = Action::new("secretsmanager", "GetSecretValue");
    /// Read a secret's metadata (never its value).
    pub const DESCRIBE_SECRET: Action = Action::new("secretsmanager", "DescribeSecret");
}

/// CloudWatch Logs.
pub mod logs {
    use super::Action;
    /// Create a log stream in a log group.
    pub const CREATE_LOG_STREAM: Action = Action::new("logs", "CreateLogStream");
    /// Write log events.
    pub const PUT_LOG_EVENTS: Action = Action::new("logs", "PutLogEvents");
    /// Create a log group (Glue crawlers create their own).
    pub const CREATE_LOG_GROUP: Action = Action::new("logs", "CreateLogGroup");
    /// Encrypt a log group with a KMS key (Glue does it for crawlers with a security configuration).
    pub const ASSOCIATE_KMS_KEY: Action = Action::new("logs", "AssociateKmsKey");
    /// List a log group's streams (the flow logs service checks its stream).
    pub const DESCRIBE_LOG_STREAMS: Action = Action::new("logs", "DescribeLogStreams");
    /// Start a Logs Insights query over log groups.
    pub const START_QUERY: Action = Action::new("logs", "StartQuery");
    /// Read a Logs Insights query's results.
    pub const GET_QUERY_RESULTS: Action = Action::new("logs", "GetQueryResults");
    /// Stop a running Logs Insights query.
    pub const STOP_QUERY: Action = Action::new("logs", "StopQuery");
}

/// Amazon CloudWatch metrics.
pub mod cloudwatch {
    use super::Action;
    /// Read metric data points (also search expressions).
    pub const GET_METRIC_DATA: Action = Action::new("cloudwatch", "GetMetricData");
    /// List metrics and their dimensions.
    pub const LIST_METRICS: Action = Action::new("cloudwatch", "ListMetrics");
    /// Publish metric data points.
    pub const PUT_METRIC_DATA: Action = Action::new("cloudwatch", "PutMetricData");
    /// Read alarms and their states (the deploy role reads the rollback alarms).
    pub const DESCRIBE_ALARMS: Action = Action::new("cloudwatch", "DescribeAlarms");
    /// Read one metric's statistics (no resource-level permissions).
    pub const GET_METRIC_STATISTICS: Action = Action::new("cloudwatch", "GetMetricStatistics");
}

/// AWS Glue Data Catalog.
pub mod glue {
    use super::Action;
    /// Read a database.
    pub const GET_DATABASE: Action = Action::new("glue", "GetDatabase");
    /// Read a table.
    pub const GET_TABLE: Action = Action::new("glue", "GetTable");
    /// Read a partition.
    pub const GET_PARTITION: Action = Action::new("glue", "GetPartition");
    /// List partitions.
    pub const GET_PARTITIONS: Action = Action::new("glue", "GetPartitions");
    /// Read several partitions.
    pub const BATCH_GET_PARTITION: Action = Action::new("glue", "BatchGetPartition");
    /// Create a partition.
    pub const CREATE_PARTITION: Action = Action::new("glue", "CreatePartition");
    /// Create several partitions.
    pub const BATCH_CREATE_PARTITION: Action = Action::new("glue", "BatchCreatePartition");
    /// Change a partition.
    pub const UPDATE_PARTITION: Action = Action::new("glue", "UpdatePartition");
    /// Change several partitions.
    pub const BATCH_UPDATE_PARTITION: Action = Action::new("glue", "BatchUpdatePartition");
}

/// AWS STS (trust policies).
pub mod sts {
    use super::Action;
    /// Assume a role.
    pub const ASSUME_ROLE: Action = Action::new("sts", "AssumeRole");
    /// Assume a role with an OIDC token (GitLab's ID tokens).
    pub const ASSUME_ROLE_WITH_WEB_IDENTITY: Action =
        Action::new("sts", "AssumeRoleWithWebIdentity");
}

/// AWS CloudFormation.
pub mod cloudformation {
    use super::Action;
    /// Read a stack's status, parameters, tags and outputs.
    pub const DESCRIBE_STACKS: Action = Action::new("cloudformation", "DescribeStacks");
    /// Read a stack's events.
    pub const DESCRIBE_STACK_EVENTS: Action = Action::new("cloudformation", "DescribeStackEvents");
    /// Read a stack's deployed template.
    pub const GET_TEMPLATE: Action = Action::new("cloudformation", "GetTemplate");
    /// List a stack's resources.
    pub const LIST_STACK_RESOURCES: Action = Action::new("cloudformation", "ListStackResources");
    /// Create a change set.
    pub const CREATE_CHANGE_SET: Action = Action::new("cloudformation", "CreateChangeSet");
    /// Read a change set.
    pub const DESCRIBE_CHANGE_SET: Action = Action::new("cloudformation", "DescribeChangeSet");
    /// Execute a change set.
    pub const EXECUTE_CHANGE_SET: Action = Action::new("cloudformation", "ExecuteChangeSet");
    /// Delete a change set.
    pub const DELETE_CHANGE_SET: Action = Action::new("cloudformation", "DeleteChangeSet");
    /// Delete a stack.
    pub const DELETE_STACK: Action = Action::new("cloudformation", "DeleteStack");
    /// Start drift detection.
    pub const DETECT_STACK_DRIFT: Action = Action::new("cloudformation", "DetectStackDrift");
    /// Read drift detection's progress (no resource-level permissions).
    pub const DESCRIBE_STACK_DRIFT_DETECTION_STATUS: Action =
        Action::new("cloudformation", "DescribeStackDriftDetectionStatus");
    /// Read each resource's drift.
    pub const DESCRIBE_STACK_RESOURCE_DRIFTS: Action =
        Action::new("cloudformation", "DescribeStackResourceDrifts");
    /// Signal a resource's creation or update policy (the scraper's instances).
    pub const SIGNAL_RESOURCE: Action = Action::new("cloudformation", "SignalResource");
}

/// AWS IAM (the deploy role passes the execution role).
pub mod iam {
    use super::Action;
    /// Hand a role to a service (CloudFormation's `RoleARN`).
    pub const PASS_ROLE: Action = Action::new("iam", "PassRole");
}

/// Amazon EC2 Auto Scaling.
pub mod autoscaling {
    use super::Action;
    /// Mark an instance of a group healthy or unhealthy.
    pub const SET_INSTANCE_HEALTH: Action = Action::new("autoscaling", "SetInstanceHealth");
    /// Read groups, their instances and the instances' health (no resource-level permissions).
    pub const DESCRIBE_AUTO_SCALING_GROUPS: Action =
        Action::new("autoscaling", "DescribeAutoScalingGroups");
}

/// AWS Certificate Manager (`deployer vpn profile` reads the Client VPN's client root CA).
pub mod acm {
    use super::Action;
    /// Read a certificate and its chain (public certificates only, never a private key).
    pub const GET_CERTIFICATE: Action = Action::new("acm", "GetCertificate");
}

/// Amazon EC2 Client VPN (`deployer vpn profile` and `deployer vpn revoke`).
pub mod ec2 {
    use super::Action;
    /// Download a Client VPN endpoint's client configuration.
    pub const EXPORT_CLIENT_VPN_CLIENT_CONFIGURATION: Action =
        Action::new("ec2", "ExportClientVpnClientConfiguration");
    /// Replace a Client VPN endpoint's certificate revocation list.
    pub const IMPORT_CLIENT_VPN_CLIENT_CERTIFICATE_REVOCATION_LIST: Action =
        Action::new("ec2", "ImportClientVpnClientCertificateRevocationList");
}

/// AWS Systems Manager Parameter Store (the deploy role reads AWS's public AMI parameter).
pub mod ssm {
    use super::Action;
    /// Read one parameter's value.
    pub const GET_PARAMETER: Action = Action::new("ssm", "GetParameter");
}

/// AWS Lambda (`deployer verify` checks the functions).
pub mod lambda {
    use super::Action;
    /// Read a function's configuration and state.
    pub const GET_FUNCTION: Action = Action::new("lambda", "GetFunction");
    /// List event source mappings (no resource-level permissions).
    pub const LIST_EVENT_SOURCE_MAPPINGS: Action = Action::new("lambda", "ListEventSourceMappings");
}

/// Amazon Data Firehose (`deployer verify` checks the delivery stream).
pub mod firehose {
    use super::Action;
    /// Read a delivery stream's status and configuration.
    pub const DESCRIBE_DELIVERY_STREAM: Action = Action::new("firehose", "DescribeDeliveryStream");
}
