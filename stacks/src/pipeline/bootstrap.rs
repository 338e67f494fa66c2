//! What `deployer bootstrap` adds to the artifacts stack of an environment with `deploy:`, in
//! every account and region: a deploy role (what the deployer itself calls, assumable by the
//! principals and GitLab pipelines the environment names) and a CloudFormation execution role (what
//! CloudFormation's handlers call for exactly the resource types of the pipeline template, scoped to
//! the account, region and `mst-<env>-` names wherever IAM allows).
//!
//! The stack keeps the artifacts stack's name and its bucket, so bootstrapping an environment
//! deployed before updates that stack in place: the bucket and the artifacts in it stay.

use std::collections::{BTreeMap, BTreeSet};

use environment::{AccountId, Deploy, Environment, Region, ScraperImage};

use crate::handlers::{self, HandlerError};
use crate::iam::actions::{cloudformation, cloudwatch, kms, s3, sts};
use crate::iam::uses::Use;
use crate::iam::{Action, PolicyDocument, Principal, Statement};
use crate::resources::iam::{ManagedPolicy, Policy, Role};
use crate::template::{Expr, Options, Template, pseudo};

use super::{BuildError, Names, StackKind};

/// The `aud` claim GitLab's ID tokens carry for AWS (`id_tokens: ...: aud:` in `.gitlab-ci.yml`).
pub const GITLAB_AUDIENCE: &str = "sts.amazonaws.com";

/// A managed policy holds at most 6,144 characters (whitespace not counted); the statements are
/// split below that, with room for the `${AWS::...}` values CloudFormation substitutes.
const MANAGED_POLICY_BUDGET: usize = 5_200;

/// IAM attaches at most 10 managed policies to a role (the default quota).
const MAX_MANAGED_POLICIES: usize = 10;

/// What a bootstrap stack's execution role deploys: one role per account and region (its name
/// carries the region), built from the resource types of exactly the stacks of its region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Deploys {
    /// A region's pipeline stack. Built from every region's pipeline template (the canary alone
    /// has some types), so the role is the same in each.
    Pipeline,
    /// The DR region's replica stack; the DR region holds no pipeline.
    Replica,
}

impl Deploys {
    /// The role's logical id without `Role`; its managed policies are `<id>Policy<n>`. The ids
    /// differ because the policies do, so the IAM snapshot keeps one file per definition.
    fn id(self) -> &'static str {
        match self {
            Deploys::Pipeline => "Execution",
            Deploys::Replica => "ReplicaExecution",
        }
    }

    /// The stack, as the role's description and output name it.
    fn stack(self) -> &'static str {
        match self {
            Deploys::Pipeline => "the pipeline stack",
            Deploys::Replica => "the DR region's replica stack",
        }
    }

    /// Whose resource types' handlers the role serves.
    fn types(self) -> &'static str {
        match self {
            Deploys::Pipeline => "the environment's pipeline resource types",
            Deploys::Replica => "the replica template's resource types",
        }
    }
}

/// Adds the deploy and execution roles when `env` has `deploy:`; nothing otherwise.
/// The execution role deploys `deploys`, whose templates (every region's, for the pipeline) are
/// `templates`.
pub(super) fn add(
    t: &mut Template,
    env: &Environment,
    names: &Names,
    deploys: Deploys,
    templates: &[&Template],
) -> Result<(), BuildError> {
    let Some(deploy) = &env.deploy else {
        return Ok(());
    };
    add_deploy_role(t, env, names, deploy)?;
    add_execution_role(t, names, deploys, templates)?;
    Ok(())
}

/// The role the deployer assumes in `account`, whose first region of the environment is
/// `first_region`: `deploy.roles`' entry, else the deploy role of the bootstrap stack there.
pub fn deploy_role_arn_of(env: &Environment, account: &AccountId, first_region: &Region) -> String {
    env.deploy
        .as_ref()
        .and_then(|d| d.roles.get(account).cloned())
        .unwrap_or_else(|| Names::new(env).deploy_role_arn(account.as_str(), first_region.as_str()))
}

