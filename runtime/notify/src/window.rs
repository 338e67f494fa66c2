//! The alert rule, without I/O: one-minute UTC windows, the last price of each, and the moves
//! between adjacent windows that reach the threshold.
//!
//! The Lambda (on Parquet rows and the state object) and the benchmark (on JSON lines) run this
//! same code, and it follows `notify_baseline.py`:
//! - a window is one UTC minute of `market_time` (`floor(market_time / 60 s)`);
//! - per window the last price is the row with the latest `market_time`; on a tie, the later row;
//! - each window's last price is compared with the previous window *that has a price* (gaps and
//!   the overnight gap included): `move = (cur - prev) / prev`, alert when `|move| >= threshold`.

use std::collections::BTreeMap;
use std::fmt;

use quote_record::Timestamp;

/// Microseconds per window: the contract's [`lambda_contract::notify::WINDOW_SECONDS`] (one
/// minute), which Grafana's alert rule uses too.
pub const WINDOW_MICROS: i64 = lambda_contract::notify::WINDOW_SECONDS as i64 * 1_000_000;

/// Relative tolerance of the threshold comparison (the contract's, shared with Grafana's rule).
pub use lambda_contract::notify::THRESHOLD_TOLERANCE;

/// A window: the epoch minute of its start (`market_time` in minutes since 1970-01-01T00:00Z).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window(pub i64);

impl Window {
    /// The window holding a `market_time` given in microseconds since the epoch.
    pub fn of_micros(market_time_us: i64) -> Self {
        Self(market_time_us.div_euclid(WINDOW_MICROS))
    }

    /// The start of the window, in microseconds since the epoch.
    pub fn start_micros(self) -> i64 {
        self.0.saturating_mul(WINDOW_MICROS)
    }

    /// The start as `YYYY-MM-DDTHH:MMZ` (the baseline's format, and the state's).
    pub fn iso(self) -> String {
        let mut s = micros_rfc3339(self.start_micros());
        // `YYYY-MM-DDTHH:MM:SSZ`: keep the minutes, drop `:00`.
        s.truncate(16);
        s.push('Z');
        s
    }

    /// Parses [`Window::iso`]'s format back.
    pub fn parse_iso(text: &str) -> Option<Self> {
        let minutes = text.strip_suffix('Z')?;
        let t = Timestamp::parse_rfc3339(&format!("{minutes}:00Z")).ok()?;
        let us = t.unix_micros();
        (us.rem_euclid(WINDOW_MICROS) == 0).then(|| Self::of_micros(us))
    }
}

impl fmt::Display for Window {
    /// `YYYY-MM-DD HH:MMZ`, for people (the e-mail).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso().replacen('T', " ", 1))
    }
}

/// RFC 3339 text of a time given in microseconds since the epoch.
pub fn micros_rfc3339(us: i64) -> String {
    Timestamp::from_unix_nanos(us.saturating_mul(1_000)).to_string()
}

/// The last price seen in a window and when it was priced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Last {
    /// `market_time` of the price, microseconds since the epoch.
    pub market_time_us: i64,
    /// The price.
    pub price: f64,
}

impl Last {
    /// Whether `self` replaces `other` when two sources (objects, or an object and the state)
    /// disagree about a window: the later `market_time` wins; on a tie the higher price, so that
    /// the result does not depend on the order in which objects arrive.
    fn wins_over(&self, other: &Last) -> bool {
        self.market_time_us > other.market_time_us
            || (self.market_time_us == other.market_time_us
                && self.price.total_cmp(&other.price).is_gt())
    }
}

/// The last price of each window of one symbol, in window order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Windows(BTreeMap<Window, Last>);

impl Windows {
    /// No windows.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one row, in row order: it becomes its window's last price when its `market_time`
    /// is at least the current one's (a tie goes to the later row, as in the baseline).
    pub fn observe(&mut self, market_time_us: i64, price: f64) {
        let window = Window::of_micros(market_time_us);
        let last = Last {
            market_time_us,
            price,
        };
        self.0
            .entry(window)
            .and_modify(|cur| {
                if market_time_us >= cur.market_time_us {
                    *cur = last;
                }
            })
            .or_insert(last);
    }

