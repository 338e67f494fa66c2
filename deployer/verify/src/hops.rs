//! The canary's hops: put into the stream, then each place it must reach, looked at again and
//! again until it is there or the deadline passes. The first hop not reached is the broken one;
//! the hops after it are not looked at.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use aws_connect::{CallError, Failure};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use bytes::Bytes;
use environment::Environment;
use lambda_contract::notify::CANARY_ATTRIBUTE;
use lambda_contract::prefixes;
use quote_record::{CANARY_SYMBOL, Quote};
use tokio::time::Instant;

use crate::deployed::logical;
use crate::influx::{self, Influx};
use crate::report::{Outcome, Row, Stage};
use crate::{Canary, Clients, Deployed};

/// How often a hop is looked at again.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// The hops after the put, in pipeline order.
pub const HOPS: [&str; 4] = ["influxdb", "raw", "curated", "alert"];

/// What a look at a hop found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Look {
    /// The canary is there (what was found).
    Found(String),
    /// Not yet (what was seen, for the message when time runs out).
    NotYet(String),
    /// Looking cannot succeed (access denied, a bad answer): the hop fails now.
    Broken {
        /// What went wrong.
        problem: String,
        /// What to do.
        hint: String,
    },
}

/// A boxed look.
pub type LookFuture<'a> = Pin<Box<dyn Future<Output = Look> + Send + 'a>>;

/// One hop to follow.
pub struct Probe<'a> {
    /// The hop's name, such as `influxdb`.
    pub name: &'static str,
    /// What is expected where, for the failure message.
    pub expected: String,
    /// What to look at when the hop is not reached.
    pub hint: String,
    /// Looks once.
    pub look: Box<dyn Fn() -> LookFuture<'a> + Send + Sync + 'a>,
}

/// Puts the canary pair into the stream (`PutRecords`, partition key the symbol).
pub async fn put(clients: &Clients, deployed: &Deployed, canary: &Canary) -> Row {
    let hint = "the scraper's path into the pipeline: check the stream (`deployer status`) and that your credentials may call kinesis:PutRecords on it";
    let started = Instant::now();
    let stream = match deployed.require(logical::STREAM) {
        Ok(s) => s,
        Err(problem) => {
            return Row::new(
                Stage::Hop,
                "stream",
                Outcome::failed(problem.clone(), hint),
                problem,
            );
        }
    };
    let mut request = clients.kinesis.put_records().stream_name(stream);
    for payload in canary.payloads() {
        let entry = PutRecordsRequestEntry::builder()
            .partition_key(CANARY_SYMBOL)
            .data(Blob::new(payload.into_bytes()))
            .build();
        match entry {
            Ok(entry) => request = request.records(entry),
            Err(e) => {
                let problem = format!("cannot build the canary record: {e}");
                return Row::new(
                    Stage::Hop,
                    "stream",
                    Outcome::failed(problem.clone(), hint),
                    problem,
                );
            }
        }
    }
    let outcome = match request.send().await {
        Ok(out) if out.failed_record_count().unwrap_or(0) == 0 => {
            let mut row = Row::new(
                Stage::Hop,
                "stream",
                Outcome::Passed,
                format!(
                    "2 canary records put into {stream} (source {})",
                    canary.source
                ),
            );
            row.latency = Some(started.elapsed());
            return row;
        }
        Ok(out) => {
            let reason = out
                .records()
                .iter()
                .find_map(|r| {
                    r.error_code()
                        .map(|c| format!("{c}: {}", r.error_message().unwrap_or_default()))
                })
                .unwrap_or_default();
            format!(
                "{stream} refused {} of 2 canary records ({reason})",
                out.failed_record_count().unwrap_or(0)
            )
        }
        Err(e) => CallError::new(format!("PutRecords {stream}"), &clients.region, &e).to_string(),
    };
    Row::new(
        Stage::Hop,
        "stream",
        Outcome::failed(outcome.clone(), hint),
        outcome,
    )
}

