//! The region's KMS key: it encrypts the stream, buckets, topic, queue, secret and log groups.

use environment::Environment;

use crate::iam::actions::kms;
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
pub(super) enum ViaService {
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
    fn endpoint(self) -> Expr {
        let service = match self {
            Self::S3 => "s3",
            Self::Kinesis => "kinesis",
            Self::Sqs => "sqs",
            Self::Sns => "sns",
            Self::SecretsManager => "secretsmanager",
        };
        Expr::concat([
            Expr::lit(format!("{service}.")),
            pseudo::region(),
            Expr::lit(".amazonaws.com"),
        ])
    }
}

/// `actions` on the data key, only when one of `services` makes the call for the role
/// (`kms:ViaService`, <https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service>):
/// every role here uses the key only through the service that stores its data, never directly. Which
/// actions each use needs is [`crate::kms_use::ROLE_USES`].
pub(super) fn use_key(
    key: &DataKey,
    actions: &[crate::iam::Action],
    services: &[ViaService],
) -> Statement {
    let mut services = services.to_vec();
    services.sort();
    services.dedup();
    Statement::allow(actions, [key.arn()])
        .sid("UseDataKey")
        .condition(
            "StringEquals",
            "kms:ViaService",
            services.into_iter().map(ViaService::endpoint),
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
