//! UTC timestamps: nanoseconds since the Unix epoch, with a small RFC 3339 parser and formatter.
//!
//! Hand-written rather than `time`/`jiff`/`chrono`: the record needs exactly one layout (RFC 3339 in
//! UTC), parsing it is on the hot path of every component, and a fixed-layout parser is a few dozen
//! lines that run in nanoseconds. `i64` nanoseconds are what InfluxDB takes, and cover 1677-09-21 to
//! 2262-04-11, which is plenty for market data.

use std::fmt;
use std::str::FromStr;

const NANOS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// A point in time in UTC, as whole nanoseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// The last valid `YYYY-MM-DD` parsed and its day number since the epoch. A record's two
/// timestamps almost always share their date, and this spares the second one the calendar
/// arithmetic. The all-zero start matches no valid date.
#[derive(Debug, Default)]
pub(crate) struct LastDate {
    date: [u8; 10],
    days: i64,
}

/// Why a text is not an RFC 3339 timestamp in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The text does not have the layout `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
    #[error("expected RFC 3339 `YYYY-MM-DDTHH:MM:SS[.fraction]Z`")]
    Layout,
    /// A date or time field is out of range (month 13, 30 February, hour 24, leap second 60).
    #[error("a date or time field is out of range")]
    FieldRange,
    /// The offset is not UTC (`Z`, `z` or `+00:00`); `-00:00` means "offset unknown" in RFC 3339.
    #[error("the time is not in UTC: write it with a `Z` offset")]
    NotUtc,
    /// The time cannot be held as `i64` nanoseconds (before 1677-09-21 or after 2262-04-11).
    #[error("the time is outside 1677-09-21..2262-04-11")]
    OutOfRange,
}

impl Timestamp {
    /// The Unix epoch, 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Self = Self(0);

    /// The timestamp `nanos` nanoseconds after the Unix epoch (negative: before it).
    pub const fn from_unix_nanos(nanos: i64) -> Self {
        Self(nanos)
    }

