//! Statements → atomic grants.
//!
//! A statement allows or denies a set of actions on a set of resources, for a set of principals,
//! under conditions. Cut into its atoms (one action × one resource × one principal, with the whole
//! condition set), two policies that admit the same requests give the same set of grants however
//! their statements are ordered, split, merged or spelt:
//!
//! - `Action`, `Resource` and principal values may be a string or a list; lists are de-duplicated.
//! - Action names compare case-insensitively (IAM does); the first spelling seen is kept for display.
//! - Condition keys compare case-insensitively, values as sorted, de-duplicated sets.
//! - Resources and condition values are shown as readable ARNs: intrinsic references of the
//!   template (`${FailedEventsQueue.Arn}`, `${RawBucket}`) are expanded by the [`Catalog`] into the ARN
//!   or name they stand for, with the partition, region and account shown as `${AWS::Partition}`,
//!   `${AWS::Region}` and `${AWS::AccountId}`, and a generated physical name as `${LogicalId}`.
//!   Live policies are brought to the same form by [`LiveNames`].

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use synth::{ResourcePolicy, RoleSnapshot, Synthesis};

/// Which policy of a role a grant comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The trust policy: who may assume the role.
    Trust,
    /// The permission policies: what the role may do.
    Permissions,
    /// A resource-based policy (a key, bucket, topic or queue policy, a Lambda permission): who may
    /// do what on the resource. Its grants have both a principal and a resource.
    Resource,
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Effect {
    /// `"Effect": "Allow"`.
    Allow,
    /// `"Effect": "Deny"`.
    Deny,
}

/// One action (or one `NotAction` entry).
#[derive(Debug, Clone)]
pub struct Action {
    /// Lower-cased, for comparison (`s3:getobject`).
    pub key: String,
    /// As written (`s3:GetObject`).
    pub display: String,
    /// From `NotAction`: the grant covers every action but this one.
    pub negated: bool,
}

/// One resource pattern (or one `NotResource` entry). Empty for trust statements.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Resource {
    /// The readable ARN pattern.
    pub pattern: String,
    /// From `NotResource`.
    pub negated: bool,
}

/// One principal of a trust or resource-based statement: `Service` `lambda.amazonaws.com`, `AWS` `*`, …
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Principal {
    /// `Service`, `AWS`, `Federated` or `CanonicalUser`; from `NotPrincipal`, `NOT ` and the kind
    /// (such a grant covers only the same `NotPrincipal` grant).
    pub kind: String,
    /// The principal; `*` (written `"Principal": "*"`) is kind `AWS`, value `*`.
    pub value: String,
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.value)
    }
}

/// One condition: operator, key and the values it accepts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Condition {
    /// `StringEquals`, `ArnLike`, `ForAnyValue:StringLike`, … (as written).
    pub operator: String,
    /// The condition key, lower-cased (IAM compares keys case-insensitively).
    pub key: String,
    /// Sorted, de-duplicated values.
    pub values: Vec<String>,
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} = {}",
            self.operator,
            self.key,
            self.values.join(" | ")
        )
    }
}

/// One atomic grant: an effect on one action, one resource and (in trust policies) one principal,
/// under a set of conditions.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Trust or permissions.
    pub scope: Scope,
    /// Allow or Deny.
    pub effect: Effect,
    /// The action.
    pub action: Action,
    /// The resource (empty pattern in trust statements).
    pub resource: Resource,
    /// The principal (trust and resource-based statements only).
    pub principal: Option<Principal>,
    /// Sorted, de-duplicated conditions.
    pub conditions: Vec<Condition>,
}

impl Grant {
    #[allow(clippy::type_complexity)]
    fn sort_key(
        &self,
    ) -> (
        Scope,
        Effect,
        bool,
        &str,
        &Resource,
        &Option<Principal>,
        &[Condition],
    ) {
        (
            self.scope,
            self.effect,
            self.action.negated,
            &self.action.key,
            &self.resource,
            &self.principal,
            &self.conditions,
        )
    }
}

impl PartialEq for Grant {
    fn eq(&self, other: &Self) -> bool {
        self.sort_key() == other.sort_key()
    }
}

impl Eq for Grant {}

impl PartialOrd for Grant {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Grant {
    fn cmp(&self, other: &Self) -> Ordering {
        self.sort_key().cmp(&other.sort_key())
    }
}

/// A role reduced to its grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalRole {
    /// Logical id.
    pub role: String,
    /// Its stack.
    pub stack: String,
    /// Every grant of its trust and permission policies.
    pub grants: BTreeSet<Grant>,
}

