//! Wall time of a no-op `deployer up` on an unchanged three-region environment, against a moto
//! server this benchmark starts. Prints figures; asserts nothing about time (machines differ).
//!
//! `cargo bench -p deployer --bench noop_up` (needs moto: `bash .ci/setup-tools`, or MST_MOTO_SERVER).

// Benchmark code: a failed unwrap aborts the run with its message.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 7;

fn main() {
    let server = testkit::Moto::start();
    server.reset();
    let work = std::env::temp_dir().join(format!("mst-bench-noop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let artifacts = work.join("artifacts");
    let envs = work.join("environments");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::create_dir_all(&envs).unwrap();
    for name in ["transform", "to-parquet", "notify"] {
        let zip = engine::artifacts::zip_bootstrap(format!("#!/bin/sh\necho {name}\n").as_bytes())
            .unwrap();
        std::fs::write(artifacts.join(format!("{name}.zip")), zip).unwrap();
    }
    std::fs::write(artifacts.join("scraper"), b"#!/bin/sh\necho scraper\n").unwrap();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let local = std::fs::read_to_string(workspace.join("environments/local.yaml"))
        .unwrap()
        .replace("http://127.0.0.1:5000", server.endpoint())
        .replace(
            "regions: [us-east-1]",
            "regions: [us-east-1, eu-west-1, eu-central-1]",
        );
    std::fs::write(envs.join("local.yaml"), local).unwrap();

    let up = || {
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_deployer"))
            .args([
                "up",
                "--env",
                "local",
                "--yes",
                "--parallel",
                "2",
                "--artifacts",
            ])
            .arg(&artifacts)
            .arg("--environments")
            .arg(&envs)
            .env_remove("AWS_ENDPOINT_URL")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap();
        let elapsed = started.elapsed();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
        (
            elapsed,
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let (first, _) = up();
    println!(
        "noop_up: first deployment of 3 regions: {:.0} ms (setup, not measured)",
        ms(first)
    );
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let (elapsed, stdout) = up();
            assert_eq!(
                stdout.matches(": unchanged").count(),
                3,
                "a no-op: {stdout}"
            );
            elapsed
        })
        .collect();
    times.sort();
    println!(
        "noop_up: unchanged 3-region `up` (process start to exit), {RUNS} runs: min {:.0} ms, median {:.0} ms, max {:.0} ms",
        ms(times[0]),
        ms(times[RUNS / 2]),
        ms(times[RUNS - 1])
    );
    let _ = std::fs::remove_dir_all(&work);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
