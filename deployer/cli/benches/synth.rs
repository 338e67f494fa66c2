//! Wall time of `deployer synth --env prod` as a fresh process (all three regions, templates and the
//! IAM snapshot written), beside the AWS CDK's 4.1 s for the same pipeline on this machine.
//!
//! `cargo bench -p deployer --bench synth` prints the figures; nothing is asserted (the goal, under
//! 20 ms, is read off the output).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 50;
const CDK_SECONDS: f64 = 4.1;

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let scratch = std::env::temp_dir().join(format!("mst-synth-bench-{}", std::process::id()));
    let run = || {
        let started = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_deployer"))
            .args(["synth", "--env", "prod", "--environments"])
            .arg(repo.join("environments"))
            .arg("--policies")
            .arg(scratch.join("policies"))
            .arg("--out")
            .arg(scratch.join("out"))
            .stdout(std::process::Stdio::null())
            .status()
            .expect("deployer runs");
        assert!(status.success(), "deployer synth failed");
        started.elapsed()
    };
    run(); // warm-up: page cache, first directory creation
    let mut times: Vec<Duration> = (0..RUNS).map(|_| run()).collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = times[RUNS / 2];
    println!(
        "deployer synth --env prod (3 regions, 6 templates, 6 role snapshots), fresh process, {RUNS} runs:"
    );
    println!(
        "  min {:.2} ms   median {:.2} ms   max {:.2} ms",
        ms(times[0]),
        ms(median),
        ms(times[RUNS - 1])
    );
    println!(
        "  AWS CDK (same pipeline, this machine): {:.0} ms -> {:.0}x faster (goal: under 20 ms, 200x)",
        CDK_SECONDS * 1000.0,
        CDK_SECONDS / median.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&scratch);
}
