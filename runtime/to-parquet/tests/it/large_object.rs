//! The memory bound: a 1 GiB raw object converts within the function's 512 MB, measured on the
//! binary that ships: the `artifact`-profile build `deployer up` zips (the test builds it, a no-op when
//! it is fresh), run under the Lambda Runtime API against moto, its peak resident memory read from
//! `/proc/<pid>/status` (`VmHWM`). Ignored in the plain test run (it takes minutes); `.ci/run` runs
//! it with `--run-ignored only` and prints the figure.
#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::s3::*;
use parquet::file::reader::{FileReader, SerializedFileReader};
use testkit::s3::objects;
use testkit::{LambdaProcess, Moto, Report, RuntimeApi};

const GIB: u64 = 1 << 30;
/// The function's timeout in the stacks (`stacks/src/pipeline`), which the invocation is given.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(900);

/// The `artifact`-profile `to-parquet` binary of this test's target directory, built (or found
/// fresh) by the deployer's own artifact build (`engine::artifacts::build_binary`), as `deployer up`
/// and `.ci/run`'s artifacts step build it.
fn shipped_binary() -> PathBuf {
    // <target>/debug/deps/it-<hash>: the target directory is three levels up.
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().to_path_buf();
    // Canonical: Cargo keys its fingerprints on package paths, and `..` in them would make this
    // a second build of the same binary.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    engine::artifacts::build_binary(
        &workspace,
        Some(&target),
        stacks::pipeline::ArtifactParameter::ToParquet,
    )
    .unwrap()
}

/// The peak resident memory of process `pid` so far, in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
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
#[ignore = "minutes: .ci/run runs it with --run-ignored only"]
async fn a_one_gib_object_converts_within_512_mb() {
    let binary = shipped_binary();
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

    let api = RuntimeApi::start();
    let lambda = LambdaProcess::spawn(binary.to_str().unwrap(), &api, &binary_env(&moto));
    let pid = lambda.id().unwrap();
    let event = serde_json::to_string(&event(RAW, &[key])).unwrap();
    let id = api.invoke_with_timeout(event, FUNCTION_TIMEOUT);
    let report = api.wait_result(&id, FUNCTION_TIMEOUT + Duration::from_secs(60));
    let peak = peak_rss_mib(pid);
    let Report::Response { body, .. } = report else {
        panic!("not a response: {report:?}\n{}", lambda.log());
    };

    let out = objects(&function.s3, CURATED, "").await;
    let files = out.len();
    let out_bytes: usize = out.iter().map(|(_, bytes)| bytes.len()).sum();
    let rows: i64 = out
        .into_iter()
        .map(|(_, bytes)| {
            SerializedFileReader::new(bytes::Bytes::from(bytes))
                .unwrap()
                .metadata()
                .file_metadata()
                .num_rows()
        })
        .sum();
    println!(
        "1 GiB raw object ({records} records) -> {} Parquet file(s), {:.1} MiB: peak RSS of the shipped binary {peak:.0} MiB (Lambda memory 512 MB)",
        files,
        out_bytes as f64 / 1048576.0
    );
    assert_eq!(body, files.to_string(), "keys written");
    assert_eq!(rows, records as i64, "every record is a Parquet row");
    assert!(
        peak < 512.0 * 1e6 / 1048576.0,
        "peak RSS {peak:.0} MiB is over 512 MB"
    );
}
