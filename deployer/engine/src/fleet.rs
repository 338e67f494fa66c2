//! The scraper fleet as `deployer status` shows it: per shard, its Auto Scaling group (from the
//! stack's resources), the group's instance with its lifecycle state and health (one
//! `DescribeAutoScalingGroups` call for every group) and its last heartbeat (the newest `Ticks`
//! datapoint the shard's heartbeat timer published to CloudWatch,
//! [`stacks::pipeline::HEARTBEAT_NAMESPACE`]).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_connect::query::QueryClient;
use aws_sdk_cloudformation::types::StackResourceSummary;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_smithy_types::DateTime;
use aws_smithy_xml::decode::{Document, ScopedDecoder, XmlDecodeError, try_data};
use environment::Environment;
use scraper_config::Shard;
use stacks::pipeline::{HEARTBEAT_NAMESPACE, shard_group_id, stale_seconds};

use crate::aws::RegionClients;
use crate::{Error, api_error};

/// How far back `status` looks for a heartbeat.
pub const HEARTBEAT_LOOKBACK: Duration = Duration::from_secs(3 * 3600);

/// One shard's state.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardState {
    /// The shard's index.
    pub shard: u32,
    /// The group's name (`<stack>-ScraperShard<i>-<suffix>`), when the stack lists it.
    pub group: Option<String>,
    /// The group's CloudFormation resource status (`CREATE_COMPLETE`, `UPDATE_IN_PROGRESS`, ...).
    pub group_status: Option<String>,
    /// The newest heartbeat within [`HEARTBEAT_LOOKBACK`]: its minute (RFC 3339) and the ticks counted
    /// in it.
    pub last_heartbeat: Option<(String, f64)>,
    /// `fresh`, `stale` (older than the heartbeat timer's limit), `none`, or `unread` when CloudWatch
    /// could not be read ([`ShardState::heartbeat_unread`] says why).
    pub heartbeat: &'static str,
    /// Why the heartbeat could not be read, when it could not.
    pub heartbeat_unread: Option<String>,
    /// What EC2 Auto Scaling says of the group's instances.
    pub instances: GroupInstances,
}

/// An instance of a shard's group as EC2 Auto Scaling reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInstance {
    /// The instance id (`i-...`).
    pub id: String,
    /// Its lifecycle state (`Pending`, `InService`, `Terminating`, ...).
    pub lifecycle: String,
    /// `Healthy` or `Unhealthy`: EC2 status checks plus the heartbeat timer's `SetInstanceHealth`.
    pub health: String,
}

/// What EC2 Auto Scaling says of one shard's group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupInstances {
    /// The group's instances: one normally, none while a replacement is being launched.
    Listed(Vec<ShardInstance>),
    /// No such group (the stack does not list it, or the group was deleted outside CloudFormation).
    NoGroup,
    /// Not read: the call failed, for the reason given (one sentence naming the call and the fix).
    Unread(String),
}

/// The state of every shard of `env`'s fleet in the stack whose resources are `resources`, at `now`.
/// What cannot be read (the instances, the heartbeats) is said in each shard's state, so one missing
/// permission hides nothing else.
pub async fn shard_states(
    clients: &RegionClients,
    env: &Environment,
    resources: &[StackResourceSummary],
    now: SystemTime,
) -> Vec<ShardState> {
    let groups: Vec<(u32, Option<&StackResourceSummary>)> = Shard::all(env.scraper.instances)
        .map(|shard| {
            let id = shard_group_id(shard.index);
            let resource = resources
                .iter()
                .find(|r| r.logical_resource_id() == Some(id.as_str()));
            (shard.index, resource)
        })
        .collect();
    let names: Vec<String> = groups
        .iter()
        .filter_map(|(_, r)| r.and_then(|r| r.physical_resource_id()).map(str::to_owned))
        .collect();
    // A failed read leaves the heartbeats to show: the instances are said to be unread instead.
    let described = describe_groups(&clients.autoscaling, &names)
        .await
        .map_err(|e| e.to_string());
    let mut states = Vec::new();
    let mut heartbeat_unread: Option<String> = None;
    for (index, resource) in groups {
        let group = resource.and_then(|r| r.physical_resource_id().map(str::to_owned));
        let instances = match (&described, &group) {
            (Err(reason), _) => GroupInstances::Unread(reason.clone()),
            (Ok(found), Some(name)) => found.get(name).map_or(GroupInstances::NoGroup, |i| {
                GroupInstances::Listed(i.clone())
            }),
            (Ok(_), None) => GroupInstances::NoGroup,
        };
        // A failed read is said per shard and not retried for the next shards (the emulator has
        // no metrics API; on AWS it is the same missing permission for every shard).
        let last_heartbeat = match &heartbeat_unread {
            Some(_) => None,
            None => match last_heartbeat(clients, env, index, now).await {
                Ok(found) => found,
                Err(error) => {
                    heartbeat_unread = Some(error.to_string());
                    None
                }
            },
        };
        states.push(ShardState {
            shard: index,
            instances,
            group,
            group_status: resource.and_then(|r| r.resource_status().map(|s| s.as_str().to_owned())),
            heartbeat: match &heartbeat_unread {
                Some(_) => "unread",
                None => verdict(last_heartbeat.as_ref().map(|(at, _)| *at), env, now),
            },
            heartbeat_unread: heartbeat_unread.clone(),
            last_heartbeat: last_heartbeat.map(|(at, ticks)| {
                (
                    at.fmt(aws_smithy_types::date_time::Format::DateTime)
                        .unwrap_or_default(),
                    ticks,
                )
            }),
        });
    }
    states
}

