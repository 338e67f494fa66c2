//! `deployer policy diff` and `deployer policy explain`.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use engine::aws::{Aws, AwsOptions};
use policy_review::diff::FailOn;
use policy_review::source::deployed;
use policy_review::{Catalog, Format, source};

use crate::Paths;
use crate::output::Output;
use crate::synth_cmd::load_environment;

/// Arguments of `deployer policy`.
#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PolicyCommand {
    /// Explain how IAM changes, role by role: which role gains or loses which permission, and
    /// whether it broadens access.
    Diff(DiffArgs),
    /// Explain why each role has each permission: per statement and action, the code path or AWS
    /// requirement that needs it (exit 2 when a granted action has none).
    Explain(ExplainArgs),
}

/// Arguments of `deployer policy explain`.
#[derive(Debug, clap::Args)]
struct ExplainArgs {
    /// The environment: `environments/<NAME>.yaml`.
    #[arg(long = "env", value_name = "NAME")]
    env: String,
    /// Only this role (its logical id, as in `policies/<env>/<ROLE>.json`); default: every role.
    #[arg(long, value_name = "ROLE")]
    role: Option<String>,
    /// `text` (a table per statement) or `json` (schema `mystocktracker.policy-explain/1`).
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    #[command(flatten)]
    paths: Paths,
}

/// Output format of `policy diff`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    /// For a terminal (coloured only when stdout is one and NO_COLOR is unset).
    Text,
    /// A merge-request note.
    Markdown,
    /// Machine-readable (schema in docs/iam-review.md).
    Json,
    /// JUnit XML, one test case per role, failing on broadening.
    Junit,
}

/// When `policy diff` exits 2.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FailOnArg {
    /// Any broadening change.
    Broadening,
    /// Any change.
    Any,
    /// Never (exit 0 unless there is an error).
    Never,
}

/// Arguments of `deployer policy diff`.
#[derive(Debug, clap::Args)]
struct DiffArgs {
    /// The environment: `environments/<NAME>.yaml`.
    #[arg(long = "env", value_name = "NAME")]
    env: String,
    /// Compare with `policies/<env>/` as committed at this git revision (default: HEAD).
    #[arg(long, value_name = "REV", conflicts_with = "against_deployed")]
    base: Option<String>,
    /// Compare this committed revision instead of the snapshot synthesized now.
    #[arg(long, value_name = "REV", conflicts_with = "against_deployed")]
    head: Option<String>,
    /// Compare the live roles of the deployed stacks (canary region; IAM is global) with the
    /// snapshot synthesized now: what the live roles grant beyond it is broadening drift.
    #[arg(long)]
    against_deployed: bool,
    /// AWS profile for `--against-deployed` (default: the standard credential chain).
    #[arg(long, value_name = "NAME", requires = "against_deployed")]
    profile: Option<String>,
    /// Output format (`--output` is the same option, as on every other command; JSON carries the
    /// schema `mystocktracker.policy-diff/1`).
    #[arg(long, visible_alias = "output", value_enum, default_value = "text")]
    format: FormatArg,
    /// Which findings make the exit code 2.
    #[arg(long, value_enum, default_value = "broadening")]
    fail_on: FailOnArg,
    #[command(flatten)]
    paths: Paths,
}

/// The live roles of `env`'s stacks in its canary region, through CloudFormation and IAM, with the
/// label naming them in reports.
fn deployed(
    env: &environment::Environment,
    synthesis: &synth::Synthesis,
    catalog: &Catalog,
    profile: Option<String>,
) -> Result<(String, synth::Snapshot)> {
    let region = env.canary_region().as_str().to_owned();
    let stacks: Vec<String> = synthesis
        .snapshot
        .roles
        .values()
        .map(|r| r.stack.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let snapshot = runtime.block_on(async {
        // The deploy engine's connection: same endpoint, credentials, retries and timeouts.
        let aws = Aws::load(env, &AwsOptions { profile }).await;
        if let Some(endpoint) = aws.endpoint() {
            tracing::info!("sending requests to {endpoint}");
        }
        let config = aws.sdk_config();
        let deployment = deployed::locate(config, &stacks).await?;
        deployed::read_roles(config, &deployment, env.account.as_str(), catalog).await
    })?;
    Ok((format!("deployed:{region}"), snapshot))
}

/// Runs `deployer policy ...`.
pub fn run(args: &PolicyArgs) -> Result<ExitCode> {
    match &args.command {
        PolicyCommand::Diff(diff) => run_diff(diff),
        PolicyCommand::Explain(explain) => run_explain(explain),
    }
}

fn run_explain(args: &ExplainArgs) -> Result<ExitCode> {
    let env = load_environment(&args.paths, &args.env)?;
    let synthesis = synth::synthesize(&env, None)?;
    let report = synthesis
        .grants
        .report(env.name.as_str(), args.role.as_deref())?;
    print!(
        "{}",
        match args.output {
            Output::Text => report.to_text(),
            Output::Json => report.to_json(),
        }
    );
    Ok(if report.unexplained.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::CHANGES)
    })
}

fn run_diff(args: &DiffArgs) -> Result<ExitCode> {
    let env = load_environment(&args.paths, &args.env)?;
    let synthesis = synth::synthesize(&env, None)?;
    let catalog = Catalog::from_synthesis(&synthesis);
    let repo = Path::new(".");
    let dir = args.paths.policies.join(env.name.as_str());

    let (base_label, base, head_label, head) = if args.against_deployed {
        let (label, live) = deployed(&env, &synthesis, &catalog, args.profile.clone())?;
        ("synth".to_owned(), synthesis.snapshot.clone(), label, live)
    } else {
        let (head_label, head) = match &args.head {
            Some(rev) => (
                format!("git:{}", source::short_rev(repo, rev)),
                source::from_git(repo, rev, &dir)?,
            ),
            None => ("synth".to_owned(), synthesis.snapshot.clone()),
        };
        let rev = args.base.as_deref().unwrap_or("HEAD");
        let base = source::from_git(repo, rev, &dir)
            .with_context(|| format!("reading {} at {rev}", dir.display()))?;
        let base_label = format!("git:{}", source::short_rev(repo, rev));
        (base_label, base, head_label, head)
    };

    let diff = policy_review::diff_snapshots(
        env.name.as_str(),
        &base_label,
        &base,
        &head_label,
        &head,
        &catalog,
    );
    let level = match args.fail_on {
        FailOnArg::Broadening => FailOn::Broadening,
        FailOnArg::Any => FailOn::Any,
        FailOnArg::Never => FailOn::Never,
    };
    let format = match args.format {
        FormatArg::Text => Format::Text,
        FormatArg::Markdown => Format::Markdown,
        FormatArg::Json => Format::Json,
        FormatArg::Junit => Format::Junit(level),
    };
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    print!("{}", policy_review::render::render(&diff, format, color));
    Ok(if diff.fails(level) {
        ExitCode::from(crate::exit::CHANGES)
    } else {
        ExitCode::SUCCESS
    })
}
