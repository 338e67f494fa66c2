//! Writing one invocation's bodies to InfluxDB: in shard order, stopping at the first failure,
//! re-reading the token once on a 401/403, and bisecting a body the server refuses points of.
//!
//! # Bisection
//!
//! A 400/422 answer ([`WriteError::Rejected`]: a field type conflict, a timestamp outside the
//! retention policy, a line the server cannot parse) is about *some* points of the body, and
//! InfluxDB 1.x may have written the others. Sending the same body again gets the same answer,
//! so retrying it would block the shard until the records expire. Instead the body is split in
//! halves and each half sent again, recursively, down to single lines: a line refused on its own
//! is *rejected* (the handler quarantines its record with the server's explanation); every
//! other line is written. Sending again lines the server already wrote is harmless: an InfluxDB
//! point is identified by measurement, tags and timestamp, so a second write overwrites it with
//! the same values.
//!
//! Shortcut: when the answer counts the points it dropped (`dropped=N`) and N is the number of
//! lines sent, all of them were refused, so they are rejected at once with that explanation
//! (a field type conflict usually hits every line with that field).
//!
//! Bounds: at most [`Limits::max_split_requests`] requests for parts per invocation, and a part
//! is sent only if its request can time out and the quarantine still be written before the
//! deadline. When a bound is reached, the first part not yet settled becomes the failure point:
//! Kinesis retries from it, and the next invocation bisects on from there with fresh bounds.
//!
//! A 413 splits the same way (smaller bodies may pass) but never rejects a line; any other
//! failure (configuration, credentials, transient) stops the writing at that part, never
//! quarantines anything, and the batch is retried from the part's first record.

use std::ops::Range;
use std::time::{Duration, Instant};

use tracing::{error, warn};

use crate::influx::{Body, WriteError, Writer};
use crate::secrets::{Token, TokenCache};

/// What bisection may spend in one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests for parts of refused bodies (the bodies' first requests do not count). One bad
    /// line among 5,000 takes about 26.
    pub max_split_requests: usize,
    /// Time kept back at the end of the invocation, after the last request's timeout, for the
    /// quarantine `PutObject` and the answer to Lambda.
    pub reserve: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_split_requests: 100,
            reserve: Duration::from_secs(5),
        }
    }
}

/// A record the server refused on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Index of the record in the event.
    pub record: usize,
    /// The server's explanation (status included).
    pub message: String,
}

/// What writing the bodies did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Points the server acknowledged (each once, however many requests it took).
    pub written: usize,
    /// Requests sent (token retries and parts included).
    pub requests: usize,
    /// Records refused on their own, in shard order.
    pub rejected: Vec<Rejected>,
    /// Index in the event of the first record not settled (retried by Kinesis).
    pub failed_from: Option<usize>,
}

/// Writes `bodies` in order. `line_records[i]` is the index in the event of the record whose line
/// is the i-th line of the bodies taken one after another.
pub async fn write_bodies<'b>(
    writer: &Writer,
    tokens: &TokenCache,
    bodies: impl IntoIterator<Item = &'b Body>,
    line_records: &[usize],
    limits: Limits,
    deadline: Instant,
) -> Report {
    let mut report = Report::default();
    let Some(&first_record) = line_records.first() else {
        return report;
    };
    let token = match tokens.get().await {
        Ok(token) => token,
        Err(e) => {
            error!(error = %e, "cannot read the InfluxDB token; the batch is retried");
            report.failed_from = Some(first_record);
            return report;
        }
    };
    let mut session = Session {
        writer,
        tokens,
        token,
        refreshed: false,
        split_requests: 0,
        limits,
        deadline,
        report,
    };
    let mut offset = 0;
    for body in bodies {
        let records = line_records
            .get(offset..offset + body.lines())
            .unwrap_or(&[]);
        debug_assert_eq!(records.len(), body.lines(), "a record for every line");
        offset += body.lines();
        if let Err(failed_from) = session.write_body(body, records).await {
            session.report.failed_from = Some(failed_from);
            break;
        }
    }
    session.report
}

/// The state of one invocation's writes.
struct Session<'a> {
    writer: &'a Writer,
    tokens: &'a TokenCache,
    token: Token,
    /// The token was re-read already (once per invocation).
    refreshed: bool,
    split_requests: usize,
    limits: Limits,
    deadline: Instant,
    report: Report,
}

