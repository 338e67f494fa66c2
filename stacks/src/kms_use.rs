//! Which KMS permissions each use of an encrypted resource needs, with the AWS page saying so, and a
//! check of a template against it.
//!
//! The local emulator encrypts nothing and checks no key permission, so a role that may write to an
//! SSE-KMS bucket but not `kms:GenerateDataKey` on its key passes every local test and fails in AWS.
//! [`ROLE_USES`] lists, per IAM action on an encrypted resource, the `kms:` actions the caller needs on
//! the resource's key; [`SERVICE_USES`] lists the AWS services that write to an encrypted resource for
//! the pipeline and so need the key policy to allow them. [`check`] walks a template: every role's
//! grants and every service delivery, and reports each needed KMS permission that is not there.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

use crate::template::rendered_resources;

/// The kinds of encrypted resources the pipeline has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Encrypted {
    /// Objects in an SSE-KMS bucket.
    S3Objects,
    /// A Kinesis stream with server-side encryption.
    KinesisStream,
    /// An SNS topic with server-side encryption.
    SnsTopic,
    /// An SQS queue with SSE-KMS.
    SqsQueue,
    /// A Secrets Manager secret.
    Secret,
    /// A CloudWatch Logs log group with a KMS key.
    LogGroup,
}

impl Encrypted {
    /// The kind in words, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Encrypted::S3Objects => "SSE-KMS objects",
            Encrypted::KinesisStream => "the encrypted stream",
            Encrypted::SnsTopic => "the encrypted topic",
            Encrypted::SqsQueue => "the SSE-KMS queue",
            Encrypted::Secret => "the secret",
            Encrypted::LogGroup => "an encrypted log group",
        }
    }
}

/// One use of an encrypted resource by a role: calling `action` on it needs `kms` on its key, called
/// by `via` for the role (the `kms:ViaService` a grant may be limited to).
#[derive(Debug, Clone, Copy)]
pub struct RoleUse {
    /// The IAM action on the resource.
    pub action: &'static str,
    /// The kind of resource.
    pub on: Encrypted,
    /// The KMS actions it needs on the resource's key.
    pub kms: &'static [&'static str],
    /// The service endpoint prefix KMS sees as `kms:ViaService` (`s3` for `s3.<region>.amazonaws.com`).
    pub via: &'static str,
    /// The AWS page documenting it.
    pub doc: &'static str,
}

const S3_SSE_KMS: &str =
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html";
const S3_MULTIPART: &str =
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions";
const S3_REPLICATION_KMS: &str =
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html";
const KINESIS_SSE: &str =
    "https://docs.aws.amazon.com/streams/latest/dev/permissions-user-key-KMS.html";
const SNS_SSE: &str = "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html";
const SNS_SSE_SERVICES: &str = "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services";
const SQS_SSE: &str = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html";
const SECRETS_KMS: &str =
    "https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html";
const LOGS_KMS: &str =
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html";

/// Every use of an encrypted resource by a role's own credentials that needs a KMS permission.
pub const ROLE_USES: &[RoleUse] = &[
    RoleUse {
        action: "s3:PutObject",
        on: Encrypted::S3Objects,
        kms: &["kms:GenerateDataKey"],
        via: "s3",
        doc: S3_SSE_KMS,
    },
    RoleUse {
        action: "s3:GetObject",
        on: Encrypted::S3Objects,
        kms: &["kms:Decrypt"],
        via: "s3",
        doc: S3_SSE_KMS,
    },
    // A role that may abort multipart uploads makes them; uploading parts of an SSE-KMS object needs
    // `kms:Decrypt` as well as `kms:GenerateDataKey`.
    RoleUse {
        action: "s3:AbortMultipartUpload",
        on: Encrypted::S3Objects,
        kms: &["kms:Decrypt", "kms:GenerateDataKey"],
        via: "s3",
        doc: S3_MULTIPART,
    },
    // S3 replication decrypts each source version with the source object's key and encrypts the
    // replica with the destination key named by `ReplicaKmsKeyID` (a key in the DR region).
    RoleUse {
        action: "s3:GetObjectVersionForReplication",
        on: Encrypted::S3Objects,
        kms: &["kms:Decrypt"],
        via: "s3",
        doc: S3_REPLICATION_KMS,
    },
    RoleUse {
        action: "s3:ReplicateObject",
        on: Encrypted::S3Objects,
        kms: &["kms:Encrypt"],
        via: "s3",
        doc: S3_REPLICATION_KMS,
    },
    RoleUse {
        action: "kinesis:PutRecords",
        on: Encrypted::KinesisStream,
        kms: &["kms:GenerateDataKey"],
        via: "kinesis",
        doc: KINESIS_SSE,
    },
    RoleUse {
        action: "kinesis:PutRecord",
        on: Encrypted::KinesisStream,
        kms: &["kms:GenerateDataKey"],
        via: "kinesis",
        doc: KINESIS_SSE,
    },
    RoleUse {
        action: "kinesis:GetRecords",
        on: Encrypted::KinesisStream,
        kms: &["kms:Decrypt"],
        via: "kinesis",
        doc: KINESIS_SSE,
    },
    RoleUse {
        action: "sns:Publish",
        on: Encrypted::SnsTopic,
        kms: &["kms:Decrypt", "kms:GenerateDataKey"],
        via: "sns",
        doc: SNS_SSE,
    },
    RoleUse {
        action: "sqs:SendMessage",
        on: Encrypted::SqsQueue,
        kms: &["kms:Decrypt", "kms:GenerateDataKey"],
        via: "sqs",
        doc: SQS_SSE,
    },
    RoleUse {
        action: "sqs:ReceiveMessage",
        on: Encrypted::SqsQueue,
        kms: &["kms:Decrypt"],
        via: "sqs",
        doc: SQS_SSE,
    },
    RoleUse {
        action: "secretsmanager:GetSecretValue",
        on: Encrypted::Secret,
        kms: &["kms:Decrypt"],
        via: "secretsmanager",
        doc: SECRETS_KMS,
    },
];

