//! Disaster recovery (`dr:` in the environment): the raw and curated buckets of every region
//! replicate to the DR region with S3 Replication Time Control, the replicas encrypted under a key
//! of that region.
//!
//! Two sides. The DR region's own stack ([`replica_stack`], `mst-<env>-replica`) holds the replica
//! key and one replica bucket per data bucket and source region; `deployer up` deploys it before any
//! pipeline, because S3 refuses a replication rule whose destination bucket does not exist (or is not
//! versioned). Each region's pipeline stack ([`add_source`]) holds the replication role and the
//! buckets' replication rules, and [`add_alarms`] the alarms on the replication metrics.
//!
//! Decisions (docs/dr.md explains them to operators):
//! - Delete markers are **not** replicated: a deletion in the source region (by mistake or by an
//!   intruder) must not reach the copy that is there to survive it. Lifecycle expirations are never
//!   replicated either; the replica buckets carry the same lifecycle rules instead.
//! - The replica key's ARN reaches the pipeline stack as the parameter [`REPLICA_KEY_PARAMETER`]:
//!   KMS makes the key's id in the DR region's stack, which a template of another region cannot
//!   read, so `deployer up` looks it up by its alias (`alias/mst-<env>-replica`) once the replica
//!   stack is deployed. The rule and the role's `kms:Encrypt` then name the key by its full ARN, as
//!   AWS recommends for `ReplicaKmsKeyID` (an alias would be resolved in the requester's account).
//! - Across accounts (a region placed by `deploy.accounts` in another account than the DR
//!   region's): the replicas are in the DR region's account, which the source pipeline names
//!   spelt out; the replication role gets a fixed name there ([`Names::replication_role`]), and
//!   the replica buckets' policies and the replica key's policy let exactly that role of that
//!   account write and encrypt the replicas of its region. They name it through the account's root
//!   and `aws:PrincipalArn`, because the replica stack is deployed before the role exists and S3
//!   and KMS refuse a policy naming a principal that does not.

use environment::{AccountId, DisasterRecovery, Environment, Region};

use crate::iam::actions::sts;
use crate::iam::uses::{Use, data_key_uses};
use crate::iam::{PolicyDocument, Principal, Statement};
use crate::resources::cloudwatch::{Alarm, Dimension};
use crate::resources::iam::{Policy, Role};
use crate::resources::kms::{Alias, Key};
use crate::resources::s3::{
    Minutes, ReplicaEncryption, ReplicationConfiguration, ReplicationDestination,
    ReplicationFilter, ReplicationMetrics, ReplicationRule, ReplicationTime,
    SourceSelectionCriteria, StatusOnly, bucket_arn, objects_arn,
};
use crate::template::{Expr, Handle, Options, Parameter, Template, pseudo};

use super::alerts::AlertTopic;
use super::keys::DataKey;
use super::storage::{self, Buckets, DataBucket};
use super::{BuildError, Names, Stack, StackKind};

/// The id of the one replication rule of each data bucket: the `RuleId` dimension of its metrics.
pub const REPLICATION_RULE_ID: &str = "ReplicateToDr";

/// The replicated buckets: the purpose part of their names and their logical ids in the pipeline.
pub const REPLICATED: [(&str, &str); 2] = [("raw", "RawBucket"), ("curated", "CuratedBucket")];

/// S3 Replication Time Control's bound, the only value S3 accepts for `ReplicationTime` and the
/// metrics' event threshold.
const RTC_MINUTES: u32 = 15;

/// A backlog that never falls under this many operations during three alarm periods means
/// replication is not keeping up with what the pipeline writes.
const BACKLOG_ALARM_OPERATIONS: f64 = 100.0;

/// Seconds per datapoint of the replication alarms.
const ALARM_PERIOD_SECONDS: u32 = 300;

const S3_REPLICATION_TRUST: &str =
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html";

/// The pipeline stack's parameter holding the replica key's ARN (the engine fills it in).
pub const REPLICA_KEY_PARAMETER: &str = "ReplicaKeyArn";

/// The parameter's pattern: a KMS key ARN (single- or multi-Region key id).
const KEY_ARN_PATTERN: &str = "^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$";

/// The account of the DR region (`None` without `dr:`): it holds the replica buckets and key.
pub fn replica_account(env: &Environment) -> Option<&AccountId> {
    env.dr.as_ref().map(|dr| env.account_of(&dr.region))
}

