//! The KMS permissions every use of an encrypted resource needs are granted, in every shipped
//! environment; and the check notices when one is taken away.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
use environment::Environment;
use serde_json::Value;
use stacks::kms_use::{self, Finding};
use stacks::pipeline::{self, StackKind};

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

fn prod_pipeline() -> Value {
    let env = env("prod");
    pipeline::stacks(&env, env.canary_region())
        .unwrap()
        .into_iter()
        .find(|s| s.kind == StackKind::Pipeline)
        .unwrap()
        .template
        .to_json()
        .unwrap()
}

fn statements_mut<'a>(template: &'a mut Value, policy: &str) -> &'a mut Vec<Value> {
    template["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"]
        .as_array_mut()
        .unwrap()
}

fn uses(template: &Value) -> Vec<(String, String, String)> {
    kms_use::check(template).uses.into_iter().collect()
}

fn has_use(template: &Value, who: &str, action: &str, resource: &str) -> bool {
    uses(template)
        .iter()
        .any(|(w, a, r)| w == who && a.starts_with(action) && r == resource)
}

#[test]
fn every_role_and_service_has_the_kms_permissions_its_uses_of_encrypted_resources_need() {
    let environments = shipped_environments();
    assert!(environments.len() >= 3, "{environments:?}");
    for name in environments {
        let env = env(&name);
        for region in &env.regions {
            for stack in pipeline::stacks(&env, region).unwrap() {
                let template = stack.template.to_json().unwrap();
                let report = kms_use::check(&template);
                let missing: Vec<String> = report.missing.iter().map(Finding::to_string).collect();
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
fn the_check_sees_each_use_of_the_pipeline() {
    let template = prod_pipeline();
    for (who, action, resource) in [
        ("ScraperRole", "kinesis:PutRecords", "QuoteStream"),
        ("TransformRole", "kinesis:GetRecords", "QuoteStream"),
        (
            "TransformRole",
            "secretsmanager:GetSecretValue",
            "InfluxTokenSecret",
        ),
        ("TransformRole", "s3:PutObject", "RawBucket"),
        ("TransformRole", "sqs:SendMessage", "FailedEventsQueue"),
        ("ToParquetRole", "s3:GetObject", "RawBucket"),
        ("ToParquetRole", "s3:AbortMultipartUpload", "CuratedBucket"),
        ("ToParquetRole", "s3:AbortMultipartUpload", "RawBucket"),
        ("NotifyRole", "sns:Publish", "AlertTopic"),
        ("NotifyRole", "s3:GetObject", "CuratedBucket"),
        ("FirehoseRole", "kinesis:GetRecords", "QuoteStream"),
        ("FirehoseRole", "s3:PutObject", "RawBucket"),
        ("CrawlerRole", "s3:GetObject", "CuratedBucket"),
        ("cloudwatch.amazonaws.com", "AlarmActions", "AlertTopic"),
        ("events.amazonaws.com", "RuleTargets", "AlertTopic"),
        (
            "logs.${AWS::Region}.amazonaws.com",
            "LogGroupKey",
            "FlowLogsLogGroup",
        ),
    ] {
        assert!(
            has_use(&template, who, action, resource),
            "{who} {action} {resource} not seen in {:#?}",
            uses(&template)
        );
    }
}

#[test]
fn removing_a_needed_kms_action_from_a_role_is_reported() {
    let mut template = prod_pipeline();
    for statement in statements_mut(&mut template, "ScraperPolicy") {
        if let Some(actions) = statement["Action"].as_array_mut() {
            actions.retain(|a| a != "kms:GenerateDataKey");
        }
    }
    let missing = kms_use::check(&template).missing;
    assert_eq!(missing.len(), 1, "{missing:#?}");
    assert_eq!(
        (
            missing[0].who.as_str(),
            missing[0].action.as_str(),
            missing[0].resource.as_str(),
            missing[0].missing.as_str()
        ),
        (
            "ScraperRole",
            "kinesis:PutRecords",
            "QuoteStream",
            "kms:GenerateDataKey"
        )
    );
    assert!(missing[0].doc.starts_with("https://docs.aws.amazon.com/"));
}

#[test]
fn a_kms_grant_limited_to_another_service_is_reported() {
    let mut template = prod_pipeline();
    for statement in statements_mut(&mut template, "NotifyPolicy") {
        if let Some(via) = statement["Condition"]["StringEquals"]["kms:ViaService"].as_array_mut() {
            via.retain(|service| !service.to_string().contains("sns."));
        }
    }
    let missing: Vec<(String, String)> = kms_use::check(&template)
        .missing
        .into_iter()
        .map(|f| (f.action, f.missing))
        .collect();
    assert_eq!(
        missing,
        [
            ("sns:Publish".to_owned(), "kms:Decrypt".to_owned()),
            ("sns:Publish".to_owned(), "kms:GenerateDataKey".to_owned()),
        ]
    );
}

#[test]
fn removing_a_service_from_the_key_policy_is_reported() {
    let mut template = prod_pipeline();
    template["Resources"]["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["Sid"] != "EventBridgeRulesPublishToTheEncryptedTopic");
    let missing: Vec<(String, String)> = kms_use::check(&template)
        .missing
        .into_iter()
        .map(|f| (f.who, f.missing))
        .collect();
    assert_eq!(
        missing,
        [
            ("events.amazonaws.com".to_owned(), "kms:Decrypt".to_owned()),
            (
                "events.amazonaws.com".to_owned(),
                "kms:GenerateDataKey".to_owned()
            ),
        ]
    );
}
