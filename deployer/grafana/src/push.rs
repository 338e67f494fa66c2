//! `deployer grafana --push`: uploads the provisioning to a running Grafana through its HTTP API,
//! idempotently. Every object has a stable uid; each is read first and written only when it is
//! missing or differs, and the outcome says which.
//!
//! | object | read | create | update |
//! |---|---|---|---|
//! | folder | `GET /api/folders/{uid}` | `POST /api/folders` | `PUT /api/folders/{uid}` |
//! | data source | `GET /api/datasources/uid/{uid}` | `POST /api/datasources` | `PUT /api/datasources/uid/{uid}` |
//! | contact point | `GET /api/v1/provisioning/contact-points?name=` | `POST /api/v1/provisioning/contact-points` | `PUT /api/v1/provisioning/contact-points/{uid}` |
//! | dashboard | `GET /api/dashboards/uid/{uid}` | `POST /api/dashboards/db` (`overwrite`, `folderUid`) | same |
//! | rule group | `GET /api/v1/provisioning/folder/{uid}/rule-groups/{group}` | `PUT` same path | same |
//!
//! "Differs" means a field this crate sets has another value in Grafana (Grafana adds fields of
//! its own: ids, versions, defaults, which are not compared). Secrets cannot be compared (Grafana
//! never returns them): they are sent whenever a data source is created or updated. The
//! provisioning API is called without `X-Disable-Provenance`, so the rules and contact point are
//! marked as provisioned and cannot be edited in Grafana's UI: the environment file is their
//! source.

use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value, json};
use tracing::debug;

use crate::datasources::DataSource;
use crate::{Dashboard, Provisioning};

/// The environment variable holding the Grafana service-account token `--push` sends.
pub const TOKEN_VAR: &str = "MST_GRAFANA_SERVICE_ACCOUNT_TOKEN";

/// What a push did to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// It did not exist.
    Created,
    /// It existed and differed.
    Updated,
    /// It existed as generated: nothing was written.
    Unchanged,
}

/// The outcome for one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `folder`, `data source`, `contact point`, `dashboard` or `rule group`.
    pub kind: &'static str,
    /// Its name or title.
    pub name: String,
    /// Its uid (for the rule group, which has none: `<folder uid>/<group title>`).
    pub uid: String,
    /// What happened.
    pub change: Change,
}

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// No answer.
    #[error(
        "cannot reach Grafana for {method} {url}: {source}; check the URL (`--url` or `grafana.url`) and that Grafana is running"
    )]
    Unreachable {
        /// Method.
        method: &'static str,
        /// Full URL.
        url: String,
        /// Cause.
        source: reqwest::Error,
    },
    /// An error status.
    #[error("Grafana answered {status} to {method} {path}: {body}{hint}")]
    Status {
        /// Method.
        method: &'static str,
        /// Path.
        path: String,
        /// HTTP status.
        status: u16,
        /// Response body (Grafana's message).
        body: String,
        /// What to check.
        hint: String,
    },
    /// An answer that is not the JSON expected.
    #[error("Grafana's answer to {method} {path} is not JSON; check that the URL is Grafana's")]
    NotJson {
        /// Method.
        method: &'static str,
        /// Path.
        path: String,
        /// Cause.
        source: serde_json::Error,
    },
    /// A secret a data source needs is not in the environment.
    #[error(
        "the environment variable {var} is not set: data source `{datasource}` needs it; set it in the environment of `deployer grafana --push` (it is sent to Grafana only)"
    )]
    MissingSecret {
        /// The variable.
        var: &'static str,
        /// The data source's name.
        datasource: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// A Grafana HTTP API client with a service-account token.
pub struct Grafana {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Grafana {
    /// A client of the Grafana at `base_url` (such as `https://grafana.example.com`).
    pub fn new(base_url: &str, token: &str) -> Result<Self, PushError> {
        // reqwest is built without a default TLS provider (as in the transform Lambda): ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(PushError::Client)?;
        Ok(Self {
            base: base_url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http,
        })
    }

    /// Sends a request; `Ok(None)` for 404, the JSON answer otherwise.
    async fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, PushError> {
        let url = format!("{}{path}", self.base);
        debug!(method, path, "grafana request");
        let mut request = match method {
            "GET" => self.http.get(&url),
            "POST" => self.http.post(&url),
            _ => self.http.put(&url),
        }
        .header("Authorization", format!("Bearer {}", self.token))
        .header("Accept", "application/json");
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(body).unwrap_or_default());
        }
        let response = request
            .send()
            .await
            .map_err(|source| PushError::Unreachable {
                method,
                url: url.clone(),
                source,
            })?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|source| PushError::Unreachable {
                method,
                url,
                source,
            })?;
        if status == 404 && method == "GET" {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            let hint = match status {
                401 => format!("; check the service-account token in {TOKEN_VAR}"),
                403 => {
                    "; the service account needs the Admin role (folders, data sources, alerting)"
                        .to_owned()
                }
                _ => String::new(),
            };
            return Err(PushError::Status {
                method,
                path: path.to_owned(),
                status,
                body: text.chars().take(500).collect(),
                hint,
            });
        }
        if text.trim().is_empty() {
            return Ok(Some(Value::Null));
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| PushError::NotJson {
                method,
                path: path.to_owned(),
                source,
            })
    }
}

