//! `deployer run --env NAME`: the pipeline deployed to an emulator (moto) runs on this machine, in
//! the foreground, with its real binaries, wired from what was deployed and from the synthesized
//! template (never from hand-copied names). See `docs/local-run.md`.
//!
//! [`LocalPipeline::prepare`] reads the deployed pipeline stack (`DescribeStackResources`,
//! `DescribeStacks` parameters), builds a [`resolve::Resolver`] over it, downloads the deployed
//! artifacts from the artifacts bucket (the code `up` uploaded: no second build), and prepares each
//! function ([`function`]), the Kinesis event source mapping ([`esm`]), the buckets' notifications
//! ([`s3_events`]), the scraper ([`scraper`]) and the delivery streams ([`firehose`]).
//! [`LocalPipeline::run`] runs them until told to stop.

pub mod alerts;
pub mod esm;
pub mod firehose;
pub mod function;
pub mod pacing;
pub mod resolve;
pub mod s3_events;
pub mod scraper;
pub mod view;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::provider::ProvideCredentials as _;
use aws_smithy_types::error::display::DisplayErrorContext;
use environment::Environment;
use serde_json::{Value, json};
use stacks::pipeline::{ArtifactParameter, StackKind};
use synth::RegionOutput;
use tokio::sync::watch;

use crate::esm::{FailureDestination, Mapping, MappingSettings, MappingStats};
use crate::function::{FunctionConfig, FunctionHost, FunctionStats};
use crate::resolve::{Deployed, ResolveError, Resolver};
use crate::s3_events::{AsyncTarget, NotificationRule, NotificationStats};
use crate::scraper::{ScraperProcess, ScraperStats};

/// The variable that holds the value `run` puts in the secrets moto skipped (the InfluxDB token).
pub const SECRET_VALUE_VARIABLE: &str = "MST_INFLUX_TOKEN";

/// Why the local run cannot start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The environment has no `emulator:` section.
    #[error(
        "environment `{0}` has no `emulator:` section: `deployer run` runs the pipeline on this machine against an emulator deployment only (use `deployer verify` against AWS)"
    )]
    NotEmulator(String),
    /// The stack is not deployed.
    #[error(
        "stack {stack} is not deployed in the emulator ({message}): run `deployer up --env {env}` first"
    )]
    NotDeployed {
        /// The stack.
        stack: String,
        /// The environment.
        env: String,
        /// What the emulator said.
        message: String,
    },
    /// An AWS call failed.
    #[error("{0}")]
    Aws(String),
    /// A template value did not resolve.
    #[error("{what}: {source}")]
    Resolve {
        /// What was being resolved.
        what: String,
        /// Why.
        source: ResolveError,
    },
    /// The event source mapping cannot be run.
    #[error(transparent)]
    Mapping(#[from] esm::MappingError),
    /// A deployed artifact is unusable.
    #[error("{0}")]
    Artifact(String),
    /// A local file or process problem.
    #[error("{0}")]
    Local(String),
}

fn aws<E: std::error::Error>(call: &str, e: E) -> RunError {
    RunError::Aws(format!("{call}: {}", DisplayErrorContext(e)))
}

/// What the run needs.
pub struct Options {
    /// The environment (must have `emulator:`).
    pub env: Environment,
    /// The synthesized stacks of the region to run (the canary).
    pub region: RegionOutput,
    /// The SDK configuration (endpoint override and credentials of the emulator).
    pub sdk: aws_config::SdkConfig,
    /// The emulator's endpoint, given to the functions and the scraper as `AWS_ENDPOINT_URL`.
    pub endpoint: String,
    /// Where binaries, configuration, spool and logs go.
    pub run_dir: PathBuf,
    /// The value put in secrets the emulator skipped (see [`SECRET_VALUE_VARIABLE`]).
    pub secret_value: String,
    /// Whether to run the scraper daemon.
    pub scraper: bool,
}