    /// Sets a window's last price unless the one already there wins (see [`Last`]). Returns
    /// whether anything changed.
    pub fn merge_one(&mut self, window: Window, last: Last) -> bool {
        match self.0.get_mut(&window) {
            Some(cur) if !last.wins_over(cur) => false,
            Some(cur) => {
                *cur = last;
                true
            }
            None => {
                self.0.insert(window, last);
                true
            }
        }
    }

    /// Merges every window of `other` (commutative and idempotent: the result does not depend on
    /// the order of merges). Returns how many windows changed.
    pub fn merge(&mut self, other: &Windows) -> usize {
        other.iter().filter(|(w, l)| self.merge_one(*w, *l)).count()
    }

    /// Windows in order with their last price.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (Window, Last)> + '_ {
        self.0.iter().map(|(w, l)| (*w, *l))
    }

    /// The number of windows.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no window.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The newest window.
    pub fn newest(&self) -> Option<Window> {
        self.0.keys().next_back().copied()
    }

    /// The oldest window.
    pub fn oldest(&self) -> Option<Window> {
        self.0.keys().next().copied()
    }

    /// Drops the windows whose last price is priced after `market_time_us` (microseconds since
    /// the epoch). Returns how many were dropped.
    pub fn drop_priced_after(&mut self, market_time_us: i64) -> usize {
        let before = self.0.len();
        self.0
            .retain(|_, last| last.market_time_us <= market_time_us);
        before - self.0.len()
    }

    /// Drops the windows before `cutoff`, except the newest of them: it stays as the reference
    /// price of the first window at or after `cutoff` (a long weekend must not lose it).
    pub fn prune_before(&mut self, cutoff: Window) {
        let mut keep = self.0.split_off(&cutoff);
        if let Some((w, l)) = self.0.pop_last() {
            keep.insert(w, l);
        }
        self.0 = keep;
    }

    /// Every move between adjacent windows whose window is at least `from` and that reaches
    /// `threshold`, in window order.
    pub fn moves(&self, threshold: Threshold, from: Window) -> Vec<Move> {
        let mut out = Vec::new();
        let mut prev: Option<(Window, Last)> = None;
        for (window, last) in self.iter() {
            if let Some((prev_window, prev_last)) = prev
                && window >= from
                && threshold.reached(prev_last.price, last.price)
            {
                out.push(Move {
                    prev_window,
                    prev: prev_last,
                    window,
                    cur: last,
                });
            }
            prev = Some((window, last));
        }
        out
    }
}

impl FromIterator<(Window, Last)> for Windows {
    fn from_iter<I: IntoIterator<Item = (Window, Last)>>(iter: I) -> Self {
        let mut w = Windows::new();
        for (window, last) in iter {
            w.merge_one(window, last);
        }
        w
    }
}

/// The alert threshold: a fraction (0.01 for 1%), finite and > 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    percent: f64,
}

impl Threshold {
    /// The threshold of `percent` percent (1.0 for 1%); `None` unless finite and > 0.
    pub fn from_percent(percent: f64) -> Option<Self> {
        (percent.is_finite() && percent > 0.0).then_some(Self { percent })
    }

    /// The threshold in percent, as configured.
    pub fn percent(self) -> f64 {
        self.percent
    }

    /// The threshold as a fraction.
    pub fn fraction(self) -> f64 {
        self.percent / 100.0
    }

    /// Whether the move from `prev` to `cur` (both > 0) reaches the threshold, within
    /// [`THRESHOLD_TOLERANCE`].
    pub fn reached(self, prev: f64, cur: f64) -> bool {
        (cur - prev).abs() / prev >= self.fraction() * (1.0 - THRESHOLD_TOLERANCE)
    }
}

impl Default for Threshold {
    /// 1%.
    fn default() -> Self {
        Self { percent: 1.0 }
    }
}

impl fmt::Display for Threshold {
    /// `1%`, `0.5%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.percent)
    }
}

