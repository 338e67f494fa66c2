//! The region's KMS key: it encrypts the stream, buckets, topic, queue, secret and log groups.

use environment::Environment;

use crate::iam::actions::kms;
use crate::iam::{PolicyDocument, Principal, Statement};
use crate::resources::kms::{Alias, Key};
use crate::resources::logs::LogGroup;
use crate::template::{Expr, Handle, Options, Template, pseudo};

use super::BuildError;

pub(super) type DataKey = Handle<Key>;

/// Key administration and use, delegated to the account's IAM policies. Listed one by one (no `kms:*`)
/// so the key policy reads like every other policy here.
const ACCOUNT_KEY_ACTIONS: &[crate::iam::Action] = &[
    kms::CANCEL_KEY_DELETION,
    kms::CREATE_GRANT,
    kms::DECRYPT,
    kms::DESCRIBE_KEY,
    kms::DISABLE_KEY,
    kms::DISABLE_KEY_ROTATION,
    kms::ENABLE_KEY,
    kms::ENABLE_KEY_ROTATION,
    kms::ENCRYPT,
    kms::GENERATE_DATA_KEY,
    kms::GENERATE_DATA_KEY_WITHOUT_PLAINTEXT,
    kms::GET_KEY_POLICY,
    kms::GET_KEY_ROTATION_STATUS,
    kms::LIST_GRANTS,
    kms::LIST_KEY_POLICIES,
    kms::LIST_RESOURCE_TAGS,
    kms::PUT_KEY_POLICY,
    kms::RE_ENCRYPT_FROM,
    kms::RE_ENCRYPT_TO,
    kms::RETIRE_GRANT,
    kms::REVOKE_GRANT,
    kms::SCHEDULE_KEY_DELETION,
    kms::TAG_RESOURCE,
    kms::UNTAG_RESOURCE,
    kms::UPDATE_KEY_DESCRIPTION,
];

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
        Statement::allow_principal(Principal::Aws(vec![account_root]), ACCOUNT_KEY_ACTIONS)
            .sid("AccountAdministersAndUsesKeyThroughIam")
            .on_this_key(),
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
