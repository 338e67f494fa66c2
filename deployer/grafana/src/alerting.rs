//! Grafana-managed alert rules (one group, evaluated every notify window) and the e-mail contact
//! point:
//! - a price move of at least `alerts.threshold_pct` between one-minute windows (the notify
//!   Lambda's rule, threshold and tolerance: `lambda_contract::notify`), per symbol;
//! - stale quotes: a symbol without a quote for `grafana.stale_after_intervals` scrape intervals;
//! - pipeline health: each alarm of `stacks::pipeline::health`, per region, with its threshold.
//!
//! Rules are built in the shape of Grafana's provisioning API (`ProvisionedAlertRule`); the
//! provisioning file holds the same rules without the three fields its group carries instead
//! (`orgID`, `folderUID`, `ruleGroup`).

use environment::Environment;
use lambda_contract::notify::{WINDOW_SECONDS, alerting_move_pct};
use serde_json::{Map, Value, json};
use stacks::pipeline::health::{ALARM_PERIOD_SECONDS, ALARMS};

use crate::datasources::DataSources;
use crate::quotes::{self, Language, influxql, promql};
use crate::uid::uid;
use crate::{Folder, ORG_ID, Provisioning, health};

/// The data source uid of Grafana's server-side expressions.
pub const EXPRESSION_UID: &str = "__expr__";

/// The rule fields a provisioning file's group carries instead of each rule.
pub const GROUP_FIELDS: [&str; 3] = ["orgID", "folderUID", "ruleGroup"];

/// The environment's alert rules.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleGroup {
    /// The group's title.
    pub title: String,
    /// The folder's uid.
    pub folder_uid: String,
    /// Seconds between evaluations: the notify window.
    pub interval_seconds: u32,
    /// The rules, as `ProvisionedAlertRule` objects.
    pub rules: Vec<Value>,
}

impl RuleGroup {
    /// The body of `PUT /api/v1/provisioning/folder/{folderUid}/rule-groups/{group}`
    /// (`AlertRuleGroup`).
    pub fn api_body(&self) -> Value {
        json!({
            "title": self.title,
            "folderUid": self.folder_uid,
            "interval": self.interval_seconds,
            "rules": self.rules,
        })
    }
}

/// The e-mail contact point (`EmbeddedContactPoint`), or `None` when the environment has no
/// addresses (allowed for emulator environments).
pub fn contact_point(env: &Environment) -> Option<Value> {
    if env.alerts.emails.is_empty() {
        return None;
    }
    let name = env.name.as_str();
    Some(json!({
        "uid": uid(name, "email"),
        "name": format!("MyStockTracker {name} e-mail"),
        "type": "email",
        "settings": {"addresses": env.alerts.emails.join(";"), "singleEmail": false},
        "disableResolveMessage": false,
    }))
}

/// A query to a data source, over the last `from_seconds`.
fn data_query(ref_id: &str, datasource_uid: &str, from_seconds: u32, model: Value) -> Value {
    json!({
        "refId": ref_id,
        "relativeTimeRange": {"from": from_seconds, "to": 0},
        "datasourceUid": datasource_uid,
        "model": model,
    })
}

/// A server-side expression (`reduce`, `math`).
fn expression(ref_id: &str, mut model: Value) -> Value {
    model["refId"] = json!(ref_id);
    model["datasource"] = json!({"type": EXPRESSION_UID, "uid": EXPRESSION_UID});
    json!({
        "refId": ref_id,
        "relativeTimeRange": {"from": 0, "to": 0},
        "datasourceUid": EXPRESSION_UID,
        "model": model,
    })
}

/// The last non-null value of each series of `input`.
fn last_of(ref_id: &str, input: &str) -> Value {
    expression(
        ref_id,
        json!({"type": "reduce", "expression": input, "reducer": "last", "settings": {"mode": "dropNN"}}),
    )
}

fn math(ref_id: &str, formula: String) -> Value {
    expression(ref_id, json!({"type": "math", "expression": formula}))
}

/// A quotes query model for a rule.
fn quotes_model(sources: &DataSources, ref_id: &str, text: String) -> Value {
    match sources.language {
        Language::InfluxQl => json!({
            "refId": ref_id, "datasource": sources.quotes.reference(), "rawQuery": true,
            "resultFormat": "time_series", "query": text,
        }),
        Language::PromQl => json!({
            "refId": ref_id, "datasource": sources.quotes.reference(), "expr": text,
            "instant": true, "range": false,
        }),
    }
}

struct RuleSpec {
    uid: String,
    title: String,
    kind: &'static str,
    data: Vec<Value>,
    condition: &'static str,
    no_data: &'static str,
    summary: String,
}

