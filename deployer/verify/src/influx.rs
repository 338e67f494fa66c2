//! InfluxDB reads and deletes of the canary's points, with the token the transform Lambda uses.
//!
//! - v1 (InfluxDB 1.x): InfluxQL on `/query` (`SELECT`, `DROP SERIES`).
//! - v2 (InfluxDB 2.x): Flux on `/api/v2/query`, and `/api/v2/delete`. Flux rather than the
//!   v1-compatible `/query`: that one answers only for buckets with a DBRP mapping, which a bucket
//!   created through the v2 API or UI does not have unless someone adds it, while Flux reads any
//!   bucket the token may read.
//!
//! The token goes in `Authorization: Token …`, as the transform's writer sends it; an empty token
//! sends none (InfluxDB without authentication).

use environment::Environment;
use lambda_contract::transform::InfluxApi;
use quote_record::CANARY_SYMBOL;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};

use crate::deployed::logical;
use crate::{Clients, Deployed};

/// The measurement the transform writes (DESIGN.md's record section).
pub const MEASUREMENT: &str = "quote";

/// The InfluxDB token, hidden from `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// A token from its text (surrounding whitespace removed, as the transform reads it).
    pub fn new(value: &str) -> Token {
        Token(value.trim().to_owned())
    }
}

/// Reads the token from the environment's secret, as the transform Lambda does. An emulator skips
/// Secrets Manager secrets in CloudFormation: there, a missing secret means no token.
pub async fn token(
    clients: &Clients,
    deployed: &Deployed,
    emulated: bool,
) -> Result<Token, String> {
    let Some(secret) = deployed.get(logical::INFLUX_TOKEN) else {
        return if emulated {
            Ok(Token::default())
        } else {
            Err(format!("the stack has no {} secret", logical::INFLUX_TOKEN))
        };
    };
    match clients
        .secrets
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
    {
        Ok(out) => Ok(Token::new(out.secret_string().unwrap_or_default())),
        Err(_) if emulated => Ok(Token::default()),
        Err(e) => Err(aws_connect::CallError::new(
            format!("GetSecretValue {secret}"),
            &clients.region,
            &e,
        )
        .to_string()),
    }
}

/// One canary point read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Its `source` tag.
    pub source: String,
    /// Its `price` field.
    pub price: f64,
}

/// An InfluxDB target: URL, API and token.
#[derive(Debug, Clone)]
pub struct Influx {
    url: String,
    api: InfluxApi,
    token: Token,
}

