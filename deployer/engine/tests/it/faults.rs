//! Fault handling at the SDK layer, with `aws-smithy-mocks`: throttling, failed resources during
//! create and update (and waiting for the rollback), the account check, failures in waves, and
//! adopting what `down` kept (the import change set, finding the key, the real stack status).
//! Each test asserts what the user would see and the exit code the CLI derives from it.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
use aws_sdk_cloudformation::operation::get_template::GetTemplateOutput;
use aws_sdk_cloudformation::primitives::DateTime;
use aws_sdk_cloudformation::types::{
    Change, ChangeAction, ChangeSetStatus, Replacement, ResourceChange, ResourceStatus, Stack,
    StackEvent, StackStatus, Tag,
};
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
use aws_smithy_mocks::{Rule, mock};
use engine::apply::Applied;
use engine::artifacts::Artifact;
use engine::artifacts::{Stored, StoredArtifact};
use engine::aws::RegionClients;
use engine::change_set::{self, Plan};
use engine::deploy::{self, Approver, Observer, Pinned, Settings, Up};
use engine::gate::{CanaryGate, GateFailure, GateFuture};
use engine::waves::{RegionResult, exit_code};
use environment::{Environment, Region, ScraperImage};
use stacks::pipeline::{ArtifactParameter, SCRAPER_IMAGE_PARAMETER, StackKind};

/// Builds a client of any service crate over mock rules (no test-util feature needed).
macro_rules! client {
    ($krate:ident, $rules:expr) => {
        testkit::mock_client!($krate, $rules, |c: $krate::config::Builder| c.retry_config(
            $krate::config::retry::RetryConfig::standard()
                .with_max_attempts(4)
                .with_initial_backoff(Duration::from_millis(100)),
        ))
    };
}

const THROTTLED: &str = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>";

fn stack(name: &str, status: StackStatus, tags: &[(String, String)]) -> Stack {
    Stack::builder()
        .stack_name(name)
        .stack_id(format!(
            "arn:aws:cloudformation:eu-west-1:444455556666:stack/{name}/1"
        ))
        .creation_time(DateTime::from_secs(0))
        .stack_status(status)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

fn event(
    id: &str,
    stack: &str,
    logical: &str,
    kind: &str,
    status: ResourceStatus,
    reason: Option<&str>,
) -> StackEvent {
    StackEvent::builder()
        .event_id(id)
        .stack_id(stack)
        .stack_name(stack)
        .logical_resource_id(logical)
        .resource_type(kind)
        .resource_status(status)
        .set_resource_status_reason(reason.map(str::to_owned))
        .timestamp(DateTime::from_secs(1))
        .build()
}

fn events(list: Vec<StackEvent>) -> DescribeStackEventsOutput {
    DescribeStackEventsOutput::builder()
        .set_stack_events(Some(list))
        .build()
}

/// prod.yaml without its `dr:` section: these tests drive the regions' own stacks through the
/// mocks; the DR region's stack that `up` deploys first is tested in tests/it/dr.rs.
fn prod() -> Environment {
    let mut env = environment::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments/prod.yaml"),
    )
    .expect("prod.yaml is valid");
    env.dr = None;
    env
}

#[tokio::test(start_paused = true)]
async fn throttling_is_retried_with_backoff() {
    let rule = mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .times(2)
        .output(|| {
            DescribeStacksOutput::builder()
                .stacks(stack("s", StackStatus::CreateComplete, &[]))
                .build()
        })
        .build();
    let cfn = client!(aws_sdk_cloudformation, [&rule]);
    let started = tokio::time::Instant::now();
    let found = change_set::describe_stack(&cfn, "eu-west-1", "s")
        .await
        .unwrap();
    assert_eq!(found.unwrap().status, StackStatus::CreateComplete);
    assert_eq!(rule.num_calls(), 3, "two throttled attempts, then success");
    assert!(
        started.elapsed() > Duration::ZERO,
        "the retries waited (backoff)"
    );
}

#[tokio::test(start_paused = true)]
async fn throttling_that_does_not_stop_is_one_readable_error() {
    let rule = mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .repeatedly()
        .build();
    let cfn = client!(aws_sdk_cloudformation, [&rule]);
    let error = change_set::describe_stack(&cfn, "eu-west-1", "s")
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "AWS kept throttling DescribeStacks s in eu-west-1 (Throttling) through every retry: wait a minute and run again"
    );
    assert_eq!(rule.num_calls(), 4);
}

#[tokio::test]
async fn the_wrong_account_is_refused() {
    let rule = mock!(aws_sdk_sts::Client::get_caller_identity).then_output(|| {
        aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput::builder()
            .account("999988887777")
            .build()
    });
    let sts = client!(aws_sdk_sts, [&rule]);
    let error = engine::aws::check_account(&sts, &prod()).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "refusing to deploy to eu-west-1: the credentials (the default credential chain: an unknown caller) are for account 999988887777, but environment `prod` deploys to account 444455556666; use the matching profile (--profile) or fix `account` in environments/prod.yaml"
    );
}

#[tokio::test]
async fn expired_credentials_are_one_sentence() {
    let rule = mock!(aws_sdk_sts::Client::get_caller_identity)
        .sequence()
        .http_status(
            403,
            Some("<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message></Error></ErrorResponse>".into()),
        )
        .build();
    let sts = client!(aws_sdk_sts, [&rule]);
    let error = engine::aws::check_account(&sts, &prod()).await.unwrap_err();
    assert!(matches!(&error, engine::Error::Aws(e) if e.is_credentials()));
    assert_eq!(
        error.to_string(),
        "the AWS credentials have expired (GetCallerIdentity in eu-west-1): refresh them (`aws sso login --profile NAME` for SSO profiles, or new keys) and run again"
    );
}

#[tokio::test]
async fn access_denied_names_the_action() {
    let rule = mock!(aws_sdk_sts::Client::get_caller_identity)
        .sequence()
        .http_status(
            403,
            Some("<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::444455556666:user/ci is not authorized to perform: sts:GetCallerIdentity because no identity-based policy allows the sts:GetCallerIdentity action</Message></Error></ErrorResponse>".into()),
        )
        .build();
    let sts = client!(aws_sdk_sts, [&rule]);
    let error = engine::aws::check_account(&sts, &prod()).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "access denied: the credentials may not call sts:GetCallerIdentity in eu-west-1; use a profile (--profile) whose role allows it, or grant the permission"
    );
    assert_eq!(rule.num_calls(), 1, "access denied is not retried");
}

#[tokio::test(start_paused = true)]
async fn a_stack_status_newer_than_the_sdk_is_neither_complete_nor_unchanged() {
    let rule = mock!(aws_sdk_cloudformation::Client::describe_stacks).then_output(|| {
        DescribeStacksOutput::builder()
            .stacks(stack("s", StackStatus::from("MIGRATE_COMPLETE"), &[]))
            .build()
    });
    let cfn = client!(aws_sdk_cloudformation, [&rule]);
    let found = change_set::describe_stack(&cfn, "eu-west-1", "s")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.status.as_str(), "MIGRATE_COMPLETE");
    assert!(!found.in_progress() && !found.is_failed_create() && !found.is_review_only());
    let spec = change_set::StackSpec::new(
        "s".into(),
        "{}".into(),
        Default::default(),
        Default::default(),
    );
    let mut tagged = found.clone();
    tagged.tags = spec.tags.clone();
    assert!(!change_set::unchanged(&tagged, &spec));
}

/// Rules for executing a change set on `name` that ends in `final_status` after a resource failed.
fn failing_execution(
    name: &str,
    failed: ResourceStatus,
    rolling: StackStatus,
    final_status: StackStatus,
) -> Vec<Rule> {
    let n = name.to_owned();
    let stack_events = {
        let n = n.clone();
        mock!(aws_sdk_cloudformation::Client::describe_stack_events)
            .sequence()
            .output({
                let n = n.clone();
                move || {
                    events(vec![event(
                        "e0",
                        &n,
                        &n,
                        "AWS::CloudFormation::Stack",
                        ResourceStatus::UpdateComplete,
                        None,
                    )])
                }
            })
            .output({
                let n = n.clone();
                let failed = failed.clone();
                move || {
                    events(vec![
                        event(
                            "e2",
                            &n,
                            "Transform",
                            "AWS::Lambda::Function",
                            failed.clone(),
                            Some("Memory size 20000 is above the limit"),
                        ),
                        event(
                            "e1",
                            &n,
                            &n,
                            "AWS::CloudFormation::Stack",
                            ResourceStatus::UpdateInProgress,
                            None,
                        ),
                        event(
                            "e0",
                            &n,
                            &n,
                            "AWS::CloudFormation::Stack",
                            ResourceStatus::UpdateComplete,
                            None,
                        ),
                    ])
                }
            })
            .output(move || {
                events(vec![event(
                    "e3",
                    &n,
                    &n,
                    "AWS::CloudFormation::Stack",
                    ResourceStatus::UpdateRollbackComplete,
                    None,
                )])
            })
            .repeatedly()
            .build()
    };
    let describe = mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .sequence()
        .output({
            let n = n.clone();
            move || {
                DescribeStacksOutput::builder()
                    .stacks(stack(&n, rolling.clone(), &[]))
                    .build()
            }
        })
        .output(move || {
            DescribeStacksOutput::builder()
                .stacks(stack(&n, final_status.clone(), &[]))
                .build()
        })
        .repeatedly()
        .build();
    let execute = mock!(aws_sdk_cloudformation::Client::execute_change_set)
        .then_output(|| ExecuteChangeSetOutput::builder().build());
    vec![stack_events, describe, execute]
}

