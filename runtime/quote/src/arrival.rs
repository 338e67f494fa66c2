//! The time-sanity rule (DESIGN.md §1): a record's times against when it arrived.
//!
//! A record carries two times written by others (`market_time` from the page, `scraped_at` from
//! the scraper's clock). Checked only against each other, a record whose times are both years
//! ahead passes, and then it is written to InfluxDB, makes a `dt=2031-…` Parquet partition and
//! moves notify's per-symbol state into the future. So every consumer also checks both times
//! against an instant it trusts, "arrived at": the Kinesis arrival time (transform), the raw
//! object's creation time (to-parquet), its own clock (notify, and the scraper when it makes the
//! record). A record outside the window is rejected with [`Invalid::AheadOfArrival`] or
//! [`Invalid::TooOld`]; the consumer quarantines (or drops) it, and it never moves any state.
//!
//! The check compares two integers per time: it adds nothing measurable to the hot path.

use std::fmt;

use crate::{Field, Invalid, Quote, Timestamp};

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// How far `market_time` or `scraped_at` may be ahead of the arrival time: 5 minutes.
///
/// Clocks of the scraper (EC2 with the Amazon Time Sync Service), Kinesis, S3 and Lambda agree
/// to well under a second, so a later time means a wrong clock or a wrong page. The lead is the
/// same five minutes that `market_time` may be ahead of `scraped_at`
/// ([`crate::MAX_MARKET_TIME_LEAD_NANOS`], an exchange clock running ahead), so a record that
/// passes that rule and was sent at once also passes this one.
pub const MAX_ARRIVAL_LEAD_NANOS: i64 = 5 * 60 * NANOS_PER_SEC;

/// How far `market_time` or `scraped_at` may be before the arrival time: 400 days.
///
/// Legitimate delays between a time and its arrival, and why they fit:
/// - Firehose reads the stream and buffers up to 900 s; when S3 delivery fails it retries for
///   24 hours, and when it falls behind it reads records up to the stream's retention, which
///   Kinesis allows up to 365 days. So a raw object can be created 366 days after its records
///   were scraped (the transform Lambda is not affected: its reference is the record's own
///   Kinesis arrival time, however late it is processed).
/// - `market_time` is the exchange's last trade: days old over a long holiday, months old for a
///   suspended stock; a backfill puts old quotes on the stream (arriving now).
/// - to-parquet replays of the raw bucket keep each object's own time, so they are judged like
///   the first run.
///
/// 400 days covers all of these with a margin, and still rejects what a broken page or parser
/// writes: the epoch (1970), a two-digit year read as 19xx or 20xx, a time off by years. Points
/// older than a database's retention (an InfluxDB retention policy or bucket, VictoriaMetrics'
/// `-retentionPeriod`) but younger than this bound are still sent; set those retentions longer
/// than the backfills you intend, since the database drops such points.
pub const MAX_ARRIVAL_AGE_NANOS: i64 = 400 * 86_400 * NANOS_PER_SEC;

/// Checks one of the record's times against the arrival time `arrived_at` (see the module
/// documentation): `time` may be at most [`MAX_ARRIVAL_LEAD_NANOS`] after it and at most
/// [`MAX_ARRIVAL_AGE_NANOS`] before it; both bounds are inclusive.
///
/// `field` names the time in the reason ([`Field::MarketTime`] or [`Field::ScrapedAt`]). Use it
/// where only one time is at hand (notify reads `market_time` from Parquet); for a whole record
/// use [`Quote::check_arrival`].
pub fn check_arrival_time(
    field: Field,
    time: Timestamp,
    arrived_at: Timestamp,
) -> Result<(), Invalid> {
    let (t, at) = (time.unix_nanos(), arrived_at.unix_nanos());
    // Saturating: a bound beyond the i64 range is no bound, since no time lies beyond it.
    if t > at.saturating_add(MAX_ARRIVAL_LEAD_NANOS) {
        Err(Invalid::AheadOfArrival {
            field,
            time,
            arrived_at,
        })
    } else if t < at.saturating_sub(MAX_ARRIVAL_AGE_NANOS) {
        Err(Invalid::TooOld {
            field,
            time,
            arrived_at,
        })
    } else {
        Ok(())
    }
}

/// The latest time any state may hold when the clock reads `now`: `now` +
/// [`MAX_ARRIVAL_LEAD_NANOS`]. Anything later came from a record that [`check_arrival_time`]
/// rejects (or from before the rule existed), and must not count as "newest".
pub fn latest_plausible(now: Timestamp) -> Timestamp {
    Timestamp::from_unix_nanos(now.unix_nanos().saturating_add(MAX_ARRIVAL_LEAD_NANOS))
}

impl Quote {
    /// Checks `market_time`, then `scraped_at`, against the arrival time `arrived_at` with
    /// [`check_arrival_time`]. Every consumer calls this after [`Quote::from_json`] (or building
    /// the record), with its own reference instant.
    pub fn check_arrival(&self, arrived_at: Timestamp) -> Result<(), Invalid> {
        check_arrival_time(Field::MarketTime, self.market_time, arrived_at)?;
        check_arrival_time(Field::ScrapedAt, self.scraped_at, arrived_at)
    }
}

/// A duration in nanoseconds for messages: `400d`, `5m`, `3d 4h 0.5s`, the zero parts left out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span(pub(crate) i128);

impl Span {
    /// The distance between two times, always non-negative.
    pub(crate) fn between(a: Timestamp, b: Timestamp) -> Self {
        Self((i128::from(a.unix_nanos()) - i128::from(b.unix_nanos())).abs())
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SEC: i128 = NANOS_PER_SEC as i128;
        let (secs, nanos) = (self.0 / SEC, self.0 % SEC);
        let parts = [
            (secs / 86_400, "d"),
            (secs / 3_600 % 24, "h"),
            (secs / 60 % 60, "m"),
        ];
        let mut sep = "";
        for (value, unit) in parts {
            if value != 0 {
                write!(f, "{sep}{value}{unit}")?;
                sep = " ";
            }
        }
        let s = secs % 60;
        if nanos != 0 {
            let fraction = format!("{nanos:09}");
            write!(f, "{sep}{s}.{}s", fraction.trim_end_matches('0'))
        } else if s != 0 || sep.is_empty() {
            write!(f, "{sep}{s}s")
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_well() {
        let s = |n: i128| Span(n).to_string();
        assert_eq!(s(0), "0s");
        assert_eq!(s(i128::from(MAX_ARRIVAL_LEAD_NANOS)), "5m");
        assert_eq!(s(i128::from(MAX_ARRIVAL_AGE_NANOS)), "400d");
        assert_eq!(s(i128::from(MAX_ARRIVAL_LEAD_NANOS) + 1), "5m 0.000000001s");
        assert_eq!(
            s((86_400 + 3_600) * 1_000_000_000 + 500_000_000),
            "1d 1h 0.5s"
        );
        assert_eq!(s(59 * 1_000_000_000), "59s");
    }
}
