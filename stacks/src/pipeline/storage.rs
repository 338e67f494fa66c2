//! The data buckets: raw JSON from Firehose, curated Parquet, and the access-log bucket both log to.

use environment::Environment;

use crate::iam::actions::s3;
use crate::iam::{PolicyDocument, Principal, Statement};
use crate::resources::s3::{
    AbortIncompleteMultipartUpload, Bucket, BucketEncryption, BucketPolicy, EncryptionByDefault,
    EncryptionRule, Lifecycle, LifecycleRule, Logging, NoncurrentVersionExpiration,
    OwnershipControls, PublicAccessBlock, Versioning, bucket_arn, objects_arn,
};
use crate::template::{Expr, Handle, Options, Template, pseudo};

use super::keys::DataKey;
use super::{BuildError, Names};

/// Key prefixes inside the buckets: the contract between Firehose, the Lambdas and the crawler,
/// defined once in `lambda-contract` (the Lambdas read the same constants).
pub use lambda_contract::prefixes;

/// Days Athena query results are kept: long enough to download a result again, short enough that
/// result copies of the data do not pile up.
pub const ATHENA_RESULTS_DAYS: u32 = 7;

/// The data buckets, and their names as expressions that do not depend on the buckets themselves.
#[derive(Debug, Clone)]
pub(super) struct Buckets {
    pub raw: Handle<Bucket>,
    pub raw_name: Expr,
    pub curated: Handle<Bucket>,
    pub curated_name: Expr,
}

/// What differs between the data buckets.
pub(super) struct DataBucket<'a> {
    pub id: &'a str,
    pub name: Expr,
    pub rules: Vec<LifecycleRule>,
    /// Statements of the bucket's policy besides the TLS rule.
    pub policy: Vec<Statement>,
}

pub(super) fn add(
    t: &mut Template,
    env: &Environment,
    names: &Names,
    key: &DataKey,
) -> Result<Buckets, BuildError> {
    let raw_name = names.bucket("raw");
    let curated_name = names.bucket("curated");
    let logs = add_access_log_bucket(t, env, names, &[&raw_name, &curated_name])?;
    let raw_rules = raw_rules(env);
    let curated_rules = curated_rules(env);
    let raw = add_data_bucket(
        t,
        key,
        &logs,
        DataBucket {
            id: "RawBucket",
            name: raw_name.clone(),
            rules: raw_rules,
            policy: Vec::new(),
        },
    )?;
    let curated = add_data_bucket(
        t,
        key,
        &logs,
        DataBucket {
            id: "CuratedBucket",
            name: curated_name.clone(),
            rules: curated_rules,
            policy: Vec::new(),
        },
    )?;
    Ok(Buckets {
        raw,
        raw_name,
        curated,
        curated_name,
    })
}

/// The raw bucket's lifecycle (also its DR replica's: expirations are not replicated).
pub(super) fn raw_rules(env: &Environment) -> Vec<LifecycleRule> {
    vec![expire(
        "ExpireRawRecords",
        None,
        Some(env.storage.raw_retention_days),
        env,
    )]
}

/// The curated bucket's lifecycle (also its DR replica's).
pub(super) fn curated_rules(env: &Environment) -> Vec<LifecycleRule> {
    vec![
        // Only the quotes: notify's state objects must outlive a symbol's quiet spells.
        expire(
            "ExpireCuratedData",
            Some(prefixes::QUOTES),
            env.storage.curated_retention_days,
            env,
        ),
        expire(
            "ExpireAthenaResults",
            Some(prefixes::ATHENA_RESULTS),
            Some(ATHENA_RESULTS_DAYS),
            env,
        ),
    ]
}

fn expire(id: &str, prefix: Option<&str>, days: Option<u32>, env: &Environment) -> LifecycleRule {
    LifecycleRule {
        id: id.to_owned(),
        status: "Enabled",
        prefix: prefix.map(str::to_owned),
        expiration_in_days: days,
        noncurrent_version_expiration: Some(NoncurrentVersionExpiration {
            noncurrent_days: env.storage.noncurrent_version_days,
        }),
        abort_incomplete_multipart_upload: Some(AbortIncompleteMultipartUpload {
            days_after_initiation: 1,
        }),
    }
}