/// Where a template names the encrypted resource an AWS service writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// A CloudWatch alarm's `AlarmActions` and `OKActions`.
    AlarmActions,
    /// An EventBridge rule's `Targets[].Arn`.
    RuleTargets,
    /// A log group's own `KmsKeyId`: CloudWatch Logs encrypts its events.
    LogGroupKey,
}

/// One AWS service writing to an encrypted resource: the key policy must allow `principal` the `kms`
/// actions (a service principal gets nothing from IAM policies).
#[derive(Debug, Clone, Copy)]
pub struct ServiceUse {
    /// The service principal as the template writes it.
    pub principal: &'static str,
    /// Which resources it writes to.
    pub delivery: Delivery,
    /// The kind of the resource written to.
    pub on: Encrypted,
    /// The KMS actions the key policy must allow it.
    pub kms: &'static [&'static str],
    /// The AWS page documenting it.
    pub doc: &'static str,
}

/// Every AWS service that writes to an encrypted resource for the pipeline.
pub const SERVICE_USES: &[ServiceUse] = &[
    ServiceUse {
        principal: "cloudwatch.amazonaws.com",
        delivery: Delivery::AlarmActions,
        on: Encrypted::SnsTopic,
        kms: &["kms:Decrypt", "kms:GenerateDataKey"],
        doc: SNS_SSE_SERVICES,
    },
    ServiceUse {
        principal: "events.amazonaws.com",
        delivery: Delivery::RuleTargets,
        on: Encrypted::SnsTopic,
        kms: &["kms:Decrypt", "kms:GenerateDataKey"],
        doc: SNS_SSE_SERVICES,
    },
    ServiceUse {
        principal: "logs.${AWS::Region}.amazonaws.com",
        delivery: Delivery::LogGroupKey,
        on: Encrypted::LogGroup,
        kms: &[
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:Encrypt",
            "kms:GenerateDataKey",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
        ],
        doc: LOGS_KMS,
    },
];

/// A use the check found and whether its KMS permissions are in place.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// The role's logical id, or the service principal.
    pub who: String,
    /// The IAM action (or the delivery, for a service).
    pub action: String,
    /// The encrypted resource's logical id.
    pub resource: String,
    /// A KMS action the use needs that is not granted (or not through the use's service).
    pub missing: String,
    /// The AWS page documenting the need.
    pub doc: &'static str,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} on {}) lacks {} on the resource's key ({})",
            self.who, self.action, self.resource, self.missing, self.doc
        )
    }
}

/// What [`check`] saw: each use checked, and the KMS permissions missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// (who, action, resource) of every use of an encrypted resource found.
    pub uses: BTreeSet<(String, String, String)>,
    /// Needed KMS permissions that are not granted.
    pub missing: Vec<Finding>,
}

/// An encrypted resource of the template.
struct EncryptedResource {
    id: String,
    kind: Encrypted,
    /// The text of its key's ARN as the template writes it.
    key: String,
    /// Texts that name the resource (or, for buckets, start the ARN of its objects).
    names: Vec<String>,
}

