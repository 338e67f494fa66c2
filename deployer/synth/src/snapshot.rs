//! The IAM snapshot: every generated role, its trust policy and its permissions, in a stable, readable
//! form. It is committed under `policies/<env>/`, one file per role, so a merge request shows exactly
//! which role gains or loses which permission.
//!
//! The resource-based policies of the same templates (key, bucket, topic and queue policies, Lambda
//! permissions) are read into the same readable form by [`ResourcePolicies`]. They are not part of the
//! committed snapshot; the deploy engine compares them between a deployed and a new template.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::readable;

/// One role as reviewers read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleSnapshot {
    /// The role's logical id.
    pub role: String,
    /// The stack it belongs to, with the environment's name (`mst-prod-pipeline`).
    pub stack: String,
    /// The role's description.
    pub description: String,
    /// Who may assume the role.
    pub trust: Vec<Value>,
    /// What the role may do, statement by statement.
    pub permissions: Vec<Value>,
}

/// Every role of an environment, by logical id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Roles by logical id.
    pub roles: BTreeMap<String, RoleSnapshot>,
}

fn statements(document: &Value) -> Vec<Value> {
    match document.get("Statement") {
        Some(Value::Array(list)) => list.iter().map(readable::render).collect(),
        Some(single) => vec![readable::render(single)],
        None => Vec::new(),
    }
}

impl Snapshot {
    /// The roles of the given stacks (name, template JSON). Permissions come from the
    /// `AWS::IAM::Policy` and `AWS::IAM::ManagedPolicy` resources attached to each role.
    pub fn from_stacks<'a>(stacks: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Self {
        let mut roles = BTreeMap::new();
        for (stack, template) in stacks {
            for (id, kind, properties) in stacks::template::rendered_resources(template) {
                if kind != "AWS::IAM::Role" {
                    continue;
                }
                roles.insert(
                    id.clone(),
                    RoleSnapshot {
                        role: id.clone(),
                        stack: stack.to_owned(),
                        description: properties["Description"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        trust: statements(&properties["AssumeRolePolicyDocument"]),
                        permissions: Vec::new(),
                    },
                );
            }
            for (_, kind, properties) in stacks::template::rendered_resources(template) {
                if kind != "AWS::IAM::Policy" && kind != "AWS::IAM::ManagedPolicy" {
                    continue;
                }
                let attached = properties["Roles"].as_array().into_iter().flatten();
                for role in attached.filter_map(|r| r.get("Ref").and_then(Value::as_str)) {
                    if let Some(snapshot) = roles.get_mut(role) {
                        snapshot
                            .permissions
                            .extend(statements(&properties["PolicyDocument"]));
                    }
                }
            }
        }
        Self { roles }
    }

    /// The snapshot's files: `<Role>.json` to its pretty JSON text.
    pub fn files(&self) -> BTreeMap<String, String> {
        self.roles
            .iter()
            .map(|(id, role)| {
                // A snapshot is plain data; serializing it cannot fail.
                let text = serde_json::to_string_pretty(role).unwrap_or_default() + "\n";
                (format!("{id}.json"), text)
            })
            .collect()
    }
}

/// One resource-based policy as reviewers read it: who may do what on one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourcePolicy {
    /// The logical id of the resource holding the policy (`DataKey`, `RawBucketPolicy`,
    /// `CuratedBucketInvokesNotify`).
    pub holder: String,
    /// The stack it belongs to.
    pub stack: String,
    /// The holder's CloudFormation type (`AWS::KMS::Key`, `AWS::S3::BucketPolicy`, …).
    pub kind: String,
    /// The policy's statements, each with its `Principal`. A Lambda permission is the one statement
    /// Lambda adds to the function's policy for it.
    pub statements: Vec<Value>,
}

/// Every resource-based policy of some templates, by the holder's logical id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourcePolicies {
    /// Policies by the holder's logical id.
    pub policies: BTreeMap<String, ResourcePolicy>,
}