/// The regions of `env` in another account than the DR region's, with their account.
fn cross_account_sources<'a>(
    env: &'a Environment,
    dr: &DisasterRecovery,
) -> Vec<(&'a Region, &'a AccountId)> {
    let replicas = env.account_of(&dr.region);
    env.regions
        .iter()
        .map(|region| (region, env.account_of(region)))
        .filter(|(_, account)| *account != replicas)
        .collect()
}

/// The replica buckets' account as a pipeline names it: the stack's own while every region is in
/// the DR region's account (so the template is the same in any account), else spelt out.
fn replica_account_in_pipeline(env: &Environment, dr: &DisasterRecovery) -> Expr {
    if cross_account_sources(env, dr).is_empty() {
        pseudo::account_id()
    } else {
        Expr::lit(env.account_of(&dr.region).as_str())
    }
}

fn root_of(account: &AccountId) -> Expr {
    Expr::concat([
        Expr::lit("arn:"),
        pseudo::partition(),
        Expr::lit(format!(":iam::{}:root", account.as_str())),
    ])
}

/// The stack of the DR region: the replica key and, per region of the environment, a replica of
/// the raw and the curated bucket, plus their access-log bucket. `None` without `dr:`.
pub fn replica_stack(env: &Environment) -> Result<Option<Stack>, BuildError> {
    let Some(dr) = &env.dr else {
        return Ok(None);
    };
    let names = Names::new(env);
    let mut t = Template::new(format!(
        "MyStockTracker replicas for environment {} in its DR region {}: replica buckets of every region's raw and curated data, and their key.",
        env.name.as_str(),
        dr.region
    ));
    let mut replica_names = Vec::new();
    for region in &env.regions {
        for (purpose, _) in REPLICATED {
            replica_names.push((
                region,
                purpose,
                names.replica_bucket(purpose, pseudo::account_id(), Expr::lit(region.as_str())),
            ));
        }
    }
    let cross_account = cross_account_sources(env, dr);
    // The replication role of a region in another account, as the replicas' policies name it.
    let role_of = |region: &Region| -> Option<(&AccountId, Expr)> {
        cross_account
            .iter()
            .find(|(r, _)| *r == region)
            .map(|(r, account)| {
                (
                    *account,
                    names.replication_role_arn(account.as_str(), r.as_str()),
                )
            })
    };
    let key = add_replica_key(&mut t, env, dr, &names, &cross_account, &replica_names)?;
    let sources: Vec<&Expr> = replica_names.iter().map(|(_, _, name)| name).collect();
    let logs = storage::add_access_log_bucket(&mut t, env, &names, &sources)?;
    for (region, purpose, name) in &replica_names {
        let id = format!("{}{}Replica", camel(purpose), camel(region.as_str()));
        let rules = match *purpose {
            "raw" => storage::raw_rules(env),
            _ => storage::curated_rules(env),
        };
        // Written across accounts by the source region's replication role (what that role's
        // own policy grants on the replicas' objects).
        let policy = role_of(region)
            .map(|(account, role)| {
                Statement::allow_principal(
                    Principal::Aws(vec![root_of(account)]),
                    &Use::ReplicationWritesReplicas.need().actions,
                )
                .sid("ReplicationFromTheSourceAccount")
                .on([objects_arn(name, "")])
                .condition("ArnEquals", "aws:PrincipalArn", [role])
            })
            .into_iter()
            .collect();
        let bucket = storage::add_data_bucket(
            &mut t,
            &key,
            &logs,
            DataBucket {
                id: &id,
                name: name.clone(),
                rules,
                policy,
            },
        )?;
        t.output(
            &format!("{id}Name"),
            format!("Replica of {region}'s {purpose} bucket"),
            bucket.reference(),
        )?;
    }
    t.output(
        "ReplicaKeyArn",
        "KMS key encrypting the replicas",
        key.arn(),
    )?;
    Ok(Some(Stack {
        kind: StackKind::Replica,
        name: names.stack(StackKind::Replica),
        template: t,
    }))
}

