//! The exact classification of each kind of change, between two committed snapshot revisions.

use policy_review::diff::FailOn;
use policy_review::{Category, ChangeKind, PolicyDiff, RoleStatus};
use serde_json::{Value, json};

use crate::repo::{Repo, compare, lambda_role, role};

const QUOTES: &str =
    "arn:${AWS::Partition}:s3:::mst-test-curated-${AWS::AccountId}-${AWS::Region}/quotes/*";
const BUCKET_ALL: &str =
    "arn:${AWS::Partition}:s3:::mst-test-curated-${AWS::AccountId}-${AWS::Region}/*";
const BUCKET: &str = "arn:${AWS::Partition}:s3:::mst-test-curated-${AWS::AccountId}-${AWS::Region}";

fn read_quotes(actions: &[&str]) -> Value {
    json!({"Sid": "ReadQuotes", "Effect": "Allow", "Action": actions, "Resource": [QUOTES]})
}

fn list_bucket(condition: Option<Value>) -> Value {
    let mut statement = json!({"Sid": "ListQuotes", "Effect": "Allow", "Action": ["s3:ListBucket"],
                               "Resource": [BUCKET]});
    if let Some(condition) = condition {
        statement["Condition"] = condition;
    }
    statement
}

/// (kind, category, actions, resource or principal, reason) of every change of `role`.
fn changes(
    diff: &PolicyDiff,
    role: &str,
) -> Vec<(ChangeKind, Category, Vec<String>, String, String)> {
    let role = diff.roles.iter().find(|r| r.role == role).unwrap();
    role.changes
        .iter()
        .map(|c| {
            (
                c.kind,
                c.category,
                c.actions.clone(),
                c.resource
                    .clone()
                    .or(c.principal.clone())
                    .unwrap_or_default(),
                c.reason.clone(),
            )
        })
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn an_added_action_broadens() {
    let diff = compare(
        &[lambda_role("R", json!([read_quotes(&["s3:GetObject"])]))],
        &[lambda_role(
            "R",
            json!([read_quotes(&["s3:GetObject", "s3:PutObject"])]),
        )],
    );
    assert_eq!(
        changes(&diff, "R"),
        vec![(
            ChangeKind::Broadening,
            Category::NewAction,
            strings(&["s3:PutObject"]),
            QUOTES.to_owned(),
            "new action for this role".to_owned()
        )]
    );
    assert_eq!(diff.roles[0].status, RoleStatus::Changed);
    assert!(diff.fails(FailOn::Broadening));
}

#[test]
fn a_removed_action_narrows() {
    let diff = compare(
        &[lambda_role(
            "R",
            json!([read_quotes(&["s3:GetObject", "s3:PutObject"])]),
        )],
        &[lambda_role("R", json!([read_quotes(&["s3:GetObject"])]))],
    );
    assert_eq!(
        changes(&diff, "R"),
        vec![(
            ChangeKind::Narrowing,
            Category::ActionRemoved,
            strings(&["s3:PutObject"]),
            QUOTES.to_owned(),
            "action removed from this role".to_owned()
        )]
    );
    assert!(!diff.fails(FailOn::Broadening));
    assert!(diff.fails(FailOn::Any));
    assert!(!diff.fails(FailOn::Never));
}

#[test]
fn a_resource_widened_to_a_prefix_wildcard_is_one_broadening_change() {
    let widened = json!([{"Sid": "ReadQuotes", "Effect": "Allow", "Action": ["s3:GetObject"],
                          "Resource": [BUCKET_ALL]}]);
    let diff = compare(
        &[lambda_role("R", json!([read_quotes(&["s3:GetObject"])]))],
        &[lambda_role("R", widened)],
    );
    assert_eq!(
        changes(&diff, "R"),
        vec![(
            ChangeKind::Broadening,
            Category::ResourceWidened,
            strings(&["s3:GetObject"]),
            BUCKET_ALL.to_owned(),
            format!("resource widened from {QUOTES}")
        )]
    );
    assert_eq!(diff.roles[0].changes[0].previous.as_deref(), Some(QUOTES));
}

#[test]
fn a_resource_narrowed_to_a_longer_prefix_narrows() {
    let narrowed = json!([{"Sid": "ReadQuotes", "Effect": "Allow", "Action": ["s3:GetObject"],
                           "Resource": [QUOTES]}]);
    let wide = json!([{"Sid": "ReadQuotes", "Effect": "Allow", "Action": ["s3:GetObject"],
                       "Resource": [BUCKET_ALL]}]);
    let diff = compare(&[lambda_role("R", wide)], &[lambda_role("R", narrowed)]);
    assert_eq!(
        changes(&diff, "R"),
        vec![(
            ChangeKind::Narrowing,
            Category::ResourceNarrowed,
            strings(&["s3:GetObject"]),
            QUOTES.to_owned(),
            format!("resource narrowed from {BUCKET_ALL}")
        )]
    );
}

#[test]
fn an_added_condition_narrows() {
    let condition = json!({"StringLike": {"s3:prefix": ["quotes/*"]}});
    let diff = compare(
        &[lambda_role("R", json!([list_bucket(None)]))],
        &[lambda_role("R", json!([list_bucket(Some(condition))]))],
    );
    assert_eq!(
        changes(&diff, "R"),
        vec![(
            ChangeKind::Narrowing,
            Category::ConditionAdded,
            strings(&["s3:ListBucket"]),
            BUCKET.to_owned(),
            "condition added: StringLike s3:prefix = quotes/*".to_owned()
        )]
    );
}

#[test]
fn a_removed_condition_broadens() {
    let condition = json!({"StringLike": {"s3:prefix": ["quotes/*"]}});
    let diff = compare(
        &[lambda_role("R", json!([list_bucket(Some(condition))]))],
        &[lambda_role("R", json!([list_bucket(None)]))],
    );
    assert_eq!(
        changes(&diff, "R"),
        vec![(
            ChangeKind::Broadening,
            Category::ConditionRemoved,
            strings(&["s3:ListBucket"]),
            BUCKET.to_owned(),
            "condition removed: StringLike s3:prefix = quotes/*".to_owned()
        )]
    );
}

#[test]
fn a_change_shows_the_conditions_its_grants_are_under() {
    let condition = json!({"StringLike": {"s3:prefix": ["quotes/*"]}});
    let mut get = read_quotes(&["s3:GetObject"]);
    get["Resource"] = json!([BUCKET]);
    let diff = compare(
        &[lambda_role("R", json!([]))],
        &[lambda_role("R", json!([list_bucket(Some(condition)), get]))],
    );
    let role = diff.roles.iter().find(|r| r.role == "R").unwrap();
    // Grants on the same resource under different conditions are separate changes.
    let found: Vec<(Vec<String>, Vec<String>)> = role
        .changes
        .iter()
        .map(|c| (c.actions.clone(), c.conditions.clone()))
        .collect();
    assert_eq!(
        found,
        [
            (strings(&["s3:GetObject"]), Vec::new()),
            (
                strings(&["s3:ListBucket"]),
                strings(&["StringLike s3:prefix = quotes/*"])
            ),
        ]
    );
    let text = policy_review::render::render(&diff, policy_review::Format::Text, false);
    assert!(
        text.contains(&format!(
            "s3:ListBucket on {BUCKET}\n      new action for this role\n      if StringLike s3:prefix = quotes/*\n"
        )),
        "{text}"
    );
    let markdown = policy_review::render::render(&diff, policy_review::Format::Markdown, false);
    assert!(
        markdown.contains("new action for this role; if StringLike s3:prefix = quotes/* |"),
        "{markdown}"
    );
}

#[test]
fn a_loosened_condition_broadens() {
    let tight = json!({"StringLike": {"s3:prefix": ["quotes/*"]}});
    let loose = json!({"StringLike": {"s3:prefix": ["*"]}});
    let diff = compare(
        &[lambda_role("R", json!([list_bucket(Some(tight))]))],
        &[lambda_role("R", json!([list_bucket(Some(loose))]))],
    );
    assert_eq!(
        changes(&diff, "R"),
        vec![(
            ChangeKind::Broadening,
            Category::ConditionLoosened,
            strings(&["s3:ListBucket"]),
            BUCKET.to_owned(),
            "condition loosened: StringLike s3:prefix = quotes/* -> StringLike s3:prefix = *"
                .to_owned()
        )]
    );
}

#[test]
fn a_new_role_broadens_and_lists_what_it_may_do() {
    let diff = compare(
        &[lambda_role("A", json!([read_quotes(&["s3:GetObject"])]))],
        &[
            lambda_role("A", json!([read_quotes(&["s3:GetObject"])])),
            lambda_role("B", json!([read_quotes(&["s3:GetObject", "iam:PassRole"])])),
        ],
    );
    let b = diff.roles.iter().find(|r| r.role == "B").unwrap();
    assert_eq!(b.status, RoleStatus::Added);
    assert_eq!(
        changes(&diff, "B"),
        vec![
            (
                ChangeKind::Broadening,
                Category::NewRole,
                vec![],
                String::new(),
                "new role, trusted by Service lambda.amazonaws.com, with 2 permission grant(s)"
                    .to_owned()
            ),
            (
                ChangeKind::Broadening,
                Category::NewPrincipal,
                strings(&["sts:AssumeRole"]),
                "Service lambda.amazonaws.com".to_owned(),
                "new trusted principal: Service lambda.amazonaws.com".to_owned()
            ),
            (
                ChangeKind::Broadening,
                Category::NewAction,
                strings(&["iam:PassRole", "s3:GetObject"]),
                QUOTES.to_owned(),
                "new action for this role".to_owned()
            ),
        ]
    );
    assert_eq!(b.changes[2].risky, strings(&["iam:PassRole"]));
    assert_eq!(
        diff.roles.iter().find(|r| r.role == "A").unwrap().status,
        RoleStatus::Unchanged
    );
}

#[test]
fn a_deleted_role_narrows() {
    let diff = compare(
        &[
            lambda_role("A", json!([read_quotes(&["s3:GetObject"])])),
            lambda_role("B", json!([read_quotes(&["s3:GetObject"])])),
        ],
        &[lambda_role("A", json!([read_quotes(&["s3:GetObject"])]))],
    );
    assert_eq!(
        diff.roles.iter().find(|r| r.role == "B").unwrap().status,
        RoleStatus::Deleted
    );
    assert_eq!(
        changes(&diff, "B"),
        vec![(
            ChangeKind::Narrowing,
            Category::RoleDeleted,
            vec![],
            String::new(),
            "role deleted".to_owned()
        )]
    );
    assert!(!diff.fails(FailOn::Broadening));
}

#[test]
fn a_new_trusted_service_broadens() {
    let trust = |services: &[&str]| json!([{"Effect": "Allow", "Principal": {"Service": services}, "Action": ["sts:AssumeRole"]}]);
    let permissions = json!([read_quotes(&["s3:GetObject"])]);
    let diff = compare(
        &[role(
            "R",
            trust(&["lambda.amazonaws.com"]),
            permissions.clone(),
        )],
        &[role(
            "R",
            trust(&["lambda.amazonaws.com", "ec2.amazonaws.com"]),
            permissions,
        )],
    );
    assert_eq!(
        changes(&diff, "R"),
        vec![(
            ChangeKind::Broadening,
            Category::NewPrincipal,
            strings(&["sts:AssumeRole"]),
            "Service ec2.amazonaws.com".to_owned(),
            "new trusted principal: Service ec2.amazonaws.com".to_owned()
        )]
    );
}

#[test]
fn reordered_split_and_differently_spelt_statements_are_no_change() {
    let kms = json!({"Sid": "UseKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                     "Resource": ["arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/${DataKey}"]});
    let base = [lambda_role(
        "R",
        json!([read_quotes(&["s3:GetObject", "s3:PutObject"]), kms.clone()]),
    )];
    // Statements in the other order, actions in the other order and split, a string for a list.
    let reordered = json!([
        kms,
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": QUOTES},
        {"Sid": "Other", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObject"], "Resource": [QUOTES]},
    ]);
    let diff = compare(&base, &[lambda_role("R", reordered)]);
    assert_eq!(diff.roles[0].status, RoleStatus::Unchanged);
    assert!(diff.roles[0].changes.is_empty());
    assert!(!diff.fails(FailOn::Any));
}

#[test]
fn the_same_action_in_another_case_is_no_change() {
    let diff = compare(
        &[lambda_role("R", json!([read_quotes(&["s3:GetObject"])]))],
        &[lambda_role("R", json!([read_quotes(&["S3:getobject"])]))],
    );
    assert_eq!(diff.roles[0].status, RoleStatus::Unchanged);
}

#[test]
fn wildcards_and_risky_actions_are_flagged() {
    let diff = compare(
        &[lambda_role("R", json!([read_quotes(&["s3:GetObject"])]))],
        &[lambda_role(
            "R",
            json!([
                read_quotes(&["s3:GetObject", "s3:*"]),
                {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "*"},
            ]),
        )],
    );
    assert_eq!(
        changes(&diff, "R"),
        vec![
            (
                ChangeKind::Broadening,
                Category::WildcardAction,
                strings(&["s3:*"]),
                QUOTES.to_owned(),
                "action wildcard: grants every action it matches".to_owned()
            ),
            (
                ChangeKind::Broadening,
                Category::WildcardResource,
                strings(&["kms:Decrypt"]),
                "*".to_owned(),
                "granted on every resource (\"*\")".to_owned()
            ),
        ]
    );
    let risky: Vec<&Vec<String>> = diff.roles[0].changes.iter().map(|c| &c.risky).collect();
    assert_eq!(risky, vec![&strings(&["s3:*"]), &strings(&["kms:Decrypt"])]);
}

#[test]
fn a_revision_without_the_environment_is_an_empty_snapshot_and_a_bad_revision_an_error() {
    let repo = Repo::new();
    std::fs::write(repo.path().join("README"), "x").unwrap();
    let first = repo.commit(&[]);
    let second = repo.commit(&[lambda_role("R", json!([read_quotes(&["s3:GetObject"])]))]);
    let diff = repo.diff(&first, &second);
    assert_eq!(diff.roles[0].status, RoleStatus::Added);
    let error = policy_review::source::from_git(
        repo.path(),
        "no-such-rev",
        std::path::Path::new("policies/test"),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("no commit `no-such-rev`"),
        "{error}"
    );
}