impl ResourcePolicies {
    /// The key policies, bucket, topic and queue policies and Lambda permissions of the given stacks
    /// (name, template JSON).
    pub fn from_stacks<'a>(stacks: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Self {
        let mut policies = BTreeMap::new();
        for (stack, template) in stacks {
            for (id, kind, properties) in stacks::template::rendered_resources(template) {
                let statements = match kind {
                    "AWS::KMS::Key" => statements(&properties["KeyPolicy"]),
                    "AWS::S3::BucketPolicy" | "AWS::SNS::TopicPolicy" | "AWS::SQS::QueuePolicy" => {
                        statements(&properties["PolicyDocument"])
                    }
                    "AWS::Lambda::Permission" => vec![lambda_permission_statement(properties)],
                    _ => continue,
                };
                policies.insert(
                    id.clone(),
                    ResourcePolicy {
                        holder: id.clone(),
                        stack: stack.to_owned(),
                        kind: kind.to_owned(),
                        statements,
                    },
                );
            }
        }
        Self { policies }
    }
}

/// The statement Lambda adds to a function's resource policy for an `AWS::Lambda::Permission`:
/// `Allow <Action>` on the function for the principal, under the permission's source conditions.
fn lambda_permission_statement(properties: &Value) -> Value {
    let text = |key: &str| readable::as_text(&properties[key]);
    let principal = match text("Principal") {
        Some(star) if star == "*" => Value::from("*"),
        Some(service)
            if service.ends_with(".amazonaws.com") || service.ends_with(".amazonaws.com.cn") =>
        {
            serde_json::json!({"Service": service})
        }
        Some(other) => serde_json::json!({"AWS": other}),
        None => readable::render(&properties["Principal"]),
    };
    let mut conditions = serde_json::Map::new();
    let mut condition = |operator: &str, key: &str, property: &str| {
        if let Some(value) = text(property) {
            let entry = conditions
                .entry(operator.to_owned())
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if let Some(map) = entry.as_object_mut() {
                map.insert(key.to_owned(), Value::from(value));
            }
        }
    };
    condition("ArnLike", "AWS:SourceArn", "SourceArn");
    condition("StringEquals", "AWS:SourceAccount", "SourceAccount");
    condition("StringEquals", "aws:PrincipalOrgID", "PrincipalOrgID");
    condition(
        "StringEquals",
        "lambda:EventSourceToken",
        "EventSourceToken",
    );
    condition(
        "StringEquals",
        "lambda:FunctionUrlAuthType",
        "FunctionUrlAuthType",
    );
    let mut statement = serde_json::json!({
        "Effect": "Allow",
        "Principal": principal,
        "Action": readable::render(&properties["Action"]),
        "Resource": readable::render(&properties["FunctionName"]),
    });
    if !conditions.is_empty() {
        statement["Condition"] = Value::Object(conditions);
    }
    statement
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn resource_policies_are_read_in_the_snapshot_form() {
        let template = json!({"Resources": {
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": [
                {"Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
                 "Action": "kms:*", "Resource": "*"}]}}},
            "BucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
                "Bucket": {"Ref": "Bucket"},
                "PolicyDocument": {"Statement": {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                    "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/*"}}}}},
            "BucketInvokesF": {"Type": "AWS::Lambda::Permission", "Properties": {
                "Action": "lambda:InvokeFunction", "FunctionName": {"Ref": "F"},
                "Principal": "s3.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": ["Bucket", "Arn"]}, "SourceAccount": {"Ref": "AWS::AccountId"}}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        }});
        let policies = ResourcePolicies::from_stacks([("s", &template)]).policies;
        assert_eq!(
            policies.keys().collect::<Vec<_>>(),
            ["BucketInvokesF", "BucketPolicy", "Key"]
        );
        assert_eq!(
            policies["Key"].statements,
            [
                json!({"Effect": "Allow", "Principal": {"AWS": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"},
                    "Action": "kms:*", "Resource": "*"})
            ]
        );
        assert_eq!(policies["BucketPolicy"].kind, "AWS::S3::BucketPolicy");
        assert_eq!(
            policies["BucketPolicy"].statements[0]["Resource"],
            "arn:${AWS::Partition}:s3:::${Bucket}/*"
        );
        assert_eq!(
            policies["BucketInvokesF"].statements,
            [
                json!({"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "lambda:InvokeFunction", "Resource": "${F}",
                    "Condition": {"ArnLike": {"AWS:SourceArn": "${Bucket.Arn}"},
                                  "StringEquals": {"AWS:SourceAccount": "${AWS::AccountId}"}}})
            ]
        );
    }
}
