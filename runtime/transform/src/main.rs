//! The `transform` Lambda binary (deployed as `bootstrap` on `provided.al2023`): reads the
//! configuration, builds the clients once per container, logs JSON lines, and hands each Kinesis
//! event to [`transform::handle_until`] with the invocation's deadline. A failed cold start is reported to the Runtime API
//! ([`lambda_support::InitError`]) before the process exits.

use std::convert::Infallible;
use std::process::ExitCode;
use std::time::Duration;

use aws_lambda_events::event::kinesis::KinesisEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use lambda_support::InitError;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    lambda_support::init_json_logs();
    let config = match transform::Config::from_env() {
        Ok(config) => config,
        Err(e) => return InitError::config(&e).fail().await,
    };
    // Secrets Manager and S3 calls get deadlines too.
    let sdk = lambda_support::sdk_config(Duration::from_secs(25)).await;
    let transform = match transform::Transform::from_config(&config, &sdk) {
        Ok(transform) => transform,
        Err(e) => {
            // The URL may carry credentials: the message names the variable instead.
            let url = &config.influx.url;
            let reason = e
                .to_string()
                .replace(&format!("{url:?}"), "(value not shown)")
                .replace(url.as_str(), "(value not shown)");
            let message = format!(
                "cannot build the InfluxDB writer ({reason}): check INFLUX_URL and \
                 INFLUX_TIMEOUT_SECONDS in the function's environment"
            );
            return InitError::new("Function.InfluxWriterError", message)
                .fail()
                .await;
        }
    };
    tracing::info!(
        influx_api = config.influx.api.as_str(),
        influx_url = config.influx.url,
        quarantine_bucket = config.quarantine_bucket,
        quarantine_prefix = config.quarantine_prefix,
        "started"
    );
    let transform = &transform;
    let run = lambda_runtime::run(service_fn(
        move |event: LambdaEvent<KinesisEvent>| async move {
            // Bisection of a partly refused body sends nothing that could end after the
            // invocation's own deadline.
            let deadline = transform::handler::deadline_from_epoch_millis(event.context.deadline);
            Ok::<_, Infallible>(transform::handle_until(transform, event.payload, deadline).await)
        },
    ));
    lambda_support::exit_code(run.await)
}