/// Quotes a string for InfluxQL (`'…'`) or Flux (`"…"`).
fn quoted(text: &str, quote: char) -> String {
    let mut out = String::from(quote);
    for c in text.chars() {
        if c == quote || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push(quote);
    out
}

impl Influx {
    /// The environment's InfluxDB with `token`.
    pub fn new(env: &Environment, token: Token) -> Influx {
        Influx {
            url: env.influxdb.url.trim_end_matches('/').to_owned(),
            api: env.influxdb.api.clone(),
            token,
        }
    }

    /// Where the points are, for messages: `database quotes at URL` or `bucket quotes (org o) at URL`.
    pub fn describe(&self) -> String {
        match &self.api {
            InfluxApi::V1 { database } => format!("database {database} at {}", self.url),
            InfluxApi::V2 { org, bucket } => format!("bucket {bucket} (org {org}) at {}", self.url),
        }
    }

    fn request(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<reqwest::RequestBuilder, String> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.url))
            .map_err(|e| format!("InfluxDB URL {:?}: {e}", self.url))?;
        url.query_pairs_mut().extend_pairs(query);
        let mut request = http.request(method, url);
        if !self.token.0.is_empty() {
            let mut value = HeaderValue::from_str(&format!("Token {}", self.token.0))
                .map_err(|_| "the InfluxDB token is not a valid header value".to_owned())?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        Ok(request)
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<String, String> {
        let response = request
            .send()
            .await
            .map_err(|e| format!("{what} at {}: {}", self.url, error_chain(&e)))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            Ok(text)
        } else {
            let hint = if status.as_u16() == 401 || status.as_u16() == 403 {
                " (the token in the InfluxDB secret may not read or delete: give it read and delete rights on the target)"
            } else {
                ""
            };
            Err(format!(
                "{what} at {}: HTTP {status}: {}{hint}",
                self.url,
                text.trim()
            ))
        }
    }

    /// The canary points whose `source` is `source`.
    pub async fn points(&self, http: &reqwest::Client, source: &str) -> Result<Vec<Point>, String> {
        match &self.api {
            InfluxApi::V1 { database } => {
                let q = format!(
                    "SELECT price, source FROM {MEASUREMENT} WHERE symbol = {} AND source = {}",
                    quoted(CANARY_SYMBOL, '\''),
                    quoted(source, '\'')
                );
                let request = self.request(
                    http,
                    reqwest::Method::GET,
                    "/query",
                    &[("db", database.as_str()), ("q", q.as_str())],
                )?;
                parse_v1(&self.send(request, "InfluxDB query").await?)
            }
            InfluxApi::V2 { org, bucket } => {
                let flux = format!(
                    "from(bucket: {}) |> range(start: -1d, stop: 1h) |> filter(fn: (r) => r._measurement == {} and r.symbol == {} and r.source == {} and r._field == \"price\")",
                    quoted(bucket, '"'),
                    quoted(MEASUREMENT, '"'),
                    quoted(CANARY_SYMBOL, '"'),
                    quoted(source, '"')
                );
                let request = self
                    .request(
                        http,
                        reqwest::Method::POST,
                        "/api/v2/query",
                        &[("org", org.as_str())],
                    )?
                    .header(CONTENT_TYPE, "application/vnd.flux")
                    .header(ACCEPT, "application/csv")
                    .body(flux);
                parse_flux_csv(&self.send(request, "InfluxDB Flux query").await?)
            }
        }
    }

    /// Deletes every canary point (all runs): v1 `DROP SERIES`, v2 the delete API.
    pub async fn delete_canary(&self, http: &reqwest::Client) -> Result<(), String> {
        match &self.api {
            InfluxApi::V1 { database } => {
                let q = format!(
                    "DROP SERIES FROM {MEASUREMENT} WHERE symbol = {}",
                    quoted(CANARY_SYMBOL, '\'')
                );
                let request = self.request(
                    http,
                    reqwest::Method::POST,
                    "/query",
                    &[("db", database.as_str()), ("q", q.as_str())],
                )?;
                let answer = self.send(request, "InfluxDB DROP SERIES").await?;
                // InfluxQL reports statement errors with HTTP 200 and an `error` field.
                let json: serde_json::Value = serde_json::from_str(&answer).map_err(|e| {
                    format!("InfluxDB answered DROP SERIES with something else than JSON: {e}")
                })?;
                match json["results"][0]["error"].as_str() {
                    Some(error) => Err(format!("InfluxDB DROP SERIES: {error}")),
                    None => Ok(()),
                }
            }
            InfluxApi::V2 { org, bucket } => {
                let body = serde_json::json!({
                    "start": "1970-01-01T00:00:00Z",
                    "stop": "2100-01-01T00:00:00Z",
                    "predicate": format!("_measurement=\"{MEASUREMENT}\" AND symbol=\"{CANARY_SYMBOL}\""),
                });
                let request = self
                    .request(
                        http,
                        reqwest::Method::POST,
                        "/api/v2/delete",
                        &[("org", org.as_str()), ("bucket", bucket.as_str())],
                    )?
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.to_string());
                self.send(request, "InfluxDB delete").await.map(|_| ())
            }
        }
    }
}

