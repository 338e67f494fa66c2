//! `deployer policy explain` as a user runs it on the shipped `local` environment: the text report is
//! the committed golden file, the JSON parses with its schema version and says the same, an unknown
//! role lists the roles there are.
//!
//! After an intended change of a grant or of a use's wording, regenerate the golden file with
//! `UPDATE_GOLDEN=1 cargo nextest run -p deployer --test it -E 'test(/^policy_explain::/)'` and review its diff.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/policy-explain-local.txt")
}

fn explain(args: &[&str]) -> Output {
    let environments = repo().join("environments");
    Command::new(env!("CARGO_BIN_EXE_deployer"))
        .args(["policy", "explain", "--env", "local"])
        .args(args)
        .arg("--environments")
        .arg(&environments)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_role_of_local_is_explained_as_the_golden_file_says() {
    let out = explain(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden().parent().unwrap()).unwrap();
        std::fs::write(golden(), &stdout).unwrap();
    }
    let expected = std::fs::read_to_string(golden()).unwrap_or_default();
    assert!(
        stdout == expected,
        "`policy explain --env local` differs from {}; if the change is intended, run \
         UPDATE_GOLDEN=1 cargo nextest run -p deployer --test it -E 'test(/^policy_explain::/)' and review the diff.\n\
         --- output ---\n{stdout}",
        golden().display()
    );
    // What the report is for, independently of the file: a code path and an AWS page per kind of
    // reason, and the derived key grant naming the use it is for.
    for needle in [
        "policy explain local: 8 role(s),",
        "each needed by a use",
        "TransformRole (mst-local-pipeline): Validates quote records",
        "s3:PutObject  transform: PutObject quarantine/transform/",
        "runtime/transform/src/quarantine.rs",
        "kinesis:PutRecords  scraper: PutRecords",
        "runtime/scraper/src/sink.rs",
        "KMS: s3:PutObject on SSE-KMS objects calls KMS through s3",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html",
        "logs:AssociateKmsKey",
    ] {
        assert!(stdout.contains(needle), "{needle:?} not in\n{stdout}");
    }
}

#[test]
fn one_role_as_json_parses_with_its_schema_version_and_explains_every_action() {
    let out = explain(&["--role", "ToParquetRole", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema"], "mystocktracker.policy-explain/1");
    assert_eq!(report["env"], "local");
    assert_eq!(report["unexplained"], serde_json::json!([]));
    let roles = report["roles"].as_array().unwrap();
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0]["role"], "ToParquetRole");
    assert_eq!(roles[0]["stack"], "mst-local-pipeline");
    let statements = roles[0]["statements"].as_array().unwrap();
    for statement in statements {
        for action in statement["actions"].as_array().unwrap() {
            assert!(
                !action["needed_by"].as_array().unwrap().is_empty(),
                "{action:#}"
            );
        }
    }
    let write = statements
        .iter()
        .find(|s| s["sid"] == "WriteParquet")
        .unwrap();
    assert_eq!(
        write["resources"],
        serde_json::json!([
            "arn:${AWS::Partition}:s3:::mst-local-curated-${AWS::AccountId}-${AWS::Region}/quotes/*"
        ])
    );
    let abort = &write["actions"][0];
    assert_eq!(abort["action"], "s3:AbortMultipartUpload");
    assert_eq!(
        abort["needed_by"][0],
        serde_json::json!({
            "kind": "code",
            "by": "to-parquet",
            "what": "PutObject (multipart parts) quotes/, AbortMultipartUpload when a file fails",
            "source": "runtime/to-parquet/src/upload.rs"
        })
    );
    let key = statements
        .iter()
        .find(|s| s["sid"] == "UseDataKey")
        .unwrap();
    assert_eq!(
        key["conditions"],
        serde_json::json!([
            "StringEquals kms:ViaService = s3.${AWS::Region}.amazonaws.com | sqs.${AWS::Region}.amazonaws.com"
        ])
    );
    let decrypt = &key["actions"][0];
    assert_eq!(decrypt["action"], "kms:Decrypt");
    assert!(
        decrypt["needed_by"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["kind"] == "aws"
                && r["source"]
                    .as_str()
                    .unwrap()
                    .starts_with("https://docs.aws.amazon.com/")),
        "{decrypt:#}"
    );
}

#[test]
fn an_unknown_role_is_an_error_listing_the_roles() {
    let out = explain(&["--role", "TransformerRole"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        text(&out.stderr),
        "error: environment local has no role `TransformerRole`; its roles are CrawlerRole, \
         FirehoseRole, FlowLogsRole, NotifyRole, ReplicationRole, ScraperRole, ToParquetRole, \
         TransformRole\n"
    );
}
