//! `deployer`: synthesizes, reviews and deploys the MyStockTracker pipeline.
//!
//! This binary is a thin layer of argument parsing and printing over the library crates; each
//! subcommand lives in its own module.

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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Synth(args) => synth_cmd::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