/// The rows of hops never looked at (the put failed).
pub fn not_reached_all() -> Vec<Row> {
    HOPS.iter()
        .map(|h| {
            Row::new(
                Stage::Hop,
                *h,
                Outcome::NotReached,
                "the canary was not put",
            )
        })
        .collect()
}

/// Follows `probes` in order: each is looked at every `poll` until found, broken, or `deadline`.
/// Latencies count from `started` (the put).
pub async fn follow(
    probes: Vec<Probe<'_>>,
    started: Instant,
    deadline: Instant,
    poll: Duration,
) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut broken = false;
    for probe in probes {
        if broken {
            rows.push(Row::new(
                Stage::Hop,
                probe.name,
                Outcome::NotReached,
                "an earlier hop is broken",
            ));
            continue;
        }
        loop {
            match (probe.look)().await {
                Look::Found(detail) => {
                    let mut row = Row::new(Stage::Hop, probe.name, Outcome::Passed, detail);
                    row.latency = Some(started.elapsed());
                    rows.push(row);
                    break;
                }
                Look::Broken { problem, hint } => {
                    let problem = format!("expected {}: {problem}", probe.expected);
                    rows.push(Row::new(
                        Stage::Hop,
                        probe.name,
                        Outcome::failed(problem.clone(), hint),
                        problem,
                    ));
                    broken = true;
                    break;
                }
                Look::NotYet(seen) => {
                    let now = Instant::now();
                    if now >= deadline {
                        let waited = deadline.saturating_duration_since(started).as_secs();
                        let problem = format!(
                            "expected {} within {waited} s of the put; {seen}",
                            probe.expected
                        );
                        rows.push(Row::new(
                            Stage::Hop,
                            probe.name,
                            Outcome::failed(problem.clone(), probe.hint.clone()),
                            problem,
                        ));
                        broken = true;
                        break;
                    }
                    tokio::time::sleep(poll.min(deadline - now)).await;
                }
            }
        }
    }
    rows
}

/// A failed S3 call as a look: access and credential problems cannot heal by waiting.
fn s3_look(error: CallError) -> Look {
    match error.failure {
        Failure::AccessDenied { .. } | Failure::NoCredentials { .. } | Failure::ExpiredCredentials | Failure::RejectedCredentials { .. } => Look::Broken {
            problem: error.to_string(),
            hint: "verify reads the buckets with your credentials: they need s3:ListBucket, s3:GetObject and s3:DeleteObject on the data buckets (docs/verify.md)".into(),
        },
        _ => Look::NotYet(error.to_string()),
    }
}

/// The keys under `prefix`, with when each was last modified (epoch seconds).
async fn list(
    clients: &Clients,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<(String, i64)>, CallError> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = clients
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| {
                CallError::new(
                    format!("ListObjectsV2 s3://{bucket}/{prefix}"),
                    &clients.region,
                    &e,
                )
            })?;
        for object in page.contents() {
            if let Some(key) = object.key() {
                keys.push((
                    key.to_owned(),
                    object.last_modified().map_or(0, |t| t.secs()),
                ));
            }
        }
        match page.next_continuation_token() {
            Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
            _ => break,
        }
    }
    Ok(keys)
}

/// An object's bytes.
async fn get(clients: &Clients, bucket: &str, key: &str) -> Result<Option<Bytes>, CallError> {
    match clients.s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => match out.body.collect().await {
            Ok(data) => Ok(Some(data.into_bytes())),
            // A body cut off in transit: looked at again on the next poll.
            Err(_) => Ok(None),
        },
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
        Err(e) => Err(CallError::new(
            format!("GetObject s3://{bucket}/{key}"),
            &clients.region,
            &e,
        )),
    }
}

