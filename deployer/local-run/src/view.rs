//! The live view: one line of counters, redrawn on a terminal (indicatif), printed every
//! [`PLAIN_EVERY`] otherwise.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::Counters;
use crate::alerts::AlertCount;

/// How often a plain line is printed when stdout is not a terminal.
pub const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// A snapshot of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Quotes the scraper parsed.
    pub scraped: u64,
    /// Records the scraper put on the stream.
    pub put: u64,
    /// Records the event source mapping read from the stream.
    pub in_stream: u64,
    /// Records the stream's function processed (transform: written to InfluxDB or quarantined).
    pub processed: u64,
    /// Per notification rule: label and events.
    pub objects: Vec<(String, u64)>,
    /// Firehose: records in and objects written.
    pub firehose: Vec<(String, u64, u64)>,
    /// SNS messages published (moto's `sent_notifications`): the last value read, stale when the
    /// latest read failed.
    pub alerts: AlertCount,
    /// Batches the stream's function failed in part or whole (each is retried or discarded).
    pub retried_batches: u64,
    /// Failures: function errors, timeouts, init failures and crashes, records discarded by the
    /// mapping, events that failed all their asynchronous attempts.
    pub failures: u64,
}

impl Snapshot {
    /// Reads the counters.
    pub fn of(counters: &Counters, alerts: AlertCount) -> Self {
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let mut failures = 0;
        for stats in counters.functions.values() {
            failures += load(&stats.errors)
                + load(&stats.timeouts)
                + load(&stats.init_failures)
                + load(&stats.crashes);
        }
        let (mut in_stream, mut processed, mut retried_batches) = (0, 0, 0);
        for stats in &counters.mappings {
            in_stream += load(&stats.records_read);
            processed += load(&stats.records_done);
            retried_batches += load(&stats.failed_invocations);
            failures += load(&stats.records_discarded);
        }
        failures += load(&counters.notifications.failed_events);
        let (scraped, put) = counters
            .scraper
            .as_ref()
            .map(|s| (load(&s.parsed), load(&s.put)))
            .unwrap_or_default();
        Self {
            scraped,
            put,
            in_stream,
            processed,
            objects: counters
                .notifications
                .events
                .iter()
                .map(|(label, count)| (label.clone(), load(count)))
                .collect(),
            firehose: counters
                .firehose
                .iter()
                .map(|(name, s)| (name.clone(), load(&s.records_in), load(&s.objects_written)))
                .collect(),
            alerts,
            retried_batches,
            failures,
        }
    }

    /// The one-line rendering.
    pub fn line(&self) -> String {
        let mut line = format!(
            "scraped {} · put {} · in stream {} · transformed {}",
            self.scraped, self.put, self.in_stream, self.processed
        );
        for (name, records, objects) in &self.firehose {
            line.push_str(&format!(" · {name} {records} in/{objects} objects"));
        }
        for (label, count) in &self.objects {
            line.push_str(&format!(" · {label} {count}"));
        }
        line.push_str(&format!(" · alerts e-mailed {}", self.alerts));
        line.push_str(&format!(
            " · failed batches {} · failures {}",
            self.retried_batches, self.failures
        ));
        line
    }
}

/// Where the view goes.
pub enum View {
    /// A redrawn line on a terminal.
    Terminal(ProgressBar),
    /// Plain lines on stdout.
    Plain {
        /// When the last line was printed.
        last: Option<std::time::Instant>,
    },
}

impl View {
    /// A terminal view when stdout is a terminal, plain lines otherwise.
    pub fn for_stdout() -> Self {
        if std::io::stdout().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed_precise} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            View::Terminal(bar)
        } else {
            View::Plain { last: None }
        }
    }

    /// Shows a snapshot.
    pub fn show(&mut self, snapshot: &Snapshot) {
        match self {
            View::Terminal(bar) => {
                bar.set_message(snapshot.line());
                bar.tick();
            }
            View::Plain { last } => {
                if last.is_none_or(|l| l.elapsed() >= PLAIN_EVERY) {
                    println!("{}", snapshot.line());
                    *last = Some(std::time::Instant::now());
                }
            }
        }
    }

    /// Prints a line above the view (or as a plain line).
    pub fn note(&self, text: &str) {
        match self {
            View::Terminal(bar) => bar.println(text),
            View::Plain { .. } => println!("{text}"),
        }
    }

    /// Ends the view with the final snapshot as a plain line.
    pub fn finish(&mut self, snapshot: &Snapshot) {
        if let View::Terminal(bar) = self {
            bar.finish_and_clear();
        }
        println!("{}", snapshot.line());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_every_counter() {
        let snapshot = Snapshot {
            scraped: 3,
            put: 3,
            in_stream: 3,
            processed: 2,
            objects: vec![("RawBucket raw/* → ToParquet".into(), 1)],
            firehose: vec![("RawDeliveryStream".into(), 3, 1)],
            alerts: AlertCount::Current(1),
            retried_batches: 2,
            failures: 4,
        };
        assert_eq!(
            snapshot.line(),
            "scraped 3 · put 3 · in stream 3 · transformed 2 · RawDeliveryStream 3 in/1 objects · RawBucket raw/* → ToParquet 1 · alerts e-mailed 1 · failed batches 2 · failures 4"
        );
        let stale = Snapshot {
            alerts: AlertCount::Stale {
                count: 1,
                age_seconds: 20,
            },
            ..snapshot
        };
        assert!(
            stale
                .line()
                .contains(" · alerts e-mailed 1 (stale: read 20 s ago) · "),
            "{}",
            stale.line()
        );
    }
}
