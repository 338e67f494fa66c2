//! The memory bound: a 1 GiB raw object converts within the function's 512 MB. Ignored in the
//! debug test run (it takes minutes unoptimised); `.ci/run` runs it with `--release --run-ignored
//! only` and prints the figure.
#![allow(clippy::unwrap_used)]

use std::io::Write as _;

use crate::common::s3::*;
use testkit::Moto;

const GIB: u64 = 1 << 30;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib / 1024.0
}

#[tokio::test]
#[ignore = "minutes in a debug build: .ci/run runs it in release"]
async fn a_one_gib_object_converts_within_512_mb() {
    let moto = Moto::start();
    let function = function(&moto).await;
    // One Firehose partition (one symbol, one day), as dynamic partitioning writes it: ~5.6M records.
    let path = std::env::temp_dir().join(format!("to-parquet-1gib-{}.json", std::process::id()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let (mut written, mut records) = (0u64, 0u64);
    while written < GIB {
        let line = format!(
            "{{\"v\":1,\"symbol\":\"AAPL\",\"price\":{}.{:02},\"currency\":\"USD\",\"change_pct\":{}.{:02},\"volume\":{},\"market_time\":\"2026-11-27T{:02}:{:02}:{:02}.{:06}Z\",\"scraped_at\":\"2026-11-27T23:59:59.123Z\",\"source\":\"quote-page\"}}\n",
            150 + records % 97,
            records % 100,
            records % 3,
            records % 100,
            records * 17,
            (records / 3_600_000_000) % 24,
            (records / 60_000_000) % 60,
            (records / 1_000_000) % 60,
            records % 1_000_000,
        );
        file.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        records += 1;
    }
    file.flush().unwrap();
    drop(file);
    let key = "raw/symbol=AAPL/dt=2026-11-27/mst-local-1-2026-11-27-23-59-59-large";
    function
        .s3
        .put_object()
        .bucket(RAW)
        .key(key)
        .body(
            aws_sdk_s3::primitives::ByteStream::from_path(&path)
                .await
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    let before = peak_rss_mib();

    let summary = to_parquet::handle(&function, event(RAW, &[key]))
        .await
        .unwrap();

    let peak = peak_rss_mib();
    let out = function
        .s3
        .list_objects_v2()
        .bucket(CURATED)
        .send()
        .await
        .unwrap();
    let out_bytes: i64 = out.contents().iter().filter_map(|o| o.size()).sum();
    println!(
        "1 GiB raw object ({records} records) -> {} Parquet file(s), {:.1} MiB: peak RSS {peak:.0} MiB (before the conversion {before:.0} MiB; Lambda memory 512 MB)",
        out.contents().len(),
        out_bytes as f64 / 1048576.0
    );
    assert_eq!(summary.valid, records);
    assert_eq!(summary.invalid, 0);
    assert!(
        peak < 512.0 * 1e6 / 1048576.0,
        "peak RSS {peak:.0} MiB is over 512 MB"
    );
}
