//! What a schema cannot check: references resolve, uids are unique and stable, the alert rules use
//! the environment's threshold and the notify Lambda's window, every symbol is selectable,
//! secrets stay out of the files, and the output is byte-identical across runs.

use std::collections::BTreeSet;

use grafana::Provisioning;
use serde_json::Value;
use stacks::pipeline::health::ALARMS;

fn datasource_uids(p: &Provisioning) -> BTreeSet<String> {
    p.datasources.iter().map(|d| d.uid.clone()).collect()
}

#[test]
fn every_panel_and_query_names_an_existing_data_source() {
    for env in crate::common::all_flavours() {
        let p = grafana::generate(&env);
        let uids = datasource_uids(&p);
        for d in &p.dashboards {
            let panels = d.model["panels"].as_array().expect("panels");
            assert!(!panels.is_empty());
            for panel in panels {
                let title = &panel["title"];
                let uid = panel["datasource"]["uid"]
                    .as_str()
                    .expect("panel data source");
                assert!(
                    uids.contains(uid),
                    "{}: panel {title} uses unknown {uid}",
                    p.env
                );
                let targets = panel["targets"].as_array().expect("targets");
                assert!(!targets.is_empty(), "{title} has no query");
                for t in targets {
                    let uid = t["datasource"]["uid"].as_str().expect("target data source");
                    assert!(
                        uids.contains(uid),
                        "{}: {title} target uses unknown {uid}",
                        p.env
                    );
                }
            }
        }
    }
}

/// The refIds an expression model reads: `expression: "A"` (reduce) or `$A` in a math formula.
fn inputs(model: &Value) -> Vec<String> {
    let text = model["expression"].as_str().unwrap_or_default();
    match model["type"].as_str() {
        Some("math") => text
            .split('$')
            .skip(1)
            .map(|rest| {
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect()
            })
            .collect(),
        _ => vec![text.to_owned()],
    }
}

#[test]
fn every_rule_condition_and_expression_names_an_existing_query() {
    for env in crate::common::all_flavours() {
        let p = grafana::generate(&env);
        let uids = datasource_uids(&p);
        for rule in &p.rule_group.rules {
            let data = rule["data"].as_array().expect("data");
            let ref_ids: Vec<&str> = data
                .iter()
                .map(|q| q["refId"].as_str().expect("refId"))
                .collect();
            let unique: BTreeSet<&&str> = ref_ids.iter().collect();
            assert_eq!(
                unique.len(),
                ref_ids.len(),
                "{}: duplicate refIds",
                rule["title"]
            );
            let condition = rule["condition"].as_str().expect("condition");
            assert!(
                ref_ids.contains(&condition),
                "{}: condition {condition} not in {ref_ids:?}",
                rule["title"]
            );
            for q in data {
                let ds = q["datasourceUid"].as_str().expect("datasourceUid");
                if ds == grafana::alerting::EXPRESSION_UID {
                    for input in inputs(&q["model"]) {
                        assert!(
                            ref_ids.contains(&input.as_str()),
                            "{}: {input} not in {ref_ids:?}",
                            rule["title"]
                        );
                    }
                } else {
                    assert!(
                        uids.contains(ds),
                        "{}: unknown data source {ds}",
                        rule["title"]
                    );
                    assert_eq!(q["model"]["datasource"]["uid"], ds);
                }
                assert_eq!(q["model"]["refId"], q["refId"]);
            }
            assert_eq!(rule["folderUID"], p.folder.uid.as_str());
            assert_eq!(rule["ruleGroup"], p.rule_group.title.as_str());
            let receiver = &rule["notification_settings"]["receiver"];
            assert_eq!(
                receiver,
                &p.contact_point.as_ref().expect("contact point")["name"]
            );
        }
    }
}

#[test]
fn uids_are_unique_stable_and_within_grafanas_limit() {
    let mut across_envs = BTreeSet::new();
    for env in [
        crate::common::shipped("local"),
        crate::common::shipped("dev"),
        crate::common::shipped("prod"),
    ] {
        let p = grafana::generate(&env);
        let mut uids: Vec<String> = vec![p.folder.uid.clone()];
        uids.extend(p.datasources.iter().map(|d| d.uid.clone()));
        uids.extend(p.dashboards.iter().map(|d| d.uid.clone()));
        uids.extend(
            p.rule_group
                .rules
                .iter()
                .map(|r| r["uid"].as_str().expect("uid").to_owned()),
        );
        uids.extend(
            p.contact_point
                .iter()
                .map(|c| c["uid"].as_str().expect("uid").to_owned()),
        );
        for d in &p.dashboards {
            assert_eq!(d.model["uid"], d.uid.as_str());
        }
        let set: BTreeSet<&String> = uids.iter().collect();
        assert_eq!(
            set.len(),
            uids.len(),
            "{}: duplicate uids in {uids:?}",
            p.env
        );
        for uid in &uids {
            assert!(uid.len() <= 40 && !uid.is_empty(), "{uid}");
            assert!(
                uid.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{uid}"
            );
            assert!(
                across_envs.insert(uid.clone()),
                "{uid} is shared by two environments"
            );
        }
        // Stable: generated again, the same uids.
        let again = grafana::generate(&env);
        assert_eq!(again.rule_group.rules.len(), p.rule_group.rules.len());
        assert_eq!(again, p);
    }
}

