//! The Kinesis stream the scraper writes to, and the Firehose delivery stream that lands it in S3.

use environment::{Environment, StreamCapacity};

use crate::iam::Statement;
use crate::iam::uses::Use;
use crate::resources::firehose::{
    BufferingHints, DeliveryStream, DynamicPartitioning, EncryptionConfiguration, KinesisSource,
    KmsEncryptionConfig, LoggingOptions, Processing, Processor, ProcessorParameter, RetryOptions,
    S3Destination,
};
use crate::resources::kinesis::{Stream, StreamEncryption, StreamModeDetails};
use crate::resources::logs::LogStream;
use crate::template::{Handle, Options, Template};

use super::BuildError;
use super::health::Watched;
use super::keys::{DataKey, add_log_group};
use super::roles::{TrustedService, component_role};
use super::storage::{Buckets, prefixes};

pub(super) type QuoteStream = Handle<Stream>;

pub(super) fn add_stream(
    t: &mut Template,
    env: &Environment,
    key: &DataKey,
) -> Result<QuoteStream, BuildError> {
    let (mode, shards) = match env.stream.capacity {
        StreamCapacity::OnDemand => ("ON_DEMAND", None),
        StreamCapacity::Provisioned { shards } => ("PROVISIONED", Some(shards)),
    };
    Ok(t.add(
        Watched::QuoteStream.logical_id(),
        Stream {
            retention_period_hours: env.stream.retention_hours,
            shard_count: shards,
            stream_mode_details: StreamModeDetails { stream_mode: mode },
            stream_encryption: StreamEncryption {
                encryption_type: "KMS",
                key_id: key.arn(),
            },
        },
        Options::none(),
    )?)
}

/// The log stream Firehose reports delivery errors to.
const DELIVERY_LOG_STREAM: &str = "S3Delivery";

/// JQ that Firehose runs on each record to find its partition: the symbol, and the UTC date of
/// `market_time` (RFC 3339, so its first ten characters).
const PARTITION_QUERY: &str = "{symbol: .symbol, dt: .market_time[0:10]}";

pub(super) fn add_firehose(
    t: &mut Template,
    env: &Environment,
    key: &DataKey,
    stream: &QuoteStream,
    buckets: &Buckets,
) -> Result<(), BuildError> {
    let log_group = add_log_group(t, "FirehoseLogGroup", env, key)?;
    let log_stream = t.add(
        "FirehoseLogStream",
        LogStream {
            log_group_name: log_group.reference(),
            log_stream_name: DELIVERY_LOG_STREAM.into(),
        },
        Options::none(),
    )?;
    let (role, policy) = component_role(
        t,
        "Firehose",
        TrustedService::Firehose,
        "Firehose: reads the quote stream, writes raw records to the raw bucket",
        key,
        vec![
            Statement::grant(&[Use::FirehoseReadsQuoteStream], [stream.arn()])
                .sid("ReadQuoteStream"),
            Statement::grant(
                &[Use::FirehoseWritesRawRecords],
                [
                    buckets.raw.arn(),
                    buckets.raw.objects_arn(prefixes::RAW),
                    buckets.raw.objects_arn(prefixes::FIREHOSE_ERRORS),
                ],
            )
            .sid("WriteRawRecords"),
            Statement::grant(
                &[Use::FirehoseLogsDeliveryErrors],
                [log_group.streams_arn()],
            )
            .sid("LogDeliveryErrors"),
        ],
    )?;
    let partitioning = env.firehose.dynamic_partitioning;
    let (prefix, mut processors) = if partitioning {
        (
            format!(
                "{}symbol=!{{partitionKeyFromQuery:symbol}}/dt=!{{partitionKeyFromQuery:dt}}/",
                prefixes::RAW
            ),
            vec![Processor {
                kind: "MetadataExtraction",
                parameters: vec![
                    ProcessorParameter {
                        parameter_name: "MetadataExtractionQuery",
                        parameter_value: PARTITION_QUERY.into(),
                    },
                    ProcessorParameter {
                        parameter_name: "JsonParsingEngine",
                        parameter_value: "JQ-1.6".into(),
                    },
                ],
            }],
        )
    } else {
        (
            format!("{}dt=!{{timestamp:yyyy-MM-dd}}/", prefixes::RAW),
            Vec::new(),
        )
    };
    // Records carry no trailing newline (DESIGN.md); Firehose adds it, so raw objects are JSON lines.
    processors.push(Processor {
        kind: "AppendDelimiterToRecord",
        parameters: vec![ProcessorParameter {
            parameter_name: "Delimiter",
            parameter_value: "\\n".into(),
        }],
    });
    t.add(
        Watched::RawDeliveryStream.logical_id(),
        DeliveryStream {
            delivery_stream_type: "KinesisStreamAsSource",
            kinesis_stream_source_configuration: KinesisSource { kinesis_stream_arn: stream.arn(), role_arn: role.arn() },
            extended_s3_destination_configuration: S3Destination {
                bucket_arn: buckets.raw.arn(),
                role_arn: role.arn(),
                prefix,
                error_output_prefix: format!(
                    "{}!{{firehose:error-output-type}}/dt=!{{timestamp:yyyy-MM-dd}}/",
                    prefixes::FIREHOSE_ERRORS
                ),
                buffering_hints: BufferingHints {
                    interval_in_seconds: env.firehose.buffering_seconds,
                    size_in_mbs: env.firehose.buffering_mb,
                },
                compression_format: "GZIP",
                encryption_configuration: EncryptionConfiguration {
                    kms_encryption_config: KmsEncryptionConfig { aws_kms_key_arn: key.arn() },
                },
                dynamic_partitioning_configuration: DynamicPartitioning {
                    enabled: partitioning,
                    retry_options: partitioning.then_some(RetryOptions { duration_in_seconds: 300 }),
                },
                processing_configuration: Processing { enabled: true, processors },
                cloudwatch_logging_options: LoggingOptions {
                    enabled: true,
                    log_group_name: log_group.reference(),
                    log_stream_name: DELIVERY_LOG_STREAM.into(),
                },
            },
        },
        // The role's permissions must be in place before Firehose validates its source and destination.
        Options::none()
            .depends_on(&policy)
            .depends_on(&log_stream)
            .skip_checkov(
                "CKV_AWS_240",
                "Firehose rejects server-side encryption settings on a Kinesis-stream source; the source stream is KMS-encrypted and delivered objects use the data key.",
            )
            .skip_checkov(
                "CKV_AWS_241",
                "Firehose rejects server-side encryption settings on a Kinesis-stream source; the source stream is KMS-encrypted and delivered objects use the data key.",
            ),
    )?;
    Ok(())
}
