//! Benchmark: the notify rule over a JSON-lines file, against `notify_baseline.py`.
//!
//! `notify INPUT.jsonl [--threshold-pct 1] [--threads N]`: parses and validates every line with
//! `quote_record::Quote::from_json`, keeps the last price per (symbol, UTC minute) and computes
//! the moves with the Lambda's own code (`notify::window`), then prints the alerts sorted by
//! (minute, symbol) in the baseline's format on stdout and a summary on stderr. Not a test: it
//! prints figures and asserts nothing. `runtime/notify/bench.sh` runs it beside the baseline.
//!
//! With `--threads 2` the file is split at a line boundary and each half is parsed on its own
//! thread; the per-symbol windows are then merged in file order (the second half's rows come
//! later, so they win ties, as in one pass).

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Instant;

use notify::window::{Threshold, Window, Windows, baseline_line};
use quote_record::Quote;

#[derive(Default)]
struct Part {
    valid: usize,
    invalid: usize,
    symbols: HashMap<String, Windows>,
}

fn scan(chunk: &[u8]) -> Part {
    let mut part = Part::default();
    for line in chunk.split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        match Quote::from_json(line) {
            Ok(q) => {
                part.valid += 1;
                let windows = match part.symbols.get_mut(q.symbol().as_str()) {
                    Some(w) => w,
                    None => part
                        .symbols
                        .entry(q.symbol().as_str().to_owned())
                        .or_default(),
                };
                windows.observe(q.market_time().unix_micros(), q.price());
            }
            Err(_) => part.invalid += 1,
        }
    }
    part
}

/// Splits `data` into `n` chunks at line boundaries.
fn chunks(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for i in 1..n {
        let mut end = (data.len() * i / n).max(start);
        while end < data.len() && data[end] != b'\n' {
            end += 1;
        }
        let end = (end + 1).min(data.len());
        out.push(&data[start..end]);
        start = end;
    }
    out.push(&data[start..]);
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut input = None;
    let mut threshold = Threshold::default();
    let mut threads = 1usize;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threshold-pct" => {
                threshold = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .and_then(Threshold::from_percent)
                    .expect("--threshold-pct needs a percentage > 0")
            }
            "--threads" => {
                threads = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--threads N")
            }
            "--bench" => {} // cargo bench passes it
            _ => input = Some(a),
        }
    }
    let input = input.expect("usage: notify INPUT.jsonl [--threshold-pct P] [--threads N]");
    let started = Instant::now();
    let data = std::fs::read(&input).unwrap_or_else(|e| panic!("cannot read {input}: {e}"));
    let read = started.elapsed();

    let parts: Vec<Part> = if threads <= 1 {
        vec![scan(&data)]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = chunks(&data, threads)
                .into_iter()
                .map(|c| s.spawn(move || scan(c)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    let parsed = started.elapsed();

    // Merge in file order: a later part's window replaces an earlier one when its market_time is
    // at least as late (a tie goes to the later row, as in one pass).
    let mut parts = parts.into_iter();
    let mut total = parts.next().unwrap_or_default();
    for part in parts {
        total.valid += part.valid;
        total.invalid += part.invalid;
        for (symbol, windows) in part.symbols {
            let into = total.symbols.entry(symbol).or_default();
            for (w, last) in windows.iter() {
                into.observe(last.market_time_us, last.price);
                debug_assert_eq!(Window::of_micros(last.market_time_us), w);
            }
        }
    }

    let mut alerts = Vec::new();
    let mut buckets = 0;
    for (symbol, windows) in &total.symbols {
        buckets += windows.len();
        for m in windows.moves(threshold, Window(i64::MIN)) {
            alerts.push((m.window, symbol.as_str(), m));
        }
    }
    alerts.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let mut out = String::with_capacity(alerts.len() * 80);
    for (_, symbol, m) in &alerts {
        out.push_str(&baseline_line(symbol, m));
        out.push('\n');
    }
    print!("{out}");
    let done = started.elapsed();
    eprintln!(
        "valid={} invalid={} symbol_minutes={buckets} alerts={} threads={threads} read_s={:.3} parse_s={:.3} total_s={:.3}",
        total.valid,
        total.invalid,
        alerts.len(),
        read.as_secs_f64(),
        (parsed - read).as_secs_f64(),
        done.as_secs_f64()
    );
}
