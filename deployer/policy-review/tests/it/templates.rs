//! Comparing templates (what the deploy engine does): roles exactly as their snapshots compare, and
//! resource-based policies (key, bucket and Lambda permission) with the same classification.

use policy_review::render::{change_lines, changes_text};
use policy_review::{
    Catalog, Category, ChangeKind, PolicyDiff, RoleStatus, diff_snapshots, diff_templates,
};
use serde_json::{Value, json};
use synth::Snapshot;

const STACK: &str = "mst-test-pipeline";

/// A template with a Lambda role allowed `actions` on the quote stream, a key, a bucket policy
/// (the TLS-only `Deny`) and a Lambda permission for S3.
fn template(actions: &[&str]) -> Value {
    json!({"Resources": {
        "QuoteStream": {"Type": "AWS::Kinesis::Stream", "Properties": {}},
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {
            "BucketName": {"Fn::Sub": "mst-test-raw-${AWS::AccountId}-${AWS::Region}"}}},
        "TransformRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {"Service": "lambda.amazonaws.com"}}]}}},
        "TransformPolicy": {"Type": "AWS::IAM::Policy", "Properties": {
            "Roles": [{"Ref": "TransformRole"}],
            "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": actions,
                "Resource": {"Fn::GetAtt": ["QuoteStream", "Arn"]}}]}}},
        "DataKey": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": [
            {"Effect": "Allow",
             "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
             "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": "*"}]}}},
        "BucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "Bucket"},
            "PolicyDocument": {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/*"}],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}},
        "BucketInvokesTransform": {"Type": "AWS::Lambda::Permission", "Properties": {
            "Action": "lambda:InvokeFunction", "FunctionName": {"Ref": "Transform"},
            "Principal": "s3.amazonaws.com",
            "SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}"},
            "SourceAccount": {"Ref": "AWS::AccountId"}}},
    }})
}

fn compare(old: Option<&Value>, new: &Value) -> PolicyDiff {
    let base: Vec<(&str, &Value)> = old.map(|t| (STACK, t)).into_iter().collect();
    diff_templates(STACK, "deployed", &base, "template", &[(STACK, new)])
}

/// (kind, category, actions, resource, principal, reason) of every change of a role or policy.
#[allow(clippy::type_complexity)]
fn changes(
    diff: &PolicyDiff,
    holder: &str,
) -> Vec<(ChangeKind, Category, Vec<String>, String, String, String)> {
    let holder = diff.holders().find(|h| h.role == holder).unwrap();
    holder
        .changes
        .iter()
        .map(|c| {
            (
                c.kind,
                c.category,
                c.actions.clone(),
                c.resource.clone().unwrap_or_default(),
                c.principal.clone().unwrap_or_default(),
                c.reason.clone(),
            )
        })
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

const STREAM: &str =
    "arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/${QuoteStream}";
const OBJECTS: &str = "arn:${AWS::Partition}:s3:::mst-test-raw-${AWS::AccountId}-${AWS::Region}/*";

#[test]
fn roles_compare_exactly_as_their_snapshots_do() {
    let old = template(&["kinesis:GetRecords"]);
    let new = template(&["kinesis:GetRecords", "kinesis:PutRecord"]);
    let diff = compare(Some(&old), &new);
    let mut catalog = Catalog::default();
    catalog.add_template(&old);
    catalog.add_template(&new);
    let snapshots = diff_snapshots(
        STACK,
        "deployed",
        &Snapshot::from_stacks([(STACK, &old)]),
        "template",
        &Snapshot::from_stacks([(STACK, &new)]),
        &catalog,
    );
    assert_eq!(diff.roles, snapshots.roles);
    assert_eq!(
        changes(&diff, "TransformRole"),
        [(
            ChangeKind::Broadening,
            Category::NewAction,
            strings(&["kinesis:PutRecord"]),
            STREAM.to_owned(),
            String::new(),
            "new action for this role".to_owned()
        )]
    );
    // The resource-based policies are there, unchanged.
    assert_eq!(
        diff.resource_policies
            .iter()
            .map(|p| (p.role.as_str(), p.status))
            .collect::<Vec<_>>(),
        [
            ("BucketInvokesTransform", RoleStatus::Unchanged),
            ("BucketPolicy", RoleStatus::Unchanged),
            ("DataKey", RoleStatus::Unchanged),
        ]
    );
    assert_eq!(diff.broadening(), 1);
    assert!(!compare(Some(&new), &new).changed());
}

#[test]
fn a_removed_deny_in_a_bucket_policy_broadens_and_an_added_one_narrows() {
    let old = template(&["kinesis:GetRecords"]);
    let mut new = old.clone();
    new["Resources"]
        .as_object_mut()
        .unwrap()
        .remove("BucketPolicy");
    let diff = compare(Some(&old), &new);
    assert_eq!(
        changes(&diff, "BucketPolicy"),
        [(
            ChangeKind::Broadening,
            Category::DenyRemoved,
            strings(&["s3:*"]),
            OBJECTS.to_owned(),
            "AWS *".to_owned(),
            "Deny removed".to_owned()
        )]
    );
    assert_eq!(diff.resource_policies[1].status, RoleStatus::Deleted);
    let back = compare(Some(&new), &old);
    assert_eq!(back.broadening(), 0);
    assert_eq!(changes(&back, "BucketPolicy")[0].1, Category::DenyAdded);
}

#[test]
fn a_new_principal_in_a_key_policy_broadens_with_its_risky_actions() {
    let old = template(&["kinesis:GetRecords"]);
    let mut new = old.clone();
    new["Resources"]["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
        .as_array_mut()
        .unwrap()
        .push(
            json!({"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"},
                     "Action": ["kms:Decrypt"], "Resource": "*"}),
        );
    let diff = compare(Some(&old), &new);
    let key = diff.holders().find(|h| h.role == "DataKey").unwrap();
    assert_eq!(key.status, RoleStatus::Changed);
    assert_eq!(key.changes.len(), 1);
    let change = &key.changes[0];
    assert_eq!(
        (change.kind, change.category, change.risky.clone()),
        (
            ChangeKind::Broadening,
            Category::NewPrincipal,
            strings(&["kms:Decrypt"])
        )
    );
    assert_eq!(change.reason, "new principal: Service logs.amazonaws.com");
    assert_eq!(
        changes_text(&diff, "  ", false),
        "  DataKey (mst-test-pipeline): resource policy changed\n    + broadening [resource policy] \
         kms:Decrypt on * by Service logs.amazonaws.com\n        new principal: Service \
         logs.amazonaws.com\n        ! risky: kms:Decrypt\n"
    );
    assert_eq!(
        change_lines(&diff),
        [
            "DataKey: + resource policy kms:Decrypt on * by Service logs.amazonaws.com: new principal: \
          Service logs.amazonaws.com [risky: kms:Decrypt]"
        ]
    );

    // The same principal gaining an action on the key is a new action for it, not a new principal.
    let mut more = old.clone();
    more["Resources"]["DataKey"]["Properties"]["KeyPolicy"]["Statement"][0]["Action"] =
        json!(["kms:Decrypt", "kms:Encrypt", "kms:ReEncryptFrom"]);
    assert_eq!(
        changes(&compare(Some(&old), &more), "DataKey"),
        [(
            ChangeKind::Broadening,
            Category::NewAction,
            strings(&["kms:ReEncryptFrom"]),
            "*".to_owned(),
            "AWS arn:${AWS::Partition}:iam::${AWS::AccountId}:root".to_owned(),
            "new action for this principal".to_owned()
        )]
    );
}

#[test]
fn a_lambda_permission_without_its_source_condition_broadens() {
    let old = template(&["kinesis:GetRecords"]);
    let mut new = old.clone();
    new["Resources"]["BucketInvokesTransform"]["Properties"]
        .as_object_mut()
        .unwrap()
        .remove("SourceArn");
    let diff = compare(Some(&old), &new);
    let found = changes(&diff, "BucketInvokesTransform");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].0, found[0].1, found[0].4.as_str()),
        (
            ChangeKind::Broadening,
            Category::ConditionRemoved,
            "Service s3.amazonaws.com"
        )
    );
    assert!(
        found[0]
            .5
            .starts_with("condition removed: ArnLike aws:sourcearn = ")
    );

    // The permission's own conditions show where it is added.
    let mut added = old.clone();
    added["Resources"]
        .as_object_mut()
        .unwrap()
        .retain(|id, _| id != "BucketInvokesTransform");
    let diff = compare(Some(&added), &old);
    assert_eq!(
        changes_text(&diff, "", false),
        "BucketInvokesTransform (mst-test-pipeline): new resource policy\n  + broadening [resource \
         policy] lambda:InvokeFunction on ${Transform} by Service s3.amazonaws.com\n      new \
         principal: Service s3.amazonaws.com\n      if ArnLike aws:sourcearn = \
         arn:${AWS::Partition}:s3:::mst-test-raw-${AWS::AccountId}-${AWS::Region} and StringEquals \
         aws:sourceaccount = ${AWS::AccountId}\n"
    );

    // Anyone may invoke: a new, wildcard principal, flagged.
    let mut anyone = old.clone();
    anyone["Resources"]["BucketInvokesTransform"]["Properties"]["Principal"] = json!("*");
    let diff = compare(Some(&old), &anyone);
    let policy = diff
        .holders()
        .find(|h| h.role == "BucketInvokesTransform")
        .unwrap();
    let added: Vec<_> = policy
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Broadening)
        .collect();
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].category, Category::NewPrincipal);
    assert_eq!(added[0].risky, strings(&["AWS *"]));
}

#[test]
fn a_new_stack_broadens_through_its_roles_not_through_a_deny() {
    let new = template(&["kinesis:GetRecords"]);
    let diff = compare(None, &new);
    assert_eq!(diff.roles[0].status, RoleStatus::Added);
    assert_eq!(diff.roles[0].changes[0].category, Category::NewRole);
    assert!(
        diff.resource_policies
            .iter()
            .all(|p| p.status == RoleStatus::Added)
    );
    // A stack holding only a TLS-only bucket policy (the artifacts stack) does not broaden.
    let mut deny_only = new.clone();
    deny_only["Resources"]
        .as_object_mut()
        .unwrap()
        .retain(|id, _| id == "Bucket" || id == "BucketPolicy");
    let diff = compare(None, &deny_only);
    assert!(diff.changed());
    assert_eq!(diff.broadening(), 0);
    assert_eq!(changes(&diff, "BucketPolicy")[0].1, Category::DenyAdded);
}

#[test]
fn a_removed_not_principal_deny_broadens() {
    let old = template(&["kinesis:GetRecords"]);
    let deny = json!({"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:role/Admin"},
                      "Action": "s3:DeleteObject", "Resource": "*"});
    let mut with_deny = old.clone();
    with_deny["Resources"]["BucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        .as_array_mut()
        .unwrap()
        .push(deny);
    let diff = compare(Some(&with_deny), &old);
    assert_eq!(
        changes(&diff, "BucketPolicy"),
        [(
            ChangeKind::Broadening,
            Category::DenyRemoved,
            strings(&["s3:DeleteObject"]),
            "*".to_owned(),
            "NOT AWS arn:aws:iam::123456789012:role/Admin".to_owned(),
            "Deny removed".to_owned()
        )]
    );
    assert!(!compare(Some(&with_deny), &with_deny).changed());
}
