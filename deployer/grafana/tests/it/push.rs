//! `--push` against a local HTTP server standing in for Grafana: it answers only the documented
//! API (paths and methods of docs/grafana.md's table; any other request fails the test), checks
//! the bearer token and the bodies, keeps what is written, and answers reads the way Grafana does
//! (with fields of its own added, secrets never returned).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use grafana::push::{Change, Grafana, PushError, push};
use serde_json::{Value, json};

const TOKEN: &str = "glsa_test-token";
const INFLUX_TOKEN: &str = "influx-s3cr3t";

#[derive(Default)]
struct State {
    folders: BTreeMap<String, Value>,
    datasources: BTreeMap<String, Value>,
    contact_points: BTreeMap<String, Value>,
    dashboards: BTreeMap<String, Value>,
    rule_groups: BTreeMap<String, Value>,
    /// Every request: (method, path).
    log: Vec<(String, String)>,
    /// What broke the documented API.
    violations: Vec<String>,
}

struct FakeGrafana {
    url: String,
    state: Arc<Mutex<State>>,
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// Handles one request; returns (status, body).
fn handle(
    state: &mut State,
    method: &str,
    target: &str,
    auth: Option<&str>,
    body: &str,
) -> (u16, Value) {
    state.log.push((method.to_owned(), target.to_owned()));
    if auth != Some(&format!("Bearer {TOKEN}")) {
        return (401, json!({"message": "invalid API key"}));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or(json!({"unparsable": body}))
    };
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut violation = |what: String| {
        state.violations.push(format!("{method} {target}: {what}"));
    };
    let need = |v: &Value, fields: &[&str]| {
        fields
            .iter()
            .filter(|f| v.get(**f).is_none_or(Value::is_null))
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
    };
    match (method, parts.as_slice()) {
        ("GET", ["api", "folders", uid]) => match state.folders.get(&decode(uid)) {
            Some(f) => (200, f.clone()),
            None => (404, json!({"message": "folder not found"})),
        },
        ("POST", ["api", "folders"]) => {
            let missing = need(&body, &["uid", "title"]);
            if !missing.is_empty() {
                violation(format!("missing {missing:?}"));
                return (400, json!({}));
            }
            let mut f = body.clone();
            f["id"] = json!(state.folders.len() + 1);
            state.folders.insert(
                body["uid"].as_str().unwrap_or_default().to_owned(),
                f.clone(),
            );
            (200, f)
        }
        ("GET", ["api", "datasources", "uid", uid]) => match state.datasources.get(&decode(uid)) {
            Some(d) => {
                // Grafana never returns secrets, only which are set.
                let mut d = d.clone();
                let secure = d.as_object_mut().and_then(|m| m.remove("secureJsonData"));
                let fields: serde_json::Map<String, Value> = secure
                    .and_then(|s| s.as_object().cloned())
                    .unwrap_or_default()
                    .keys()
                    .map(|k| (k.clone(), json!(true)))
                    .collect();
                d["secureJsonFields"] = Value::Object(fields);
                d["id"] = json!(3);
                d["readOnly"] = json!(false);
                (200, d)
            }
            None => (404, json!({"message": "Data source not found"})),
        },
        ("POST", ["api", "datasources"]) | ("PUT", ["api", "datasources", "uid", _]) => {
            let missing = need(&body, &["name", "type", "access", "uid"]);
            if !missing.is_empty() {
                violation(format!("missing {missing:?}"));
                return (400, json!({}));
            }
            if let [.., uid] = parts.as_slice()
                && method == "PUT"
                && decode(uid) != body["uid"]
            {
                violation("uid in path and body differ".into());
            }
            state.datasources.insert(
                body["uid"].as_str().unwrap_or_default().to_owned(),
                body.clone(),
            );
            (
                200,
                json!({"message": "Datasource added", "datasource": body}),
            )
        }
        ("GET", ["api", "v1", "provisioning", "contact-points"]) => {
            let name = query.strip_prefix("name=").map(decode).unwrap_or_default();
            let found: Vec<Value> = state
                .contact_points
                .values()
                .filter(|c| c["name"] == name.as_str())
                .cloned()
                .collect();
            (200, json!(found))
        }
        ("POST", ["api", "v1", "provisioning", "contact-points"])
        | ("PUT", ["api", "v1", "provisioning", "contact-points", _]) => {
            let missing = need(&body, &["uid", "name", "type", "settings"]);
            if !missing.is_empty() {
                violation(format!("missing {missing:?}"));
                return (400, json!({}));
            }
            let mut c = body.clone();
            c["provenance"] = json!("api");
            state.contact_points.insert(
                body["uid"].as_str().unwrap_or_default().to_owned(),
                c.clone(),
            );
            (if method == "POST" { 201 } else { 202 }, c)
        }
        ("GET", ["api", "dashboards", "uid", uid]) => match state.dashboards.get(&decode(uid)) {
            Some(d) => (200, d.clone()),
            None => (404, json!({"message": "Dashboard not found"})),
        },
        ("POST", ["api", "dashboards", "db"]) => {
            if body["overwrite"] != true || !body["dashboard"]["id"].is_null() {
                violation("expected overwrite: true and dashboard.id: null".into());
            }
            let folder = body["folderUid"].as_str().unwrap_or_default().to_owned();
            if !state.folders.contains_key(&folder) {
                violation(format!("folder {folder} does not exist"));
                return (400, json!({}));
            }
            let uid = body["dashboard"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let mut d = body["dashboard"].clone();
            d["id"] = json!(42);
            d["version"] = json!(
                state
                    .dashboards
                    .get(&uid)
                    .map_or(1, |old| old["dashboard"]["version"].as_i64().unwrap_or(1)
                        + 1)
            );
            state.dashboards.insert(
                uid.clone(),
                json!({"dashboard": d, "meta": {"folderUid": folder, "provisioned": false}}),
            );
            (200, json!({"status": "success", "uid": uid, "version": 1}))
        }
        (
            "GET",
            [
                "api",
                "v1",
                "provisioning",
                "folder",
                folder,
                "rule-groups",
                group,
            ],
        ) => {
            match state
                .rule_groups
                .get(&format!("{}/{}", decode(folder), decode(group)))
            {
                Some(g) => (200, g.clone()),
                None => (404, json!({"message": "rule group does not exist"})),
            }
        }
        (
            "PUT",
            [
                "api",
                "v1",
                "provisioning",
                "folder",
                folder,
                "rule-groups",
                group,
            ],
        ) => {
            let (folder, group) = (decode(folder), decode(group));
            if !state.folders.contains_key(&folder) {
                violation(format!("folder {folder} does not exist"));
            }
            if !body["interval"].is_u64() {
                violation("interval must be whole seconds".into());
            }
            let mut g = body.clone();
            for rule in g["rules"].as_array_mut().into_iter().flatten() {
                if rule["folderUID"] != folder.as_str() || rule["ruleGroup"] != group.as_str() {
                    violation(format!("rule {} is not in {folder}/{group}", rule["uid"]));
                }
                for q in rule["data"].as_array().cloned().unwrap_or_default() {
                    let ds = q["datasourceUid"].as_str().unwrap_or_default();
                    if ds != "__expr__" && !state.datasources.contains_key(ds) {
                        violation(format!(
                            "rule {} queries unknown data source {ds}",
                            rule["uid"]
                        ));
                    }
                }
                // Grafana adds its own fields to each query model and rule.
                for q in rule["data"].as_array_mut().into_iter().flatten() {
                    q["model"]["intervalMs"] = json!(1000);
                    q["model"]["maxDataPoints"] = json!(43200);
                }
                rule["id"] = json!(9);
                rule["provenance"] = json!("api");
            }
            state
                .rule_groups
                .insert(format!("{folder}/{group}"), g.clone());
            (200, g)
        }
        _ => {
            violation("not in Grafana's documented API as used".into());
            (404, json!({"message": "not found"}))
        }
    }
}

impl FakeGrafana {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() || line.is_empty() {
                    continue;
                }
                let mut words = line.split_whitespace();
                let (method, target) = (
                    words.next().unwrap_or("").to_owned(),
                    words.next().unwrap_or("").to_owned(),
                );
                let mut length = 0;
                let mut auth = None;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                        break;
                    }
                    let (name, value) = header.split_once(':').unwrap_or((&header, ""));
                    match name.to_ascii_lowercase().as_str() {
                        "content-length" => length = value.trim().parse().unwrap_or(0),
                        "authorization" => auth = Some(value.trim().to_owned()),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let (status, answer) = {
                    let mut state = shared.lock().expect("state");
                    handle(
                        &mut state,
                        &method,
                        &target,
                        auth.as_deref(),
                        &String::from_utf8_lossy(&body),
                    )
                };
                let text = answer.to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        Self { url, state }
    }

    /// Requests since the last call, as `METHOD path`.
    fn take_log(&self) -> Vec<String> {
        let mut state = self.state.lock().expect("state");
        assert!(
            state.violations.is_empty(),
            "API violations: {:#?}",
            state.violations
        );
        state
            .log
            .drain(..)
            .map(|(m, p)| format!("{m} {p}"))
            .collect()
    }
}

fn secrets(var: &str) -> Option<String> {
    (var == grafana::datasources::INFLUX_TOKEN_VAR).then(|| INFLUX_TOKEN.to_owned())
}

fn changes(outcomes: &[grafana::push::Outcome]) -> Vec<(&'static str, Change)> {
    outcomes.iter().map(|o| (o.kind, o.change)).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn first_push_creates_a_repush_changes_nothing_and_an_edit_updates_only_its_object() {
    let fake = FakeGrafana::start();
    let env = crate::common::shipped("prod");
    let p = grafana::generate(&env);
    let client = Grafana::new(&fake.url, TOKEN).expect("client");

    let first = push(&p, &client, &secrets).await.expect("first push");
    assert_eq!(
        changes(&first),
        [
            ("folder", Change::Created),
            ("data source", Change::Created),
            ("data source", Change::Created),
            ("contact point", Change::Created),
            ("dashboard", Change::Created),
            ("dashboard", Change::Created),
            ("rule group", Change::Created),
        ]
    );
    let log = fake.take_log();
    let writes: Vec<&String> = log.iter().filter(|l| !l.starts_with("GET")).collect();
    assert_eq!(
        writes,
        [
            "POST /api/folders",
            "POST /api/datasources",
            "POST /api/datasources",
            "POST /api/v1/provisioning/contact-points",
            "POST /api/dashboards/db",
            "POST /api/dashboards/db",
            "PUT /api/v1/provisioning/folder/mst-prod-folder/rule-groups/MyStockTracker%20prod",
        ]
    );
    {
        let state = fake.state.lock().expect("state");
        // The InfluxDB token went to Grafana, as the header value InfluxDB 2.x expects.
        let influx = &state.datasources["mst-prod-influxdb"];
        assert_eq!(
            influx["secureJsonData"]["httpHeaderValue1"],
            format!("Token {INFLUX_TOKEN}")
        );
        assert_eq!(influx["jsonData"]["dbName"], "quotes");
        let group = &state.rule_groups["mst-prod-folder/MyStockTracker prod"];
        assert_eq!(group["interval"], 60);
        assert_eq!(
            group["rules"].as_array().map(Vec::len),
            Some(p.rule_group.rules.len())
        );
        assert_eq!(
            state.dashboards["mst-prod-quotes"]["meta"]["folderUid"],
            "mst-prod-folder"
        );
    }

    // Again, unchanged: reads only.
    let second = push(&p, &client, &secrets).await.expect("re-push");
    assert!(
        second.iter().all(|o| o.change == Change::Unchanged),
        "{second:?}"
    );
    let log = fake.take_log();
    assert!(log.iter().all(|l| l.starts_with("GET ")), "{log:#?}");
    assert_eq!(log.len(), 7);

    // A new threshold changes the rule group and the quotes dashboard's move panel only.
    let edited = grafana::generate(&crate::common::variant(
        "prod",
        "threshold_pct: 1.0",
        "threshold_pct: 2.0",
        "",
    ));
    let third = push(&edited, &client, &|_| None)
        .await
        .expect("push after an edit");
    let updated: Vec<&str> = third
        .iter()
        .filter(|o| o.change == Change::Updated)
        .map(|o| o.uid.as_str())
        .collect();
    assert_eq!(
        updated,
        ["mst-prod-quotes", "mst-prod-folder/MyStockTracker prod"],
        "{third:?}"
    );
    let writes: Vec<String> = fake
        .take_log()
        .into_iter()
        .filter(|l| !l.starts_with("GET"))
        .collect();
    assert_eq!(writes.len(), 2, "{writes:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_missing_secret_or_a_wrong_token_is_a_clear_error() {
    let fake = FakeGrafana::start();
    let p = grafana::generate(&crate::common::shipped("prod"));
    let client = Grafana::new(&fake.url, TOKEN).expect("client");
    let err = push(&p, &client, &|_| None)
        .await
        .expect_err("no InfluxDB token");
    assert!(
        matches!(
            err,
            PushError::MissingSecret {
                var: "MST_GRAFANA_INFLUX_TOKEN",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("MST_GRAFANA_INFLUX_TOKEN"),
        "{err}"
    );

    let wrong = Grafana::new(&fake.url, "nope").expect("client");
    let err = push(&p, &wrong, &secrets).await.expect_err("wrong token");
    assert!(
        err.to_string().contains("401") && err.to_string().contains(grafana::push::TOKEN_VAR),
        "{err}"
    );

    let nowhere = Grafana::new("http://127.0.0.1:9", TOKEN).expect("client");
    let err = push(&p, &nowhere, &secrets)
        .await
        .expect_err("nothing listens");
    assert!(err.to_string().contains("cannot reach Grafana"), "{err}");
}