#[test]
fn the_price_move_rule_uses_the_environments_threshold_and_notifys_window() {
    for env in crate::common::all_flavours() {
        let p = grafana::generate(&env);
        assert_eq!(
            p.rule_group.interval_seconds,
            lambda_contract::notify::WINDOW_SECONDS
        );
        let rule = p
            .rule_group
            .rules
            .iter()
            .find(|r| r["labels"]["kind"] == "price-move")
            .expect("price-move rule");
        let condition = rule["condition"].as_str().expect("condition");
        let formula = rule["data"]
            .as_array()
            .expect("data")
            .iter()
            .find(|q| q["refId"] == condition)
            .expect("condition query")["model"]["expression"]
            .as_str()
            .expect("math")
            .to_owned();
        let number: f64 = formula
            .split(">=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no threshold in {formula}"));
        assert_eq!(
            number,
            lambda_contract::notify::alerting_move_pct(env.alerts.threshold_pct),
            "{formula}"
        );
        assert!(number < env.alerts.threshold_pct && number > env.alerts.threshold_pct * 0.999_999);
        // The move query groups by notify's window.
        let query = serde_json::to_string(&rule["data"][0]["model"]).expect("json");
        let window = lambda_contract::notify::WINDOW_SECONDS;
        assert!(
            query.contains(&format!("GROUP BY time({window}s)"))
                || query.contains(&format!("[{window}s]")),
            "{query}"
        );
    }
}

#[test]
fn every_symbol_is_in_the_template_variable_and_the_rules() {
    for env in crate::common::all_flavours() {
        let p = grafana::generate(&env);
        let quotes = p
            .dashboards
            .iter()
            .find(|d| d.slug == "quotes")
            .expect("quotes dashboard");
        let variable = &quotes.model["templating"]["list"][0];
        assert_eq!(variable["name"], "symbol");
        let options: Vec<&str> = variable["options"]
            .as_array()
            .expect("options")
            .iter()
            .map(|o| o["value"].as_str().expect("value"))
            .collect();
        let query: Vec<&str> = variable["query"]
            .as_str()
            .expect("query")
            .split(',')
            .collect();
        // The rules' symbol alternations, with their regex escapes removed.
        let rules = serde_json::to_string(&p.rule_group.rules)
            .expect("json")
            .replace('\\', "");
        for symbol in &env.symbols {
            assert!(
                options.contains(&symbol.as_str()),
                "{} not in {options:?}",
                symbol.as_str()
            );
            assert!(query.contains(&symbol.as_str()));
            assert!(
                rules.contains(&format!("({}|", symbol.as_str()))
                    || rules.contains(&format!("|{}|", symbol.as_str()))
                    || rules.contains(&format!("|{})", symbol.as_str())),
                "{} not in the rules' symbols",
                symbol.as_str()
            );
        }
        assert_eq!(options.len(), env.symbols.len());
    }
}

#[test]
fn every_health_alarm_is_charted_and_alerted_in_every_region() {
    let env = crate::common::shipped("prod");
    let p = grafana::generate(&env);
    let health = p
        .dashboards
        .iter()
        .find(|d| d.slug == "pipeline-health")
        .expect("health");
    let text = serde_json::to_string(&health.model).expect("json");
    for alarm in &ALARMS {
        assert!(
            text.contains(&format!("MetricName=\\\"{}\\\"", alarm.metric.metric)),
            "{}",
            alarm.id
        );
        for region in &env.regions {
            let rule = p
                .rule_group
                .rules
                .iter()
                .find(|r| {
                    r["labels"]["kind"] == "pipeline-health"
                        && r["data"][0]["model"]["region"] == region.as_str()
                        && r["data"][0]["model"]["metricName"] == alarm.metric.metric
                        && r["data"][0]["model"]["expression"]
                            .as_str()
                            .is_some_and(|e| e.contains(alarm.metric.watched.logical_id()))
                })
                .unwrap_or_else(|| panic!("no rule for {} in {region}", alarm.id));
            assert_eq!(
                rule["data"][2]["model"]["expression"],
                format!("$B >= {}", alarm.threshold)
            );
        }
    }
    for title in [
        "Scrape rate",
        "Firehose delivery freshness",
        "Quarantined records",
        "duration",
    ] {
        assert!(text.contains(title), "no {title} panel");
    }
}

