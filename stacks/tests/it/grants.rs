//! Every granted action of every role is needed by a use attached where the grant is made, in every
//! shipped environment; and the check names a grant that nothing uses.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
use environment::Environment;
use stacks::grants;
use stacks::iam::actions::{kinesis, kms, s3};
use stacks::iam::uses::Use;
use stacks::iam::{PolicyDocument, Principal, Statement};
use stacks::kms_use::Encrypted;
use stacks::pipeline::{self, Stack, StackKind};
use stacks::resources::iam::{Policy, Role};
use stacks::template::{Expr, Options};

fn env(name: &str) -> Environment {
    let path = format!("{}/../environments/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
    environment::load(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{e}"))
}

fn shipped_environments() -> Vec<String> {
    let dir = format!("{}/../environments", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn pipeline_stack(name: &str) -> Stack {
    let env = env(name);
    pipeline::stacks(&env, env.canary_region())
        .unwrap()
        .into_iter()
        .find(|s| s.kind == StackKind::Pipeline)
        .unwrap()
}

#[test]
fn every_granted_action_is_needed_by_a_use_in_every_environment() {
    let environments = shipped_environments();
    assert!(environments.len() >= 3, "{environments:?}");
    for name in environments {
        let env = env(&name);
        for region in &env.regions {
            for stack in pipeline::stacks(&env, region).unwrap() {
                let missing: Vec<String> = grants::unexplained(&stack.template)
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                assert!(
                    missing.is_empty(),
                    "{name}/{region}/{}: {missing:#?}",
                    stack.name
                );
            }
        }
    }
}

#[test]
fn every_role_of_the_pipeline_has_its_grants_with_their_uses() {
    let stack = pipeline_stack("prod");
    let roles: Vec<(String, Vec<Use>)> = grants::of_template(&stack.template)
        .into_iter()
        .map(|g| {
            let uses = g
                .statements
                .iter()
                .flat_map(|s| s.uses().iter().copied())
                .collect();
            (g.role, uses)
        })
        .collect();
    let names: Vec<&str> = roles.iter().map(|(role, _)| role.as_str()).collect();
    assert_eq!(
        names,
        [
            "CrawlerRole",
            "FirehoseRole",
            "FlowLogsRole",
            "GrafanaWorkspaceRole",
            "NotifyRole",
            "ReplicationRole",
            "ScraperRole",
            "ToParquetRole",
            "TransformRole",
            "VpnConnectRole"
        ]
    );
    let uses_of = |name: &str| &roles.iter().find(|(role, _)| role == name).unwrap().1;
    let transform = uses_of("TransformRole");
    assert!(transform.contains(&Use::TransformQuarantinesRecords));
    // The data key grant is derived from the others: GetRecords on the stream needs kms:Decrypt.
    let stream_key = Use::DataKeyFor {
        action: kinesis::GET_RECORDS,
        on: Encrypted::KinesisStream,
    };
    assert!(transform.contains(&stream_key), "{transform:#?}");
    assert_eq!(stream_key.need().actions, [kms::DECRYPT]);
    // The flow logs role touches nothing encrypted itself: no key grant.
    assert!(
        !uses_of("FlowLogsRole")
            .iter()
            .any(|u| matches!(u, Use::DataKeyFor { .. })),
        "{:#?}",
        uses_of("FlowLogsRole")
    );
    // Replication's KMS grants are derived too: reading versions to replicate decrypts with the
    // source key, writing replicas encrypts with the replica key.
    let replication = uses_of("ReplicationRole");
    for (action, kms_action) in [
        (s3::GET_OBJECT_VERSION_FOR_REPLICATION, kms::DECRYPT),
        (s3::REPLICATE_OBJECT, kms::ENCRYPT),
    ] {
        let derived = Use::DataKeyFor {
            action,
            on: Encrypted::S3Objects,
        };
        assert!(replication.contains(&derived), "{replication:#?}");
        assert_eq!(derived.need().actions, [kms_action]);
    }
}

/// A scratch role in the real pipeline template, one of whose statements is made the old way
/// (`Statement::allow`, no use): the check names the role, the action and the resource, and nothing
/// else.
#[test]
fn a_grant_that_nothing_uses_is_named_with_its_role_action_and_resource() {
    let mut stack = pipeline_stack("prod");
    let t = &mut stack.template;
    let role = t
        .add(
            "ScratchRole",
            Role {
                role_name: None,
                description: "scratch".into(),
                assume_role_policy_document: PolicyDocument::new(vec![Statement::allow_principal(
                    Principal::Service(vec![Expr::lit("lambda.amazonaws.com")]),
                    &[stacks::iam::actions::sts::ASSUME_ROLE],
                )]),
            },
            Options::none(),
        )
        .unwrap();
    let stream = Expr::lit("arn:aws:kinesis:us-east-1:123456789012:stream/quotes");
    t.add(
        "ScratchPolicy",
        Policy {
            policy_name: "ScratchPermissions".into(),
            policy_document: PolicyDocument::identity(vec![
                Statement::grant(&[Use::ScraperPutsQuotes], [stream.clone()]).sid("PutQuotes"),
                Statement::allow(&[kinesis::LIST_SHARDS, kinesis::PUT_RECORDS], [stream])
                    .sid("ListEverything"),
                Statement::allow(&[s3::GET_OBJECT], [Expr::lit("arn:aws:s3:::b/*")]),
            ])
            .unwrap(),
            roles: vec![role.reference()],
        },
        Options::none(),
    )
    .unwrap();
    let missing = grants::unexplained(&stack.template);
    let named: Vec<(String, Option<String>, String, Vec<String>)> = missing
        .iter()
        .map(|m| {
            (
                m.role.clone(),
                m.sid.clone(),
                m.action.to_string(),
                m.resources.clone(),
            )
        })
        .collect();
    let stream_text = "arn:aws:kinesis:us-east-1:123456789012:stream/quotes".to_owned();
    assert_eq!(
        named,
        [
            (
                "ScratchRole".to_owned(),
                Some("ListEverything".to_owned()),
                "kinesis:ListShards".to_owned(),
                vec![stream_text.clone()]
            ),
            (
                "ScratchRole".to_owned(),
                Some("ListEverything".to_owned()),
                "kinesis:PutRecords".to_owned(),
                vec![stream_text]
            ),
            (
                "ScratchRole".to_owned(),
                None,
                "s3:GetObject".to_owned(),
                vec!["arn:aws:s3:::b/*".to_owned()]
            ),
        ]
    );
    let message = missing[0].to_string();
    assert!(
        message.starts_with("ScratchRole grants kinesis:ListShards on arn:aws:kinesis:us-east-1:123456789012:stream/quotes (policy ScratchPolicy, statement ListEverything) but no use accounts for it."),
        "{message}"
    );
    assert!(message.contains("stacks/src/iam/uses.rs"), "{message}");
}

/// A use of a component's own code is granted only to that component's role: a statement copied to
/// another role with its use would still pass the check above, so this one names the mismatch.
#[test]
fn code_uses_are_granted_to_their_own_components_role() {
    use stacks::iam::uses::Source;
    for name in shipped_environments() {
        let stack = pipeline_stack(&name);
        for grants in grants::of_template(&stack.template) {
            for used in grants.statements.iter().flat_map(|s| s.uses()) {
                let need = used.need();
                if !matches!(need.source, Source::Code { .. }) {
                    continue;
                }
                let role = match need.by {
                    "scraper" | "scraper instance" => "ScraperRole",
                    "transform" => "TransformRole",
                    "to-parquet" => "ToParquetRole",
                    "notify" => "NotifyRole",
                    "Managed Grafana" => "GrafanaWorkspaceRole",
                    other => panic!("{used:?}: no role for component {other:?}"),
                };
                assert_eq!(grants.role, role, "{name}: {used:?}");
            }
        }
    }
}