pub(super) fn add_data_bucket(
    t: &mut Template,
    key: &DataKey,
    logs: &Handle<Bucket>,
    bucket: DataBucket<'_>,
) -> Result<Handle<Bucket>, BuildError> {
    let handle = t.add(
        bucket.id,
        Bucket {
            bucket_name: Some(bucket.name.clone()),
            bucket_encryption: BucketEncryption::kms(key.arn()),
            public_access_block_configuration: PublicAccessBlock::all(),
            ownership_controls: OwnershipControls::bucket_owner_enforced(),
            versioning_configuration: Versioning { status: "Enabled" },
            lifecycle_configuration: Lifecycle {
                rules: bucket.rules,
            },
            logging_configuration: Some(Logging {
                destination_bucket_name: logs.reference(),
                log_file_prefix: format!("{}/", bucket.id),
            }),
            // Wired by `functions::add_notifications` once the functions exist.
            notification_configuration: None,
            replication_configuration: None,
        },
        Options::retained(),
    )?;
    add_tls_only_policy(t, &format!("{}Policy", bucket.id), &handle, bucket.policy)?;
    Ok(handle)
}

/// Server access logs of the data buckets. S3 log delivery cannot write to SSE-KMS buckets, so this one
/// uses SSE-S3; it holds request metadata only, never market data.
pub(super) fn add_access_log_bucket(
    t: &mut Template,
    env: &Environment,
    names: &Names,
    sources: &[&Expr],
) -> Result<Handle<Bucket>, BuildError> {
    let name = names.bucket("access-logs");
    let logs = t.add(
        "AccessLogsBucket",
        Bucket {
            bucket_name: Some(name.clone()),
            bucket_encryption: BucketEncryption {
                server_side_encryption_configuration: vec![EncryptionRule {
                    server_side_encryption_by_default: EncryptionByDefault {
                        sse_algorithm: "AES256",
                        kms_master_key_id: None,
                    },
                    bucket_key_enabled: false,
                }],
            },
            public_access_block_configuration: PublicAccessBlock::all(),
            ownership_controls: OwnershipControls::bucket_owner_enforced(),
            versioning_configuration: Versioning { status: "Enabled" },
            lifecycle_configuration: Lifecycle {
                rules: vec![expire(
                    "ExpireAccessLogs",
                    None,
                    Some(env.storage.raw_retention_days.max(90)),
                    env,
                )],
            },
            logging_configuration: None,
            notification_configuration: None,
            replication_configuration: None,
        },
        Options::retained()
            .skip_checkov(
                "CKV_AWS_18",
                "This is the access-log bucket itself; logging it to itself would loop.",
            )
            .skip_checkov(
                "CKV_AWS_145",
                "S3 server access log delivery supports only SSE-S3 destination buckets.",
            ),
    )?;
    let delivery = Statement::allow_principal(
        Principal::Service(vec![Expr::service_principal("logging.s3")]),
        &[s3::PUT_OBJECT],
    )
    .sid("S3ServerAccessLogDelivery")
    .on([objects_arn(&name, "")])
    .condition("StringEquals", "aws:SourceAccount", [pseudo::account_id()])
    .condition(
        "ArnLike",
        "aws:SourceArn",
        sources.iter().map(|source| bucket_arn(source)),
    );
    add_tls_only_policy(t, "AccessLogsBucketPolicy", &logs, vec![delivery])?;
    Ok(logs)
}

/// The bucket's policy: deny every request without TLS, plus `extra` statements.
pub(super) fn add_tls_only_policy(
    t: &mut Template,
    id: &str,
    bucket: &Handle<Bucket>,
    extra: Vec<Statement>,
) -> Result<(), BuildError> {
    let name = bucket.reference();
    let mut statements = vec![
        Statement::deny_everyone_any_action("s3", [bucket_arn(&name), objects_arn(&name, "")])
            .sid("DenyRequestsWithoutTls")
            .condition("Bool", "aws:SecureTransport", [Expr::lit("false")]),
    ];
    statements.extend(extra);
    t.add(
        id,
        BucketPolicy {
            bucket: name,
            policy_document: PolicyDocument::new(statements),
        },
        Options::none(),
    )?;
    Ok(())
}
