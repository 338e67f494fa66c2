//! Markdown and JUnit outputs against golden files (`UPDATE_GOLDEN=1` rewrites them), JUnit parsed as
//! XML, JSON checked against the documented schema.

use std::path::PathBuf;

use policy_review::PolicyDiff;
use policy_review::diff::FailOn;
use policy_review::render::{Format, render};
use serde_json::json;

use crate::repo::{compare, lambda_role, role};

const QUOTES: &str =
    "arn:${AWS::Partition}:s3:::mst-test-curated-${AWS::AccountId}-${AWS::Region}/quotes/*";

/// One change of each common kind over four roles: a reviewer's typical merge request.
fn scenario() -> PolicyDiff {
    let trust = json!([{"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]},
                        "Action": ["sts:AssumeRole"]}]);
    let base = [
        lambda_role(
            "NotifyRole",
            json!([
                {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [QUOTES]},
                {"Effect": "Allow", "Action": ["s3:ListBucket"],
                 "Resource": ["arn:${AWS::Partition}:s3:::mst-test-curated-${AWS::AccountId}-${AWS::Region}"],
                 "Condition": {"StringLike": {"s3:prefix": ["quotes/*"]}}},
            ]),
        ),
        lambda_role(
            "OldRole",
            json!([{"Effect": "Allow", "Action": "sns:Publish", "Resource": "${AlertTopic}"}]),
        ),
        role(
            "ScraperRole",
            json!([{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                    "Action": "sts:AssumeRole"}]),
            json!([{"Effect": "Allow", "Action": ["kinesis:PutRecord", "kinesis:PutRecords"],
                     "Resource": "arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/${QuoteStream}"}]),
        ),
    ];
    let head = [
        lambda_role(
            "NotifyRole",
            json!([
                {"Effect": "Allow", "Action": ["s3:GetObject"],
                 "Resource": ["arn:${AWS::Partition}:s3:::mst-test-curated-${AWS::AccountId}-${AWS::Region}/*"]},
                {"Effect": "Allow", "Action": ["s3:ListBucket"],
                 "Resource": ["arn:${AWS::Partition}:s3:::mst-test-curated-${AWS::AccountId}-${AWS::Region}"]},
            ]),
        ),
        role(
            "ScraperRole",
            json!([{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                    "Action": "sts:AssumeRole"}]),
            json!([{"Effect": "Allow", "Action": ["kinesis:PutRecords"],
                     "Resource": "arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/${QuoteStream}"}]),
        ),
        role(
            "DeployRole",
            trust,
            json!([{"Effect": "Allow", "Action": ["iam:PassRole"],
             "Resource": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/<x>&\"y\""}]),
        ),
    ];
    compare(&base, &head)
}

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "{} differs (UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
}

#[test]
fn markdown_matches_its_golden_file() {
    golden("review.md", &render(&scenario(), Format::Markdown, false));
}

#[test]
fn junit_matches_its_golden_file_and_parses_as_one_case_per_role() {
    let xml = render(&scenario(), Format::Junit(FailOn::Broadening), false);
    golden("review.xml", &xml);
    let document = roxmltree::Document::parse(&xml).unwrap();
    let cases: Vec<(String, bool)> = document
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| {
            (
                n.attribute("name").unwrap().to_owned(),
                n.children().any(|c| c.has_tag_name("failure")),
            )
        })
        .collect();
    assert_eq!(
        cases,
        vec![
            ("DeployRole".to_owned(), true),
            ("NotifyRole".to_owned(), true),
            ("OldRole".to_owned(), false),
            ("ScraperRole".to_owned(), false),
        ]
    );
    let suites = document.root_element();
    assert_eq!(suites.attribute("tests"), Some("4"));
    assert_eq!(suites.attribute("failures"), Some("2"));
    // Escaped text comes back as written.
    assert!(xml.contains("&lt;x&gt;&amp;&quot;y&quot;"));
    let failure = document
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert!(failure.text().unwrap().contains("role/<x>&\"y\""));
}

#[test]
fn json_follows_the_documented_schema() {
    let text = render(&scenario(), Format::Json, false);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["schema"], "mystocktracker.policy-diff/1");
    assert_eq!(value["env"], "test");
    assert_eq!(
        value["summary"],
        json!({"roles": 4, "roles_changed": 4, "broadening": 5, "narrowing": 2, "risky": 1})
    );
    let notify = &value["roles"][1];
    assert_eq!(notify["role"], "NotifyRole");
    assert_eq!(notify["status"], "changed");
    let change = &notify["changes"][0];
    let keys: Vec<&str> = change
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "kind",
            "category",
            "scope",
            "effect",
            "actions",
            "resource",
            "previous",
            "principal",
            "condition",
            "conditions",
            "risky",
            "reason"
        ]
    );
    assert_eq!(change["kind"], "broadening");
    assert_eq!(change["effect"], "Allow");
}

#[test]
fn text_is_plain_unless_coloured() {
    let diff = scenario();
    let plain = render(&diff, Format::Text, false);
    assert!(!plain.contains('\x1b'));
    assert!(plain.contains("+ broadening [permissions] s3:GetObject on"));
    assert!(render(&diff, Format::Text, true).contains("\x1b[31m+ broadening"));
}

#[test]
fn junit_fails_the_cases_fail_on_names_and_none_with_never() {
    let count = |level: FailOn| {
        let xml = render(&scenario(), Format::Junit(level), false);
        let document = roxmltree::Document::parse(&xml).unwrap();
        let failures = document
            .descendants()
            .filter(|n| n.has_tag_name("failure"))
            .count();
        let reported = document
            .descendants()
            .filter(|n| n.has_tag_name("system-out"))
            .count();
        assert_eq!(
            document.root_element().attribute("failures"),
            Some(failures.to_string().as_str())
        );
        (failures, reported)
    };
    // The scenario: two roles broaden, two only narrow (one of them deleted).
    assert_eq!(count(FailOn::Broadening).0, 2);
    assert_eq!(count(FailOn::Any).0, 4, "narrowing roles fail too");
    let (failures, reported) = count(FailOn::Never);
    assert_eq!(failures, 0, "--fail-on never: nothing fails");
    assert_eq!(reported, 4, "every changed role still shows its changes");
}
