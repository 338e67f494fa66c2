//! `deployer policy diff --against-deployed` end to end against the local AWS emulator (moto): deploy
//! the `local` environment's IAM through CloudFormation, change a role's inline policy directly
//! through the IAM API, and see the drift reported as broadening.
//!
//! `deployer up` (the deploy engine) is being written on another branch, so this test deploys by
//! itself: one CloudFormation stack named like the real one (`mst-local-pipeline`), made of the
//! synthesized template's roles, their `AWS::IAM::Policy` resources and the resources those policies
//! name (stream, queue, key, log groups, buckets, topic, secret, Glue database), with every property
//! that refers to anything else left out. The roles and policies are the real template's; the stack
//! goes through the same CloudFormation and IAM APIs `--against-deployed` reads. Once `deployer up`
//! is on main, this test should deploy with it instead.
//!
//! moto must be installed; `testkit::Moto` starts it: `MST_MOTO_SERVER` names `moto_server` (`.ci/run`
//! exports it), else the virtualenv of `.ci/setup-tools` is tried. A missing moto fails the test: an
//! end-to-end test that silently skips proves nothing.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aws_connect::{Connection, Target};
use policy_review::source::deployed::document_statements;
use serde_json::{Value, json};

use testkit::Moto;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Resource types moto's CloudFormation creates that the roles' policies name.
const KEPT: &[&str] = &[
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::Kinesis::Stream",
    "AWS::SQS::Queue",
    "AWS::KMS::Key",
    "AWS::Logs::LogGroup",
    "AWS::SNS::Topic",
    "AWS::S3::Bucket",
    "AWS::SecretsManager::Secret",
    "AWS::Glue::Database",
];

