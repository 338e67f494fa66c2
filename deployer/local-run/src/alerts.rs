//! The live view's "alerts e-mailed": the SNS messages moto recorded as published to the
//! template's topics (`sent_notifications` in moto's model dump, read with
//! [`aws_connect::emulator_sns_dump_url`]; SNS has no API that lists published messages).
//!
//! The dump asks for SNS only, which our moto answers in well under a millisecond; a moto without
//! that fix answers with every model it holds, each S3 object included, which under load is slow
//! or fails and competes with the pipeline for moto. So it is read in the background, one read at
//! a time, at most every [`READ_EVERY`] and never more than a fifth of the time
//! ([`crate::pacing`]); the view never waits for it, and a failed read keeps the last value read,
//! shown as stale with its age.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::task::JoinHandle;

use crate::pacing::pause_after;

/// How often the count is read while the pipeline runs.
pub const READ_EVERY: Duration = Duration::from_secs(10);

/// How long one read may take (the dump grows with everything the pipeline stored).
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What the view knows of the alerts e-mailed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AlertCount {
    /// No read has succeeded yet.
    #[default]
    Unknown,
    /// The last read's value.
    Current(u64),
    /// The last read failed: the value of the last read that succeeded, `age_seconds` old.
    Stale {
        /// The last value read.
        count: u64,
        /// Seconds since it was read.
        age_seconds: u64,
    },
}

impl std::fmt::Display for AlertCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AlertCount::Unknown => f.write_str("? (not read yet)"),
            AlertCount::Current(n) => write!(f, "{n}"),
            AlertCount::Stale { count, age_seconds } => {
                write!(f, "{count} (stale: read {age_seconds} s ago)")
            }
        }
    }
}

/// The reads so far: the last successful one and whether the latest failed.
#[derive(Debug, Default)]
pub struct Readings {
    last_read: Option<(u64, Instant)>,
    latest_failed: bool,
}

impl Readings {
    /// Records the outcome of a read made at `at` (`None`: it failed).
    pub fn record(&mut self, read: Option<u64>, at: Instant) {
        match read {
            Some(count) => {
                self.last_read = Some((count, at));
                self.latest_failed = false;
            }
            None => self.latest_failed = true,
        }
    }

    /// The count to show at `now`.
    pub fn count(&self, now: Instant) -> AlertCount {
        match self.last_read {
            None => AlertCount::Unknown,
            Some((count, _)) if !self.latest_failed => AlertCount::Current(count),
            Some((count, at)) => AlertCount::Stale {
                count,
                age_seconds: now.saturating_duration_since(at).as_secs(),
            },
        }
    }
}

/// Reads the count in the background.
pub struct AlertWatch {
    endpoint: String,
    topics: Vec<String>,
    readings: Arc<Mutex<Readings>>,
    task: JoinHandle<()>,
}

impl AlertWatch {
    /// Starts reading from the moto at `endpoint`, counting messages sent to `topics`: at once,
    /// then [`READ_EVERY`] after each read ends.
    pub fn start(endpoint: String, topics: Vec<String>) -> Self {
        let readings = Arc::new(Mutex::new(Readings::default()));
        let task = tokio::spawn({
            let (endpoint, topics, readings) =
                (endpoint.clone(), topics.clone(), Arc::clone(&readings));
            async move {
                loop {
                    let started = Instant::now();
                    let read = read_blocking(endpoint.clone(), topics.clone()).await;
                    if let Err(e) = &read {
                        tracing::debug!("alerts e-mailed not read: {e}");
                    }
                    record(&readings, read.ok());
                    tokio::time::sleep(pause_after(READ_EVERY, started.elapsed())).await;
                }
            }
        });
        Self {
            endpoint,
            topics,
            readings,
            task,
        }
    }

    /// The count to show now (never waits for a read).
    pub fn count(&self) -> AlertCount {
        match self.readings.lock() {
            Ok(readings) => readings.count(Instant::now()),
            Err(poisoned) => poisoned.into_inner().count(Instant::now()),
        }
    }

    /// Stops the background reads and reads once more, for the final line: the last value read,
    /// stale, if this read fails too.
    pub async fn finish(self) -> AlertCount {
        self.task.abort();
        let read = read_blocking(self.endpoint.clone(), self.topics.clone()).await;
        record(&self.readings, read.ok());
        self.count()
    }
}

fn record(readings: &Mutex<Readings>, read: Option<u64>) {
    let mut readings = match readings.lock() {
        Ok(readings) => readings,
        Err(poisoned) => poisoned.into_inner(),
    };
    readings.record(read, Instant::now());
}

async fn read_blocking(endpoint: String, topics: Vec<String>) -> Result<u64, String> {
    tokio::task::spawn_blocking(move || read(&endpoint, &topics))
        .await
        .map_err(|e| format!("the read stopped: {e}"))?
}

