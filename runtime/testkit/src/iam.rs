//! Components run under their own role, as deployed, on a moto server that enforces IAM
//! ([`crate::Moto::start_with_iam`]; feature `iam`).
//!
//! A role's permissions come from its committed snapshot, `policies/local/<Role>.json`: the
//! policy `stacks` generates for the `local` environment (`deployer synth --check` fails when the
//! file is stale, so it is the one source; nothing here copies a grant). [`RolePolicy::document`]
//! turns the snapshot into the document CloudFormation would attach: `${AWS::Partition}`,
//! `${AWS::Region}` and `${AWS::AccountId}` resolved, and each `${Logical}` / `${Logical.Attr}`
//! bound to what the test made in its place (a stream name, a secret's ARN…).
//! [`crate::Moto::assume_role`] creates the role in moto, puts that document as its policy,
//! assumes it with STS and returns the session's credentials.
//!
//! What moto 5.2.5 judges (read in `moto/iam/access_control.py`, `moto/core/authorization.py`,
//! `moto/core/responses.py`, `moto/s3/responses.py`), and what this module does about it:
//! - **Actions**: every request's IAM action is checked against the identity's policies (an
//!   explicit `Deny` wins, otherwise an `Allow` is needed). Multipart S3 calls count as
//!   `s3:PutObject`, except `AbortMultipartUpload`; `HeadObject` is `s3:GetObject`,
//!   `ListObjectsV2` is `s3:ListBucket`.
//! - **Resources**: only S3 (`arn:aws:s3:::bucket` and `…:::bucket/key`), SQS (the queue's ARN),
//!   IAM and STS (`AssumeRole`: the role's ARN) tell moto which resource a request is for. Every
//!   other service is checked against the resource `*`, which a statement naming an ARN never
//!   matches: the role's real policy would deny every Kinesis, SNS or Secrets Manager call. So
//!   [`RolePolicy::document`] gives those services' actions `"Resource": "*"` (in a statement of
//!   their own) and keeps S3's and SQS's resources as generated: moto judges the action for
//!   every service and the resource only for those it can.
//! - **Conditions**: ignored for identity policies (moto passes no request context, so every
//!   `Condition` holds: `s3:prefix`, `kms:ViaService`…). They are kept in the document anyway.
//! - **Not judged**: KMS use implied by SSE-KMS objects, encrypted streams, topics, queues and
//!   secrets (moto never checks `kms:` actions for them), key policies and other resource
//!   policies, and S3's "403 instead of 404 without `s3:ListBucket`". `stacks::kms_use` checks
//!   the KMS side against AWS's documentation; `docs/permissions.md` lists the rest.
//! - **Who**: an access key of an IAM user, or an assumed role's key with its session token; the
//!   assumed role's inline and attached policies apply. moto cannot assume a role for a service
//!   principal (`lambda.amazonaws.com`), so the role created here trusts the admin user, who
//!   plays the service; the permissions are the deployed ones.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::{ADMIN_USER, MOTO_ACCOUNT, Moto};

/// The services whose requests moto attributes to a resource ARN; the others it checks against
/// `*` only (see the module documentation).
pub const RESOURCE_JUDGED_SERVICES: [&str; 4] = ["s3", "sqs", "iam", "sts"];

/// The partition of every ARN here (moto's regions are all in `aws`).
const PARTITION: &str = "aws";

/// The committed snapshot of the `local` environment's roles, relative to this crate.
fn local_policies() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies/local")
}

/// One role's permissions as deployed for the `local` environment, or a scratch copy of them.
#[derive(Debug, Clone, PartialEq)]
pub struct RolePolicy {
    role: String,
    statements: Vec<Value>,
}

