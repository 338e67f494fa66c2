//! The alert topic (price-move e-mails and pipeline alarms), the CloudWatch alarms, the rule that
//! reports failed crawls, and the topic's policy naming everything that publishes to it.

use std::collections::BTreeMap;

use environment::{Environment, MarketHours};

use crate::iam::actions::sns;
use crate::iam::{PolicyDocument, Principal, Statement};
use crate::resources::cloudwatch::{
    Alarm, CompositeAlarm, Dimension, MathAlarm, Metric, MetricQuery, MetricStat,
};
use crate::resources::events::{EventPattern, Rule, Target};
use crate::resources::glue::Crawler;
use crate::resources::sns::{Subscription, Topic, TopicPolicy};
use crate::template::{Expr, Handle, Options, Template, pseudo};

use super::BuildError;
use super::Names;
use super::functions::Functions;
use super::health::{self, Watched};
use super::ingest::QuoteStream;
use super::keys::DataKey;
use super::network::{HEARTBEAT_NAMESPACE, SCRAPER_UNIT, STALE_TICKS};
use scraper_config::Shard;

/// CloudFormation takes at most five rollback triggers per stack operation.
pub const MAX_ROLLBACK_TRIGGERS: usize = 5;

/// The purpose part of the composite alarm's name, made when there are more alarms than
/// rollback triggers.
const ROLLBACK_COMPOSITE: &str = "rollback";

/// The names of the pipeline's metric alarms in `env` (the same in every region: alarm names are
/// regional): what `deployer up` watches while the canary bakes.
pub fn alarm_names(env: &Environment) -> Vec<String> {
    let names = Names::new(env);
    health::ALARMS
        .iter()
        .map(|spec| names.regional(spec.name))
        .collect()
}

/// The alarms the pipeline's rollback triggers name: every alarm while there are at most
/// [`MAX_ROLLBACK_TRIGGERS`], else the composite alarm the pipeline then holds, in `ALARM` when any
/// of them is.
pub fn rollback_alarm_names(env: &Environment) -> Vec<String> {
    rollback_triggers(
        alarm_names(env),
        Names::new(env).regional(ROLLBACK_COMPOSITE),
    )
}

fn rollback_triggers(alarms: Vec<String>, composite: String) -> Vec<String> {
    if alarms.len() <= MAX_ROLLBACK_TRIGGERS {
        alarms
    } else {
        vec![composite]
    }
}

/// The ARN of the alarm `name` in `account` and `region` (the commercial partition: environments
/// allow no other regions).
pub fn alarm_arn(account: &str, region: &str, name: &str) -> String {
    format!("arn:aws:cloudwatch:{region}:{account}:alarm:{name}")
}

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

/// Publishers of the alert topic that other modules of the pipeline add.
pub(super) struct OtherPublishers {
    /// ARNs of alarms added elsewhere that publish to the topic (replication's, the VPN denials').
    pub alarms: Vec<Expr>,
    /// The Managed Grafana workspace's role, when there is one.
    pub grafana_role: Option<Expr>,
}

