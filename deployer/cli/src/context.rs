//! What every AWS subcommand shares: the environment, its synthesized stacks, the AWS clients after
//! the account check, the artifacts, and how results are shown.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use engine::artifacts::{self, Artifact};
use engine::aws::{self, Aws, AwsOptions, RegionClients};
use environment::Environment;
use synth::{RegionOutput, Synthesis};

use crate::Paths;
use crate::synth_cmd::{load_environment, pick_region};

/// Options of every subcommand that talks to AWS.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The environment: `environments/<NAME>.yaml`.
    #[arg(long = "env", value_name = "NAME")]
    pub env: String,
    /// Only this region (default: every region of the environment).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// AWS profile (default: the standard credential chain, including AWS_PROFILE).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    #[command(flatten)]
    pub paths: Paths,
}

/// Where artifacts come from.
#[derive(Debug, Clone, clap::Args)]
pub struct ArtifactArgs {
    /// Prebuilt artifacts: DIR/transform.zip, DIR/to-parquet.zip, DIR/notify.zip and DIR/scraper
    /// (default: build the runtime crates in release mode).
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
}

impl ArtifactArgs {
    /// Reads or builds the artifacts.
    pub fn load(&self) -> Result<Vec<Artifact>> {
        match &self.artifacts {
            Some(dir) => artifacts::from_dir(dir).context("reading --artifacts"),
            None => {
                let workspace = std::env::current_dir().context("current directory")?;
                Ok(artifacts::build(&workspace, None)?)
            }
        }
    }
}

/// An environment ready for AWS calls.
pub struct Context {
    /// The environment.
    pub env: Environment,
    /// Its stacks (the selected regions only).
    pub synthesis: Synthesis,
    /// AWS configuration.
    pub aws: Aws,
}

impl Context {
    /// Loads and synthesizes the environment, configures AWS and checks the account: nothing is
    /// changed before the caller's account is known to be the environment's.
    pub async fn open(target: &Target) -> Result<Context> {
        let env = load_environment(&target.paths, &target.env)?;
        let region = pick_region(&env, target.region.as_deref())?;
        let synthesis = synth::synthesize(&env, region.as_ref())?;
        let aws = Aws::load(
            &env,
            &AwsOptions {
                profile: target.profile.clone(),
            },
        )
        .await;
        if let Some(endpoint) = aws.endpoint() {
            tracing::info!("sending requests to {endpoint}");
        }
        aws::check_account(&aws.sts(), &env).await?;
        Ok(Context {
            env,
            synthesis,
            aws,
        })
    }

    /// The selected regions, in rollout order, with their clients.
    pub fn regions(&self) -> Vec<(&RegionOutput, RegionClients)> {
        self.synthesis
            .regions
            .iter()
            .map(|r| (r, self.aws.region(&r.region)))
            .collect()
    }
}

/// True when both standard input and standard error are terminals, so a question can be asked.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks a question on the terminal and reads one line.
pub fn ask(question: &str) -> Result<String> {
    use std::io::Write;
    let mut stderr = std::io::stderr();
    write!(stderr, "{question}")?;
    stderr.flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

/// Prints a plan the way `diff` and `up` show it.
pub fn print_plan(plan: &engine::change_set::Plan) {
    let (add, modify, remove, replace) = plan.counts();
    println!(
        "{} {}: {add} to add, {modify} to modify ({replace} replaced), {remove} to remove{}",
        plan.region,
        plan.stack,
        if plan.create { " (new stack)" } else { "" }
    );
    for change in &plan.changes {
        println!("  {change}");
    }
    if !plan.iam.is_empty() {
        println!(
            "  IAM statement changes{}:",
            if plan.broadens() { " (broadening)" } else { "" }
        );
        for change in &plan.iam {
            println!("    {change}");
        }
    }
}

/// A plan as one JSON object.
pub fn plan_json(plan: &engine::change_set::Plan) -> serde_json::Value {
    serde_json::json!({
        "type": "plan",
        "region": plan.region,
        "stack": plan.stack,
        "create": plan.create,
        "changes": plan.changes.iter().map(|c| serde_json::json!({
            "action": c.action, "logical_id": c.logical_id, "resource_type": c.resource_type, "replacement": c.replacement,
        })).collect::<Vec<_>>(),
        "iam": plan.iam.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "broadening": plan.broadens(),
    })
}