impl RolePolicy {
    /// The role `role` (a logical id such as `TransformRole`) from `policies/local/<role>.json`.
    pub fn local(role: &str) -> Self {
        let path = local_policies().join(format!("{role}.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read {}: {e}; the roles are those of `deployer synth --env local`",
                path.display()
            )
        });
        let snapshot: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        let statements = snapshot["permissions"]
            .as_array()
            .unwrap_or_else(|| panic!("{} has no `permissions` list", path.display()))
            .clone();
        Self {
            role: role.to_owned(),
            statements,
        }
    }

    /// A role of `statements` (in the snapshot's form, `${…}` included), for tests of this module
    /// and of moto itself; components' tests use [`RolePolicy::local`].
    pub fn from_statements(role: &str, statements: Vec<Value>) -> Self {
        Self {
            role: role.to_owned(),
            statements,
        }
    }

    /// The role's logical id.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// Every action the role is allowed, sorted.
    pub fn actions(&self) -> BTreeSet<String> {
        self.statements
            .iter()
            .flat_map(|s| strings(&s["Action"]))
            .collect()
    }

    /// A scratch copy without `action` (in every statement; a statement left with no action is
    /// dropped). Panics when the role does not have it: the test would prove nothing.
    pub fn without(&self, action: &str) -> Self {
        assert!(
            self.actions().contains(action),
            "{} has no {action} to remove; it has {:?}",
            self.role,
            self.actions()
        );
        let statements = self
            .statements
            .iter()
            .filter_map(|s| {
                let kept: Vec<String> = strings(&s["Action"])
                    .into_iter()
                    .filter(|a| a != action)
                    .collect();
                (!kept.is_empty()).then(|| {
                    let mut s = s.clone();
                    s["Action"] = json!(kept);
                    s
                })
            })
            .collect();
        Self {
            role: self.role.clone(),
            statements,
        }
    }

    /// The bucket in which the role has S3 actions on keys under `prefix` (a prefix from
    /// `lambda-contract`, such as `quarantine/transform/`), named as in `region` of moto's account:
    /// the bucket the test must create for the role's grants to apply. Panics when no statement
    /// or more than one bucket matches.
    pub fn bucket_for(&self, prefix: &str, region: &str) -> String {
        let buckets: BTreeSet<String> = self
            .statements
            .iter()
            .filter(|s| strings(&s["Action"]).iter().any(|a| a.starts_with("s3:")))
            .flat_map(|s| strings(&s["Resource"]))
            .filter_map(|arn| {
                let arn = resolve_pseudo(&arn, region);
                let path = arn
                    .strip_prefix(&format!("arn:{PARTITION}:s3:::"))?
                    .to_owned();
                let (bucket, key) = path.split_once('/')?;
                key.starts_with(prefix).then(|| bucket.to_owned())
            })
            .collect();
        assert!(
            buckets.len() == 1,
            "{} has S3 grants on `{prefix}` in {} buckets ({buckets:?}); expected exactly one",
            self.role,
            buckets.len()
        );
        buckets.into_iter().next().unwrap_or_default()
    }

    /// The policy document for moto: pseudo parameters resolved for `region` and moto's account,
    /// each `${Name}` in `bindings` (`("QuoteStream", "stream-name")`,
    /// `("FailedEventsQueue.Arn", "arn:…")`) replaced by its value, and the actions of services
    /// outside [`RESOURCE_JUDGED_SERVICES`] on `"Resource": "*"` in statements of their own (see
    /// the module documentation). A resource still naming an unbound `${…}` (something the test
    /// did not make) becomes an ARN that matches nothing.
    pub fn document(&self, region: &str, bindings: &[(&str, &str)]) -> Value {
        let mut statements = Vec::new();
        for (index, statement) in self.statements.iter().enumerate() {
            let resources: Vec<String> = strings(&statement["Resource"])
                .iter()
                .map(|r| resolve(r, region, bindings))
                .collect();
            let (judged, unjudged): (Vec<String>, Vec<String>) =
                strings(&statement["Action"]).into_iter().partition(|a| {
                    RESOURCE_JUDGED_SERVICES.contains(&a.split(':').next().unwrap_or_default())
                });
            let mut part = |sid_suffix: &str, actions: Vec<String>, resources: Value| {
                if actions.is_empty() {
                    return;
                }
                let sid = statement["Sid"]
                    .as_str()
                    .map_or_else(|| format!("Statement{index}"), str::to_owned);
                let mut s = json!({
                    "Sid": format!("{sid}{sid_suffix}"),
                    "Effect": statement["Effect"],
                    "Action": actions,
                    "Resource": resources,
                });
                if let Some(condition) = statement.get("Condition") {
                    s["Condition"] = condition.clone();
                }
                statements.push(s);
            };
            part("", judged, json!(resources));
            part("AnyResource", unjudged, json!("*"));
        }
        json!({"Version": "2012-10-17", "Statement": statements})
    }
}

