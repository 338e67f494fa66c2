//! `deployer verify`: a thin layer over the `verify` crate.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

use crate::context::{Context, Target};

/// Arguments of `deployer verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    target: Target,
    /// How long to follow the canary after putting it (such as 90s, 5m; default: Firehose's
    /// buffering interval plus three minutes).
    #[arg(long, value_name = "DURATION", value_parser = verify::parse_duration)]
    timeout: Option<Duration>,
}

/// Runs `deployer verify`: every selected region in rollout order; exit 0 when all passed, 1
/// (naming the first broken hop) otherwise.
pub async fn run(args: &VerifyArgs) -> Result<ExitCode> {
    let context = Context::open(&args.target).await?;
    let timeout = args
        .timeout
        .unwrap_or_else(|| verify::default_timeout(&context.env));
    let mut passed = true;
    for region in &context.synthesis.regions {
        eprintln!(
            "verifying {} in {}: following a canary for up to {} s",
            context.env.name.as_str(),
            region.region,
            timeout.as_secs()
        );
        let report = verify::verify_region(
            context.aws_for(&region.region).connection(),
            &context.env,
            &region.region,
            timeout,
        )
        .await?;
        print!("{report}");
        passed &= report.passed();
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
