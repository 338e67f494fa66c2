//! `deployer vpn` from the real binary: the operator's private key never reaches the terminal, and
//! no profile is written, whatever fails (a file that is not what it should be, a missing
//! `--region`, an environment without a deployed endpoint). The profile itself, its checks and its
//! 0600 mode are tested in `deployer/vpn/tests/profile.rs` against SDK-level mocks.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use testkit::Moto;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    workspace().join("deployer/vpn/tests/fixtures").join(name)
}

/// The lines of the fixture key's PEM body: none of them may be shown.
fn key_lines() -> Vec<String> {
    std::fs::read_to_string(fixture("client.key"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----") && !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// Runs `deployer` in `dir` (where a default profile would be written) with the shipped `local`
/// environment pointed at `endpoint`, and no AWS settings from the developer's shell.
fn deployer(dir: &Path, endpoint: &str, args: &[&str]) -> Output {
    let environments = dir.join("environments");
    std::fs::create_dir_all(&environments).unwrap();
    let text = std::fs::read_to_string(workspace().join("environments/local.yaml"))
        .unwrap()
        .replace("http://127.0.0.1:5000", endpoint);
    std::fs::write(environments.join("local.yaml"), text).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_deployer"));
    command
        .args(args)
        .arg("--environments")
        .arg(&environments)
        .current_dir(dir)
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .env_remove("MST_LOG");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            command.env_remove(key);
        }
    }
    command.output().unwrap()
}

/// Asserts `output` failed, shows no line of the key, and nothing was written in `dir`.
fn refused_without_the_key(output: &Output, dir: &Path) -> String {
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_ne!(output.status.code(), Some(0), "{shown}");
    assert!(!shown.contains("<key>"), "{shown}");
    for line in key_lines() {
        assert!(!shown.contains(&line), "a key line was shown:\n{shown}");
    }
    let profiles: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.ends_with(".ovpn").then_some(name)
        })
        .collect();
    assert!(profiles.is_empty(), "{profiles:?}");
    shown
}

#[test]
fn the_key_is_never_shown_and_no_profile_is_written_when_profile_fails() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let cert = fixture("client.pem");
    let key = fixture("client.key");
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let profile = |extra: &[&str]| {
        let mut args = vec!["vpn", "profile", "--env", "local"];
        args.extend_from_slice(extra);
        deployer(dir, moto.endpoint(), &args)
    };

    // The key given as the certificate: the file is named, its content is not.
    let swapped = profile(&["--region", "us-east-1", "--cert", key, "--key", key]);
    let shown = refused_without_the_key(&swapped, dir);
    assert!(
        shown.contains("client.key") && shown.contains("holds no PEM certificate"),
        "{shown}"
    );

    // Each region has its own endpoint: --region is required.
    let no_region = profile(&["--cert", cert, "--key", key]);
    let shown = refused_without_the_key(&no_region, dir);
    assert!(shown.contains("needs --region"), "{shown}");

    // A valid certificate and key, but the environment has no deployed endpoint (local has no
    // VPN; here not even a stack): refused naming the stack, the key unseen.
    let no_endpoint = profile(&["--region", "us-east-1", "--cert", cert, "--key", key]);
    let shown = refused_without_the_key(&no_endpoint, dir);
    assert!(shown.contains("mst-local-pipeline"), "{shown}");
}
