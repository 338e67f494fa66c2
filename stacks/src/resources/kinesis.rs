//! Amazon Kinesis Data Streams.

use serde::Serialize;

use super::resource_types;
use crate::template::{Expr, Handle};

/// `AWS::Kinesis::Stream`: `Ref` is the stream name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Stream {
    /// Hours records stay readable.
    pub retention_period_hours: u32,
    /// Shard count (provisioned mode only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard_count: Option<u32>,
    /// Capacity mode.
    pub stream_mode_details: StreamModeDetails,
    /// Encryption at rest.
    pub stream_encryption: StreamEncryption,
}

/// Capacity mode.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamModeDetails {
    /// `ON_DEMAND` or `PROVISIONED`.
    pub stream_mode: &'static str,
}

/// Server-side encryption.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamEncryption {
    /// Always `KMS`.
    pub encryption_type: &'static str,
    /// The KMS key (ARN).
    pub key_id: Expr,
}

resource_types!(Stream => "AWS::Kinesis::Stream");

impl Handle<Stream> {
    /// The stream's ARN, built from its name.
    pub fn arn(&self) -> Expr {
        Expr::regional_arn("kinesis", [Expr::lit("stream/"), self.reference()])
    }
}
