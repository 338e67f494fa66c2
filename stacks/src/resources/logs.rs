//! CloudWatch Logs.

use serde::Serialize;

use super::resource_types;
use crate::template::{Expr, Handle};

/// `AWS::Logs::LogGroup`: `Ref` is the log group name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogGroup {
    /// Days events are kept.
    pub retention_in_days: u32,
    /// KMS key (ARN) encrypting the events.
    pub kms_key_id: Expr,
}

/// `AWS::Logs::LogStream`, for services that write to a stream they do not create (Firehose).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogStream {
    /// The group's name.
    pub log_group_name: Expr,
    /// The stream's name.
    pub log_stream_name: String,
}

/// `AWS::Logs::MetricFilter`: counts the log events that match a pattern as a CloudWatch metric.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricFilter {
    /// The log group's name.
    pub log_group_name: Expr,
    /// The pattern, such as `{ $.decision = "deny" }` for JSON log events.
    pub filter_pattern: String,
    /// The metric it feeds.
    pub metric_transformations: Vec<MetricTransformation>,
}

/// How matching events become a metric.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricTransformation {
    /// The metric's namespace.
    pub metric_namespace: String,
    /// The metric's name.
    pub metric_name: &'static str,
    /// What one matching event adds (`1` to count them).
    pub metric_value: &'static str,
    /// The unit, such as `Count`.
    pub unit: &'static str,
}

resource_types!(LogGroup => "AWS::Logs::LogGroup", LogStream => "AWS::Logs::LogStream", MetricFilter => "AWS::Logs::MetricFilter");

impl Handle<LogGroup> {
    /// The log group's ARN (the form `logs:CreateLogGroup` is granted on).
    pub fn arn(&self) -> Expr {
        Expr::regional_arn("logs", [Expr::lit("log-group:"), self.reference()])
    }

    /// The group's ARN followed by `:*`: the group and its log streams (the form
    /// `logs:DescribeLogStreams` is granted on).
    pub fn group_and_streams_arn(&self) -> Expr {
        Expr::regional_arn(
            "logs",
            [Expr::lit("log-group:"), self.reference(), Expr::lit(":*")],
        )
    }

    /// The ARN pattern of the group's log streams (the form `logs:PutLogEvents` is granted on).
    pub fn streams_arn(&self) -> Expr {
        Expr::regional_arn(
            "logs",
            [
                Expr::lit("log-group:"),
                self.reference(),
                Expr::lit(":log-stream:*"),
            ],
        )
    }
}
