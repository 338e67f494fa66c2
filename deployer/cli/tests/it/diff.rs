//! `deployer diff` as a user runs it: `--offline` across two commits of a scratch repository (no
//! AWS), and against a moto server this test starts, property by property, without building
//! anything (a `cargo` that records its calls is first on `PATH` and in `CARGO`).
//!
//! After an intended change of the output, regenerate the golden files with
//! `UPDATE_GOLDEN=1 cargo nextest run -p deployer --test it -E 'test(/^diff::/)'` and review their diff.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use engine::artifacts::zip_bootstrap;
use serde_json::Value;
use testkit::Moto;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Compares `actual` with the golden file `name` (rewritten with `UPDATE_GOLDEN=1`).
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(&path, actual).unwrap();
    }
    let expected = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "the output differs from {}; if the change is intended, run UPDATE_GOLDEN=1 cargo nextest \
         run -p deployer --test it -E 'test(/^diff::/)' and review the diff.\n--- output ---\n{actual}",
        path.display()
    );
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_deployer"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    eprintln!(
        "$ deployer {}\n{}exit: {:?}",
        args.join(" "),
        text(&output),
        output.status.code()
    );
    output
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {}", text(&output));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// `environments/local.yaml` with some of its values replaced.
fn edit_local(dir: &Path, replacements: &[(&str, &str)]) {
    let path = dir.join("environments/local.yaml");
    let mut text = fs::read_to_string(&path).unwrap();
    for (from, to) in replacements {
        assert!(text.contains(from), "{from} in local.yaml");
        text = text.replace(from, to);
    }
    fs::write(path, text).unwrap();
}

#[test]
fn offline_diff_across_two_commits_shows_properties_and_line_diffs() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    copy_dir(&repo().join("environments"), &dir.join("environments"));
    git(dir, &["init", "--quiet"]);
    git(dir, &["config", "user.email", "test@example.com"]);
    git(dir, &["config", "user.name", "Test"]);
    git(dir, &["config", "commit.gpgsign", "false"]);
    let synth = run(dir, &["synth", "--env", "local"], &[]);
    assert!(synth.status.success());
    assert!(
        stdout(&synth).contains("  templates/local: 3 file(s) changed"),
        "synth names the template snapshot it wrote: {}",
        stdout(&synth)
    );
    fs::remove_dir_all(dir.join("out")).unwrap();
    git(dir, &["add", "-A", "."]);
    git(dir, &["commit", "--quiet", "-m", "base"]);

    // The second commit: a higher alert threshold and another symbol.
    edit_local(
        dir,
        &[
            ("threshold_pct: 1.0", "threshold_pct: 2.5"),
            ("[AAPL, MSFT, NVDA]", "[AAPL, MSFT, AMZN]"),
        ],
    );
    // Not synthesized yet: the committed snapshot is stale, and `synth --check` says so.
    let stale = run(dir, &["synth", "--env", "local", "--check"], &[]);
    assert_eq!(stale.status.code(), Some(2));
    assert!(
        text(&stale).contains("the template snapshot in templates/local is stale"),
        "{}",
        text(&stale)
    );
    // What the uncommitted change does (base: HEAD).
    let uncommitted = run(dir, &["diff", "--env", "local", "--offline"], &[]);
    assert_eq!(uncommitted.status.code(), Some(2), "{}", text(&uncommitted));
    assert!(run(dir, &["synth", "--env", "local"], &[]).status.success());
    fs::remove_dir_all(dir.join("out")).unwrap();
    git(dir, &["add", "-A", "."]);
    git(dir, &["commit", "--quiet", "-m", "head"]);
    let base = git(dir, &["rev-parse", "--short", "HEAD~1"]);

    let diff = run(
        dir,
        &["diff", "--env", "local", "--offline", "--base", "HEAD~1"],
        &[],
    );
    assert_eq!(diff.status.code(), Some(2), "{}", text(&diff));
    // Uncommitted and committed, the same changes.
    assert_eq!(stdout(&uncommitted), stdout(&diff));
    golden(
        "diff-offline-local.txt",
        &stdout(&diff).replace(&base, "<base>"),
    );
    // The values the golden file holds, independently of it.
    let out = stdout(&diff);
    assert!(
        out.contains("  ~ Modify Notify (AWS::Lambda::Function)\n      Environment.Variables.THRESHOLD_PCT: 1 → 2.5\n"),
        "{out}"
    );
    // The symbols travel in the shards' configurations (artifacts), not in the user data; the
    // table's partition projection lists them.
    assert!(
        out.contains(
            "TableInput.Parameters.projection.symbol.values: AAPL,MSFT,NVDA → AAPL,MSFT,AMZN\n"
        ),
        "{out}"
    );

    // Against HEAD, after the commit: nothing.
    let none = run(dir, &["diff", "--env", "local", "--offline"], &[]);
    assert_eq!(none.status.code(), Some(0), "{}", text(&none));
    assert!(stdout(&none).contains("us-east-1 mst-local-pipeline: no changes"));

    // JSON: one object per line with the schema, the property change as data.
    let json = run(
        dir,
        &[
            "diff",
            "--env",
            "local",
            "--offline",
            "--base",
            "HEAD~1",
            "--output",
            "json",
        ],
        &[],
    );
    assert_eq!(json.status.code(), Some(2));
    let objects: Vec<Value> = stdout(&json)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        objects
            .iter()
            .all(|o| o["schema"] == "mystocktracker.diff/1")
    );
    assert_eq!(objects[0]["type"], "offline");
    assert_eq!(objects[0]["base"], base);
    let plan = objects.iter().find(|o| o["type"] == "plan").unwrap();
    let notify = plan["template_changes"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["logical_id"] == "Notify")
        .unwrap();
    assert_eq!(
        notify["properties"],
        serde_json::json!([{"path": "Environment.Variables.THRESHOLD_PCT", "before": "1",
            "after": "2.5", "lines": [], "replaces": false}])
    );

    // A revision that does not exist is named.
    let bad = run(
        dir,
        &["diff", "--env", "local", "--offline", "--base", "nope"],
        &[],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad).contains("no commit `nope`"), "{}", text(&bad));
}