/// The replica key: the account's IAM policies decide who uses it, and with sources in other
/// accounts (`cross_account`) their replication roles may encrypt their regions' replicas with
/// it, only through S3 in the DR region.
fn add_replica_key(
    t: &mut Template,
    env: &Environment,
    dr: &DisasterRecovery,
    names: &Names,
    cross_account: &[(&Region, &AccountId)],
    replicas: &[(&Region, &str, Expr)],
) -> Result<Handle<Key>, BuildError> {
    let account_root = Expr::concat([
        Expr::lit("arn:"),
        pseudo::partition(),
        Expr::lit(":iam::"),
        pseudo::account_id(),
        Expr::lit(":root"),
    ]);
    let mut statements = vec![Statement::key_policy_account_root(account_root)];
    if !cross_account.is_empty() {
        let mut accounts: Vec<&AccountId> = cross_account.iter().map(|(_, a)| *a).collect();
        accounts.sort();
        accounts.dedup();
        let kms: Vec<_> = data_key_uses([Use::ReplicationWritesReplicas])
            .into_iter()
            .flat_map(|used| used.need().actions)
            .collect();
        // As the source role's own `EncryptReplicas`: the bucket and its objects.
        let context = replicas
            .iter()
            .filter(|(region, _, _)| cross_account.iter().any(|(r, _)| r == region))
            .flat_map(|(_, _, name)| [bucket_arn(name), objects_arn(name, "")]);
        statements.push(
            Statement::allow_principal(
                Principal::Aws(accounts.into_iter().map(root_of).collect()),
                &kms,
            )
            .sid("ReplicationFromOtherAccounts")
            .on_this_key()
            .condition(
                "ArnEquals",
                "aws:PrincipalArn",
                cross_account.iter().map(|(region, account)| {
                    names.replication_role_arn(account.as_str(), region.as_str())
                }),
            )
            .condition(
                "StringEquals",
                "kms:ViaService",
                [Expr::lit(format!("s3.{}.amazonaws.com", dr.region))],
            )
            .condition("StringLike", "kms:EncryptionContext:aws:s3:arn", context),
        );
    }
    let key = t.add(
        "ReplicaKey",
        Key {
            description: format!(
                "MyStockTracker {}: encrypts the DR replicas of the pipeline's data",
                env.name.as_str()
            ),
            enable_key_rotation: true,
            pending_window_in_days: 30,
            // IAM policies decide who uses the key: the replication role's policy names it.
            key_policy: PolicyDocument::new(statements),
        },
        Options::retained(),
    )?;
    t.add(
        "ReplicaKeyAlias",
        Alias {
            alias_name: names.replica_key_alias(),
            target_key_id: key.reference(),
        },
        Options::none(),
    )?;
    Ok(key)
}

