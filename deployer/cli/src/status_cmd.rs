//! `deployer status`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use engine::status::StackState;
use engine::{deploy, drift, status};
use serde_json::{Value, json};
use stacks::pipeline::StackKind;

use crate::context::{Context, Target};
use crate::output::{Output, OutputArgs, json_line};

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
    #[command(flatten)]
    output: OutputArgs,
}

/// Why a deployed stack shows no outputs, in one sentence.
fn no_outputs_reason(emulator: bool) -> &'static str {
    if emulator {
        "none reported: the emulator's CloudFormation reports no outputs for stacks made by change \
         sets; the resources are there (read them through each service's API)"
    } else {
        "none reported by CloudFormation"
    }
}

/// One stack's state as `status --output json` prints it.
fn stack_json(region: &str, canary: bool, state: &StackState, emulator: bool) -> Value {
    json!({
        "type": "stack",
        "region": region,
        "canary": canary,
        "stack": state.stack,
        "status": state.status.as_ref().map(|s| s.as_str()),
        "reason": state.reason,
        "last_event": state.last_event.as_ref().map(|e| json!({
            "timestamp": e.timestamp, "logical_id": e.logical_id,
            "resource_type": e.resource_type, "status": e.status.as_str(), "reason": e.reason,
        })),
        "outputs": state.outputs.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect::<serde_json::Map<_, _>>(),
        "outputs_note": (state.status.is_some() && state.outputs.is_empty()).then(|| no_outputs_reason(emulator)),
    })
}

fn print_stack_text(state: &StackState, emulator: bool) {
    let stack = &state.stack;
    let Some(status) = &state.status else {
        println!("  {stack}: not deployed");
        return;
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
    if state.outputs.is_empty() {
        println!("    outputs: {}", no_outputs_reason(emulator));
    }
    for (key, value) in &state.outputs {
        println!("    {key} = {value}");
    }
}

/// Runs `deployer status`.
pub async fn run(args: &StatusArgs) -> Result<ExitCode> {
    let context = Context::open(&args.target).await?;
    let emulator = context.env.emulator.is_some();
    let output = args.output.output;
    let mut failed = false;
    loop {
        let mut busy = false;
        for (region, clients) in context.regions() {
            let name = clients.region.as_str();
            if output == Output::Text {
                println!("{name}{}:", if region.canary { " (canary)" } else { "" });
            }
            for kind in [StackKind::Artifacts, StackKind::Pipeline] {
                let stack = deploy::stack_of(region, kind)?.name.clone();
                let state = status::stack_status(&clients.cloudformation, name, &stack).await?;
                busy |= state.in_progress();
                let mut object = stack_json(name, region.canary, &state, emulator);
                if output == Output::Text {
                    print_stack_text(&state, emulator);
                }
                if args.drift && state.status.is_some() {
                    match drift::detect(
                        &clients.cloudformation,
                        name,
                        &stack,
                        Duration::from_secs(3),
                    )
                    .await
                    {
                        Ok(d) => {
                            if output == Output::Text {
                                println!(
                                    "    drift: {} ({} resource(s) drifted)",
                                    d.status,
                                    d.drifted.len()
                                );
                                for (id, kind, how) in &d.drifted {
                                    println!("      {id} ({kind}): {how}");
                                }
                            }
                            object["drift"] = json!({
                                "status": d.status.as_str(),
                                "drifted": d.drifted.iter().map(|(id, kind, how)| json!({
                                    "logical_id": id, "resource_type": kind, "difference": how.as_str(),
                                })).collect::<Vec<_>>(),
                            });
                        }
                        Err(error) => {
                            if output == Output::Text {
                                println!("    drift: not available: {error}");
                            }
                            object["drift"] = json!({"error": error.to_string()});
                            failed = true;
                        }
                    }
                }
                if output == Output::Json {
                    println!("{}", json_line("status", object));
                }
            }
        }
        if !args.watch || !busy {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => if output == Output::Text { println!() },
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