    /// The system clock now (the Unix epoch if the clock reads before it, the last representable
    /// instant after 2262-04-11).
    pub fn now() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        Self(nanos)
    }

    /// Nanoseconds since the Unix epoch (InfluxDB's `precision=ns`).
    pub const fn unix_nanos(self) -> i64 {
        self.0
    }

    /// Microseconds since the Unix epoch, rounded towards the past (Parquet's `TIMESTAMP(MICROS)`).
    pub const fn unix_micros(self) -> i64 {
        self.0.div_euclid(1_000)
    }

    /// Parses an RFC 3339 timestamp in UTC: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|z|+00:00)`.
    ///
    /// `t` is accepted for `T` as RFC 3339 allows. Digits of the fraction after the ninth are
    /// dropped (truncated), since the type holds nanoseconds. Leap seconds (`:60`) are rejected:
    /// Unix time cannot hold them.
    pub fn parse_rfc3339(text: &str) -> Result<Self, TimeError> {
        Self::parse_rfc3339_bytes(text.as_bytes(), &mut LastDate::default())
    }

    /// [`Timestamp::parse_rfc3339`] over bytes (the record reader's strings), reusing the day
    /// number of `last`'s date when the date is the same, and remembering this one's.
    pub(crate) fn parse_rfc3339_bytes(b: &[u8], last: &mut LastDate) -> Result<Self, TimeError> {
        /// Where the digits of `YYYY-MM-DDTHH:MM:SS` are.
        const DIGITS: [usize; 14] = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
        // The shortest form, `YYYY-MM-DDTHH:MM:SSZ`, has 20 bytes.
        let Some(head) = b.first_chunk::<20>() else {
            return Err(TimeError::Layout);
        };
        if head[4] != b'-'
            || head[7] != b'-'
            || !matches!(head[10], b'T' | b't')
            || head[13] != b':'
            || head[16] != b':'
            // Without short-circuits: straight-line code, one branch.
            || DIGITS
                .iter()
                .fold(false, |bad, &i| bad | !head[i].is_ascii_digit())
        {
            return Err(TimeError::Layout);
        }
        let two = |i: usize| i64::from(head[i] - b'0') * 10 + i64::from(head[i + 1] - b'0');
        let year = two(0) * 100 + two(2);
        let (month, day) = (two(5), two(8));
        let (hour, minute, second) = (two(11), two(14), two(17));
        let mut pos = 19;
        let mut nanos = 0i64;
        if head[pos] == b'.' {
            pos += 1;
            let start = pos;
            while let Some(&c) = b.get(pos)
                && c.is_ascii_digit()
            {
                // Digits after the ninth are dropped.
                if pos - start < 9 {
                    nanos = nanos * 10 + i64::from(c - b'0');
                }
                pos += 1;
            }
            if pos == start {
                return Err(TimeError::Layout);
            }
            nanos *= 10i64.pow(9 - (pos - start).min(9) as u32);
        }
        match &b[pos..] {
            b"Z" | b"z" | b"+00:00" => {}
            [b'+' | b'-', h1, h2, b':', m1, m2]
                if [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) =>
            {
                return Err(TimeError::NotUtc);
            }
            _ => return Err(TimeError::Layout),
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(TimeError::FieldRange);
        }
        let days = if head[..10] == last.date {
            last.days
        } else {
            if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
                return Err(TimeError::FieldRange);
            }
            let days = days_from_civil(year, month, day);
            last.date.copy_from_slice(&head[..10]);
            last.days = days;
            days
        };
        let secs = days * SECS_PER_DAY + hour * 3_600 + minute * 60 + second;
        // i128: the seconds of 1677-09-21 alone overflow i64 nanoseconds before the fraction is
        // added back.
        let total = i128::from(secs) * i128::from(NANOS_PER_SEC) + i128::from(nanos);
        i64::try_from(total)
            .map(Self)
            .map_err(|_| TimeError::OutOfRange)
    }

    /// Whole days since 1970-01-01 (UTC), rounded towards the past.
    pub const fn unix_days(self) -> i64 {
        self.0.div_euclid(NANOS_PER_SEC * SECS_PER_DAY)
    }

    /// Appends the UTC calendar date, `YYYY-MM-DD` (the curated data's `dt` partition).
    pub fn write_utc_date(self, out: &mut String) {
        let (y, m, d) = civil_from_days(self.unix_days());
        let mut buf = [0u8; 10];
        put(&mut buf[0..4], y);
        buf[4] = b'-';
        put(&mut buf[5..7], m);
        buf[7] = b'-';
        put(&mut buf[8..10], d);
        // Every byte written above is an ASCII digit or separator.
        out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
    }

    /// Appends the RFC 3339 form with a `Z` offset: no fraction for whole seconds, else 3, 6 or
    /// 9 fraction digits, the fewest that are exact (so parsing it back gives the same value).
    pub fn write_rfc3339(self, out: &mut String) {
        let secs = self.0.div_euclid(NANOS_PER_SEC);
        let nanos = self.0.rem_euclid(NANOS_PER_SEC);
        let (y, m, d) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
        let sod = secs.rem_euclid(SECS_PER_DAY);
        let mut buf = [0u8; 30];
        put(&mut buf[0..4], y);
        buf[4] = b'-';
        put(&mut buf[5..7], m);
        buf[7] = b'-';
        put(&mut buf[8..10], d);
        buf[10] = b'T';
        put(&mut buf[11..13], sod / 3_600);
        buf[13] = b':';
        put(&mut buf[14..16], sod / 60 % 60);
        buf[16] = b':';
        put(&mut buf[17..19], sod % 60);
        let mut len = 19;
        if nanos != 0 {
            buf[19] = b'.';
            let (width, value) = if nanos % 1_000_000 == 0 {
                (3, nanos / 1_000_000)
            } else if nanos % 1_000 == 0 {
                (6, nanos / 1_000)
            } else {
                (9, nanos)
            };
            put(&mut buf[20..20 + width], value);
            len = 20 + width;
        }
        buf[len] = b'Z';
        len += 1;
        // Every byte written above is an ASCII digit or separator.
        out.push_str(std::str::from_utf8(&buf[..len]).unwrap_or_default());
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(30);
        self.write_rfc3339(&mut s);
        f.write_str(&s)
    }
}

impl FromStr for Timestamp {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_rfc3339(s)
    }
}