/// The files the source hashes are computed from: every member's manifest and `src/`, the lock
/// file and the workspace manifest (a checkout without `target/`, tests or benchmarks).
fn copy_sources(to: &Path) {
    fs::create_dir_all(to).unwrap();
    for file in ["Cargo.toml", "Cargo.lock"] {
        fs::copy(repo().join(file), to.join(file)).unwrap();
    }
    for group in ["deployer", "runtime"] {
        for entry in fs::read_dir(repo().join(group)).unwrap() {
            let crate_dir = entry.unwrap().path();
            if !crate_dir.join("Cargo.toml").is_file() {
                continue;
            }
            let target = to.join(group).join(crate_dir.file_name().unwrap());
            fs::create_dir_all(&target).unwrap();
            fs::copy(crate_dir.join("Cargo.toml"), target.join("Cargo.toml")).unwrap();
            if crate_dir.join("src").is_dir() {
                copy_dir(&crate_dir.join("src"), &target.join("src"));
            }
        }
    }
    fs::create_dir_all(to.join("stacks")).unwrap();
    fs::copy(
        repo().join("stacks/Cargo.toml"),
        to.join("stacks/Cargo.toml"),
    )
    .unwrap();
    copy_dir(&repo().join("stacks/src"), &to.join("stacks/src"));
}

