//! `deployer`: synthesizes, reviews and deploys the MyStockTracker pipeline.
//!
//! This binary is a thin layer of argument parsing and printing over the library crates; each
//! subcommand lives in its own module.

mod policy_cmd;
mod synth_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Deploys the MyStockTracker market-data pipeline from `environments/<name>.yaml`.
#[derive(Debug, Parser)]
#[command(name = "deployer", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate the CloudFormation templates and the IAM snapshot of an environment.
    Synth(synth_cmd::SynthArgs),
    /// Review IAM: `policy diff` explains which role gains or loses which permission.
    Policy(policy_cmd::PolicyArgs),
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
    let result = match cli.command {
        Command::Synth(args) => synth_cmd::run(&args),
        Command::Policy(args) => policy_cmd::run(&args),
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