/// Reads the count once (blocking): messages moto's data dump lists as sent to `topics`.
pub fn read(endpoint: &str, topics: &[String]) -> Result<u64, String> {
    let url = aws_connect::emulator_sns_dump_url(endpoint);
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(READ_TIMEOUT))
        .build()
        .new_agent();
    let text = agent
        .get(&url)
        .call()
        .map_err(|e| format!("GET {url}: {e}"))?
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_string()
        .map_err(|e| format!("GET {url}: {e}"))?;
    let data: Value = serde_json::from_str(&text).map_err(|e| format!("{url} is not JSON: {e}"))?;
    Ok(sent_notifications(&data, topics))
}

/// The number of messages moto's data dump lists as sent to `topics` (objects with an `arn` in
/// `topics` and a `sent_notifications` array, wherever they are in the dump).
pub fn sent_notifications(data: &Value, topics: &[String]) -> u64 {
    match data {
        Value::Object(map) => {
            let own = match (
                map.get("arn").and_then(Value::as_str),
                map.get("sent_notifications"),
            ) {
                (Some(arn), Some(Value::Array(sent))) if topics.iter().any(|t| t == arn) => {
                    sent.len() as u64
                }
                _ => 0,
            };
            own + map
                .iter()
                .filter(|(k, _)| k.as_str() != "sent_notifications")
                .map(|(_, v)| sent_notifications(v, topics))
                .sum::<u64>()
        }
        Value::Array(items) => items.iter().map(|v| sent_notifications(v, topics)).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_read_keeps_the_last_value_as_stale_and_a_good_read_makes_it_current() {
        let start = Instant::now();
        let mut readings = Readings::default();
        assert_eq!(readings.count(start), AlertCount::Unknown);
        readings.record(None, start);
        assert_eq!(readings.count(start), AlertCount::Unknown);
        readings.record(Some(3), start);
        assert_eq!(readings.count(start), AlertCount::Current(3));
        readings.record(None, start + Duration::from_secs(10));
        assert_eq!(
            readings.count(start + Duration::from_secs(25)),
            AlertCount::Stale {
                count: 3,
                age_seconds: 25
            }
        );
        readings.record(Some(4), start + Duration::from_secs(30));
        assert_eq!(
            readings.count(start + Duration::from_secs(31)),
            AlertCount::Current(4)
        );
    }

    #[test]
    fn the_count_reads_as_a_number_marked_when_stale() {
        assert_eq!(AlertCount::Current(2).to_string(), "2");
        assert_eq!(
            AlertCount::Stale {
                count: 2,
                age_seconds: 40
            }
            .to_string(),
            "2 (stale: read 40 s ago)"
        );
        assert_eq!(AlertCount::Unknown.to_string(), "? (not read yet)");
    }

    #[test]
    fn messages_sent_to_the_topics_are_counted_wherever_the_dump_lists_them() {
        let data = serde_json::json!({
            "sns": {"Topic": [
                {"arn": "arn:a", "sent_notifications": [["1", "m", null, {}, null], ["2", "m", null, {}, null]]},
                {"arn": "arn:other", "sent_notifications": [["3", "m", null, {}, null]]},
            ]},
            "kinesis": {"Record": [{"data": "x"}]},
        });
        assert_eq!(sent_notifications(&data, &["arn:a".to_owned()]), 2);
        assert_eq!(sent_notifications(&data, &[]), 0);
    }

    #[tokio::test]
    async fn an_unreachable_emulator_is_a_failed_read_not_a_wait() {
        // A port nobody listens on: the read fails at once, and the watch shows nothing known.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let watch = AlertWatch::start(endpoint, vec!["arn:a".into()]);
        assert_eq!(watch.finish().await, AlertCount::Unknown);
    }

    /// An HTTP server answering its first request with a dump listing two messages sent to
    /// `arn:a`, and every later one with HTTP 500 (moto failing under load).
    fn dump_then_failures() -> String {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { return };
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let answer = if i == 0 {
                    let body =
                        r#"{"sns":{"Topic":[{"arn":"arn:a","sent_notifications":[[1],[2]]}]}}"#;
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        .to_owned()
                };
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        endpoint
    }

    #[tokio::test]
    async fn when_the_emulator_fails_after_a_read_the_last_count_is_kept_as_stale() {
        let watch = AlertWatch::start(dump_then_failures(), vec!["arn:a".into()]);
        // The first read (at start) answers 2.
        let deadline = Instant::now() + Duration::from_secs(30);
        while watch.count() != AlertCount::Current(2) {
            assert!(Instant::now() < deadline, "{:?}", watch.count());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The final read gets HTTP 500: the count stays 2, marked stale, never `?`.
        assert!(matches!(
            watch.finish().await,
            AlertCount::Stale { count: 2, .. }
        ));
    }
}
