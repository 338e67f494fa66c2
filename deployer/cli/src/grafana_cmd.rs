//! `deployer grafana`: Grafana's provisioning from the environment, written as files or pushed
//! through Grafana's HTTP API (the `grafana` crate does the work).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::Paths;
use crate::synth_cmd::load_environment;

/// Arguments of `deployer grafana`.
#[derive(Debug, clap::Args)]
pub struct GrafanaArgs {
    /// The environment: `environments/<NAME>.yaml`.
    #[arg(long = "env", value_name = "NAME")]
    env: String,
    /// Where the provisioning is written: `<DIR>/<env>/` is a Grafana provisioning directory
    /// (`GF_PATHS_PROVISIONING`).
    #[arg(long, default_value = "out/grafana", value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    paths: Paths,
}

/// Runs `deployer grafana`.
pub fn run(args: &GrafanaArgs) -> Result<ExitCode> {
    let env = load_environment(&args.paths, &args.env)?;
    let provisioning = grafana::generate(&env);
    let dir = args.out.join(env.name.as_str());
    let written = provisioning
        .write_to(&dir)
        .with_context(|| format!("writing Grafana's provisioning for `{}`", args.env))?;
    println!(
        "{} files in {} ({} data sources, {} dashboards, {} alert rules)",
        written.len(),
        dir.display(),
        provisioning.datasources.len(),
        provisioning.dashboards.len(),
        provisioning.rule_group.rules.len()
    );
    println!(
        "start Grafana with GF_PATHS_PROVISIONING={} (docs/grafana.md)",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