#[test]
fn output_is_byte_identical_across_runs_and_holds_no_secret() {
    for env in crate::common::all_flavours() {
        let first = grafana::generate(&env).files();
        let second = grafana::generate(&env).files();
        assert_eq!(first, second);
        let dir_a = std::env::temp_dir().join(format!(
            "grafana-a-{}-{}",
            std::process::id(),
            env.name.as_str()
        ));
        let dir_b = std::env::temp_dir().join(format!(
            "grafana-b-{}-{}",
            std::process::id(),
            env.name.as_str()
        ));
        let a = grafana::generate(&env).write_to(&dir_a).expect("write");
        grafana::generate(&env).write_to(&dir_b).expect("write");
        assert_eq!(a.len(), first.len());
        for (relative, text) in &first {
            let bytes_a = std::fs::read(dir_a.join(relative)).expect("written");
            let bytes_b = std::fs::read(dir_b.join(relative)).expect("written");
            assert_eq!(bytes_a, text.as_bytes());
            assert_eq!(bytes_a, bytes_b, "{relative}");
            // Every file is JSON (which is YAML too).
            let _: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{relative}: {e}"));
        }
        let _ = std::fs::remove_dir_all(&dir_a);
        let _ = std::fs::remove_dir_all(&dir_b);
        // Secrets only as references Grafana resolves from its environment.
        let p = grafana::generate(&env);
        let datasources = &first[&format!("datasources/mystocktracker-{}.yaml", p.env)];
        for source in &p.datasources {
            for secret in &source.secrets {
                assert!(
                    datasources.contains(&format!("{}${{{}}}", secret.prefix, secret.var)),
                    "{datasources}"
                );
            }
        }
    }
}

#[test]
fn the_provisioning_files_reference_each_other() {
    let env = crate::common::shipped("prod");
    let p = grafana::generate(&env);
    let files = p.files();
    let provider: Value =
        serde_json::from_str(&files["dashboards/mystocktracker-prod.yaml"]).expect("json");
    let path = provider["providers"][0]["options"]["path"]
        .as_str()
        .expect("path");
    let dir = path
        .strip_prefix("${GF_PATHS_PROVISIONING}/")
        .expect("relative to the provisioning dir");
    for d in &p.dashboards {
        let file: Value = serde_json::from_str(&files[&format!("{dir}/{}.json", d.slug)])
            .expect("dashboard file");
        assert_eq!(file, d.model);
    }
    assert_eq!(provider["providers"][0]["folderUid"], p.folder.uid.as_str());
    let alerting: Value =
        serde_json::from_str(&files["alerting/mystocktracker-prod.yaml"]).expect("json");
    let group = &alerting["groups"][0];
    assert_eq!(group["folder"], p.folder.title.as_str());
    assert_eq!(group["interval"], "60s");
    let file_rules = group["rules"].as_array().expect("rules");
    assert_eq!(file_rules.len(), p.rule_group.rules.len());
    for (file_rule, api_rule) in file_rules.iter().zip(&p.rule_group.rules) {
        let mut expected = api_rule.clone();
        for field in grafana::alerting::GROUP_FIELDS {
            expected.as_object_mut().expect("object").remove(field);
        }
        assert_eq!(file_rule, &expected);
    }
    let contact = &alerting["contactPoints"][0]["receivers"][0];
    assert_eq!(
        contact["settings"]["addresses"],
        "oncall@example.com;markets-team@example.com"
    );
    let datasources: Value =
        serde_json::from_str(&files["datasources/mystocktracker-prod.yaml"]).expect("json");
    let influx = &datasources["datasources"][0];
    assert_eq!(influx["type"], "influxdb");
    assert_eq!(influx["url"], env.influxdb.url.as_str());
    assert_eq!(influx["jsonData"]["dbName"], "quotes");
    assert_eq!(
        influx["secureJsonData"]["httpHeaderValue1"],
        "Token ${MST_GRAFANA_INFLUX_TOKEN}"
    );
    let v1 = grafana::generate(&crate::common::v1_with_user());
    let entry = v1.datasources[0].provisioning_file_entry();
    assert_eq!(entry["user"], "grafana");
    assert_eq!(
        entry["secureJsonData"]["password"],
        "${MST_GRAFANA_INFLUX_PASSWORD}"
    );
    let vm = grafana::generate(&crate::common::victoria_metrics());
    assert_eq!(vm.datasources[0].kind, "prometheus");
}
