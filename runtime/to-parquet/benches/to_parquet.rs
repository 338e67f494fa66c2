//! JSON lines to Hive-partitioned Parquet on local files: the same work the Lambda does between
//! `GetObject` and the uploads (the same [`Converter`], fed 1 MiB chunks), so it can be timed
//! against the pyarrow baseline on the same file (`runtime/to-parquet/bench.sh` runs both).
//!
//! Usage: `to_parquet INPUT OUTDIR`; prints one summary line with records/s and the peak RSS.

use std::io::Read as _;
use std::path::PathBuf;
use std::time::Instant;

use to_parquet::{Converter, Options, Output};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1).filter(|a| a != "--bench");
    let (Some(input), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: to_parquet INPUT.jsonl OUTDIR");
        std::process::exit(2);
    };
    let (input, out) = (PathBuf::from(input), PathBuf::from(out));
    let started = Instant::now();
    let mut file = std::fs::File::open(&input)?;
    // 2026-11-28T00:00:00Z: after every record of the benchmark data (26 and 27 November
    // 2026), so all pass the time-sanity rule.
    let created = quote_record::Timestamp::from_unix_nanos(1_795_824_000_000_000_000);
    let mut converter = Converter::new(Options::new(input.display().to_string(), created));
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        converter.push(&chunk[..n])?;
    }
    let read_s = started.elapsed().as_secs_f64();
    let finished = converter.finish()?;
    let stats = finished.stats();
    let (mut files, mut bytes) = (0usize, 0usize);
    for (output, data) in finished {
        let path = match output {
            Output::Partition(partition) => out.join(partition.path()).join("part-0.parquet"),
            Output::Quarantine => out.join("quarantine.jsonl"),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, &data)?;
        files += 1;
        bytes += data.len();
    }
    let seconds = started.elapsed().as_secs_f64();
    let write_s = seconds - read_s;
    let peak_kib = std::fs::read_to_string("/proc/self/status")?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    println!(
        "valid={} invalid={} files={files} bytes={bytes} seconds={seconds:.3} (read+validate+buffer {read_s:.3}, encode+write {write_s:.3}) records_per_s={:.0} peak_mib={:.0}",
        stats.valid,
        stats.invalid,
        (stats.valid + stats.invalid) as f64 / seconds,
        peak_kib as f64 / 1024.0
    );
    Ok(())
}
