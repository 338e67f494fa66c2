//! `deployer grafana` as a user runs it: the provisioning directory written, and `--push`'s
//! refusals before any request (no URL, no token).

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
use std::path::Path;
use std::process::{Command, Output};

fn run(dir: &Path, args: &[&str], token: Option<&str>) -> Output {
    let environments = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
    let mut command = Command::new(env!("CARGO_BIN_EXE_deployer"));
    command
        .arg("grafana")
        .args(args)
        .arg("--environments")
        .arg(environments)
        .current_dir(dir)
        .env_remove(grafana::push::TOKEN_VAR);
    if let Some(token) = token {
        command.env(grafana::push::TOKEN_VAR, token);
    }
    command.output().unwrap()
}

#[test]
fn writes_a_provisioning_directory_per_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--env", "local", "--out", "gf"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = dir.path().join("gf/local");
    for file in [
        "datasources/mystocktracker-local.yaml",
        "dashboards/mystocktracker-local.yaml",
        "dashboards/mystocktracker-local/quotes.json",
        "dashboards/mystocktracker-local/pipeline-health.json",
        "alerting/mystocktracker-local.yaml",
    ] {
        assert!(
            root.join(file).is_file(),
            "{file} missing; printed:\n{stdout}"
        );
    }
    assert!(stdout.contains("GF_PATHS_PROVISIONING="), "{stdout}");
}

#[test]
fn push_needs_a_url_and_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--env", "prod", "--push"], Some("t"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--url") && stderr.contains("grafana.url"),
        "{stderr}"
    );
    let out = run(
        dir.path(),
        &["--env", "prod", "--push", "--url", "http://127.0.0.1:9"],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(grafana::push::TOKEN_VAR), "{stderr}");
}
