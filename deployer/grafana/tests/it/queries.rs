//! Every query the dashboards and alert rules send to the quote store runs against a real server
//! over quotes written with the transform Lambda's own line protocol
//! (`quote_record::Quote::write_line_protocol`), and returns the expected series: InfluxDB 1.x
//! for InfluxQL, VictoriaMetrics for PromQL.
//!
//! Grafana replaces its macros before a query leaves it; the tests do the same, as Grafana's
//! backend does:
//! - InfluxQL `$timeFilter` → `time > <from>ms and time < <to>ms` (the panel's or rule's range);
//! - `$__interval` → `60s` here (Grafana derives it from range and width; at least the data
//!   source's `timeInterval`), `$__range` → the range in seconds (`3600s`);
//! - `$symbol` (multi-value, all selected) → `(AAPL|BRK\.B|...)` in InfluxQL regexes, and with the
//!   backslash doubled inside a PromQL string.
//!
//! The alert rules' expressions (`reduce` last non-null per series, `math` joined on labels,
//! series missing on one side dropped) are Grafana's server-side expressions, emulated here to
//! check which symbols would fire.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use environment::Environment;
use grafana::quotes::symbols_regex;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use quote_record::{Quote, Timestamp};
use serde_json::Value;

/// A quote of `symbol` at `seconds` since the epoch.
fn quote(symbol: &str, seconds: i64, price: f64, source: &str) -> Quote {
    let t = Timestamp::from_unix_nanos(seconds * 1_000_000_000).to_string();
    let json = format!(
        r#"{{"v":1,"symbol":"{symbol}","price":{price},"currency":"USD","change_pct":{},"volume":{},"market_time":"{t}","scraped_at":"{t}","source":"{source}"}}"#,
        price / 100.0,
        seconds % 100_000,
    );
    Quote::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The data: minute windows W1..W4 before `t0` (a minute boundary an hour ago); the alert rules
/// are evaluated at `t0 + 5 s`.
/// - AAPL: 100 and 100.5 in W2, none in W3, 102 in W4: +1.4925% against the previous window that
///   has a price (the gap is skipped, as notify does) → fires;
/// - BRK.B: 110 in W3, 111.1 in W4: exactly +1.00% in decimal → fires (notify's tolerance);
/// - MSFT: 200 in W3, 201 in W4: +0.5% → does not fire;
/// - NVDA: 50 in W1, 60 in W2: +20%, but nothing in the last two windows → does not fire;
/// - GOOGL: one quote 40 s ago (the only fresh symbol for the staleness rule's 60 s), from a
///   second source as well. Not fresher: VictoriaMetrics hides the last 30 s from queries
///   (`-search.latencyOffset`), and so would from Grafana.
struct Data {
    t0: i64,
    now: i64,
    quotes: Vec<Quote>,
}

fn data() -> Data {
    let now = now_seconds();
    let t0 = now / 60 * 60 - 3600;
    let w = |n: i64| t0 - (5 - n) * 60;
    let quotes = vec![
        quote("NVDA", w(1) + 10, 50.0, "quote-page"),
        quote("AAPL", w(2) + 10, 100.0, "quote-page"),
        quote("AAPL", w(2) + 30, 100.5, "quote-page"),
        quote("NVDA", w(2) + 10, 60.0, "quote-page"),
        quote("BRK.B", w(3) + 10, 110.0, "quote-page"),
        quote("MSFT", w(3) + 10, 200.0, "quote-page"),
        quote("AAPL", w(4) + 10, 102.0, "quote-page"),
        quote("BRK.B", w(4) + 10, 111.1, "quote-page"),
        quote("MSFT", w(4) + 10, 201.0, "quote-page"),
        quote("GOOGL", now - 40, 150.0, "quote-page"),
        quote("GOOGL", now - 40, 150.0, "quote-api"),
    ];
    Data { t0, now, quotes }
}

fn line_protocol(quotes: &[Quote]) -> String {
    let mut body = Vec::new();
    for q in quotes {
        q.write_line_protocol(&mut body);
        body.push(b'\n');
    }
    String::from_utf8(body).expect("line protocol is UTF-8")
}

fn symbols(env: &Environment) -> Vec<String> {
    grafana::quotes::symbol_names(env)
}

/// InfluxQL macros, as Grafana's backend renders them.
fn influxql(query: &str, env: &Environment, from: i64, to: i64) -> String {
    query
        .replace(
            "$timeFilter",
            &format!("time > {}ms and time < {}ms", from * 1000, to * 1000),
        )
        .replace("$__interval", "60s")
        .replace("$symbol", &symbols_regex(&symbols(env)))
}

/// InfluxDB's answer as symbol → [(time in seconds, value of `column`)].
fn influx_series(answer: &str, column: &str) -> BTreeMap<String, Vec<(i64, Option<f64>)>> {
    let v: Value = serde_json::from_str(answer).expect("json");
    let result = &v["results"][0];
    assert!(result["error"].is_null(), "{answer}");
    let mut out = BTreeMap::new();
    for s in result["series"].as_array().cloned().unwrap_or_default() {
        let columns = s["columns"].as_array().expect("columns");
        let at = columns
            .iter()
            .position(|c| c == column)
            .unwrap_or_else(|| panic!("no {column} in {s}"));
        let rows = s["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|row| {
                (
                    row[0].as_i64().expect("epoch") / 1_000_000_000,
                    row[at].as_f64(),
                )
            })
            .collect();
        out.insert(
            s["tags"]["symbol"].as_str().expect("symbol tag").to_owned(),
            rows,
        );
    }
    out
}

