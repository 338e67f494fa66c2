//! The `vpn-connect` Lambda binary (deployed as `bootstrap` on `provided.al2023`, named
//! `AWSClientVPN-…` as Client VPN requires): reads the allowed networks, logs JSON lines, and
//! answers each connection request with [`vpn_connect::handle`]. The payload is taken as plain
//! JSON so that a malformed request is denied with a message instead of failing the invocation.
//! A failed cold start is reported to the Runtime API ([`lambda_support::InitError`]).

use std::process::ExitCode;

use lambda_runtime::{LambdaEvent, service_fn};
use lambda_support::InitError;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    lambda_support::init_json_logs();
    let config = match vpn_connect::Config::from_env() {
        Ok(config) => config,
        Err(e) => return InitError::config(&e).fail().await,
    };
    tracing::info!(
        allowed_networks = config.allowed_client_cidrs.len(),
        "started"
    );
    let config = &config;
    let run = lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            Ok::<_, lambda_runtime::Error>(vpn_connect::handle(config, &event.payload))
        },
    ));
    lambda_support::exit_code(run.await)
}