/// What the template's logical ids stand for: each resource's type and, when the template names it,
/// its readable name. Built from the current synthesis; ids it does not know stay as `${Id}`.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    entries: BTreeMap<String, CatalogEntry>,
}

#[derive(Debug, Clone)]
struct CatalogEntry {
    kind: String,
    name: Option<String>,
}

/// The property that names a resource of a type, where templates may set it.
fn name_property(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "AWS::S3::Bucket" => &["BucketName"],
        "AWS::SQS::Queue" => &["QueueName"],
        "AWS::SNS::Topic" => &["TopicName"],
        "AWS::Kinesis::Stream" => &["Name"],
        "AWS::Lambda::Function" => &["FunctionName"],
        "AWS::IAM::Role" => &["RoleName"],
        "AWS::Logs::LogGroup" => &["LogGroupName"],
        "AWS::SecretsManager::Secret" => &["Name"],
        "AWS::Glue::Database" => &["DatabaseInput", "Name"],
        _ => return None,
    })
}

impl Catalog {
    /// The resources of the canary region's stacks (every region has the same IAM).
    pub fn from_synthesis(synthesis: &Synthesis) -> Catalog {
        let mut catalog = Catalog::default();
        for stack in synthesis.regions.iter().take(1).flat_map(|r| &r.stacks) {
            catalog.add_template(&stack.json);
        }
        catalog
    }

    /// Adds the resources of one CloudFormation template (JSON).
    pub fn add_template(&mut self, template: &Value) {
        let Some(resources) = template.get("Resources").and_then(Value::as_object) else {
            return;
        };
        for (id, resource) in resources {
            let kind = resource["Type"].as_str().unwrap_or_default().to_owned();
            let name = name_property(&kind).and_then(|path| {
                let mut value = &resource["Properties"];
                for key in path {
                    value = &value[*key];
                }
                synth::readable_text(value)
            });
            self.entries.insert(id.clone(), CatalogEntry { kind, name });
        }
    }

    /// The CloudFormation type of a logical id, if known.
    pub fn kind(&self, id: &str) -> Option<&str> {
        self.entries.get(id).map(|e| e.kind.as_str())
    }

    /// The readable physical name of a logical id: the template's name for it, else a placeholder
    /// for its generated name: `${Id}` where `Ref` gives the name, `${Id.QueueName}`,
    /// `${Id.TopicName}` or `${Id.Name}` where `Ref` gives a URL or an ARN. [`Catalog::expand`]
    /// leaves these as they are, so expanding twice changes nothing.
    pub fn name(&self, id: &str) -> String {
        let entry = self.entries.get(id);
        if let Some(name) = entry.and_then(|e| e.name.clone()) {
            return name;
        }
        match entry.map(|e| e.kind.as_str()) {
            Some("AWS::SQS::Queue") => format!("${{{id}.QueueName}}"),
            Some("AWS::SNS::Topic") => format!("${{{id}.TopicName}}"),
            Some("AWS::SecretsManager::Secret") => format!("${{{id}.Name}}"),
            _ => format!("${{{id}}}"),
        }
    }

