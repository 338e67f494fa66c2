//! The data sources: the quote store (InfluxDB through InfluxQL, or VictoriaMetrics through its
//! Prometheus API) and CloudWatch (the pipeline's health).
//!
//! Secrets never appear in what is generated: a provisioning file holds `${VAR}`, which Grafana
//! fills in from its own environment, and `--push` reads the variable from the deployer's
//! environment and sends it to Grafana only.

use environment::{Environment, InfluxApi, QuotesQuery};
use serde_json::{Map, Value, json};

use crate::ORG_ID;
use crate::quotes::Language;
use crate::uid::uid;

/// Grafana's environment variable holding the InfluxDB token (`influxdb.api: v2`): Grafana sends
/// `Authorization: Token <token>`.
pub const INFLUX_TOKEN_VAR: &str = "MST_GRAFANA_INFLUX_TOKEN";
/// Grafana's environment variable holding the password of `grafana.influx_user` (`influxdb.api: v1`).
pub const INFLUX_PASSWORD_VAR: &str = "MST_GRAFANA_INFLUX_PASSWORD";

/// A secret field of a data source: `prefix` followed by the value of the environment variable `var`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretVar {
    /// The `secureJsonData` key, such as `password`.
    pub field: &'static str,
    /// Text before the value, such as `Token `.
    pub prefix: &'static str,
    /// The environment variable.
    pub var: &'static str,
}

/// One data source, as Grafana's `POST /api/datasources` body and provisioning entry share it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSource {
    /// Stable uid.
    pub uid: String,
    /// Display name.
    pub name: String,
    /// Plugin type: `influxdb`, `prometheus` or `cloudwatch`.
    pub kind: &'static str,
    /// Server URL, when the plugin has one.
    pub url: Option<String>,
    /// User (InfluxDB v1 with a user).
    pub user: Option<String>,
    /// `jsonData`.
    pub json_data: Value,
    /// `secureJsonData`, by reference.
    pub secrets: Vec<SecretVar>,
}

impl DataSource {
    /// A reference as panels and queries carry it: `{"type": .., "uid": ..}`.
    pub fn reference(&self) -> Value {
        json!({"type": self.kind, "uid": self.uid})
    }

    /// The fields Grafana returns as they were set (everything but the secrets).
    pub fn public_fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("uid".into(), json!(self.uid));
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.kind));
        m.insert("access".into(), json!("proxy"));
        if let Some(url) = &self.url {
            m.insert("url".into(), json!(url));
        }
        if let Some(user) = &self.user {
            m.insert("user".into(), json!(user));
        }
        m.insert("jsonData".into(), self.json_data.clone());
        m
    }

    /// The entry of `datasources/*.yaml`: secrets as `${VAR}` references.
    pub fn provisioning_file_entry(&self) -> Value {
        let mut m = self.public_fields();
        m.insert("orgId".into(), json!(ORG_ID));
        m.insert("editable".into(), json!(false));
        if !self.secrets.is_empty() {
            let secure: Map<String, Value> = self
                .secrets
                .iter()
                .map(|s| {
                    (
                        s.field.to_owned(),
                        json!(format!("{}${{{}}}", s.prefix, s.var)),
                    )
                })
                .collect();
            m.insert("secureJsonData".into(), Value::Object(secure));
        }
        Value::Object(m)
    }
}

/// The environment's data sources.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSources {
    /// The quote store.
    pub quotes: DataSource,
    /// How the quote store is queried.
    pub language: Language,
    /// CloudWatch, for the pipeline's health.
    pub cloudwatch: DataSource,
}

impl DataSources {
    /// The data sources of `env`.
    pub fn new(env: &Environment) -> Self {
        let name = env.name.as_str();
        let url = env.influxdb.url.trim_end_matches('/').to_owned();
        let (quotes, language) = match env.grafana.quotes_query {
            QuotesQuery::VictoriaMetrics => (
                DataSource {
                    uid: uid(name, "victoriametrics"),
                    name: format!("MyStockTracker {name} quotes (VictoriaMetrics)"),
                    kind: "prometheus",
                    url: Some(url),
                    user: None,
                    json_data: json!({"httpMethod": "POST", "timeInterval": format!("{}s", env.scraper.interval_seconds)}),
                    secrets: Vec::new(),
                },
                Language::PromQl,
            ),
            QuotesQuery::InfluxQl => {
                let (database, user, secrets, mut json_data) = match &env.influxdb.api {
                    InfluxApi::V1 { database } => {
                        let secrets = match env.grafana.influx_user {
                            Some(_) => vec![SecretVar {
                                field: "password",
                                prefix: "",
                                var: INFLUX_PASSWORD_VAR,
                            }],
                            None => Vec::new(),
                        };
                        (
                            database.clone(),
                            env.grafana.influx_user.clone(),
                            secrets,
                            Map::new(),
                        )
                    }
                    // InfluxDB 2.x answers InfluxQL on `/query` for a bucket mapped to a
                    // database of the same name, with the token in the Authorization header.
                    InfluxApi::V2 { bucket, .. } => {
                        let mut json_data = Map::new();
                        json_data.insert("httpHeaderName1".into(), json!("Authorization"));
                        (
                            bucket.clone(),
                            None,
                            vec![SecretVar {
                                field: "httpHeaderValue1",
                                prefix: "Token ",
                                var: INFLUX_TOKEN_VAR,
                            }],
                            json_data,
                        )
                    }
                };
                json_data.insert("version".into(), json!("InfluxQL"));
                json_data.insert("dbName".into(), json!(database));
                json_data.insert("httpMode".into(), json!("POST"));
                json_data.insert(
                    "timeInterval".into(),
                    json!(format!("{}s", env.scraper.interval_seconds)),
                );
                (
                    DataSource {
                        uid: uid(name, "influxdb"),
                        name: format!("MyStockTracker {name} quotes (InfluxDB)"),
                        kind: "influxdb",
                        url: Some(url),
                        user,
                        json_data: Value::Object(json_data),
                        secrets,
                    },
                    Language::InfluxQl,
                )
            }
        };
        let mut cloudwatch_data = Map::new();
        cloudwatch_data.insert("authType".into(), json!("default"));
        cloudwatch_data.insert("defaultRegion".into(), json!(env.canary_region().as_str()));
        if let Some(emulator) = &env.emulator {
            cloudwatch_data.insert("endpoint".into(), json!(emulator.endpoint));
        }
        let cloudwatch = DataSource {
            uid: uid(name, "cloudwatch"),
            name: format!("MyStockTracker {name} CloudWatch"),
            kind: "cloudwatch",
            url: None,
            user: None,
            json_data: Value::Object(cloudwatch_data),
            secrets: Vec::new(),
        };
        Self {
            quotes,
            language,
            cloudwatch,
        }
    }

    /// Every data source, quotes first.
    pub fn all(&self) -> Vec<DataSource> {
        vec![self.quotes.clone(), self.cloudwatch.clone()]
    }
}