/// Writes `value` as zero-padded decimal filling `buf`; the years we can hold have 4 digits.
fn put(buf: &mut [u8], mut value: i64) {
    for c in buf.iter_mut().rev() {
        *c = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Result<i64, TimeError> {
        Timestamp::parse_rfc3339(s).map(Timestamp::unix_nanos)
    }

    #[test]
    fn parses_utc_forms() {
        assert_eq!(ts("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(ts("2026-11-27T15:30:01Z"), Ok(1_795_793_401_000_000_000));
        assert_eq!(
            ts("2026-11-27T15:30:02.123Z"),
            Ok(1_795_793_402_123_000_000)
        );
        assert_eq!(
            ts("2026-11-27t15:30:02.123z"),
            Ok(1_795_793_402_123_000_000)
        );
        assert_eq!(
            ts("2026-11-27T15:30:02.123+00:00"),
            Ok(1_795_793_402_123_000_000)
        );
        assert_eq!(ts("1969-12-31T23:59:59.999999999Z"), Ok(-1));
        assert_eq!(
            ts("2024-02-29T00:00:00.1234567891Z"),
            ts("2024-02-29T00:00:00.123456789Z")
        );
    }

    #[test]
    fn rejects_each_rule() {
        for bad in [
            "",
            "2026-11-27",
            "2026-11-27 15:30:01Z",
            "2026-11-27T15:30:01",
            "2026-11-27T15:30:01.Z",
            "2026-11-27T15:30:01ZZ",
            "2026-1a-27T15:30:01Z",
            "yesterday",
            "2026-11-27T15:30:01+0000",
        ] {
            assert_eq!(ts(bad), Err(TimeError::Layout), "{bad}");
        }
        for bad in [
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-27T25:61:00Z",
            "2026-11-27T23:59:60Z",
            "2026-00-10T00:00:00Z",
            "2026-04-31T00:00:00Z",
        ] {
            assert_eq!(ts(bad), Err(TimeError::FieldRange), "{bad}");
        }
        assert_eq!(ts("2026-11-27T15:30:01-05:00"), Err(TimeError::NotUtc));
        assert_eq!(ts("2026-11-27T15:30:01-00:00"), Err(TimeError::NotUtc));
        assert_eq!(ts("2263-01-01T00:00:00Z"), Err(TimeError::OutOfRange));
    }

    #[test]
    fn formats_fewest_exact_digits() {
        for s in [
            "2026-11-27T15:30:01Z",
            "2026-11-27T15:30:02.123Z",
            "2026-11-27T15:30:02.123456Z",
            "2026-11-27T15:30:02.123456789Z",
            "1677-09-21T00:12:43.145224192Z",
            "2262-04-11T23:47:16.854775807Z",
            "1969-12-31T23:59:59.999999999Z",
            "2000-02-29T12:00:00Z",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(s).unwrap().to_string(), s);
        }
        assert_eq!(
            Timestamp::from_unix_nanos(i64::MIN).to_string(),
            "1677-09-21T00:12:43.145224192Z"
        );
    }

    #[test]
    fn a_remembered_date_gives_the_same_result() {
        let mut last = LastDate::default();
        for s in [
            "2026-11-27T15:30:01Z",
            "2026-11-27T23:59:59.5Z",
            "2026-11-28T00:00:00Z",
            "2026-11-28T00:00:00.1Z",
            "2026-02-30T00:00:00Z",
            "2026-02-30T00:00:01Z",
            "2024-02-29T12:00:00Z",
            "2024-02-29T25:00:00Z",
            "2024-02-29T12:00:00Q",
        ] {
            let fresh = Timestamp::parse_rfc3339(s);
            assert_eq!(
                Timestamp::parse_rfc3339_bytes(s.as_bytes(), &mut last),
                fresh,
                "{s}"
            );
        }
    }

    #[test]
    fn civil_round_trips_every_day_of_four_centuries() {
        for days in -200_000..200_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn utc_dates_round_towards_the_past() {
        let date = |s: &str| {
            let mut out = String::new();
            Timestamp::parse_rfc3339(s)
                .unwrap()
                .write_utc_date(&mut out);
            out
        };
        assert_eq!(date("2026-11-27T23:59:59.999999999Z"), "2026-11-27");
        assert_eq!(date("2026-11-28T00:00:00Z"), "2026-11-28");
        assert_eq!(date("1969-12-31T23:59:59Z"), "1969-12-31");
        assert_eq!(
            Timestamp::parse_rfc3339("1969-12-31T23:59:59Z")
                .unwrap()
                .unix_days(),
            -1
        );
    }

    #[test]
    fn micros_round_down() {
        assert_eq!(Timestamp::from_unix_nanos(-1).unix_micros(), -1);
        assert_eq!(Timestamp::from_unix_nanos(1_999).unix_micros(), 1);
    }
}
