//! Failures at the network edge as the user sees them from the real `deployer` binary: one sentence
//! naming the endpoint or profile and the fix, and none of the SDK's internals (its debug dump and
//! error chain) unless `--verbose`.
//!
//! Nothing here leaves this machine: the emulator endpoint is a closed or scripted 127.0.0.1 port;
//! the AWS environment runs with no credentials anywhere (empty `HOME`, no `AWS_*` variables) and
//! instance metadata disabled or pointed at a closed loopback port, so the SDK gives up before any
//! request is sent.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use testkit::stand_in::{Answer, StandIn};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A scratch folder with the shipped environments, `local` pointed at `endpoint`.
fn environments(endpoint: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["local", "dev"] {
        let text = std::fs::read_to_string(workspace().join(format!("environments/{name}.yaml")))
            .unwrap()
            .replace("http://127.0.0.1:5000", endpoint);
        std::fs::write(dir.path().join(format!("{name}.yaml")), text).unwrap();
    }
    dir
}

/// Runs `deployer` with no AWS settings or credentials from the developer's shell: `HOME` is an
/// empty folder, every `AWS_*` variable is removed, then `extra` is set.
fn deployer(args: &[&str], environments: &Path, extra: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_deployer"));
    command
        .args(args)
        .arg("--environments")
        .arg(environments)
        .current_dir(workspace())
        .env("HOME", home.path())
        .env_remove("MST_LOG");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            command.env_remove(key);
        }
    }
    for (key, value) in extra {
        command.env(key, value);
    }
    let output = command.output().expect("run deployer");
    eprintln!(
        "$ deployer {}\n{}{}exit: {:?}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        output.status.code()
    );
    output
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The SDK's internals that must not reach the user without `--verbose`.
fn assert_no_internals(text: &str) {
    for internal in [
        "DispatchFailure",
        "ConnectorError",
        "Error {",
        "dispatch failure",
    ] {
        assert!(!text.contains(internal), "`{internal}` shown:\n{text}");
    }
}

/// A 127.0.0.1 port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn an_unreachable_emulator_is_one_sentence_naming_it_and_how_to_start_it() {
    let port = closed_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let envs = environments(&endpoint);
    let out = deployer(&["diff", "--env", "local"], envs.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert_eq!(
        text.trim_end(),
        format!(
            "error: cannot reach the AWS endpoint {endpoint} (connection refused). Is the emulator running? Start it with `moto_server -H 127.0.0.1 -p {port}`, or point AWS_ENDPOINT_URL at the one that runs"
        )
    );
    assert_no_internals(&text);
    assert!(out.stdout.is_empty());

    // --verbose adds the SDK's details.
    let out = deployer(&["diff", "--env", "local", "--verbose"], envs.path(), &[]);
    let text = stderr(&out);
    assert!(text.contains("DispatchFailure"), "{text}");
    assert!(
        text.trim_end()
            .ends_with("or point AWS_ENDPOINT_URL at the one that runs"),
        "{text}"
    );
}

#[test]
fn missing_credentials_for_aws_are_one_sentence_naming_the_chain_or_profile() {
    let envs = environments("http://127.0.0.1:5000");
    let no_imds = [("AWS_EC2_METADATA_DISABLED", "true")];
    let out = deployer(&["status", "--env", "dev"], envs.path(), &no_imds);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert_eq!(
        text.trim_end(),
        "error: no AWS credentials found in the default chain (environment variables, AWS_PROFILE, ~/.aws, web identity, container or instance role): set AWS_PROFILE or pass --profile NAME, after `aws configure` or `aws sso login --profile NAME`"
    );
    assert_no_internals(&text);

    // A profile that does not exist in the (empty) ~/.aws is named.
    let out = deployer(
        &["status", "--env", "dev", "--profile", "ci-deploy"],
        envs.path(),
        &no_imds,
    );
    let text = stderr(&out);
    assert!(
        text.starts_with("error: ")
            && text.contains("profile ci-deploy")
            && text.lines().count() == 1,
        "{text}"
    );
    assert_no_internals(&text);
}

#[test]
fn with_instance_metadata_tried_it_is_still_one_line_and_verbose_adds_the_details() {
    let envs = environments("http://127.0.0.1:5000");
    // Instance metadata on a closed loopback port: what a laptop without credentials goes through
    // (the chain asks instance metadata last), but refused at once and without leaving the machine.
    let imds = format!("http://127.0.0.1:{}", closed_port());
    let extra = [("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.as_str())];
    let out = deployer(&["status", "--env", "dev"], envs.path(), &extra);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert_eq!(text.lines().count(), 1, "one line, no SDK warning:\n{text}");
    assert!(
        text.starts_with("error: no AWS credentials found in the default chain"),
        "{text}"
    );
    assert_no_internals(&text);

    let out = deployer(&["status", "--env", "dev", "-v"], envs.path(), &extra);
    let text = stderr(&out);
    assert!(text.contains("CredentialsNotLoaded"), "{text}");
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.starts_with("error: no AWS credentials found")),
        "{text}"
    );
}

#[test]
fn access_denied_names_the_action() {
    let sts = StandIn::start(|_| {
        Answer::xml_with_status(
            "403 Forbidden",
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/dev is not authorized to perform: sts:GetCallerIdentity because no identity-based policy allows the sts:GetCallerIdentity action</Message></Error><RequestId>1</RequestId></ErrorResponse>",
        )
    });
    let envs = environments(sts.endpoint());
    let out = deployer(&["status", "--env", "local"], envs.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert_eq!(
        text.trim_end(),
        "error: access denied: the credentials may not call sts:GetCallerIdentity in us-east-1; use a profile (--profile) whose role allows it, or grant the permission"
    );
    assert_no_internals(&text);
}
