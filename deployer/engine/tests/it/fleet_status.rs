//! `status`'s view of the scraper fleet at the SDK layer, with `aws-smithy-mocks` (CloudFormation,
//! CloudWatch) and Auto Scaling's XML answers to the direct Query call: each shard's group
//! as the stack lists it, the group's instance and health from EC2 Auto Scaling (followed across
//! pages), a group Auto Scaling no longer knows, a group launching its instance, and a refused
//! `DescribeAutoScalingGroups` that leaves the heartbeats shown. (The emulator's view is in the CLI's
//! moto end-to-end test.)

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test, with its message.

use std::time::{Duration, SystemTime};

use crate::autoscaling::{AutoScaling, answering, group, groups_page, param};
use aws_sdk_cloudformation::types::{ResourceStatus, StackResourceSummary};
use aws_sdk_cloudwatch::operation::get_metric_statistics::GetMetricStatisticsOutput;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::Datapoint;
use aws_smithy_mocks::{Rule, mock};
use engine::aws::RegionClients;
use engine::fleet::{GroupInstances, ShardInstance, shard_states};
use environment::Environment;

/// Builds a client of any service crate over mock rules.
macro_rules! client {
    ($krate:ident, $rules:expr) => {
        testkit::mock_client!($krate, $rules, |c: $krate::config::Builder| c
            .retry_config($krate::config::retry::RetryConfig::disabled()))
    };
}

const NOW: u64 = 1_796_000_000;

/// prod with three shards.
fn prod() -> Environment {
    let mut env = environment::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments/prod.yaml"),
    )
    .unwrap();
    env.scraper.instances = 3;
    env
}

fn group_name(index: u32) -> String {
    format!("mst-prod-pipeline-ScraperShard{index}-X{index}")
}

/// The pipeline stack's three groups, as ListStackResources gives them.
fn resources() -> Vec<StackResourceSummary> {
    (0..3)
        .map(|i| {
            StackResourceSummary::builder()
                .logical_resource_id(format!("ScraperShard{i}"))
                .physical_resource_id(group_name(i))
                .resource_type("AWS::AutoScaling::AutoScalingGroup")
                .resource_status(ResourceStatus::CreateComplete)
                .build()
        })
        .collect()
}

/// Shard `index`'s group with `instances` (id, lifecycle state, health).
fn shard_group(index: u32, instances: &[(&str, &str, &str)]) -> String {
    group(&group_name(index), instances)
}

/// Shard 0's heartbeat two minutes ago; none for the others.
fn heartbeats() -> Rule {
    mock!(aws_sdk_cloudwatch::Client::get_metric_statistics).then_compute_response(|r| {
        let shard = r
            .dimensions()
            .iter()
            .find(|d| d.name() == Some("Shard"))
            .and_then(|d| d.value())
            .unwrap()
            .to_owned();
        let mut out = GetMetricStatisticsOutput::builder();
        if shard == "0" {
            out = out.datapoints(
                Datapoint::builder()
                    .timestamp(DateTime::from_secs(NOW as i64 - 120))
                    .sum(4.0)
                    .build(),
            );
        }
        aws_smithy_mocks::MockResponse::Output(out.build())
    })
}

fn clients(autoscaling: &AutoScaling, cloudwatch: &[&Rule]) -> RegionClients {
    RegionClients {
        region: prod().canary_region().clone(),
        cloudformation: client!(aws_sdk_cloudformation, Vec::<&Rule>::new()),
        s3: client!(aws_sdk_s3, Vec::<&Rule>::new()),
        kms: crate::kms::unused(),
        sns: client!(aws_sdk_sns, Vec::<&Rule>::new()),
        secretsmanager: client!(aws_sdk_secretsmanager, Vec::<&Rule>::new()),
        sts: client!(aws_sdk_sts, Vec::<&Rule>::new()),
        cloudwatch: client!(aws_sdk_cloudwatch, cloudwatch.iter().copied()),
        ssm: crate::ssm::unused(),
        autoscaling: autoscaling.client.clone(),
        credentials: "profile `ci`".to_owned(),
    }
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)
}