/// The rule group of `env`.
pub fn rule_group(
    env: &Environment,
    sources: &DataSources,
    folder: &Folder,
    contact: &Option<Value>,
) -> RuleGroup {
    let name = env.name.as_str();
    let title = format!("MyStockTracker {name}");
    let symbols = quotes::symbol_names(env);
    let threshold = env.alerts.threshold_pct;
    let at_least = alerting_move_pct(threshold);
    let ds = sources.quotes.uid.as_str();
    let mut specs = Vec::new();

    // Price moves: the latest window's move, only for symbols quoted in the last two windows (so
    // a move does not keep firing after the market closes).
    let move_data = match sources.language {
        Language::InfluxQl => {
            let symbols = quotes::symbols_regex(&symbols);
            vec![
                data_query(
                    "A",
                    ds,
                    quotes::REFERENCE_LOOKBACK_SECONDS,
                    quotes_model(sources, "A", influxql::window_moves(&symbols)),
                ),
                last_of("B", "A"),
                data_query(
                    "C",
                    ds,
                    2 * WINDOW_SECONDS,
                    quotes_model(sources, "C", influxql::quote_count(&symbols)),
                ),
                last_of("D", "C"),
                math("E", format!("abs($B) >= {at_least} && $D > 0")),
            ]
        }
        Language::PromQl => vec![
            data_query(
                "A",
                ds,
                quotes::REFERENCE_LOOKBACK_SECONDS,
                quotes_model(
                    sources,
                    "A",
                    promql::window_move(&promql::alternation(&symbols)),
                ),
            ),
            last_of("B", "A"),
            math("E", format!("abs($B) >= {at_least}")),
        ],
    };
    specs.push(RuleSpec {
        uid: uid(name, "price-move"),
        title: format!("Price moved at least {threshold}% in one minute"),
        kind: "price-move",
        data: move_data,
        condition: "E",
        no_data: "OK",
        summary: format!(
            "{{{{ $labels.symbol }}}} moved {{{{ humanize $values.B.Value }}}}% between one-minute windows (threshold {threshold}%, as the notify Lambda's e-mail)."
        ),
    });

    // Stale quotes.
    let stale_seconds = env.grafana.stale_after_intervals * env.scraper.interval_seconds;
    let recent = match sources.language {
        Language::InfluxQl => {
            influxql::recent_quotes(&quotes::symbols_regex(&symbols), stale_seconds)
        }
        Language::PromQl => promql::recent_quotes(&promql::alternation(&symbols), stale_seconds),
    };
    specs.push(RuleSpec {
        uid: uid(name, "stale-quotes"),
        title: format!("No quote for {stale_seconds} s"),
        kind: "stale-quotes",
        data: vec![
            data_query("A", ds, quotes::SEEN_WITHIN_SECONDS, quotes_model(sources, "A", recent)),
            last_of("B", "A"),
            math("C", "$B < 1".to_owned()),
        ],
        condition: "C",
        // No symbol quoted for a week: nothing arrives at all.
        no_data: "Alerting",
        summary: format!(
            "No quote for {{{{ $labels.symbol }}}} in the last {stale_seconds} s ({} scrape intervals): check the scraper and the transform Lambda.",
            env.grafana.stale_after_intervals
        ),
    });

    // Pipeline health: the alarms' metrics and thresholds, per region.
    for region in &env.regions {
        for alarm in &ALARMS {
            let object = format!("{}-{}", alarm.id.trim_end_matches("Alarm"), region.as_str());
            specs.push(RuleSpec {
                uid: uid(name, &object.to_ascii_lowercase()),
                title: format!("{} at least {} ({})", alarm.metric.title, alarm.threshold, region.as_str()),
                kind: "pipeline-health",
                data: vec![
                    data_query(
                        "A",
                        &sources.cloudwatch.uid,
                        2 * ALARM_PERIOD_SECONDS,
                        health::metric_query("A", &sources.cloudwatch, env, &alarm.metric, region.as_str(), ALARM_PERIOD_SECONDS),
                    ),
                    expression("B", json!({"type": "reduce", "expression": "A", "reducer": "max", "settings": {"mode": "dropNN"}})),
                    math("C", format!("$B >= {}", alarm.threshold)),
                ],
                condition: "C",
                // As the alarms' `notBreaching`.
                no_data: "OK",
                summary: alarm.description.to_owned(),
            });
        }
    }

    let rules = specs
        .into_iter()
        .map(|spec| {
            let mut rule = Map::new();
            rule.insert("uid".into(), json!(spec.uid));
            rule.insert("orgID".into(), json!(ORG_ID));
            rule.insert("folderUID".into(), json!(folder.uid));
            rule.insert("ruleGroup".into(), json!(title));
            rule.insert("title".into(), json!(spec.title));
            rule.insert("condition".into(), json!(spec.condition));
            rule.insert("data".into(), json!(spec.data));
            rule.insert("noDataState".into(), json!(spec.no_data));
            rule.insert("execErrState".into(), json!("Error"));
            rule.insert("for".into(), json!("0s"));
            rule.insert("annotations".into(), json!({"summary": spec.summary}));
            rule.insert("labels".into(), json!({"env": name, "kind": spec.kind}));
            rule.insert("isPaused".into(), json!(false));
            if let Some(contact) = contact {
                rule.insert(
                    "notification_settings".into(),
                    json!({"receiver": contact["name"]}),
                );
            }
            Value::Object(rule)
        })
        .collect();
    RuleGroup {
        title,
        folder_uid: folder.uid.clone(),
        interval_seconds: WINDOW_SECONDS,
        rules,
    }
}

/// `alerting/*.yaml`: the contact point and the rule group in Grafana's file-provisioning format.
pub fn provisioning_file(p: &Provisioning) -> Value {
    let rules: Vec<Value> = p
        .rule_group
        .rules
        .iter()
        .map(|rule| {
            let mut rule = rule.clone();
            if let Some(map) = rule.as_object_mut() {
                for field in GROUP_FIELDS {
                    map.remove(field);
                }
            }
            rule
        })
        .collect();
    let mut file = Map::new();
    file.insert("apiVersion".into(), json!(1));
    if let Some(contact) = &p.contact_point {
        file.insert(
            "contactPoints".into(),
            json!([{
                "orgId": ORG_ID,
                "name": contact["name"],
                "receivers": [{
                    "uid": contact["uid"],
                    "type": contact["type"],
                    "settings": contact["settings"],
                    "disableResolveMessage": contact["disableResolveMessage"],
                }],
            }]),
        );
    }
    file.insert(
        "groups".into(),
        json!([{
            "orgId": ORG_ID,
            "name": p.rule_group.title,
            "folder": p.folder.title,
            "interval": format!("{}s", p.rule_group.interval_seconds),
            "rules": rules,
        }]),
    );
    Value::Object(file)
}