/// `eu-west-1` → `EuWest1`, `raw` → `Raw`: logical ids take letters and digits only.
fn camel(text: &str) -> String {
    text.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The replication role and each data bucket's replication rule to its replica in the DR region.
pub(super) fn add_source(
    t: &mut Template,
    env: &Environment,
    dr: &DisasterRecovery,
    names: &Names,
    key: &DataKey,
    buckets: &Buckets,
) -> Result<(), BuildError> {
    let sources = [&buckets.raw_name, &buckets.curated_name];
    let replicas: Vec<Expr> = REPLICATED
        .iter()
        .map(|(purpose, _)| {
            names.replica_bucket(
                purpose,
                replica_account_in_pipeline(env, dr),
                pseudo::region(),
            )
        })
        .collect();
    let replica_key = t
        .parameter(
            REPLICA_KEY_PARAMETER,
            Parameter {
                kind: "String".into(),
                description: format!(
                    "ARN of the replica key in {} (the key of alias {}), looked up by the deployer.",
                    dr.region,
                    names.replica_key_alias()
                ),
                default: None,
                allowed_pattern: Some(KEY_ARN_PATTERN.into()),
            },
        )?
        .reference();
    let role = add_role(t, env, dr, key, &replica_key, &sources, &replicas)?;
    for (handle, replica) in [&buckets.raw, &buckets.curated].into_iter().zip(&replicas) {
        let rule = ReplicationRule {
            id: REPLICATION_RULE_ID.to_owned(),
            status: "Enabled",
            priority: 1,
            filter: ReplicationFilter {
                prefix: String::new(),
            },
            // Not replicated: see the module documentation.
            delete_marker_replication: StatusOnly { status: "Disabled" },
            source_selection_criteria: SourceSelectionCriteria {
                sse_kms_encrypted_objects: StatusOnly { status: "Enabled" },
            },
            destination: ReplicationDestination {
                bucket: bucket_arn(replica),
                encryption_configuration: ReplicaEncryption {
                    replica_kms_key_id: replica_key.clone(),
                },
                replication_time: ReplicationTime {
                    status: "Enabled",
                    time: Minutes {
                        minutes: RTC_MINUTES,
                    },
                },
                metrics: ReplicationMetrics {
                    status: "Enabled",
                    event_threshold: Minutes {
                        minutes: RTC_MINUTES,
                    },
                },
            },
        };
        let role_arn = role.0.arn();
        // The bucket names the role, which must hold its permissions when S3 validates the rule.
        t.modify(handle, &[role.1.id().clone()], |bucket| {
            bucket.replication_configuration = Some(ReplicationConfiguration {
                role: role_arn,
                rules: vec![rule],
            });
        });
    }
    Ok(())
}

/// The replication role: trusted by S3 for these buckets only, allowed exactly what "Setting up
/// permissions for live replication" and "Replicating encrypted objects" list.
fn add_role(
    t: &mut Template,
    env: &Environment,
    dr: &DisasterRecovery,
    key: &DataKey,
    replica_key: &Expr,
    sources: &[&Expr],
    replicas: &[Expr],
) -> Result<(Handle<Role>, Handle<Policy>), BuildError> {
    let trust = Statement::allow_principal(
        Principal::Service(vec![Expr::service_principal("s3")]),
        &[sts::ASSUME_ROLE],
    )
    .condition("StringEquals", "aws:SourceAccount", [pseudo::account_id()])
    .condition(
        "ArnLike",
        "aws:SourceArn",
        sources.iter().map(|name| bucket_arn(name)),
    );
    let read_bucket = Statement::grant(
        &[Use::ReplicationReadsSourceBucket],
        sources.iter().map(|name| bucket_arn(name)),
    )
    .sid("ReadSourceBuckets");
    let read_versions = Statement::grant(
        &[Use::ReplicationReadsSourceVersions],
        sources.iter().map(|name| objects_arn(name, "")),
    )
    .sid("ReadSourceVersions");
    let write_replicas = Statement::grant(
        &[Use::ReplicationWritesReplicas],
        replicas.iter().map(|name| objects_arn(name, "")),
    )
    .sid("WriteReplicas");
    // The KMS side is derived from the uses above (kms_use::ROLE_USES): decrypt with the source
    // objects' key, encrypt with the replica key, each only through S3 in its own region and only
    // for its own buckets' objects. Both the bucket and the object ARN are admitted as the
    // encryption context: with S3 Bucket Keys (on for these buckets) S3 uses the bucket's ARN.
    let context = |names: &[Expr]| -> Vec<Expr> {
        names
            .iter()
            .flat_map(|name| [bucket_arn(name), objects_arn(name, "")])
            .collect()
    };
    let source_names: Vec<Expr> = sources.iter().map(|name| (*name).clone()).collect();
    let decrypt = Statement::grant(
        &data_key_uses([Use::ReplicationReadsSourceVersions]),
        [key.arn()],
    )
    .sid("DecryptSourceObjects")
    .condition(
        "StringEquals",
        "kms:ViaService",
        [Expr::concat([
            Expr::lit("s3."),
            pseudo::region(),
            Expr::lit(".amazonaws.com"),
        ])],
    )
    .condition(
        "StringLike",
        "kms:EncryptionContext:aws:s3:arn",
        context(&source_names),
    );
    let encrypt = Statement::grant(
        &data_key_uses([Use::ReplicationWritesReplicas]),
        [replica_key.clone()],
    )
    .sid("EncryptReplicas")
    .condition(
        "StringEquals",
        "kms:ViaService",
        [Expr::lit(format!("s3.{}.amazonaws.com", dr.region))],
    )
    .condition(
        "StringLike",
        "kms:EncryptionContext:aws:s3:arn",
        context(replicas),
    );
    let role = t.add(
        "ReplicationRole",
        Role {
            description: format!(
                "MyStockTracker {}: S3 replicates the raw and curated buckets to {} with it ({})",
                env.name.as_str(),
                dr.region,
                S3_REPLICATION_TRUST
            ),
            // Named only when the replicas' policies in another account must name it.
            role_name: (!cross_account_sources(env, dr).is_empty())
                .then(|| Names::new(env).replication_role()),
            assume_role_policy_document: PolicyDocument::new(vec![trust]),
        },
        Options::none(),
    )?;
    let policy = t.add(
        "ReplicationPolicy",
        Policy {
            policy_name: "ReplicationPermissions".to_owned(),
            policy_document: PolicyDocument::identity(vec![
                read_bucket,
                read_versions,
                write_replicas,
                decrypt,
                encrypt,
            ])?,
            roles: vec![role.reference()],
        },
        Options::none(),
    )?;
    Ok((role, policy))
}

/// What one replication alarm watches.
struct ReplicationAlarm {
    name: &'static str,
    metric: &'static str,
    statistic: &'static str,
    evaluation_periods: u32,
    /// `None`: the recovery point objective, in seconds.
    threshold: Option<f64>,
    description: &'static str,
}

/// The alarms on each replicated bucket's replication metrics. They are not rollback triggers
/// and the canary's bake does not watch them: a lagging replication is no reason to undo a
/// pipeline update, and the on-call hears of it through the topic.
const REPLICATION_ALARMS: [ReplicationAlarm; 3] = [
    ReplicationAlarm {
        name: "replication-latency",
        metric: "ReplicationLatency",
        statistic: "Maximum",
        evaluation_periods: 1,
        threshold: None,
        description: "Replication to the DR region lags by the recovery point objective or more: `deployer dr status` shows lag and backlog; check the replication role and the replica key (docs/dr.md).",
    },
    ReplicationAlarm {
        name: "replication-backlog",
        metric: "OperationsPendingReplication",
        statistic: "Minimum",
        evaluation_periods: 3,
        threshold: Some(BACKLOG_ALARM_OPERATIONS),
        description: "The replication backlog has not drained for 15 minutes: `deployer dr status` shows it (docs/dr.md).",
    },
    ReplicationAlarm {
        name: "replication-failed",
        metric: "OperationFailedReplication",
        statistic: "Sum",
        evaluation_periods: 1,
        threshold: Some(1.0),
        description: "Objects failed to replicate to the DR region (usually a permission of the replication role or the replica key): see docs/dr.md.",
    },
];

/// The fixed names of the replication alarms in `env` (none without `dr:`), `mst-<env>-<bucket
/// purpose>-<alarm>`.
pub fn replication_alarm_names(env: &Environment) -> Vec<String> {
    if env.dr.is_none() {
        return Vec::new();
    }
    let names = Names::new(env);
    REPLICATED
        .iter()
        .flat_map(|(purpose, _)| {
            REPLICATION_ALARMS
                .iter()
                .map(|alarm| names.regional(&format!("{purpose}-{}", alarm.name)))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The [`REPLICATION_ALARMS`] of each replicated bucket (published because the rules enable
/// `Metrics`), to the alert topic; returns their ARNs for the topic's policy. The latency alarm
/// fires at the environment's recovery point objective.
pub(super) fn add_alarms(
    t: &mut Template,
    env: &Environment,
    dr: &DisasterRecovery,
    names: &Names,
    topic: &AlertTopic,
    buckets: &Buckets,
) -> Result<Vec<Expr>, BuildError> {
    let mut arns = Vec::new();
    for ((purpose, id), handle) in REPLICATED.iter().zip([&buckets.raw, &buckets.curated]) {
        for alarm in &REPLICATION_ALARMS {
            let added = t.add(
                &format!("{id}{}Alarm", camel(alarm.name)),
                Alarm {
                    alarm_name: names.regional(&format!("{purpose}-{}", alarm.name)),
                    alarm_description: alarm.description.to_owned(),
                    namespace: "AWS/S3".to_owned(),
                    metric_name: alarm.metric,
                    dimensions: vec![
                        Dimension {
                            name: "SourceBucket",
                            value: handle.reference(),
                        },
                        Dimension {
                            name: "DestinationBucket",
                            value: names.replica_bucket(
                                purpose,
                                replica_account_in_pipeline(env, dr),
                                pseudo::region(),
                            ),
                        },
                        Dimension {
                            name: "RuleId",
                            value: Expr::lit(REPLICATION_RULE_ID),
                        },
                    ],
                    statistic: alarm.statistic,
                    period: ALARM_PERIOD_SECONDS,
                    evaluation_periods: alarm.evaluation_periods,
                    threshold: alarm.threshold.unwrap_or(f64::from(dr.rpo_minutes * 60)),
                    comparison_operator: "GreaterThanOrEqualToThreshold",
                    treat_missing_data: "notBreaching",
                    alarm_actions: vec![topic.arn()],
                    ok_actions: vec![topic.arn()],
                },
                Options::none(),
            )?;
            arns.push(added.arn());
        }
    }
    Ok(arns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_ids_are_camel_case() {
        assert_eq!(camel("eu-west-1"), "EuWest1");
        assert_eq!(camel("replication-latency"), "ReplicationLatency");
    }
}