/// The canary records of `source` in a raw object (JSON lines, gzip or not).
pub fn raw_records(data: &[u8], source: &str) -> Vec<f64> {
    use std::io::Read as _;
    let mut text = Vec::new();
    if data.starts_with(&[0x1f, 0x8b]) {
        if flate2::read::MultiGzDecoder::new(data)
            .read_to_end(&mut text)
            .is_err()
        {
            return Vec::new();
        }
    } else {
        text.extend_from_slice(data);
    }
    text.split(|b| *b == b'\n')
        .filter_map(|line| Quote::from_json(line).ok())
        .filter(|q| q.symbol().is_canary() && q.source() == source)
        .map(|q| q.price())
        .collect()
}

/// The prices of the rows of `source` in a curated Parquet object.
pub fn parquet_rows(data: Bytes, source: &str) -> Result<Vec<f64>, String> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float64Type;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(data)
        .and_then(|b| b.build())
        .map_err(|e| format!("not readable Parquet: {e}"))?;
    let mut prices = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| format!("cannot decode a record batch: {e}"))?;
        let (Some(price), Some(sources)) = (
            batch.column_by_name("price"),
            batch.column_by_name("source"),
        ) else {
            return Err("no price or source column: not the curated schema".into());
        };
        let Some(price) = price.as_primitive_opt::<Float64Type>() else {
            return Err("the price column is not Float64: not the curated schema".into());
        };
        let sources = texts(sources)?;
        for (i, row_source) in sources.iter().enumerate() {
            if row_source.as_deref() == Some(source) && !price.is_null(i) {
                prices.push(price.value(i));
            }
        }
    }
    Ok(prices)
}

/// The text of each row of a string column, dictionary-encoded (as to-parquet writes it) or plain.
fn texts(column: &arrow_array::ArrayRef) -> Result<Vec<Option<String>>, String> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int32Type;
    use arrow_array::{Array, StringArray};
    let not_text = || "the source column is not text: not the curated schema".to_owned();
    if let Some(dict) = column.as_dictionary_opt::<Int32Type>() {
        let values = dict
            .values()
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(not_text)?;
        Ok((0..dict.len())
            .map(|i| {
                (!dict.is_null(i))
                    .then(|| dict.keys().value(i))
                    .and_then(|k| usize::try_from(k).ok())
                    .map(|k| values.value(k).to_owned())
            })
            .collect())
    } else if let Some(text) = column.as_string_opt::<i32>() {
        Ok((0..text.len())
            .map(|i| (!text.is_null(i)).then(|| text.value(i).to_owned()))
            .collect())
    } else {
        Err(not_text())
    }
}

/// Whether `found` holds both canary prices.
fn has_both(found: &[f64], canary: &Canary) -> bool {
    canary.prices().iter().all(|p| found.contains(p))
}

/// The raw prefixes the canary lands under: its own partitions with dynamic partitioning, else
/// the day's (shared with users' records).
pub fn raw_prefixes(env: &Environment, canary: &Canary) -> Vec<String> {
    canary
        .dates()
        .iter()
        .map(|date| {
            if env.firehose.dynamic_partitioning {
                format!("{}symbol={CANARY_SYMBOL}/dt={date}/", prefixes::RAW)
            } else {
                format!("{}dt={date}/", prefixes::RAW)
            }
        })
        .collect()
}

/// The curated prefix of every canary object.
pub fn curated_prefix() -> String {
    format!("{}symbol={CANARY_SYMBOL}/", prefixes::QUOTES)
}

/// The key of the canary's notify state object.
pub fn state_key() -> String {
    format!("{}{CANARY_SYMBOL}.json", prefixes::NOTIFY_STATE)
}

/// Objects modified before the put (minus this margin for clock skew) are not the canary's.
const CLOCK_SKEW_SECS: i64 = 120;

