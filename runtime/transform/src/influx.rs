//! A small InfluxDB writer: line protocol, gzip-compressed, in bodies of at most
//! [`MAX_LINES_PER_REQUEST`] lines, through the v1 (`/write`) or v2 (`/api/v2/write`) API, and
//! the classification of its failures (see [`WriteError`]): what the points did wrong, what the
//! configuration did wrong, and what is worth retrying.
//!
//! Why our own rather than the `influxdb2` crate: see docs/decisions.md (it speaks only
//! v2, pins old dependencies, and we need neither its query side nor its data-point model: the
//! quote crate already encodes line protocol).

use std::io::Write as _;
use std::ops::Range;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use quote_record::Quote;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};
use thiserror::Error;

use crate::config::{InfluxApi, InfluxConfig};
use crate::secrets::Token;

/// At most this many lines per write request (InfluxDB's recommended batch size).
pub const MAX_LINES_PER_REQUEST: usize = 5_000;

/// Longest part of an error response kept in the error message.
const MAX_ERROR_BODY: usize = 512;

/// A write failed, classified by what the answer means for the points in the body.
///
/// What the servers document: InfluxDB 1.x answers 400 when points are refused (`unable to parse`,
/// `partial write: field type conflict: … dropped=N`, `partial write: points beyond retention
/// policy dropped=N`) and may have written the body's other points; 404 `database not found`;
/// 401/403 for credentials; 413 over `max-body-size`; 500 on a timeout or engine failure.
/// InfluxDB 2.x answers 400 for malformed line protocol and 422 for refused points (the same
/// `partial write: …` text), 404 for an unknown organization or bucket, 413, 429 and 503 (the
/// last two with `Retry-After`). VictoriaMetrics answers 400 for a body it cannot read and
/// otherwise skips bad lines itself.
#[derive(Debug, Error)]
pub enum WriteError {
    /// 401 or 403: the token is wrong (or was rotated).
    #[error("InfluxDB rejected the token (HTTP {0})")]
    Unauthorized(StatusCode),
    /// 400 or 422: the server refused some or all points of the body (their data, such as a
    /// field type conflict or a timestamp outside the retention policy). Sending the same points
    /// again gets the same answer.
    #[error("InfluxDB refused points (HTTP {status}): {message}")]
    Rejected {
        /// The status.
        status: StatusCode,
        /// The server's explanation.
        message: String,
    },
    /// 413: the body is larger than the server accepts; smaller bodies may pass.
    #[error("InfluxDB found the body too large (HTTP {status}): {message}")]
    TooLarge {
        /// The status.
        status: StatusCode,
        /// The server's explanation.
        message: String,
    },
    /// 404 and the other 4xx answers that are about the request rather than the points (no such
    /// database, retention policy, organization or bucket): every point would be refused the
    /// same way until the configuration or the server is fixed.
    #[error("InfluxDB refused the request; check the configuration (HTTP {status}): {message}")]
    Configuration {
        /// The status.
        status: StatusCode,
        /// The server's explanation.
        message: String,
    },
    /// 408, 429, 5xx and anything else: the server is busy or in trouble; a later attempt may
    /// succeed.
    #[error("InfluxDB answered HTTP {status}: {message}")]
    Unavailable {
        /// The status.
        status: StatusCode,
        /// The server's explanation.
        message: String,
    },
    /// No answer: connection refused or reset, DNS, TLS, timeout.
    #[error("cannot reach InfluxDB: {0}")]
    Transport(String),
    /// Building the client or the body failed.
    #[error("cannot prepare the InfluxDB request: {0}")]
    Setup(String),
}

/// Parts of a 400/422 explanation that name a missing target rather than bad points: such an
/// answer refuses every point alike, so it is a configuration error, never a reason to quarantine.
const MISSING_TARGET: [&str; 4] = [
    "database not found",
    "retention policy not found",
    "bucket not found",
    "organization not found",
];

impl WriteError {
    /// Classifies a non-success answer from its status and the server's explanation.
    pub fn from_answer(status: StatusCode, message: String) -> Self {
        match status.as_u16() {
            401 | 403 => Self::Unauthorized(status),
            400 | 422 => {
                let lower = message.to_ascii_lowercase();
                if MISSING_TARGET.iter().any(|m| lower.contains(m)) {
                    Self::Configuration { status, message }
                } else {
                    Self::Rejected { status, message }
                }
            }
            413 => Self::TooLarge { status, message },
            408 | 429 => Self::Unavailable { status, message },
            400..=499 => Self::Configuration { status, message },
            _ => Self::Unavailable { status, message },
        }
    }

