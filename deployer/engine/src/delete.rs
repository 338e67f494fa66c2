//! Deleting stacks, and (`--purge-data`) the retained buckets and key they leave behind.

use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use serde_json::Value;

use crate::apply::{self, Goal};
use crate::aws::RegionClients;
use crate::change_set::{self, describe_stack};
use crate::events::{EventCursor, StackEvent};
use crate::{Error, api_error};

/// Deletes `stack` and waits until it is gone; `Ok(false)` when there was no such stack.
pub async fn delete_stack(
    client: &Client,
    region: &str,
    stack: &str,
    role_arn: Option<&str>,
    poll: Duration,
    on_event: &mut (dyn FnMut(&StackEvent) + Send),
) -> Result<bool, Error> {
    let Some(deployed) = describe_stack(client, region, stack).await? else {
        return Ok(false);
    };
    let mut cursor = EventCursor::starting_now(client, region, stack).await?;
    // moto deletes synchronously in its own order and may answer DependencyViolation half-way; a
    // repeated request finishes the job. Real CloudFormation reports such problems as events.
    let mut attempts = 0;
    loop {
        attempts += 1;
        match client
            .delete_stack()
            .stack_name(&deployed.stack_id)
            .set_role_arn(role_arn.map(str::to_owned))
            .send()
            .await
        {
            Ok(_) => break,
            Err(error) if attempts < 3 && error.code() == Some("DependencyViolation") => {
                tracing::debug!("DeleteStack {stack}: {error:?}; repeating");
            }
            Err(error) => return Err(api_error(format!("DeleteStack {stack}"), region, error)),
        }
    }
    // Poll by id: a deleted stack is no longer found by name.
    apply::wait(
        client,
        region,
        &deployed.stack_id,
        &mut cursor,
        poll,
        on_event,
        Goal::Delete,
    )
    .await?;
    Ok(true)
}

/// The resources a stack keeps on deletion (`DeletionPolicy: Retain`) that `--purge-data` removes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retained {
    /// Bucket names.
    pub buckets: Vec<String>,
    /// KMS key ids.
    pub keys: Vec<String>,
}

/// Lists `stack`'s retained buckets and keys (physical ids), from its resources: those the
/// deployed template or `synthesized` (what `up` deploys) marks `DeletionPolicy: Retain`. A stack
/// left `REVIEW_IN_PROGRESS` or rolled back by a failed creation still lists what it made; its
/// deployed template may be empty, hence the synthesized one.
pub async fn retained(
    client: &Client,
    region: &str,
    stack: &str,
    synthesized: &Value,
) -> Result<Retained, Error> {
    let mut found = Retained::default();
    let Some(deployed) = describe_stack(client, region, stack).await? else {
        return Ok(found);
    };
    let template: Value = if deployed.is_review_only() {
        Value::Null
    } else {
        serde_json::from_str(&change_set::deployed_template(client, region, stack).await?)
            .unwrap_or(Value::Null)
    };
    let retain = |logical: &str| {
        [&template, synthesized]
            .iter()
            .any(|t| t["Resources"][logical]["DeletionPolicy"].as_str() == Some("Retain"))
    };
    for resource in crate::status::stack_resources(client, region, stack).await? {
        let logical = resource.logical_resource_id().unwrap_or_default();
        let Some(physical) = resource.physical_resource_id().filter(|p| !p.is_empty()) else {
            continue;
        };
        match resource.resource_type().unwrap_or_default() {
            "AWS::S3::Bucket" if retain(logical) => found.buckets.push(physical.to_owned()),
            "AWS::KMS::Key" if retain(logical) => found.keys.push(physical.to_owned()),
            _ => {}
        }
    }
    Ok(found)
}

/// The retained buckets whose names the template fixes (every data bucket and the artifacts
/// bucket), so `--purge-data` still finds them after an earlier `down` deleted their stack.
pub fn retained_buckets_in_template(
    template: &Value,
    env: &environment::Environment,
    region: &environment::Region,
) -> Vec<String> {
    template["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, r)| r["Type"] == "AWS::S3::Bucket" && r["DeletionPolicy"] == "Retain")
        .filter_map(|(_, r)| {
            crate::deploy::resolve_name(&r["Properties"]["BucketName"], env, region)
        })
        .collect()
}

/// Empties and deletes the buckets (every object version and delete marker) and schedules the keys'
/// deletion (7 days, KMS's minimum). Returns one line per thing removed.
pub async fn purge(clients: &RegionClients, retained: &Retained) -> Result<Vec<String>, Error> {
    let region = clients.region.as_str();
    let s3 = &clients.s3;
    let mut done = Vec::new();
    let mut buckets = retained.buckets.clone();
    buckets.sort();
    buckets.dedup();
    for bucket in &buckets {
        let mut removed = 0usize;
        loop {
            let page = match s3.list_object_versions().bucket(bucket).send().await {
                Ok(page) => page,
                Err(error) if error.code() == Some("NoSuchBucket") => break,
                Err(error) => {
                    return Err(api_error(
                        format!("ListObjectVersions {bucket}"),
                        region,
                        error,
                    ));
                }
            };
            let objects: Vec<ObjectIdentifier> = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(
                    page.delete_markers()
                        .iter()
                        .map(|m| (m.key(), m.version_id())),
                )
                .filter_map(|(key, version)| {
                    ObjectIdentifier::builder()
                        .key(key?)
                        .set_version_id(version.map(str::to_owned))
                        .build()
                        .ok()
                })
                .collect();
            if objects.is_empty() {
                break;
            }
            removed += objects.len();
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| Error::Other(format!("DeleteObjects {bucket}: {e}")))?;
            s3.delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| api_error(format!("DeleteObjects {bucket}"), region, e))?;
        }
        match s3.delete_bucket().bucket(bucket).send().await {
            Ok(_) => done.push(format!(
                "deleted bucket {bucket} ({removed} object version(s))"
            )),
            Err(error) if error.code() == Some("NoSuchBucket") => {}
            Err(error) => return Err(api_error(format!("DeleteBucket {bucket}"), region, error)),
        }
    }
    let mut keys = retained.keys.clone();
    keys.sort();
    keys.dedup();
    for key in &keys {
        let outcome = match crate::keys::describe(&clients.kms, key).await? {
            None => format!("KMS key {key} no longer exists"),
            Some(found) if found.is_pending_deletion() => {
                format!("KMS key {key} is already scheduled for deletion")
            }
            Some(_) => {
                crate::keys::schedule_deletion(&clients.kms, key, 7).await?;
                format!("scheduled deletion of KMS key {key} in 7 days")
            }
        };
        done.push(outcome);
    }
    Ok(done)
}