/// The clients of the run's region.
#[derive(Clone)]
pub struct Clients {
    /// CloudFormation.
    pub cloudformation: aws_sdk_cloudformation::Client,
    /// Kinesis.
    pub kinesis: aws_sdk_kinesis::Client,
    /// S3 (path-style).
    pub s3: aws_sdk_s3::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// Secrets Manager.
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl Clients {
    /// The clients of `region` over `sdk`.
    pub fn new(sdk: &aws_config::SdkConfig, region: &str) -> Self {
        let region = aws_config::Region::new(region.to_owned());
        Self {
            cloudformation: aws_sdk_cloudformation::Client::from_conf(
                aws_sdk_cloudformation::config::Builder::from(sdk)
                    .region(region.clone())
                    .build(),
            ),
            kinesis: aws_sdk_kinesis::Client::from_conf(
                aws_sdk_kinesis::config::Builder::from(sdk)
                    .region(region.clone())
                    .build(),
            ),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(sdk)
                    .region(region.clone())
                    .force_path_style(true)
                    .build(),
            ),
            sqs: aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(sdk)
                    .region(region.clone())
                    .build(),
            ),
            secrets: aws_sdk_secretsmanager::Client::from_conf(
                aws_sdk_secretsmanager::config::Builder::from(sdk)
                    .region(region)
                    .build(),
            ),
        }
    }
}

/// Reads the deployed stack `stack`: its resources and parameter values.
pub async fn deployed_stack(
    cloudformation: &aws_sdk_cloudformation::Client,
    stack: &str,
    env: &str,
) -> Result<(BTreeMap<String, Deployed>, BTreeMap<String, String>), RunError> {
    let not_deployed = |message: String| RunError::NotDeployed {
        stack: stack.to_owned(),
        env: env.to_owned(),
        message,
    };
    let described = cloudformation
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| not_deployed(DisplayErrorContext(e).to_string()))?;
    let parameters = described
        .stacks()
        .first()
        .map(|s| {
            s.parameters()
                .iter()
                .filter_map(|p| {
                    Some((
                        p.parameter_key()?.to_owned(),
                        p.parameter_value()?.to_owned(),
                    ))
                })
                .collect()
        })
        .ok_or_else(|| not_deployed("no such stack".into()))?;
    let resources = cloudformation
        .describe_stack_resources()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| aws("DescribeStackResources", e))?;
    let resources = resources
        .stack_resources()
        .iter()
        .filter_map(|r| {
            Some((
                r.logical_resource_id()?.to_owned(),
                Deployed {
                    resource_type: r.resource_type()?.to_owned(),
                    physical_id: r.physical_resource_id().unwrap_or_default().to_owned(),
                },
            ))
        })
        .collect();
    Ok((resources, parameters))
}

/// The resources of `template` of type `kind`: logical id and resource.
pub fn resources_of<'a>(
    template: &'a Value,
    kind: &'a str,
) -> impl Iterator<Item = (&'a String, &'a Value)> {
    template["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(move |(_, r)| r["Type"] == kind)
}

/// A function's environment variables exactly as its template definition sets them, resolved.
pub fn function_environment(
    function: &Value,
    resolver: &Resolver,
) -> Result<BTreeMap<String, String>, ResolveError> {
    function["Properties"]["Environment"]["Variables"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| Ok((name.clone(), resolver.resolve(value)?)))
        .collect()
}

/// A secret the emulator skipped, created by the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvidedSecret {
    /// The template's logical id.
    pub logical_id: String,
    /// The name it was created under: `<stack>-<logical id>`.
    pub name: String,
    /// Its ARN.
    pub arn: String,
}

/// Creates (or updates) in the emulator every `AWS::SecretsManager::Secret` of the template that
/// its CloudFormation skipped (physical id `None`), named `<stack>-<logical id>`, with `value`, and
/// makes the resolver return its ARN.
pub async fn provide_skipped_secrets(
    template: &Value,
    resolver: &mut Resolver,
    secrets: &aws_sdk_secretsmanager::Client,
    stack: &str,
    value: &str,
) -> Result<Vec<ProvidedSecret>, RunError> {
    let mut provided = Vec::new();
    for (id, _) in resources_of(template, "AWS::SecretsManager::Secret") {
        let skipped = resolver
            .resources()
            .get(id)
            .is_none_or(|d| d.physical_id.is_empty() || d.physical_id == "None");
        if !skipped {
            continue;
        }
        let name = format!("{stack}-{id}");
        // Secrets Manager stores no version for an empty string, and reading the secret would then
        // fail; the transform Lambda trims the value, so a single space reads as "no token".
        let value = if value.is_empty() { " " } else { value };
        let created = secrets
            .create_secret()
            .name(&name)
            .secret_string(value)
            .send()
            .await;
        let arn = match created {
            Ok(out) => out.arn().unwrap_or_default().to_owned(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_exists_exception()) =>
            {
                let put = secrets
                    .put_secret_value()
                    .secret_id(&name)
                    .secret_string(value)
                    .send()
                    .await
                    .map_err(|e| aws("PutSecretValue", e))?;
                put.arn().unwrap_or_default().to_owned()
            }
            Err(e) => return Err(aws("CreateSecret", e)),
        };
        resolver.provide(id, "AWS::SecretsManager::Secret", arn.clone());
        provided.push(ProvidedSecret {
            logical_id: id.clone(),
            name,
            arn,
        });
    }
    Ok(provided)
}