async fn look_raw(clients: &Clients, bucket: &str, prefixes: &[String], canary: &Canary) -> Look {
    let since = canary.quotes[1].market_time().unix_nanos() / 1_000_000_000 - CLOCK_SKEW_SECS;
    let mut found = Vec::new();
    let mut keys_read = Vec::new();
    for prefix in prefixes {
        let keys = match list(clients, bucket, prefix).await {
            Ok(keys) => keys,
            Err(e) => return s3_look(e),
        };
        for (key, modified) in keys.into_iter().filter(|(_, m)| *m >= since) {
            let _ = modified;
            match get(clients, bucket, &key).await {
                Ok(Some(data)) => {
                    let records = raw_records(&data, &canary.source);
                    if !records.is_empty() {
                        keys_read.push(key);
                    }
                    found.extend(records);
                }
                Ok(None) => {}
                Err(e) => return s3_look(e),
            }
        }
    }
    if has_both(&found, canary) {
        Look::Found(format!(
            "2 records in s3://{bucket}/{}",
            keys_read.join(", ")
        ))
    } else {
        Look::NotYet(format!(
            "found {} of the 2 records under s3://{bucket}/{}",
            found.len(),
            prefixes.join(", ")
        ))
    }
}

async fn look_curated(clients: &Clients, bucket: &str, canary: &Canary) -> Look {
    let since = canary.quotes[1].market_time().unix_nanos() / 1_000_000_000 - CLOCK_SKEW_SECS;
    let prefix = curated_prefix();
    let keys = match list(clients, bucket, &prefix).await {
        Ok(keys) => keys,
        Err(e) => return s3_look(e),
    };
    let mut found = Vec::new();
    let mut keys_read = Vec::new();
    for (key, _) in keys
        .into_iter()
        .filter(|(k, m)| *m >= since && k.ends_with(".parquet"))
    {
        match get(clients, bucket, &key).await {
            Ok(Some(data)) => match parquet_rows(data, &canary.source) {
                Ok(rows) => {
                    if !rows.is_empty() {
                        keys_read.push(key);
                    }
                    found.extend(rows);
                }
                Err(problem) => {
                    return Look::Broken {
                        problem: format!("s3://{bucket}/{key}: {problem}"),
                        hint: "the to-parquet Lambda wrote a file verify cannot read as curated Parquet: are the deployed function and this deployer the same version?".into(),
                    };
                }
            },
            Ok(None) => {}
            Err(e) => return s3_look(e),
        }
    }
    if has_both(&found, canary) {
        Look::Found(format!("2 rows in s3://{bucket}/{}", keys_read.join(", ")))
    } else {
        Look::NotYet(format!(
            "found {} of the 2 rows under s3://{bucket}/{prefix}",
            found.len()
        ))
    }
}

async fn look_alert(clients: &Clients, bucket: &str, topic: Option<&str>, canary: &Canary) -> Look {
    let key = state_key();
    let id = canary.alert_id();
    let state = match get(clients, bucket, &key).await {
        Ok(Some(data)) => data,
        Ok(None) => return Look::NotYet(format!("no state object s3://{bucket}/{key} yet")),
        Err(e) => return s3_look(e),
    };
    let claimed = serde_json::from_slice::<serde_json::Value>(&state)
        .ok()
        .and_then(|s| {
            s["alerts"]
                .as_array()
                .map(|a| a.iter().any(|x| x.as_str() == Some(id.as_str())))
        })
        .unwrap_or(false);
    if !claimed {
        return Look::NotYet(format!("s3://{bucket}/{key} does not hold alert {id}"));
    }
    let Some(endpoint) = &clients.emulator_endpoint else {
        return Look::Found(format!("alert {id} claimed in s3://{bucket}/{key}"));
    };
    // The emulator records what was published: the alert must be there, marked as the canary's.
    let Some(topic) = topic else {
        return Look::Broken {
            problem: "the stack has no alert topic".into(),
            hint: "redeploy with `deployer up`".into(),
        };
    };
    match published(clients, endpoint, topic).await {
        Ok(messages) if messages.iter().any(|m| m.contains(CANARY_SYMBOL)) => Look::Found(format!(
            "alert {id} claimed in s3://{bucket}/{key} and published to {topic} with {CANARY_ATTRIBUTE}"
        )),
        Ok(_) => Look::NotYet(format!(
            "alert {id} claimed, but the emulator recorded no message with {CANARY_ATTRIBUTE} on {topic}"
        )),
        Err(e) => Look::NotYet(e),
    }
}