    /// For a [`WriteError::Rejected`] answer that counts the points it dropped (InfluxDB's
    /// `partial write: … dropped=N`), that count. It may count only one shard's drops, so it is a
    /// lower bound: when it equals the number of points sent, all of them were refused.
    pub fn dropped_points(&self) -> Option<usize> {
        let Self::Rejected { message, .. } = self else {
            return None;
        };
        let (_, after) = message.rsplit_once("dropped=")?;
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        after.get(..digits)?.parse().ok()
    }
}

/// The explanation in an error answer: the `error` (InfluxDB 1.x) or `message` (InfluxDB 2.x)
/// member of a JSON object, otherwise the text itself; trimmed and cut to [`MAX_ERROR_BODY`]
/// characters.
fn explanation(text: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Answer {
        error: Option<String>,
        message: Option<String>,
    }
    let text = text.trim();
    let answer = serde_json::from_str::<Answer>(text).ok();
    let text = answer
        .as_ref()
        .and_then(|a| a.error.as_deref().or(a.message.as_deref()))
        .unwrap_or(text)
        .trim();
    let mut message: String = text.chars().take(MAX_ERROR_BODY).collect();
    if message.len() < text.len() {
        message.push('…');
    }
    message
}

/// A gzip-compressed line-protocol request body. It keeps its plain lines too, so that a body
/// the server refuses can be split into parts ([`Body::part`]).
#[derive(Debug, Clone)]
pub struct Body {
    gzip: Vec<u8>,
    text: Vec<u8>,
    /// End of each line in `text` (after its newline).
    ends: Vec<usize>,
}

impl Body {
    /// Number of points in the body.
    pub fn lines(&self) -> usize {
        self.ends.len()
    }

    /// Compressed size in bytes.
    pub fn len(&self) -> usize {
        self.gzip.len()
    }

    /// True when the body has no points.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The lines `range` (line numbers from 0, clamped to the body) as a body of their own.
    pub fn part(&self, range: Range<usize>) -> Result<Body, WriteError> {
        let end = range.end.min(self.lines());
        let start = range.start.min(end);
        let line_start = |i: usize| if i == 0 { 0 } else { self.ends[i - 1] };
        let (from, to) = (line_start(start), line_start(end));
        let mut gzip = GzEncoder::new(Vec::with_capacity((to - from) / 4), Compression::fast());
        gzip.write_all(&self.text[from..to])
            .map_err(|e| WriteError::Setup(format!("gzip: {e}")))?;
        Ok(Body {
            gzip: gzip
                .finish()
                .map_err(|e| WriteError::Setup(format!("gzip: {e}")))?,
            text: self.text[from..to].to_vec(),
            ends: self.ends[start..end].iter().map(|e| e - from).collect(),
        })
    }
}

/// Encodes quotes as line protocol straight into a gzip stream.
pub struct BodyBuilder {
    gzip: GzEncoder<Vec<u8>>,
    text: Vec<u8>,
    ends: Vec<usize>,
}

impl std::fmt::Debug for BodyBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyBuilder")
            .field("lines", &self.lines())
            .finish_non_exhaustive()
    }
}

impl Default for BodyBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl BodyBuilder {
    /// An empty body. Gzip level 1: five times faster than the default level for about 15% more
    /// bytes, and the CPU is the Lambda's bottleneck, not the network.
    pub fn new() -> Self {
        Self {
            gzip: GzEncoder::new(Vec::with_capacity(64 * 1024), Compression::fast()),
            text: Vec::with_capacity(64 * 1024),
            ends: Vec::new(),
        }
    }

    /// Points added so far.
    pub fn lines(&self) -> usize {
        self.ends.len()
    }

    /// True once the body holds [`MAX_LINES_PER_REQUEST`] points.
    pub fn is_full(&self) -> bool {
        self.lines() >= MAX_LINES_PER_REQUEST
    }

    /// Appends one point (one line, newline-terminated).
    pub fn push(&mut self, quote: &Quote) -> Result<(), WriteError> {
        let start = self.text.len();
        quote.write_line_protocol(&mut self.text);
        self.text.push(b'\n');
        self.gzip
            .write_all(&self.text[start..])
            .map_err(|e| WriteError::Setup(format!("gzip: {e}")))?;
        self.ends.push(self.text.len());
        Ok(())
    }

    /// Finishes the gzip stream.
    pub fn finish(self) -> Result<Body, WriteError> {
        let gzip = self
            .gzip
            .finish()
            .map_err(|e| WriteError::Setup(format!("gzip: {e}")))?;
        Ok(Body {
            gzip,
            text: self.text,
            ends: self.ends,
        })
    }
}

