//! Benchmark: the notify rule over a JSON-lines file, against `notify_baseline.py`.
//!
//! `notify INPUT.jsonl [--threshold-pct 1] [--threads N]`: parses and validates every line with
//! `quote_record::Quote::from_json`, keeps the last price per (symbol, UTC minute) and computes
//! the moves with the Lambda's own code (`notify::window`), then prints the alerts sorted by
//! (minute, symbol) in the baseline's format on stdout and a summary on stderr. Not a test: it
//! prints figures and asserts nothing. `runtime/notify/bench.sh` runs it beside the baseline.
//!
//! The file is streamed through a small buffer. With `--threads 2` each thread reads and parses
//! its own half of the file (split at a line boundary); the per-symbol windows are then merged in file order (the second half's rows come
//! later, so they win ties, as in one pass).

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::time::Instant;

use notify::window::{Threshold, Window, Windows, baseline_line};
use quote_record::Quote;

#[derive(Default)]
struct Part {
    valid: usize,
    invalid: usize,
    symbols: HashMap<String, Windows>,
}

impl Part {
    fn line(&mut self, line: &[u8]) {
        if line.is_empty() {
            return;
        }
        match Quote::from_json(line) {
            Ok(q) => {
                self.valid += 1;
                let windows = match self.symbols.get_mut(q.symbol().as_str()) {
                    Some(w) => w,
                    None => self
                        .symbols
                        .entry(q.symbol().as_str().to_owned())
                        .or_default(),
                };
                windows.observe(q.market_time().unix_micros(), q.price());
            }
            Err(_) => self.invalid += 1,
        }
    }
}

/// Streams the lines that start in `[start, end)` of the file through a 4 MiB buffer (no copy of
/// the whole file in memory). A range that does not start at 0 skips the partial line it starts
/// in: the previous range owns it.
fn scan_range(path: &str, start: u64, end: u64) -> std::io::Result<Part> {
    let mut part = Part::default();
    let mut file = File::open(path)?;
    let mut pos = start.saturating_sub(1);
    file.seek(SeekFrom::Start(pos))?;
    let mut skip_first = start > 0;
    let mut buf = vec![0u8; 4 << 20];
    let mut filled = 0;
    loop {
        let n = file.read(&mut buf[filled..])?;
        let eof = n == 0;
        filled += n;
        let mut consumed = 0;
        let mut done = false;
        while consumed < filled {
            let rest = &buf[consumed..filled];
            let (line, next) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&rest[..i], consumed + i + 1),
                None if eof => (rest, filled),
                None => break,
            };
            if skip_first {
                skip_first = false;
            } else if pos + consumed as u64 >= end {
                done = true;
                break;
            } else {
                part.line(line);
            }
            consumed = next;
        }
        if done || eof {
            return Ok(part);
        }
        buf.copy_within(consumed..filled, 0);
        pos += consumed as u64;
        filled -= consumed;
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0); // a line longer than the buffer
        }
    }
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
    let len = std::fs::metadata(&input)
        .unwrap_or_else(|e| panic!("cannot read {input}: {e}"))
        .len();
    let threads = threads.max(1) as u64;
    let parts: Vec<Part> = std::thread::scope(|s| {
        let input = &input;
        let handles: Vec<_> = (0..threads)
            .map(|i| s.spawn(move || scan_range(input, len * i / threads, len * (i + 1) / threads)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
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
        "valid={} invalid={} symbol_minutes={buckets} alerts={} threads={threads} parse_s={:.3} total_s={:.3}",
        total.valid,
        total.invalid,
        alerts.len(),
        parsed.as_secs_f64(),
        done.as_secs_f64()
    );
}
