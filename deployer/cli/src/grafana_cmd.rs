//! `deployer grafana`: Grafana's provisioning from the environment, written as files or pushed
//! through Grafana's HTTP API (the `grafana` crate does the work).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use grafana::push::{Change, Grafana, TOKEN_VAR};

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
    /// Upload to a running Grafana through its HTTP API instead of writing files (token in
    /// MST_GRAFANA_SERVICE_ACCOUNT_TOKEN).
    #[arg(long)]
    push: bool,
    /// Grafana's base URL for --push (default: the environment's `grafana.url`).
    #[arg(long, value_name = "URL", requires = "push")]
    url: Option<String>,
    #[command(flatten)]
    paths: Paths,
}

/// Runs `deployer grafana`.
pub async fn run(args: &GrafanaArgs) -> Result<ExitCode> {
    let env = load_environment(&args.paths, &args.env)?;
    let provisioning = grafana::generate(&env);
    if args.push {
        return push(args, &env, &provisioning).await;
    }
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

async fn push(
    args: &GrafanaArgs,
    env: &environment::Environment,
    provisioning: &grafana::Provisioning,
) -> Result<ExitCode> {
    let Some(url) = args.url.clone().or_else(|| env.grafana.url.clone()) else {
        bail!(
            "no Grafana URL: pass `--url https://grafana.example.com`, or set `grafana.url` in environments/{}.yaml",
            args.env
        );
    };
    let token = std::env::var(TOKEN_VAR).unwrap_or_default();
    if token.trim().is_empty() {
        bail!(
            "{TOKEN_VAR} is not set: create a service account with the Admin role in Grafana (Administration > Service accounts), add a token, and export it as {TOKEN_VAR}"
        );
    }
    let client = Grafana::new(&url, token.trim())?;
    let outcomes = grafana::push::push(provisioning, &client, &|var| std::env::var(var).ok())
        .await
        .with_context(|| format!("pushing `{}` to {url}", args.env))?;
    let mut counts = [0; 3];
    for o in &outcomes {
        let (word, i) = match o.change {
            Change::Created => ("created", 0),
            Change::Updated => ("updated", 1),
            Change::Unchanged => ("unchanged", 2),
        };
        counts[i] += 1;
        println!("{word:>9}  {} {} ({})", o.kind, o.name, o.uid);
    }
    println!(
        "{url}: {} created, {} updated, {} unchanged",
        counts[0], counts[1], counts[2]
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    /// `up`'s next steps name the variable `--push` reads.
    #[test]
    fn next_steps_name_the_token_variable_push_reads() {
        assert_eq!(engine::next_steps::GRAFANA_TOKEN_VAR, super::TOKEN_VAR);
    }
}
