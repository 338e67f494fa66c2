//! The `transform` Lambda binary (deployed as `bootstrap` on `provided.al2023`): reads the
//! configuration, builds the clients once per container, logs JSON lines, and hands each Kinesis
//! event to [`transform::handle`].

use std::convert::Infallible;
use std::time::Duration;

use aws_lambda_events::event::kinesis::KinesisEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_logs();
    let config = transform::Config::from_env()
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    // Secrets Manager and S3 calls get deadlines too (the SDK retries an attempt up to 3 times).
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(25))
        .build();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(transform::aws_http_client())
        .timeout_config(timeouts)
        .load()
        .await;
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

/// JSON lines on stdout (the function's log format is JSON, so CloudWatch indexes the fields),
/// one object per event with its fields flattened and the invocation's span; the level filter comes from `RUST_LOG` in
/// `target=level` form (default `info`).
fn init_logs() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_ansi(false),
        )
        .with(filter)
        .init();
}