/// The alarms of [`health::ALARMS`], the failed-crawl rule and the topic policy allowing exactly
/// them, the `others` and the notify Lambda's role to publish.
pub(super) fn add_alarms(
    t: &mut Template,
    env: &Environment,
    topic: &AlertTopic,
    functions: &Functions,
    crawler: &Handle<Crawler>,
    others: OtherPublishers,
    stream: &QuoteStream,
) -> Result<(), BuildError> {
    let OtherPublishers {
        alarms: other_alarms,
        grafana_role,
    } = others;
    let names = Names::new(env);
    let mut alarms = Vec::new();
    let mut handles = Vec::new();
    for spec in health::ALARMS {
        let metric = spec.metric;
        let resource = match metric.watched {
            Watched::TransformFunction => functions.transform.reference(),
            Watched::ToParquetFunction => functions.to_parquet.reference(),
            Watched::NotifyFunction => functions.notify.reference(),
            Watched::FailedEventsQueue => functions.dead_letters.name(),
            other => return Err(BuildError::Unwatchable(other.logical_id())),
        };
        let alarm = t.add(
            spec.id,
            Alarm {
                alarm_name: names.regional(spec.name),
                alarm_description: spec.description.to_owned(),
                namespace: metric.namespace.to_owned(),
                metric_name: metric.metric,
                dimensions: vec![Dimension {
                    name: metric.dimension,
                    value: resource,
                }],
                statistic: metric.statistic,
                period: health::ALARM_PERIOD_SECONDS,
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
        handles.push(alarm);
    }
    let all = alarm_names(env);
    if all.len() > MAX_ROLLBACK_TRIGGERS {
        // CloudFormation takes at most five rollback triggers: one composite alarm stands for all.
        let rule = all
            .iter()
            .map(|name| format!("ALARM(\"{name}\")"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let options = handles
            .iter()
            .fold(Options::none(), |options, alarm| options.depends_on(alarm));
        t.add(
            "RollbackCompositeAlarm",
            CompositeAlarm {
                alarm_name: names.regional(ROLLBACK_COMPOSITE),
                alarm_description: "Any pipeline alarm: the rollback trigger of pipeline updates."
                    .into(),
                alarm_rule: rule,
            },
            options,
        )?;
    }
    alarms.extend(other_alarms);
    alarms.extend(add_freshness_alarms(t, env, topic, stream)?);
    let rule = add_crawler_failure_rule(t, topic, crawler)?;
    add_topic_policy(
        t,
        topic,
        alarms,
        &rule,
        functions.notify_role.clone(),
        grafana_role,
    )
}

/// The alarm name (purpose part) of shard `index`'s "no quotes" alarm.
pub fn shard_alarm_name(index: u32) -> String {
    format!("scraper-shard-{index}-no-quotes")
}

/// The alarm name (purpose part) of the stream's "no incoming records" alarm.
pub const STREAM_SILENT_ALARM: &str = "stream-no-records";

/// The metric math the stream's "no records" alarm watches: the records put per period with missing
/// periods as 0, only for periods within `hours` (UTC, as metric math's `DAY()`, `HOUR()` and
/// `MINUTE()` evaluate; they give a value for every period even when the metric has none); outside
/// the hours the expression has no datapoint. `metric` is the id of the records metric.
pub fn stream_silence_expression(hours: &MarketHours, metric: &str) -> String {
    let filled = format!("FILL({metric}, 0)");
    if hours.is_always() {
        return filled;
    }
    let mut open = Vec::new();
    match (hours.first_day, hours.last_day) {
        (1, 7) => {}
        (1, last) => open.push(format!("DAY({metric}) <= {last}")),
        (first, 7) => open.push(format!("DAY({metric}) >= {first}")),
        (first, last) if first <= last => {
            open.push(format!("DAY({metric}) >= {first}"));
            open.push(format!("DAY({metric}) <= {last}"));
        }
        // Past Sunday, such as Sun-Thu.
        (first, last) => open.push(format!(
            "(DAY({metric}) >= {first}) OR (DAY({metric}) <= {last})"
        )),
    }
    let minute = format!("(HOUR({metric}) * 60 + MINUTE({metric}))");
    if hours.open_minute > 0 {
        open.push(format!("{minute} >= {}", hours.open_minute));
    }
    if hours.close_minute < 24 * 60 {
        open.push(format!("{minute} < {}", hours.close_minute));
    }
    if open.is_empty() {
        return filled;
    }
    let condition = open
        .iter()
        .map(|c| format!("({c})"))
        .collect::<Vec<_>>()
        .join(" AND ");
    format!("IF({condition}, {filled})")
}

/// Alarms on what stops arriving, with missing data breaching (a dead scraper publishes nothing):
/// one per shard on its heartbeat's `Quotes` (none for [`STALE_TICKS`] intervals, rounded up to whole
/// minutes, the heartbeat timer's period), and one on the stream's `IncomingRecords` (none for 15
/// minutes within the environment's market hours: [`stream_silence_expression`]). The shard alarms
/// hold around the clock, because the scraper ticks around the clock (a quote page keeps giving its
/// last quote after the close). They are not rollback triggers: a new stack has no data yet and is in `ALARM` until its
/// scrapers tick.
fn add_freshness_alarms(
    t: &mut Template,
    env: &Environment,
    topic: &AlertTopic,
    stream: &QuoteStream,
) -> Result<Vec<Expr>, BuildError> {
    let names = Names::new(env);
    let quiet_seconds = STALE_TICKS * env.scraper.interval_seconds;
    let minutes = quiet_seconds.div_ceil(60).max(1);
    let mut arns = Vec::new();
    for shard in Shard::all(env.scraper.instances) {
        let alarm = t.add(
            &format!("ScraperShard{}NoQuotesAlarm", shard.index),
            Alarm {
                alarm_name: names.regional(&shard_alarm_name(shard.index)),
                alarm_description: format!(
                    "Scraper shard {} made no quotes for {minutes} minute(s) ({STALE_TICKS} intervals or more), or its \
                     heartbeat stopped: check the shard's instance (deployer status) and its log \
                     (journalctl -u {SCRAPER_UNIT}).",
                    shard.index
                ),
                namespace: HEARTBEAT_NAMESPACE.to_owned(),
                metric_name: "Quotes",
                dimensions: vec![
                    Dimension {
                        name: "Environment",
                        value: Expr::lit(env.name.as_str()),
                    },
                    Dimension {
                        name: "Shard",
                        value: Expr::lit(shard.index.to_string()),
                    },
                ],
                statistic: "Sum",
                period: 60,
                evaluation_periods: minutes,
                threshold: 1.0,
                comparison_operator: "LessThanThreshold",
                treat_missing_data: "breaching",
                alarm_actions: vec![topic.arn()],
                ok_actions: vec![topic.arn()],
            },
            Options::none(),
        )?;
        arns.push(alarm.arn());
    }
    let hours = env.alerts.market_hours;
    let alarm = t.add(
        "QuoteStreamNoRecordsAlarm",
        MathAlarm {
            alarm_name: names.regional(STREAM_SILENT_ALARM),
            alarm_description: format!(
                "No record reached the quote stream for 15 minutes within market hours ({hours} UTC): \
                 every scraper stopped, or none can reach Kinesis. Check deployer status."
            ),
            metrics: vec![
                MetricQuery {
                    id: "records",
                    label: "Records put to the quote stream".into(),
                    expression: None,
                    metric_stat: Some(MetricStat {
                        metric: Metric {
                            namespace: "AWS/Kinesis",
                            metric_name: "IncomingRecords",
                            dimensions: vec![Dimension {
                                name: "StreamName",
                                value: stream.reference(),
                            }],
                        },
                        period: 300,
                        stat: "Sum",
                    }),
                    return_data: false,
                },
                MetricQuery {
                    id: "inhours",
                    label: format!("Records within market hours ({hours} UTC), none counted as 0"),
                    expression: Some(stream_silence_expression(&hours, "records")),
                    metric_stat: None,
                    return_data: true,
                },
            ],
            evaluation_periods: 3,
            threshold: 1.0,
            comparison_operator: "LessThanThreshold",
            // Within market hours the expression always has a value (missing records are filled
            // with 0, so silence breaches); outside them it has none, and the alarm keeps its state.
            treat_missing_data: if hours.is_always() {
                "breaching"
            } else {
                "ignore"
            },
            alarm_actions: vec![topic.arn()],
            ok_actions: vec![topic.arn()],
        },
        Options::none(),
    )?;
    arns.push(alarm.arn());
    Ok(arns)
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
/// in this account), by the notify Lambda's role and by the Managed Grafana workspace's role when there
/// is one. SNS replaces the default topic policy with it.
fn add_topic_policy(
    t: &mut Template,
    topic: &AlertTopic,
    alarms: Vec<Expr>,
    rule: &Handle<Rule>,
    notify_role: Expr,
    grafana_role: Option<Expr>,
) -> Result<(), BuildError> {
    let account = || [pseudo::account_id()];
    let mut statements = vec![
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
    ];
    if let Some(role) = grafana_role {
        statements.push(
            Statement::allow_principal(Principal::Aws(vec![role]), &[sns::PUBLISH])
                .sid("GrafanaWorkspacePublishes")
                .on([topic.arn()]),
        );
    }
    let policy = PolicyDocument::new(statements);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_to_five_alarms_are_their_own_triggers_and_more_go_through_the_composite() {
        let five: Vec<String> = (0..5).map(|i| format!("a{i}")).collect();
        assert_eq!(rollback_triggers(five.clone(), "c".into()), five);
        let six: Vec<String> = (0..6).map(|i| format!("a{i}")).collect();
        assert_eq!(rollback_triggers(six, "c".into()), ["c"]);
    }

    #[test]
    fn an_alarm_arn_is_spelt_as_cloudwatch_does() {
        assert_eq!(
            alarm_arn("444455556666", "eu-west-1", "mst-prod-notify-errors"),
            "arn:aws:cloudwatch:eu-west-1:444455556666:alarm:mst-prod-notify-errors"
        );
    }
}
