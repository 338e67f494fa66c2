//! The dashboards: quotes (price, change, volume, one-minute moves and the latest quotes per
//! symbol, with a `symbol` variable over the environment's symbols) and pipeline health (the
//! alarms' metrics and more, per region).

use environment::Environment;
use quote_record::influx::{FIELD_CHANGE_PCT, FIELD_PRICE, FIELD_VOLUME, TAG_SYMBOL};
use serde_json::{Value, json};
use stacks::pipeline::health::{ALARM_PERIOD_SECONDS, ALARMS, CHARTS, HealthMetric};

use crate::datasources::DataSources;
use crate::quotes::{self, Language, influxql, promql};
use crate::uid::uid;
use crate::{health, quotes::symbol_names};

/// The dashboard JSON model's schema version written (Grafana 12).
pub const SCHEMA_VERSION: u32 = 41;

/// The name of the symbol template variable.
pub const SYMBOL_VARIABLE: &str = TAG_SYMBOL;
/// The name of the region template variable.
pub const REGION_VARIABLE: &str = "region";

/// One dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    /// Stable uid.
    pub uid: String,
    /// The JSON file's name without `.json`.
    pub slug: &'static str,
    /// The JSON model (what `/api/dashboards/db` takes as `dashboard`).
    pub model: Value,
}

/// A panel's data queries, with the data source they go to.
struct Targets {
    datasource: Value,
    targets: Vec<Value>,
}

/// Lays panels out two per row, 12 columns by 8 rows each.
struct Grid {
    next: usize,
}

impl Grid {
    fn place(&mut self, full_width: bool) -> Value {
        let n = self.next;
        if full_width {
            // Start a new row.
            let row = n.div_ceil(2);
            self.next = (row + 1) * 2;
            return json!({"h": 8, "w": 24, "x": 0, "y": row * 8});
        }
        self.next += 1;
        json!({"h": 8, "w": 12, "x": (n % 2) * 12, "y": (n / 2) * 8})
    }
}

fn panel(
    id: usize,
    kind: &str,
    title: &str,
    grid_pos: Value,
    targets: Targets,
    unit: &str,
    options: Value,
) -> Value {
    json!({
        "id": id,
        "type": kind,
        "title": title,
        "gridPos": grid_pos,
        "datasource": targets.datasource,
        "targets": targets.targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": options,
    })
}

fn dashboard(
    uid: String,
    title: &str,
    tags: Vec<String>,
    refresh: &str,
    variables: Vec<Value>,
    panels: Vec<Value>,
) -> Value {
    json!({
        "uid": uid,
        "title": title,
        "tags": tags,
        "timezone": "utc",
        "editable": false,
        "graphTooltip": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": refresh,
        "schemaVersion": SCHEMA_VERSION,
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": panels,
    })
}

/// A custom variable over `values`, all selected, multi-valued.
fn custom_variable(name: &str, label: &str, values: &[String], multi: bool) -> Value {
    let options: Vec<Value> = values
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"text": v, "value": v, "selected": !multi && i == 0}))
        .collect();
    let current = if multi {
        json!({"text": ["All"], "value": ["$__all"]})
    } else {
        json!({"text": values.first(), "value": values.first()})
    };
    json!({
        "type": "custom",
        "name": name,
        "label": label,
        "query": values.join(","),
        "multi": multi,
        "includeAll": multi,
        "current": current,
        "options": options,
    })
}

fn tags(env: &Environment) -> Vec<String> {
    vec!["mystocktracker".to_owned(), env.name.as_str().to_owned()]
}

/// Per-symbol time series of `field`.
fn field_targets(sources: &DataSources, field: &str) -> Targets {
    let ds = sources.quotes.reference();
    let target = match sources.language {
        Language::InfluxQl => json!({
            "refId": "A", "datasource": ds, "rawQuery": true, "resultFormat": "time_series",
            "query": influxql::field_over_time(field), "alias": format!("$tag_{TAG_SYMBOL}"),
        }),
        Language::PromQl => json!({
            "refId": "A", "datasource": ds, "expr": promql::field_over_time(field),
            "range": true, "instant": false, "legendFormat": format!("{{{{{TAG_SYMBOL}}}}}"),
        }),
    };
    Targets {
        datasource: ds,
        targets: vec![target],
    }
}

