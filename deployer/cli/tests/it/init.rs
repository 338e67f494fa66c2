//! `deployer init` and `deployer completions` as a user runs them.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn deployer(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deployer"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn init_writes_a_skeleton_that_synthesizes_and_lists_its_placeholders() {
    let dir = tempfile::tempdir().unwrap();
    let out = deployer(
        dir.path(),
        &[
            "init",
            "--env",
            "staging",
            "--account",
            "444455556666",
            "--region",
            "us-east-1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("wrote environments/staging.yaml (it passes validation)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("environments/staging.yaml:6: account: \"444455556666\" # REPLACE"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("then: deployer synth --env staging && deployer diff --env staging\n")
    );

    // What it wrote is a working environment: synth builds its stacks.
    let synth = deployer(dir.path(), &["synth", "--env", "staging"]);
    assert!(synth.status.success(), "{}", text(&synth.stderr));
    assert!(
        dir.path()
            .join("out/staging/us-east-1/mst-staging-pipeline.json")
            .exists()
    );

    // Never over an existing file.
    let before = fs::read_to_string(dir.path().join("environments/staging.yaml")).unwrap();
    let again = deployer(dir.path(), &["init", "--env", "staging"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("environments/staging.yaml already exists"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("environments/staging.yaml")).unwrap(),
        before
    );
}

#[test]
fn init_from_copies_an_environment_with_its_comments() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    fs::create_dir(dir.path().join("environments")).unwrap();
    fs::copy(
        repo.join("environments/dev.yaml"),
        dir.path().join("environments/dev.yaml"),
    )
    .unwrap();
    let out = deployer(dir.path(), &["init", "--env", "qa", "--from", "dev"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let copy = fs::read_to_string(dir.path().join("environments/qa.yaml")).unwrap();
    let original = fs::read_to_string(repo.join("environments/dev.yaml")).unwrap();
    assert_eq!(
        copy,
        format!("# Environment `qa`, started from `dev` by `deployer init`.\n{original}")
    );
}

#[test]
fn init_refuses_a_name_the_deployer_would_refuse_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = deployer(dir.path(), &["init", "--env", "Prod_EU"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("environment name `Prod_EU` (the file name) must match"),
        "{stderr}"
    );
    assert!(!dir.path().join("environments/Prod_EU.yaml").exists());

    let missing = deployer(dir.path(), &["init", "--env", "qa", "--from", "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("cannot read environments/nope.yaml"),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn completions_generate_for_bash_zsh_and_fish_with_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = deployer(dir.path(), &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for word in ["synth", "diff", "up", "down", "status", "policy", "init"] {
            assert!(script.contains(word), "{shell} script lacks {word}");
        }
        // fish spells a long option `-l env`.
        let env_flag = if shell == "fish" { "-l env" } else { "--env" };
        assert!(script.contains(env_flag), "{shell} script lacks --env");
    }
    // The bash script is valid bash.
    let bash = deployer(dir.path(), &["completions", "bash"]);
    let file = dir.path().join("deployer.bash");
    fs::write(&file, &bash.stdout).unwrap();
    let check = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(check.status.success(), "{}", text(&check.stderr));

    let unknown = deployer(dir.path(), &["completions", "tcsh"]);
    assert_eq!(unknown.status.code(), Some(2), "clap's usage error");
}

/// `--output json` of the commands that need no AWS: one object per line, each with its schema.
#[test]
fn synth_init_and_policy_diff_print_json_with_their_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    fs::create_dir(dir.path().join("environments")).unwrap();
    fs::copy(
        repo.join("environments/dev.yaml"),
        dir.path().join("environments/dev.yaml"),
    )
    .unwrap();
    let parse = |out: &Output, schema: &str| -> serde_json::Value {
        let stdout = text(&out.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 1, "{stdout}");
        let object: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(object["schema"], schema, "{stdout}");
        object
    };

    let synth = deployer(dir.path(), &["synth", "--env", "dev", "--output", "json"]);
    assert!(synth.status.success(), "{}", text(&synth.stderr));
    let object = parse(&synth, "mystocktracker.synth/1");
    assert_eq!(object["type"], "synth");
    assert_eq!(object["regions"][0]["region"], "eu-west-1");
    assert_eq!(
        object["regions"][0]["stacks"][1]["name"],
        "mst-dev-pipeline"
    );
    // The eight pipeline roles (vpn-connect among them) and the bootstrap stack's deploy and execution roles.
    assert_eq!(object["snapshot"]["written"].as_array().unwrap().len(), 10);

    let check = deployer(
        dir.path(),
        &["synth", "--env", "dev", "--check", "--output", "json"],
    );
    assert_eq!(check.status.code(), Some(0));
    assert_eq!(parse(&check, "mystocktracker.synth/1")["up_to_date"], true);
    fs::write(dir.path().join("policies/dev/NotifyRole.json"), "{}\n").unwrap();
    let stale = deployer(
        dir.path(),
        &["synth", "--env", "dev", "--check", "--output", "json"],
    );
    assert_eq!(stale.status.code(), Some(2));
    assert_eq!(
        parse(&stale, "mystocktracker.synth/1")["stale"],
        serde_json::json!(["NotifyRole.json"])
    );

    let init = deployer(dir.path(), &["init", "--env", "qa", "--output", "json"]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    let object = parse(&init, "mystocktracker.init/1");
    assert_eq!(object["file"], "environments/qa.yaml");
    assert!(object["placeholders"].as_array().unwrap().len() >= 7);
}
