//! Removing the canary: its InfluxDB points, its raw objects (when Firehose partitions by symbol,
//! they hold nothing else), its curated Parquet objects and notify's state object for the canary
//! symbol. Every run's canary is removed, not only this run's, so a run that was interrupted is
//! cleaned up by the next one.

use aws_connect::CallError;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use environment::Environment;
use lambda_contract::prefixes;
use quote_record::CANARY_SYMBOL;

use crate::deployed::logical;
use crate::hops::{curated_prefix, state_key};
use crate::influx::{self, Influx};
use crate::report::{Outcome, Row, Stage};
use crate::{Clients, Deployed};

/// Removes the canary everywhere it may be and says what was removed; a failure is a failed row
/// (the canary would stay visible to users).
pub async fn remove(clients: &Clients, env: &Environment, deployed: &Deployed) -> Row {
    let emulated = env.emulator.is_some();
    let mut done = Vec::new();
    let mut problems = Vec::new();

    match influx::token(clients, deployed, emulated).await {
        Ok(token) => {
            let target = Influx::new(env, token);
            match target.delete_canary(&clients.http).await {
                Ok(()) => done.push(format!("InfluxDB points of {CANARY_SYMBOL}")),
                Err(problem) => problems.push(problem),
            }
        }
        Err(problem) => problems.push(format!("cannot read the InfluxDB token: {problem}")),
    }

    let mut prefixes_to_empty = Vec::new();
    if let Some(raw) = deployed.get(logical::RAW_BUCKET) {
        if env.firehose.dynamic_partitioning {
            prefixes_to_empty.push((raw, format!("{}symbol={CANARY_SYMBOL}/", prefixes::RAW)));
        } else {
            done.push("raw records kept (without dynamic partitioning they share objects with users' records; Athena reads only the curated bucket)".into());
        }
    }
    if let Some(curated) = deployed.get(logical::CURATED_BUCKET) {
        prefixes_to_empty.push((curated, curated_prefix()));
        prefixes_to_empty.push((curated, state_key()));
    }
    for (bucket, prefix) in prefixes_to_empty {
        match delete_prefix(clients, bucket, &prefix).await {
            Ok(0) => {}
            Ok(n) => done.push(format!("{n} object(s) under s3://{bucket}/{prefix}")),
            Err(e) => problems.push(e.to_string()),
        }
    }

    let detail = if done.is_empty() {
        "nothing to remove".to_owned()
    } else {
        format!("removed {}", done.join("; "))
    };
    if problems.is_empty() {
        Row::new(Stage::Cleanup, "canary", Outcome::Passed, detail)
    } else {
        let problem = format!(
            "the canary could not be removed everywhere: {}",
            problems.join("; ")
        );
        Row::new(
            Stage::Cleanup,
            "canary",
            Outcome::failed(
                problem.clone(),
                "users may see the canary symbol until it is removed: give your credentials s3:DeleteObject on the data buckets and the InfluxDB token delete rights, then run verify again",
            ),
            problem,
        )
    }
}

/// Deletes every object under `prefix` (a key prefix, or one key). Returns how many.
pub async fn delete_prefix(
    clients: &Clients,
    bucket: &str,
    prefix: &str,
) -> Result<usize, CallError> {
    let mut deleted = 0;
    loop {
        let page = clients
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .map_err(|e| {
                CallError::new(
                    format!("ListObjectsV2 s3://{bucket}/{prefix}"),
                    &clients.region,
                    &e,
                )
            })?;
        let ids: Vec<ObjectIdentifier> = page
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
            .collect();
        if ids.is_empty() {
            return Ok(deleted);
        }
        let count = ids.len();
        let delete = Delete::builder()
            .set_objects(Some(ids))
            .quiet(true)
            .build()
            .map_err(|_| CallError {
                operation: format!("DeleteObjects s3://{bucket}/{prefix}"),
                region: clients.region.clone(),
                failure: aws_connect::Failure::Unreadable {
                    what: "the request could not be built",
                },
            })?;
        let out = clients
            .s3
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| {
                CallError::new(
                    format!("DeleteObjects s3://{bucket}/{prefix}"),
                    &clients.region,
                    &e,
                )
            })?;
        if let Some(error) = out.errors().first() {
            return Err(CallError {
                operation: format!(
                    "DeleteObjects s3://{bucket}/{}",
                    error.key().unwrap_or(prefix)
                ),
                region: clients.region.clone(),
                failure: aws_connect::Failure::Service {
                    code: error.code().map(str::to_owned),
                    message: error.message().map(str::to_owned),
                },
            });
        }
        deleted += count;
    }
}
