//! A small InfluxDB writer: line protocol, gzip-compressed, in bodies of at most
//! [`MAX_LINES_PER_REQUEST`] lines, through the v1 (`/write`) or v2 (`/api/v2/write`) API.
//!
//! Why our own rather than the `influxdb2` crate: see the README's dependency notes (it speaks only
//! v2, pins old dependencies, and we need neither its query side nor its data-point model: the
//! quote crate already encodes line protocol).

use std::io::Write as _;

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

/// A write failed.
#[derive(Debug, Error)]
pub enum WriteError {
    /// 401 or 403: the token is wrong (or was rotated).
    #[error("InfluxDB rejected the token (HTTP {0})")]
    Unauthorized(StatusCode),
    /// Any other non-success answer (4xx: points rejected, such as a field type conflict; 5xx:
    /// server trouble).
    #[error("InfluxDB answered HTTP {status}: {message}")]
    Status {
        /// The status.
        status: StatusCode,
        /// The start of the body (InfluxDB explains the problem there).
        message: String,
    },
    /// No answer: connection refused or reset, DNS, TLS, timeout.
    #[error("cannot reach InfluxDB: {0}")]
    Transport(String),
    /// Building the client or the body failed.
    #[error("cannot prepare the InfluxDB request: {0}")]
    Setup(String),
}

/// A gzip-compressed line-protocol request body.
#[derive(Debug, Clone)]
pub struct Body {
    gzip: Vec<u8>,
    lines: usize,
}

impl Body {
    /// Number of points in the body.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Compressed size in bytes.
    pub fn len(&self) -> usize {
        self.gzip.len()
    }

    /// True when the body has no points.
    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }
}

/// Encodes quotes as line protocol straight into a gzip stream.
pub struct BodyBuilder {
    gzip: GzEncoder<Vec<u8>>,
    line: Vec<u8>,
    lines: usize,
}

impl std::fmt::Debug for BodyBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyBuilder")
            .field("lines", &self.lines)
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
            line: Vec::with_capacity(256),
            lines: 0,
        }
    }

    /// Points added so far.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// True once the body holds [`MAX_LINES_PER_REQUEST`] points.
    pub fn is_full(&self) -> bool {
        self.lines >= MAX_LINES_PER_REQUEST
    }

    /// Appends one point (one line, newline-terminated).
    pub fn push(&mut self, quote: &Quote) -> Result<(), WriteError> {
        self.line.clear();
        quote.write_line_protocol(&mut self.line);
        self.line.push(b'\n');
        self.gzip
            .write_all(&self.line)
            .map_err(|e| WriteError::Setup(format!("gzip: {e}")))?;
        self.lines += 1;
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
            lines: self.lines,
        })
    }
}

/// Writes bodies to one InfluxDB target over a keep-alive connection.
#[derive(Debug, Clone)]
pub struct Writer {
    client: reqwest::Client,
    url: reqwest::Url,
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
        Ok(Self { client, url })
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
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(WriteError::Unauthorized(status));
        }
        let text = response.text().await.unwrap_or_default();
        let mut message: String = text.trim().chars().take(MAX_ERROR_BODY).collect();
        if message.len() < text.trim().len() {
            message.push('…');
        }
        Err(WriteError::Status { status, message })
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
