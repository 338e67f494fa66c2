//! The pipeline of DESIGN.md for one region of an environment, as CloudFormation stacks.
//!
//! Two stacks per region: `artifacts` (the bucket the deployer uploads code to, created first; for
//! an environment with `deploy:` also the bootstrap roles, see `bootstrap`) and `pipeline`
//! (everything else). Each submodule adds one part of the pipeline to the template and
//! returns typed handles for the parts that come after it.

mod alerts;
mod artifacts;
mod bootstrap;
mod catalog;
mod functions;
pub mod health;
mod ingest;
mod keys;
mod names;
mod network;
mod parameters;
mod replication;
mod roles;
mod scraper;
mod storage;
pub mod vpn_connect;
mod workspace;

use environment::{Environment, Region};

pub use alerts::{
    MAX_ROLLBACK_TRIGGERS, STREAM_SILENT_ALARM, alarm_arn, alarm_names, canary_filter_policy,
    rollback_alarm_names, shard_alarm_name, stream_silence_expression,
};
pub use bootstrap::{GITLAB_AUDIENCE, deploy_accounts, deploy_role_arn_of};
pub use catalog::{PARTITION_KEYS, QUOTE_COLUMNS, QUOTES_TABLE, queries};
pub use names::Names;
pub use network::{
    HEARTBEAT_NAMESPACE, SCRAPER_UNIT, SHARD_TAG, STALE_TICKS, shard_group_id, stale_seconds,
};
pub use parameters::{
    ARTIFACTS_BUCKET_PARAMETER, ArtifactParameter, SCRAPER_IMAGE_PARAMETER, parameter_effect,
};
pub use replication::{
    REPLICA_KEY_PARAMETER, REPLICATED, REPLICATION_RULE_ID, replica_account, replica_stack,
    replication_alarm_names,
};
pub use scraper::{
    CONFIGURATION_PREFIX, SPOOL_DIR, STREAM_NAME_PLACEHOLDER, ScraperConfig, ShardConfiguration,
    scraper_config, shard_configurations,
};

use crate::iam::PolicyError;
use crate::template::{Expr, Template, TemplateError};

/// What a stack is for; also the suffix of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StackKind {
    /// The per-region artifacts bucket, deployed before the pipeline; the bootstrap stack (bucket,
    /// deploy role, execution role) of an environment with `deploy:`.
    Artifacts,
    /// The pipeline itself.
    Pipeline,
    /// The DR region's replica buckets and key (environments with `dr:`), deployed there before
    /// any pipeline.
    Replica,
}

impl StackKind {
    /// `artifacts` or `pipeline`.
    pub fn as_str(self) -> &'static str {
        match self {
            StackKind::Artifacts => "artifacts",
            StackKind::Pipeline => "pipeline",
            StackKind::Replica => "replica",
        }
    }
}

/// One synthesized stack.
#[derive(Debug)]
pub struct Stack {
    /// What it is for.
    pub kind: StackKind,
    /// The CloudFormation stack name, such as `mst-prod-pipeline`.
    pub name: String,
    /// The template.
    pub template: Template,
}

