//! The alert topic (price-move e-mails and pipeline alarms), the CloudWatch alarms, the rule that
//! reports failed crawls, and the topic's policy naming everything that publishes to it.

use std::collections::BTreeMap;

use environment::Environment;

use crate::iam::actions::sns;
use crate::iam::{PolicyDocument, Principal, Statement};
use crate::resources::cloudwatch::{Alarm, Dimension};
use crate::resources::events::{EventPattern, Rule, Target};
use crate::resources::glue::Crawler;
use crate::resources::sns::{Subscription, Topic, TopicPolicy};
use crate::template::{Expr, Handle, Options, Template, pseudo};

use super::BuildError;
use super::functions::Functions;
use super::keys::DataKey;

pub(super) type AlertTopic = Handle<Topic>;

pub(super) fn add_topic(
    t: &mut Template,
    env: &Environment,
    key: &DataKey,
) -> Result<AlertTopic, BuildError> {
    let topic = t.add(
        "AlertTopic",
        Topic {
            display_name: format!("MyStockTracker {}", env.name.as_str()),
            kms_master_key_id: key.arn(),
        },
        Options::none(),
    )?;
    // One subscription per address (each receives a confirmation e-mail first), filtering out
    // `deployer verify`'s canary alert: notify marks it with an attribute, alarms carry none.
    let filter_policy = canary_filter_policy();
    for (i, email) in env.alerts.emails.iter().enumerate() {
        t.add(
            &format!("AlertEmail{i}"),
            Subscription {
                topic_arn: topic.arn(),
                endpoint: email.clone(),
                protocol: "email",
                filter_policy: filter_policy.clone(),
                filter_policy_scope: "MessageAttributes",
            },
            Options::none(),
        )?;
    }
    Ok(topic)
}

/// The e-mail subscriptions' filter policy: deliver only messages without notify's canary
/// attribute (`exists: false` also lets through the alarms' messages, which have no attributes).
pub fn canary_filter_policy() -> serde_json::Value {
    serde_json::json!({ (lambda_contract::notify::CANARY_ATTRIBUTE): [{ "exists": false }] })
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

/// The alarms, the failed-crawl rule and the topic policy allowing exactly them (and the notify
/// Lambda's role) to publish.
pub(super) fn add_alarms(
    t: &mut Template,
    topic: &AlertTopic,
    functions: &Functions,
    crawler: &Handle<Crawler>,
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
    let mut alarms = Vec::new();
    for spec in specs {
        let alarm = t.add(
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
        alarms.push(alarm.arn());
    }
    let rule = add_crawler_failure_rule(t, topic, crawler)?;
    add_topic_policy(t, topic, alarms, &rule, functions.notify_role.clone())
}

/// Glue emits "Glue Crawler State Change" events; a failed crawl of the quotes crawler goes to the
/// topic (Glue has no CloudWatch metric for failed crawls to alarm on).
fn add_crawler_failure_rule(
    t: &mut Template,
    topic: &AlertTopic,
    crawler: &Handle<Crawler>,
) -> Result<Handle<Rule>, BuildError> {
    Ok(t.add(
        "CrawlerFailedRule",
        Rule {
            description: "The quotes crawler failed: read its log group (/aws-glue/crawlers-role/...) and the crawler's last run in the Glue console.".into(),
            event_pattern: EventPattern {
                source: vec!["aws.glue"],
                detail_type: vec!["Glue Crawler State Change"],
                detail: BTreeMap::from([
                    ("crawlerName", vec![crawler.reference()]),
                    ("state", vec![Expr::lit("Failed")]),
                ]),
            },
            state: "ENABLED",
            targets: vec![Target {
                arn: topic.arn(),
                id: "AlertTopic",
            }],
        },
        Options::none(),
    )?)
}

/// The topic's policy: TLS only; publishing by the alarms and the rule above (each by its own ARN,
/// in this account) and by the notify Lambda's role. SNS replaces the default topic policy with it.
fn add_topic_policy(
    t: &mut Template,
    topic: &AlertTopic,
    alarms: Vec<Expr>,
    rule: &Handle<Rule>,
    notify_role: Expr,
) -> Result<(), BuildError> {
    let account = || [pseudo::account_id()];
    let policy = PolicyDocument::new(vec![
        Statement::deny_everyone(&[sns::PUBLISH], [topic.arn()])
            .sid("DenyPublishWithoutTls")
            .condition("Bool", "aws:SecureTransport", [Expr::lit("false")]),
        Statement::allow_principal(
            Principal::Service(vec![Expr::service_principal("cloudwatch")]),
            &[sns::PUBLISH],
        )
        .sid("PipelineAlarmsPublish")
        .on([topic.arn()])
        .condition("StringEquals", "aws:SourceAccount", account())
        .condition("ArnEquals", "aws:SourceArn", alarms),
        Statement::allow_principal(
            Principal::Service(vec![Expr::service_principal("events")]),
            &[sns::PUBLISH],
        )
        .sid("CrawlerFailedRulePublishes")
        .on([topic.arn()])
        .condition("StringEquals", "aws:SourceAccount", account())
        .condition("ArnEquals", "aws:SourceArn", [rule.arn()]),
        Statement::allow_principal(Principal::Aws(vec![notify_role]), &[sns::PUBLISH])
            .sid("NotifyLambdaPublishes")
            .on([topic.arn()]),
    ]);
    t.add(
        "AlertTopicPolicy",
        TopicPolicy {
            policy_document: policy,
            topics: vec![topic.arn()],
        },
        Options::none(),
    )?;
    Ok(())
}