/// The instances of each of the groups `names`, by group name; a group Auto Scaling does not know is
/// absent from the map. One call lists up to 100 groups; more pages are followed. A direct Query
/// call ([`aws_connect::query::AUTOSCALING`]): Auto Scaling's generated crate compiles every one
/// of its operations for this one.
pub async fn describe_groups(
    autoscaling: &QueryClient,
    names: &[String],
) -> Result<BTreeMap<String, Vec<ShardInstance>>, Error> {
    let mut found = BTreeMap::new();
    if names.is_empty() {
        // Without names the call would list every group of the region.
        return Ok(found);
    }
    let region = autoscaling.region();
    let members: Vec<(String, &str)> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            (
                format!("AutoScalingGroupNames.member.{}", i + 1),
                name.as_str(),
            )
        })
        .collect();
    let mut token: Option<String> = None;
    loop {
        let mut params: Vec<(&str, &str)> = members
            .iter()
            .map(|(key, value)| (key.as_str(), *value))
            .collect();
        params.push(("MaxRecords", "100"));
        if let Some(token) = &token {
            params.push(("NextToken", token));
        }
        let answer = autoscaling
            .call("DescribeAutoScalingGroups", &params)
            .await
            .map_err(|e| api_error("DescribeAutoScalingGroups", region, e))?;
        let page = read_groups(answer.xml()).map_err(|e| {
            Error::Other(format!(
                "DescribeAutoScalingGroups in {region} answered what it does not document ({e})"
            ))
        })?;
        found.extend(page.groups);
        match page.next_token {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => return Ok(found),
        }
    }
}

/// One page of `DescribeAutoScalingGroups`.
#[derive(Debug, Default, PartialEq)]
struct GroupsPage {
    groups: Vec<(String, Vec<ShardInstance>)>,
    next_token: Option<String>,
}

/// Reads `<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult>`: each
/// `AutoScalingGroups` member's name and instances, and `NextToken`. Other elements are skipped.
fn read_groups(xml: &str) -> Result<GroupsPage, XmlDecodeError> {
    let mut page = GroupsPage::default();
    let mut document = Document::new(xml);
    let mut root = document.root_element()?;
    while let Some(mut result) = root.next_tag() {
        if result.start_el().local() != "DescribeAutoScalingGroupsResult" {
            continue;
        }
        while let Some(mut field) = result.next_tag() {
            match field.start_el().local() {
                "AutoScalingGroups" => {
                    while let Some(mut member) = field.next_tag() {
                        page.groups.push(read_group(&mut member)?);
                    }
                }
                "NextToken" => page.next_token = Some(try_data(&mut field)?.into_owned()),
                _ => {}
            }
        }
    }
    Ok(page)
}

/// One `AutoScalingGroups` member: the group's name and its `Instances` members.
fn read_group(
    group: &mut ScopedDecoder<'_, '_>,
) -> Result<(String, Vec<ShardInstance>), XmlDecodeError> {
    let mut name = String::new();
    let mut instances = Vec::new();
    while let Some(mut field) = group.next_tag() {
        match field.start_el().local() {
            "AutoScalingGroupName" => name = try_data(&mut field)?.into_owned(),
            "Instances" => {
                while let Some(mut member) = field.next_tag() {
                    let mut instance = ShardInstance {
                        id: String::new(),
                        lifecycle: String::new(),
                        health: String::new(),
                    };
                    while let Some(mut value) = member.next_tag() {
                        let slot = match value.start_el().local() {
                            "InstanceId" => &mut instance.id,
                            "LifecycleState" => &mut instance.lifecycle,
                            "HealthStatus" => &mut instance.health,
                            _ => continue,
                        };
                        *slot = try_data(&mut value)?.trim().to_owned();
                    }
                    instances.push(instance);
                }
            }
            _ => {}
        }
    }
    Ok((name, instances))
}