/// Writes bodies to one InfluxDB target over a keep-alive connection.
#[derive(Debug, Clone)]
pub struct Writer {
    client: reqwest::Client,
    url: reqwest::Url,
    timeout: Duration,
}

impl Writer {
    /// A writer for `config`: the write URL is built once; every request has the configured
    /// timeout (connect included).
    pub fn new(config: &InfluxConfig) -> Result<Self, WriteError> {
        // reqwest is built without a default crypto provider (it would pull in aws-lc); use ring,
        // as the AWS SDK client does. Installing twice is harmless: the first provider stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!(
                "mystocktracker-transform/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| WriteError::Setup(format!("HTTP client: {e}")))?;
        let (path, query): (&str, Vec<(&str, &str)>) = match &config.api {
            InfluxApi::V1 { database } => ("/write", vec![("db", database), ("precision", "ns")]),
            InfluxApi::V2 { org, bucket } => (
                "/api/v2/write",
                vec![("org", org), ("bucket", bucket), ("precision", "ns")],
            ),
        };
        let mut url = reqwest::Url::parse(&format!("{}{path}", config.url))
            .map_err(|e| WriteError::Setup(format!("INFLUX_URL {:?}: {e}", config.url)))?;
        url.query_pairs_mut().extend_pairs(query);
        Ok(Self {
            client,
            url,
            timeout: config.timeout,
        })
    }

    /// The longest one request may take (connect included).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The write endpoint, query included (no secret in it).
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// Sends one body. The token goes in `Authorization: Token …` (both APIs: InfluxDB 2.x and
    /// 1.8+ accept it; 1.x with auth disabled ignores it); an empty token sends no header.
    /// A point that already exists (same measurement, tags and timestamp) is overwritten, so
    /// sending a body twice stores each point once.
    pub async fn write(&self, body: &Body, token: &Token) -> Result<(), WriteError> {
        let mut request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "text/plain; charset=utf-8")
            .header(CONTENT_ENCODING, "gzip")
            .body(body.gzip.clone());
        if !token.is_empty() {
            let mut value = HeaderValue::from_str(&format!("Token {}", token.expose()))
                .map_err(|_| WriteError::Setup("the token is not a valid header value".into()))?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| WriteError::Transport(error_chain(&e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        Err(WriteError::from_answer(status, explanation(&text)))
    }
}

/// An error and its sources on one line (reqwest's own message hides the cause, such as
/// "connection refused").
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
    use std::io::Read as _;
    use std::time::Duration;

    #[test]
    fn bodies_are_gzip_line_protocol() {
        let q = Quote::from_json(
            br#"{"symbol":"AAPL","price":189.23,"currency":"USD","change_pct":-0.42,"volume":5,"market_time":"2026-11-27T15:30:01Z","scraped_at":"2026-11-27T15:30:02Z","source":"quote-page"}"#,
        )
        .expect("valid");
        let mut b = BodyBuilder::new();
        b.push(&q).expect("push");
        b.push(&q).expect("push");
        let body = b.finish().expect("finish");
        assert_eq!(body.lines(), 2);
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body.gzip[..])
            .read_to_string(&mut text)
            .expect("gzip");
        let line = format!("{}\n", q.to_line_protocol());
        assert_eq!(text, line.repeat(2));
    }

    fn quote(symbol: &str) -> Quote {
        Quote::from_json(
            format!(r#"{{"symbol":"{symbol}","price":1.5,"currency":"USD","change_pct":0,"market_time":"2026-11-27T15:30:01Z","scraped_at":"2026-11-27T15:30:02Z","source":"t"}}"#)
                .as_bytes(),
        )
        .expect("valid")
    }

    fn text(body: &Body) -> String {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body.gzip[..])
            .read_to_string(&mut text)
            .expect("gzip");
        text
    }

    #[test]
    fn parts_are_bodies_of_their_lines() {
        let quotes: Vec<Quote> = ["A", "B", "C", "D"].into_iter().map(quote).collect();
        let mut b = BodyBuilder::new();
        for q in &quotes {
            b.push(q).expect("push");
        }
        let body = b.finish().expect("finish");
        let lines = |range: std::ops::Range<usize>| -> String {
            quotes[range]
                .iter()
                .map(|q| format!("{}\n", q.to_line_protocol()))
                .collect()
        };
        let middle = body.part(1..3).expect("part");
        assert_eq!((middle.lines(), text(&middle)), (2, lines(1..3)));
        let last = middle.part(1..2).expect("part of a part");
        assert_eq!((last.lines(), text(&last)), (1, lines(2..3)));
        let first = body.part(0..1).expect("part");
        assert_eq!(text(&first), lines(0..1));
        assert_eq!(text(&body.part(0..4).expect("all")), text(&body));
        assert!(body.part(3..9).expect("clamped").lines() == 1);
        assert!(body.part(5..9).expect("empty").is_empty());
    }

