//! The Firehose delivery streams of the template, emulated by `local-firehose` (moto never reads
//! a delivery stream's Kinesis source and ignores dynamic partitioning).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use local_firehose::{DeliveryConfig, StartPosition};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::resolve::Resolver;

pub use local_firehose::Stats;

/// One running delivery stream.
pub struct DeliveryStream {
    /// The template's logical id.
    pub name: String,
    /// Its counters.
    pub stats: Arc<Stats>,
    /// The task; ends after `stop` turns true and its buffers are flushed.
    pub task: JoinHandle<Result<(), String>>,
}

/// The logical ids of the template's delivery streams.
pub fn delivery_stream_ids(template: &Value) -> Vec<String> {
    template["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, r)| r["Type"] == "AWS::KinesisFirehose::DeliveryStream")
        .map(|(id, _)| id.clone())
        .collect()
}

/// Starts the emulation of every delivery stream of `template`, reading its source stream from
/// now on (records of earlier runs are not delivered again; those put while the run starts are not
/// missed, as they would be from `LATEST`).
pub fn spawn_delivery_streams(
    template: &Value,
    resolver: &Resolver,
    kinesis: &aws_sdk_kinesis::Client,
    s3: &aws_sdk_s3::Client,
    stop: &watch::Receiver<bool>,
) -> Result<Vec<DeliveryStream>, String> {
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    let mut streams = Vec::new();
    for id in delivery_stream_ids(template) {
        let resource = &template["Resources"][&id];
        let resolve = resolver.as_fn();
        let name = resolve(&serde_json::json!({ "Ref": id })).unwrap_or_else(|| id.clone());
        let config = DeliveryConfig::from_resource(&resource["Properties"], &resolve)
            .map_err(|e| format!("delivery stream {id}: {e}"))?
            .named(name)
            .starting_at(StartPosition::AtTimestamp {
                unix_millis: started,
            });
        let stats = Arc::new(Stats::default());
        let task = tokio::spawn({
            let (kinesis, s3, stats, stop) = (
                kinesis.clone(),
                s3.clone(),
                Arc::clone(&stats),
                stop.clone(),
            );
            async move {
                local_firehose::run(config, kinesis, s3, stats, stop)
                    .await
                    .map_err(|e| e.to_string())
            }
        });
        streams.push(DeliveryStream {
            name: id,
            stats,
            task,
        });
    }
    Ok(streams)
}
