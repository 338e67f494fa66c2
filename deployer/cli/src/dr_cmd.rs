//! `deployer dr`: disaster recovery. `dr status` reports, per region, each replicated bucket's
//! replication configuration as S3 holds it and its lag and backlog from CloudWatch
//! (docs/dr.md).

use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Result, bail};
use engine::dr::{self, BucketReplication};
use serde_json::json;

use crate::context::{Context, Target};
use crate::output::{Output, OutputArgs, json_line};

/// Arguments of `deployer dr`.
#[derive(Debug, clap::Args)]
pub struct DrArgs {
    #[command(subcommand)]
    command: DrCommand,
}

#[derive(Debug, clap::Subcommand)]
enum DrCommand {
    /// Replication lag and backlog of every region's buckets, and their replication configuration
    /// read back (exit 0: as deployed and within the RPO, 1: a problem or an error).
    Status(StatusArgs),
}

/// Arguments of `deployer dr status`.
#[derive(Debug, clap::Args)]
struct StatusArgs {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    output: OutputArgs,
}

/// Runs `deployer dr ...`.
pub async fn run(args: &DrArgs) -> Result<ExitCode> {
    match &args.command {
        DrCommand::Status(status) => run_status(status).await,
    }
}

async fn run_status(args: &StatusArgs) -> Result<ExitCode> {
    let context = Context::open(&args.target).await?;
    let env = &context.env;
    let Some(dr_section) = &env.dr else {
        bail!(
            "environment `{}` has no `dr:` section, so nothing replicates: add one (docs/environments.md#dr) and run `deployer up --env {}`",
            env.name.as_str(),
            env.name.as_str()
        );
    };
    let now = SystemTime::now();
    let mut all = Vec::new();
    for (_, clients) in context.regions() {
        all.extend(dr::region_status(&clients, env, now).await?);
    }
    let mut problems = 0;
    for bucket in &all {
        let found = bucket.problems(env);
        problems += found.len();
        match args.output.output {
            Output::Text => print_text(bucket, &found),
            Output::Json => println!("{}", json_line("dr-status", bucket_json(bucket, &found))),
        }
    }
    let summary = format!(
        "DR region {}: {} bucket(s) checked, {problems} problem(s); RPO {} min, RTO {} min",
        dr_section.region,
        all.len(),
        dr_section.rpo_minutes,
        dr_section.rto_minutes
    );
    match args.output.output {
        Output::Text => println!("{summary}"),
        Output::Json => println!(
            "{}",
            json_line(
                "dr-status",
                json!({
                    "type": "summary",
                    "dr_region": dr_section.region.as_str(),
                    "rpo_minutes": dr_section.rpo_minutes,
                    "rto_minutes": dr_section.rto_minutes,
                    "buckets": all.len(),
                    "problems": problems,
                })
            )
        ),
    }
    Ok(if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A metric for people: its value, or why there is none.
fn shown(value: Option<f64>, unit: &str) -> String {
    match value {
        Some(v) => format!("{v:.0} {unit}"),
        None => "no data".to_owned(),
    }
}

fn print_text(bucket: &BucketReplication, problems: &[String]) {
    println!("{} {} → {}", bucket.region, bucket.bucket, bucket.replica);
    match &bucket.configuration {
        Some(c) => println!(
            "  rule {} {}, RTC {}, metrics {}, delete markers {}, replica key {}",
            c.rule_id.as_deref().unwrap_or("(no id)"),
            c.status,
            c.replication_time.as_deref().unwrap_or("off"),
            c.metrics.as_deref().unwrap_or("off"),
            c.delete_marker_replication.as_deref().unwrap_or("not set"),
            c.replica_key.as_deref().unwrap_or("(none)")
        ),
        None => println!("  no replication configuration"),
    }
    println!(
        "  lag {}, backlog {} / {} (last {} min)",
        shown(bucket.metrics.latency_seconds, "s"),
        shown(bucket.metrics.operations_pending, "operations"),
        shown(bucket.metrics.bytes_pending, "bytes"),
        dr::METRICS_WINDOW.as_secs() / 60
    );
    for problem in problems {
        println!("  PROBLEM: {problem}");
    }
}

fn bucket_json(bucket: &BucketReplication, problems: &[String]) -> serde_json::Value {
    json!({
        "type": "bucket",
        "region": bucket.region.as_str(),
        "purpose": bucket.purpose,
        "bucket": bucket.bucket,
        "replica": bucket.replica,
        "configuration": bucket.configuration.as_ref().map(|c| json!({
            "role": c.role,
            "rule_id": c.rule_id,
            "status": c.status,
            "destination": c.destination,
            "replica_key": c.replica_key,
            "replication_time": c.replication_time,
            "metrics": c.metrics,
            "delete_marker_replication": c.delete_marker_replication,
        })),
        "latency_seconds": bucket.metrics.latency_seconds,
        "operations_pending": bucket.metrics.operations_pending,
        "bytes_pending": bucket.metrics.bytes_pending,
        "problems": problems,
    })
}
