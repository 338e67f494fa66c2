//! What stands between the canary region and the next wave: its alarms, watched for the bake
//! time (`rollout.bake_minutes`), then the canary gate (`deployer verify`, plugged in by the CLI).
//! Also the alarms' part of a pipeline change set: its rollback triggers.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use aws_sdk_cloudwatch::types::{AlarmType, StateValue};
use environment::Environment;

use crate::aws::RegionClients;
use crate::change_set::Rollback;
use crate::{Error, api_error};

/// Why the canary gate refused to let the rollout go on: one sentence for the user (which check
/// failed, and where).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateFailure(pub String);

impl fmt::Display for GateFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The future a [`CanaryGate`] returns.
pub type GateFuture<'a> = Pin<Box<dyn Future<Output = Result<(), GateFailure>> + 'a>>;

/// A check the canary region must pass after it deployed and baked, before the next wave starts.
/// `deployer up` plugs `deployer verify` in here; `up --no-verify` runs without one. The engine
/// needs nothing from the gate's crate: only this trait.
pub trait CanaryGate: Sync {
    /// What the gate is, for messages, such as `deployer verify`.
    fn name(&self) -> String;
    /// Checks the canary region `region`, which has just deployed (or was deployed by the halted
    /// rollout being resumed). `Err` halts the rollout.
    fn check<'a>(&'a self, region: &'a environment::Region) -> GateFuture<'a>;
}

/// An alarm in `ALARM`: its name and CloudWatch's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    /// The alarm's name.
    pub name: String,
    /// CloudWatch's state reason.
    pub reason: String,
}

impl fmt::Display for Firing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.reason)
    }
}

/// The alarms among `names` that exist, with their ARN, type and whether they are in `ALARM`.
struct Found {
    arn: String,
    kind: &'static str,
    firing: Option<Firing>,
}

async fn describe(clients: &RegionClients, names: &[String]) -> Result<Vec<Found>, Error> {
    if names.is_empty() {
        // Without names, DescribeAlarms would list every alarm of the region.
        return Ok(Vec::new());
    }
    let region = clients.region.as_str();
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = clients
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(names.to_vec()))
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| api_error("DescribeAlarms", region, e))?;
        let firing = |name: Option<&str>, state: Option<&StateValue>, reason: Option<&str>| {
            (state == Some(&StateValue::Alarm)).then(|| Firing {
                name: name.unwrap_or_default().to_owned(),
                reason: reason.unwrap_or_default().to_owned(),
            })
        };
        for alarm in page.metric_alarms() {
            found.push(Found {
                arn: alarm.alarm_arn().unwrap_or_default().to_owned(),
                kind: "AWS::CloudWatch::Alarm",
                firing: firing(
                    alarm.alarm_name(),
                    alarm.state_value(),
                    alarm.state_reason(),
                ),
            });
        }
        for alarm in page.composite_alarms() {
            found.push(Found {
                arn: alarm.alarm_arn().unwrap_or_default().to_owned(),
                kind: "AWS::CloudWatch::CompositeAlarm",
                firing: firing(
                    alarm.alarm_name(),
                    alarm.state_value(),
                    alarm.state_reason(),
                ),
            });
        }
        match page.next_token() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    Ok(found)
}

/// The pipeline alarms `up` reads in `env`: the metric alarms (`rollback: false`) or the rollback
/// triggers (`rollback: true`) `stacks` names. None for an emulator environment: moto's
/// CloudFormation creates no alarms, and moto 5.2.5 does not serve the protocol (Smithy RPC v2 CBOR)
/// the CloudWatch SDK speaks.
pub fn watched_alarms(env: &Environment, rollback: bool) -> Vec<String> {
    match (env.is_local(), rollback) {
        (true, _) => Vec::new(),
        (false, true) => stacks::pipeline::rollback_alarm_names(env),
        (false, false) => stacks::pipeline::alarm_names(env),
    }
}

/// The alarms among `names` now in `ALARM`.
pub async fn firing(clients: &RegionClients, names: &[String]) -> Result<Vec<Firing>, Error> {
    Ok(describe(clients, names)
        .await?
        .into_iter()
        .filter_map(|f| f.firing)
        .collect())
}

/// The pipeline change set's rollback configuration in `clients`' region: the triggers
/// `stacks::pipeline::rollback_alarm_names` names, those that exist. CloudFormation fails an
/// operation whose trigger does not exist, so the first deployment of a region (which creates the
/// alarms) has none; every later one has all. The second value counts the missing ones. `None`
/// when no alarm exists yet.
pub async fn rollback_configuration(
    clients: &RegionClients,
    env: &Environment,
) -> Result<(Option<Rollback>, usize), Error> {
    let names = watched_alarms(env, true);
    let found = describe(clients, &names).await?;
    let missing = names.len().saturating_sub(found.len());
    if found.is_empty() {
        return Ok((None, missing));
    }
    Ok((
        Some(Rollback {
            triggers: found
                .into_iter()
                .map(|f| (f.arn, f.kind.to_owned()))
                .collect(),
            monitoring_minutes: env.rollout.monitoring_minutes,
        }),
        missing,
    ))
}

/// Holds the canary for `bake`, checking its `alarms` every `poll` (and once at the start and at
/// the end, so a bake of zero checks them once). The first alarm found in `ALARM` ends the bake
/// with a sentence naming it.
pub async fn bake(
    clients: &RegionClients,
    alarms: &[String],
    bake: Duration,
    poll: Duration,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + bake;
    loop {
        let firing = firing(clients, alarms)
            .await
            .map_err(|e| format!("the canary's alarms could not be read: {e}"))?;
        if !firing.is_empty() {
            let list: Vec<String> = firing.iter().map(ToString::to_string).collect();
            return Err(format!(
                "alarm(s) in ALARM in the canary region {} during its bake: {}",
                clients.region,
                list.join("; ")
            ));
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(());
        }
        tokio::time::sleep(poll.min(deadline - now)).await;
    }
}
