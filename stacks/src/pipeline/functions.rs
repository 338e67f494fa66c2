//! The three Lambda functions, their roles, log groups and triggers: the Kinesis event source mapping
//! of `transform` and the bucket notifications of `to-parquet` and `notify`.

use std::collections::BTreeMap;

use environment::Environment;
use lambda_contract::{notify, to_parquet, transform};

use crate::iam::actions::sqs;
use crate::iam::uses::Use;
use crate::iam::{PolicyDocument, Principal, Statement};
use crate::resources::lambda::{
    Code, DeadLetterConfig, DestinationConfig, EventSourceMapping, Function, LoggingConfig,
    OnFailure, Permission,
};
use crate::resources::logs::LogGroup;
use crate::resources::s3::{
    Bucket, LambdaNotification, NotificationFilter, Notifications, bucket_arn, objects_arn,
};
use crate::resources::secretsmanager::Secret;
use crate::resources::sqs::{Queue, QueuePolicy};
use crate::template::{Expr, Handle, LogicalId, Options, Template, pseudo};

use super::BuildError;
use super::alerts::AlertTopic;
use super::health::Watched;
use super::ingest::QuoteStream;
use super::keys::{DataKey, add_log_group};
use super::parameters::{ArtifactParameter, Parameters};
use super::roles::{TrustedService, component_role};
use super::storage::{Buckets, prefixes};

/// The functions and what other parts of the stack refer to.
#[derive(Debug, Clone)]
pub(super) struct Functions {
    pub transform: Handle<Function>,
    /// The transform's log group (Grafana's Logs Insights query reads it).
    pub transform_log_group: Handle<LogGroup>,
    pub to_parquet: Handle<Function>,
    pub notify: Handle<Function>,
    pub dead_letters: Handle<Queue>,
    pub influx_token: Handle<Secret>,
    /// The notify Lambda's role, named in the alert topic's policy.
    pub notify_role: Expr,
}

/// What differs between the functions.
pub(super) struct FunctionSpec<'a> {
    pub name: &'static str,
    pub artifact: ArtifactParameter,
    pub description: &'static str,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub variables: BTreeMap<String, Expr>,
    pub statements: Vec<Statement>,
    pub failures: Failures<'a>,
    /// A fixed function name, for a function a service finds by name.
    pub function_name: Option<String>,
    /// Concurrency reserved for the function; `None` shares the account's pool.
    pub reserved_concurrency: Option<u32>,
}

/// A function and what else refers to its parts.
pub(super) struct AddedFunction {
    pub function: Handle<Function>,
    /// The role's policy (the event source mapping waits for it).
    pub policy: LogicalId,
    /// The role's ARN.
    pub role: Expr,
    /// The function's log group.
    pub log_group: Handle<LogGroup>,
}

/// Where a function's failed invocations go.
pub(super) enum Failures<'a> {
    /// Asynchronous (S3-invoked) functions send failed events to this dead-letter queue.
    DeadLetterQueue(&'a Handle<Queue>),
    /// Stream-invoked ones use the event source mapping's on-failure destination instead.
    StreamOnFailure,
    /// A synchronous caller sees the failure itself (Client VPN denies the connection).
    Caller,
}