#[test]
fn diff_against_moto_shows_properties_and_code_changes_and_never_builds() {
    let moto = Moto::start();
    moto.reset();
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let checkout = work.join("checkout");
    copy_sources(&checkout);
    copy_dir(&repo().join("environments"), &checkout.join("environments"));
    edit_local(&checkout, &[("http://127.0.0.1:5000", moto.endpoint())]);
    let artifacts = work.join("artifacts");
    fs::create_dir_all(&artifacts).unwrap();
    for name in ["transform", "to-parquet", "notify", "vpn-connect"] {
        let zip = zip_bootstrap(format!("#!/bin/sh\necho {name}\n").as_bytes()).unwrap();
        fs::write(artifacts.join(format!("{name}.zip")), zip).unwrap();
    }
    fs::write(artifacts.join("scraper"), b"#!/bin/sh\necho scraper\n").unwrap();
    // A `cargo` that records that it was started and fails.
    let bin = work.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let calls = work.join("cargo-calls");
    let fake = bin.join("cargo");
    fs::write(
        &fake,
        format!(
            "#!/bin/sh\necho \"cargo $*\" >> '{}'\nexit 101\n",
            calls.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let no_build = [("PATH", path.as_str()), ("CARGO", fake.to_str().unwrap())];

    let up = run(
        &checkout,
        &[
            "up",
            "--env",
            "local",
            "--artifacts",
            artifacts.to_str().unwrap(),
            "--yes",
        ],
        &no_build,
    );
    assert_eq!(up.status.code(), Some(0), "{}", text(&up));

    // Unchanged: nothing to show, and no build to find that out.
    let none = run(&checkout, &["diff", "--env", "local"], &no_build);
    assert_eq!(none.status.code(), Some(0), "{}", text(&none));
    assert_eq!(
        stdout(&none),
        "us-west-2 mst-local-replica: no changes\nus-east-1 mst-local-artifacts: no changes\nus-east-1 mst-local-pipeline: no changes\n"
    );

    // A higher alert threshold and a change to the transform's code.
    edit_local(&checkout, &[("threshold_pct: 1.0", "threshold_pct: 2.5")]);
    let main = checkout.join("runtime/transform/src/main.rs");
    let mut source = fs::read_to_string(&main).unwrap();
    source.push_str("\n// A change to the transform's code.\n");
    fs::write(&main, source).unwrap();
    let diff = run(&checkout, &["diff", "--env", "local"], &no_build);
    assert_eq!(diff.status.code(), Some(2), "{}", text(&diff));
    golden("diff-moto-local.txt", &stdout(&diff));
    let out = stdout(&diff);
    assert!(
        out.contains("  ~ Modify Notify (AWS::Lambda::Function)\n      Environment.Variables.THRESHOLD_PCT: 1 → 2.5\n"),
        "{out}"
    );
    assert!(
        out.contains("  code of Transform changes (its sources differ from those deployed: crate `transform` or its workspace dependencies)\n"),
        "{out}"
    );
    assert!(!out.contains("code of Notify"), "{out}");

    let json = run(
        &checkout,
        &["diff", "--env", "local", "--output", "json"],
        &no_build,
    );
    assert_eq!(json.status.code(), Some(2), "{}", text(&json));
    let objects: Vec<Value> = stdout(&json)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        objects
            .iter()
            .all(|o| o["schema"] == "mystocktracker.diff/1")
    );
    let code: Vec<(&str, &str)> = objects
        .iter()
        .filter(|o| o["type"] == "code")
        .map(|o| (o["artifact"].as_str().unwrap(), o["code"].as_str().unwrap()))
        .collect();
    // Only what changes, as in the text.
    assert_eq!(code, [("transform", "changed")]);
    let plan = objects.iter().find(|o| o["type"] == "plan").unwrap();
    assert_eq!(
        plan["template_changes"]["resources"][0]["properties"][0]["after"],
        "2.5"
    );

    // Not one cargo command was started, by `up --artifacts` or by any `diff`.
    assert!(
        !calls.exists(),
        "cargo was started: {}",
        fs::read_to_string(&calls).unwrap_or_default()
    );
    // And the recording `cargo` is the one a build would start: `up` without artifacts builds.
    let build = run(&checkout, &["up", "--env", "local", "--yes"], &no_build);
    assert_eq!(build.status.code(), Some(1), "{}", text(&build));
    assert!(
        fs::read_to_string(&calls).unwrap().starts_with("cargo "),
        "the shadowing cargo was not started by a build"
    );
}
