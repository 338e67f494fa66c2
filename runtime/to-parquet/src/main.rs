//! The `to-parquet` Lambda binary (deployed as `bootstrap` on `provided.al2023`): reads the
//! configuration, builds the S3 client once per container, logs JSON lines, and hands each S3
//! event to [`to_parquet::handle`]. A failed cold start is reported to the Runtime API
//! ([`lambda_support::InitError`]) before the process exits.

use std::process::ExitCode;
use std::time::Duration;

use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{LambdaEvent, service_fn};
use lambda_support::InitError;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    lambda_support::init_json_logs();
    let config = match to_parquet::Config::from_env() {
        Ok(config) => config,
        Err(e) => return InitError::config(&e).fail().await,
    };
    // One call is one part or one GetObject body chunk stream: minutes for a large object at worst.
    let sdk = lambda_support::sdk_config(Duration::from_secs(120)).await;
    tracing::info!(
        curated_bucket = config.curated_bucket,
        curated_prefix = config.curated_prefix,
        quarantine_bucket = config.quarantine_bucket,
        quarantine_prefix = config.quarantine_prefix,
        "started"
    );
    let function = to_parquet::handler::ToParquet::new(lambda_support::s3_client(&sdk), config);
    let function = &function;
    let run = lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        to_parquet::handle(function, event.payload)
            .await
            .map(|summary| summary.written.len())
            .inspect_err(|e| tracing::error!(error = %e, "invocation failed"))
            .map_err(lambda_runtime::Error::from)
    }));
    lambda_support::exit_code(run.await)
}
