//! `deployer synth` as a user runs it: files written, exit codes, and what is printed.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the deployer with `args` in a scratch folder holding a copy of the shipped environments.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("environments")).unwrap();
        for entry in fs::read_dir(repo().join("environments")).unwrap() {
            let entry = entry.unwrap();
            fs::copy(
                entry.path(),
                dir.path().join("environments").join(entry.file_name()),
            )
            .unwrap();
        }
        Self { dir }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_deployer"))
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn synth_writes_every_stack_of_every_region_and_is_byte_identical_across_runs() {
    let scratch = Scratch::new();
    let first = scratch.run(&["synth", "--env", "prod"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let stdout = text(&first.stdout);
    assert!(stdout.contains("eu-west-1 (canary): 2 stacks"), "{stdout}");
    assert!(
        stdout.contains("eu-central-1: 2 stacks") && stdout.contains("us-east-1: 2 stacks"),
        "{stdout}"
    );
    let mut templates = Vec::new();
    for region in ["eu-west-1", "eu-central-1", "us-east-1"] {
        for stack in ["mst-prod-artifacts", "mst-prod-pipeline"] {
            let path = scratch.path(&format!("out/prod/{region}/{stack}.json"));
            let template: serde_json::Value =
                serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(template["AWSTemplateFormatVersion"], "2010-09-09");
            templates.push(fs::read(&path).unwrap());
        }
    }
    let roles: Vec<String> = fs::read_dir(scratch.path("policies/prod"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // Eight components (vpn-connect among them), the Managed Grafana workspace's role, with prod's `dr:` the replication
    // role, with its `deploy:` the bootstrap stack's deploy and execution roles, and with both the
    // DR region's bootstrap stack's execution role (for the replica stack alone).
    for role in [
        "GrafanaWorkspaceRole.json",
        "ReplicationRole.json",
        "DeployRole.json",
        "ExecutionRole.json",
        "ReplicaExecutionRole.json",
    ] {
        assert!(roles.contains(&role.to_owned()), "{role}: {roles:?}");
    }
    assert_eq!(roles.len(), 13, "{roles:?}");
    // The DR region's replica stack, synthesized once, beside the regions.
    assert!(
        stdout.contains("eu-north-1 (DR, deployed first)"),
        "{stdout}"
    );
    let replica: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(scratch.path("out/prod/eu-north-1/mst-prod-replica.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(replica["AWSTemplateFormatVersion"], "2010-09-09");
    // ... after the DR region's bootstrap stack, whose execution role deploys it.
    let dr_bootstrap: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(scratch.path("out/prod/eu-north-1/mst-prod-artifacts.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        dr_bootstrap["Resources"]["ReplicaExecutionRole"]["Properties"]["RoleName"],
        serde_json::json!({"Fn::Sub": "mstboot-prod-cfn-exec-${AWS::Region}"})
    );
    assert!(dr_bootstrap["Resources"].get("ExecutionRole").is_none());

    let second = scratch.run(&["synth", "--env", "prod", "--out", "again"]);
    assert!(second.status.success());
    let mut again = Vec::new();
    for region in ["eu-west-1", "eu-central-1", "us-east-1"] {
        for stack in ["mst-prod-artifacts", "mst-prod-pipeline"] {
            again.push(
                fs::read(scratch.path(&format!("again/prod/{region}/{stack}.json"))).unwrap(),
            );
        }
    }
    assert_eq!(templates, again);
}

#[test]
fn the_committed_snapshot_matches_what_synth_generates() {
    for env in ["local", "dev", "prod"] {
        let scratch = Scratch::new();
        assert!(scratch.run(&["synth", "--env", env]).status.success());
        for entry in fs::read_dir(scratch.path(&format!("policies/{env}"))).unwrap() {
            let entry = entry.unwrap();
            let committed = repo().join("policies").join(env).join(entry.file_name());
            assert_eq!(
                fs::read_to_string(entry.path()).unwrap(),
                fs::read_to_string(&committed).unwrap_or_default(),
                "{} is stale: run `deployer synth --env {env}`",
                committed.display()
            );
        }
    }
}

#[test]
fn check_fails_with_a_diff_when_the_snapshot_is_stale() {
    let scratch = Scratch::new();
    assert!(scratch.run(&["synth", "--env", "dev"]).status.success());
    fs::remove_dir_all(scratch.path("out")).unwrap();
    let fresh = scratch.run(&["synth", "--env", "dev", "--check"]);
    assert_eq!(fresh.status.code(), Some(0), "{}", text(&fresh.stderr));
    assert!(text(&fresh.stdout).contains("policies up to date"));

    // A reviewer-visible change: someone hand-edits a role's snapshot.
    let file = scratch.path("policies/dev/TransformRole.json");
    let edited = fs::read_to_string(&file).unwrap().replace(
        "\"kinesis:ListShards\"",
        "\"kinesis:ListShards\",\n        \"kinesis:PutRecords\"",
    );
    fs::write(&file, edited).unwrap();
    // And a role that no longer exists.
    fs::write(scratch.path("policies/dev/OldRole.json"), "{}\n").unwrap();

    let stale = scratch.run(&["synth", "--env", "dev", "--check"]);
    assert_eq!(stale.status.code(), Some(2));
    let diff = text(&stale.stdout);
    assert!(diff.contains("-        \"kinesis:PutRecords\""), "{diff}");
    assert!(
        diff.contains("a/policies/dev/OldRole.json") && diff.contains("-{}"),
        "{diff}"
    );
    let stderr = text(&stale.stderr);
    assert!(
        stderr.contains("is stale (2 file(s) differ)")
            && stderr.contains("run `deployer synth --env dev`"),
        "{stderr}"
    );
    // --check writes nothing.
    assert!(!scratch.path("out").exists());
}

#[test]
fn an_invalid_environment_is_reported_with_position_and_fix_and_nothing_is_written() {
    let scratch = Scratch::new();
    let file = scratch.path("environments/prod.yaml");
    let text_before = fs::read_to_string(&file).unwrap();
    fs::write(
        &file,
        text_before.replace("buffering_seconds:", "bufering_seconds:"),
    )
    .unwrap();
    let line = text_before
        .lines()
        .position(|l| l.contains("buffering_seconds:"))
        .unwrap()
        + 1;
    let column = text_before
        .lines()
        .nth(line - 1)
        .unwrap()
        .find("buffering")
        .unwrap()
        + 1;
    let output = scratch.run(&["synth", "--env", "prod"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("unknown key `bufering_seconds`"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("environments/prod.yaml:{line}:{column}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean `buffering_seconds`?"),
        "{stderr}"
    );
    assert!(!scratch.path("out").exists() && !scratch.path("policies").exists());
}

#[test]
fn unknown_environments_and_regions_say_what_exists() {
    let scratch = Scratch::new();
    let output = scratch.run(&["synth", "--env", "staging"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("no environment `staging`") && stderr.contains("known: dev, local, prod"),
        "{stderr}"
    );

    let output = scratch.run(&["synth", "--env", "prod", "--region", "ap-south-1"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("its regions are eu-west-1, eu-central-1, us-east-1"),
        "{stderr}"
    );

    let one = scratch.run(&["synth", "--env", "prod", "--region", "us-east-1"]);
    assert!(one.status.success());
    assert!(
        scratch
            .path("out/prod/us-east-1/mst-prod-pipeline.json")
            .exists()
    );
    assert!(!scratch.path("out/prod/eu-west-1").exists());
    assert!(
        !scratch.path("policies").exists(),
        "a single-region run does not rewrite the snapshot"
    );
}

#[test]
fn judge_inputs_are_concrete_policy_documents() {
    let scratch = Scratch::new();
    assert!(
        scratch
            .run(&["synth", "--env", "prod", "--judge-inputs"])
            .status
            .success()
    );
    let text = fs::read_to_string(scratch.path("out/prod/parliament/TransformRole.json")).unwrap();
    assert!(!text.contains("${"), "{text}");
    assert!(
        text.contains("arn:aws:kinesis:eu-west-1:444455556666:stream/mst-prod-quotestream"),
        "{text}"
    );
}

#[test]
fn synth_says_which_policy_files_it_rewrote() {
    let scratch = Scratch::new();
    let first = scratch.run(&["synth", "--env", "dev"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let stdout = text(&first.stdout);
    assert!(
        stdout.contains("  policies/dev: 10 file(s) changed; review them"),
        "{stdout}"
    );
    assert!(
        stdout.contains("    wrote   TransformRole.json\n"),
        "{stdout}"
    );

    let second = scratch.run(&["synth", "--env", "dev"]);
    assert!(
        text(&second.stdout).contains("  policies/dev: unchanged (10 roles)\n"),
        "{}",
        text(&second.stdout)
    );

    // A hand edit is put back, and a file of a role that no longer exists is removed: both named.
    let file = scratch.path("policies/dev/NotifyRole.json");
    fs::write(&file, "{}\n").unwrap();
    fs::write(scratch.path("policies/dev/OldRole.json"), "{}\n").unwrap();
    let third = scratch.run(&["synth", "--env", "dev"]);
    let stdout = text(&third.stdout);
    assert!(
        stdout.contains("  policies/dev: 2 file(s) changed; review them")
            && stdout.contains("    removed OldRole.json\n")
            && stdout.contains("    wrote   NotifyRole.json\n"),
        "{stdout}"
    );
    assert!(!scratch.path("policies/dev/OldRole.json").exists());

    let single = scratch.run(&["synth", "--env", "dev", "--region", "eu-west-1"]);
    assert!(
        text(&single.stdout).contains("  policies/dev not written: a single-region run"),
        "{}",
        text(&single.stdout)
    );
}