/// The stacks CloudFormation changes with an execution role: the pipeline stack and, with `dr:`,
/// the replica stack (never the bootstrap stack).
fn changed_stack_names(env: &Environment, names: &Names) -> Vec<String> {
    let mut stacks = vec![names.stack(StackKind::Pipeline)];
    if env.dr.is_some() {
        stacks.push(names.stack(StackKind::Replica));
    }
    stacks
}

/// Every account the deployer acts in, with the region whose deploy role it assumes there
/// ([`deploy_role_arn_of`]): the environment's accounts in rollout order with their first
/// region; then, with `dr:`, the DR region's account with the DR region when no region of the
/// environment is in it (its bootstrap stack has a deploy role too).
pub fn deploy_accounts(env: &Environment) -> Vec<(AccountId, Region)> {
    let mut out: Vec<(AccountId, Region)> = env
        .accounts()
        .into_iter()
        .filter_map(|(account, regions)| regions.into_iter().next().map(|first| (account, first)))
        .collect();
    if let Some(dr) = &env.dr {
        let account = env.account_of(&dr.region);
        if out.iter().all(|(a, _)| a != account) {
            out.push((account.clone(), dr.region.clone()));
        }
    }
    out
}

/// `arn:<partition>:<service>:*:<account>:<resource>`: any region of the stack's account (one
/// deploy role serves every region of its account).
fn any_region_arn(service: &str, resource: &str) -> Expr {
    Expr::concat([
        Expr::lit("arn:"),
        pseudo::partition(),
        Expr::lit(format!(":{service}:*:")),
        pseudo::account_id(),
        Expr::lit(format!(":{resource}")),
    ])
}

fn iam_arn(resource: &str) -> Expr {
    Expr::concat([
        Expr::lit("arn:"),
        pseudo::partition(),
        Expr::lit(":iam::"),
        pseudo::account_id(),
        Expr::lit(format!(":{resource}")),
    ])
}

fn bucket_arns(names: &Names, purposes: &[&str], objects: bool) -> Vec<Expr> {
    purposes
        .iter()
        .map(|purpose| {
            Expr::concat([
                Expr::lit("arn:"),
                pseudo::partition(),
                Expr::lit(format!(":s3:::{}{purpose}-", names.prefix())),
                pseudo::account_id(),
                Expr::lit(if objects { "-*/*" } else { "-*" }),
            ])
        })
        .collect()
}

fn deploy_trust(deploy: &Deploy) -> Vec<Statement> {
    let mut trust = Vec::new();
    if !deploy.principals.is_empty() {
        trust.push(
            Statement::allow_principal(
                Principal::Aws(deploy.principals.iter().map(Expr::lit).collect()),
                &[sts::ASSUME_ROLE],
            )
            .sid("NamedPrincipals"),
        );
    }
    if let Some(gitlab) = &deploy.gitlab {
        let host = &gitlab.host;
        trust.push(
            Statement::allow_principal(
                Principal::Federated(iam_arn(&format!("oidc-provider/{host}"))),
                &[sts::ASSUME_ROLE_WITH_WEB_IDENTITY],
            )
            .sid("GitLabPipelines")
            .condition(
                "StringEquals",
                &format!("{host}:aud"),
                [Expr::lit(GITLAB_AUDIENCE)],
            )
            .condition(
                "StringEquals",
                &format!("{host}:sub"),
                [Expr::lit(format!(
                    "project_path:{}:ref_type:branch:ref:{}",
                    gitlab.project, gitlab.branch
                ))],
            ),
        );
    }
    trust
}