/// The readable text of a string or a string-valued intrinsic (`Ref` → `${Id}`, `Fn::GetAtt` →
/// `${Id.Attr}`, `Fn::Sub` → its body).
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(map) => {
            if let Some(Value::String(id)) = map.get("Ref") {
                return format!("${{{id}}}");
            }
            if let Some(Value::String(body)) = map.get("Fn::Sub") {
                return body.clone();
            }
            if let Some(Value::Array(parts)) = map.get("Fn::GetAtt") {
                let parts: Vec<String> = parts.iter().map(text).collect();
                return format!("${{{}}}", parts.join("."));
            }
            value.to_string()
        }
        other => other.to_string(),
    }
}

/// A value that may be a single string or a list, as a list of texts.
pub(crate) fn texts(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().map(text).collect(),
        Value::Null => Vec::new(),
        single => vec![text(single)],
    }
}

fn encrypted_resources(template: &Value) -> Vec<EncryptedResource> {
    let mut out = Vec::new();
    for (id, kind, properties) in rendered_resources(template) {
        let reference = format!("${{{id}}}");
        let arn = format!("${{{id}.Arn}}");
        let (kind, key, names) = match kind {
            "AWS::S3::Bucket" => {
                let rules = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                    .as_array()
                    .into_iter()
                    .flatten();
                let Some(default) = rules
                    .map(|rule| &rule["ServerSideEncryptionByDefault"])
                    .find(|d| d["SSEAlgorithm"] == "aws:kms")
                else {
                    continue;
                };
                let mut names = vec![format!("arn:${{AWS::Partition}}:s3:::{reference}/")];
                if !properties["BucketName"].is_null() {
                    names.push(format!(
                        "arn:${{AWS::Partition}}:s3:::{}/",
                        text(&properties["BucketName"])
                    ));
                }
                (
                    Encrypted::S3Objects,
                    text(&default["KMSMasterKeyID"]),
                    names,
                )
            }
            "AWS::Kinesis::Stream" if properties["StreamEncryption"]["EncryptionType"] == "KMS" => {
                let key = text(&properties["StreamEncryption"]["KeyId"]);
                let by_name = format!(
                    "arn:${{AWS::Partition}}:kinesis:${{AWS::Region}}:${{AWS::AccountId}}:stream/{reference}"
                );
                (Encrypted::KinesisStream, key, vec![arn, by_name])
            }
            "AWS::SNS::Topic" if !properties["KmsMasterKeyId"].is_null() => (
                Encrypted::SnsTopic,
                text(&properties["KmsMasterKeyId"]),
                vec![reference],
            ),
            "AWS::SQS::Queue" if !properties["KmsMasterKeyId"].is_null() => (
                Encrypted::SqsQueue,
                text(&properties["KmsMasterKeyId"]),
                vec![arn],
            ),
            "AWS::SecretsManager::Secret" if !properties["KmsKeyId"].is_null() => (
                Encrypted::Secret,
                text(&properties["KmsKeyId"]),
                vec![reference],
            ),
            "AWS::Logs::LogGroup" if !properties["KmsKeyId"].is_null() => (
                Encrypted::LogGroup,
                text(&properties["KmsKeyId"]),
                vec![reference],
            ),
            _ => continue,
        };
        out.push(EncryptedResource {
            id: id.clone(),
            kind,
            key,
            names,
        });
    }
    out
}

impl EncryptedResource {
    /// Whether an ARN (pattern) of a statement is this resource (or, for a bucket, objects in it).
    fn is_named_by(&self, resource: &str) -> bool {
        match self.kind {
            Encrypted::S3Objects => self.names.iter().any(|name| resource.starts_with(name)),
            _ => self.names.iter().any(|name| resource == name),
        }
    }
}

