//! The record benchmark (run by `runtime/quote/bench.sh`): JSONL quotes -> validated records ->
//! InfluxDB line protocol, on one core.
//!
//! Usage: `record INPUT.jsonl [--out FILE] [--repeat N]`
//! - With `--repeat N`: reads the whole file first, then times N rounds of decode + validate
//!   (with the time-sanity rule) + encode of every line in memory (the work of the transform Lambda) after an untimed first
//!   round, and prints the best round's records/s.
//! - Without: one streaming pass, reading and writing 1 MiB at a time as a real job would, timed
//!   whole (for the whole-process comparison with the Python baseline).
//!
//! `--out` writes the line protocol (one point per valid record, newline-terminated) for
//! comparison with the Python baseline.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::time::Instant;

use quote_record::{Quote, Timestamp};

/// The arrival instant every record is checked against (the time-sanity rule, as the Lambda checks
/// the Kinesis arrival time): 2026-11-28T00:00:00Z, after every record of the benchmark data
/// (26 and 27 November 2026).
const ARRIVED_AT: Timestamp = Timestamp::from_unix_nanos(1_795_824_000_000_000_000);

/// How much is read or written at a time when streaming.
const CHUNK: usize = 1 << 20;

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

/// Records seen and why the invalid ones were rejected.
#[derive(Default)]
struct Tally {
    lines: usize,
    reasons: BTreeMap<&'static str, usize>,
}

impl Tally {
    /// Transforms every non-empty line of `data`, appending the points to `out`.
    fn transform(&mut self, data: &[u8], out: &mut Vec<u8>) {
        for line in Lines(data) {
            if line.is_empty() {
                continue;
            }
            self.lines += 1;
            match Quote::from_json(line).and_then(|q| q.check_arrival(ARRIVED_AT).map(|()| q)) {
                Ok(q) => {
                    q.write_line_protocol(out);
                    out.push(b'\n');
                }
                Err(e) => *self.reasons.entry(e.code()).or_default() += 1,
            }
        }
    }
}

/// N timed rounds over the file in memory; the best round's seconds.
///
/// The points go to a 1 MiB buffer that is emptied as it fills, as the Lambda's request bodies
/// are: a buffer the size of the file would make every round stream 180 MB of output through
/// memory, which measures the memory bus more than the code. An untimed first round writes
/// `out_path`.
fn in_memory(input: &str, repeat: usize, out_path: Option<&str>) -> std::io::Result<(Tally, f64)> {
    let data = std::fs::read(input)?;
    let mut sink: Option<Box<dyn Write>> = match out_path {
        Some(p) => Some(Box::new(File::create(p)?)),
        None => None,
    };
    let mut best = f64::INFINITY;
    let mut out = Vec::with_capacity(2 * CHUNK);
    let mut tally = Tally::default();
    for round in 0..=repeat {
        tally = Tally::default();
        let start = Instant::now();
        let mut rest = &data[..];
        while !rest.is_empty() {
            // About 1 MiB of whole lines.
            let end = match memchr::memchr(b'\n', rest.get(CHUNK..).unwrap_or_default()) {
                Some(i) => CHUNK + i + 1,
                None => rest.len(),
            };
            tally.transform(&rest[..end], &mut out);
            rest = &rest[end..];
            if let Some(sink) = sink.as_mut() {
                sink.write_all(&out)?;
            }
            out.clear();
        }
        if round == 0 {
            // The warm-up round: it wrote the output.
            sink = None;
        } else {
            best = best.min(start.elapsed().as_secs_f64());
        }
    }
    Ok((tally, best))
}

/// One pass reading and writing a chunk at a time; its seconds, reading and writing included.
fn streaming(input: &str, out_path: Option<&str>) -> std::io::Result<(Tally, f64)> {
    let start = Instant::now();
    let mut file = File::open(input)?;
    let mut sink: Box<dyn Write> = match out_path {
        Some(p) => Box::new(File::create(p)?),
        None => Box::new(std::io::sink()),
    };
    let mut tally = Tally::default();
    let mut buf = vec![0; CHUNK];
    let mut out = Vec::with_capacity(2 * CHUNK);
    // `buf[..filled]` holds the bytes read and not yet transformed.
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            // A line longer than the buffer: make room.
            buf.resize(buf.len() * 2, 0);
        }
        let n = file.read(&mut buf[filled..])?;
        filled += n;
        // Up to the last newline (everything at the end of the file).
        let complete = if n == 0 {
            filled
        } else {
            match memchr::memrchr(b'\n', &buf[..filled]) {
                Some(i) => i + 1,
                None => continue,
            }
        };
        tally.transform(&buf[..complete], &mut out);
        if out.len() >= CHUNK || n == 0 {
            sink.write_all(&out)?;
            out.clear();
        }
        buf.copy_within(complete..filled, 0);
        filled -= complete;
        if n == 0 {
            break;
        }
    }
    sink.flush()?;
    Ok((tally, start.elapsed().as_secs_f64()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut input = None;
    let mut out_path = None;
    let mut repeat = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out_path = args.next(),
            "--repeat" => repeat = Some(args.next().ok_or("--repeat needs a number")?.parse()?),
            _ => input = Some(a),
        }
    }
    let input = input.ok_or("usage: transform INPUT.jsonl [--out FILE] [--repeat N]")?;
    let (tally, seconds) = match repeat {
        Some(n) => in_memory(&input, n, out_path.as_deref())?,
        None => streaming(&input, out_path.as_deref())?,
    };
    let invalid: usize = tally.reasons.values().sum();
    eprintln!(
        "valid={} invalid={invalid} reasons={:?}",
        tally.lines - invalid,
        tally.reasons
    );
    println!(
        "records_per_s={:.0} lines={} seconds={seconds:.4}",
        tally.lines as f64 / seconds,
        tally.lines
    );
    Ok(())
}
