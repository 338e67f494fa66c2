//! CloudWatch queries for the pipeline's health metrics (`stacks::pipeline::health`, the alarms'
//! own definition).
//!
//! The functions, queue and streams have names CloudFormation generates, so a query finds them
//! with a search expression on the name's fixed start (`<stack>-<logical id>-`).

use environment::Environment;
use serde_json::{Value, json};
use stacks::pipeline::health::{HealthMetric, Watched};
use stacks::pipeline::{Names, StackKind};

use crate::datasources::DataSource;

/// The pipeline stack's name in `env`.
pub fn pipeline_stack(env: &Environment) -> String {
    Names::new(env).stack(StackKind::Pipeline)
}

/// `SEARCH('{<namespace>,<dimension>} MetricName="<metric>" <dimension>=<name prefix>', '<statistic>', <period>)`.
pub fn search_expression(env: &Environment, metric: &HealthMetric, period_seconds: u32) -> String {
    format!(
        "SEARCH('{{{},{}}} MetricName=\"{}\" {}={}', '{}', {period_seconds})",
        metric.namespace,
        metric.dimension,
        metric.metric,
        metric.dimension,
        metric.watched.name_prefix(&pipeline_stack(env)),
        metric.statistic,
    )
}

/// A CloudWatch metrics query (code mode, a search expression) in `region`.
pub fn metric_query(
    ref_id: &str,
    source: &DataSource,
    env: &Environment,
    metric: &HealthMetric,
    region: &str,
    period_seconds: u32,
) -> Value {
    json!({
        "refId": ref_id,
        "datasource": source.reference(),
        "queryMode": "Metrics",
        "metricQueryType": 0,
        "metricEditorMode": 1,
        "expression": search_expression(env, metric, period_seconds),
        "id": "",
        "region": region,
        "namespace": metric.namespace,
        "metricName": metric.metric,
        "statistic": metric.statistic,
        "period": period_seconds.to_string(),
        "dimensions": {},
        "matchExact": false,
        "label": metric.title,
    })
}

/// A CloudWatch Logs Insights query over the transform Lambda's `batch done` lines: records
/// quarantined per five minutes. The log group is found by its name's start.
pub fn quarantined_records_query(
    ref_id: &str,
    source: &DataSource,
    env: &Environment,
    region: &str,
) -> Value {
    let prefix = Watched::TransformLogGroup.name_prefix(&pipeline_stack(env));
    json!({
        "refId": ref_id,
        "datasource": source.reference(),
        "queryMode": "Logs",
        "region": region,
        "logGroups": [],
        "expression": format!(
            "SOURCE logGroups(namePrefix: ['{prefix}']) | filter message = 'batch done' | stats sum(quarantined) as quarantined by bin(5m)"
        ),
        "statsGroups": ["bin(5m)"],
    })
}
