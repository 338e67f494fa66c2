//! The e-mail: an SNS `Subject` a person can triage from, and a plain-text `Message`.
//!
//! SNS constraints on `Subject` (Publish API reference): less than 100 characters, no line breaks
//! or control characters. The current reference says UTF-8 text; older revisions said ASCII, and
//! e-mail subjects travel as 7-bit headers, so the subject is plain ASCII (`>=`, `...`) and at
//! most [`MAX_SUBJECT_CHARS`] characters.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::window::{Move, Threshold, micros_rfc3339};

/// The longest subject written (SNS: "less than 100 characters").
pub const MAX_SUBJECT_CHARS: usize = 99;

/// One alert of an e-mail: a symbol and its move.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The symbol.
    pub symbol: String,
    /// The move.
    pub movement: Move,
}

/// Signed percentage with two decimals: `+1.40%`, `-1.02%`.
pub fn signed_percent(pct: f64) -> String {
    format!("{pct:+.2}%")
}

/// The subject: `3 symbols moved >=1%: AAPL +1.40%, MSFT -1.02%, ...`, one entry per symbol with
/// its biggest absolute move (and `(N moves)` when it has several), biggest first, cut at an entry
/// boundary with `...` so it stays within [`MAX_SUBJECT_CHARS`].
pub fn subject(alerts: &[Alert], threshold: Threshold) -> String {
    // Per symbol: the biggest absolute move and the number of moves.
    let mut per_symbol: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    for a in alerts {
        let pct = a.movement.percent();
        let e = per_symbol.entry(&a.symbol).or_insert((pct, 0));
        if pct.abs() > e.0.abs() {
            e.0 = pct;
        }
        e.1 += 1;
    }
    let mut entries: Vec<(&str, f64, usize)> = per_symbol
        .into_iter()
        .map(|(s, (p, n))| (s, p, n))
        .collect();
    // Biggest absolute move first; ties by symbol (the map's order, kept by a stable sort).
    entries.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    let n = entries.len();
    let mut out = format!(
        "{n} symbol{} moved >={threshold}:",
        if n == 1 { "" } else { "s" }
    );
    const MORE: &str = ", ...";
    for (i, (symbol, pct, count)) in entries.iter().enumerate() {
        let sep = if i == 0 { " " } else { ", " };
        let mut item = format!("{sep}{symbol} {}", signed_percent(*pct));
        if *count > 1 {
            let _ = write!(item, " ({count} moves)");
        }
        let room_for_more = if i + 1 < n { MORE.len() } else { 0 };
        if out.chars().count() + item.chars().count() + room_for_more > MAX_SUBJECT_CHARS {
            out.push_str(if i == 0 { " ..." } else { MORE });
            break;
        }
        out.push_str(&item);
    }
    truncate_chars(&mut out, MAX_SUBJECT_CHARS);
    out
}

/// Cuts `s` to at most `max` characters, on a character boundary.
fn truncate_chars(s: &mut String, max: usize) {
    if let Some((i, _)) = s.char_indices().nth(max) {
        s.truncate(i);
    }
}

/// The body: a summary line, one line per move (symbol, signed percentage, previous price with
/// its time and window, new price with its time and window), the threshold and the source object.
/// Moves are ordered by symbol, then window.
pub fn body(alerts: &[Alert], threshold: Threshold, bucket: &str, key: &str) -> String {
    let mut sorted: Vec<&Alert> = alerts.iter().collect();
    sorted.sort_by(|a, b| {
        a.symbol
            .cmp(&b.symbol)
            .then(a.movement.window.cmp(&b.movement.window))
    });
    let mut out = String::new();
    let moves = alerts.len();
    let _ = writeln!(
        out,
        "{moves} price move{} of at least {threshold} between one-minute windows:\n",
        if moves == 1 { "" } else { "s" }
    );
    for a in sorted {
        let m = &a.movement;
        let _ = writeln!(
            out,
            "{} {}: {} (at {}, window {}) -> {} (at {}, window {})",
            a.symbol,
            signed_percent(m.percent()),
            m.prev.price,
            human_time(m.prev.market_time_us),
            m.prev_window,
            m.cur.price,
            human_time(m.cur.market_time_us),
            m.window,
        );
    }
    let _ = write!(
        out,
        "\nThreshold: {threshold} (absolute move of a window's last price against the previous \
         window with a price; windows are UTC minutes of market_time).\nSource object: s3://{bucket}/{key}\n"
    );
    out
}