    #[test]
    fn answers_are_classified() {
        let class = |status: u16, message: &str| match WriteError::from_answer(
            StatusCode::from_u16(status).expect("status"),
            message.into(),
        ) {
            WriteError::Unauthorized(_) => "unauthorized",
            WriteError::Rejected { .. } => "rejected",
            WriteError::TooLarge { .. } => "too large",
            WriteError::Configuration { .. } => "configuration",
            WriteError::Unavailable { .. } => "unavailable",
            WriteError::Transport(_) | WriteError::Setup(_) => "other",
        };
        let conflict = r#"partial write: field type conflict: input field "volume" on measurement "quote" is type integer, already exists as type float dropped=1"#;
        assert_eq!(class(400, conflict), "rejected");
        assert_eq!(
            class(
                400,
                "partial write: points beyond retention policy dropped=3"
            ),
            "rejected"
        );
        assert_eq!(
            class(400, "unable to parse 'quote x': invalid field format"),
            "rejected"
        );
        assert_eq!(
            class(
                422,
                &format!("failure writing points to database: {conflict}")
            ),
            "rejected"
        );
        assert_eq!(
            class(404, r#"database not found: "quotes""#),
            "configuration"
        );
        assert_eq!(class(404, r#"bucket "b" not found"#), "configuration");
        assert_eq!(
            class(400, "retention policy not found: weekly"),
            "configuration"
        );
        assert_eq!(class(400, "Database Not Found: quotes"), "configuration");
        assert_eq!(class(405, ""), "configuration");
        assert_eq!(class(401, "authorization failed"), "unauthorized");
        assert_eq!(class(403, ""), "unauthorized");
        assert_eq!(class(413, "Request Entity Too Large"), "too large");
        assert_eq!(class(408, ""), "unavailable");
        assert_eq!(class(429, ""), "unavailable");
        assert_eq!(class(500, "timeout"), "unavailable");
        assert_eq!(class(503, ""), "unavailable");
    }

    #[test]
    fn dropped_points_are_read_from_the_explanation() {
        let rejected = |message: &str| WriteError::Rejected {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        };
        assert_eq!(
            rejected("partial write: points beyond retention policy dropped=12").dropped_points(),
            Some(12)
        );
        assert_eq!(
            rejected(r#"partial write: field type conflict: input field "dropped=3" on measurement "quote" is type integer, already exists as type float dropped=1"#)
                .dropped_points(),
            Some(1),
            "the last count, not a field name"
        );
        assert_eq!(rejected("unable to parse 'x'").dropped_points(), None);
        assert_eq!(rejected("dropped=").dropped_points(), None);
        let not_rejected = WriteError::Unavailable {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "dropped=5".into(),
        };
        assert_eq!(not_rejected.dropped_points(), None);
    }

    #[test]
    fn explanations_come_from_either_api() {
        assert_eq!(
            explanation(r#" {"error":"partial write: x dropped=1"} "#),
            "partial write: x dropped=1"
        );
        assert_eq!(
            explanation(r#"{"code":"unprocessable entity","message":"failure writing points"}"#),
            "failure writing points"
        );
        assert_eq!(explanation(" cannot parse line\n"), "cannot parse line");
        assert_eq!(explanation(r#"{"other":1}"#), r#"{"other":1}"#);
        let long = "x".repeat(MAX_ERROR_BODY + 10);
        let cut = explanation(&long);
        assert_eq!(cut.chars().count(), MAX_ERROR_BODY + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn write_urls() {
        let v1 = Writer::new(&InfluxConfig {
            url: "http://127.0.0.1:8086".into(),
            api: InfluxApi::V1 {
                database: "q db".into(),
            },
            timeout: Duration::from_secs(1),
        })
        .expect("v1");
        assert_eq!(v1.url(), "http://127.0.0.1:8086/write?db=q+db&precision=ns");
        let v2 = Writer::new(&InfluxConfig {
            url: "https://influx.example.com/base".into(),
            api: InfluxApi::V2 {
                org: "o&".into(),
                bucket: "b".into(),
            },
            timeout: Duration::from_secs(1),
        })
        .expect("v2");
        assert_eq!(
            v2.url(),
            "https://influx.example.com/base/api/v2/write?org=o%26&bucket=b&precision=ns"
        );
    }
}