/// The `Allow` statements of a policy document.
fn allow_statements(document: &Value) -> impl Iterator<Item = &Value> {
    document["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["Effect"] == "Allow")
}

/// Whether `statement` allows `action` (exactly, or through `kms:*`) on `resource`.
fn allows(statement: &Value, action: &str, resource: &str) -> bool {
    let service = action.split(':').next().unwrap_or_default();
    let action_ok = texts(&statement["Action"])
        .iter()
        .any(|a| a == action || *a == format!("{service}:*"));
    let resource_ok = texts(&statement["Resource"])
        .iter()
        .any(|r| r == resource || r == "*");
    action_ok && resource_ok
}

/// Whether the statement's `kms:ViaService` condition, if any, admits `via`.
fn via_service_admits(statement: &Value, via: &str) -> bool {
    let endpoint = format!("{via}.${{AWS::Region}}.amazonaws.com");
    let conditions = statement["Condition"].as_object().into_iter().flatten();
    conditions
        .filter_map(|(_, keys)| keys.get("kms:ViaService"))
        .all(|values| texts(values).contains(&endpoint))
}

/// The KMS key's logical id whose ARN text is `key` (keys are named by `…:key/${Id}`).
fn key_policy<'a>(template: &'a Value, key: &str) -> Option<&'a Value> {
    rendered_resources(template)
        .filter(|(_, kind, _)| *kind == "AWS::KMS::Key")
        .find(|(id, _, _)| {
            key.ends_with(&format!(":key/${{{id}}}")) || key == format!("${{{id}.Arn}}")
        })
        .map(|(_, _, properties)| &properties["KeyPolicy"])
}

/// Checks every role and every service delivery of `template` against [`ROLE_USES`] and
/// [`SERVICE_USES`].
pub fn check(template: &Value) -> Report {
    let encrypted = encrypted_resources(template);
    let mut report = Report::default();
    // Roles: their statements come from the `AWS::IAM::Policy` resources attached to them.
    let mut roles: Vec<(String, Vec<&Value>)> = Vec::new();
    for (_, kind, properties) in rendered_resources(template) {
        if kind != "AWS::IAM::Policy" {
            continue;
        }
        for role in texts(&properties["Roles"]) {
            let statements = allow_statements(&properties["PolicyDocument"]);
            match roles.iter_mut().find(|(name, _)| *name == role) {
                Some((_, list)) => list.extend(statements),
                None => roles.push((role, statements.collect())),
            }
        }
    }
    for (role, statements) in &roles {
        let who = role
            .trim_start_matches("${")
            .trim_end_matches('}')
            .to_owned();
        for statement in statements {
            for action in texts(&statement["Action"]) {
                for resource_text in texts(&statement["Resource"]) {
                    for resource in encrypted.iter().filter(|r| r.is_named_by(&resource_text)) {
                        for row in ROLE_USES
                            .iter()
                            .filter(|row| row.action == action && row.on == resource.kind)
                        {
                            report
                                .uses
                                .insert((who.clone(), action.clone(), resource.id.clone()));
                            for kms in row.kms {
                                let granted = statements.iter().any(|s| {
                                    allows(s, kms, &resource.key) && via_service_admits(s, row.via)
                                });
                                if !granted {
                                    report.missing.push(Finding {
                                        who: who.clone(),
                                        action: action.clone(),
                                        resource: resource.id.clone(),
                                        missing: (*kms).to_owned(),
                                        doc: row.doc,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    // Services: the key policy of the resource's key must allow them.
    for row in SERVICE_USES {
        for (id, kind, properties) in rendered_resources(template) {
            let targets: Vec<String> = match (row.delivery, kind) {
                (Delivery::AlarmActions, "AWS::CloudWatch::Alarm") => {
                    let mut all = texts(&properties["AlarmActions"]);
                    all.extend(texts(&properties["OKActions"]));
                    all
                }
                (Delivery::RuleTargets, "AWS::Events::Rule") => properties["Targets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|target| text(&target["Arn"]))
                    .collect(),
                (Delivery::LogGroupKey, "AWS::Logs::LogGroup") => vec![format!("${{{id}}}")],
                _ => continue,
            };
            let mut seen = BTreeSet::new();
            for resource in encrypted
                .iter()
                .filter(|r| r.kind == row.on && targets.iter().any(|target| r.is_named_by(target)))
            {
                if !seen.insert(&resource.id) {
                    continue;
                }
                report.uses.insert((
                    row.principal.to_owned(),
                    format!("{:?} of {id}", row.delivery),
                    resource.id.clone(),
                ));
                let policy = key_policy(template, &resource.key).unwrap_or(&Value::Null);
                for kms in row.kms {
                    let granted = allow_statements(policy).any(|s| {
                        texts(&s["Principal"]["Service"])
                            .iter()
                            .any(|p| p == row.principal)
                            && allows(s, kms, "*")
                    });
                    if !granted {
                        report.missing.push(Finding {
                            who: row.principal.to_owned(),
                            action: format!("{:?} of {id}", row.delivery),
                            resource: resource.id.clone(),
                            missing: (*kms).to_owned(),
                            doc: row.doc,
                        });
                    }
                }
            }
        }
    }
    report.missing.sort();
    report.missing.dedup();
    report
}
