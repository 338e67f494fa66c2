//! The `transform` Lambda binary (deployed as `bootstrap` on `provided.al2023`): reads the
//! configuration, builds the clients once per container, logs JSON lines, and hands each Kinesis
//! event to [`transform::handle`].

use std::convert::Infallible;
use std::time::Duration;

use aws_lambda_events::event::kinesis::KinesisEvent;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_support::init_json_logs();
    let config = transform::Config::from_env()
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    // Secrets Manager and S3 calls get deadlines too.
    let sdk = lambda_support::sdk_config(Duration::from_secs(25)).await;
    let transform = transform::Transform::from_config(&config, &sdk)
        .inspect_err(|e| tracing::error!(error = %e, "cannot build the InfluxDB writer"))?;
    tracing::info!(
        influx_api = match config.influx.api {
            transform::config::InfluxApi::V1 { .. } => "v1",
            transform::config::InfluxApi::V2 { .. } => "v2",
        },
        influx_url = config.influx.url,
        quarantine_bucket = config.quarantine_bucket,
        quarantine_prefix = config.quarantine_prefix,
        "started"
    );
    let transform = &transform;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<KinesisEvent>| async move {
            Ok::<_, Infallible>(transform::handle(transform, event.payload).await)
        },
    ))
    .await
}