/// Why the stacks could not be built: always a bug in this crate, never bad input (the environment
/// was validated when it was loaded).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A template could not be assembled.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A policy broke an IAM rule of this project.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The scraper configuration did not serialize.
    #[error("scraper configuration: {0}")]
    ScraperConfig(#[from] serde_json::Error),
    /// The vendored handler permissions cannot build the execution role.
    #[error(transparent)]
    Handlers(#[from] crate::handlers::HandlerError),
    /// A health alarm names a resource the alarms cannot refer to.
    #[error("no alarm can watch `{0}`: add it to pipeline::alerts")]
    Unwatchable(&'static str),
    /// A resource refers to a stack parameter the template does not declare.
    #[error("the stack parameter `{0}` is used but not declared")]
    MissingParameter(&'static str),
}

/// A [`BuildError`] with the region whose stacks it stopped.
#[derive(Debug, thiserror::Error)]
#[error("building the stacks for {region}: {source}")]
pub struct RegionBuildError {
    /// The region being built.
    pub region: Region,
    /// What went wrong.
    #[source]
    pub source: BuildError,
}

/// The stacks of one region, in deployment order.
pub fn stacks(env: &Environment, region: &Region) -> Result<Vec<Stack>, BuildError> {
    Ok(regions_stacks(env, Some(region))
        .map_err(|e| e.source)?
        .into_iter()
        .flat_map(|(_, stacks)| stacks)
        .collect())
}

/// The stacks of every region of `env` (only `only` when given), in rollout order, each region's in
/// deployment order.
///
/// With `deploy:` the artifacts stack is the bootstrap stack, whose execution role serves the
/// pipeline of every region (the canary alone has some resource types): every region's pipeline is
/// then built once and the role derived from all of them, so it is the same everywhere.
pub fn regions_stacks(
    env: &Environment,
    only: Option<&Region>,
) -> Result<Vec<(Region, Vec<Stack>)>, RegionBuildError> {
    let names = Names::new(env);
    let wanted = |region: &Region| only.is_none_or(|o| o == region);
    fn in_region(region: &Region) -> impl FnOnce(BuildError) -> RegionBuildError + '_ {
        move |source| RegionBuildError {
            region: region.clone(),
            source,
        }
    }
    let pipelines = env
        .regions
        .iter()
        .filter(|r| env.is_bootstrapped() || wanted(r))
        .map(|r| Ok((r, pipeline(env, r, &names).map_err(in_region(r))?)))
        .collect::<Result<Vec<_>, RegionBuildError>>()?;
    let every_pipeline: Vec<&Template> = pipelines.iter().map(|(_, t)| t).collect();
    let mut artifacts = Vec::new();
    for (region, _) in pipelines.iter().filter(|(r, _)| wanted(r)) {
        let mut template =
            artifacts::template(&names, env.is_bootstrapped()).map_err(in_region(region))?;
        bootstrap::add(
            &mut template,
            env,
            &names,
            bootstrap::Deploys::Pipeline,
            &every_pipeline,
        )
        .map_err(in_region(region))?;
        artifacts.push(((*region).clone(), template));
    }
    let pipelines = pipelines.into_iter().filter(|(r, _)| wanted(r));
    Ok(artifacts
        .into_iter()
        .zip(pipelines)
        .map(|((region, artifacts), (_, pipeline))| {
            let stacks = vec![
                Stack {
                    kind: StackKind::Artifacts,
                    name: names.stack(StackKind::Artifacts),
                    template: artifacts,
                },
                Stack {
                    kind: StackKind::Pipeline,
                    name: names.stack(StackKind::Pipeline),
                    template: pipeline,
                },
            ];
            (region, stacks)
        })
        .collect())
}

/// The stacks of the DR region (none without `dr:`), in deployment order: with `deploy:` its
/// bootstrap stack, whose execution role is built from the replica template alone (the DR region
/// runs no pipeline); then the replica stack ([`replica_stack`]).
pub fn dr_stacks(env: &Environment) -> Result<Vec<Stack>, BuildError> {
    let Some(replica) = replica_stack(env)? else {
        return Ok(Vec::new());
    };
    let mut stacks = Vec::new();
    if env.is_bootstrapped() {
        let names = Names::new(env);
        let mut template = artifacts::template(&names, true)?;
        bootstrap::add(
            &mut template,
            env,
            &names,
            bootstrap::Deploys::Replica,
            &[&replica.template],
        )?;
        stacks.push(Stack {
            kind: StackKind::Artifacts,
            name: names.stack(StackKind::Artifacts),
            template,
        });
    }
    stacks.push(replica);
    Ok(stacks)
}

fn pipeline(env: &Environment, region: &Region, names: &Names) -> Result<Template, BuildError> {
    let mut t = Template::new(format!(
        "MyStockTracker pipeline for environment {} in {}: scraper, stream, lambdas, storage, catalog and Athena, alerts.",
        env.name.as_str(),
        region
    ));
    let mut params = parameters::add(&mut t)?;
    let key = keys::add(&mut t, env)?;
    let topic = alerts::add_topic(&mut t, env, &key)?;
    let buckets = storage::add(&mut t, env, names, &key)?;
    let stream = ingest::add_stream(&mut t, env, &key)?;
    ingest::add_firehose(&mut t, env, &key, &stream, &buckets)?;
    let functions = functions::add(&mut t, env, &params, &key, &stream, &buckets, &topic)?;
    let crawler = catalog::add(&mut t, env, names, &key, &buckets)?;
    let vpn_connect = vpn_connect::add(&mut t, env, region, &mut params, &key, &topic)?;
    let scraper = network::add(
        &mut t,
        env,
        region,
        &params,
        &key,
        &stream,
        vpn_connect.as_ref(),
    )?;
    let grafana = workspace::add(&mut t, env, region, &key, &topic, &functions)?;
    let mut other_alarms = match &env.dr {
        Some(dr) => {
            replication::add_source(&mut t, env, dr, names, &key, &buckets)?;
            replication::add_alarms(&mut t, env, dr, names, &topic, &buckets)?
        }
        None => Vec::new(),
    };
    // The VPN's denial alarm publishes too; it is no rollback trigger (a deployment does not cause it).
    other_alarms.extend(vpn_connect.as_ref().map(|vpn| vpn.alarm.arn()));
    alerts::add_alarms(
        &mut t,
        env,
        &topic,
        &functions,
        &crawler,
        alerts::OtherPublishers {
            alarms: other_alarms,
            grafana_role: grafana.as_ref().map(|g| g.role.clone()),
        },
        &stream,
    )?;
    add_outputs(
        &mut t, &key, &stream, &buckets, &topic, &functions, &scraper,
    )?;
    if let Some(grafana) = &grafana {
        t.output(
            "GrafanaWorkspaceUrl",
            "Amazon Managed Grafana workspace (deployer grafana --push --url)",
            Expr::concat([Expr::lit("https://"), grafana.workspace.endpoint()]),
        )?;
    }
    Ok(t)
}

fn add_outputs(
    t: &mut Template,
    key: &keys::DataKey,
    stream: &ingest::QuoteStream,
    buckets: &storage::Buckets,
    topic: &alerts::AlertTopic,
    functions: &functions::Functions,
    scraper: &network::Scraper,
) -> Result<(), TemplateError> {
    t.output(
        "StreamName",
        "Kinesis stream the scraper writes quotes to",
        stream.reference(),
    )?;
    t.output(
        "RawBucketName",
        "Raw JSON records from Firehose (raw/), and quarantined records",
        buckets.raw.reference(),
    )?;
    t.output(
        "CuratedBucketName",
        "Parquet data (quotes/symbol=/dt=/) for Athena",
        buckets.curated.reference(),
    )?;
    t.output(
        "AlertTopicArn",
        "SNS topic for price-move e-mails and pipeline alarms",
        topic.arn(),
    )?;
    t.output(
        "InfluxTokenSecretArn",
        "Secret to put the InfluxDB token in (aws secretsmanager put-secret-value --secret-id <arn> --secret-string <token>)",
        functions.influx_token.arn(),
    )?;
    t.output(
        "TransformFunctionName",
        "Kinesis to InfluxDB Lambda",
        functions.transform.reference(),
    )?;
    t.output(
        "ToParquetFunctionName",
        "Raw JSON to Parquet Lambda",
        functions.to_parquet.reference(),
    )?;
    t.output(
        "NotifyFunctionName",
        "Price-move alert Lambda",
        functions.notify.reference(),
    )?;
    t.output(
        "FailedEventsQueueUrl",
        "Dead-letter queue of batches and events that failed all retries",
        functions.dead_letters.reference(),
    )?;
    t.output(
        "DataKeyArn",
        "KMS key encrypting the stream, buckets, topic, queue, logs and secret",
        key.arn(),
    )?;
    for (index, group) in scraper.groups.iter().enumerate() {
        t.output(
            &format!("ScraperShard{index}Group"),
            "Auto Scaling group of one running this scraper shard (SSH through the Client VPN)",
            group.reference(),
        )?;
    }
    if let Some(vpn) = &scraper.vpn {
        t.output(
            "ClientVpnEndpointId",
            "Client VPN endpoint (download its client configuration)",
            vpn.reference(),
        )?;
    }
    Ok(())
}