/// A string or list of strings, as a list.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(list) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn resolve_pseudo(text: &str, region: &str) -> String {
    text.replace("${AWS::Partition}", PARTITION)
        .replace("${AWS::Region}", region)
        .replace("${AWS::AccountId}", MOTO_ACCOUNT)
        .replace("${AWS::URLSuffix}", "amazonaws.com")
}

fn resolve(text: &str, region: &str, bindings: &[(&str, &str)]) -> String {
    let mut out = resolve_pseudo(text, region);
    for (name, value) in bindings {
        out = out.replace(&format!("${{{name}}}"), value);
    }
    match out.find("${") {
        Some(at) => {
            let unbound: String = out[at + 2..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
                .collect();
            format!("arn:{PARTITION}:testkit:{region}:{MOTO_ACCOUNT}:not-created/{unbound}")
        }
        None => out,
    }
}

/// Credentials of a role assumed in moto, and an SDK configuration signing with them.
#[derive(Debug, Clone)]
pub struct AssumedRole {
    /// The role's ARN in moto.
    pub role_arn: String,
    /// The session's access key id.
    pub access_key_id: String,
    /// The session's secret access key.
    pub secret_access_key: String,
    /// The session token.
    pub session_token: String,
    /// An SDK configuration for the server, signing with the session's credentials.
    pub config: aws_config::SdkConfig,
}

impl AssumedRole {
    /// The variables Lambda (and the EC2 instance profile, through the SDK's chain) gives the
    /// code for its role: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    pub fn env(&self) -> [(&'static str, &str); 3] {
        [
            ("AWS_ACCESS_KEY_ID", &self.access_key_id),
            ("AWS_SECRET_ACCESS_KEY", &self.secret_access_key),
            ("AWS_SESSION_TOKEN", &self.session_token),
        ]
    }
}

impl Moto {
    /// Creates `policy`'s role in this server (a new role each call, named after it) with the
    /// document [`RolePolicy::document`] makes for `region` and `bindings` as its inline policy,
    /// trusting the admin user, and assumes it. Use on a server from [`Moto::start_with_iam`]:
    /// elsewhere moto checks nothing and the role's policy does not matter.
    pub async fn assume_role(
        &self,
        region: &'static str,
        policy: &RolePolicy,
        bindings: &[(&str, &str)],
    ) -> AssumedRole {
        self.assume_role_with_document(region, policy.role(), &policy.document(region, bindings))
            .await
    }

