//! `deployer status`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use engine::{deploy, drift, status};
use stacks::pipeline::StackKind;

use crate::context::{Context, Target};

/// Arguments of `deployer status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    target: Target,
    /// Refresh every few seconds until no stack operation is in progress (Ctrl-C stops watching).
    #[arg(long)]
    watch: bool,
    /// Also run drift detection and summarize it.
    #[arg(long)]
    drift: bool,
}

/// Runs `deployer status`.
pub async fn run(args: &StatusArgs) -> Result<ExitCode> {
    let context = Context::open(&args.target).await?;
    let mut failed = false;
    loop {
        let mut busy = false;
        for (region, clients) in context.regions() {
            let name = clients.region.as_str();
            println!("{name}{}:", if region.canary { " (canary)" } else { "" });
            for kind in [StackKind::Artifacts, StackKind::Pipeline] {
                let stack = deploy::stack_of(region, kind)?.name.clone();
                let state = status::stack_status(&clients.cloudformation, name, &stack).await?;
                busy |= state.in_progress();
                let Some(status) = &state.status else {
                    println!("  {stack}: not deployed");
                    continue;
                };
                println!(
                    "  {stack}: {status}{}",
                    state
                        .reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
                if let Some(event) = &state.last_event {
                    println!(
                        "    last event: {} {} {} {}",
                        event.timestamp,
                        event.logical_id,
                        event.status,
                        event.reason.as_deref().unwrap_or_default()
                    );
                }
                for (key, value) in &state.outputs {
                    println!("    {key} = {value}");
                }
                if args.drift {
                    match drift::detect(
                        &clients.cloudformation,
                        name,
                        &stack,
                        Duration::from_secs(3),
                    )
                    .await
                    {
                        Ok(d) => {
                            println!(
                                "    drift: {} ({} resource(s) drifted)",
                                d.status,
                                d.drifted.len()
                            );
                            for (id, kind, how) in &d.drifted {
                                println!("      {id} ({kind}): {how}");
                            }
                        }
                        Err(error) => {
                            println!("    drift: not available: {error}");
                            failed = true;
                        }
                    }
                }
            }
        }
        if !args.watch || !busy {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => println!(),
            _ = tokio::signal::ctrl_c() => {
                eprintln!("stopped watching; stack operations go on on AWS's side");
                break;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