impl Session<'_> {
    /// Writes one body, bisecting it if the server refuses points; on failure, the index of the
    /// first record not settled.
    async fn write_body(&mut self, body: &Body, records: &[usize]) -> Result<(), usize> {
        // Parts still to send, the next one last: depth first, left half first, so parts are
        // settled in shard order and everything before a failure is done.
        let mut pending: Vec<Range<usize>> = Vec::with_capacity(32);
        pending.push(0..body.lines());
        while let Some(range) = pending.pop() {
            let first_record = records.get(range.start).copied().unwrap_or_default();
            let whole = range.len() == body.lines();
            let part;
            let sent = if whole {
                body
            } else {
                if let Some(why) = self.out_of_budget() {
                    error!(
                        split_requests = self.split_requests,
                        lines_left = body.lines() - range.start,
                        "{why}; the batch is retried from the first record not settled"
                    );
                    return Err(first_record);
                }
                self.split_requests += 1;
                part = body.part(range.clone()).map_err(|e| {
                    error!(error = %e, "cannot split the body");
                    first_record
                })?;
                &part
            };
            match self.send(sent).await {
                Ok(()) => self.report.written += range.len(),
                Err(rejected @ WriteError::Rejected { .. }) => {
                    let everything = rejected.dropped_points() == Some(range.len());
                    if range.len() == 1 || everything {
                        warn!(
                            error = %rejected,
                            lines = range.len(),
                            "InfluxDB refused these points; their records are quarantined"
                        );
                        let message = rejected.to_string();
                        let refused = records.get(range).unwrap_or_default();
                        self.report
                            .rejected
                            .extend(refused.iter().map(|&record| Rejected {
                                record,
                                message: message.clone(),
                            }));
                    } else {
                        warn!(
                            error = %rejected,
                            lines = range.len(),
                            "InfluxDB refused points; splitting the body to find them"
                        );
                        push_halves(&mut pending, range);
                    }
                }
                Err(too_large @ WriteError::TooLarge { .. }) if range.len() > 1 => {
                    warn!(error = %too_large, lines = range.len(), "splitting the body");
                    push_halves(&mut pending, range);
                }
                Err(e @ (WriteError::Configuration { .. } | WriteError::Unauthorized(_))) => {
                    error!(
                        error = %e,
                        lines = range.len(),
                        "InfluxDB configuration or credentials are wrong (database, bucket, organization, token or its permissions); nothing is quarantined, the batch is retried from this request's first record until it is fixed"
                    );
                    return Err(first_record);
                }
                Err(e) => {
                    error!(
                        error = %e,
                        lines = range.len(),
                        "InfluxDB write failed; the batch is retried from this request's first record"
                    );
                    return Err(first_record);
                }
            }
        }
        Ok(())
    }

    /// Why no further part may be sent, if so.
    fn out_of_budget(&self) -> Option<&'static str> {
        if self.split_requests >= self.limits.max_split_requests {
            return Some("bisection reached its request limit");
        }
        let needed = self.writer.timeout() + self.limits.reserve;
        if Instant::now() + needed > self.deadline {
            return Some("bisection ran out of time");
        }
        None
    }

    /// Sends one body; a 401/403 re-reads the token once per invocation and sends it again.
    async fn send(&mut self, body: &Body) -> Result<(), WriteError> {
        self.report.requests += 1;
        let result = self.writer.write(body, &self.token).await;
        let Err(WriteError::Unauthorized(status)) = &result else {
            return result;
        };
        if self.refreshed {
            return result;
        }
        self.refreshed = true;
        warn!(
            status = status.as_u16(),
            "InfluxDB rejected the token; re-reading the secret"
        );
        match self.tokens.refresh(&self.token).await {
            Ok(new) => {
                self.token = new;
                self.report.requests += 1;
                self.writer.write(body, &self.token).await
            }
            Err(e) => {
                error!(error = %e, "cannot re-read the InfluxDB token");
                result
            }
        }
    }
}

/// Queues the two halves of `range` so that the left one is sent first.
fn push_halves(pending: &mut Vec<Range<usize>>, range: Range<usize>) {
    let middle = range.start + range.len() / 2;
    pending.push(middle..range.end);
    pending.push(range.start..middle);
}
