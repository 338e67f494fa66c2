//! `deployer verify`: is the pipeline of one region working, end to end, right now?
//!
//! Two parts, the same code against the emulator and against AWS:
//! - **resource checks** ([`checks`]): each function's state, the Kinesis event source mapping, the
//!   delivery stream and the Glue table, through their own service APIs (a `CREATE_COMPLETE` proves
//!   nothing on an emulator). What the emulator cannot run is reported as emulated by
//!   `deployer run`, neither passed nor failed.
//! - **the canary** ([`canary`], [`hops`]): a marked pair of quotes of the reserved symbol
//!   [`quote_record::CANARY_SYMBOL`], put into the stream and followed hop by hop until a
//!   deadline: the InfluxDB points, the raw object under the Firehose prefix, the curated Parquet
//!   rows, notify's claimed alert. Afterwards [`cleanup`] removes what the canary left, so users'
//!   queries never see it (`docs/verify.md`).
//!
//! [`verify_region`] runs it all for one region and returns a [`Report`] (a table, and whether
//! everything passed): `deployer verify` prints it, and `deployer up` uses it as the canary
//! region's gate.

pub mod canary;
pub mod checks;
pub mod cleanup;
pub mod clients;
pub mod deployed;
pub mod duration;
pub mod hops;
pub mod influx;
pub mod report;

use std::time::Duration;

use tokio::time::Instant;

use aws_connect::Connection;
use environment::{Environment, Region};

pub use canary::Canary;
pub use clients::Clients;
pub use deployed::Deployed;
pub use duration::parse_duration;
pub use report::{Outcome, Report, Row, Stage};

/// Why a region could not be verified at all (a broken hop is not an error: it is in the
/// [`Report`]).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The pipeline stack is not deployed in the region.
    #[error(
        "stack {stack} is not deployed in {region}: run `deployer up --env {env}` first (or pick another --region)"
    )]
    NotDeployed {
        /// The stack.
        stack: String,
        /// The region.
        region: String,
        /// The environment.
        env: String,
    },
    /// An AWS call needed to find the pipeline failed.
    #[error(transparent)]
    Call(#[from] aws_connect::CallError),
    /// The canary could not be built (a bug: the environment was validated).
    #[error("cannot build the canary quotes: {0}")]
    Canary(String),
}

/// How long [`verify_region`] waits by default: Firehose's buffering interval (the slowest hop
/// waits for it) plus three minutes for the Lambdas and the calls in between.
pub fn default_timeout(env: &Environment) -> Duration {
    Duration::from_secs(u64::from(env.firehose.buffering_seconds) + 180)
}

/// Verifies `region` of `env`: the resource checks, then the canary followed until `timeout`
/// after it was put, then its removal. Returns the report; `Err` only when the pipeline could not
/// be found (not deployed, AWS unreachable, no credentials).
pub async fn verify_region(
    connection: &Connection,
    env: &Environment,
    region: &Region,
    timeout: Duration,
) -> Result<Report, VerifyError> {
    let clients = Clients::new(connection, region);
    verify_with(&clients, env, timeout).await
}

/// [`verify_region`] with prepared clients (tests pass mocked ones).
pub async fn verify_with(
    clients: &Clients,
    env: &Environment,
    timeout: Duration,
) -> Result<Report, VerifyError> {
    let deployed = Deployed::find(clients, env).await?;
    let emulated = env.emulator.is_some();
    let mut report = Report::new(env.name.as_str(), clients.region.as_str());
    report
        .rows
        .extend(checks::run(clients, env, &deployed, emulated).await);

    let canary = Canary::new(env.alerts.threshold_pct, quote_record::Timestamp::now())
        .map_err(VerifyError::Canary)?;
    let started = Instant::now();
    let put = hops::put(clients, &deployed, &canary).await;
    let put_ok = put.outcome == Outcome::Passed;
    report.rows.push(put);
    if put_ok {
        let probes = hops::probes(clients, env, &deployed, &canary).await;
        report
            .rows
            .extend(hops::follow(probes, started, started + timeout, hops::POLL_INTERVAL).await);
    } else {
        report.rows.extend(hops::not_reached_all());
    }
    report
        .rows
        .push(cleanup::remove(clients, env, &deployed).await);
    Ok(report)
}