/// Log permissions every function needs, plus its own statements (the data key permissions follow from
/// them in [`component_role`]).
pub(super) fn add_function(
    t: &mut Template,
    env: &Environment,
    params: &Parameters,
    key: &DataKey,
    spec: FunctionSpec<'_>,
) -> Result<AddedFunction, BuildError> {
    let log_group = add_log_group(t, &format!("{}LogGroup", spec.name), env, key)?;
    let mut statements = spec.statements;
    statements.push(
        Statement::grant(&[Use::LambdaWritesFunctionLogs], [log_group.streams_arn()])
            .sid("WriteOwnLogs"),
    );
    let (role, policy) = component_role(
        t,
        spec.name,
        TrustedService::Lambda,
        spec.description,
        key,
        statements,
    )?;
    let mut variables = spec.variables;
    variables.insert("RUST_LOG".into(), Expr::lit("info"));
    let mut options = Options::none().depends_on(&policy).skip_checkov(
        "CKV_AWS_117",
        "The functions call only public AWS APIs and the InfluxDB URL; a VPC would add NAT cost and cold-start latency without narrowing access, which IAM already scopes.",
    );
    if spec.reserved_concurrency.is_none() {
        options = options.skip_checkov(
            "CKV_AWS_115",
            "Reserved concurrency would fail in accounts at the default concurrency quota; concurrency is bounded by the stream's shards and S3 event rate.",
        );
    }
    let dead_letter = match spec.failures {
        Failures::DeadLetterQueue(queue) => Some(queue),
        Failures::StreamOnFailure => {
            options = options.skip_checkov(
                "CKV_AWS_116",
                "Invoked by a Kinesis event source mapping, whose on-failure destination (the failed-events queue) receives failed batches; a function DLQ applies only to asynchronous invocations.",
            );
            None
        }
        Failures::Caller => {
            options = options.skip_checkov(
                "CKV_AWS_116",
                "Invoked synchronously by Client VPN, which denies the connection when the function fails; a function DLQ applies only to asynchronous invocations.",
            );
            None
        }
    };
    let function = t.add(
        spec.name,
        Function {
            function_name: spec.function_name,
            description: spec.description.to_owned(),
            runtime: "provided.al2023",
            handler: "bootstrap",
            architectures: vec!["x86_64"],
            code: Code {
                s3_bucket: params.artifacts_bucket.reference(),
                s3_key: params.key(spec.artifact)?,
                s3_object_version: params.version(spec.artifact)?,
            },
            role: role.arn(),
            memory_size: spec.memory_mb,
            timeout: spec.timeout_seconds,
            environment: crate::resources::lambda::Environment { variables },
            kms_key_arn: key.arn(),
            logging_config: LoggingConfig {
                log_format: "JSON",
                log_group: log_group.reference(),
            },
            dead_letter_config: dead_letter.map(|queue| DeadLetterConfig {
                target_arn: queue.arn(),
            }),
            reserved_concurrent_executions: spec.reserved_concurrency,
        },
        options,
    )?;
    Ok(AddedFunction {
        function,
        policy: policy.id().clone(),
        role: role.arn(),
        log_group,
    })
}