fn add_deploy_role(
    t: &mut Template,
    env: &Environment,
    names: &Names,
    deploy: &Deploy,
) -> Result<(), BuildError> {
    let prefix = names.prefix();
    let all_stacks = any_region_arn("cloudformation", &format!("stack/{prefix}*/*"));
    // The stacks changed through the execution role: every region's pipeline and, with `dr:`,
    // the DR region's replica stack.
    let changed_stacks = || -> Vec<Expr> {
        changed_stack_names(env, names)
            .iter()
            .map(|name| any_region_arn("cloudformation", &format!("stack/{name}/*")))
            .collect()
    };
    // The data buckets `down --purge-data` empties and `up` adopts: the pipeline's and, with
    // `dr:`, their replicas (`mst-<env>-<purpose>-dr-<account>-<source region>`).
    let mut data = vec!["raw", "curated", "access-logs"];
    if env.dr.is_some() {
        data.extend(["raw-dr", "curated-dr"]);
    }
    let execution_roles = iam_arn(&format!("role/{}*", names.execution_role_prefix()));
    let mut statements = vec![
        Statement::grant_part(
            &[
                Use::DeployerPlansChanges,
                Use::DeployerFollowsEvents,
                Use::DeployerListsResources,
                Use::DeployerDetectsDrift,
            ],
            &[
                cloudformation::DESCRIBE_STACKS,
                cloudformation::GET_TEMPLATE,
                cloudformation::DESCRIBE_STACK_EVENTS,
                cloudformation::LIST_STACK_RESOURCES,
                cloudformation::DETECT_STACK_DRIFT,
                cloudformation::DESCRIBE_STACK_RESOURCE_DRIFTS,
            ],
            [all_stacks],
        )
        .sid("ReadTheEnvironmentsStacks"),
        // Changes reach the pipeline only through the execution role: never with the deploy
        // role's own permissions, and never to the bootstrap stack.
        Statement::grant_part(
            &[Use::DeployerPlansChanges, Use::DeployerDeletesStacks],
            &[
                cloudformation::CREATE_CHANGE_SET,
                cloudformation::DELETE_STACK,
            ],
            changed_stacks(),
        )
        .sid("ChangeThePipelineThroughTheExecutionRole")
        .condition(
            "ArnLike",
            "cloudformation:RoleArn",
            [execution_roles.clone()],
        ),
        Statement::grant_part(
            &[
                Use::DeployerPlansChanges,
                Use::DeployerExecutesChanges,
                Use::DeployerDeletesStacks,
            ],
            &[
                cloudformation::DESCRIBE_CHANGE_SET,
                cloudformation::DELETE_CHANGE_SET,
                cloudformation::EXECUTE_CHANGE_SET,
                cloudformation::DELETE_STACK,
            ],
            changed_stacks(),
        )
        .sid("RunThePipelinesChangeSets"),
        Statement::grant_unscopable(
            &[Use::DeployerWaitsForDrift],
            &[cloudformation::DESCRIBE_STACK_DRIFT_DETECTION_STATUS],
        )?
        .sid("WaitForDriftDetection"),
        Statement::grant(&[Use::DeployerPassesExecutionRole], [execution_roles])
            .sid("PassTheExecutionRole")
            .condition(
                "StringEquals",
                "iam:PassedToService",
                [Expr::service_principal("cloudformation")],
            ),
        Statement::grant(
            &[Use::DeployerWatchesAlarms],
            [any_region_arn("cloudwatch", &format!("alarm:{prefix}*"))],
        )
        .sid("WatchThePipelinesAlarms"),
        Statement::grant(
            &[Use::DeployerChecksSubscriptions],
            [any_region_arn("sns", &format!("{prefix}*"))],
        )
        .sid("ReadAlertSubscriptions"),
        Statement::grant(
            &[Use::DeployerChecksTokenSecret],
            [any_region_arn(
                "secretsmanager",
                "secret:InfluxTokenSecret-*",
            )],
        )
        .sid("SeeWhetherTheTokenIsSet"),
        Statement::grant(
            &[
                Use::DeployerStoresArtifacts,
                Use::CloudFormationReadsTemplateUrl,
            ],
            bucket_arns(names, &["artifacts"], true),
        )
        .sid("StoreArtifactsAndTemplates"),
        Statement::grant_part(
            &[Use::DeployerPurgesData],
            &[s3::LIST_BUCKET_VERSIONS, s3::DELETE_BUCKET],
            bucket_arns(names, &data, false),
        )
        .sid("PurgeDataBuckets"),
        Statement::grant_part(
            &[Use::DeployerPurgesData],
            &[s3::DELETE_OBJECT, s3::DELETE_OBJECT_VERSION],
            bucket_arns(names, &data, true),
        )
        .sid("PurgeDataObjects"),
        Statement::grant_part(
            &[Use::DeployerPurgesData, Use::DeployerAdoptsKeptResources],
            &[kms::DESCRIBE_KEY, kms::SCHEDULE_KEY_DELETION],
            [any_region_arn("kms", "key/*")],
        )
        .sid("RetireTheDataKey")
        // Key ids are random: the pipeline's key (and the replica key) is the one CloudFormation
        // tagged with its stack.
        .condition(
            "StringEquals",
            "aws:ResourceTag/aws:cloudformation:stack-name",
            changed_stack_names(env, names).into_iter().map(Expr::lit),
        ),
        Statement::grant_part(
            &[Use::DeployerAdoptsKeptResources],
            &[s3::LIST_BUCKET, s3::GET_ENCRYPTION_CONFIGURATION],
            bucket_arns(names, &data, false),
        )
        .sid("FindKeptDataBuckets"),
        Statement::grant(
            &[Use::DeployerReadsReplication],
            bucket_arns(names, &["raw", "curated"], false),
        )
        .sid("ReadReplicationConfiguration"),
        Statement::grant_unscopable(
            &[
                Use::DeployerFindsReplicaKey,
                Use::DeployerVerifiesEventSources,
            ],
            &[
                kms::LIST_ALIASES,
                crate::iam::actions::lambda::LIST_EVENT_SOURCE_MAPPINGS,
            ],
        )?
        .sid("ListKeyAliasesAndEventSources"),
        Statement::grant_unscopable(
            &[Use::DeployerReadsMetrics],
            &[
                cloudwatch::GET_METRIC_DATA,
                cloudwatch::GET_METRIC_STATISTICS,
            ],
        )?
        .sid("ReadHeartbeatAndReplicationMetrics"),
        Statement::grant_unscopable(
            &[Use::DeployerReadsShardInstances],
            &[crate::iam::actions::autoscaling::DESCRIBE_AUTO_SCALING_GROUPS],
        )?
        .sid("ReadTheScraperShardsInstances"),
        Statement::grant_part(
            &[Use::DeployerVerifiesResources],
            &[crate::iam::actions::lambda::GET_FUNCTION],
            [any_region_arn("lambda", &format!("function:{prefix}*"))],
        )
        .sid("VerifyTheFunctions"),
        Statement::grant_part(
            &[Use::DeployerVerifiesResources],
            &[crate::iam::actions::firehose::DESCRIBE_DELIVERY_STREAM],
            [any_region_arn(
                "firehose",
                &format!("deliverystream/{prefix}*"),
            )],
        )
        .sid("VerifyTheDeliveryStream"),
        Statement::grant_part(
            &[Use::DeployerVerifiesResources],
            &[crate::iam::actions::glue::GET_TABLE],
            [
                any_region_arn("glue", "catalog"),
                any_region_arn("glue", &format!("database/{}", names.glue_database())),
                any_region_arn("glue", &format!("table/{}/*", names.glue_database())),
            ],
        )
        .sid("VerifyTheCuratedTable"),
        Statement::grant(
            &[Use::DeployerPutsCanary],
            [any_region_arn("kinesis", &format!("stream/{prefix}*"))],
        )
        .sid("PutTheCanary"),
        Statement::grant_part(
            &[Use::DeployerFollowsCanary, Use::DeployerRemovesCanary],
            &[s3::LIST_BUCKET],
            bucket_arns(names, &["raw", "curated"], false),
        )
        .sid("ListTheCanarysObjects"),
        Statement::grant_part(
            &[Use::DeployerFollowsCanary, Use::DeployerRemovesCanary],
            &[s3::GET_OBJECT, s3::DELETE_OBJECT],
            bucket_arns(names, &["raw", "curated"], true),
        )
        .sid("FollowAndRemoveTheCanary"),
        Statement::grant(
            &[Use::DeployerReadsInfluxToken],
            [any_region_arn(
                "secretsmanager",
                "secret:InfluxTokenSecret-*",
            )],
        )
        .sid("ReadTheInfluxToken"),
        Statement::grant(
            &[Use::DeployerUsesDataKey],
            [any_region_arn("kms", "key/*")],
        )
        .sid("UseTheDataKeyThroughItsServices")
        // As RetireTheDataKey: the pipeline's key is the one tagged with its stack, and only
        // through the services the canary's calls go to.
        .condition(
            "StringEquals",
            "aws:ResourceTag/aws:cloudformation:stack-name",
            [Expr::lit(names.stack(StackKind::Pipeline))],
        )
        .condition(
            "StringLike",
            "kms:ViaService",
            [
                Expr::lit("kinesis.*.amazonaws.com"),
                Expr::lit("s3.*.amazonaws.com"),
                Expr::lit("secretsmanager.*.amazonaws.com"),
            ],
        ),
    ];
    if env.scraper.ami == ScraperImage::Latest {
        // AWS's public parameter, in any region. Its ARN has no account (`ssm:<region>::`); `*`
        // matches that empty account too, and keeps parliament's ARN format check satisfied.
        // Only AWS can create parameters under `/aws/`, so no account can plant one there.
        statements.push(
            Statement::grant(
                &[Use::DeployerResolvesScraperImage],
                [Expr::concat([
                    Expr::lit("arn:"),
                    pseudo::partition(),
                    Expr::lit(format!(
                        ":ssm:*:*:parameter{}",
                        ScraperImage::LATEST_PARAMETER
                    )),
                ])],
            )
            .sid("ResolveTheScrapersImage"),
        );
    }
    if !env.network.vpn.is_empty() {
        // Client VPN endpoint ids are generated, so the grant names the endpoint by the tag the
        // pipeline gives it at creation, in this account only.
        statements.push(
            Statement::grant(
                &[
                    Use::DeployerExportsVpnProfile,
                    Use::DeployerRevokesVpnCertificates,
                ],
                [any_region_arn("ec2", "client-vpn-endpoint/*")],
            )
            .sid("ExportProfilesAndRevokeCertificatesOfTheVpn")
            .condition(
                "StringEquals",
                "aws:ResourceTag/Name",
                [Expr::lit(names.vpn_endpoint())],
            ),
        );
        // The client root CAs the environment names, exactly (an ARN holds its account and region).
        let client_root_cas: BTreeSet<&str> = env
            .network
            .vpn
            .values()
            .map(|c| c.client_root_certificate_arn.as_str())
            .collect();
        statements.push(
            Statement::grant(
                &[Use::DeployerReadsVpnClientRootCa],
                client_root_cas.into_iter().map(Expr::lit),
            )
            .sid("ReadTheVpnsClientRootCa"),
        );
    }
    // A GitLab job holds the first account's deploy role and assumes the other accounts' from
    // there: a role in another account needs this grant besides that role's trust policy.
    let accounts = deploy_accounts(env);
    if accounts.len() > 1 {
        let roles: Vec<Expr> = accounts
            .iter()
            .map(|(account, first)| Expr::lit(deploy_role_arn_of(env, account, first)))
            .collect();
        statements.push(
            Statement::grant(&[Use::DeployerAssumesOtherAccountsRoles], roles)
                .sid("AssumeTheOtherAccountsDeployRoles"),
        );
    }
    let role = t.add(
        "DeployRole",
        Role {
            role_name: Some(names.deploy_role()),
            description: "Assumed by deployer up, diff, down, status, dr status, verify and vpn: reads the environment's stacks, plans and runs the pipeline's changes through the execution role, uploads artifacts, verifies the canary region.".into(),
            assume_role_policy_document: PolicyDocument::new(deploy_trust(deploy)),
        },
        Options::none(),
    )?;
    t.add(
        "DeployPolicy",
        Policy {
            policy_name: "DeployPermissions".into(),
            policy_document: PolicyDocument::identity(statements)?,
            roles: vec![role.reference()],
        },
        Options::none(),
    )?;
    t.output("DeployRoleArn", "Role deployer up assumes", role.arn())?;
    Ok(())
}