fn plan(name: &str, create: bool) -> Plan {
    Plan {
        stack: name.into(),
        region: "eu-west-1".into(),
        change_set_id: "cs-1".into(),
        create,
        changes: Vec::new(),
        parameters: Vec::new(),
        iam: Default::default(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_update_names_the_resource_and_waits_for_the_rollback() {
    let rules = failing_execution(
        "mst-prod-pipeline",
        ResourceStatus::UpdateFailed,
        StackStatus::UpdateRollbackInProgress,
        StackStatus::UpdateRollbackComplete,
    );
    let cfn = client!(aws_sdk_cloudformation, &rules);
    let mut seen = Vec::new();
    let error = engine::apply::execute(
        &cfn,
        &plan("mst-prod-pipeline", false),
        Duration::from_secs(5),
        &mut |e| seen.push(format!("{} {}", e.logical_id, e.status)),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "mst-prod-pipeline in eu-west-1 ended UPDATE_ROLLBACK_COMPLETE; first failure: Transform (AWS::Lambda::Function) UPDATE_FAILED: Memory size 20000 is above the limit"
    );
    // The rollback was awaited: the stack was polled until it settled.
    assert_eq!(rules[1].num_calls(), 2);
    assert_eq!(
        seen,
        [
            "mst-prod-pipeline UPDATE_IN_PROGRESS",
            "Transform UPDATE_FAILED",
            "mst-prod-pipeline UPDATE_ROLLBACK_COMPLETE"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_create_names_the_resource_and_waits_for_the_rollback() {
    let rules = failing_execution(
        "mst-prod-pipeline",
        ResourceStatus::CreateFailed,
        StackStatus::RollbackInProgress,
        StackStatus::RollbackComplete,
    );
    let cfn = client!(aws_sdk_cloudformation, &rules);
    let error = engine::apply::execute(
        &cfn,
        &plan("mst-prod-pipeline", true),
        Duration::from_secs(5),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with(
            "mst-prod-pipeline in eu-west-1 ended ROLLBACK_COMPLETE; first failure: Transform"
        ),
        "{text}"
    );
    assert!(
        text.contains("CREATE_FAILED: Memory size 20000 is above the limit"),
        "{text}"
    );
    assert_eq!(rules[1].num_calls(), 2);
}

/// Records what the CLI would print: plans and operations, and (apart) the parameter changes
/// the plans show.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>, Mutex<Vec<String>>);

impl Observer for Recorder {
    fn plan(&self, region: &Region, plan: &Plan) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{region} plan {}", plan.stack));
        self.1
            .lock()
            .unwrap()
            .extend(plan.parameters.iter().map(|p| format!("{region} {p}")));
    }
    fn started(&self, region: &Region, stack: &str, _total: usize) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{region} started {stack}"));
    }
    fn event(&self, _region: &Region, _stack: &str, _event: &engine::events::StackEvent) {}
    fn finished(&self, region: &Region, stack: &str, outcome: &Result<Applied, String>) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{region} finished {stack}: {outcome:?}"));
    }
    fn note(&self, _region: &Region, _text: &str) {}
}

struct Yes;

impl Approver for Yes {
    fn approve(&self, _region: &Region, _plan: &Plan) -> Result<bool, String> {
        Ok(true)
    }
}

/// A region whose artifacts stack is unchanged, whose artifacts are present, and whose pipeline
/// update fails (`fail`) or succeeds after `busy_polls` polls in progress. Returns the clients and
/// the `CreateChangeSet` rule (to count whether the region was started).
fn region(
    env: &Environment,
    output: &synth::RegionOutput,
    fail: bool,
    busy_polls: usize,
) -> (RegionClients, Rule) {
    region_holding(env, output, fail, busy_polls, None)
}

/// The object version the mocked bucket reports for an artifact.
fn version_of(parameter: ArtifactParameter) -> String {
    format!("v-{}", parameter.crate_name())
}
/// `HeadObject` rules for a bucket holding every artifact (with its SHA-256 checksum, at
/// [`version_of`]), except `planted`, whose object holds other bytes. The rules only answer
/// requests that ask for the checksum.
fn bucket_holding(artifacts: &[Artifact], planted: Option<ArtifactParameter>) -> Vec<Rule> {
    artifacts
        .iter()
        .map(|artifact| {
            let key = artifact.key();
            let checksum = if planted == Some(artifact.parameter) {
                engine::artifacts::sha256_base64(b"planted")
            } else {
                artifact.checksum_sha256.clone()
            };
            let version = version_of(artifact.parameter);
            mock!(aws_sdk_s3::Client::head_object)
                .match_requests(move |r| {
                    r.key() == Some(key.as_str())
                        && r.checksum_mode() == Some(&ChecksumMode::Enabled)
                })
                .then_output(move || {
                    HeadObjectOutput::builder()
                        .checksum_sha256(checksum.clone())
                        .version_id(version.clone())
                        .build()
                })
        })
        .collect()
}

/// [`region`] whose bucket holds other bytes at `planted`'s key.
fn region_holding(
    env: &Environment,
    output: &synth::RegionOutput,
    fail: bool,
    busy_polls: usize,
    planted: Option<ArtifactParameter>,
) -> (RegionClients, Rule) {
    let mocked = mocked(
        env,
        output,
        &Script {
            failure: fail.then_some(Failure::Resource),
            busy_polls,
            planted,
            ..Script::default()
        },
    );
    (mocked.clients, mocked.create)
}

/// How a pipeline update ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// A resource fails (`Transform`: `Role is not authorized`), and the stack rolls back.
    Resource,
    /// No resource fails: a rollback trigger (an alarm) rolls the update back.
    AlarmRollback,
}

/// What a mocked region does.
#[derive(Debug, Clone)]
struct Script {
    /// How the pipeline update ends (`None`: it succeeds).
    failure: Option<Failure>,
    /// Polls in progress before the update settles.
    busy_polls: usize,
    /// An artifact whose object in the bucket holds other bytes.
    planted: Option<ArtifactParameter>,
    /// The pipeline already carries this rollout's plan (hash tags, parameters, `UPDATE_COMPLETE`).
    done: bool,
    /// The account STS reports.
    account: &'static str,
    /// `DescribeAlarms` calls answered with every alarm `OK` before one is in `ALARM`
    /// (`None`: never; the alarms exist and stay `OK`).
    alarm_after: Option<usize>,
    /// With `done`: the AMI the pipeline was deployed with, when not what `latest` is now.
    deployed_image: Option<&'static str>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            failure: None,
            busy_polls: 0,
            planted: None,
            done: false,
            account: "444455556666",
            alarm_after: None,
            deployed_image: None,
        }
    }
}

/// A mocked region and the rules a test counts.
struct Mocked {
    clients: RegionClients,
    /// `CreateChangeSet` (whether the pipeline was started).
    create: Rule,
    /// `DescribeAlarms` (rollback triggers, bake).
    alarms: Rule,
    /// `DescribeStacks` of the artifacts stack (whether the region was touched at all).
    artifacts_described: Rule,
    /// SSM `GetParameter` of the scraper's `latest` AMI.
    resolve: crate::ssm::Ssm,
}

/// The pipeline's alarms as `DescribeAlarms` lists them; `firing` is in `ALARM`.
fn alarms_output(
    env: &Environment,
    region: &str,
    firing: Option<&str>,
) -> aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput {
    use aws_sdk_cloudwatch::types::{MetricAlarm, StateValue};
    let alarms = stacks::pipeline::alarm_names(env)
        .into_iter()
        .map(|name| {
            let state = if firing == Some(name.as_str()) {
                StateValue::Alarm
            } else {
                StateValue::Ok
            };
            MetricAlarm::builder()
                .alarm_arn(stacks::pipeline::alarm_arn(
                    env.account.as_str(),
                    region,
                    &name,
                ))
                .alarm_name(name)
                .state_reason("Threshold Crossed: 1 datapoint [3.0] was greater than or equal to the threshold (1.0)")
                .state_value(state)
                .build()
        })
        .collect();
    aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput::builder()
        .set_metric_alarms(Some(alarms))
        .build()
}

/// The alarm the tests make fire.
const FIRING: &str = "mst-prod-transform-errors";

