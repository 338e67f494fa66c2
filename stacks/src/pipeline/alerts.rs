//! The alert topic (price-move e-mails and pipeline alarms) and the CloudWatch alarms.

use environment::Environment;

use crate::resources::cloudwatch::{Alarm, Dimension};
use crate::resources::sns::{Subscription, Topic};
use crate::template::{Expr, Handle, Options, Template};

use super::BuildError;
use super::functions::Functions;
use super::keys::DataKey;

pub(super) type AlertTopic = Handle<Topic>;

pub(super) fn add_topic(
    t: &mut Template,
    env: &Environment,
    key: &DataKey,
) -> Result<AlertTopic, BuildError> {
    Ok(t.add(
        "AlertTopic",
        Topic {
            display_name: format!("MyStockTracker {}", env.name.as_str()),
            kms_master_key_id: key.arn(),
            // Inline subscriptions: each address receives a confirmation e-mail first.
            subscription: env
                .alerts
                .emails
                .iter()
                .map(|email| Subscription {
                    endpoint: email.clone(),
                    protocol: "email",
                })
                .collect(),
        },
        Options::none(),
    )?)
}

/// An alarm that fires when `metric` reaches `threshold` in one five-minute period.
struct AlarmSpec {
    id: &'static str,
    description: String,
    namespace: &'static str,
    metric: &'static str,
    dimension: (&'static str, Expr),
    statistic: &'static str,
    threshold: f64,
}

pub(super) fn add_alarms(
    t: &mut Template,
    topic: &AlertTopic,
    functions: &Functions,
) -> Result<(), BuildError> {
    let mut specs = vec![
        AlarmSpec {
            id: "TransformIteratorAgeAlarm",
            description: "The transform Lambda is more than 5 minutes behind the quote stream: InfluxDB is slow or down, or the function fails. Check the function's logs.".into(),
            namespace: "AWS/Lambda",
            metric: "IteratorAge",
            dimension: ("FunctionName", functions.transform.reference()),
            statistic: "Maximum",
            threshold: 300_000.0,
        },
        AlarmSpec {
            id: "FailedEventsAlarm",
            description: "Events failed every retry and wait in the failed-events queue: inspect them, fix the cause, then replay or delete them.".into(),
            namespace: "AWS/SQS",
            metric: "ApproximateNumberOfMessagesVisible",
            dimension: ("QueueName", functions.dead_letters.name()),
            statistic: "Maximum",
            threshold: 1.0,
        },
    ];
    for (id, name, function) in [
        ("TransformErrorsAlarm", "transform", &functions.transform),
        ("ToParquetErrorsAlarm", "to-parquet", &functions.to_parquet),
        ("NotifyErrorsAlarm", "notify", &functions.notify),
    ] {
        specs.push(AlarmSpec {
            id,
            description: format!("The {name} Lambda reported errors: check its log group."),
            namespace: "AWS/Lambda",
            metric: "Errors",
            dimension: ("FunctionName", function.reference()),
            statistic: "Sum",
            threshold: 1.0,
        });
    }
    for spec in specs {
        t.add(
            spec.id,
            Alarm {
                alarm_description: spec.description,
                namespace: spec.namespace,
                metric_name: spec.metric,
                dimensions: vec![Dimension {
                    name: spec.dimension.0,
                    value: spec.dimension.1,
                }],
                statistic: spec.statistic,
                period: 300,
                evaluation_periods: 1,
                threshold: spec.threshold,
                comparison_operator: "GreaterThanOrEqualToThreshold",
                treat_missing_data: "notBreaching",
                alarm_actions: vec![topic.arn()],
                ok_actions: vec![topic.arn()],
            },
            Options::none(),
        )?;
    }
    Ok(())
}