/// An ARN format of the Service Authorization Reference
/// (`arn:${Partition}:s3:::${BucketName}`) made concrete for the stack: its partition, region and
/// account; bucket, role and instance profile names limited to the pipeline's `mst-<env>-`;
/// any other name `*`.
fn scoped_arn(format: &str, names: &Names) -> Expr {
    let mut parts = Vec::new();
    let mut rest = format;
    while let Some(start) = rest.find("${") {
        parts.push(Expr::lit(&rest[..start]));
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            parts.push(Expr::lit(after));
            rest = "";
            break;
        };
        parts.push(match &after[..end] {
            "Partition" => pseudo::partition(),
            "Region" => pseudo::region(),
            "Account" => pseudo::account_id(),
            "BucketName" | "RoleNameWithPath" | "InstanceProfileNameWithPath" => {
                Expr::lit(format!("{}*", names.prefix()))
            }
            _ => Expr::lit("*"),
        });
        rest = &after[end + 1..];
    }
    parts.push(Expr::lit(rest));
    Expr::concat(parts)
}

/// The resource types of a template, as the vendored handler permissions name them.
fn resource_types(template: &Template) -> Result<BTreeSet<&'static str>, BuildError> {
    let json = template.to_json()?;
    crate::template::rendered_resources(&json)
        .map(|(_, kind, _)| {
            handlers::known_type(kind)
                .ok_or_else(|| BuildError::Handlers(HandlerError::UnknownType(kind.to_owned())))
        })
        .collect()
}

