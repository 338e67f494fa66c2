//! `deployer policy diff` as a user runs it: against committed revisions of a scratch repository
//! holding the shipped environments and snapshots; exit codes and formats.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A git repository with the shipped `environments/` and `policies/` committed.
struct Scratch {
    dir: tempfile::TempDir,
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

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(
            &repo().join("environments"),
            &dir.path().join("environments"),
        );
        copy_dir(&repo().join("policies"), &dir.path().join("policies"));
        let scratch = Self { dir };
        scratch.git(&["init", "--quiet"]);
        scratch.git(&["config", "user.email", "test@example.com"]);
        scratch.git(&["config", "user.name", "Test"]);
        scratch.git(&["config", "commit.gpgsign", "false"]);
        scratch.commit("the shipped snapshot");
        scratch
    }

    fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout).trim().to_owned()
    }

    fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A", "."]);
        self.git(&["commit", "--quiet", "-m", message]);
        self.git(&["rev-parse", "--short", "HEAD"])
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_deployer"))
            .args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_committed_snapshot_is_no_change_and_exits_0() {
    let scratch = Scratch::new();
    let out = scratch.run(&["policy", "diff", "--env", "prod"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // Eight components (vpn-connect among them), the Grafana workspace's, the replication role, the bootstrap
    // stack's deploy and execution roles, and the DR region's execution role.
    assert!(stdout.contains("0 of 13 role(s) changed"), "{stdout}");
    assert!(
        !stdout.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
}

/// Commits a snapshot where TransformRole lacked `kms:Decrypt`: the generated snapshot gains it.
fn scratch_with_an_older_snapshot() -> (Scratch, String) {
    let scratch = Scratch::new();
    let file = scratch.path("policies/prod/TransformRole.json");
    let old = fs::read_to_string(&file).unwrap().replace(
        "        \"kms:Decrypt\",\n        \"kms:GenerateDataKey\"",
        "        \"kms:GenerateDataKey\"",
    );
    fs::write(&file, old).unwrap();
    let rev = scratch.commit("older snapshot");
    (scratch, rev)
}

#[test]
fn a_broadening_change_exits_2_and_is_explained_in_every_format() {
    let (scratch, rev) = scratch_with_an_older_snapshot();
    let out = scratch.run(&["policy", "diff", "--env", "prod", "--base", &rev]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("policy diff prod: git:{rev} -> synth")),
        "{stdout}"
    );
    assert!(stdout.contains(
        "TransformRole (mst-prod-pipeline): changed\n  + broadening [permissions] kms:Decrypt on \
         arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/${DataKey}\n      new action \
         for this role\n      if StringEquals kms:viaservice = kinesis.${AWS::Region}.amazonaws.com \
         | s3.${AWS::Region}.amazonaws.com | secretsmanager.${AWS::Region}.amazonaws.com \
         | sqs.${AWS::Region}.amazonaws.com\n      ! risky: kms:Decrypt\n"
    ), "{stdout}");

    let never = scratch.run(&[
        "policy",
        "diff",
        "--env",
        "prod",
        "--base",
        &rev,
        "--fail-on",
        "never",
    ]);
    assert_eq!(never.status.code(), Some(0));

    let json = scratch.run(&[
        "policy",
        "diff",
        "--env",
        "prod",
        // `--output`, as on every command, is `--format`.
        "--output",
        "json",
        "--fail-on",
        "any",
    ]);
    assert_eq!(json.status.code(), Some(2));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["schema"], "mystocktracker.policy-diff/1");
    assert_eq!(value["summary"]["broadening"], 1);
    let transform = value["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == "TransformRole")
        .unwrap_or_else(|| panic!("{value}"));
    assert_eq!(transform["changes"][0]["category"], "new_action");

    let markdown = scratch.run(&["policy", "diff", "--env", "prod", "--format", "markdown"]);
    assert!(
        text(&markdown.stdout)
            .contains("| **broadening** | permissions | `kms:Decrypt` :warning: |")
    );
    let junit = scratch.run(&["policy", "diff", "--env", "prod", "--format", "junit"]);
    assert!(text(&junit.stdout).contains("<failure type=\"broadening\""));
}

#[test]
fn two_revisions_compare_with_head() {
    let (scratch, older) = scratch_with_an_older_snapshot();
    let out = scratch.run(&[
        "policy", "diff", "--env", "prod", "--base", "HEAD~1", "--head", &older,
    ]);
    // From the shipped snapshot to the older one, kms:Decrypt is removed: narrowing, exit 0.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("- narrowing  [permissions] kms:Decrypt on"),
        "{stdout}"
    );
}

#[test]
fn a_bad_revision_or_environment_is_an_error_exiting_1() {
    let scratch = Scratch::new();
    let out = scratch.run(&["policy", "diff", "--env", "prod", "--base", "no-such-rev"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no commit `no-such-rev`"),
        "{}",
        text(&out.stderr)
    );
    let out = scratch.run(&["policy", "diff", "--env", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no environment `nope`"));
}

/// The deploy engine (`deployer diff` and `up`, comparing the deployed template with the new one)
/// and `deployer policy diff` (comparing committed snapshots) see the same change the same way: the
/// transform role gains an action on every resource, which broadens in both, with the same
/// classification; the way back narrows in both.
#[test]
fn the_engine_and_policy_diff_classify_a_change_alike() {
    let statement = serde_json::json!({"Sid": "ListEveryStream", "Effect": "Allow",
                                       "Action": ["kinesis:ListStreams"], "Resource": ["*"]});

    // policy diff: the shipped snapshot, then one where TransformRole has the statement.
    let scratch = Scratch::new();
    let shipped = scratch.git(&["rev-parse", "--short", "HEAD"]);
    let file = scratch.path("policies/prod/TransformRole.json");
    let mut role: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    role["permissions"]
        .as_array_mut()
        .unwrap()
        .push(statement.clone());
    fs::write(&file, serde_json::to_string_pretty(&role).unwrap() + "\n").unwrap();
    let widened = scratch.commit("TransformRole lists every stream");
    let policy_diff = |base: &str, head: &str| {
        let out = scratch.run(&[
            "policy", "diff", "--env", "prod", "--base", base, "--head", head, "--format", "json",
        ]);
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), value)
    };

    // The engine: the synthesized pipeline template as deployed, then with the same statement.
    let env = environment::load(&repo().join("environments/prod.yaml")).unwrap();
    let synthesis = synth::synthesize(&env, None).unwrap();
    let deployed = synthesis.regions[0]
        .stacks
        .iter()
        .find(|s| s.name == "mst-prod-pipeline")
        .unwrap()
        .json
        .clone();
    let mut new = deployed.clone();
    new["Resources"]["TransformPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        .as_array_mut()
        .unwrap()
        .push(statement);
    let engine = |old: &serde_json::Value, new: &serde_json::Value| {
        let plan = engine::change_set::Plan {
            stack: "mst-prod-pipeline".into(),
            region: "us-east-1".into(),
            change_set_id: String::new(),
            create: false,
            changes: Vec::new(),
            parameters: Vec::new(),
            iam: engine::change_set::iam_changes("mst-prod-pipeline", Some(old), new),
        };
        let roles = serde_json::to_value(&plan.iam.roles).unwrap();
        (plan.broadens(), roles)
    };

    for (base, head, old, new, broadens) in [
        (&shipped, &widened, &deployed, &new, true),
        (&widened, &shipped, &new, &deployed, false),
    ] {
        let (code, review) = policy_diff(base, head);
        let (engine_broadens, engine_roles) = engine(old, new);
        assert_eq!(code, Some(if broadens { 2 } else { 0 }), "{review:#}");
        assert_eq!(engine_broadens, broadens);
        // Every role: the same status and the same changes, word for word.
        // (The engine compares one stack: the review's roles of the pipeline stack.)
        let pipeline_roles: Vec<serde_json::Value> = review["roles"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["stack"] == "mst-prod-pipeline")
            .cloned()
            .collect();
        assert_eq!(
            engine_roles,
            serde_json::Value::Array(pipeline_roles),
            "{engine_roles:#}"
        );
        let transform = engine_roles
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["role"] == "TransformRole")
            .unwrap();
        let change = &transform["changes"][0];
        assert_eq!(transform["changes"].as_array().unwrap().len(), 1);
        assert_eq!(
            change["actions"],
            serde_json::json!(["kinesis:ListStreams"])
        );
        assert_eq!(change["resource"], "*");
        if broadens {
            assert_eq!(change["kind"], "broadening");
            assert_eq!(change["category"], "wildcard_resource");
        } else {
            assert_eq!(change["kind"], "narrowing");
            assert_eq!(change["category"], "action_removed");
        }
    }
}