/// The points of an InfluxQL answer (`{"results":[{"series":[{"columns":[…],"values":[[…]]}]}]}`).
pub fn parse_v1(answer: &str) -> Result<Vec<Point>, String> {
    let json: serde_json::Value = serde_json::from_str(answer)
        .map_err(|e| format!("InfluxDB answered the query with something else than JSON: {e}"))?;
    let result = &json["results"][0];
    if let Some(error) = result["error"].as_str().or(json["error"].as_str()) {
        return Err(format!("InfluxDB query: {error}"));
    }
    let mut points = Vec::new();
    for series in result["series"].as_array().into_iter().flatten() {
        let columns: Vec<&str> = series["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str())
            .collect();
        let (Some(price), Some(source)) = (
            columns.iter().position(|c| *c == "price"),
            columns.iter().position(|c| *c == "source"),
        ) else {
            continue;
        };
        for row in series["values"].as_array().into_iter().flatten() {
            if let (Some(p), Some(s)) = (row[price].as_f64(), row[source].as_str()) {
                points.push(Point {
                    source: s.to_owned(),
                    price: p,
                });
            }
        }
    }
    Ok(points)
}

/// The points of a Flux answer in annotated CSV: each table has a header row naming its columns
/// (`_value`, `source`, …); rows follow until a blank line.
pub fn parse_flux_csv(answer: &str) -> Result<Vec<Point>, String> {
    let mut points = Vec::new();
    let mut columns: Option<(usize, usize)> = None;
    for line in answer.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            columns = None;
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let cells: Vec<&str> = line.split(',').collect();
        match columns {
            None => {
                let value = cells.iter().position(|c| *c == "_value");
                let source = cells.iter().position(|c| *c == "source");
                if cells.contains(&"error") {
                    return Err(format!("InfluxDB Flux query: {line}"));
                }
                columns = value.zip(source);
            }
            Some((value, source)) => {
                let price = cells.get(value).and_then(|v| v.parse::<f64>().ok());
                if let (Some(price), Some(source)) = (price, cells.get(source)) {
                    points.push(Point {
                        source: (*source).to_owned(),
                        price,
                    });
                }
            }
        }
    }
    Ok(points)
}

/// An error and its sources on one line (reqwest's own message hides the cause).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn influxql_answers_are_read_by_column_name() {
        let answer = r#"{"results":[{"statement_id":0,"series":[{"name":"quote","columns":["time","price","source"],"values":[[1,100,"mst-verify-1"],[2,102.5,"mst-verify-1"]]}]}]}"#;
        assert_eq!(
            parse_v1(answer).unwrap_or_default(),
            [
                Point {
                    source: "mst-verify-1".into(),
                    price: 100.0
                },
                Point {
                    source: "mst-verify-1".into(),
                    price: 102.5
                }
            ]
        );
        assert_eq!(parse_v1(r#"{"results":[{"statement_id":0}]}"#), Ok(vec![]));
        let err = parse_v1(r#"{"results":[{"statement_id":0,"error":"database not found: q"}]}"#)
            .unwrap_err();
        assert!(err.contains("database not found"), "{err}");
    }

    #[test]
    fn flux_csv_answers_are_read_by_column_name() {
        let answer = "#datatype,string,long,dateTime:RFC3339,double,string,string\r\n#group,false,false,false,false,true,true\r\n#default,_result,,,,,\r\n,result,table,_time,_value,source,symbol\r\n,,0,2026-11-27T15:30:05Z,100,mst-verify-7,MST-CANARY\r\n,,0,2026-11-27T15:31:05Z,102,mst-verify-7,MST-CANARY\r\n\r\n";
        assert_eq!(
            parse_flux_csv(answer).unwrap_or_default(),
            [
                Point {
                    source: "mst-verify-7".into(),
                    price: 100.0
                },
                Point {
                    source: "mst-verify-7".into(),
                    price: 102.0
                }
            ]
        );
        assert_eq!(parse_flux_csv(""), Ok(vec![]));
        assert!(parse_flux_csv(",error,reference\r\n,bucket not found,\r\n").is_err());
    }

    #[test]
    fn quoting_escapes_the_quote_and_backslash() {
        assert_eq!(quoted("a'b\\c", '\''), r"'a\'b\\c'");
        assert_eq!(quoted("q\"", '"'), r#""q\"""#);
    }
}