/// The execution role's statements for the resource types of `pipelines` (the environment's
/// pipeline templates of every region, so the role is the same in each: the canary alone has
/// some types): per set of resources, the actions scoped to it, with the resource types whose
/// handlers need them.
pub(super) fn execution_statements(
    names: &Names,
    pipelines: &[&Template],
) -> Result<Vec<Statement>, BuildError> {
    let mut needed_by: BTreeMap<Action, BTreeSet<&'static str>> = BTreeMap::new();
    let mut kinds = BTreeSet::new();
    for pipeline in pipelines {
        kinds.extend(resource_types(pipeline)?);
    }
    for kind in kinds {
        for action in handlers::actions(kind).map_err(BuildError::Handlers)? {
            needed_by.entry(action).or_default().insert(kind);
        }
    }
    // Resources (as text, for grouping) to their expressions, actions and resource types.
    type Group = (Vec<Expr>, BTreeSet<Action>, BTreeSet<&'static str>);
    let mut groups: BTreeMap<Vec<String>, Group> = BTreeMap::new();
    let mut unscopable: (BTreeSet<Action>, BTreeSet<&'static str>) = Default::default();
    for (action, kinds) in &needed_by {
        let formats = handlers::arn_formats(*action);
        if formats.is_empty() {
            unscopable.0.insert(*action);
            unscopable.1.extend(kinds);
            continue;
        }
        let mut resources: Vec<(String, Expr)> = formats
            .iter()
            .map(|format| {
                let expr = scoped_arn(format, names);
                (serde_json::to_string(&expr).unwrap_or_default(), expr)
            })
            .collect();
        resources.sort_by(|a, b| a.0.cmp(&b.0));
        resources.dedup_by(|a, b| a.0 == b.0);
        let key: Vec<String> = resources.iter().map(|(text, _)| text.clone()).collect();
        let group = groups.entry(key).or_insert_with(|| {
            (
                resources.into_iter().map(|(_, e)| e).collect(),
                BTreeSet::new(),
                BTreeSet::new(),
            )
        });
        group.1.insert(*action);
        group.2.extend(kinds);
    }
    let uses = |kinds: &BTreeSet<&'static str>| -> Vec<Use> {
        kinds.iter().map(|kind| Use::HandlersOf { kind }).collect()
    };
    let mut statements = Vec::new();
    if !unscopable.0.is_empty() {
        let actions: Vec<Action> = unscopable.0.iter().copied().collect();
        statements.push(Statement::grant_unscopable(&uses(&unscopable.1), &actions)?);
    }
    for (resources, actions, kinds) in groups.into_values() {
        let actions: Vec<Action> = actions.into_iter().collect();
        statements.push(Statement::grant_part(&uses(&kinds), &actions, resources));
    }
    Ok(statements)
}

fn add_execution_role(
    t: &mut Template,
    names: &Names,
    deploys: Deploys,
    templates: &[&Template],
) -> Result<(), BuildError> {
    let role = t.add(
        &format!("{}Role", deploys.id()),
        Role {
            role_name: Some(names.execution_role()),
            description: format!("CloudFormation's execution role for {}: what the resource handlers of {} call, scoped to this account, region and the environment's names.", deploys.stack(), deploys.types()),
            assume_role_policy_document: PolicyDocument::new(vec![Statement::allow_principal(
                Principal::Service(vec![Expr::service_principal("cloudformation")]),
                &[sts::ASSUME_ROLE],
            )]),
        },
        Options::none(),
    )?;
    // Split into managed policies: the whole is larger than a role's inline policies may be.
    let mut chunks: Vec<Vec<Statement>> = vec![Vec::new()];
    let mut size = 0;
    for statement in execution_statements(names, templates)? {
        let length = serde_json::to_string(&statement).map_or(0, |text| text.len());
        if size + length > MANAGED_POLICY_BUDGET && chunks.last().is_some_and(|c| !c.is_empty()) {
            chunks.push(Vec::new());
            size = 0;
        }
        size += length;
        if let Some(chunk) = chunks.last_mut() {
            chunk.push(statement);
        }
    }
    if chunks.len() > MAX_MANAGED_POLICIES {
        return Err(BuildError::Handlers(HandlerError::Unreadable(format!(
            "the execution role needs {} managed policies, more than IAM's {MAX_MANAGED_POLICIES}",
            chunks.len()
        ))));
    }
    for (index, statements) in chunks.into_iter().enumerate() {
        let options = if statements.iter().any(Statement::on_any_resource) {
            Options::none().skip_checkov(
                "CKV_AWS_111",
                "CloudFormation's handlers call these actions, which IAM authorizes only on \"*\" (the Service Authorization Reference gives them no resource type); every other handler action is scoped to the account, region and the environment's names.",
            )
        } else {
            Options::none()
        };
        t.add(
            &format!("{}Policy{}", deploys.id(), index + 1),
            ManagedPolicy {
                description: format!(
                    "Part {} of the CloudFormation execution role's handler permissions",
                    index + 1
                ),
                policy_document: PolicyDocument::identity(statements)?,
                roles: vec![role.reference()],
            },
            options,
        )?;
    }
    t.output(
        "ExecutionRoleArn",
        format!("Role CloudFormation deploys {} with", deploys.stack()),
        role.arn(),
    )?;
    Ok(())
}