    /// Expands every `${Id}` and `${Id.Attr}` placeholder in `text` into what it stands for.
    /// Pseudo parameters (`${AWS::Region}`), policy variables (`${aws:username}`), parameters and
    /// ids of unknown type stay as they are.
    pub fn expand(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return out;
            };
            let inner = &after[..end];
            match self.expand_one(inner) {
                Some(expanded) => out.push_str(&expanded),
                None => {
                    out.push_str("${");
                    out.push_str(inner);
                    out.push('}');
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn expand_one(&self, placeholder: &str) -> Option<String> {
        if placeholder.contains(':') {
            return None;
        }
        let (id, attribute) = match placeholder.split_once('.') {
            Some((id, attribute)) => (id, Some(attribute)),
            None => (placeholder, None),
        };
        let kind = self.kind(id)?;
        let n = self.name(id);
        const P: &str = "${AWS::Partition}";
        const R: &str = "${AWS::Region}";
        const A: &str = "${AWS::AccountId}";
        let regional =
            |service: &str, resource: &str| format!("arn:{P}:{service}:{R}:{A}:{resource}");
        Some(match (kind, attribute) {
            ("AWS::S3::Bucket", None) => n,
            ("AWS::S3::Bucket", Some("Arn")) => format!("arn:{P}:s3:::{n}"),
            ("AWS::SQS::Queue", None) => format!("https://sqs.{R}.${{AWS::URLSuffix}}/{A}/{n}"),
            ("AWS::SQS::Queue", Some("Arn")) => regional("sqs", &n),
            ("AWS::SQS::Queue", Some("QueueName")) => n,
            ("AWS::SNS::Topic", None | Some("TopicArn")) => regional("sns", &n),
            ("AWS::SNS::Topic", Some("TopicName")) => n,
            ("AWS::SecretsManager::Secret", None | Some("Id")) => {
                regional("secretsmanager", &format!("secret:{n}"))
            }
            ("AWS::SecretsManager::Secret", Some("Name")) => n,
            ("AWS::Kinesis::Stream", None) => n,
            ("AWS::Kinesis::Stream", Some("Arn")) => regional("kinesis", &format!("stream/{n}")),
            ("AWS::Lambda::Function", None) => n,
            ("AWS::Lambda::Function", Some("Arn")) => regional("lambda", &format!("function:{n}")),
            ("AWS::IAM::Role", None) => n,
            ("AWS::IAM::Role", Some("Arn")) => format!("arn:{P}:iam::{A}:role/{n}"),
            ("AWS::Logs::LogGroup", None) => n,
            ("AWS::Logs::LogGroup", Some("Arn")) => regional("logs", &format!("log-group:{n}:*")),
            ("AWS::KMS::Key", None | Some("KeyId")) => n,
            ("AWS::KMS::Key", Some("Arn")) => regional("kms", &format!("key/{n}")),
            ("AWS::Glue::Database", None) => n,
            _ => return None,
        })
    }
}

/// Turns the concrete names of a deployed environment back into the readable form: each
/// resource's physical name into what [`Catalog::name`] calls it, parameter values into
/// `${Parameter}`, then the account, region and partition into their names.
#[derive(Debug, Clone, Default)]
pub struct LiveNames {
    /// Concrete text → readable text, longest first.
    replacements: Vec<(String, String)>,
}

/// One deployed resource as CloudFormation lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedResource {
    /// Logical id.
    pub logical_id: String,
    /// CloudFormation type.
    pub kind: String,
    /// Physical id (a name, a URL for queues, an ARN for topics and secrets).
    pub physical_id: String,
}

impl LiveNames {
    /// The names of a deployment in `account` and `region`.
    pub fn new(
        account: &str,
        region: &str,
        resources: &[DeployedResource],
        parameters: &[(String, String)],
        catalog: &Catalog,
    ) -> LiveNames {
        let mut replacements: Vec<(String, String)> = Vec::new();
        for resource in resources {
            let name = match resource.kind.as_str() {
                // Physical id: the queue URL, the topic ARN, the secret ARN.
                "AWS::SQS::Queue" => resource.physical_id.rsplit('/').next(),
                "AWS::SNS::Topic" => resource.physical_id.rsplit(':').next(),
                "AWS::SecretsManager::Secret" => resource
                    .physical_id
                    .split_once(":secret:")
                    .map(|(_, name)| name),
                _ => Some(resource.physical_id.as_str()),
            };
            if let Some(name) = name.filter(|n| n.len() >= 4) {
                replacements.push((name.to_owned(), catalog.name(&resource.logical_id)));
            }
        }
        for (name, value) in parameters {
            if value.len() >= 4 {
                replacements.push((value.clone(), format!("${{{name}}}")));
            }
        }
        // Pseudo parameters last among equals: longer, more specific names win first.
        replacements.push((account.to_owned(), "${AWS::AccountId}".to_owned()));
        replacements.push((region.to_owned(), "${AWS::Region}".to_owned()));
        replacements.push(("arn:aws:".to_owned(), "arn:${AWS::Partition}:".to_owned()));
        replacements.sort_by_key(|(concrete, _)| std::cmp::Reverse(concrete.len()));
        LiveNames { replacements }
    }

    /// `text` with every concrete name replaced, scanning left to right, longest match first, so
    /// replaced text is never replaced again.
    pub fn readable(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut index = 0;
        while index < text.len() {
            let rest = &text[index..];
            match self
                .replacements
                .iter()
                .find(|(concrete, _)| !concrete.is_empty() && rest.starts_with(concrete.as_str()))
            {
                Some((concrete, readable)) => {
                    out.push_str(readable);
                    index += concrete.len();
                }
                None => {
                    let Some(c) = rest.chars().next() else { break };
                    out.push(c);
                    index += c.len_utf8();
                }
            }
        }
        out
    }