/// `2026-11-27 15:31:42Z` (fraction kept when there is one).
fn human_time(us: i64) -> String {
    micros_rfc3339(us).replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::{Last, Window};

    const T0: i64 = 1_795_793_400_000_000; // 2026-11-27T15:30:00Z

    fn alert(symbol: &str, minute: i64, prev: f64, cur: f64) -> Alert {
        let t = |m: i64| T0 + m * 60_000_000 + 42_000_000;
        Alert {
            symbol: symbol.into(),
            movement: Move {
                prev_window: Window::of_micros(t(minute - 1)),
                prev: Last {
                    market_time_us: t(minute - 1),
                    price: prev,
                },
                window: Window::of_micros(t(minute)),
                cur: Last {
                    market_time_us: t(minute),
                    price: cur,
                },
            },
        }
    }

    #[test]
    fn subject_lists_biggest_moves_first() {
        let alerts = [
            alert("MSFT", 1, 100.0, 98.98),
            alert("AAPL", 1, 100.0, 101.4),
            alert("NVDA", 1, 100.0, 103.0),
            alert("AAPL", 2, 101.4, 100.0),
        ];
        assert_eq!(
            subject(&alerts, Threshold::default()),
            "3 symbols moved >=1%: NVDA +3.00%, AAPL +1.40% (2 moves), MSFT -1.02%"
        );
        assert_eq!(
            subject(&alerts[1..2], Threshold::from_percent(0.5).unwrap()),
            "1 symbol moved >=0.5%: AAPL +1.40%"
        );
    }

    #[test]
    fn subject_is_cut_at_an_entry_to_fit() {
        let alerts: Vec<Alert> = (0..20)
            .map(|i| alert(&format!("SYM{i:02}"), 1, 100.0, 110.0 + f64::from(i)))
            .collect();
        let s = subject(&alerts, Threshold::default());
        assert!(s.chars().count() <= MAX_SUBJECT_CHARS, "{s}");
        assert!(
            s.starts_with("20 symbols moved >=1%: SYM19 +29.00%, SYM18 +28.00%"),
            "{s}"
        );
        assert!(s.ends_with("%, ..."), "{s}");
        assert!(s.is_ascii() && !s.contains(['\n', '\r']));
        // Exactly at the limit the last entry stays without "...".
        for n in 1..20 {
            let s = subject(&alerts[..n], Threshold::default());
            assert!(s.chars().count() <= MAX_SUBJECT_CHARS, "{s}");
        }
        let mut long = "é".repeat(120);
        truncate_chars(&mut long, 99);
        assert_eq!(long.chars().count(), 99);
    }

    #[test]
    fn body_lines() {
        let alerts = [
            alert("MSFT", 1, 250.0, 247.5),
            alert("AAPL", 2, 100.0, 101.0),
        ];
        let b = body(
            &alerts,
            Threshold::default(),
            "curated",
            "quotes/symbol=AAPL/dt=2026-11-27/a.parquet",
        );
        assert_eq!(
            b,
            "2 price moves of at least 1% between one-minute windows:\n\n\
             AAPL +1.00%: 100 (at 2026-11-27 15:31:42Z, window 2026-11-27 15:31Z) -> 101 (at 2026-11-27 15:32:42Z, window 2026-11-27 15:32Z)\n\
             MSFT -1.00%: 250 (at 2026-11-27 15:30:42Z, window 2026-11-27 15:30Z) -> 247.5 (at 2026-11-27 15:31:42Z, window 2026-11-27 15:31Z)\n\
             \nThreshold: 1% (absolute move of a window's last price against the previous window with a price; windows are UTC minutes of market_time).\n\
             Source object: s3://curated/quotes/symbol=AAPL/dt=2026-11-27/a.parquet\n"
        );
    }
}
