//! `deployer status`.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

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

/// What `status` cannot read about a shard, said once per shard rather than guessed.
const NO_INSTANCE_HEALTH: &str = "instance and health: not read (the deployer has no EC2 Auto Scaling \
     client yet; see them with `aws autoscaling describe-auto-scaling-groups`)";

/// Each scraper shard of the pipeline stack: its group, its last heartbeat (printed in text mode),
/// as a JSON list. A failure to read is reported in place: the stacks' status stays the answer.
async fn shards(
    context: &Context,
    clients: &engine::aws::RegionClients,
    stack: &str,
    output: Output,
) -> Value {
    let region = clients.region.as_str();
    let states = match status::stack_resources(&clients.cloudformation, region, stack).await {
        Ok(resources) => {
            engine::fleet::shard_states(clients, &context.env, &resources, SystemTime::now()).await
        }
        Err(error) => Err(error),
    };
    let states = match states {
        Ok(states) => states,
        Err(error) => {
            if output == Output::Text {
                println!("    scraper shards: not available: {error}");
            }
            return json!({"error": error.to_string()});
        }
    };
    let list: Vec<Value> = states
        .iter()
        .map(|s| {
            let last = s.last_heartbeat.clone();
            if output == Output::Text {
                println!(
                    "    scraper shard {}: group {} ({}); last heartbeat {}; {NO_INSTANCE_HEALTH}",
                    s.shard,
                    s.group.as_deref().unwrap_or("not listed"),
                    s.group_status.as_deref().unwrap_or("-"),
                    match &last {
                        Some((at, ticks)) =>
                            format!("{at} ({}, {ticks} ticks that minute)", s.heartbeat),
                        None => format!(
                            "none in the last {} hours",
                            engine::fleet::HEARTBEAT_LOOKBACK.as_secs() / 3600
                        ),
                    },
                );
            }
            json!({
                "shard": s.shard,
                "group": s.group,
                "group_status": s.group_status,
                "last_heartbeat": last.as_ref().map(|(at, _)| at.clone()),
                "heartbeat": s.heartbeat,
                "instance": Value::Null,
                "health": Value::Null,
                "note": NO_INSTANCE_HEALTH,
            })
        })
        .collect();
    Value::Array(list)
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
                if kind == StackKind::Pipeline && state.status.is_some() {
                    object["shards"] = shards(&context, &clients, &stack, output).await;
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