/// A function's environment from its contract (`lambda-contract`), whose names and formats the
/// function reads back.
pub(super) fn variables(contract: Vec<(&'static str, Expr)>) -> BTreeMap<String, Expr> {
    contract
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

/// Sending to the failed-events queue: `LambdaSendsFailedBatches` for the stream's on-failure
/// destination, `LambdaSendsFailedEvents` for an asynchronous function's dead-letter queue.
fn send_dead_letters(queue: &Handle<Queue>, sender: Use) -> Statement {
    Statement::grant(&[sender], [queue.arn()]).sid("SendFailedEvents")
}

/// Every reference from a function, its role or its permissions to a data bucket goes through the
/// bucket's fixed name, never `Ref`: the buckets depend on the functions (their notifications), so the
/// functions must not depend on the buckets.
pub(super) fn add(
    t: &mut Template,
    env: &Environment,
    params: &Parameters,
    key: &DataKey,
    stream: &QuoteStream,
    buckets: &Buckets,
    topic: &AlertTopic,
) -> Result<Functions, BuildError> {
    let dead_letters = t.add(
        Watched::FailedEventsQueue.logical_id(),
        Queue {
            kms_master_key_id: key.arn(),
            message_retention_period: 1_209_600,
        },
        Options::none(),
    )?;
    let influx_token = t.add(
        "InfluxTokenSecret",
        Secret {
            description: format!(
                "InfluxDB token for the transform Lambda ({}). Set it after deploying: aws secretsmanager put-secret-value --secret-id <this ARN> --secret-string <token>",
                env.name.as_str()
            ),
            kms_key_id: key.arn(),
        },
        Options::none().skip_checkov(
            "CKV2_AWS_57",
            "The InfluxDB token is issued by the InfluxDB server, which Secrets Manager cannot rotate; rotate it there and put the new value.",
        ),
    )?;

    let AddedFunction {
        function: transform,
        policy: transform_policy,
        role: transform_role,
        log_group: transform_log_group,
    } = add_transform(
        t,
        env,
        params,
        key,
        stream,
        buckets,
        &dead_letters,
        &influx_token,
    )?;
    let AddedFunction {
        function: to_parquet,
        role: to_parquet_role,
        ..
    } = add_function(
        t,
        env,
        params,
        key,
        FunctionSpec {
            name: Watched::ToParquetFunction.logical_id(),
            artifact: ArtifactParameter::ToParquet,
            description: "Converts raw JSON-lines objects to partitioned Parquet in the curated bucket",
            memory_mb: 1024,
            timeout_seconds: 900,
            variables: variables(
                to_parquet::Config {
                    curated_bucket: buckets.curated_name.clone(),
                    curated_prefix: prefixes::QUOTES.to_owned(),
                    quarantine_bucket: buckets.raw_name.clone(),
                    quarantine_prefix: prefixes::quarantine(to_parquet::QUARANTINE_NAME),
                }
                .into_variables(Expr::lit),
            ),
            statements: vec![
                Statement::grant(
                    &[Use::ToParquetReadsRawRecords],
                    [objects_arn(&buckets.raw_name, prefixes::RAW)],
                )
                .sid("ReadRawRecords"),
                // Listing is limited to `raw/`.
                Statement::grant(
                    &[Use::ToParquetSeesVanishedRawRecords],
                    [bucket_arn(&buckets.raw_name)],
                )
                .sid("SeeRawRecords")
                .condition(
                    "StringLike",
                    "s3:prefix",
                    [Expr::lit(format!("{}*", prefixes::RAW))],
                ),
                Statement::grant(
                    &[Use::ToParquetWritesParquet],
                    [objects_arn(&buckets.curated_name, prefixes::QUOTES)],
                )
                .sid("WriteParquet"),
                Statement::grant(
                    &[Use::ToParquetQuarantinesRecords],
                    [objects_arn(
                        &buckets.raw_name,
                        &prefixes::quarantine(to_parquet::QUARANTINE_NAME),
                    )],
                )
                .sid("QuarantineInvalidRecords"),
                send_dead_letters(&dead_letters, Use::LambdaSendsFailedEvents),
            ],
            failures: Failures::DeadLetterQueue(&dead_letters),
            function_name: None,
            reserved_concurrency: None,
        },
    )?;
    let AddedFunction {
        function: notify,
        role: notify_role,
        ..
    } = add_function(
        t,
        env,
        params,
        key,
        FunctionSpec {
            name: Watched::NotifyFunction.logical_id(),
            artifact: ArtifactParameter::Notify,
            description: "E-mails through SNS when a price moves by the alert threshold or more",
            memory_mb: 512,
            timeout_seconds: 120,
            variables: variables(
                notify::Config {
                    topic_arn: topic.arn(),
                    threshold_pct: env.alerts.threshold_pct,
                    state_bucket: buckets.curated_name.clone(),
                    state_prefix: prefixes::NOTIFY_STATE.to_owned(),
                }
                .into_variables(Expr::lit),
            ),
            statements: vec![
                Statement::grant(
                    &[Use::NotifyReadsParquet],
                    [objects_arn(&buckets.curated_name, prefixes::QUOTES)],
                )
                .sid("ReadParquet"),
                Statement::grant(
                    &[Use::NotifyKeepsReferencePrices],
                    [objects_arn(&buckets.curated_name, prefixes::NOTIFY_STATE)],
                )
                .sid("KeepReferencePrices"),
                // Listing is limited to the state prefix.
                Statement::grant(
                    &[Use::NotifySeesMissingState],
                    [bucket_arn(&buckets.curated_name)],
                )
                .sid("SeeStateObjects")
                .condition(
                    "StringLike",
                    "s3:prefix",
                    [Expr::lit(format!("{}*", prefixes::NOTIFY_STATE))],
                ),
                Statement::grant(&[Use::NotifyPublishesAlerts], [topic.arn()]).sid("PublishAlerts"),
                send_dead_letters(&dead_letters, Use::LambdaSendsFailedEvents),
            ],
            failures: Failures::DeadLetterQueue(&dead_letters),
            function_name: None,
            reserved_concurrency: None,
        },
    )?;

    t.add(
        "TransformEventSourceMapping",
        EventSourceMapping {
            event_source_arn: stream.arn(),
            function_name: transform.reference(),
            // Start at the oldest record: nothing the scraper put before the mapping existed is skipped.
            starting_position: "TRIM_HORIZON",
            batch_size: env.transform.batch_size,
            maximum_batching_window_in_seconds: env.transform.batching_window_seconds,
            function_response_types: vec!["ReportBatchItemFailures"],
            bisect_batch_on_function_error: true,
            maximum_record_age_in_seconds: env.transform.maximum_record_age_seconds,
            maximum_retry_attempts: env.transform.maximum_retry_attempts.as_cloudformation(),
            destination_config: DestinationConfig {
                on_failure: OnFailure {
                    destination: dead_letters.arn(),
                },
            },
        },
        // The mapping is validated against the role's permissions when it is created.
        Options {
            depends_on: vec![transform_policy],
            ..Options::none()
        },
    )?;

    add_bucket_trigger(
        t,
        &buckets.raw,
        &buckets.raw_name,
        "RawBucketInvokesToParquet",
        &to_parquet,
        prefixes::RAW,
        "",
    )?;
    add_bucket_trigger(
        t,
        &buckets.curated,
        &buckets.curated_name,
        "CuratedBucketInvokesNotify",
        &notify,
        prefixes::QUOTES,
        ".parquet",
    )?;
    add_queue_policy(
        t,
        &dead_letters,
        vec![transform_role, to_parquet_role, notify_role.clone()],
    )?;
    Ok(Functions {
        transform,
        transform_log_group,
        to_parquet,
        notify,
        dead_letters,
        influx_token,
        notify_role,
    })
}

/// The failed-events queue's policy: TLS only, and sending by the three functions' roles (the event
/// source mapping's on-failure destination and the asynchronous functions' dead-letter queue both
/// send with the function's execution role).
fn add_queue_policy(
    t: &mut Template,
    queue: &Handle<Queue>,
    senders: Vec<Expr>,
) -> Result<(), BuildError> {
    let policy = PolicyDocument::new(vec![
        Statement::deny_everyone_any_action("sqs", [queue.arn()])
            .sid("DenyRequestsWithoutTls")
            .condition("Bool", "aws:SecureTransport", [Expr::lit("false")]),
        Statement::allow_principal(Principal::Aws(senders), &[sqs::SEND_MESSAGE])
            .sid("FunctionsSendFailedEvents")
            .on([queue.arn()]),
    ]);
    t.add(
        "FailedEventsQueuePolicy",
        QueuePolicy {
            policy_document: policy,
            queues: vec![queue.url()],
        },
        Options::none(),
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)] // Each argument is a distinct resource the function is wired to.
fn add_transform(
    t: &mut Template,
    env: &Environment,
    params: &Parameters,
    key: &DataKey,
    stream: &QuoteStream,
    buckets: &Buckets,
    dead_letters: &Handle<Queue>,
    influx_token: &Handle<Secret>,
) -> Result<AddedFunction, BuildError> {
    let variables = variables(
        transform::Config {
            influx: transform::InfluxConfig {
                url: env.influxdb.url.clone(),
                api: env.influxdb.api.clone(),
                timeout: transform::DEFAULT_INFLUX_TIMEOUT,
            },
            token_secret_id: influx_token.arn(),
            quarantine_bucket: buckets.raw_name.clone(),
            quarantine_prefix: prefixes::quarantine(transform::QUARANTINE_NAME),
        }
        .into_variables(Expr::lit),
    );
    add_function(
        t,
        env,
        params,
        key,
        FunctionSpec {
            name: Watched::TransformFunction.logical_id(),
            artifact: ArtifactParameter::Transform,
            description: "Validates quote records from Kinesis and writes them to InfluxDB",
            memory_mb: env.transform.memory_mb,
            timeout_seconds: env.transform.timeout_seconds,
            variables,
            statements: vec![
                Statement::grant(&[Use::LambdaPollsQuoteStream], [stream.arn()])
                    .sid("ReadQuoteStream"),
                Statement::grant(&[Use::TransformReadsInfluxToken], [influx_token.arn()])
                    .sid("ReadInfluxToken"),
                Statement::grant(
                    &[Use::TransformQuarantinesRecords],
                    [objects_arn(
                        &buckets.raw_name,
                        &prefixes::quarantine(transform::QUARANTINE_NAME),
                    )],
                )
                .sid("QuarantineInvalidRecords"),
                send_dead_letters(dead_letters, Use::LambdaSendsFailedBatches),
            ],
            failures: Failures::StreamOnFailure,
            function_name: None,
            reserved_concurrency: None,
        },
    )
}

/// Lets the bucket invoke `function` for objects created under `prefix` ending in `suffix`. The
/// permission names the bucket by its fixed name, not by reference: the bucket must depend on the
/// permission (S3 checks it when the notification is saved), so the permission cannot depend on it.
fn add_bucket_trigger(
    t: &mut Template,
    bucket: &Handle<Bucket>,
    bucket_name: &Expr,
    permission_id: &str,
    function: &Handle<Function>,
    prefix: &str,
    suffix: &str,
) -> Result<(), BuildError> {
    let permission = t.add(
        permission_id,
        Permission {
            action: "lambda:InvokeFunction",
            function_name: function.reference(),
            principal: Expr::service_principal("s3"),
            source_arn: bucket_arn(bucket_name),
            source_account: pseudo::account_id(),
        },
        Options::none(),
    )?;
    let notification = LambdaNotification {
        event: "s3:ObjectCreated:*",
        function: function.arn(),
        filter: Some(NotificationFilter::keys(prefix, suffix)),
    };
    t.modify(bucket, &[permission.id().clone()], |bucket| {
        bucket.notification_configuration = Some(Notifications {
            lambda_configurations: vec![notification],
        });
    });
    Ok(())
}
