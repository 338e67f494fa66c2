//! `deployer down`.

use std::process::ExitCode;

use anyhow::{Result, bail};
use engine::delete::{self, Retained};
use engine::deploy::{self, Settings};
use engine::waves::{self, join_all};
use stacks::pipeline::StackKind;

use crate::context::{Context, Target, ask, interactive};
use crate::output::{Output, OutputArgs, json_line};

/// Arguments of `deployer down`.
#[derive(Debug, clap::Args)]
pub struct DownArgs {
    #[command(flatten)]
    target: Target,
    /// Also empty and delete the retained data buckets and artifacts bucket, and schedule the KMS
    /// key's deletion. Asks for the environment name unless --yes.
    #[arg(long)]
    purge_data: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
    /// Regions deleted at once (in reverse rollout order: the canary last).
    #[arg(long, default_value_t = 2, value_name = "N")]
    parallel: usize,
    #[command(flatten)]
    output: OutputArgs,
}

/// "No" at the confirmation: a decision, reported as a cancelled operation.
fn cancelled(why: &str) -> Result<ExitCode> {
    eprintln!("cancelled: {why}; nothing was deleted");
    Ok(ExitCode::from(crate::exit::CANCELLED))
}

/// Runs `deployer down`.
pub async fn run(args: &DownArgs) -> Result<ExitCode> {
    let context = Context::open(&args.target).await?;
    let env_name = context.env.name.as_str().to_owned();
    if !args.yes {
        if !interactive() {
            bail!(
                "`down` deletes the stacks of {env_name}: confirm with --yes (there is no terminal to ask on)"
            );
        }
        if args.purge_data {
            let answer = ask(&format!(
                "This deletes {env_name}'s stacks AND its data buckets and key. Type the environment name to confirm: "
            ))?;
            if answer != env_name {
                return cancelled(&format!(
                    "not confirmed (typed `{answer}`, expected `{env_name}`)"
                ));
            }
        } else {
            let answer = ask(&format!(
                "Delete the stacks of {env_name} (data buckets and the key are kept)? [y/N] "
            ))?;
            if !matches!(answer.as_str(), "y" | "Y" | "yes") {
                return cancelled("not confirmed");
            }
        }
    }
    // The regions' pipelines and artifacts (the canary last); with `--purge-data` then the DR
    // region's replica stack, which the pipelines replicate into (a plain `down` keeps the DR copy
    // and its stack as they are).
    let regions = context.regions();
    let dr = context.dr_region();
    let targets: Vec<_> = regions
        .iter()
        .map(|(region, clients)| {
            (
                region,
                clients,
                vec![StackKind::Pipeline, StackKind::Artifacts],
            )
        })
        .chain(
            dr.iter()
                .map(|(region, clients)| (region, clients, vec![StackKind::Replica])),
        )
        .collect();
    let indices: Vec<usize> = (0..regions.len()).collect();
    let mut order = waves::plan(&indices, args.parallel);
    order.reverse();
    if dr.is_some() && args.purge_data {
        order.push(vec![regions.len()]);
    }
    let settings = Settings::default();
    let env = &context.env;
    let output = args.output.output;
    let run = async {
        let mut failed = false;
        for wave in order {
            let outcomes = join_all(
                wave.iter()
                    .map(|&i| {
                        let (region, clients, kinds) = &targets[i];
                        let purge = args.purge_data;
                        async move {
                            let name = clients.region.as_str();
                            let mut retained = Retained::default();
                            let mut lines = Vec::new();
                            for &kind in kinds {
                                let synthesized = deploy::stack_of(region, kind)?;
                                let stack = synthesized.name.clone();
                                if kind == StackKind::Artifacts && env.is_bootstrapped() {
                                    // The bootstrap stack holds the roles `down` runs with.
                                    lines.push(format!("{name} {stack}: kept (the bootstrap stack; an administrator deletes it with `aws cloudformation delete-stack --stack-name {stack} --region {name}`)"));
                                    continue;
                                }
                                let role = match kind {
                                    StackKind::Pipeline | StackKind::Replica => deploy::execution_role(env, &clients.region),
                                    StackKind::Artifacts => None,
                                };
                                if purge {
                                    retained.buckets.extend(delete::retained_buckets_in_template(
                                        &synthesized.json,
                                        env,
                                        &clients.region,
                                    ));
                                    let found = delete::retained(&clients.cloudformation, name, &stack, &synthesized.json).await?;
                                    retained.buckets.extend(found.buckets);
                                    retained.keys.extend(found.keys);
                                    // What an earlier `down` kept (no stack lists it any more): the
                                    // key through the buckets it encrypts.
                                    for kept in engine::adopt::find(clients, &synthesized.json, env, &clients.region).await? {
                                        match kept.resource_type.as_str() {
                                            "AWS::KMS::Key" => retained.keys.push(kept.identifier),
                                            "AWS::S3::Bucket" => retained.buckets.push(kept.identifier),
                                            _ => {}
                                        }
                                    }
                                }
                                let mut on_event = |e: &engine::events::StackEvent| match output {
                                    Output::Text => println!("{name} {stack} {} {} {}", e.timestamp, e.logical_id, e.status),
                                    Output::Json => println!("{}", json_line("down", serde_json::json!({
                                        "type": "event", "region": name, "stack": stack, "timestamp": e.timestamp,
                                        "logical_id": e.logical_id, "status": e.status.as_str(), "reason": e.reason,
                                    }))),
                                };
                                let existed =
                                    delete::delete_stack(&clients.cloudformation, name, &stack, role.as_deref(), settings.poll, &mut on_event).await?;
                                lines.push(format!("{name} {stack}: {}", if existed { "deleted" } else { "not deployed" }));
                            }
                            if purge {
                                lines.extend(delete::purge(clients, &retained).await?.into_iter().map(|l| format!("{name}: {l}")));
                            } else {
                                let env_name = env.name.as_str();
                                lines.push(format!("{name}: data buckets, the artifacts bucket and the KMS key are retained: the next `deployer up --env {env_name}` adopts them, `deployer down --env {env_name} --purge-data` removes them"));
                            }
                            Ok::<_, engine::Error>(lines)
                        }
                    })
                    .collect(),
            )
            .await;
            for outcome in outcomes {
                match outcome {
                    Ok(lines) => lines.iter().for_each(|l| match output {
                        Output::Text => println!("{l}"),
                        Output::Json => println!(
                            "{}",
                            json_line("down", serde_json::json!({"type": "result", "text": l}))
                        ),
                    }),
                    Err(error) => {
                        eprintln!("error: {error}");
                        failed = true;
                    }
                }
            }
            if failed {
                eprintln!(
                    "down stopped: earlier regions (the canary last) were not touched; fix the cause and run `deployer down --env {env_name}` again"
                );
                return Ok(ExitCode::FAILURE);
            }
        }
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    };
    tokio::select! {
        code = run => code,
        _ = tokio::signal::ctrl_c() => {
            eprintln!(
                "interrupted: stopped waiting. A deletion already started goes on on AWS's side; watch it with `deployer status --env {env_name} --watch`, then run `deployer down --env {env_name}` again."
            );
            Ok(ExitCode::from(crate::exit::INTERRUPTED))
        }
    }
}
