//! Amazon Data Firehose.

use serde::Serialize;

use super::resource_types;
use crate::template::{Expr, Handle};

/// `AWS::KinesisFirehose::DeliveryStream` reading a Kinesis stream into S3. `Ref` is its name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeliveryStream {
    /// `KinesisStreamAsSource`.
    pub delivery_stream_type: &'static str,
    /// The source stream.
    pub kinesis_stream_source_configuration: KinesisSource,
    /// The S3 destination.
    #[serde(rename = "ExtendedS3DestinationConfiguration")]
    pub extended_s3_destination_configuration: S3Destination,
}

/// The source stream and the role that reads it.
#[derive(Debug, Clone, Serialize)]
pub struct KinesisSource {
    /// Stream ARN.
    #[serde(rename = "KinesisStreamARN")]
    pub kinesis_stream_arn: Expr,
    /// Role ARN.
    #[serde(rename = "RoleARN")]
    pub role_arn: Expr,
}

/// The S3 destination.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3Destination {
    /// Bucket ARN.
    #[serde(rename = "BucketARN")]
    pub bucket_arn: Expr,
    /// Role ARN.
    #[serde(rename = "RoleARN")]
    pub role_arn: Expr,
    /// Key prefix, with `!{partitionKeyFromQuery:..}` expressions when partitioning dynamically.
    pub prefix: String,
    /// Key prefix of records that failed processing.
    pub error_output_prefix: String,
    /// When to write.
    pub buffering_hints: BufferingHints,
    /// `GZIP`, ...
    pub compression_format: &'static str,
    /// Encryption of the written objects.
    pub encryption_configuration: EncryptionConfiguration,
    /// Partitioning by record content.
    pub dynamic_partitioning_configuration: DynamicPartitioning,
    /// Record processors (metadata extraction, delimiter).
    pub processing_configuration: Processing,
    /// Delivery error logging.
    #[serde(rename = "CloudWatchLoggingOptions")]
    pub cloudwatch_logging_options: LoggingOptions,
}

/// Buffering.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BufferingHints {
    /// Seconds.
    pub interval_in_seconds: u32,
    /// MiB.
    #[serde(rename = "SizeInMBs")]
    pub size_in_mbs: u32,
}

/// Encryption of the objects.
#[derive(Debug, Clone, Serialize)]
pub struct EncryptionConfiguration {
    /// The key.
    #[serde(rename = "KMSEncryptionConfig")]
    pub kms_encryption_config: KmsEncryptionConfig,
}

/// The key.
#[derive(Debug, Clone, Serialize)]
pub struct KmsEncryptionConfig {
    /// Key ARN.
    #[serde(rename = "AWSKMSKeyARN")]
    pub aws_kms_key_arn: Expr,
}

/// Dynamic partitioning.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DynamicPartitioning {
    /// On or off.
    pub enabled: bool,
    /// How long Firehose retries delivery to a partition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_options: Option<RetryOptions>,
}

/// Retry duration.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetryOptions {
    /// Seconds.
    pub duration_in_seconds: u32,
}

/// Record processing.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Processing {
    /// On or off.
    pub enabled: bool,
    /// The processors, in order.
    pub processors: Vec<Processor>,
}

/// One processor.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Processor {
    /// `MetadataExtraction`, `AppendDelimiterToRecord`, ...
    #[serde(rename = "Type")]
    pub kind: &'static str,
    /// Its parameters.
    pub parameters: Vec<ProcessorParameter>,
}

/// A processor parameter.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessorParameter {
    /// Name.
    pub parameter_name: &'static str,
    /// Value.
    pub parameter_value: String,
}

/// Error logging.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingOptions {
    /// On.
    pub enabled: bool,
    /// Log group name.
    pub log_group_name: Expr,
    /// Log stream name.
    pub log_stream_name: String,
}

resource_types!(DeliveryStream => "AWS::KinesisFirehose::DeliveryStream");

impl Handle<DeliveryStream> {
    /// The delivery stream's ARN.
    pub fn arn(&self) -> Expr {
        self.get_att("Arn")
    }
}