/// A move that reached the threshold: a window's last price against the previous window's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Move {
    /// The previous window with a price.
    pub prev_window: Window,
    /// Its last price.
    pub prev: Last,
    /// The window that moved.
    pub window: Window,
    /// Its last price.
    pub cur: Last,
}

impl Move {
    /// The move in percent, `(cur - prev) / prev * 100` (the baseline's formula).
    pub fn percent(&self) -> f64 {
        (self.cur.price - self.prev.price) / self.prev.price * 100.0
    }

    /// The alert's identity for a symbol: `SYMBOL/window/previous window`. The same pair of
    /// windows is the same alert, whatever invocation computes it.
    pub fn id(&self, symbol: &str) -> String {
        format!("{symbol}/{}/{}", self.window.iso(), self.prev_window.iso())
    }
}

/// A float as Python's `repr` writes it (shortest round-trip digits, `191.0` for integral values,
/// exponent form below 1e-4 and from 1e16), so benchmark output compares byte for byte.
pub fn py_repr(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        // Rust: `1.5e-5`, `1e16`; Python: `1.5e-05`, `1e+16`.
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        return format!("{mantissa}e{sign}{digits:0>2}");
    }
    let s = format!("{v}");
    if s.contains('.') { s } else { s + ".0" }
}

/// One alert line in the baseline's format:
/// `2026-11-26T15:31Z AAPL 189.23 -> 191.4 +1.15% (vs 2026-11-26T15:30Z)`.
pub fn baseline_line(symbol: &str, m: &Move) -> String {
    format!(
        "{} {symbol} {} -> {} {:+.2}% (vs {})",
        m.window.iso(),
        py_repr(m.prev.price),
        py_repr(m.cur.price),
        m.percent(),
        m.prev_window.iso()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_795_793_400_000_000; // 2026-11-27T15:30:00Z

    fn at(minute: i64, second: i64) -> i64 {
        T0 + minute * WINDOW_MICROS + second * 1_000_000
    }

    fn series(prices: &[(i64, f64)]) -> Windows {
        let mut w = Windows::new();
        for &(minute, price) in prices {
            w.observe(at(minute, 30), price);
        }
        w
    }

    #[test]
    fn windows_are_utc_minutes() {
        assert_eq!(Window::of_micros(T0).iso(), "2026-11-27T15:30Z");
        assert_eq!(Window::of_micros(at(0, 59)).iso(), "2026-11-27T15:30Z");
        assert_eq!(Window::of_micros(at(1, 0)).iso(), "2026-11-27T15:31Z");
        assert_eq!(Window::of_micros(-1).iso(), "1969-12-31T23:59Z");
        assert_eq!(Window::of_micros(T0).to_string(), "2026-11-27 15:30Z");
        let w = Window::of_micros(at(7, 3));
        assert_eq!(Window::parse_iso(&w.iso()), Some(w));
        assert_eq!(Window::parse_iso("2026-11-27T15:30"), None);
        assert_eq!(Window::parse_iso("2026-11-27T15:30:01Z"), None);
    }

    #[test]
    fn last_price_is_the_latest_market_time_and_ties_go_to_the_later_row() {
        let mut w = Windows::new();
        w.observe(at(0, 50), 10.0);
        w.observe(at(0, 10), 11.0); // earlier in the window: ignored
        assert_eq!(w.iter().next().map(|(_, l)| l.price), Some(10.0));
        w.observe(at(0, 50), 12.0); // tie: the later row wins
        assert_eq!(w.iter().next().map(|(_, l)| l.price), Some(12.0));
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn merge_is_order_independent() {
        let a = series(&[(0, 100.0), (2, 103.0)]);
        let mut b = series(&[(1, 101.0)]);
        b.observe(at(2, 40), 99.0); // later in window 2 than a's price
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        assert_eq!(ab, ba);
        assert_eq!(ab.len(), 3);
        assert_eq!(ab.iter().last().map(|(_, l)| l.price), Some(99.0));
        // Idempotent.
        assert_eq!(ab.merge(&a), 0);
        // Same market_time in two objects: the higher price, whichever comes first.
        let tie = |p| Last {
            market_time_us: at(5, 0),
            price: p,
        };
        let mut x = Windows::new();
        x.merge_one(Window::of_micros(at(5, 0)), tie(1.0));
        x.merge_one(Window::of_micros(at(5, 0)), tie(2.0));
        let mut y = Windows::new();
        y.merge_one(Window::of_micros(at(5, 0)), tie(2.0));
        y.merge_one(Window::of_micros(at(5, 0)), tie(1.0));
        assert_eq!(x, y);
    }

    #[test]
    fn threshold_edges() {
        let t = Threshold::default();
        assert!(t.reached(100.0, 101.0)); // +1.00%
        assert!(t.reached(250.0, 247.5)); // -1.00%
        assert!(t.reached(110.0, 111.1)); // +1.00%, 0.009999999999999948 in binary
        assert!(t.reached(189.23, 191.4));
        assert!(!t.reached(100.0, 100.99)); // +0.99%
        assert!(!t.reached(100.0, 99.01)); // -0.99%
        assert!(!t.reached(110.0, 111.089)); // +0.99%
        let half = Threshold::from_percent(0.5).unwrap();
        assert!(half.reached(200.0, 201.0));
        assert!(!half.reached(200.0, 200.99));
        assert_eq!(half.to_string(), "0.5%");
        assert_eq!(t.to_string(), "1%");
        assert_eq!(Threshold::from_percent(0.0), None);
        assert_eq!(Threshold::from_percent(f64::NAN), None);
        assert_eq!(Threshold::from_percent(-1.0), None);
    }

    #[test]
    fn moves_compare_with_the_previous_window_that_has_a_price() {
        // Gap at minutes 1-2: minute 3 compares with minute 0.
        let w = series(&[(0, 100.0), (3, 101.0), (4, 100.5), (5, 98.0)]);
        let moves = w.moves(Threshold::default(), Window(i64::MIN));
        assert_eq!(moves.len(), 2);
        assert_eq!(moves[0].prev_window, Window::of_micros(at(0, 0)));
        assert_eq!(moves[0].window, Window::of_micros(at(3, 0)));
        assert!((moves[0].percent() - 1.0).abs() < 1e-12);
        assert_eq!(moves[1].prev.price, 100.5);
        assert!(moves[1].percent() < -2.48);
        assert_eq!(
            moves[1].id("AAPL"),
            "AAPL/2026-11-27T15:35Z/2026-11-27T15:34Z"
        );
        // `from` limits the moves, not the reference prices.
        let later = w.moves(Threshold::default(), Window::of_micros(at(4, 0)));
        assert_eq!(later, moves[1..].to_vec());
    }

    #[test]
    fn prune_keeps_the_reference_window() {
        let mut w = series(&[(0, 1.0), (1, 2.0), (5, 3.0), (6, 4.0)]);
        w.prune_before(Window::of_micros(at(4, 0)));
        let kept: Vec<f64> = w.iter().map(|(_, l)| l.price).collect();
        assert_eq!(kept, [2.0, 3.0, 4.0]);
        w.prune_before(Window::of_micros(at(6, 0)));
        assert_eq!(w.len(), 2);
        assert_eq!(w.oldest(), Some(Window::of_micros(at(5, 0))));
    }

    #[test]
    fn python_repr() {
        assert_eq!(py_repr(191.0), "191.0");
        assert_eq!(py_repr(189.23), "189.23");
        assert_eq!(py_repr(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(py_repr(0.0001), "0.0001");
        assert_eq!(py_repr(0.000015), "1.5e-05");
        assert_eq!(py_repr(1e16), "1e+16");
        assert_eq!(py_repr(1234567890123456.0), "1234567890123456.0");
        let m = Move {
            prev_window: Window::of_micros(at(0, 0)),
            prev: Last {
                market_time_us: at(0, 1),
                price: 189.23,
            },
            window: Window::of_micros(at(1, 0)),
            cur: Last {
                market_time_us: at(1, 1),
                price: 191.4,
            },
        };
        assert_eq!(
            baseline_line("AAPL", &m),
            "2026-11-27T15:31Z AAPL 189.23 -> 191.4 +1.15% (vs 2026-11-27T15:30Z)"
        );
    }
}
