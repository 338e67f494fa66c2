//! The `notify` Lambda binary (deployed as `bootstrap` on `provided.al2023`): reads the
//! configuration, builds the clients once per container, logs JSON lines, and hands each S3 event
//! to [`notify::handle`]. An error result makes Lambda retry the event (then send it to the
//! function's failure destination). A failed cold start is reported to the Runtime API
//! ([`lambda_support::InitError`]) before the process exits.

use std::process::ExitCode;
use std::time::Duration;

use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{LambdaEvent, service_fn};
use lambda_support::InitError;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    lambda_support::init_json_logs();
    let config = match notify::Config::from_env() {
        Ok(config) => config,
        Err(e) => return InitError::config(&e).fail().await,
    };
    let sdk = lambda_support::sdk_config(Duration::from_secs(20)).await;
    let notify = notify::Notify::from_config(&config, &sdk);
    tracing::info!(
        topic_arn = config.topic_arn,
        threshold_pct = config.threshold.percent(),
        state_bucket = config.state_bucket,
        state_prefix = config.state_prefix,
        "started"
    );
    let notify = &notify;
    let run = lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        notify::handle(notify, event.payload)
            .await
            .map(|_| ())
            .map_err(lambda_runtime::Error::from)
    }));
    lambda_support::exit_code(run.await)
}
