//! Amazon CloudWatch alarms.

use serde::Serialize;

use super::resource_types;
use crate::template::{Expr, Handle};

/// `AWS::CloudWatch::Alarm` on one metric.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Alarm {
    /// The alarm's name, fixed so its ARN is known before the stack exists (rollback triggers
    /// name alarms by ARN).
    pub alarm_name: String,
    /// What firing means and what to do.
    pub alarm_description: String,
    /// Metric namespace, such as `AWS/Lambda`.
    pub namespace: String,
    /// Metric name.
    pub metric_name: &'static str,
    /// Metric dimensions.
    pub dimensions: Vec<Dimension>,
    /// `Sum`, `Maximum`, ...
    pub statistic: &'static str,
    /// Seconds per datapoint.
    pub period: u32,
    /// Datapoints considered.
    pub evaluation_periods: u32,
    /// The threshold.
    pub threshold: f64,
    /// `GreaterThanOrEqualToThreshold`, ...
    pub comparison_operator: &'static str,
    /// `notBreaching`, ...
    pub treat_missing_data: &'static str,
    /// Where alarms go (topic ARNs).
    pub alarm_actions: Vec<Expr>,
    /// Where recoveries go.
    #[serde(rename = "OKActions")]
    pub ok_actions: Vec<Expr>,
}

/// A metric dimension.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    /// Dimension name.
    pub name: &'static str,
    /// Dimension value.
    pub value: Expr,
}

/// `AWS::CloudWatch::Alarm` on a metric math expression over metrics (`Metrics`): the one query
/// with `ReturnData: true` is what the alarm watches.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MathAlarm {
    /// The alarm's name, fixed like [`Alarm::alarm_name`].
    pub alarm_name: String,
    /// What firing means and what to do.
    pub alarm_description: String,
    /// The metrics and expressions; exactly one returns data.
    pub metrics: Vec<MetricQuery>,
    /// Datapoints considered.
    pub evaluation_periods: u32,
    /// The threshold.
    pub threshold: f64,
    /// `LessThanThreshold`, ...
    pub comparison_operator: &'static str,
    /// `breaching`, ...
    pub treat_missing_data: &'static str,
    /// Where alarms go (topic ARNs).
    pub alarm_actions: Vec<Expr>,
    /// Where recoveries go.
    #[serde(rename = "OKActions")]
    pub ok_actions: Vec<Expr>,
}

/// One entry of [`MathAlarm::metrics`]: a metric (`MetricStat`) or an expression over the others.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricQuery {
    /// The id expressions refer to (starts with a lowercase letter).
    pub id: &'static str,
    /// What the series is, as graphs and the console show it.
    pub label: String,
    /// The metric math expression, for an expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// The metric and its statistic, for a metric.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_stat: Option<MetricStat>,
    /// True for the one series the alarm watches.
    pub return_data: bool,
}

/// A metric with a statistic over a period (`MetricStat`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricStat {
    /// The metric.
    pub metric: Metric,
    /// Seconds per datapoint.
    pub period: u32,
    /// `Sum`, `Maximum`, ...
    pub stat: &'static str,
}

/// A metric by namespace, name and dimensions.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metric {
    /// Metric namespace, such as `AWS/Kinesis`.
    pub namespace: &'static str,
    /// Metric name.
    pub metric_name: &'static str,
    /// Metric dimensions.
    pub dimensions: Vec<Dimension>,
}

/// `AWS::CloudWatch::CompositeAlarm`: in `ALARM` when its rule over other alarms holds.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompositeAlarm {
    /// The alarm's name, fixed like [`Alarm::alarm_name`].
    pub alarm_name: String,
    /// What firing means and what to do.
    pub alarm_description: String,
    /// The rule, such as `ALARM("a") OR ALARM("b")`.
    pub alarm_rule: String,
}

resource_types!(
    Alarm => "AWS::CloudWatch::Alarm",
    MathAlarm => "AWS::CloudWatch::Alarm",
    CompositeAlarm => "AWS::CloudWatch::CompositeAlarm",
);

impl Handle<Alarm> {
    /// The alarm's ARN (what `aws:SourceArn` is when the alarm publishes to a topic).
    pub fn arn(&self) -> Expr {
        self.get_att("Arn")
    }
}

impl Handle<MathAlarm> {
    /// The alarm's ARN, like [`Handle<Alarm>::arn`].
    pub fn arn(&self) -> Expr {
        self.get_att("Arn")
    }
}
