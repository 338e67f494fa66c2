//! The scraper fleet as `deployer status` shows it: per shard, its Auto Scaling group (from the
//! stack's resources) and its last heartbeat (the newest `Ticks` datapoint the shard's heartbeat
//! timer published to CloudWatch, [`stacks::pipeline::HEARTBEAT_NAMESPACE`]).
//!
//! The group's instance and the instance's health come from the EC2 Auto Scaling API, whose SDK client
//! the engine does not have yet: `status` says so instead of guessing.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudformation::types::StackResourceSummary;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_smithy_types::DateTime;
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
    /// `fresh`, `stale` (older than the heartbeat timer's limit) or `none`.
    pub heartbeat: &'static str,
}

/// The state of every shard of `env`'s fleet in the stack whose resources are `resources`, at `now`.
pub async fn shard_states(
    clients: &RegionClients,
    env: &Environment,
    resources: &[StackResourceSummary],
    now: SystemTime,
) -> Result<Vec<ShardState>, Error> {
    let mut states = Vec::new();
    for shard in Shard::all(env.scraper.instances) {
        let id = shard_group_id(shard.index);
        let resource = resources
            .iter()
            .find(|r| r.logical_resource_id() == Some(id.as_str()));
        let last_heartbeat = last_heartbeat(clients, env, shard.index, now).await?;
        states.push(ShardState {
            shard: shard.index,
            group: resource.and_then(|r| r.physical_resource_id().map(str::to_owned)),
            group_status: resource.and_then(|r| r.resource_status().map(|s| s.as_str().to_owned())),
            heartbeat: verdict(last_heartbeat.as_ref().map(|(at, _)| *at), env, now),
            last_heartbeat: last_heartbeat.map(|(at, ticks)| {
                (
                    at.fmt(aws_smithy_types::date_time::Format::DateTime)
                        .unwrap_or_default(),
                    ticks,
                )
            }),
        });
    }
    Ok(states)
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