/// Downloads `s3://bucket/key` (a deployed artifact).
async fn download(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<u8>, RunError> {
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| aws(&format!("GetObject s3://{bucket}/{key}"), e))?;
    let bytes = object
        .body
        .collect()
        .await
        .map_err(|e| RunError::Aws(format!("reading s3://{bucket}/{key}: {e}")))?;
    Ok(bytes.to_vec())
}

/// Writes an executable file.
fn write_executable(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| RunError::Local(format!("cannot create {}: {e}", dir.display())))?;
    }
    // A running process keeps its old file: write beside it and rename over it.
    let temporary = path.with_extension("new");
    std::fs::write(&temporary, bytes)
        .and_then(|()| std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o755)))
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|e| RunError::Local(format!("cannot write {}: {e}", path.display())))
}

/// The variables Lambda itself sets in a function's process (besides the template's), for a
/// function reaching the emulator at `endpoint` with `credentials`.
pub fn lambda_variables(
    function: &Value,
    name: &str,
    region: &str,
    endpoint: &str,
    task_root: &Path,
    credentials: &aws_credential_types::Credentials,
    resolver: &Resolver,
) -> BTreeMap<String, String> {
    let properties = &function["Properties"];
    let memory = properties["MemorySize"].as_u64().unwrap_or(128);
    let log_group = resolver
        .resolve(&properties["LoggingConfig"]["LogGroup"])
        .unwrap_or_else(|_| format!("/aws/lambda/{name}"));
    let mut vars = BTreeMap::from([
        ("AWS_REGION".to_owned(), region.to_owned()),
        ("AWS_DEFAULT_REGION".to_owned(), region.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME".to_owned(), name.to_owned()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(),
            memory.to_string(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_VERSION".to_owned(),
            "$LATEST".to_owned(),
        ),
        ("AWS_LAMBDA_LOG_GROUP_NAME".to_owned(), log_group),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME".to_owned(),
            "local-run".to_owned(),
        ),
        (
            "AWS_EXECUTION_ENV".to_owned(),
            format!(
                "AWS_Lambda_{}",
                properties["Runtime"].as_str().unwrap_or("provided.al2023")
            ),
        ),
        (
            "LAMBDA_TASK_ROOT".to_owned(),
            task_root.display().to_string(),
        ),
        (
            "_HANDLER".to_owned(),
            properties["Handler"]
                .as_str()
                .unwrap_or("bootstrap")
                .to_owned(),
        ),
        ("TZ".to_owned(), ":UTC".to_owned()),
        ("LANG".to_owned(), "en_US.UTF-8".to_owned()),
        ("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned()),
        // The emulator instead of AWS, and no instance-metadata probe on this machine.
        ("AWS_ENDPOINT_URL".to_owned(), endpoint.to_owned()),
        ("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned()),
        (
            "AWS_ACCESS_KEY_ID".to_owned(),
            credentials.access_key_id().to_owned(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".to_owned(),
            credentials.secret_access_key().to_owned(),
        ),
    ]);
    if let Some(format) = properties["LoggingConfig"]["LogFormat"].as_str() {
        vars.insert("AWS_LAMBDA_LOG_FORMAT".to_owned(), format.to_owned());
    }
    if let Some(token) = credentials.session_token() {
        vars.insert("AWS_SESSION_TOKEN".to_owned(), token.to_owned());
    }
    vars
}

/// The counters of every part, for the live view.
pub struct Counters {
    /// Per function logical id.
    pub functions: BTreeMap<String, Arc<FunctionStats>>,
    /// Per event source mapping.
    pub mappings: Vec<Arc<MappingStats>>,
    /// The notifications.
    pub notifications: Arc<NotificationStats>,
    /// The scraper, when it runs.
    pub scraper: Option<Arc<ScraperStats>>,
    /// Per delivery stream.
    pub firehose: Vec<(String, Arc<firehose::Stats>)>,
}

/// Everything prepared, ready to run.
pub struct LocalPipeline {
    env_name: String,
    region: String,
    endpoint: String,
    template: Value,
    resolver: Resolver,
    clients: Clients,
    functions: BTreeMap<String, Arc<FunctionHost>>,
    mappings: Vec<Arc<Mapping<FunctionHost>>>,
    rules: Vec<NotificationRule>,
    dead_letter_queues: HashMap<String, String>,
    scraper: Option<(
        PathBuf,
        scraper_config::ScraperConfig,
        BTreeMap<String, String>,
        PathBuf,
    )>,
    secrets: Vec<ProvidedSecret>,
    topics: Vec<String>,
    ready_file: Option<PathBuf>,
}

impl LocalPipeline {
    /// Reads the deployment and prepares every part (nothing runs yet).
    pub async fn prepare(options: &Options) -> Result<Self, RunError> {
        let env = &options.env;
        if env.emulator.is_none() {
            return Err(RunError::NotEmulator(env.name.as_str().to_owned()));
        }
        let region = options.region.region.as_str().to_owned();
        let stack = options
            .region
            .stacks
            .iter()
            .find(|s| s.kind == StackKind::Pipeline)
            .ok_or_else(|| RunError::Local("no pipeline stack was synthesized".into()))?;
        let template = stack.json.clone();
        let clients = Clients::new(&options.sdk, &region);
        let (resources, parameters) =
            deployed_stack(&clients.cloudformation, &stack.name, env.name.as_str()).await?;
        let mut resolver = Resolver::new(
            env.account.as_str(),
            region.clone(),
            stack.name.clone(),
            parameters.clone(),
            resources,
        );
        let secrets = provide_skipped_secrets(
            &template,
            &mut resolver,
            &clients.secrets,
            &stack.name,
            &options.secret_value,
        )
        .await?;
        let credentials = match options.sdk.credentials_provider() {
            Some(provider) => provider
                .provide_credentials()
                .await
                .map_err(|e| RunError::Aws(format!("credentials: {}", DisplayErrorContext(e))))?,
            None => return Err(RunError::Aws("no credentials configured".into())),
        };
        std::fs::create_dir_all(&options.run_dir).map_err(|e| {
            RunError::Local(format!("cannot create {}: {e}", options.run_dir.display()))
        })?;

        let mut functions = BTreeMap::new();
        let mut dead_letter_queues = HashMap::new();
        for (id, function) in resources_of(&template, "AWS::Lambda::Function") {
            let what = |part: &str| format!("function {id}'s {part}");
            let resolve = |part: &str, value: &Value| {
                resolver.resolve(value).map_err(|source| RunError::Resolve {
                    what: what(part),
                    source,
                })
            };
            let properties = &function["Properties"];
            let bucket = resolve("Code.S3Bucket", &properties["Code"]["S3Bucket"])?;
            let key = resolve("Code.S3Key", &properties["Code"]["S3Key"])?;
            let zip = download(&clients.s3, &bucket, &key).await?;
            let bootstrap = engine::artifacts::read_bootstrap(&zip)
                .map_err(|e| RunError::Artifact(format!("s3://{bucket}/{key}: {e}")))?;
            let task_root = options.run_dir.join(id);
            let binary = task_root.join("bootstrap");
            write_executable(&binary, &bootstrap)?;
            let name = resolve("name", &json!({ "Ref": id }))?;
            let arn = resolve("ARN", &json!({ "Fn::GetAtt": [id, "Arn"] }))?;
            let mut environment = lambda_variables(
                function,
                &name,
                &region,
                &options.endpoint,
                &task_root,
                &credentials,
                &resolver,
            );
            environment.extend(function_environment(function, &resolver).map_err(|source| {
                RunError::Resolve {
                    what: what("environment"),
                    source,
                }
            })?);
            if !properties["DeadLetterConfig"]["TargetArn"].is_null() {
                let queue_arn = resolve(
                    "DeadLetterConfig",
                    &properties["DeadLetterConfig"]["TargetArn"],
                )?;
                let queue = FailureDestination::for_queue_arn(clients.sqs.clone(), &queue_arn)
                    .await
                    .map_err(RunError::Aws)?;
                dead_letter_queues.insert(arn.clone(), queue.queue_url);
            }
            let config = FunctionConfig {
                logical_id: id.clone(),
                name,
                arn,
                binary,
                environment,
                timeout: Duration::from_secs(properties["Timeout"].as_u64().unwrap_or(3)),
                memory_mb: u32::try_from(properties["MemorySize"].as_u64().unwrap_or(128))
                    .unwrap_or(u32::MAX),
                log: options.run_dir.join(format!("{id}.log")),
            };
            let host = FunctionHost::new(config).map_err(|e| RunError::Local(e.to_string()))?;
            functions.insert(id.clone(), Arc::new(host));
        }

        let mut mappings = Vec::new();
        for (id, mapping) in resources_of(&template, "AWS::Lambda::EventSourceMapping") {
            let properties = &mapping["Properties"];
            let settings = MappingSettings::from_resource(properties, &resolver)?;
            let target = resolver
                .resolve(&properties["FunctionName"])
                .map_err(|source| RunError::Resolve {
                    what: format!("{id}'s FunctionName"),
                    source,
                })?;
            let (function_id, host) = functions
                .iter()
                .find(|(_, h)| h.config().name == target || h.config().arn == target)
                .ok_or_else(|| {
                    RunError::Local(format!(
                        "{id} invokes {target}, which is not a function of the template"
                    ))
                })?;
            let role = resolver
                .resolve(&template["Resources"][function_id]["Properties"]["Role"])
                .unwrap_or_default();
            let destination = match &settings.on_failure {
                Some(arn) => Some(
                    FailureDestination::for_queue_arn(clients.sqs.clone(), arn)
                        .await
                        .map_err(RunError::Aws)?,
                ),
                None => None,
            };
            mappings.push(Arc::new(Mapping::new(
                settings,
                clients.kinesis.clone(),
                Arc::clone(host),
                region.clone(),
                role,
                destination,
            )));
        }

        let rules = s3_events::rules(&template, &resolver).map_err(|source| RunError::Resolve {
            what: "bucket notifications".into(),
            source,
        })?;

        let scraper = if options.scraper {
            let key_parameter = ArtifactParameter::Scraper.parameter_name();
            let key = parameters.get(key_parameter).ok_or_else(|| {
                RunError::Local(format!(
                    "the deployed stack has no {key_parameter} parameter"
                ))
            })?;
            let bucket = engine::deploy::artifacts_bucket(env, &options.region.region);
            let binary = options.run_dir.join("scraper").join("scraper");
            write_executable(&binary, &download(&clients.s3, &bucket, key).await?)?;
            let streams: Vec<&String> = resources_of(&template, "AWS::Kinesis::Stream")
                .map(|(id, _)| id)
                .collect();
            let [stream_id] = streams.as_slice() else {
                return Err(RunError::Local(format!(
                    "the template has {} Kinesis streams; the scraper writes to exactly one",
                    streams.len()
                )));
            };
            let stream_name = resolver
                .resolve(&json!({ "Ref": stream_id }))
                .map_err(|source| RunError::Resolve {
                    what: "the scraper's stream".into(),
                    source,
                })?;
            let dir = options.run_dir.join("scraper");
            let config = scraper::local_config(
                stacks::pipeline::scraper_config(env, &stream_name, &region),
                &options.endpoint,
                &dir.join("spool"),
            );
            let environment = BTreeMap::from([
                ("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned()),
                (
                    "AWS_ACCESS_KEY_ID".to_owned(),
                    credentials.access_key_id().to_owned(),
                ),
                (
                    "AWS_SECRET_ACCESS_KEY".to_owned(),
                    credentials.secret_access_key().to_owned(),
                ),
                ("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned()),
                ("MST_LOG".to_owned(), "info".to_owned()),
            ]);
            Some((binary, config, environment, dir))
        } else {
            None
        };
        let topics = resources_of(&template, "AWS::SNS::Topic")
            .filter_map(|(id, _)| resolver.resolve(&json!({ "Ref": id })).ok())
            .collect();
        Ok(Self {
            env_name: env.name.as_str().to_owned(),
            region,
            endpoint: options.endpoint.clone(),
            template,
            resolver,
            clients,
            functions,
            mappings,
            rules,
            dead_letter_queues,
            scraper,
            secrets,
            topics,
            ready_file: None,
        })
    }

    /// Makes [`LocalPipeline::run`] write `path` once every part is started, in particular once
    /// the delivery streams have taken the time they read the stream from. A record put on the
    /// stream after the file exists is delivered to the raw bucket; one put before may not be (the
    /// emulation starts at the run's start so that earlier runs' records are not delivered twice),
    /// so scripts wait for the file before putting records or running `deployer verify`.
    pub fn signal_ready(mut self, path: PathBuf) -> Self {
        self.ready_file = Some(path);
        self
    }

    /// The resolver over the deployed stack (with the secrets the run provided).
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// The hosted functions, by logical id.
    pub fn functions(&self) -> &BTreeMap<String, Arc<FunctionHost>> {
        &self.functions
    }

    /// The notification rules.
    pub fn rules(&self) -> &[NotificationRule] {
        &self.rules
    }

    /// The secrets the run created because the emulator skipped them.
    pub fn provided_secrets(&self) -> &[ProvidedSecret] {
        &self.secrets
    }

    /// What will run, as shown before the live view: each function with its timeout and memory,
    /// the mappings' settings, the notification rules, the provided secrets.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "deployer run --env {} ({}, {})",
            self.env_name, self.region, self.endpoint
        );
        for (id, host) in &self.functions {
            let c = host.config();
            let _ = writeln!(
                out,
                "  function {id} ({}): timeout {} s, memory {} MB (not enforced), log {}",
                c.name,
                c.timeout.as_secs(),
                c.memory_mb,
                c.log.display()
            );
        }
        for mapping in &self.mappings {
            let _ = writeln!(out, "  {}", mapping.describe());
        }
        for rule in &self.rules {
            let _ = writeln!(
                out,
                "  s3://{} {} prefix {:?} suffix {:?} → {}",
                rule.bucket, rule.event, rule.prefix, rule.suffix, rule.function_arn
            );
        }
        for secret in &self.secrets {
            let _ = writeln!(
                out,
                "  secret {}: the emulator skipped it; created as {} with the value of ${} (empty: no token)",
                secret.logical_id, secret.name, SECRET_VALUE_VARIABLE
            );
        }
        if let Some((_, _, _, dir)) = &self.scraper {
            let _ = writeln!(out, "  scraper: config and log in {}", dir.display());
        }
        out
    }

    /// Runs everything until `stop` turns true, showing the live view on `view`; then stops the
    /// scraper (SIGTERM, flush), lets the mapping deliver what it read and the notifications their
    /// queued events, and stops the functions once their invocation in flight ended. Returns the
    /// final counters.
    pub async fn run(
        self,
        mut stop: watch::Receiver<bool>,
        view: &mut view::View,
    ) -> Result<view::Snapshot, RunError> {
        let (parts_stop_tx, parts_stop) = watch::channel(false);
        // First, so the delivery streams' start time precedes the scraper's first record.
        let streams = firehose::spawn_delivery_streams(
            &self.template,
            &self.resolver,
            &self.clients.kinesis,
            &self.clients.s3,
            &parts_stop,
        )
        .map_err(RunError::Local)?;
        let mut scraper = match &self.scraper {
            Some((binary, config, environment, dir)) => Some(
                ScraperProcess::start(binary, config, dir, environment).map_err(RunError::Local)?,
            ),
            None => None,
        };
        let mut tasks = Vec::new();
        let mut mapping_stats = Vec::new();
        for mapping in &self.mappings {
            mapping_stats.push(mapping.stats());
            let (mapping, stop) = (Arc::clone(mapping), parts_stop.clone());
            tasks.push(tokio::spawn(async move { mapping.run(stop).await }));
        }
        let notification_stats = Arc::new(NotificationStats {
            events: self
                .rules
                .iter()
                .map(|r| {
                    let function = self
                        .functions
                        .iter()
                        .find(|(_, h)| h.config().arn == r.function_arn)
                        .map(|(id, _)| id.as_str())
                        .unwrap_or("?");
                    (
                        format!("{} {}*{} → {function}", r.bucket_id, r.prefix, r.suffix),
                        Default::default(),
                    )
                })
                .collect(),
            ..Default::default()
        });
        let targets = self
            .functions
            .values()
            .map(|host| {
                let arn = host.config().arn.clone();
                (
                    arn.clone(),
                    AsyncTarget {
                        function: Arc::clone(host),
                        dead_letter_queue: self.dead_letter_queues.get(&arn).cloned(),
                    },
                )
            })
            .collect();
        tasks.push(tokio::spawn(s3_events::run(
            self.clients.s3.clone(),
            self.clients.sqs.clone(),
            self.region.clone(),
            self.rules.clone(),
            targets,
            Arc::clone(&notification_stats),
            parts_stop.clone(),
        )));
        let counters = Counters {
            functions: self
                .functions
                .iter()
                .map(|(id, h)| (id.clone(), h.stats()))
                .collect(),
            mappings: mapping_stats,
            notifications: notification_stats,
            scraper: scraper.as_ref().map(ScraperProcess::stats),
            firehose: streams
                .iter()
                .map(|s| (s.name.clone(), Arc::clone(&s.stats)))
                .collect(),
        };
        if let Some(path) = &self.ready_file {
            // Every part was started above: the delivery streams read from a time before now.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default();
            if let Err(e) = std::fs::write(path, format!("ready at {now} ms\n")) {
                view.note(&format!(
                    "cannot write the ready file {}: {e}",
                    path.display()
                ));
            }
        }
        let alerts = alerts::AlertWatch::start(self.endpoint.clone(), self.topics.clone());
        loop {
            view.show(&view::Snapshot::of(&counters, alerts.count()));
            if let Some(status) = scraper.as_mut().and_then(ScraperProcess::exited) {
                view.note(&format!("the scraper exited ({status}); see its log"));
                scraper = None;
            }
            if tasks.iter().any(|t| t.is_finished()) {
                view.note("a part of the pipeline stopped; stopping the run");
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
        }
        view.note("stopping: scraper (SIGTERM, flush), then the triggers, then the functions");
        if let Some(scraper) = scraper.as_mut() {
            scraper.stop().await;
        }
        // Let the stream's last records reach the mapping and the buckets' last objects the
        // listing before the parts stop.
        tokio::time::sleep(esm::POLL_PAUSE + s3_events::LIST_INTERVAL).await;
        let _ = parts_stop_tx.send(true);
        let mut failure = None;
        for task in tasks {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failure = Some(e),
                Err(e) => failure = Some(e.to_string()),
            }
        }
        for stream in streams {
            match stream.task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failure = Some(format!("{}: {e}", stream.name)),
                Err(e) => failure = Some(e.to_string()),
            }
        }
        for host in self.functions.values() {
            host.shutdown().await;
        }
        let snapshot = view::Snapshot::of(&counters, alerts.finish().await);
        view.finish(&snapshot);
        match failure {
            Some(e) => Err(RunError::Local(e)),
            None => Ok(snapshot),
        }
    }
}

impl<F: function::Invoke + 'static> Mapping<F> {
    /// One line describing the mapping's settings.
    pub fn describe(&self) -> String {
        let s = self.settings();
        format!(
            "stream {} → {}: batch {} / window {} s, ReportBatchItemFailures {}, bisect {}, retries {}, max age {}, on failure {}",
            s.stream_name,
            self.function_arn(),
            s.batch_size,
            s.batching_window.as_secs(),
            s.report_item_failures,
            s.bisect,
            s.max_retries
                .map_or("until expired".to_owned(), |r| r.to_string()),
            s.max_record_age
                .map_or("none".to_owned(), |a| format!("{} s", a.as_secs())),
            s.on_failure.as_deref().unwrap_or("(none)")
        )
    }
}