/// `reduce last (drop non-numbers)` per series.
fn last_values(series: &BTreeMap<String, Vec<(i64, Option<f64>)>>) -> BTreeMap<String, f64> {
    series
        .iter()
        .filter_map(|(s, rows)| {
            rows.iter()
                .rev()
                .find_map(|(_, v)| *v)
                .map(|v| (s.clone(), v))
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

#[test]
fn influxql_panels_and_rules_return_the_expected_series() {
    let env = crate::common::shipped("prod");
    let p = grafana::generate(&env);
    let source = &p.datasources[0];
    assert_eq!(source.kind, "influxdb");
    let db = source.json_data["dbName"].as_str().expect("dbName");
    let server = testkit::Influx1::start();
    server.create_database(db);
    let d = data();
    server.write(db, &line_protocol(&d.quotes));
    let run = |q: &str, from: i64, to: i64| server.query(db, &influxql(q, &env, from, to));
    let (from, to) = (d.t0 - 600, d.t0 + 5);

    // Every panel query of the quotes dashboard.
    let quotes = p
        .dashboards
        .iter()
        .find(|x| x.slug == "quotes")
        .expect("quotes dashboard");
    let mut ran = 0;
    for panel in quotes.model["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().expect("title");
        for target in panel["targets"].as_array().expect("targets") {
            let answer = run(target["query"].as_str().expect("InfluxQL"), from, to);
            ran += 1;
            match title {
                "Price" => {
                    let s = influx_series(&answer, "price");
                    assert_eq!(
                        s["AAPL"],
                        vec![(d.t0 - 180, Some(100.5)), (d.t0 - 60, Some(102.0))],
                        "{answer}"
                    );
                    assert_eq!(
                        s["BRK.B"],
                        vec![(d.t0 - 120, Some(110.0)), (d.t0 - 60, Some(111.1))]
                    );
                    assert!(!s.contains_key("GOOGL"), "GOOGL is outside the range");
                }
                "Change (% of previous close)" => {
                    let s = influx_series(&answer, "change_pct");
                    assert_eq!(
                        s["MSFT"],
                        vec![(d.t0 - 120, Some(2.0)), (d.t0 - 60, Some(2.01))]
                    );
                }
                "Session volume" => {
                    let s = influx_series(&answer, "volume");
                    assert_eq!(s["AAPL"].len(), 2);
                    assert_eq!(s["AAPL"][1].1, Some(((d.t0 - 50) % 100_000) as f64));
                }
                "Latest quotes" => {
                    let s = influx_series(&answer, "price");
                    let latest = last_values(&s);
                    assert_eq!(latest["AAPL"], 102.0);
                    assert_eq!(latest["NVDA"], 60.0);
                    assert_eq!(latest.len(), 4, "{answer}");
                    assert_eq!(
                        influx_series(&answer, "change_pct")["AAPL"][0].1,
                        Some(1.02)
                    );
                }
                moves if moves.starts_with("One-minute moves") => {
                    let s = influx_series(&answer, "move_pct");
                    let aapl: Vec<f64> = s["AAPL"].iter().filter_map(|r| r.1).collect();
                    assert_eq!(aapl.len(), 1);
                    assert!(close(aapl[0], 100.0 * (102.0 - 100.5) / 100.5), "{aapl:?}");
                    assert_eq!(s["AAPL"].last().map(|r| r.0), Some(d.t0 - 60));
                }
                other => panic!("a panel this test does not know: {other}"),
            }
        }
    }
    assert_eq!(ran, 5);

    // The quote rules' queries, each over its relative range ending at t0 + 5 s, then the
    // expressions as Grafana evaluates them.
    let eval = d.t0 + 5;
    let rule = |kind: &str| {
        p.rule_group
            .rules
            .iter()
            .find(|r| r["labels"]["kind"] == kind)
            .expect("rule")
            .clone()
    };
    let price_move = rule("price-move");
    let answers: BTreeMap<String, String> = price_move["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|q| q["datasourceUid"] == source.uid.as_str())
        .map(|q| {
            let range = q["relativeTimeRange"]["from"].as_i64().expect("from");
            let text = q["model"]["query"].as_str().expect("query");
            (
                q["refId"].as_str().expect("refId").to_owned(),
                run(text, eval - range, eval),
            )
        })
        .collect();
    assert_eq!(answers.len(), 2);
    let moves = last_values(&influx_series(&answers["A"], "move_pct"));
    let recent = last_values(&influx_series(&answers["C"], "quotes"));
    assert!(close(moves["BRK.B"], 1.0), "{moves:?}");
    assert!(close(moves["NVDA"], 20.0));
    assert_eq!(
        recent.get("NVDA"),
        None,
        "NVDA has no quote in the last two windows"
    );
    assert_eq!(recent["MSFT"], 2.0);
    let at_least = lambda_contract::notify::alerting_move_pct(env.alerts.threshold_pct);
    let firing: Vec<&String> = moves
        .iter()
        .filter(|(s, m)| m.abs() >= at_least && recent.get(*s).is_some_and(|n| *n > 0.0))
        .map(|(s, _)| s)
        .collect();
    assert_eq!(firing, ["AAPL", "BRK.B"]);

    // Staleness (its query reads the server's clock).
    let stale = rule("stale-quotes");
    let query = stale["data"][0]["model"]["query"].as_str().expect("query");
    let answer = run(query, d.now - 7 * 86_400, d.now + 1);
    let recent = last_values(&influx_series(&answer, "recent_quotes"));
    let expected: BTreeMap<String, f64> = [
        ("AAPL", 0.0),
        ("BRK.B", 0.0),
        ("GOOGL", 2.0),
        ("MSFT", 0.0),
        ("NVDA", 0.0),
    ]
    .into_iter()
    .map(|(s, n)| (s.to_owned(), n))
    .collect();
    assert_eq!(recent, expected, "{answer}");
}

/// VictoriaMetrics: the same quotes through its InfluxDB write API, the PromQL through its
/// Prometheus API.
#[tokio::test(flavor = "current_thread")]
async fn promql_panels_and_rules_return_the_expected_series() {
    let env = crate::common::victoria_metrics();
    let p = grafana::generate(&env);
    assert_eq!(p.datasources[0].kind, "prometheus");
    let server = testkit::VictoriaMetrics::start();
    let d = data();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let written = http
        .post(format!("{}/write", server.url()))
        .body(line_protocol(&d.quotes))
        .send()
        .await
        .expect("write");
    assert!(written.status().is_success(), "{:?}", written.text().await);
    server.force_flush();
    let alternation = grafana::quotes::promql::alternation(&symbols(&env));
    let macros = |q: &str| {
        q.replace("$symbol", &alternation)
            .replace("$__interval", "60s")
            .replace("$__range", "3600s")
    };
    let query = |q: String, params: Vec<(&'static str, String)>| {
        let http = http.clone();
        let url = server.url().to_owned();
        async move {
            let path = if params.iter().any(|(k, _)| *k == "step") {
                "query_range"
            } else {
                "query"
            };
            let mut form = params;
            form.push(("query", q));
            let body: Vec<String> = form
                .iter()
                .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC)))
                .collect();
            let text = http
                .post(format!("{url}/api/v1/{path}"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body.join("&"))
                .send()
                .await
                .expect("query")
                .text()
                .await
                .expect("body");
            let answer: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert_eq!(answer["status"], "success", "{answer}");
            answer
        }
    };
    // symbol → [(time, value)].
    let series = |answer: &Value| -> BTreeMap<String, Vec<(i64, f64)>> {
        answer["data"]["result"]
            .as_array()
            .expect("result")
            .iter()
            .map(|s| {
                let points: Vec<Value> = match s.get("values") {
                    Some(v) => v.as_array().cloned().unwrap_or_default(),
                    None => vec![s["value"].clone()],
                };
                let points = points
                    .iter()
                    .map(|p| {
                        (
                            p[0].as_f64().expect("time") as i64,
                            p[1].as_str().expect("value").parse().expect("number"),
                        )
                    })
                    .collect();
                (
                    s["metric"]["symbol"].as_str().expect("symbol").to_owned(),
                    points,
                )
            })
            .collect()
    };

    let quotes = p
        .dashboards
        .iter()
        .find(|x| x.slug == "quotes")
        .expect("quotes dashboard");
    let mut ran = 0;
    for panel in quotes.model["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().expect("title").to_owned();
        for target in panel["targets"].as_array().expect("targets") {
            let expr = macros(target["expr"].as_str().expect("PromQL"));
            ran += 1;
            if target["instant"] == true {
                let answer = query(expr, vec![("time", (d.t0 + 5).to_string())]).await;
                let s = series(&answer);
                assert_eq!(s.len(), 4, "{title}: {answer}");
                if target["refId"] == "A" {
                    assert_eq!(s["AAPL"][0].1, 102.0, "{answer}");
                }
            } else {
                let params = vec![
                    ("start", (d.t0 - 600).to_string()),
                    ("end", (d.t0 + 5).to_string()),
                    ("step", "60".to_owned()),
                ];
                let answer = query(expr, params).await;
                let s = series(&answer);
                match title.as_str() {
                    "Price" => {
                        let aapl: BTreeMap<i64, f64> = s["AAPL"].iter().copied().collect();
                        assert_eq!(aapl.get(&(d.t0 - 120)), Some(&100.5), "{answer}");
                        assert_eq!(aapl.get(&d.t0), Some(&102.0), "{answer}");
                    }
                    "Change (% of previous close)" => {
                        assert!(s["MSFT"].iter().any(|p| p.1 == 2.01))
                    }
                    "Session volume" => assert!(
                        s["AAPL"]
                            .iter()
                            .any(|p| p.1 == ((d.t0 - 50) % 100_000) as f64)
                    ),
                    moves if moves.starts_with("One-minute moves") => {
                        let aapl: BTreeMap<i64, f64> = s["AAPL"].iter().copied().collect();
                        assert!(
                            close(aapl[&d.t0], 100.0 * (102.0 - 100.5) / 100.5),
                            "{answer}"
                        );
                    }
                    other => panic!("a panel this test does not know: {other}"),
                }
            }
        }
    }
    assert_eq!(ran, 7);

    // The price-move rule at t0 + 5 s.
    let rule = |kind: &str| {
        p.rule_group
            .rules
            .iter()
            .find(|r| r["labels"]["kind"] == kind)
            .expect("rule")
            .clone()
    };
    let price_move = rule("price-move");
    let expr = price_move["data"][0]["model"]["expr"]
        .as_str()
        .expect("expr")
        .to_owned();
    let moves: BTreeMap<String, f64> =
        series(&query(expr, vec![("time", (d.t0 + 5).to_string())]).await)
            .into_iter()
            .map(|(s, p)| (s, p[0].1))
            .collect();
    assert_eq!(
        moves.keys().collect::<Vec<_>>(),
        ["AAPL", "BRK.B", "MSFT"],
        "NVDA has no recent quote: {moves:?}"
    );
    assert!(close(moves["AAPL"], 100.0 * 1.5 / 100.5));
    let at_least = lambda_contract::notify::alerting_move_pct(env.alerts.threshold_pct);
    assert_eq!(env.alerts.threshold_pct, 1.25);
    let firing: Vec<&String> = moves
        .iter()
        .filter(|(_, m)| m.abs() >= at_least)
        .map(|(s, _)| s)
        .collect();
    assert_eq!(firing, ["AAPL"], "{moves:?}");
    // With prod's 1% threshold BRK.B's decimal 1.00% move fires too.
    assert!(
        moves["BRK.B"].abs() >= lambda_contract::notify::alerting_move_pct(1.0),
        "{moves:?}"
    );

    // Staleness at the current time.
    let stale = rule("stale-quotes");
    let expr = stale["data"][0]["model"]["expr"]
        .as_str()
        .expect("expr")
        .to_owned();
    let answer = query(expr, vec![("time", (d.now + 1).to_string())]).await;
    let recent: BTreeMap<String, f64> = series(&answer)
        .into_iter()
        .map(|(s, p)| (s, p[0].1))
        .collect();
    let expected: BTreeMap<String, f64> = [
        ("AAPL", 0.0),
        ("BRK.B", 0.0),
        ("GOOGL", 2.0),
        ("MSFT", 0.0),
        ("NVDA", 0.0),
    ]
    .into_iter()
    .map(|(s, n)| (s.to_owned(), n))
    .collect();
    assert_eq!(recent, expected, "{answer}");
}