/// Whether every field of `ours` has the same value in `theirs` (recursively; fields only in
/// `theirs` are Grafana's own and ignored; numbers compare by value).
pub fn contains(theirs: &Value, ours: &Value) -> bool {
    match (theirs, ours) {
        (Value::Object(t), Value::Object(o)) => o
            .iter()
            .all(|(k, v)| t.get(k).is_some_and(|tv| contains(tv, v))),
        (Value::Array(t), Value::Array(o)) => {
            t.len() == o.len() && t.iter().zip(o).all(|(tv, ov)| contains(tv, ov))
        }
        (Value::Number(t), Value::Number(o)) => t.as_f64() == o.as_f64(),
        _ => theirs == ours,
    }
}

/// Everything but RFC 3986's unreserved characters is escaped in a path segment or query value.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn segment(text: &str) -> String {
    utf8_percent_encode(text, UNRESERVED).to_string()
}

/// A data source's create/update body, its secrets read through `secret`.
fn datasource_body(
    source: &DataSource,
    secret: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, PushError> {
    let mut body = source.public_fields();
    if !source.secrets.is_empty() {
        let mut secure = Map::new();
        for s in &source.secrets {
            let value = secret(s.var).filter(|v| !v.is_empty()).ok_or_else(|| {
                PushError::MissingSecret {
                    var: s.var,
                    datasource: source.name.clone(),
                }
            })?;
            secure.insert(s.field.to_owned(), json!(format!("{}{value}", s.prefix)));
        }
        body.insert("secureJsonData".into(), Value::Object(secure));
    }
    Ok(Value::Object(body))
}

/// Pushes `p` to `grafana`. `secret` reads the data sources' secret variables (the process
/// environment in the CLI).
pub async fn push(
    p: &Provisioning,
    grafana: &Grafana,
    secret: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Outcome>, PushError> {
    let mut outcomes = Vec::new();
    let mut record = |kind: &'static str, name: &str, uid: &str, change: Change| {
        outcomes.push(Outcome {
            kind,
            name: name.to_owned(),
            uid: uid.to_owned(),
            change,
        });
    };

    // The folder first: dashboards and rules go into it.
    let folder = &p.folder;
    let path = format!("/api/folders/{}", segment(&folder.uid));
    let change = match grafana.call("GET", &path, None).await? {
        None => {
            grafana
                .call(
                    "POST",
                    "/api/folders",
                    Some(&json!({"uid": folder.uid, "title": folder.title})),
                )
                .await?;
            Change::Created
        }
        Some(existing) if existing["title"] == folder.title.as_str() => Change::Unchanged,
        Some(_) => {
            grafana
                .call(
                    "PUT",
                    &path,
                    Some(&json!({"title": folder.title, "overwrite": true})),
                )
                .await?;
            Change::Updated
        }
    };
    record("folder", &folder.title, &folder.uid, change);

    // Data sources before anything that queries them.
    for source in &p.datasources {
        let path = format!("/api/datasources/uid/{}", segment(&source.uid));
        let change = match grafana.call("GET", &path, None).await? {
            None => {
                grafana
                    .call(
                        "POST",
                        "/api/datasources",
                        Some(&datasource_body(source, secret)?),
                    )
                    .await?;
                Change::Created
            }
            Some(existing) if contains(&existing, &Value::Object(source.public_fields())) => {
                Change::Unchanged
            }
            Some(_) => {
                grafana
                    .call("PUT", &path, Some(&datasource_body(source, secret)?))
                    .await?;
                Change::Updated
            }
        };
        record("data source", &source.name, &source.uid, change);
    }

    // The contact point the rules notify.
    if let Some(contact) = &p.contact_point {
        let name = contact["name"].as_str().unwrap_or_default();
        let uid = contact["uid"].as_str().unwrap_or_default();
        let listed = grafana
            .call(
                "GET",
                &format!("/api/v1/provisioning/contact-points?name={}", segment(name)),
                None,
            )
            .await?
            .unwrap_or(Value::Null);
        let existing = listed
            .as_array()
            .and_then(|all| all.iter().find(|c| c["uid"] == uid).cloned());
        let change = match existing {
            None => {
                grafana
                    .call("POST", "/api/v1/provisioning/contact-points", Some(contact))
                    .await?;
                Change::Created
            }
            Some(existing) if contains(&existing, contact) => Change::Unchanged,
            Some(_) => {
                grafana
                    .call(
                        "PUT",
                        &format!("/api/v1/provisioning/contact-points/{}", segment(uid)),
                        Some(contact),
                    )
                    .await?;
                Change::Updated
            }
        };
        record("contact point", name, uid, change);
    }

    for dashboard in &p.dashboards {
        let change = push_dashboard(grafana, dashboard, &folder.uid).await?;
        let title = dashboard.model["title"].as_str().unwrap_or_default();
        record("dashboard", title, &dashboard.uid, change);
    }

    // The rule group, as a whole.
    let group = &p.rule_group;
    let path = format!(
        "/api/v1/provisioning/folder/{}/rule-groups/{}",
        segment(&group.folder_uid),
        segment(&group.title)
    );
    let body = group.api_body();
    let change = match grafana.call("GET", &path, None).await? {
        None => Some(Change::Created),
        Some(existing) if rule_group_matches(&existing, &body) => None,
        Some(_) => Some(Change::Updated),
    };
    if change.is_some() {
        grafana.call("PUT", &path, Some(&body)).await?;
    }
    let address = format!("{}/{}", group.folder_uid, group.title);
    record(
        "rule group",
        &group.title,
        &address,
        change.unwrap_or(Change::Unchanged),
    );
    Ok(outcomes)
}

/// The same interval and the same rules (by uid, every generated field equal).
fn rule_group_matches(existing: &Value, ours: &Value) -> bool {
    let (Some(theirs), Some(rules)) = (existing["rules"].as_array(), ours["rules"].as_array())
    else {
        return false;
    };
    contains(&existing["interval"], &ours["interval"])
        && theirs.len() == rules.len()
        && rules.iter().all(|rule| {
            theirs
                .iter()
                .any(|t| t["uid"] == rule["uid"] && contains(t, rule))
        })
}

async fn push_dashboard(
    grafana: &Grafana,
    dashboard: &Dashboard,
    folder_uid: &str,
) -> Result<Change, PushError> {
    let path = format!("/api/dashboards/uid/{}", segment(&dashboard.uid));
    let change = match grafana.call("GET", &path, None).await? {
        None => Change::Created,
        Some(existing)
            if existing["meta"]["folderUid"] == folder_uid
                && contains(&existing["dashboard"], &dashboard.model) =>
        {
            return Ok(Change::Unchanged);
        }
        Some(_) => Change::Updated,
    };
    let mut model = dashboard.model.clone();
    // `id: null` with `overwrite` makes Grafana find the dashboard by uid.
    model["id"] = Value::Null;
    let body = json!({
        "dashboard": model,
        "folderUid": folder_uid,
        "overwrite": true,
        "message": "deployer grafana --push",
    });
    grafana
        .call("POST", "/api/dashboards/db", Some(&body))
        .await?;
    Ok(change)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_ignores_grafanas_own_fields_only() {
        let ours = json!({"a": 1, "b": {"c": [1, {"d": "x"}]}});
        assert!(contains(
            &json!({"a": 1.0, "id": 7, "b": {"c": [1, {"d": "x", "e": 2}]}}),
            &ours
        ));
        assert!(!contains(
            &json!({"a": 2, "b": {"c": [1, {"d": "x"}]}}),
            &ours
        ));
        assert!(!contains(&json!({"a": 1, "b": {"c": [1]}}), &ours));
        assert!(!contains(&json!({"b": {"c": [1, {"d": "x"}]}}), &ours));
    }
}
