//! The region's KMS key: it encrypts the stream, buckets, topic, queue, secret and log groups.

use environment::Environment;

use crate::iam::actions::kms;
use crate::iam::uses::{Use, data_key_uses, kms_row};
use crate::iam::{PolicyDocument, Principal, Statement};
use crate::resources::kms::{Alias, Key};
use crate::resources::logs::LogGroup;
use crate::template::{Expr, Handle, Options, Template, pseudo};

use super::BuildError;

pub(super) type DataKey = Handle<Key>;

pub(super) fn add(t: &mut Template, env: &Environment) -> Result<DataKey, BuildError> {
    let account_root = Expr::concat([
        Expr::lit("arn:"),
        pseudo::partition(),
        Expr::lit(":iam::"),
        pseudo::account_id(),
        Expr::lit(":root"),
    ]);
    let logs_principal = Expr::concat([
        Expr::lit("logs."),
        pseudo::region(),
        Expr::lit(".amazonaws.com"),
    ]);
    let policy = PolicyDocument::new(vec![
        // AWS's default key policy statement: IAM policies decide who administers and uses the key.
        Statement::key_policy_account_root(account_root),
        Statement::allow_principal(
            Principal::Service(vec![logs_principal]),
            &[
                kms::ENCRYPT,
                kms::DECRYPT,
                kms::RE_ENCRYPT_FROM,
                kms::RE_ENCRYPT_TO,
                kms::GENERATE_DATA_KEY,
                kms::DESCRIBE_KEY,
            ],
        )
        .sid("CloudWatchLogsEncryptsThisAccountsLogGroups")
        .on_this_key()
        .condition(
            "ArnLike",
            "kms:EncryptionContext:aws:logs:arn",
            [Expr::regional_arn("logs", [Expr::lit("log-group:*")])],
        ),
        Statement::allow_principal(
            Principal::Service(vec![Expr::service_principal("cloudwatch")]),
            &[kms::DECRYPT, kms::GENERATE_DATA_KEY],
        )
        .sid("CloudWatchAlarmsPublishToTheEncryptedTopic")
        .on_this_key()
        .condition("StringEquals", "aws:SourceAccount", [pseudo::account_id()]),
        Statement::allow_principal(
            Principal::Service(vec![Expr::service_principal("events")]),
            &[kms::DECRYPT, kms::GENERATE_DATA_KEY],
        )
        .sid("EventBridgeRulesPublishToTheEncryptedTopic")
        .on_this_key()
        .condition("StringEquals", "aws:SourceAccount", [pseudo::account_id()]),
    ]);
    let key = t.add(
        "DataKey",
        Key {
            description: format!(
                "MyStockTracker {}: encrypts the pipeline's data at rest",
                env.name.as_str()
            ),
            enable_key_rotation: true,
            pending_window_in_days: 30,
            key_policy: policy,
        },
        Options::retained(),
    )?;
    t.add(
        "DataKeyAlias",
        Alias {
            alias_name: format!("alias/mst-{}-data", env.name.as_str()),
            target_key_id: key.reference(),
        },
        Options::none(),
    )?;
    Ok(key)
}

/// An AWS service that calls KMS on a role's behalf when the role reads or writes data encrypted with
/// the data key; its endpoint is the `kms:ViaService` value KMS sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ViaService {
    /// SSE-KMS objects.
    S3,
    /// The encrypted stream.
    Kinesis,
    /// The encrypted failed-events queue.
    Sqs,
    /// The encrypted alert topic.
    Sns,
    /// The encrypted InfluxDB token secret.
    SecretsManager,
}

impl ViaService {
    /// The service whose endpoint starts with `prefix` (`s3` for `s3.<region>.amazonaws.com`).
    fn from_prefix(prefix: &str) -> Option<Self> {
        [
            Self::S3,
            Self::Kinesis,
            Self::Sqs,
            Self::Sns,
            Self::SecretsManager,
        ]
        .into_iter()
        .find(|service| service.prefix() == prefix)
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::S3 => "s3",
            Self::Kinesis => "kinesis",
            Self::Sqs => "sqs",
            Self::Sns => "sns",
            Self::SecretsManager => "secretsmanager",
        }
    }

    fn endpoint(self) -> Expr {
        Expr::concat([
            Expr::lit(format!("{}.", self.prefix())),
            pseudo::region(),
            Expr::lit(".amazonaws.com"),
        ])
    }
}

/// The statement letting a role use the data key for what its other statements do: one
/// [`Use::DataKeyFor`] per action on an encrypted resource that needs the key
/// ([`crate::kms_use::ROLE_USES`], with AWS's page), derived from the uses those statements were built
/// for. Only when one of the uses' services makes the call for the role (`kms:ViaService`,
/// <https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service>):
/// every role here uses the key only through the service that stores its data, never directly.
/// `None` when the role touches nothing encrypted.
pub(super) fn data_key_grant(key: &DataKey, statements: &[Statement]) -> Option<Statement> {
    let uses = data_key_uses(statements.iter().flat_map(|s| s.uses().iter().copied()));
    let mut services: Vec<ViaService> = uses
        .iter()
        .filter_map(|used| match used {
            Use::DataKeyFor { action, on } => kms_row(*action, *on),
            _ => None,
        })
        .filter_map(|row| ViaService::from_prefix(row.via))
        .collect();
    if services.is_empty() {
        return None;
    }
    services.sort();
    services.dedup();
    Some(
        Statement::grant(&uses, [key.arn()])
            .sid("UseDataKey")
            .condition(
                "StringEquals",
                "kms:ViaService",
                services.into_iter().map(ViaService::endpoint),
            ),
    )
}

/// A log group encrypted with the data key, keeping events for the environment's retention.
pub(super) fn add_log_group(
    t: &mut Template,
    id: &str,
    env: &Environment,
    key: &DataKey,
) -> Result<Handle<LogGroup>, BuildError> {
    Ok(t.add(
        id,
        LogGroup {
            retention_in_days: env.logs.retention_days,
            kms_key_id: key.arn(),
        },
        Options::none(),
    )?)
}