/// `fresh` when the heartbeat is younger than the limit the instance itself applies (plus the
/// timer's minute), `stale` when older, `none` without one.
pub fn verdict(at: Option<DateTime>, env: &Environment, now: SystemTime) -> &'static str {
    let Some(at) = at else { return "none" };
    let limit = u64::from(stale_seconds(env.scraper.interval_seconds)) + 60;
    let age = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .saturating_sub(u64::try_from(at.secs()).unwrap_or(0));
    if age <= limit { "fresh" } else { "stale" }
}

/// The newest minute in which shard `index` published ticks.
async fn last_heartbeat(
    clients: &RegionClients,
    env: &Environment,
    index: u32,
    now: SystemTime,
) -> Result<Option<(DateTime, f64)>, Error> {
    let region = clients.region.as_str();
    let output = clients
        .cloudwatch
        .get_metric_statistics()
        .namespace(HEARTBEAT_NAMESPACE)
        .metric_name("Ticks")
        .dimensions(
            Dimension::builder()
                .name("Environment")
                .value(env.name.as_str())
                .build(),
        )
        .dimensions(
            Dimension::builder()
                .name("Shard")
                .value(index.to_string())
                .build(),
        )
        .start_time(DateTime::from(now - HEARTBEAT_LOOKBACK))
        .end_time(DateTime::from(now + Duration::from_secs(60)))
        .period(60)
        .statistics(Statistic::Sum)
        .send()
        .await
        .map_err(|e| api_error("GetMetricStatistics", region, e))?;
    Ok(output
        .datapoints()
        .iter()
        .filter(|d| d.sum().is_some_and(|s| s > 0.0))
        .filter_map(|d| Some((*d.timestamp()?, d.sum()?)))
        .max_by_key(|(at, _)| (at.secs(), at.subsec_nanos())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use super::*;

    #[test]
    fn a_groups_page_gives_each_groups_instances_and_the_decoded_next_token() {
        let page = read_groups(
            r#"<DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
  <DescribeAutoScalingGroupsResult>
    <AutoScalingGroups>
      <member>
        <AutoScalingGroupName>shard-0</AutoScalingGroupName>
        <AvailabilityZones><member>eu-west-1a</member></AvailabilityZones>
        <Instances>
          <member>
            <InstanceId>i-0a</InstanceId>
            <LaunchTemplate><LaunchTemplateName>lt</LaunchTemplateName></LaunchTemplate>
            <LifecycleState>InService</LifecycleState>
            <HealthStatus>Healthy
            </HealthStatus>
          </member>
        </Instances>
      </member>
      <member>
        <Instances/>
        <AutoScalingGroupName>shard-1</AutoScalingGroupName>
      </member>
    </AutoScalingGroups>
    <NextToken>a+b/c=&amp;d</NextToken>
  </DescribeAutoScalingGroupsResult>
  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>
</DescribeAutoScalingGroupsResponse>"#,
        )
        .unwrap();
        let instance = ShardInstance {
            id: "i-0a".into(),
            lifecycle: "InService".into(),
            health: "Healthy".into(),
        };
        assert_eq!(
            page,
            GroupsPage {
                groups: vec![
                    ("shard-0".into(), vec![instance]),
                    ("shard-1".into(), vec![]),
                ],
                next_token: Some("a+b/c=&d".into()),
            }
        );
        assert!(read_groups("not xml <").is_err());
    }

    #[test]
    fn a_heartbeat_is_fresh_within_the_instances_own_limit_and_a_minute() {
        let env = environment::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../environments/prod.yaml"
        )))
        .unwrap();
        // 15 s intervals: the instance's limit is 180 s, status allows the timer's minute on top.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000);
        assert_eq!(verdict(None, &env, now), "none");
        assert_eq!(
            verdict(Some(DateTime::from_secs(10_000 - 240)), &env, now),
            "fresh"
        );
        assert_eq!(
            verdict(Some(DateTime::from_secs(10_000 - 241)), &env, now),
            "stale"
        );
    }
}