/// Logical ids a template value refers to (`Ref`, `Fn::GetAtt`, `${...}` in `Fn::Sub`).
fn references(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("Ref", Value::String(id)) => {
                        out.insert(id.clone());
                    }
                    ("Fn::GetAtt", Value::Array(parts)) => {
                        out.extend(parts.first().and_then(Value::as_str).map(str::to_owned));
                    }
                    ("Fn::Sub", Value::String(body)) => {
                        for piece in body.split("${").skip(1) {
                            let name = piece.split('}').next().unwrap_or_default();
                            out.insert(name.split('.').next().unwrap_or_default().to_owned());
                        }
                    }
                    _ => references(inner, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

/// The IAM part of the synthesized `local` pipeline template, as described in the module docs.
fn iam_template(template: &Value) -> Value {
    let mut resources = serde_json::Map::new();
    for (id, resource) in template["Resources"].as_object().unwrap() {
        if KEPT.contains(&resource["Type"].as_str().unwrap()) {
            resources.insert(id.clone(), resource.clone());
        }
    }
    let parameters: serde_json::Map<String, Value> = template["Parameters"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, p)| {
            !p["Type"]
                .as_str()
                .unwrap_or_default()
                .starts_with("AWS::SSM")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let known: BTreeSet<String> = resources.keys().chain(parameters.keys()).cloned().collect();
    for resource in resources.values_mut() {
        let resource = resource.as_object_mut().unwrap();
        resource.remove("DependsOn");
        if let Some(Value::Object(properties)) = resource.get_mut("Properties") {
            properties.retain(|_, value| {
                let mut ids = BTreeSet::new();
                references(value, &mut ids);
                ids.iter()
                    .all(|id| id.starts_with("AWS::") || known.contains(id))
            });
        }
    }
    json!({"AWSTemplateFormatVersion": "2010-09-09", "Parameters": parameters, "Resources": resources})
}

fn run(moto: &Moto, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deployer"))
        .args(args)
        .current_dir(repo())
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn report(moto: &Moto) -> (Option<i32>, Value) {
    let out = run(
        moto,
        &[
            "policy",
            "diff",
            "--env",
            "local",
            "--against-deployed",
            "--format",
            "json",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: stdout {:?}, stderr {stderr}", out.stdout));
    (out.status.code(), value)
}

/// (role, kind, category, actions, resource, reason) of every change.
fn changes(report: &Value) -> BTreeSet<(String, String, String, String, String, String)> {
    let mut out = BTreeSet::new();
    for role in report["roles"].as_array().unwrap() {
        for change in role["changes"].as_array().unwrap() {
            out.insert((
                role["role"].as_str().unwrap().to_owned(),
                change["kind"].as_str().unwrap().to_owned(),
                change["category"].as_str().unwrap().to_owned(),
                change["actions"].to_string(),
                change["resource"].as_str().unwrap_or_default().to_owned(),
                change["reason"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

#[test]
fn drift_made_through_the_iam_api_shows_as_broadening() {
    let moto = Moto::start();
    let env = environment::load(&repo().join("environments/local.yaml")).unwrap();
    let synthesis = synth::synthesize(&env, None).unwrap();
    let pipeline = synthesis.regions[0]
        .stacks
        .iter()
        .find(|s| s.name == "mst-local-pipeline")
        .unwrap();
    let template = iam_template(&pipeline.json);
    let account = env.account.as_str().to_owned();
    let region = env.canary_region().as_str().to_owned();

    // Before anything is deployed, --against-deployed is an error naming the stack.
    let out = run(
        &moto,
        &["policy", "diff", "--env", "local", "--against-deployed"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("stack mst-local-pipeline is not deployed in us-east-1"),
        "{stderr}"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let connection = runtime.block_on(Connection::load(&Target {
        region: region.clone(),
        endpoint: Some(moto.endpoint().to_owned()),
        profile: None,
    }));
    let cfn = aws_sdk_cloudformation::Client::new(connection.sdk_config());
    let iam = aws_connect::query::QueryClient::new(
        connection.sdk_config(),
        &region,
        aws_connect::query::IAM,
    );

    // Deploy.
    let mut create = cfn
        .create_stack()
        .stack_name("mst-local-pipeline")
        .template_body(template.to_string())
        .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityIam);
    for name in template["Parameters"].as_object().unwrap().keys() {
        let value = match name.as_str() {
            "ArtifactsBucket" => format!("mst-local-artifacts-{account}-{region}"),
            // local.yaml's `dr:` region holds the replica key.
            "ReplicaKeyArn" => format!("arn:aws:kms:us-west-2:{account}:key/0123abcd"),
            other => format!("{}/0123abcd.zip", other.to_lowercase()),
        };
        create = create.parameters(
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key(name)
                .parameter_value(value)
                .build(),
        );
    }
    runtime.block_on(create.send()).unwrap();

    // Freshly deployed: what moto deploys faithfully matches the snapshot. moto skips Secrets
    // Manager secrets and resolves their `Ref` to nothing (DESIGN.md §3), so the live transform
    // policy names no secret: that emulator gap is the one difference, reported as it is.
    let (code, before) = report(&moto);
    let gap: BTreeSet<_> = [
        (
            "TransformRole".to_owned(),
            "broadening".to_owned(),
            "new_resource".to_owned(),
            "[\"secretsmanager:GetSecretValue\"]".to_owned(),
            "null".to_owned(),
            "action the role had, now on one more resource".to_owned(),
        ),
        (
            "TransformRole".to_owned(),
            "narrowing".to_owned(),
            "resource_removed".to_owned(),
            "[\"secretsmanager:GetSecretValue\"]".to_owned(),
            "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${InfluxTokenSecret.Name}".to_owned(),
            "resource removed (the action remains on others)".to_owned(),
        ),
    ]
    .into();
    assert_eq!(changes(&before), gap, "{before:#}");
    assert_eq!(code, Some(2));
    for role in [
        "CrawlerRole",
        "FirehoseRole",
        "NotifyRole",
        "ScraperRole",
        "ToParquetRole",
    ] {
        let found = before["roles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["role"] == role)
            .unwrap();
        assert_eq!(found["status"], "unchanged", "{found:#}");
    }

    // Drift: someone widens the notify Lambda's inline policy to the whole curated bucket and lets
    // it pass roles, directly through IAM.
    let resources = runtime
        .block_on(
            cfn.list_stack_resources()
                .stack_name("mst-local-pipeline")
                .send(),
        )
        .unwrap();
    let physical = |logical: &str| {
        resources
            .stack_resource_summaries()
            .iter()
            .find(|r| r.logical_resource_id() == Some(logical))
            .and_then(|r| r.physical_resource_id())
            .unwrap()
            .to_owned()
    };
    let role = physical("NotifyRole");
    let policies = runtime
        .block_on(iam.call("ListRolePolicies", &[("RoleName", &role)]))
        .unwrap();
    assert_eq!(
        policies.texts(&["ListRolePoliciesResult", "PolicyNames", "member"]),
        ["NotifyPermissions"]
    );
    let got = runtime
        .block_on(iam.call(
            "GetRolePolicy",
            &[("RoleName", &role), ("PolicyName", "NotifyPermissions")],
        ))
        .unwrap()
        .text_at(&["GetRolePolicyResult", "PolicyDocument"])
        .unwrap();
    // IAM returns documents URL-encoded.
    let mut statements = document_statements("NotifyPermissions", &got).unwrap();
    statements.push(json!({
        "Effect": "Allow",
        "Action": ["s3:getobject", "iam:PassRole"],
        "Resource": format!("arn:aws:s3:::mst-local-curated-{account}-{region}/*"),
    }));
    let document = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    runtime
        .block_on(iam.call(
            "PutRolePolicy",
            &[
                ("RoleName", &role),
                ("PolicyName", "NotifyPermissions"),
                ("PolicyDocument", &document),
            ],
        ))
        .unwrap();

    let (code, after) = report(&moto);
    assert_eq!(code, Some(2));
    let drift: BTreeSet<_> = changes(&after).difference(&gap).cloned().collect();
    let curated = "arn:${AWS::Partition}:s3:::mst-local-curated-${AWS::AccountId}-${AWS::Region}";
    assert_eq!(
        drift,
        [
            (
                "NotifyRole".to_owned(),
                "broadening".to_owned(),
                "new_action".to_owned(),
                "[\"iam:PassRole\"]".to_owned(),
                format!("{curated}/*"),
                "new action for this role".to_owned(),
            ),
            (
                "NotifyRole".to_owned(),
                "broadening".to_owned(),
                "resource_widened".to_owned(),
                "[\"s3:getobject\"]".to_owned(),
                format!("{curated}/*"),
                format!("resource widened from {curated}/quotes/*, {curated}/state/notify/*"),
            ),
        ]
        .into(),
        "{after:#}"
    );
    let notify = after["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == "NotifyRole")
        .unwrap();
    assert_eq!(notify["changes"][0]["risky"], json!(["iam:PassRole"]));
    assert_eq!(after["base"], "synth");
    assert_eq!(after["head"], "deployed:us-east-1");

    // The same drift, as a reviewer reads it in a terminal.
    let text = run(
        &moto,
        &["policy", "diff", "--env", "local", "--against-deployed"],
    );
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains(
            "NotifyRole (mst-local-pipeline): changed\n  + broadening [permissions] iam:PassRole on"
        ),
        "{stdout}"
    );
}