/// The messages the emulator recorded as published to `topic` with the canary attribute
/// (moto's SNS dump, [`aws_connect::emulator_sns_dump_url`]: `sent_notifications` are
/// `[id, message, subject, attributes, group]`).
async fn published(clients: &Clients, endpoint: &str, topic: &str) -> Result<Vec<String>, String> {
    let url = aws_connect::emulator_sns_dump_url(endpoint);
    let data: serde_json::Value = clients
        .http
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("cannot read {url}: {e}"))?
        .text()
        .await
        .map_err(|e| format!("cannot read {url}: {e}"))
        .and_then(|text| {
            serde_json::from_str(&text).map_err(|e| format!("{url} is not JSON: {e}"))
        })?;
    Ok(data["sns"]["Topic"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["arn"] == topic)
        .flat_map(|t| {
            t["sent_notifications"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|n| n[3].get(CANARY_ATTRIBUTE).is_some())
        .filter_map(|n| n[1].as_str().map(str::to_owned))
        .collect())
}

/// The hops after the put, in order, for this environment and stack.
pub async fn probes<'a>(
    clients: &'a Clients,
    env: &'a Environment,
    deployed: &'a Deployed,
    canary: &'a Canary,
) -> Vec<Probe<'a>> {
    let emulated = env.emulator.is_some();
    let influx = match influx::token(clients, deployed, emulated).await {
        Ok(token) => Ok(Influx::new(env, token)),
        Err(problem) => Err(problem),
    };
    let target = Influx::new(env, influx::Token::default()).describe();
    let raw = deployed.get(logical::RAW_BUCKET).unwrap_or_default();
    let curated = deployed.get(logical::CURATED_BUCKET).unwrap_or_default();
    let topic = deployed.get(logical::TOPIC);
    let raw_prefixes = raw_prefixes(env, canary);
    let logs = |f: &str| {
        format!(
            "the {f} function's log group (`aws logs tail` on /aws/lambda/{})",
            deployed.get(f).unwrap_or(f)
        )
    };
    let influx_look = move || -> LookFuture<'a> {
        let influx = influx.clone();
        Box::pin(async move {
            let influx = match influx {
                Ok(i) => i,
                Err(problem) => {
                    return Look::Broken {
                        problem: format!("cannot read the InfluxDB token: {problem}"),
                        hint: "put the token in the secret (`aws secretsmanager put-secret-value`, see `deployer status` for its ARN)".into(),
                    };
                }
            };
            match influx.points(&clients.http, &canary.source).await {
                Ok(points) => {
                    let prices: Vec<f64> = points.iter().map(|p| p.price).collect();
                    if has_both(&prices, canary) {
                        Look::Found(format!("2 points in {}", influx.describe()))
                    } else {
                        Look::NotYet(format!("found {} of the 2 points", points.len()))
                    }
                }
                Err(problem) => Look::NotYet(problem),
            }
        })
    };
    let raw_look = {
        let prefixes = raw_prefixes.clone();
        move || -> LookFuture<'a> {
            let prefixes = prefixes.clone();
            Box::pin(async move { look_raw(clients, raw, &prefixes, canary).await })
        }
    };
    vec![
        Probe {
            name: "influxdb",
            expected: format!(
                "2 points of {} with symbol={CANARY_SYMBOL} and source={} in {target}",
                influx::MEASUREMENT,
                canary.source
            ),
            hint: format!(
                "the transform Lambda writes the stream to InfluxDB: check the event source mapping, {}, the token secret, and that {target} is reachable from the function",
                logs(logical::TRANSFORM)
            ),
            look: Box::new(influx_look),
        },
        Probe {
            name: "raw",
            expected: format!(
                "2 records with source={} under s3://{raw}/{}",
                canary.source,
                raw_prefixes.join(" or ")
            ),
            hint: format!(
                "Firehose lands the stream in the raw bucket: check the delivery stream (errors under s3://{raw}/{}), and that --timeout exceeds its buffering interval ({} s)",
                prefixes::FIREHOSE_ERRORS,
                env.firehose.buffering_seconds
            ),
            look: Box::new(raw_look),
        },
        Probe {
            name: "curated",
            expected: format!(
                "2 rows with source={} under s3://{curated}/{}",
                canary.source,
                curated_prefix()
            ),
            hint: format!(
                "the to-parquet Lambda turns raw objects into Parquet: check {}, the raw bucket's notification, and its quarantine (s3://{raw}/{})",
                logs(logical::TO_PARQUET),
                prefixes::quarantine(lambda_contract::to_parquet::QUARANTINE_NAME)
            ),
            look: Box::new(move || -> LookFuture<'a> {
                Box::pin(look_curated(clients, curated, canary))
            }),
        },
        Probe {
            name: "alert",
            expected: format!(
                "alert {} claimed in s3://{curated}/{}{}",
                canary.alert_id(),
                state_key(),
                if clients.emulator_endpoint.is_some() {
                    " and published with the canary attribute"
                } else {
                    ""
                }
            ),
            hint: format!(
                "the notify Lambda claims the alert in its state object, then publishes it: check {}, the curated bucket's notification, and that the alert topic exists",
                logs(logical::NOTIFY)
            ),
            look: Box::new(move || -> LookFuture<'a> {
                Box::pin(look_alert(clients, curated, topic, canary))
            }),
        },
    ]
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn probe<'a>(name: &'static str, look: impl Fn() -> Look + Send + Sync + 'a) -> Probe<'a> {
        let look = std::sync::Arc::new(look);
        Probe {
            name,
            expected: format!("{name} data"),
            hint: format!("look at {name}"),
            look: Box::new(move || -> LookFuture<'a> {
                let look = look.clone();
                Box::pin(async move { look() })
            }),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_hop_found_late_has_its_latency_and_a_broken_one_stops_at_once() {
        let looks = AtomicU32::new(0);
        let started = Instant::now();
        let rows = follow(
            vec![
                probe("influxdb", || {
                    if looks.fetch_add(1, Ordering::Relaxed) < 3 {
                        Look::NotYet("0 of 2".into())
                    } else {
                        Look::Found("2 points".into())
                    }
                }),
                probe("raw", || Look::Broken {
                    problem: "access denied".into(),
                    hint: "grant s3:GetObject".into(),
                }),
                probe("curated", || Look::Found("never looked at".into())),
            ],
            started,
            started + Duration::from_secs(60),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(rows[0].outcome, Outcome::Passed);
        assert_eq!(
            rows[0].latency,
            Some(Duration::from_secs(6)),
            "three polls of 2 s"
        );
        assert_eq!(
            rows[1].outcome,
            Outcome::failed("expected raw data: access denied", "grant s3:GetObject")
        );
        assert_eq!(rows[2].outcome, Outcome::NotReached);
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(6),
            "no waiting on a broken hop"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_hop_never_seen_fails_at_the_deadline_with_what_was_seen() {
        let started = Instant::now();
        let rows = follow(
            vec![probe("alert", || {
                Look::NotYet("no state object yet".into())
            })],
            started,
            started + Duration::from_secs(5),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(
            rows[0].outcome,
            Outcome::failed(
                "expected alert data within 5 s of the put; no state object yet",
                "look at alert"
            )
        );
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(5),
            "the last wait ends at the deadline"
        );
    }
}
