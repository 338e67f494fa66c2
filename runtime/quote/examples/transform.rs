//! Benchmark: JSONL quotes -> validated records -> InfluxDB line protocol, on one core.
//!
//! Usage: `transform INPUT.jsonl [--out FILE] [--repeat N]`
//! Reads the whole file first, then times decode + validate + encode of every line (the work of
//! the transform Lambda) and prints records/s; `--out` writes the line protocol (one point per
//! valid record, newline-terminated) for comparison with the Python baseline.

use std::collections::BTreeMap;
use std::time::Instant;

use quote_record::Quote;

/// Lines of a buffer, found with `memchr` (the Lambda gets records one by one; this keeps the
/// benchmark's own overhead out of the figure).
struct Lines<'a>(&'a [u8]);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.0.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', self.0).unwrap_or(self.0.len());
        let line = &self.0[..end];
        self.0 = self.0.get(end + 1..).unwrap_or_default();
        Some(line)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut input = None;
    let mut out_path = None;
    let mut repeat = 1usize;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out_path = args.next(),
            "--repeat" => repeat = args.next().ok_or("--repeat needs a number")?.parse()?,
            _ => input = Some(a),
        }
    }
    let input = input.ok_or("usage: transform INPUT.jsonl [--out FILE] [--repeat N]")?;
    let data = std::fs::read(&input)?;

    let mut best = f64::INFINITY;
    let mut out = String::new();
    let mut lines = 0usize;
    let mut reasons: BTreeMap<&'static str, usize> = BTreeMap::new();
    for _ in 0..repeat {
        out = String::with_capacity(data.len());
        reasons.clear();
        lines = 0;
        let start = Instant::now();
        for line in Lines(&data) {
            if line.is_empty() {
                continue;
            }
            lines += 1;
            match Quote::from_json(line) {
                Ok(q) => {
                    q.write_line_protocol(&mut out);
                    out.push('\n');
                }
                Err(e) => *reasons.entry(e.code()).or_default() += 1,
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    let invalid: usize = reasons.values().sum();
    eprintln!(
        "valid={} invalid={invalid} reasons={reasons:?}",
        lines - invalid
    );
    println!(
        "records_per_s={:.0} lines={lines} seconds={best:.4}",
        lines as f64 / best
    );
    if let Some(p) = out_path {
        std::fs::write(p, out)?;
    }
    Ok(())
}
