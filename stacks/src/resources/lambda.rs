//! AWS Lambda.

use std::collections::BTreeMap;

use serde::Serialize;

use super::resource_types;
use crate::template::{Expr, Handle};

/// `AWS::Lambda::Function`: `Ref` is the function name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Function {
    /// A fixed name, for a function a service finds by name (Client VPN's connect handler must be
    /// named `AWSClientVPN-…`); CloudFormation names the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_name: Option<String>,
    /// What the function does.
    pub description: String,
    /// `provided.al2023`: a custom runtime binary named `bootstrap`.
    pub runtime: &'static str,
    /// Ignored by custom runtimes, required by the schema.
    pub handler: &'static str,
    /// `x86_64` or `arm64`.
    pub architectures: Vec<&'static str>,
    /// Where the zip is.
    pub code: Code,
    /// The execution role's ARN.
    pub role: Expr,
    /// MiB of memory.
    pub memory_size: u32,
    /// Seconds before the invocation is stopped.
    pub timeout: u32,
    /// Configuration (never secrets).
    pub environment: Environment,
    /// KMS key encrypting the environment variables at rest.
    pub kms_key_arn: Expr,
    /// Where logs go, and in which format.
    pub logging_config: LoggingConfig,
    /// Where failed asynchronous invocations go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    /// Concurrency set aside for this function alone (and its ceiling).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_concurrent_executions: Option<u32>,
}

/// Code location.
#[derive(Debug, Clone, Serialize)]
pub struct Code {
    /// Bucket name.
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Expr,
    /// Object key (the artifact's content hash).
    #[serde(rename = "S3Key")]
    pub s3_key: Expr,
    /// Object version: the one whose checksum the deployer verified, so a later write to the key
    /// does not change the code.
    #[serde(rename = "S3ObjectVersion")]
    pub s3_object_version: Expr,
}

/// Environment variables.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Environment {
    /// Name to value.
    pub variables: BTreeMap<String, Expr>,
}

/// Logging settings.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingConfig {
    /// `JSON` or `Text`.
    pub log_format: &'static str,
    /// The log group's name.
    pub log_group: Expr,
}

/// Dead-letter target.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    /// Queue or topic ARN.
    pub target_arn: Expr,
}

/// `AWS::Lambda::EventSourceMapping` from a Kinesis stream.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventSourceMapping {
    /// The stream's ARN.
    pub event_source_arn: Expr,
    /// The function's name.
    pub function_name: Expr,
    /// Where to start reading.
    pub starting_position: &'static str,
    /// Records per invocation.
    pub batch_size: u32,
    /// Seconds to gather a batch.
    pub maximum_batching_window_in_seconds: u32,
    /// `ReportBatchItemFailures`: the function names the first failed record.
    pub function_response_types: Vec<&'static str>,
    /// Split a failing batch in two and retry the halves.
    pub bisect_batch_on_function_error: bool,
    /// Records older than this are not retried.
    pub maximum_record_age_in_seconds: u32,
    /// Retries before a batch goes to the on-failure destination; -1 retries until the records
    /// reach `MaximumRecordAgeInSeconds`.
    pub maximum_retry_attempts: i64,
    /// Where failed batches are described.
    pub destination_config: DestinationConfig,
}

/// Destinations.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationConfig {
    /// On failure.
    pub on_failure: OnFailure,
}

/// The on-failure destination.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OnFailure {
    /// Queue ARN.
    pub destination: Expr,
}

/// `AWS::Lambda::Permission`: lets a service invoke a function.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Permission {
    /// `lambda:InvokeFunction`.
    pub action: &'static str,
    /// The function's name or ARN.
    pub function_name: Expr,
    /// The service principal.
    pub principal: Expr,
    /// The only resource allowed to invoke.
    pub source_arn: Expr,
    /// The account that must own the source.
    pub source_account: Expr,
}

resource_types!(
    Function => "AWS::Lambda::Function",
    EventSourceMapping => "AWS::Lambda::EventSourceMapping",
    Permission => "AWS::Lambda::Permission",
);

impl Handle<Function> {
    /// The function's ARN.
    pub fn arn(&self) -> Expr {
        self.get_att("Arn")
    }
}
