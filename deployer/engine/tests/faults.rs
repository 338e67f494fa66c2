//! Fault handling at the SDK layer, with `aws-smithy-mocks`: throttling, failed resources during
//! create and update (and waiting for the rollback), the account check, and failures in waves.
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
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use engine::apply::Applied;
use engine::artifacts::Artifact;
use engine::artifacts::{Stored, StoredArtifact};
use engine::aws::RegionClients;
use engine::change_set::{self, Plan};
use engine::deploy::{self, Approver, Observer, Settings, Up};
use engine::waves::{RegionResult, exit_code};
use environment::{Environment, Region};
use stacks::pipeline::{ArtifactParameter, StackKind};

/// Builds a client of any service crate over mock rules (no test-util feature needed).
macro_rules! client {
    ($krate:ident, $rules:expr) => {{
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        $krate::Client::from_conf(
            $krate::Config::builder()
                .behavior_version($krate::config::BehaviorVersion::latest())
                .region($krate::config::Region::new("eu-west-1"))
                .credentials_provider($krate::config::Credentials::new(
                    "AKIDTEST",
                    "test-secret",
                    None,
                    None,
                    "test",
                ))
                .http_client(create_mock_http_client())
                .interceptor(interceptor)
                .retry_config(
                    $krate::config::retry::RetryConfig::standard()
                        .with_max_attempts(4)
                        .with_initial_backoff(Duration::from_millis(100)),
                )
                .build(),
        )
    }};
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

fn prod() -> Environment {
    environment::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments/prod.yaml"),
    )
    .expect("prod.yaml is valid")
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
        "refusing to deploy: the credentials are for account 999988887777, but environment `prod` deploys to account 444455556666; use the matching profile (--profile) or fix `account` in environments/prod.yaml"
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
    let spec = change_set::StackSpec {
        name: "s".into(),
        body: "{}".into(),
        parameters: Default::default(),
        tags: Default::default(),
    };
    assert!(!change_set::unchanged(&found, "{}", &spec));
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

/// Records what the CLI would print.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Observer for Recorder {
    fn plan(&self, region: &Region, plan: &Plan) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{region} plan {}", plan.stack));
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
    let artifacts_stack = deploy::stack_of(output, StackKind::Artifacts).unwrap();
    let pipeline_name = deploy::stack_of(output, StackKind::Pipeline)
        .unwrap()
        .name
        .clone();
    let artifacts_name = artifacts_stack.name.clone();
    let artifacts_body = artifacts_stack.compact.clone();
    let tags: Vec<(String, String)> = env.tags.clone().into_iter().collect();

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
    let pipeline_described = {
        let name = pipeline_name.clone();
        let mut sequence = mock!(aws_sdk_cloudformation::Client::describe_stacks)
            .sequence()
            .output({
                let name = name.clone();
                move || {
                    DescribeStacksOutput::builder()
                        .stacks(stack(&name, StackStatus::UpdateComplete, &[]))
                        .build()
                }
            });
        for _ in 0..busy_polls {
            let name = name.clone();
            sequence = sequence.output(move || {
                DescribeStacksOutput::builder()
                    .stacks(stack(&name, StackStatus::UpdateInProgress, &[]))
                    .build()
            });
        }
        let final_status = if fail {
            StackStatus::UpdateRollbackComplete
        } else {
            StackStatus::UpdateComplete
        };
        sequence
            .output(move || {
                DescribeStacksOutput::builder()
                    .stacks(stack(&name, final_status.clone(), &[]))
                    .build()
            })
            .repeatedly()
            .build()
    };
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
                if fail {
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
    let create = mock!(aws_sdk_cloudformation::Client::create_change_set)
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
    let execute = mock!(aws_sdk_cloudformation::Client::execute_change_set)
        .then_output(|| ExecuteChangeSetOutput::builder().build());
    let mut heads = bucket_holding(&artifacts(), planted);
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
    let clients = RegionClients {
        region: output.region.clone(),
        cloudformation: cfn,
        s3: client!(aws_sdk_s3, &heads),
        kms: client!(aws_sdk_kms, Vec::<&Rule>::new()),
        sns: client!(aws_sdk_sns, Vec::<&Rule>::new()),
        secretsmanager: client!(aws_sdk_secretsmanager, Vec::<&Rule>::new()),
    };
    (clients, create)
}

fn artifacts() -> Vec<Artifact> {
    ArtifactParameter::ALL
        .iter()
        .map(|&p| Artifact::new(p, p.crate_name().as_bytes().to_vec()))
        .collect()
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
        artifacts: &artifacts,
        parallel: 2,
        settings: Settings {
            poll: Duration::from_secs(5),
        },
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
        artifacts: &artifacts,
        parallel: 2,
        settings: Settings {
            poll: Duration::from_secs(5),
        },
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
        kms: client!(aws_sdk_kms, Vec::<&Rule>::new()),
        sns: client!(aws_sdk_sns, Vec::<&Rule>::new()),
        secretsmanager: client!(aws_sdk_secretsmanager, Vec::<&Rule>::new()),
    };
    let mut spec = deploy::spec(
        &env,
        &synthesis.regions[0],
        StackKind::Pipeline,
        &stored(&artifacts()),
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
        artifacts: &artifacts,
        parallel: 2,
        settings: Settings {
            poll: Duration::from_secs(5),
        },
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
    let spec = deploy::spec(&env, &synthesis.regions[0], StackKind::Pipeline, &all).unwrap();
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
            let subscriptions = subscription_ids.iter().map(|id| {
                resource(id, "AWS::SNS::Subscription", &format!("{topic}:{id}"))
            });
            ListStackResourcesOutput::builder()
                .set_stack_resource_summaries(Some(subscriptions.collect()))
                .stack_resource_summaries(resource(
                    "InfluxTokenSecret",
                    "AWS::SecretsManager::Secret",
                    secret,
                ))
                .stack_resource_summaries(resource("AlertTopic", "AWS::SNS::Topic", topic))
                .stack_resource_summaries(resource(
                    "ScraperInstance",
                    "AWS::EC2::Instance",
                    "i-0123456789abcdef0",
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
        kms: client!(aws_sdk_kms, Vec::<&Rule>::new()),
        sns: client!(aws_sdk_sns, [&subscriptions]),
        secretsmanager: client!(aws_sdk_secretsmanager, [&described]),
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
        steps.scraper_instance.as_deref(),
        Some("i-0123456789abcdef0")
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