    /// Like [`Moto::assume_role`] with `document` as the role's policy, exactly as given (no
    /// resolution, no widening): for tests of moto's judgement itself.
    pub async fn assume_role_with_document(
        &self,
        region: &'static str,
        role: &str,
        document: &Value,
    ) -> AssumedRole {
        static ROLES: AtomicUsize = AtomicUsize::new(0);
        let admin = self.sdk_config(region).await;
        let iam = aws_connect::query::QueryClient::new(&admin, region, aws_connect::query::IAM);
        let name = format!("{role}-{}", ROLES.fetch_add(1, Ordering::Relaxed));
        let trust = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:{PARTITION}:iam::{MOTO_ACCOUNT}:user/{ADMIN_USER}")},
            "Action": "sts:AssumeRole",
        }]});
        let trust = trust.to_string();
        let role_arn = iam
            .call(
                "CreateRole",
                &[("RoleName", &name), ("AssumeRolePolicyDocument", &trust)],
            )
            .await
            .unwrap_or_else(|e| panic!("CreateRole {name}: {e:?}"))
            .text_at(&["CreateRoleResult", "Role", "Arn"])
            .unwrap_or_else(|| panic!("CreateRole {name}: no role in the answer"));
        let document = document.to_string();
        iam.call(
            "PutRolePolicy",
            &[
                ("RoleName", &name),
                ("PolicyName", role),
                ("PolicyDocument", &document),
            ],
        )
        .await
        .unwrap_or_else(|e| panic!("PutRolePolicy {name} {document}: {e:?}"));
        let credentials = aws_sdk_sts::Client::new(&admin)
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("testkit")
            .send()
            .await
            .unwrap_or_else(|e| panic!("AssumeRole {role_arn}: {e:?}"))
            .credentials
            .unwrap_or_else(|| panic!("AssumeRole {role_arn}: no credentials in the answer"));
        let session = aws_credential_types::Credentials::new(
            credentials.access_key_id(),
            credentials.secret_access_key(),
            Some(credentials.session_token().to_owned()),
            None,
            "testkit-assumed-role",
        );
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region))
            .credentials_provider(session)
            .endpoint_url(self.endpoint())
            .http_client(lambda_support::aws_http_client())
            .load()
            .await;
        AssumedRole {
            role_arn,
            access_key_id: credentials.access_key_id().to_owned(),
            secret_access_key: credentials.secret_access_key().to_owned(),
            session_token: credentials.session_token().to_owned(),
            config,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role() -> RolePolicy {
        RolePolicy {
            role: "R".into(),
            statements: vec![
                json!({"Sid": "Put", "Effect": "Allow", "Action": ["kinesis:PutRecords"],
                       "Resource": ["arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/${QuoteStream}"]}),
                json!({"Sid": "Write", "Effect": "Allow", "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
                       "Resource": ["arn:${AWS::Partition}:s3:::mst-local-raw-${AWS::AccountId}-${AWS::Region}/quarantine/x/*"]}),
                json!({"Sid": "Send", "Effect": "Allow", "Action": "sqs:SendMessage",
                       "Resource": ["${FailedEventsQueue.Arn}"], "Condition": {"Bool": {"aws:SecureTransport": "true"}}}),
            ],
        }
    }

    #[test]
    fn the_document_keeps_judged_resources_and_widens_the_others() {
        let document = role().document("eu-west-1", &[("QuoteStream", "q")]);
        assert_eq!(
            document["Statement"],
            json!([
                {"Sid": "PutAnyResource", "Effect": "Allow", "Action": ["kinesis:PutRecords"], "Resource": "*"},
                {"Sid": "Write", "Effect": "Allow", "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
                 "Resource": ["arn:aws:s3:::mst-local-raw-123456789012-eu-west-1/quarantine/x/*"]},
                {"Sid": "Send", "Effect": "Allow", "Action": ["sqs:SendMessage"],
                 "Resource": ["arn:aws:testkit:eu-west-1:123456789012:not-created/FailedEventsQueue.Arn"],
                 "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
            ])
        );
    }

    #[test]
    fn a_removed_action_leaves_its_statement_or_drops_it() {
        let without = role().without("s3:PutObject");
        assert_eq!(
            without.actions().into_iter().collect::<Vec<_>>(),
            [
                "kinesis:PutRecords",
                "s3:AbortMultipartUpload",
                "sqs:SendMessage"
            ]
        );
        let without = without.without("kinesis:PutRecords");
        assert_eq!(without.statements.len(), 2);
    }

    #[test]
    fn buckets_are_found_by_prefix() {
        assert_eq!(
            role().bucket_for("quarantine/x/", "eu-west-1"),
            "mst-local-raw-123456789012-eu-west-1"
        );
    }

    #[test]
    fn the_local_roles_load() {
        let transform = RolePolicy::local("TransformRole");
        assert!(
            transform
                .actions()
                .contains("secretsmanager:GetSecretValue")
        );
    }
}