    /// A live statement with every string leaf made readable.
    pub fn readable_value(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.readable(s)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.readable_value(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.readable_value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// A JSON value that may be one string or a list of them, as strings (numbers and booleans, which
/// condition values may be, as their JSON text).
fn strings(value: &Value) -> Vec<String> {
    let leaf = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().map(leaf).collect(),
        other => vec![leaf(other)],
    }
}

/// The key of `map` equal to `name` ignoring case (IAM element names are case-sensitive in
/// practice, but live documents may come back differently spelt; be lenient).
fn field<'a>(statement: &'a Value, name: &str) -> Option<&'a Value> {
    statement.as_object().and_then(|map| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn conditions(statement: &Value, catalog: &Catalog) -> Vec<Condition> {
    let mut out = BTreeSet::new();
    if let Some(Value::Object(operators)) = field(statement, "Condition") {
        for (operator, keys) in operators {
            let Some(keys) = keys.as_object() else {
                continue;
            };
            for (key, values) in keys {
                let values: BTreeSet<String> =
                    strings(values).iter().map(|v| catalog.expand(v)).collect();
                out.insert(Condition {
                    operator: operator.clone(),
                    key: key.to_ascii_lowercase(),
                    values: values.into_iter().collect(),
                });
            }
        }
    }
    out.into_iter().collect()
}

fn principals(statement: &Value) -> Vec<Principal> {
    let (principal, prefix) = match field(statement, "Principal") {
        Some(principal) => (principal, ""),
        None => match field(statement, "NotPrincipal") {
            Some(principal) => (principal, "NOT "),
            None => return Vec::new(),
        },
    };
    match principal {
        Value::String(star) => vec![Principal {
            kind: format!("{prefix}AWS"),
            value: star.clone(),
        }],
        Value::Object(map) => map
            .iter()
            .flat_map(|(kind, values)| {
                strings(values).into_iter().map(move |value| Principal {
                    kind: format!("{prefix}{kind}"),
                    value: account_principal(kind, value),
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// An account written as its id (`"AWS": "123456789012"`, or `${AWS::AccountId}`) is the account's
/// root ARN, which is how IAM stores and returns it.
fn account_principal(kind: &str, value: String) -> String {
    let is_account = value == "${AWS::AccountId}"
        || (value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()));
    if kind == "AWS" && is_account {
        format!("arn:${{AWS::Partition}}:iam::{value}:root")
    } else {
        value
    }
}

/// The atomic grants of one statement (already in readable form).
pub fn statement_grants(statement: &Value, scope: Scope, catalog: &Catalog) -> Vec<Grant> {
    let effect = match field(statement, "Effect").and_then(Value::as_str) {
        Some(e) if e.eq_ignore_ascii_case("deny") => Effect::Deny,
        _ => Effect::Allow,
    };
    let (actions, action_negated) = match field(statement, "Action") {
        Some(v) => (strings(v), false),
        None => (
            field(statement, "NotAction")
                .map(strings)
                .unwrap_or_default(),
            true,
        ),
    };
    let (resources, resource_negated) = match (scope, field(statement, "Resource")) {
        (Scope::Trust, _) => (vec![String::new()], false),
        (_, Some(v)) => (strings(v), false),
        (_, None) => (
            field(statement, "NotResource")
                .map(strings)
                .unwrap_or_default(),
            true,
        ),
    };
    let principals: Vec<Option<Principal>> = match scope {
        Scope::Trust | Scope::Resource => principals(statement).into_iter().map(Some).collect(),
        Scope::Permissions => vec![None],
    };
    let conditions = conditions(statement, catalog);
    let mut grants = Vec::new();
    for action in &actions {
        for resource in &resources {
            for principal in &principals {
                grants.push(Grant {
                    scope,
                    effect,
                    action: Action {
                        key: action.to_ascii_lowercase(),
                        display: action.clone(),
                        negated: action_negated,
                    },
                    resource: Resource {
                        pattern: catalog.expand(resource),
                        negated: resource_negated,
                    },
                    principal: principal.clone(),
                    conditions: conditions.clone(),
                });
            }
        }
    }
    grants
}

/// A role snapshot reduced to its set of grants.
pub fn normalize_role(role: &RoleSnapshot, catalog: &Catalog) -> NormalRole {
    let mut grants = BTreeSet::new();
    for (scope, statements) in [
        (Scope::Trust, &role.trust),
        (Scope::Permissions, &role.permissions),
    ] {
        for statement in statements {
            for grant in statement_grants(statement, scope, catalog) {
                // The first spelling of an action is kept; duplicates are one grant.
                grants.insert(grant);
            }
        }
    }
    NormalRole {
        role: role.role.clone(),
        stack: role.stack.clone(),
        grants,
    }
}

/// A resource-based policy reduced to its set of grants (`role` is the holder's logical id).
pub fn normalize_resource_policy(policy: &ResourcePolicy, catalog: &Catalog) -> NormalRole {
    NormalRole {
        role: policy.holder.clone(),
        stack: policy.stack.clone(),
        grants: policy
            .statements
            .iter()
            .flat_map(|statement| statement_grants(statement, Scope::Resource, catalog))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalog() -> Catalog {
        let mut catalog = Catalog::default();
        catalog.add_template(&json!({"Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "RawBucket": {"Type": "AWS::S3::Bucket", "Properties": {
                "BucketName": {"Fn::Sub": "mst-t-raw-${AWS::AccountId}-${AWS::Region}"}}},
            "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {}},
        }}));
        catalog
    }

    #[test]
    fn references_expand_to_readable_arns() {
        let catalog = catalog();
        assert_eq!(
            catalog.expand("${Queue.Arn}"),
            "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${Queue.QueueName}"
        );
        // Expanding is idempotent: live documents are expanded after their names are made readable.
        for text in ["${Queue.Arn}", "${Queue}", "${Secret}", "${RawBucket}/x"] {
            let once = catalog.expand(text);
            assert_eq!(catalog.expand(&once), once);
        }
        assert_eq!(
            catalog.expand("arn:${AWS::Partition}:s3:::${RawBucket}/raw/*"),
            "arn:${AWS::Partition}:s3:::mst-t-raw-${AWS::AccountId}-${AWS::Region}/raw/*"
        );
        assert_eq!(
            catalog.expand("${Unknown}/${aws:username}"),
            "${Unknown}/${aws:username}"
        );
    }

    #[test]
    fn live_names_meet_the_expanded_form() {
        let catalog = catalog();
        let names = LiveNames::new(
            "123456789012",
            "us-east-1",
            &[
                DeployedResource {
                    logical_id: "Queue".into(),
                    kind: "AWS::SQS::Queue".into(),
                    physical_id: "https://sqs.us-east-1.amazonaws.com/123456789012/mst-t-Queue-X1"
                        .into(),
                },
                DeployedResource {
                    logical_id: "Secret".into(),
                    kind: "AWS::SecretsManager::Secret".into(),
                    physical_id:
                        "arn:aws:secretsmanager:us-east-1:123456789012:secret:Secret-AbC-x1Y2z3"
                            .into(),
                },
            ],
            &[],
            &catalog,
        );
        assert_eq!(
            names.readable("arn:aws:sqs:us-east-1:123456789012:mst-t-Queue-X1"),
            catalog.expand("${Queue.Arn}")
        );
        assert_eq!(
            names
                .readable("arn:aws:secretsmanager:us-east-1:123456789012:secret:Secret-AbC-x1Y2z3"),
            catalog.expand("${Secret}")
        );
        assert_eq!(
            names.readable("arn:aws:s3:::mst-t-raw-123456789012-us-east-1/raw/*"),
            catalog.expand("arn:${AWS::Partition}:s3:::${RawBucket}/raw/*")
        );
    }

    #[test]
    fn statements_cut_into_grants() {
        let catalog = Catalog::default();
        let a = statement_grants(
            &json!({"Effect": "Allow", "Action": ["s3:GetObject", "S3:getobject", "s3:PutObject"],
                    "Resource": "arn:b/*"}),
            Scope::Permissions,
            &catalog,
        );
        let set: BTreeSet<Grant> = a.into_iter().collect();
        assert_eq!(set.len(), 2);
        let trust = statement_grants(
            &json!({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole"}),
            Scope::Trust,
            &catalog,
        );
        assert_eq!(trust.len(), 1);
        let account = |principal: Value| {
            statement_grants(
                &json!({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}),
                Scope::Trust,
                &catalog,
            )
            .remove(0)
        };
        assert_eq!(
            account(json!({"AWS": "${AWS::AccountId}"})),
            account(json!({"AWS": ["arn:${AWS::Partition}:iam::${AWS::AccountId}:root"]}))
        );
        assert_eq!(
            trust[0]
                .principal
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("Service lambda.amazonaws.com")
        );
    }
}