/// The quotes dashboard.
pub fn quotes(env: &Environment, sources: &DataSources) -> Dashboard {
    let name = env.name.as_str();
    let ds = sources.quotes.reference();
    let mut grid = Grid { next: 0 };
    let mut panels = Vec::new();
    for (title, field, unit) in [
        ("Price", FIELD_PRICE, "short"),
        ("Change (% of previous close)", FIELD_CHANGE_PCT, "percent"),
        ("Session volume", FIELD_VOLUME, "short"),
    ] {
        panels.push(panel(
            panels.len() + 1,
            "timeseries",
            title,
            grid.place(false),
            field_targets(sources, field),
            unit,
            json!({}),
        ));
    }
    // The price-move alert's measure, with the threshold drawn.
    let moves = match sources.language {
        Language::InfluxQl => json!({
            "refId": "A", "datasource": ds, "rawQuery": true, "resultFormat": "time_series",
            "query": influxql::window_moves("$symbol"), "alias": format!("$tag_{TAG_SYMBOL}"),
        }),
        Language::PromQl => json!({
            "refId": "A", "datasource": ds, "expr": promql::window_move("$symbol"),
            "range": true, "instant": false, "legendFormat": format!("{{{{{TAG_SYMBOL}}}}}"),
            "interval": format!("{}s", lambda_contract::notify::WINDOW_SECONDS),
        }),
    };
    let mut move_panel = panel(
        panels.len() + 1,
        "timeseries",
        &format!("One-minute moves (alert at ±{}%)", env.alerts.threshold_pct),
        grid.place(false),
        Targets {
            datasource: ds.clone(),
            targets: vec![moves],
        },
        "percent",
        json!({}),
    );
    move_panel["fieldConfig"]["defaults"]["thresholds"] = json!({
        "mode": "absolute",
        "steps": [
            {"color": "red", "value": null},
            {"color": "green", "value": -env.alerts.threshold_pct},
            {"color": "red", "value": env.alerts.threshold_pct},
        ],
    });
    move_panel["fieldConfig"]["defaults"]["custom"] = json!({"thresholdsStyle": {"mode": "line"}});
    panels.push(move_panel);
    // The latest quote of each symbol.
    let (table_targets, transformations) = match sources.language {
        Language::InfluxQl => (
            vec![json!({
                "refId": "A", "datasource": ds, "rawQuery": true, "resultFormat": "table",
                "query": influxql::latest_quotes(),
            })],
            json!([]),
        ),
        Language::PromQl => (
            quotes::CHARTED_FIELDS
                .iter()
                .zip(["A", "B", "C"])
                .map(|(field, ref_id)| {
                    json!({
                        "refId": ref_id, "datasource": ds, "expr": promql::latest(field),
                        "range": false, "instant": true, "format": "table",
                    })
                })
                .collect(),
            json!([{"id": "merge", "options": {}}]),
        ),
    };
    let mut table = panel(
        panels.len() + 1,
        "table",
        "Latest quotes",
        grid.place(true),
        Targets {
            datasource: ds,
            targets: table_targets,
        },
        "short",
        json!({"showHeader": true}),
    );
    table["transformations"] = transformations;
    panels.push(table);
    Dashboard {
        uid: uid(name, "quotes"),
        slug: "quotes",
        model: dashboard(
            uid(name, "quotes"),
            &format!("MyStockTracker {name}: quotes"),
            tags(env),
            &format!("{}s", env.scraper.interval_seconds.max(5)),
            vec![custom_variable(
                SYMBOL_VARIABLE,
                "Symbol",
                &symbol_names(env),
                true,
            )],
            panels,
        ),
    }
}

/// The pipeline-health dashboard: every alarm's metric (threshold drawn), the other charted
/// metrics, and quarantined records, in the region the `region` variable selects.
pub fn pipeline_health(env: &Environment, sources: &DataSources) -> Dashboard {
    let name = env.name.as_str();
    let region = format!("${REGION_VARIABLE}");
    let ds = sources.cloudwatch.reference();
    let mut grid = Grid { next: 0 };
    let mut panels = Vec::new();
    let metric_panel = |id: usize, grid_pos: Value, metric: &HealthMetric| {
        let unit = match (metric.metric, metric.namespace) {
            (_, "AWS/Firehose") => "s",
            ("IteratorAge" | "Duration", _) => "ms",
            _ => "short",
        };
        panel(
            id,
            "timeseries",
            metric.title,
            grid_pos,
            Targets {
                datasource: ds.clone(),
                targets: vec![health::metric_query(
                    "A",
                    &sources.cloudwatch,
                    env,
                    metric,
                    &region,
                    60,
                )],
            },
            unit,
            json!({}),
        )
    };
    for metric in CHARTS.iter().take(1) {
        panels.push(metric_panel(panels.len() + 1, grid.place(false), metric));
    }
    for alarm in &ALARMS {
        let mut p = metric_panel(panels.len() + 1, grid.place(false), &alarm.metric);
        p["description"] = json!(format!(
            "{} Alarm: {} of {} s at least {}.",
            alarm.description, alarm.metric.statistic, ALARM_PERIOD_SECONDS, alarm.threshold
        ));
        p["fieldConfig"]["defaults"]["thresholds"] = json!({
            "mode": "absolute",
            "steps": [{"color": "green", "value": null}, {"color": "red", "value": alarm.threshold}],
        });
        p["fieldConfig"]["defaults"]["custom"] = json!({"thresholdsStyle": {"mode": "line"}});
        panels.push(p);
    }
    for metric in CHARTS.iter().skip(1) {
        panels.push(metric_panel(panels.len() + 1, grid.place(false), metric));
    }
    panels.push(panel(
        panels.len() + 1,
        "timeseries",
        "Quarantined records (transform)",
        grid.place(false),
        Targets {
            datasource: ds.clone(),
            targets: vec![health::quarantined_records_query(
                "A",
                &sources.cloudwatch,
                env,
                &region,
            )],
        },
        "short",
        json!({}),
    ));
    let regions: Vec<String> = env.regions.iter().map(|r| r.as_str().to_owned()).collect();
    Dashboard {
        uid: uid(name, "pipeline-health"),
        slug: "pipeline-health",
        model: dashboard(
            uid(name, "pipeline-health"),
            &format!("MyStockTracker {name}: pipeline health"),
            tags(env),
            "1m",
            vec![custom_variable(REGION_VARIABLE, "Region", &regions, false)],
            panels,
        ),
    }
}
