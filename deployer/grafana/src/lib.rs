//! Grafana provisioning generated from an environment (`deployer grafana`), and its upload through
//! Grafana's HTTP API (`deployer grafana --push`).
//!
//! Everything comes from definitions that already exist: the symbols, threshold, e-mails and
//! InfluxDB target from the environment; the measurement, tag and field names from the quote
//! record's line-protocol encoder (`quote_record::influx`); the alert window and threshold
//! tolerance from the notify Lambda's contract (`lambda_contract::notify`); the pipeline's health
//! metrics from the alarms' definition (`stacks::pipeline::health`). Output is deterministic:
//! the same environment gives the same bytes, with uids derived from the environment and object
//! names ([`uid`]).
//!
//! - [`quotes`]: the InfluxQL and PromQL queries over the quotes (panels and alert rules);
//! - [`datasources`], [`dashboards`], [`alerting`]: the provisioned objects;
//! - [`Provisioning`]: all of them, as Grafana's provisioning files ([`Provisioning::files`]) or
//!   as the bodies of its HTTP API ([`push`]).

pub mod alerting;
pub mod dashboards;
pub mod datasources;
pub mod health;
pub mod push;
pub mod quotes;
pub mod uid;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use environment::Environment;
use serde_json::{Value, json};

pub use alerting::RuleGroup;
pub use dashboards::Dashboard;
pub use datasources::{DataSource, SecretVar};

/// Grafana organisation the objects belong to (the default one).
pub const ORG_ID: u64 = 1;

/// The folder holding one environment's dashboards and alert rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// Stable uid.
    pub uid: String,
    /// `MyStockTracker <env>`.
    pub title: String,
}

/// Everything generated for one environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Provisioning {
    /// The environment's name.
    pub env: String,
    /// The folder of the dashboards and rules.
    pub folder: Folder,
    /// Data sources: the quotes (InfluxDB or VictoriaMetrics) and CloudWatch.
    pub datasources: Vec<DataSource>,
    /// The quotes and pipeline-health dashboards.
    pub dashboards: Vec<Dashboard>,
    /// The e-mail contact point (Grafana's `EmbeddedContactPoint`); none without addresses.
    pub contact_point: Option<Value>,
    /// The alert rules, one group.
    pub rule_group: RuleGroup,
}

/// Why the provisioning could not be generated or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be written.
    #[error("cannot write {path}: {source}; check that the directory is writable")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Generates the provisioning of `env`.
pub fn generate(env: &Environment) -> Provisioning {
    let name = env.name.as_str();
    let folder = Folder {
        uid: uid::uid(name, "folder"),
        title: format!("MyStockTracker {name}"),
    };
    let sources = datasources::DataSources::new(env);
    let dashboards = vec![
        dashboards::quotes(env, &sources),
        dashboards::pipeline_health(env, &sources),
    ];
    let contact_point = alerting::contact_point(env);
    let rule_group = alerting::rule_group(env, &sources, &folder, &contact_point);
    Provisioning {
        env: name.to_owned(),
        folder,
        datasources: sources.all(),
        dashboards,
        contact_point,
        rule_group,
    }
}

impl Provisioning {
    /// The directory, under Grafana's provisioning directory, holding the dashboards' JSON files.
    pub fn dashboards_dir(&self) -> String {
        format!("dashboards/mystocktracker-{}", self.env)
    }

    /// Grafana's provisioning files, by path relative to its provisioning directory
    /// (`GF_PATHS_PROVISIONING`): `datasources/`, `dashboards/` (the provider and the JSON
    /// models) and `alerting/`. The YAML files are written as JSON, which is YAML. Secrets are
    /// `${VAR}` references that Grafana fills in from its own environment.
    pub fn files(&self) -> BTreeMap<String, String> {
        let file_name = format!("mystocktracker-{}.yaml", self.env);
        let mut files = BTreeMap::new();
        let datasources = json!({
            "apiVersion": 1,
            "datasources": self.datasources.iter().map(DataSource::provisioning_file_entry).collect::<Vec<_>>(),
        });
        files.insert(format!("datasources/{file_name}"), pretty(&datasources));
        let provider = json!({
            "apiVersion": 1,
            "providers": [{
                "name": format!("mystocktracker-{}", self.env),
                "orgId": ORG_ID,
                "folder": self.folder.title,
                "folderUid": self.folder.uid,
                "type": "file",
                "disableDeletion": false,
                "allowUiUpdates": false,
                "updateIntervalSeconds": 60,
                "options": {
                    "path": format!("${{GF_PATHS_PROVISIONING}}/{}", self.dashboards_dir()),
                    "foldersFromFilesStructure": false,
                },
            }],
        });
        files.insert(format!("dashboards/{file_name}"), pretty(&provider));
        for dashboard in &self.dashboards {
            files.insert(
                format!("{}/{}.json", self.dashboards_dir(), dashboard.slug),
                pretty(&dashboard.model),
            );
        }
        files.insert(
            format!("alerting/{file_name}"),
            pretty(&alerting::provisioning_file(self)),
        );
        files
    }

    /// Writes [`Provisioning::files`] under `dir` (created if missing) and returns the paths.
    pub fn write_to(&self, dir: &Path) -> Result<Vec<PathBuf>, Error> {
        let mut written = Vec::new();
        for (relative, text) in self.files() {
            let path = dir.join(&relative);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|source| Error::Write {
                    path: parent.to_owned(),
                    source,
                })?;
            }
            std::fs::write(&path, text).map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Pretty JSON with a final newline. `serde_json` keeps insertion order (`preserve_order`), so the
/// text depends only on the values.
pub(crate) fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}