fn mocked(env: &Environment, output: &synth::RegionOutput, script: &Script) -> Mocked {
    let fail = script.failure.is_some();
    let busy_polls = script.busy_polls;
    let planted = script.planted;
    let artifacts_stack = deploy::stack_of(output, StackKind::Artifacts).unwrap();
    let pipeline_name = deploy::stack_of(output, StackKind::Pipeline)
        .unwrap()
        .name
        .clone();
    let artifacts_name = artifacts_stack.name.clone();
    let artifacts_body = artifacts_stack.compact.clone();
    // Deployed as the spec says: the tags carry the template's and parameters' hashes.
    let tags: Vec<(String, String)> = deploy::spec(env, output, StackKind::Artifacts, None, None)
        .unwrap()
        .tags
        .into_iter()
        .collect();

    let artifacts_described = {
        let (name, tags) = (artifacts_name.clone(), tags.clone());
        mock!(aws_sdk_cloudformation::Client::describe_stacks)
            .match_requests({
                let name = name.clone();
                move |r| r.stack_name() == Some(name.as_str())
            })
            .then_output(move || {
                DescribeStacksOutput::builder()
                    .stacks(stack(&name, StackStatus::CreateComplete, &tags))
                    .build()
            })
    };
    let artifacts_template = {
        let name = artifacts_name.clone();
        mock!(aws_sdk_cloudformation::Client::get_template)
            .match_requests(move |r| r.stack_name() == Some(name.as_str()))
            .then_output(move || {
                GetTemplateOutput::builder()
                    .template_body(artifacts_body.clone())
                    .build()
            })
    };
    let pipeline_template = mock!(aws_sdk_cloudformation::Client::get_template)
        .then_output(|| GetTemplateOutput::builder().template_body("{}").build());
    // Deployed with `deployed_image` when the script says so, else with what `latest` is now.
    let latest = image_in(output.region.as_str());
    let deployed_image = script.deployed_image.map_or(latest.clone(), str::to_owned);
    let pipeline_spec = deploy::spec(
        env,
        output,
        StackKind::Pipeline,
        Some(&pinned(&artifacts(), &deployed_image)),
        None,
    )
    .unwrap();
    let executed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pipeline_described = if script.done {
        let (name, spec) = (pipeline_name.clone(), pipeline_spec.clone());
        mock!(aws_sdk_cloudformation::Client::describe_stacks)
            .match_requests({
                let name = name.clone();
                move |r| r.stack_name() == Some(name.as_str())
            })
            .then_output(move || {
                let tags: Vec<(String, String)> = spec.tags.clone().into_iter().collect();
                let mut done = stack(&name, StackStatus::UpdateComplete, &tags);
                done.parameters = Some(
                    spec.parameters
                        .iter()
                        .map(|(k, v)| {
                            aws_sdk_cloudformation::types::Parameter::builder()
                                .parameter_key(k)
                                .parameter_value(v)
                                .build()
                        })
                        .collect(),
                );
                DescribeStacksOutput::builder().stacks(done).build()
            })
    } else {
        let name = pipeline_name.clone();
        let alarm_rollback = script.failure == Some(Failure::AlarmRollback);
        let final_status = if fail {
            StackStatus::UpdateRollbackComplete
        } else {
            StackStatus::UpdateComplete
        };
        // Settled before the change set is executed (however often it is read), then in progress
        // for `busy_polls` reads, then settled in `final_status`.
        let executed = executed.clone();
        let polls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        mock!(aws_sdk_cloudformation::Client::describe_stacks).then_output(move || {
            use std::sync::atomic::Ordering::SeqCst;
            let status = if !executed.load(SeqCst) {
                StackStatus::UpdateComplete
            } else if polls.fetch_add(1, SeqCst) < busy_polls {
                StackStatus::UpdateInProgress
            } else {
                final_status.clone()
            };
            let mut described = stack(&name, status.clone(), &[]);
            if alarm_rollback && status == StackStatus::UpdateRollbackComplete {
                described.stack_status_reason = Some(format!(
                    "The following rollback trigger(s) went into ALARM state: [{FIRING}]"
                ));
            }
            DescribeStacksOutput::builder().stacks(described).build()
        })
    };
    let alarm_rollback = script.failure == Some(Failure::AlarmRollback);
    let pipeline_events = {
        let name = pipeline_name.clone();
        mock!(aws_sdk_cloudformation::Client::describe_stack_events)
            .sequence()
            .output({
                let name = name.clone();
                move || {
                    events(vec![event(
                        "e0",
                        &name,
                        &name,
                        "AWS::CloudFormation::Stack",
                        ResourceStatus::UpdateComplete,
                        None,
                    )])
                }
            })
            .output(move || {
                let mut list = vec![event(
                    "e0",
                    &name,
                    &name,
                    "AWS::CloudFormation::Stack",
                    ResourceStatus::UpdateComplete,
                    None,
                )];
                if fail && !alarm_rollback {
                    list.insert(
                        0,
                        event(
                            "e1",
                            &name,
                            "Transform",
                            "AWS::Lambda::Function",
                            ResourceStatus::UpdateFailed,
                            Some("Role is not authorized"),
                        ),
                    );
                }
                events(list)
            })
            .repeatedly()
            .build()
    };
    // The pipeline's change set carries the rollback triggers (every alarm, as they exist) and the
    // environment's monitoring time.
    let (trigger_arns, monitoring) = (
        stacks::pipeline::rollback_alarm_names(env)
            .iter()
            .map(|n| stacks::pipeline::alarm_arn(env.account.as_str(), output.region.as_str(), n))
            .collect::<Vec<_>>(),
        i32::try_from(env.rollout.monitoring_minutes).unwrap(),
    );
    // ... and the AMI `latest` resolved to in the region, as a plain image id.
    let image = latest.clone();
    let create = mock!(aws_sdk_cloudformation::Client::create_change_set)
        .match_requests(move |r| {
            let Some(rollback) = r.rollback_configuration() else {
                return false;
            };
            let passed_image = r.parameters().iter().find_map(|p| {
                (p.parameter_key() == Some(SCRAPER_IMAGE_PARAMETER))
                    .then(|| p.parameter_value())
                    .flatten()
            });
            if passed_image != Some(image.as_str()) {
                return false;
            }
            let arns: Vec<&str> = rollback
                .rollback_triggers()
                .iter()
                .filter_map(|t| t.arn())
                .collect();
            arns == trigger_arns
                && rollback
                    .rollback_triggers()
                    .iter()
                    .all(|t| t.r#type() == Some("AWS::CloudWatch::Alarm"))
                && rollback.monitoring_time_in_minutes() == Some(monitoring)
        })
        .then_output(|| CreateChangeSetOutput::builder().id("cs-1").build());
    let describe_change_set = mock!(aws_sdk_cloudformation::Client::describe_change_set)
        .then_output(|| {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateComplete)
                .changes(
                    Change::builder()
                        .resource_change(
                            ResourceChange::builder()
                                .action(ChangeAction::Modify)
                                .logical_resource_id("Transform")
                                .resource_type("AWS::Lambda::Function")
                                .replacement(Replacement::False)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let execute = mock!(aws_sdk_cloudformation::Client::execute_change_set).then_output({
        let executed = executed.clone();
        move || {
            executed.store(true, std::sync::atomic::Ordering::SeqCst);
            ExecuteChangeSetOutput::builder().build()
        }
    });
    let mut heads = bucket_holding(&artifacts(), planted);
    // The scraper's shard configurations are already stored too (with their checksums).
    for file in stacks::pipeline::shard_configurations(env, output.region.as_str()).unwrap() {
        let checksum = engine::artifacts::sha256_base64(&file.bytes);
        heads.push(
            mock!(aws_sdk_s3::Client::head_object)
                .match_requests(move |r| {
                    r.key() == Some(file.key.as_str())
                        && r.checksum_mode() == Some(&ChecksumMode::Enabled)
                })
                .then_output(move || {
                    HeadObjectOutput::builder()
                        .checksum_sha256(checksum.clone())
                        .version_id("config-v1")
                        .build()
                }),
        );
    }
    // The pipeline template is over the inline limit, so it goes through the bucket, where it is
    // already stored (with its checksum).
    let pipeline_body = deploy::stack_of(output, StackKind::Pipeline)
        .unwrap()
        .compact
        .clone();
    heads.push(
        mock!(aws_sdk_s3::Client::head_object)
            .match_requests(|r| {
                r.key().is_some_and(|k| k.starts_with("templates/"))
                    && r.checksum_mode() == Some(&ChecksumMode::Enabled)
            })
            .then_output(move || {
                HeadObjectOutput::builder()
                    .checksum_sha256(engine::artifacts::sha256_base64(pipeline_body.as_bytes()))
                    .version_id("v-template")
                    .build()
            }),
    );
    let cfn = client!(
        aws_sdk_cloudformation,
        [
            &artifacts_described,
            &artifacts_template,
            &pipeline_template,
            &pipeline_described,
            &pipeline_events,
            &create,
            &describe_change_set,
            &execute,
        ]
    );
    let account = script.account;
    let sts = mock!(aws_sdk_sts::Client::get_caller_identity).then_output(move || {
        aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput::builder()
            .account(account)
            .arn(format!("arn:aws:sts::{account}:assumed-role/deployer/ci"))
            .build()
    });
    let region_name = output.region.as_str().to_owned();
    let resolve = crate::ssm::holding(&latest);
    let alarms = {
        let mut sequence = mock!(aws_sdk_cloudwatch::Client::describe_alarms).sequence();
        let (quiet, firing) = match script.alarm_after {
            None => (1, None),
            Some(n) => (n, Some(FIRING)),
        };
        for _ in 0..quiet {
            let (env, region) = (env.clone(), region_name.clone());
            sequence = sequence.output(move || alarms_output(&env, &region, None));
        }
        let (env, region) = (env.clone(), region_name.clone());
        sequence
            .output(move || alarms_output(&env, &region, firing))
            .repeatedly()
            .build()
    };
    let clients = RegionClients {
        region: output.region.clone(),
        cloudformation: cfn,
        s3: client!(aws_sdk_s3, &heads),
        kms: crate::kms::unused(),
        sns: client!(aws_sdk_sns, Vec::<&Rule>::new()),
        secretsmanager: client!(aws_sdk_secretsmanager, Vec::<&Rule>::new()),

        sts: client!(aws_sdk_sts, [&sts]),
        cloudwatch: client!(aws_sdk_cloudwatch, [&alarms]),
        ssm: resolve.client.clone(),
        autoscaling: crate::autoscaling::unused(),
        credentials: "profile `ci`".to_owned(),
    };
    Mocked {
        clients,
        create,
        alarms,
        artifacts_described,
        resolve,
    }
}

fn artifacts() -> Vec<Artifact> {
    ArtifactParameter::ALL
        .iter()
        .map(|&p| Artifact::new(p, p.crate_name().as_bytes().to_vec()))
        .collect()
}

/// The AMI SSM's public `latest` parameter names in `region` (AMI ids differ per region).
fn image_in(region: &str) -> String {
    match region {
        "eu-west-1" => "ami-0e1f2a3b4c5d6e7f8",
        "eu-central-1" => "ami-0c1d2e3f4a5b6c7d8",
        _ => "ami-0a1b2c3d4e5f6a7b8",
    }
    .to_owned()
}

/// What a pipeline is pinned to: `artifacts` as [`stored`] finds them, and `image`.
fn pinned(artifacts: &[Artifact], image: &str) -> Pinned {
    Pinned {
        artifacts: stored(artifacts),
        scraper_image: image.to_owned(),
    }
}

/// The artifacts as present in a bucket at [`version_of`].
fn stored(artifacts: &[Artifact]) -> Vec<StoredArtifact> {
    artifacts
        .iter()
        .map(|a| StoredArtifact {
            parameter: a.parameter,
            object: Stored {
                key: a.key(),
                version_id: Some(version_of(a.parameter)),
                uploaded: false,
            },
            source_sha256: None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_failed_canary_stops_later_waves() {
    let env = prod();
    let synthesis = synth::synthesize(&env, None).unwrap();
    let regions: Vec<_> = synthesis
        .regions
        .iter()
        .enumerate()
        .map(|(i, r)| (r, region(&env, r, i == 0, 0)))
        .collect();
    let artifacts = artifacts();
    let up = Up {
        env: &env,
        regions: regions.iter().map(|(r, (c, _))| (*r, c.clone())).collect(),
        dr: None,
        artifacts: &artifacts,
        parallel: 2,
        settings: Settings {
            poll: Duration::from_secs(5),
            bake_poll: Duration::from_secs(30),
        },
        gate: None,
        resume: false,
    };
    let recorder = Recorder::default();
    let results = deploy::up(&up, &Yes, &recorder).await;
    let names: Vec<(&str, &RegionResult)> = results.iter().map(|(r, x)| (r.as_str(), x)).collect();
    assert_eq!(names[0].0, "eu-west-1");
    let RegionResult::Failed(why) = names[0].1 else {
        panic!("canary should fail: {names:?}")
    };
    assert!(
        why.contains("Transform (AWS::Lambda::Function) UPDATE_FAILED: Role is not authorized"),
        "{why}"
    );
    assert_eq!(names[1], ("eu-central-1", &RegionResult::NotStarted));
    assert_eq!(names[2], ("us-east-1", &RegionResult::NotStarted));
    assert_eq!(
        regions[1].1.1.num_calls(),
        0,
        "no change set in a later wave"
    );
    assert_eq!(regions[2].1.1.num_calls(), 0);
    assert_eq!(exit_code(&results), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failure_in_a_parallel_wave_lets_the_running_region_finish() {
    let env = prod();
    let synthesis = synth::synthesize(&env, None).unwrap();
    // eu-central-1 fails at once; us-east-1, in the same wave, takes three more polls.
    let regions: Vec<_> = synthesis
        .regions
        .iter()
        .enumerate()
        .map(|(i, r)| (r, region(&env, r, i == 1, if i == 2 { 3 } else { 0 })))
        .collect();
    let artifacts = artifacts();
    let up = Up {
        env: &env,
        regions: regions.iter().map(|(r, (c, _))| (*r, c.clone())).collect(),
        dr: None,
        artifacts: &artifacts,
        parallel: 2,
        settings: Settings {
            poll: Duration::from_secs(5),
            bake_poll: Duration::from_secs(30),
        },
        gate: None,
        resume: false,
    };
    let recorder = Recorder::default();
    let results = deploy::up(&up, &Yes, &recorder).await;
    assert_eq!(results[0].1, RegionResult::Changed);
    assert!(
        matches!(&results[1].1, RegionResult::Failed(why) if why.contains("Role is not authorized"))
    );
    assert_eq!(
        results[2].1,
        RegionResult::Changed,
        "the running region finished"
    );
    assert_eq!(exit_code(&results), 1);
    let lines = recorder.0.lock().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("us-east-1 finished mst-prod-pipeline: Ok")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_large_template_goes_through_the_artifacts_bucket_once() {
    let absent = mock!(aws_sdk_s3::Client::head_object).then_error(|| {
        aws_sdk_s3::operation::head_object::HeadObjectError::NotFound(
            aws_sdk_s3::types::error::NotFound::builder().build(),
        )
    });
    let put = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| {
            r.bucket() == Some("artifacts-bucket")
                && r.key()
                    .is_some_and(|k| k.starts_with("templates/mst-prod-pipeline/"))
                && r.checksum_algorithm() == Some(&ChecksumAlgorithm::Sha256)
                && r.checksum_sha256().is_some()
        })
        .then_output(|| PutObjectOutput::builder().build());
    let env = prod();
    let synthesis = synth::synthesize(&env, None).unwrap();
    let clients = RegionClients {
        region: synthesis.regions[0].region.clone(),
        cloudformation: client!(aws_sdk_cloudformation, Vec::<&Rule>::new()),
        s3: client!(aws_sdk_s3, [&absent, &put]),
        kms: crate::kms::unused(),
        sns: client!(aws_sdk_sns, Vec::<&Rule>::new()),
        secretsmanager: client!(aws_sdk_secretsmanager, Vec::<&Rule>::new()),

        sts: client!(aws_sdk_sts, Vec::<&Rule>::new()),
        cloudwatch: client!(aws_sdk_cloudwatch, Vec::<&Rule>::new()),
        ssm: crate::ssm::unused(),
        autoscaling: crate::autoscaling::unused(),
        credentials: "profile `ci`".to_owned(),
    };
    let mut spec = deploy::spec(
        &env,
        &synthesis.regions[0],
        StackKind::Pipeline,
        Some(&pinned(&artifacts(), "ami-0a1b2c3d4e5f6a7b8")),
        None,
    )
    .unwrap();
    let large_body = spec.body.clone();
    spec.body = "{\"Resources\": {}}".to_owned();
    assert_eq!(
        deploy::template_location(&clients, "artifacts-bucket", &spec)
            .await
            .unwrap(),
        change_set::TemplateLocation::Body,
        "a template under 51,200 bytes goes inline"
    );
    assert!(
        large_body.len() > synth::INLINE_TEMPLATE_BYTES,
        "the prod pipeline template is over the inline limit ({} bytes)",
        large_body.len()
    );
    spec.body = format!("{{\"Description\": \"{}\"}}", "x".repeat(60_000));
    let location = deploy::template_location(&clients, "artifacts-bucket", &spec)
        .await
        .unwrap();
    let sha = engine::artifacts::sha256_hex(spec.body.as_bytes());
    assert_eq!(
        location,
        change_set::TemplateLocation::Url(format!(
            "https://artifacts-bucket.s3.eu-west-1.amazonaws.com/templates/mst-prod-pipeline/{sha}.json"
        ))
    );
    assert_eq!(put.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_planted_artifact_stops_up_before_any_pipeline_change() {
    let env = prod();
    let synthesis = synth::synthesize(&env, None).unwrap();
    // The canary's bucket holds other bytes at the notify zip's key; the other regions are clean.
    let regions: Vec<_> = synthesis
        .regions
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let planted = (i == 0).then_some(ArtifactParameter::Notify);
            (r, region_holding(&env, r, false, 0, planted))
        })
        .collect();
    let artifacts = artifacts();
    let up = Up {
        env: &env,
        regions: regions.iter().map(|(r, (c, _))| (*r, c.clone())).collect(),
        dr: None,
        artifacts: &artifacts,
        parallel: 2,
        settings: Settings {
            poll: Duration::from_secs(5),
            bake_poll: Duration::from_secs(30),
        },
        gate: None,
        resume: false,
    };
    let results = deploy::up(&up, &Yes, &Recorder::default()).await;
    let RegionResult::Failed(why) = &results[0].1 else {
        panic!("the canary must refuse: {results:?}")
    };
    let notify = artifacts
        .iter()
        .find(|a| a.parameter == ArtifactParameter::Notify)
        .unwrap();
    assert!(
        why.contains(&format!(
            "s3://mst-prod-artifacts-444455556666-eu-west-1/{} (the notify artifact) has SHA-256 checksum {}, but the local artifact's SHA-256 is {}",
            notify.key(),
            engine::artifacts::sha256_base64(b"planted"),
            notify.checksum_sha256
        )),
        "{why}"
    );
    assert!(why.contains("replaced or planted"), "{why}");
    for (_, (_, create_change_set)) in &regions {
        assert_eq!(
            create_change_set.num_calls(),
            0,
            "no pipeline change set in any region"
        );
    }
    assert_eq!(results[1].1, RegionResult::NotStarted);
    assert_eq!(results[2].1, RegionResult::NotStarted);
    assert_eq!(exit_code(&results), 1);
}

#[tokio::test]
async fn present_artifacts_are_pinned_to_the_checked_version_and_missing_ones_uploaded_with_their_checksum()
 {
    let artifacts = artifacts();
    let (present, missing) = (&artifacts[0], &artifacts[1]);
    let mut rules = bucket_holding(std::slice::from_ref(present), None);
    let missing_key = missing.key();
    rules.push(
        mock!(aws_sdk_s3::Client::head_object)
            .match_requests(move |r| r.key() == Some(missing_key.as_str()))
            .then_error(|| {
                aws_sdk_s3::operation::head_object::HeadObjectError::NotFound(
                    aws_sdk_s3::types::error::NotFound::builder().build(),
                )
            }),
    );
    let (key, checksum) = (missing.key(), missing.checksum_sha256.clone());
    let put = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(move |r| {
            r.key() == Some(key.as_str())
                && r.checksum_algorithm() == Some(&ChecksumAlgorithm::Sha256)
                && r.checksum_sha256() == Some(checksum.as_str())
        })
        .then_output(|| PutObjectOutput::builder().version_id("v-new").build());
    rules.push(put.clone());
    let s3 = client!(aws_sdk_s3, &rules);
    let stored = engine::artifacts::store_all(&s3, "eu-west-1", "b", &artifacts[..2])
        .await
        .unwrap();
    assert_eq!(put.num_calls(), 1, "only the missing artifact is uploaded");
    assert_eq!(
        stored
            .iter()
            .map(|a| (a.object.version_id.as_deref(), a.object.uploaded))
            .collect::<Vec<_>>(),
        [(Some("v-transform"), false), (Some("v-new"), true)]
    );
    // The pipeline's parameters pin exactly those versions.
    let env = prod();
    let synthesis = synth::synthesize(&env, None).unwrap();
    let mut all = stored.clone();
    all.extend(self::stored(&artifacts[2..]));
    let pinned = Pinned {
        artifacts: all,
        scraper_image: "ami-1a2b3c4d".into(),
    };
    let spec = deploy::spec(
        &env,
        &synthesis.regions[0],
        StackKind::Pipeline,
        Some(&pinned),
        None,
    )
    .unwrap();
    assert_eq!(spec.parameters[SCRAPER_IMAGE_PARAMETER], "ami-1a2b3c4d");
    assert_eq!(spec.parameters["TransformCodeVersion"], "v-transform");
    assert_eq!(spec.parameters["ToParquetCodeVersion"], "v-new");
    assert_eq!(spec.parameters["TransformCodeKey"], artifacts[0].key());
    assert_eq!(
        spec.parameters["ArtifactsBucket"],
        "mst-prod-artifacts-444455556666-eu-west-1"
    );
}

#[tokio::test]
async fn an_object_without_a_checksum_or_version_is_refused() {
    let artifact = &artifacts()[0];
    let key = artifact.key();
    let unchecked = mock!(aws_sdk_s3::Client::head_object)
        .then_output(|| HeadObjectOutput::builder().version_id("v1").build());
    let put =
        mock!(aws_sdk_s3::Client::put_object).then_output(|| PutObjectOutput::builder().build());
    let s3 = client!(aws_sdk_s3, [&unchecked, &put]);
    let error = engine::artifacts::store_all(&s3, "eu-west-1", "b", std::slice::from_ref(artifact))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains(&format!(
            "s3://b/{key} (the transform artifact) has no SHA-256 checksum"
        )),
        "{error}"
    );
    assert_eq!(put.num_calls(), 0, "nothing is overwritten");

    // A bucket without versioning gives nothing to pin: refused too.
    let checksum = artifact.checksum_sha256.clone();
    let no_version = mock!(aws_sdk_s3::Client::head_object).then_output(move || {
        HeadObjectOutput::builder()
            .checksum_sha256(checksum.clone())
            .build()
    });
    let s3 = client!(aws_sdk_s3, [&no_version]);
    let error = engine::artifacts::store_all(&s3, "eu-west-1", "b", std::slice::from_ref(artifact))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("versioning is off"), "{error}");
}

/// After `up`: the next steps read the deployed stack's resources, the secret's versions (never its
/// value) and the topic's subscriptions, as AWS returns them for a first deploy.
#[tokio::test]
async fn next_steps_name_the_missing_token_and_the_unconfirmed_addresses() {
    use aws_sdk_cloudformation::operation::list_stack_resources::ListStackResourcesOutput;
    use aws_sdk_cloudformation::types::StackResourceSummary;
    use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
    use aws_sdk_sns::operation::list_subscriptions_by_topic::ListSubscriptionsByTopicOutput;
    use aws_sdk_sns::types::Subscription;
    use engine::next_steps::{Token, next_steps};

    let env = prod();
    let synthesis = synth::synthesize(&env, None).unwrap();
    let region = &synthesis.regions[0];
    let pipeline = deploy::stack_of(region, StackKind::Pipeline).unwrap();
    let secret = "arn:aws:secretsmanager:eu-west-1:444455556666:secret:InfluxTokenSecret-x1";
    let topic = "arn:aws:sns:eu-west-1:444455556666:mst-prod-alerts";
    let resource = |logical: &str, kind: &str, physical: &str| {
        StackResourceSummary::builder()
            .logical_resource_id(logical)
            .resource_type(kind)
            .physical_resource_id(physical)
            .resource_status(ResourceStatus::CreateComplete)
            .last_updated_timestamp(DateTime::from_secs(0))
            .build()
    };
    // The e-mail subscriptions, as AWS makes them (moto skips the type).
    let subscription_ids: Vec<String> = pipeline.json["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::SNS::Subscription")
        .map(|(id, _)| id.clone())
        .collect();
    assert!(!subscription_ids.is_empty());
    let listed = mock!(aws_sdk_cloudformation::Client::list_stack_resources)
        .match_requests(|r| r.stack_name() == Some("mst-prod-pipeline"))
        .then_output(move || {
            let subscriptions = subscription_ids
                .iter()
                .map(|id| resource(id, "AWS::SNS::Subscription", &format!("{topic}:{id}")));
            ListStackResourcesOutput::builder()
                .set_stack_resource_summaries(Some(subscriptions.collect()))
                .stack_resource_summaries(resource(
                    "InfluxTokenSecret",
                    "AWS::SecretsManager::Secret",
                    secret,
                ))
                .stack_resource_summaries(resource("AlertTopic", "AWS::SNS::Topic", topic))
                .stack_resource_summaries(resource(
                    "ScraperShard0",
                    "AWS::AutoScaling::AutoScalingGroup",
                    "mst-prod-pipeline-ScraperShard0-AbC",
                ))
                .build()
        });
    // A secret made without a value has no versions.
    let described = mock!(aws_sdk_secretsmanager::Client::describe_secret)
        .match_requests(move |r| r.secret_id() == Some(secret))
        .then_output(|| DescribeSecretOutput::builder().build());
    let emails = env.alerts.emails.clone();
    assert!(emails.len() >= 2, "prod has several alert addresses");
    let subscriptions = mock!(aws_sdk_sns::Client::list_subscriptions_by_topic)
        .match_requests(move |r| r.topic_arn() == Some(topic))
        .then_output(move || {
            ListSubscriptionsByTopicOutput::builder()
                .subscriptions(
                    Subscription::builder()
                        .protocol("email")
                        .endpoint(&emails[0])
                        .subscription_arn("PendingConfirmation")
                        .build(),
                )
                .subscriptions(
                    Subscription::builder()
                        .protocol("email")
                        .endpoint(emails[1].to_uppercase())
                        .subscription_arn(format!("{topic}:0f1e2d3c"))
                        .build(),
                )
                .build()
        });
    let clients = RegionClients {
        region: region.region.clone(),
        cloudformation: client!(aws_sdk_cloudformation, [&listed]),
        s3: client!(aws_sdk_s3, Vec::<&Rule>::new()),
        kms: crate::kms::unused(),
        sns: client!(aws_sdk_sns, [&subscriptions]),
        secretsmanager: client!(aws_sdk_secretsmanager, [&described]),
        sts: client!(aws_sdk_sts, Vec::<&Rule>::new()),
        cloudwatch: client!(aws_sdk_cloudwatch, Vec::<&Rule>::new()),
        ssm: crate::ssm::unused(),
        autoscaling: crate::autoscaling::unused(),
        credentials: "profile `ci`".to_owned(),
    };
    let steps = next_steps(&clients, &env, &pipeline.name, &pipeline.json)
        .await
        .unwrap();
    assert_eq!(
        steps.token,
        Token::Missing {
            secret: secret.into()
        }
    );
    assert_eq!(
        steps.scraper_groups,
        vec!["mst-prod-pipeline-ScraperShard0-AbC".to_owned()]
    );
    let states: Vec<Option<bool>> = steps.subscriptions.iter().map(|s| s.confirmed).collect();
    let mut expected = vec![Some(false), Some(true)];
    expected.resize(env.alerts.emails.len(), None);
    assert_eq!(states, expected, "addresses compare case-insensitively");
    let lines = steps.lines("prod");
    assert!(
        lines[0].ends_with(&format!(
            "aws secretsmanager put-secret-value --region eu-west-1 --secret-id {secret} --secret-string \"$INFLUX_TOKEN\""
        )),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "alert e-mails: {} must confirm",
            env.alerts.emails[0]
        )),
        "{lines:?}"
    );
}

/// `up` over prod's three regions, each mocked by its script.
struct Rollout {
    env: Environment,
    synthesis: synth::Synthesis,
}

impl Rollout {
    fn prod() -> Rollout {
        let env = prod();
        let synthesis = synth::synthesize(&env, None).unwrap();
        Rollout { env, synthesis }
    }

    fn mock(&self, scripts: [Script; 3]) -> Vec<Mocked> {
        self.synthesis
            .regions
            .iter()
            .zip(scripts)
            .map(|(r, script)| mocked(&self.env, r, &script))
            .collect()
    }

    async fn up(
        &self,
        regions: &[Mocked],
        parallel: usize,
        gate: Option<&dyn CanaryGate>,
        resume: bool,
    ) -> Vec<(Region, RegionResult)> {
        self.up_observed(regions, parallel, gate, resume, &Recorder::default())
            .await
    }

    async fn up_observed(
        &self,
        regions: &[Mocked],
        parallel: usize,
        gate: Option<&dyn CanaryGate>,
        resume: bool,
        recorder: &Recorder,
    ) -> Vec<(Region, RegionResult)> {
        let artifacts = artifacts();
        let up = Up {
            env: &self.env,
            regions: self
                .synthesis
                .regions
                .iter()
                .zip(regions)
                .map(|(r, m)| (r, m.clients.clone()))
                .collect(),
            dr: None,
            artifacts: &artifacts,
            parallel,
            settings: Settings {
                poll: Duration::from_secs(5),
                bake_poll: Duration::from_secs(30),
            },
            gate,
            resume,
        };
        deploy::up(&up, &Yes, recorder).await
    }
}

#[tokio::test(start_paused = true)]
async fn latest_is_resolved_once_per_region_and_an_unchanged_ami_is_a_no_op() {
    // Every pipeline already carries this rollout's plan, with the AMI `latest` names today.
    let rollout = Rollout::prod();
    let regions = rollout.mock([
        Script {
            done: true,
            ..Script::default()
        },
        Script {
            done: true,
            ..Script::default()
        },
        Script {
            done: true,
            ..Script::default()
        },
    ]);
    let recorder = Recorder::default();
    let results = rollout
        .up_observed(&regions, 2, None, false, &recorder)
        .await;
    assert!(
        results.iter().all(|(_, r)| *r == RegionResult::Unchanged),
        "{results:?}"
    );
    for region in &regions {
        assert_eq!(region.resolve.num_calls(), 1, "one GetParameter per region");
        assert_eq!(region.create.num_calls(), 0, "no change set for a no-op");
    }
    assert!(recorder.1.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_new_latest_ami_is_a_change_that_shows_the_scrapers_replacement() {
    // The canary was deployed with an older AMI; `latest` now names another one. The other
    // regions are current.
    let old = "ami-0123456789abcdef0";
    let rollout = Rollout::prod();
    let regions = rollout.mock([
        Script {
            done: true,
            deployed_image: Some(old),
            ..Script::default()
        },
        Script {
            done: true,
            ..Script::default()
        },
        Script {
            done: true,
            ..Script::default()
        },
    ]);
    let recorder = Recorder::default();
    let results = rollout
        .up_observed(&regions, 2, None, false, &recorder)
        .await;
    assert_eq!(
        results_of(&results),
        [
            ("eu-west-1", RegionResult::Changed),
            ("eu-central-1", RegionResult::Unchanged),
            ("us-east-1", RegionResult::Unchanged),
        ]
    );
    // The change set passes the id `latest` resolved to (the rule matches only that value).
    assert_eq!(regions[0].create.num_calls(), 1);
    assert_eq!(regions[1].create.num_calls(), 0);
    assert_eq!(
        *recorder.1.lock().unwrap(),
        [format!(
            "eu-west-1 ScraperImageId {old} → {}: replaces the scraper instances, one shard at a time",
            image_in("eu-west-1")
        )]
    );
}

#[tokio::test(start_paused = true)]
async fn latest_that_is_not_an_ami_id_is_refused_and_a_fixed_id_needs_no_ssm() {
    let resolve = crate::ssm::holding("not-an-image");
    let ssm = resolve.client.clone();
    let error = engine::image::resolve(&ssm, "eu-west-1", &prod())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the SSM parameter /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64 in eu-west-1 holds `not-an-image`, not an AMI id; set `scraper.ami` to an image id in environments/prod.yaml"
    );
    // A fixed id is used as it is, without asking SSM.
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments/prod.yaml"),
    )
    .unwrap()
    .replace("scraper:\n", "scraper:\n  ami: ami-0fedcba9876543210\n");
    let fixed = environment::parse("prod.yaml", &text).unwrap();
    let none = crate::ssm::unused();
    assert_eq!(
        engine::image::resolve(&none, "eu-west-1", &fixed)
            .await
            .unwrap(),
        "ami-0fedcba9876543210"
    );
    assert_eq!(resolve.num_calls(), 1);
}

fn results_of(results: &[(Region, RegionResult)]) -> Vec<(&str, RegionResult)> {
    results
        .iter()
        .map(|(r, x)| (r.as_str(), x.clone()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_wrong_account_in_any_region_refuses_the_rollout_before_any_change() {
    let rollout = Rollout::prod();
    let regions = rollout.mock([
        Script::default(),
        Script {
            account: "999988887777",
            ..Script::default()
        },
        Script::default(),
    ]);
    let results = rollout.up(&regions, 2, None, false).await;
    let results = results_of(&results);
    assert_eq!(results[0], ("eu-west-1", RegionResult::NotStarted));
    assert_eq!(
        results[1],
        (
            "eu-central-1",
            RegionResult::Failed(
                "refusing to deploy to eu-central-1: the credentials (profile `ci`: arn:aws:sts::999988887777:assumed-role/deployer/ci) are for account 999988887777, but environment `prod` deploys to account 444455556666; use the matching profile (--profile) or fix `account` in environments/prod.yaml".into()
            )
        )
    );
    assert_eq!(results[2], ("us-east-1", RegionResult::NotStarted));
    for region in &regions {
        assert_eq!(region.artifacts_described.num_calls(), 0, "no stack read");
        assert_eq!(region.create.num_calls(), 0, "no change set");
    }
    assert_eq!(exit_code(&rollout_results(&results)), 1);
}

/// Results with owned region names, for `exit_code`.
fn rollout_results(results: &[(&str, RegionResult)]) -> Vec<(String, RegionResult)> {
    results
        .iter()
        .map(|(r, x)| ((*r).to_owned(), x.clone()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn an_alarm_during_the_canarys_monitoring_time_rolls_it_back_and_starts_no_later_wave() {
    let rollout = Rollout::prod();
    // The alarms exist and are quiet when the change set is made (its rollback triggers, with
    // prod's 15 minutes of monitoring: the mock only accepts such a change set); then the
    // transform errors alarm fires and CloudFormation rolls the update back, no resource failed.
    let regions = rollout.mock([
        Script {
            failure: Some(Failure::AlarmRollback),
            alarm_after: Some(1),
            ..Script::default()
        },
        Script::default(),
        Script::default(),
    ]);
    let results = rollout.up(&regions, 2, None, false).await;
    let results = results_of(&results);
    let RegionResult::Failed(why) = &results[0].1 else {
        panic!("the canary is rolled back: {results:?}")
    };
    assert_eq!(
        why,
        "mst-prod-pipeline in eu-west-1 ended UPDATE_ROLLBACK_COMPLETE; first failure: mst-prod-pipeline (AWS::CloudFormation::Stack) UPDATE_ROLLBACK_COMPLETE: The following rollback trigger(s) went into ALARM state: [mst-prod-transform-errors]; rolled back by its rollback trigger (monitoring time 15 min): alarm(s) in ALARM: mst-prod-transform-errors (Threshold Crossed: 1 datapoint [3.0] was greater than or equal to the threshold (1.0))"
    );
    assert_eq!(
        regions[0].create.num_calls(),
        1,
        "one change set, with the triggers"
    );
    assert_eq!(results[1], ("eu-central-1", RegionResult::NotStarted));
    assert_eq!(results[2], ("us-east-1", RegionResult::NotStarted));
    assert_eq!(regions[1].create.num_calls(), 0);
    assert_eq!(regions[2].create.num_calls(), 0);
    assert_eq!(exit_code(&rollout_results(&results)), 1);
}

#[tokio::test(start_paused = true)]
async fn an_alarm_during_the_canarys_bake_halts_the_rollout() {
    let rollout = Rollout::prod();
    // One read for the rollback triggers, four quiet checks of the bake, then the alarm fires.
    let regions = rollout.mock([
        Script {
            alarm_after: Some(5),
            ..Script::default()
        },
        Script::default(),
        Script::default(),
    ]);
    let started = tokio::time::Instant::now();
    let results = rollout.up(&regions, 2, None, false).await;
    let results = results_of(&results);
    assert_eq!(
        results[0],
        (
            "eu-west-1",
            RegionResult::Halted(
                "alarm(s) in ALARM in the canary region eu-west-1 during its bake: mst-prod-transform-errors (Threshold Crossed: 1 datapoint [3.0] was greater than or equal to the threshold (1.0))".into()
            )
        )
    );
    assert_eq!(regions[0].create.num_calls(), 1, "the canary was deployed");
    assert_eq!(regions[0].alarms.num_calls(), 6);
    assert!(
        started.elapsed() >= Duration::from_secs(4 * 30),
        "the bake held the canary: {:?}",
        started.elapsed()
    );
    assert_eq!(results[1].1, RegionResult::NotStarted);
    assert_eq!(results[2].1, RegionResult::NotStarted);
    assert_eq!(regions[1].create.num_calls(), 0);
    assert_eq!(regions[2].create.num_calls(), 0);
    assert_eq!(exit_code(&rollout_results(&results)), 1);
}

/// A gate that records which regions it checked and fails when told to.
struct FakeGate {
    failure: Option<&'static str>,
    checked: Mutex<Vec<String>>,
}

impl CanaryGate for FakeGate {
    fn name(&self) -> String {
        "deployer verify".to_owned()
    }

    fn check<'a>(&'a self, region: &'a Region) -> GateFuture<'a> {
        Box::pin(async move {
            self.checked.lock().unwrap().push(region.to_string());
            match self.failure {
                Some(why) => Err(GateFailure(why.to_owned())),
                None => Ok(()),
            }
        })
    }
}

#[tokio::test(start_paused = true)]
async fn the_gate_runs_after_the_full_bake_and_a_failing_gate_halts_the_rollout() {
    let rollout = Rollout::prod();
    let regions = rollout.mock([Script::default(), Script::default(), Script::default()]);
    let gate = FakeGate {
        failure: Some("hop `influxdb`: no point for the canary quote after 60 s"),
        checked: Mutex::new(Vec::new()),
    };
    let started = tokio::time::Instant::now();
    let results = rollout.up(&regions, 2, Some(&gate), false).await;
    let results = results_of(&results);
    assert_eq!(
        results[0],
        (
            "eu-west-1",
            RegionResult::Halted(
                "deployer verify failed in the canary region eu-west-1: hop `influxdb`: no point for the canary quote after 60 s".into()
            )
        )
    );
    assert_eq!(*gate.checked.lock().unwrap(), ["eu-west-1"]);
    // prod bakes 30 minutes, alarms checked every 30 s (and once for the rollback triggers).
    assert!(started.elapsed() >= Duration::from_secs(30 * 60));
    assert_eq!(regions[0].alarms.num_calls(), 1 + 61);
    assert_eq!(results[1].1, RegionResult::NotStarted);
    assert_eq!(regions[1].create.num_calls(), 0);
    assert_eq!(exit_code(&rollout_results(&results)), 1);

    // A passing gate lets the next waves go.
    let regions = rollout.mock([Script::default(), Script::default(), Script::default()]);
    let gate = FakeGate {
        failure: None,
        checked: Mutex::new(Vec::new()),
    };
    let results = rollout.up(&regions, 2, Some(&gate), false).await;
    assert!(
        results.iter().all(|(_, r)| *r == RegionResult::Changed),
        "{results:?}"
    );
    assert_eq!(*gate.checked.lock().unwrap(), ["eu-west-1"]);
}

#[tokio::test(start_paused = true)]
async fn a_failure_in_wave_two_then_resume_deploys_only_the_failed_and_later_regions() {
    let rollout = Rollout::prod();
    // One region per wave: eu-west-1, then eu-central-1 (fails), then us-east-1.
    let regions = rollout.mock([
        Script::default(),
        Script {
            failure: Some(Failure::Resource),
            ..Script::default()
        },
        Script::default(),
    ]);
    let results = rollout.up(&regions, 1, None, false).await;
    let results = results_of(&results);
    assert_eq!(results[0], ("eu-west-1", RegionResult::Changed));
    assert!(
        matches!(&results[1].1, RegionResult::Failed(why) if why.contains("Role is not authorized")),
        "{results:?}"
    );
    assert_eq!(results[2], ("us-east-1", RegionResult::NotStarted));
    assert_eq!(regions[0].alarms.num_calls(), 1 + 61, "the canary baked");

    // The cause is fixed; `up --resume`: the canary carries the plan and is skipped, not baked
    // again (its alarms checked once), the failed and the later region are deployed.
    let regions = rollout.mock([
        Script {
            done: true,
            ..Script::default()
        },
        Script::default(),
        Script::default(),
    ]);
    let results = rollout.up(&regions, 1, None, true).await;
    assert_eq!(
        results_of(&results),
        [
            ("eu-west-1", RegionResult::Unchanged),
            ("eu-central-1", RegionResult::Changed),
            ("us-east-1", RegionResult::Changed),
        ]
    );
    assert_eq!(
        regions[0].create.num_calls(),
        0,
        "the finished canary is not redeployed"
    );
    assert_eq!(regions[0].alarms.num_calls(), 1, "no second bake");
    assert_eq!(regions[1].create.num_calls(), 1);
    assert_eq!(regions[2].create.num_calls(), 1);
    assert_eq!(exit_code(&results), 0);
}

/// The pipeline is given exactly the parameters its template declares: the vpn-connect code where
/// the region has a VPN (prod), none of it where it does not (local), so CloudFormation never
/// meets an undeclared parameter.
#[test]
fn the_pipeline_gets_exactly_the_parameters_its_template_declares() {
    let mut local = environment::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments/local.yaml"),
    )
    .unwrap();
    local.dr = None;
    for env in [prod(), local] {
        let synthesis = synth::synthesize(&env, None).unwrap();
        for output in &synthesis.regions {
            let spec = deploy::spec(
                &env,
                output,
                StackKind::Pipeline,
                Some(&pinned(&artifacts(), "ami-0a1b2c3d4e5f6a7b8")),
                None,
            )
            .unwrap();
            let template = &deploy::stack_of(output, StackKind::Pipeline).unwrap().json;
            let declared: Vec<&String> =
                template["Parameters"].as_object().unwrap().keys().collect();
            let passed: Vec<&String> = spec.parameters.keys().collect();
            let mut declared = declared;
            declared.sort();
            assert_eq!(passed, declared, "{} {}", env.name.as_str(), output.region);
            let has_vpn = env.network.vpn.contains_key(&output.region);
            assert_eq!(
                spec.parameters
                    .contains_key(ArtifactParameter::VpnConnect.parameter_name()),
                has_vpn
            );
        }
    }
}

// Adopting what `down` kept: the CloudFormation resource import before the update.

/// `DescribeStacks` for a stack that does not exist, as CloudFormation answers it.
fn no_such_stack(
    name: &str,
) -> aws_smithy_mocks::MockResponse<
    DescribeStacksOutput,
    aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError,
> {
    aws_smithy_mocks::MockResponse::Error(
        aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError::generic(
            aws_sdk_cloudformation::error::ErrorMetadata::builder()
                .code("ValidationError")
                .message(format!("Stack with id {name} does not exist"))
                .build(),
        ),
    )
}

/// Clients of one region: CloudFormation and S3 over `cfn` and `s3`, and `kms`.
fn adoption_region(
    output: &synth::RegionOutput,
    cfn: &[&Rule],
    s3: &[&Rule],
    kms: aws_connect::json::JsonClient,
) -> RegionClients {
    RegionClients {
        region: output.region.clone(),
        cloudformation: client!(aws_sdk_cloudformation, cfn.iter().copied()),
        s3: client!(aws_sdk_s3, s3.iter().copied()),
        kms,
        sns: client!(aws_sdk_sns, Vec::<&Rule>::new()),
        secretsmanager: client!(aws_sdk_secretsmanager, Vec::<&Rule>::new()),
        sts: client!(aws_sdk_sts, Vec::<&Rule>::new()),
        cloudwatch: client!(aws_sdk_cloudwatch, Vec::<&Rule>::new()),
        ssm: crate::ssm::unused(),
        autoscaling: crate::autoscaling::unused(),
        credentials: "profile `ci`".to_owned(),
    }
}

fn head_bucket_answers(existing: &'static [&'static str]) -> Rule {
    use aws_sdk_s3::operation::head_bucket::{HeadBucketError, HeadBucketOutput};
    mock!(aws_sdk_s3::Client::head_bucket).then_compute_response(move |r| {
        if existing
            .iter()
            .any(|b| r.bucket().unwrap_or_default().contains(b))
        {
            aws_smithy_mocks::MockResponse::Output(HeadBucketOutput::builder().build())
        } else {
            aws_smithy_mocks::MockResponse::Error(HeadBucketError::NotFound(
                aws_sdk_s3::types::error::NotFound::builder().build(),
            ))
        }
    })
}

#[tokio::test(start_paused = true)]
async fn a_kept_bucket_is_imported_alone_then_the_update_applies_the_template() {
    kept_bucket_adopted(None).await;
}

/// On AWS a failed first creation rolls back to `ROLLBACK_COMPLETE` and keeps the retained
/// resources it made: `up` deletes the stack, then adopts them the same way.
#[tokio::test(start_paused = true)]
async fn after_a_failed_creation_the_stack_is_deleted_and_what_it_kept_is_adopted() {
    kept_bucket_adopted(Some(StackStatus::RollbackComplete)).await;
}

/// `ensure_stack` of the artifacts stack when its bucket exists and the stack is absent
/// (`initial: None`) or in `initial`'s status: the stack is deleted if it is there, the bucket
/// imported alone, then the whole template applied.
async fn kept_bucket_adopted(initial: Option<StackStatus>) {
    use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetInput;
    use aws_sdk_cloudformation::types::{ChangeSetType, ResourceToImport};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let env = prod();
    let synthesis = synth::synthesize(&env, None).unwrap();
    let output = &synthesis.regions[0];
    let spec = deploy::spec(&env, output, StackKind::Artifacts, None, None).unwrap();
    let name = spec.name.clone();
    let bucket = deploy::artifacts_bucket(&env, &output.region);
    // 0: as `initial` says; 1: the import executed; 2: the update executed; 3: deleted.
    let executed = Arc::new(AtomicUsize::new(0));
    let described = {
        let (executed, name, tags) = (Arc::clone(&executed), name.clone(), spec.tags.clone());
        let initial = initial.clone();
        mock!(aws_sdk_cloudformation::Client::describe_stacks).then_compute_response(
            move |_| match (executed.load(Ordering::SeqCst), &initial) {
                (0, Some(status)) => aws_smithy_mocks::MockResponse::Output(
                    DescribeStacksOutput::builder()
                        .stacks(stack(&name, status.clone(), &[]))
                        .build(),
                ),
                (0 | 3, _) => no_such_stack(&name),
                (1, _) => aws_smithy_mocks::MockResponse::Output(
                    DescribeStacksOutput::builder()
                        .stacks(stack(&name, StackStatus::ImportComplete, &[]))
                        .build(),
                ),
                _ => aws_smithy_mocks::MockResponse::Output(
                    DescribeStacksOutput::builder()
                        .stacks(stack(
                            &name,
                            StackStatus::UpdateComplete,
                            &tags.clone().into_iter().collect::<Vec<_>>(),
                        ))
                        .build(),
                ),
            },
        )
    };
    let requests: Arc<Mutex<Vec<CreateChangeSetInput>>> = Arc::default();
    let create = {
        let requests = Arc::clone(&requests);
        mock!(aws_sdk_cloudformation::Client::create_change_set).then_compute_output(move |r| {
            requests.lock().unwrap().push(r.clone());
            let id = match r.change_set_type() {
                Some(ChangeSetType::Import) => "import-cs",
                _ => "update-cs",
            };
            CreateChangeSetOutput::builder().id(id).build()
        })
    };
    let computed =
        mock!(aws_sdk_cloudformation::Client::describe_change_set).then_compute_output(|r| {
            let (action, logical, kind) = if r.change_set_name() == Some("import-cs") {
                (ChangeAction::Import, "ArtifactsBucket", "AWS::S3::Bucket")
            } else {
                (
                    ChangeAction::Add,
                    "ArtifactsBucketPolicy",
                    "AWS::S3::BucketPolicy",
                )
            };
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateComplete)
                .changes(
                    Change::builder()
                        .resource_change(
                            ResourceChange::builder()
                                .action(action)
                                .logical_resource_id(logical)
                                .resource_type(kind)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let execute = {
        let executed = Arc::clone(&executed);
        mock!(aws_sdk_cloudformation::Client::execute_change_set).then_compute_output(move |r| {
            let step = if r.change_set_name() == Some("import-cs") {
                1
            } else {
                2
            };
            executed.store(step, Ordering::SeqCst);
            ExecuteChangeSetOutput::builder().build()
        })
    };
    let no_events = mock!(aws_sdk_cloudformation::Client::describe_stack_events)
        .then_output(|| events(Vec::new()));
    let template = mock!(aws_sdk_cloudformation::Client::get_template)
        .then_output(|| GetTemplateOutput::builder().template_body("{}").build());
    let delete = {
        let executed = Arc::clone(&executed);
        mock!(aws_sdk_cloudformation::Client::delete_stack).then_compute_output(move |_| {
            executed.store(3, Ordering::SeqCst);
            aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput::builder().build()
        })
    };
    let head = head_bucket_answers(&["-artifacts-"]);
    let clients = adoption_region(
        output,
        &[
            &described, &create, &computed, &execute, &no_events, &template, &delete,
        ],
        &[&head],
        crate::kms::unused(),
    );
    let recorder = Recorder::default();
    let settings = Settings {
        poll: Duration::from_secs(1),
        bake_poll: Duration::from_secs(1),
    };
    let result = deploy::ensure_stack(
        &clients,
        &env,
        &spec,
        &change_set::TemplateLocation::Body,
        &settings,
        &Yes,
        &recorder,
    )
    .await
    .unwrap();
    assert!(
        matches!(&result, deploy::StackResult::Applied(a) if a.status == StackStatus::UpdateComplete),
        "{result:?}"
    );
    assert_eq!(delete.num_calls(), usize::from(initial.is_some()));
    let requests = requests.lock().unwrap();
    assert_eq!(requests.len(), 2, "{requests:?}");
    // First the import: of the kept bucket alone, by its identifier, in a template holding only it.
    let import = &requests[0];
    assert_eq!(import.change_set_type(), Some(&ChangeSetType::Import));
    assert_eq!(
        import.resources_to_import(),
        [ResourceToImport::builder()
            .resource_type("AWS::S3::Bucket")
            .logical_resource_id("ArtifactsBucket")
            .resource_identifier("BucketName", &bucket)
            .build()]
    );
    let body: serde_json::Value = serde_json::from_str(import.template_body().unwrap()).unwrap();
    let resources: Vec<&String> = body["Resources"].as_object().unwrap().keys().collect();
    assert_eq!(resources, ["ArtifactsBucket"]);
    assert_eq!(
        body["Resources"]["ArtifactsBucket"]["DeletionPolicy"],
        "Retain"
    );
    // Not tagged as the full template: an import whose update failed is not "unchanged".
    let hash_tag = |r: &CreateChangeSetInput| {
        r.tags()
            .iter()
            .find(|t| t.key() == Some(change_set::TEMPLATE_HASH_TAG))
            .and_then(|t| t.value().map(str::to_owned))
    };
    assert_ne!(
        hash_tag(import),
        spec.tags.get(change_set::TEMPLATE_HASH_TAG).cloned()
    );
    // Then the normal update with the whole template.
    let update = &requests[1];
    assert_eq!(update.change_set_type(), Some(&ChangeSetType::Update));
    assert_eq!(update.template_body(), Some(spec.body.as_str()));
    assert_eq!(
        hash_tag(update),
        spec.tags.get(change_set::TEMPLATE_HASH_TAG).cloned()
    );
    let seen = recorder.0.lock().unwrap();
    let region = output.region.as_str();
    assert_eq!(
        seen[..],
        [
            format!("{region} plan {name}"),
            format!("{region} started {name}"),
            format!(
                "{region} finished {name}: Ok(Applied {{ status: ImportComplete, outputs: [] }})"
            ),
            format!("{region} plan {name}"),
            format!("{region} started {name}"),
            format!(
                "{region} finished {name}: Ok(Applied {{ status: UpdateComplete, outputs: [] }})"
            ),
        ]
    );
}

#[tokio::test]
async fn the_key_is_found_through_the_kept_bucket_it_encrypts_unless_pending_deletion() {
    use aws_sdk_s3::operation::get_bucket_encryption::GetBucketEncryptionOutput;
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };

    let env = prod();
    let synthesis = synth::synthesize(&env, None).unwrap();
    let output = &synthesis.regions[0];
    let pipeline = deploy::stack_of(output, StackKind::Pipeline).unwrap();
    let key_arn = "arn:aws:kms:eu-west-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    // Only the raw bucket is still there.
    let head = head_bucket_answers(&["-raw-"]);
    let encryption = mock!(aws_sdk_s3::Client::get_bucket_encryption)
        .match_requests(|r| r.bucket().is_some_and(|b| b.contains("-raw-")))
        .then_output(move || {
            GetBucketEncryptionOutput::builder()
                .server_side_encryption_configuration(
                    ServerSideEncryptionConfiguration::builder()
                        .rules(
                            ServerSideEncryptionRule::builder()
                                .apply_server_side_encryption_by_default(
                                    ServerSideEncryptionByDefault::builder()
                                        .sse_algorithm(ServerSideEncryption::AwsKms)
                                        .kms_master_key_id(key_arn)
                                        .build()
                                        .unwrap(),
                                )
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
        });
    // DescribeKey of the bucket's key: first pending deletion, then enabled, then gone.
    let described_times = std::sync::atomic::AtomicUsize::new(0);
    let kms = crate::kms::answering(move |operation, input| {
        if operation != "DescribeKey" || input["KeyId"] != key_arn {
            return crate::kms::error("ValidationException", "unexpected request");
        }
        let state = match described_times.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => "PendingDeletion",
            1 => "Enabled",
            _ => {
                return crate::kms::error(
                    "NotFoundException",
                    &format!("Key '{key_arn}' does not exist"),
                );
            }
        };
        let metadata = serde_json::json!({
            "KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
            "Arn": key_arn,
            "KeyState": state,
        });
        (200, serde_json::json!({ "KeyMetadata": metadata }))
    });
    let clients = adoption_region(output, &[], &[&head, &encryption], kms.client.clone());
    let raw = format!("mst-prod-raw-444455556666-{}", output.region);
    let found = engine::adopt::find(&clients, &pipeline.json, &env, &output.region)
        .await
        .unwrap();
    let kept = |id: &str, kind: &str, identifier: &str| engine::adopt::Kept {
        logical_id: id.into(),
        resource_type: kind.into(),
        identifier: identifier.into(),
    };
    // A key pending deletion protects nothing any more: a new one is made.
    assert_eq!(found, [kept("RawBucket", "AWS::S3::Bucket", &raw)]);
    let found = engine::adopt::find(&clients, &pipeline.json, &env, &output.region)
        .await
        .unwrap();
    assert_eq!(
        found,
        [
            kept("RawBucket", "AWS::S3::Bucket", &raw),
            kept(
                "DataKey",
                "AWS::KMS::Key",
                "1234abcd-12ab-34cd-56ef-1234567890ab"
            ),
        ]
    );
    // A key KMS no longer knows is not adopted either.
    let found = engine::adopt::find(&clients, &pipeline.json, &env, &output.region)
        .await
        .unwrap();
    assert_eq!(found, [kept("RawBucket", "AWS::S3::Bucket", &raw)]);
    assert_eq!(kms.requests().len(), 3, "one DescribeKey per find");
}

#[tokio::test(start_paused = true)]
async fn a_create_that_fails_on_execution_says_the_stacks_real_status() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let env = prod();
    let synthesis = synth::synthesize(&env, None).unwrap();
    let output = &synthesis.regions[0];
    let spec = deploy::spec(&env, output, StackKind::Artifacts, None, None).unwrap();
    let name = spec.name.clone();
    let reviewed = Arc::new(AtomicBool::new(false));
    let described = {
        let (reviewed, name) = (Arc::clone(&reviewed), name.clone());
        mock!(aws_sdk_cloudformation::Client::describe_stacks).then_compute_response(move |_| {
            if reviewed.load(Ordering::SeqCst) {
                aws_smithy_mocks::MockResponse::Output(
                    DescribeStacksOutput::builder()
                        .stacks(stack(&name, StackStatus::ReviewInProgress, &[]))
                        .build(),
                )
            } else {
                no_such_stack(&name)
            }
        })
    };
    let create = {
        let reviewed = Arc::clone(&reviewed);
        mock!(aws_sdk_cloudformation::Client::create_change_set).then_compute_output(move |_| {
            reviewed.store(true, Ordering::SeqCst);
            CreateChangeSetOutput::builder().id("create-cs").build()
        })
    };
    let computed = mock!(aws_sdk_cloudformation::Client::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::CreateComplete)
            .build()
    });
    let refused = mock!(aws_sdk_cloudformation::Client::execute_change_set).then_error(|| {
        aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetError::generic(
            aws_sdk_cloudformation::error::ErrorMetadata::builder()
                .code("BucketAlreadyExists")
                .message("The requested bucket name is not available.")
                .build(),
        )
    });
    let no_events = mock!(aws_sdk_cloudformation::Client::describe_stack_events)
        .then_output(|| events(Vec::new()));
    let head = head_bucket_answers(&[]);
    let clients = adoption_region(
        output,
        &[&described, &create, &computed, &refused, &no_events],
        &[&head],
        crate::kms::unused(),
    );
    let error = deploy::ensure_stack(
        &clients,
        &env,
        &spec,
        &change_set::TemplateLocation::Body,
        &Settings::default(),
        &Yes,
        &Recorder::default(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("ExecuteChangeSet")
            && error.contains("The requested bucket name is not available.")
            && error.contains(&format!(
                "; {name} in {} now is REVIEW_IN_PROGRESS; resources it made before failing may remain",
                output.region
            )),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_region_placed_in_another_account_refuses_credentials_of_the_environments_account() {
    // prod with eu-central-1 in account 777788889999: credentials of 444455556666 (right for the
    // other regions) are refused there, before any stack is read anywhere.
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments/prod.yaml"),
    )
    .unwrap()
    .replace(
        "deploy:\n",
        "deploy:\n  accounts:\n    eu-central-1: \"777788889999\"\n",
    )
    // The region's VPN certificates are in its own account (ACM certificates are not shared).
    .replace(
        "arn:aws:acm:eu-central-1:444455556666:",
        "arn:aws:acm:eu-central-1:777788889999:",
    );
    let mut env = environment::parse("prod.yaml", &text).unwrap();
    // As `prod()`: the DR region's stack is not part of these rollouts.
    env.dr = None;
    assert_eq!(env.account_of(&env.regions[1]).as_str(), "777788889999");
    let synthesis = synth::synthesize(&env, None).unwrap();
    let rollout = Rollout { env, synthesis };
    let regions = rollout.mock([Script::default(), Script::default(), Script::default()]);
    let results = rollout.up(&regions, 2, None, false).await;
    let results = results_of(&results);
    assert_eq!(results[0], ("eu-west-1", RegionResult::NotStarted));
    let RegionResult::Failed(why) = &results[1].1 else {
        panic!("{results:?}");
    };
    assert!(
        why.starts_with("refusing to deploy to eu-central-1: the credentials")
            && why.contains("are for account 444455556666, but environment `prod` deploys to account 777788889999"),
        "{why}"
    );
    assert_eq!(results[2], ("us-east-1", RegionResult::NotStarted));
    for region in &regions {
        assert_eq!(region.artifacts_described.num_calls(), 0, "no stack read");
        assert_eq!(region.create.num_calls(), 0, "no change set");
    }
}

#[tokio::test]
async fn a_parameter_cloudformation_resolved_from_ssm_is_read_as_its_value() {
    // A pipeline deployed before the AMI was pinned: `ScraperImageId` was the SSM parameter's name,
    // resolved by CloudFormation. Its value is what a plan compares with the pinned id.
    let described = mock!(aws_sdk_cloudformation::Client::describe_stacks).then_output(|| {
        let mut old = stack("mst-prod-pipeline", StackStatus::UpdateComplete, &[]);
        old.parameters = Some(vec![
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key(SCRAPER_IMAGE_PARAMETER)
                .parameter_value(ScraperImage::LATEST_PARAMETER)
                .resolved_value("ami-0aaaaaaaaaaaaaaaa")
                .build(),
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key("TransformCodeVersion")
                .parameter_value("v1")
                .build(),
        ]);
        DescribeStacksOutput::builder().stacks(old).build()
    });
    let cfn = client!(aws_sdk_cloudformation, [&described]);
    let deployed = change_set::describe_stack(&cfn, "eu-west-1", "mst-prod-pipeline")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        deployed.parameters[SCRAPER_IMAGE_PARAMETER],
        "ami-0aaaaaaaaaaaaaaaa"
    );
    assert_eq!(deployed.parameters["TransformCodeVersion"], "v1");
}

/// prod.yaml as it is: with `dr:` (the replica stack in eu-north-1) and `deploy:`.
fn prod_with_dr() -> Environment {
    environment::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments/prod.yaml"),
    )
    .unwrap()
}

/// The DR region's clients for the replica stack's first `up`: the DR bootstrap stack deployed
/// as synthesized (`bootstrapped`) or missing, no replica stack yet, nothing kept to adopt; a
/// `CreateChangeSet` is answered only when it carries `role` as its `RoleARN`. Returns the
/// clients and that rule.
fn replica_region_mocks(
    env: &Environment,
    dr: &synth::RegionOutput,
    bootstrapped: bool,
    role: String,
) -> (RegionClients, Rule) {
    let bootstrap = deploy::spec(env, dr, StackKind::Artifacts, None, None).unwrap();
    let bootstrap_described = {
        let name = bootstrap.name.clone();
        let tags: Vec<(String, String)> = bootstrap.tags.into_iter().collect();
        mock!(aws_sdk_cloudformation::Client::describe_stacks)
            .match_requests({
                let name = name.clone();
                move |r| r.stack_name() == Some(name.as_str())
            })
            .then_compute_response(move |_| {
                if bootstrapped {
                    aws_smithy_mocks::MockResponse::Output(
                        DescribeStacksOutput::builder()
                            .stacks(stack(&name, StackStatus::CreateComplete, &tags))
                            .build(),
                    )
                } else {
                    no_such_stack(&name)
                }
            })
    };
    let replica = deploy::stack_of(dr, StackKind::Replica)
        .unwrap()
        .name
        .clone();
    let executed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let replica_described = {
        let (name, executed) = (replica.clone(), executed.clone());
        mock!(aws_sdk_cloudformation::Client::describe_stacks)
            .match_requests({
                let name = name.clone();
                move |r| r.stack_name() == Some(name.as_str())
            })
            .then_compute_response(move |_| {
                if executed.load(std::sync::atomic::Ordering::SeqCst) {
                    aws_smithy_mocks::MockResponse::Output(
                        DescribeStacksOutput::builder()
                            .stacks(stack(&name, StackStatus::CreateComplete, &[]))
                            .build(),
                    )
                } else {
                    no_such_stack(&name)
                }
            })
    };
    let create = mock!(aws_sdk_cloudformation::Client::create_change_set)
        .match_requests(move |r| r.role_arn() == Some(role.as_str()))
        .then_output(|| CreateChangeSetOutput::builder().id("cs-replica").build());
    let describe_change_set = mock!(aws_sdk_cloudformation::Client::describe_change_set)
        .then_output(|| {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateComplete)
                .changes(
                    Change::builder()
                        .resource_change(
                            ResourceChange::builder()
                                .action(ChangeAction::Add)
                                .logical_resource_id("ReplicaKey")
                                .resource_type("AWS::KMS::Key")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let execute =
        mock!(aws_sdk_cloudformation::Client::execute_change_set).then_output(move || {
            executed.store(true, std::sync::atomic::Ordering::SeqCst);
            ExecuteChangeSetOutput::builder().build()
        });
    let replica_events =
        mock!(aws_sdk_cloudformation::Client::describe_stack_events).then_output(move || {
            events(vec![event(
                "r0",
                &replica,
                &replica,
                "AWS::CloudFormation::Stack",
                ResourceStatus::CreateComplete,
                None,
            )])
        });
    let nothing_kept = head_bucket_answers(&[]);
    let clients = adoption_region(
        dr,
        &[
            &bootstrap_described,
            &replica_described,
            &create,
            &describe_change_set,
            &execute,
            &replica_events,
        ],
        &[&nothing_kept],
        crate::kms::unused(),
    );
    (clients, create)
}

#[tokio::test(start_paused = true)]
async fn the_replica_stack_is_created_with_the_dr_regions_execution_role() {
    let env = prod_with_dr();
    let synthesis = synth::synthesize(&env, None).unwrap();
    let dr = synthesis.dr.as_ref().unwrap();
    assert_eq!(dr.region.as_str(), "eu-north-1");
    let role = "arn:aws:iam::444455556666:role/mstboot-prod-cfn-exec-eu-north-1".to_owned();
    assert_eq!(
        deploy::execution_role(&env, &dr.region).as_deref(),
        Some(role.as_str())
    );
    let (clients, create) = replica_region_mocks(&env, dr, true, role);
    let up = Up {
        env: &env,
        regions: Vec::new(),
        dr: None,
        artifacts: &[],
        parallel: 1,
        settings: Settings {
            poll: Duration::from_secs(5),
            bake_poll: Duration::from_secs(30),
        },
        gate: None,
        resume: false,
    };
    let recorder = Recorder::default();
    let result = deploy::replica_region(&up, dr, &clients, &Yes, &recorder).await;
    assert_eq!(result, RegionResult::Changed, "{:?}", recorder.0.lock());
    // Answered only for a request carrying the DR region's execution role.
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_dr_region_without_its_bootstrap_stack_is_refused_before_any_change() {
    let env = prod_with_dr();
    let synthesis = synth::synthesize(&env, None).unwrap();
    let dr = synthesis.dr.as_ref().unwrap();
    let role = deploy::execution_role(&env, &dr.region).unwrap();
    let (clients, create) = replica_region_mocks(&env, dr, false, role);
    let up = Up {
        env: &env,
        regions: Vec::new(),
        dr: None,
        artifacts: &[],
        parallel: 1,
        settings: Settings::default(),
        gate: None,
        resume: false,
    };
    let result = deploy::replica_region(&up, dr, &clients, &Yes, &Recorder::default()).await;
    let RegionResult::Failed(text) = result else {
        panic!("{result:?}");
    };
    assert!(
        text.contains("mst-prod-artifacts") && text.contains("eu-north-1"),
        "{text}"
    );
    assert!(text.contains("deployer bootstrap --env prod"), "{text}");
    assert_eq!(create.num_calls(), 0);
}
