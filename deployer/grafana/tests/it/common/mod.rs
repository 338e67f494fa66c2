//! Environments for the tests: the shipped files, and variants of them.

use environment::Environment;

/// A shipped environment file, `environments/<name>.yaml`.
pub fn shipped(name: &str) -> Environment {
    let path = format!(
        "{}/../../environments/{name}.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    environment::load(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{e}"))
}

/// `environments/<name>.yaml` with `from` replaced by `to` and `extra` appended, parsed.
pub fn variant(name: &str, from: &str, to: &str, extra: &str) -> Environment {
    let path = format!(
        "{}/../../environments/{name}.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("shipped file");
    assert!(text.contains(from), "{from:?} not in {name}.yaml");
    let text = format!("{}\n{extra}", text.replacen(from, to, 1));
    environment::parse(&format!("environments/{name}.yaml"), &text)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Every flavour of the quote store: the shipped files (InfluxDB v2 through InfluxQL), a v1
/// InfluxDB with a user, and VictoriaMetrics.
pub fn all_flavours() -> Vec<Environment> {
    vec![
        shipped("local"),
        shipped("dev"),
        shipped("prod"),
        v1_with_user(),
        victoria_metrics(),
    ]
}

/// `environments/<name>.yaml` with each `(from, to)` replaced once, parsed.
pub fn edited(name: &str, edits: &[(&str, &str)]) -> Environment {
    let path = format!(
        "{}/../../environments/{name}.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut text = std::fs::read_to_string(&path).expect("shipped file");
    for (from, to) in edits {
        assert!(text.contains(from), "{from:?} not in {name}.yaml");
        text = text.replacen(from, to, 1);
    }
    environment::parse(&format!("environments/{name}.yaml"), &text)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// prod's `grafana:` section line, after which the variants add their keys.
const GRAFANA_SECTION: &str = "\ngrafana:\n";

/// prod on InfluxDB 1.x, Grafana reading as user `grafana`.
pub fn v1_with_user() -> Environment {
    edited(
        "prod",
        &[
            (
                "  api: v2\n  org: markets\n  bucket: quotes\n",
                "  api: v1\n  database: quotes\n",
            ),
            (GRAFANA_SECTION, "\ngrafana:\n  influx_user: grafana\n"),
        ],
    )
}

/// prod reading through VictoriaMetrics' Prometheus API.
pub fn victoria_metrics() -> Environment {
    edited(
        "prod",
        &[
            ("threshold_pct: 1.0", "threshold_pct: 1.25"),
            (
                GRAFANA_SECTION,
                "\ngrafana:\n  quotes_query: victoriametrics\n",
            ),
        ],
    )
}
