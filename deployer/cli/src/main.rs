//! `deployer`: synthesizes, reviews and deploys the MyStockTracker pipeline.
//!
//! This binary is a thin layer of argument parsing and printing over the library crates; each
//! subcommand lives in its own module.

mod bootstrap_cmd;
mod context;
mod diff_cmd;
mod down_cmd;
mod dr_cmd;
mod exit;
mod grafana_cmd;
mod init_cmd;
mod output;
mod policy_cmd;
mod run_cmd;
mod status_cmd;
mod synth_cmd;
mod up_cmd;
mod verify_cmd;
mod vpn_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Deploys the MyStockTracker market-data pipeline from `environments/<name>.yaml`.
#[derive(Debug, Parser)]
#[command(name = "deployer", version, about, propagate_version = true)]
struct Cli {
    /// When an AWS call fails, also show the SDK's details (its error chain and debug dump), and
    /// let the SDK's own warnings through (such as its instance-metadata lookups).
    #[arg(long, short = 'v', global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate the CloudFormation templates and the IAM snapshot of an environment.
    Synth(synth_cmd::SynthArgs),
    /// Review IAM: `policy diff` explains which role gains or loses which permission.
    Policy(policy_cmd::PolicyArgs),
    /// Show what `up` would change, per region (exit 0: none, 2: changes, 1: error).
    Diff(diff_cmd::DiffArgs),
    /// Deploy: canary region first, then the others in waves.
    Up(up_cmd::UpArgs),
    /// Delete the stacks, in reverse rollout order (data is retained unless --purge-data).
    Down(down_cmd::DownArgs),
    /// Show each stack's status, last event and outputs (and drift with --drift).
    Status(status_cmd::StatusArgs),
    /// Start a new environment file (a commented skeleton, or a copy of another environment).
    Init(init_cmd::InitArgs),
    /// Print a shell completion script: `deployer completions bash > /etc/bash_completion.d/deployer`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Generate Grafana's data sources, dashboards and alert rules (or push them with --push).
    Grafana(grafana_cmd::GrafanaArgs),
    /// Check a deployed region and follow a canary quote through every hop (exit 0: all passed).
    Verify(verify_cmd::VerifyArgs),
    /// Run the pipeline deployed to the emulator on this machine, in the foreground (Ctrl-C stops).
    Run(run_cmd::RunArgs),
    /// Client VPN access: write an operator's .ovpn profile, or import a revocation list.
    Vpn(vpn_cmd::VpnArgs),
    /// Disaster recovery: `dr status` shows replication lag, backlog and configuration.
    Dr(dr_cmd::DrArgs),
    /// Create or update the bootstrap stacks (artifacts bucket, deploy role, execution role) in the caller's account.
    Bootstrap(bootstrap_cmd::BootstrapArgs),
}

/// Where the environment files and snapshots are, shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct Paths {
    /// Folder holding `<env>.yaml` files.
    #[arg(long, default_value = "environments", value_name = "DIR")]
    pub environments: PathBuf,
    /// Folder holding the committed IAM snapshots (`<env>/<Role>.json`).
    #[arg(long, default_value = "policies", value_name = "DIR")]
    pub policies: PathBuf,
    /// Folder holding the committed template snapshots (`<env>/<region>/<stack>.json`), which
    /// `diff --offline` compares.
    #[arg(long, default_value = "templates", value_name = "DIR")]
    pub templates: PathBuf,
}

/// An error whose text is already a complete report (such as rendered diagnostics), printed as is.
#[derive(Debug)]
pub struct Reported(pub String);

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Reported {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.verbose);
    let result = match cli.command {
        Command::Synth(args) => synth_cmd::run(&args),
        Command::Policy(args) => policy_cmd::run(&args),
        Command::Diff(args) => block_on(diff_cmd::run(&args)),
        Command::Up(args) => block_on(up_cmd::run(&args)),
        Command::Down(args) => block_on(down_cmd::run(&args)),
        Command::Status(args) => block_on(status_cmd::run(&args)),
        Command::Init(args) => init_cmd::run(&args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "deployer",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Grafana(args) => block_on(grafana_cmd::run(&args)),
        Command::Verify(args) => block_on(verify_cmd::run(&args)),
        Command::Run(args) => block_on(run_cmd::run(&args)),
        Command::Vpn(args) => block_on(vpn_cmd::run(&args)),
        Command::Dr(args) => block_on(dr_cmd::run(&args)),
        Command::Bootstrap(args) => block_on(bootstrap_cmd::run(&args)),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            match error.downcast_ref::<Reported>() {
                Some(report) => eprintln!("{report}"),
                None => eprintln!("error: {error:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// Where the SDK logs, at `warn`, what a failed call's one sentence already says: the credential
/// chain's multi-line report of every provider it tried (instance metadata included) and the
/// instance-metadata client's own complaints. Shown with `--verbose`.
const SDK_NOISE: &[&str] = &["aws_config::meta::credentials::chain", "aws_config::imds"];

/// Logs go to standard error: warnings only unless `MST_LOG=info|debug|trace` asks for more, without
/// the SDK's noise unless `--verbose`, which adds the SDK's details of failed calls (`aws_connect`
/// logs them at `debug`).
fn init_logs(verbose: bool) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let level = std::env::var("MST_LOG")
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::WARN);
    let mut filter = Targets::new().with_default(level);
    if verbose {
        filter = filter.with_target("aws_connect", level.max(LevelFilter::DEBUG));
    } else {
        for target in SDK_NOISE {
            filter = filter.with_target(*target, level.min(LevelFilter::ERROR));
        }
    }
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(verbose),
        )
        .with(filter)
        .init();
}

/// Runs an async subcommand on a multi-threaded runtime (two workers: the work is waiting on AWS).
fn block_on(
    future: impl std::future::Future<Output = anyhow::Result<ExitCode>>,
) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(future)
}