#[tokio::test]
async fn each_shard_shows_its_groups_instance_and_health_across_pages() {
    // One call names every group; the answer comes in two pages. Shard 0 is in service, shard 1's
    // group is launching a replacement (no instance), shard 2's group is gone from Auto Scaling.
    let autoscaling = answering(|form| match param(form, "NextToken") {
        None => groups_page(
            &[shard_group(0, &[("i-0aaa", "InService", "Healthy")])],
            Some("page-2"),
        ),
        Some("page-2") => groups_page(&[shard_group(1, &[])], None),
        Some(other) => crate::autoscaling::error("ValidationError", other),
    });
    let heartbeats = heartbeats();
    let clients = clients(&autoscaling, &[&heartbeats]);
    let states = shard_states(&clients, &prod(), &resources(), now()).await;
    let requests = autoscaling.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(param(request, "Action"), Some("DescribeAutoScalingGroups"));
        assert_eq!(param(request, "Version"), Some("2011-01-01"));
        assert_eq!(param(request, "MaxRecords"), Some("100"));
        let names: Vec<String> = (1..=4)
            .filter_map(|i| param(request, &format!("AutoScalingGroupNames.member.{i}")))
            .map(str::to_owned)
            .collect();
        assert_eq!(names, [group_name(0), group_name(1), group_name(2)]);
    }
    let instances: Vec<_> = states.iter().map(|s| s.instances.clone()).collect();
    assert_eq!(
        instances,
        [
            GroupInstances::Listed(vec![ShardInstance {
                id: "i-0aaa".into(),
                lifecycle: "InService".into(),
                health: "Healthy".into(),
            }]),
            GroupInstances::Listed(vec![]),
            GroupInstances::NoGroup,
        ]
    );
    assert_eq!(states[0].group.as_deref(), Some(group_name(0).as_str()));
    assert_eq!(states[0].heartbeat, "fresh");
    assert_eq!(states[1].heartbeat, "none");
}

#[tokio::test]
async fn an_unhealthy_instance_being_replaced_is_shown_as_auto_scaling_reports_it() {
    let autoscaling = answering(|_| {
        groups_page(
            &[
                shard_group(0, &[("i-0old", "Terminating", "Unhealthy")]),
                shard_group(1, &[("i-0b", "Pending", "Healthy")]),
                shard_group(2, &[("i-0c", "InService", "Healthy")]),
            ],
            None,
        )
    });
    let heartbeats = heartbeats();
    let clients = clients(&autoscaling, &[&heartbeats]);
    let states = shard_states(&clients, &prod(), &resources(), now()).await;
    let GroupInstances::Listed(zero) = &states[0].instances else {
        panic!("{:?}", states[0].instances)
    };
    assert_eq!(
        (zero[0].lifecycle.as_str(), zero[0].health.as_str()),
        ("Terminating", "Unhealthy")
    );
    let GroupInstances::Listed(one) = &states[1].instances else {
        panic!("{:?}", states[1].instances)
    };
    assert_eq!(one[0].lifecycle, "Pending");
}

#[tokio::test]
async fn a_refused_describe_leaves_the_heartbeats_and_says_why_per_shard() {
    let refused = answering(|_| {
        crate::autoscaling::error(
            "AccessDenied",
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: autoscaling:DescribeAutoScalingGroups",
        )
    });
    let heartbeats = heartbeats();
    let clients = clients(&refused, &[&heartbeats]);
    let states = shard_states(&clients, &prod(), &resources(), now()).await;
    assert_eq!(states.len(), 3);
    for state in &states {
        let GroupInstances::Unread(reason) = &state.instances else {
            panic!("{:?}", state.instances)
        };
        // aws-connect's sentence: what was refused, where, and how to fix it.
        assert!(reason.starts_with("access denied"), "{reason}");
        assert!(
            reason.contains("autoscaling:DescribeAutoScalingGroups in eu-west-1"),
            "{reason}"
        );
        assert!(reason.contains("grant the permission"), "{reason}");
    }
    assert_eq!(states[0].heartbeat, "fresh");
}

#[tokio::test]
async fn no_group_listed_means_no_call_that_would_list_the_whole_region() {
    let never = answering(|_| groups_page(&[shard_group(0, &[])], None));
    let heartbeats = heartbeats();
    let clients = clients(&never, &[&heartbeats]);
    let states = shard_states(&clients, &prod(), &[], now()).await;
    assert_eq!(never.requests().len(), 0);
    assert!(
        states
            .iter()
            .all(|s| s.instances == GroupInstances::NoGroup && s.group.is_none())
    );
}

#[tokio::test]
async fn a_refused_heartbeat_read_leaves_the_instances_and_is_asked_once() {
    let answer =
        answering(|_| groups_page(&[shard_group(0, &[("i-0a", "InService", "Healthy")])], None));
    let refused = mock!(aws_sdk_cloudwatch::Client::get_metric_statistics).then_error(|| {
        aws_sdk_cloudwatch::operation::get_metric_statistics::GetMetricStatisticsError::generic(
            aws_sdk_cloudwatch::error::ErrorMetadata::builder()
                .code("AccessDenied")
                .message("not authorized to perform: cloudwatch:GetMetricStatistics")
                .build(),
        )
    });
    let clients = clients(&answer, &[&refused]);
    let states = shard_states(&clients, &prod(), &resources(), now()).await;
    assert_eq!(
        refused.num_calls(),
        1,
        "not asked again for the next shards"
    );
    for state in &states {
        assert_eq!(state.heartbeat, "unread");
        let reason = state.heartbeat_unread.as_deref().unwrap();
        assert!(
            reason.contains("cloudwatch:GetMetricStatistics"),
            "{reason}"
        );
    }
    assert!(matches!(&states[0].instances, GroupInstances::Listed(i) if i[0].id == "i-0a"));
    assert_eq!(states[0].last_heartbeat, None);
}
