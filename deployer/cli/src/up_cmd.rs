//! `deployer up`.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Result;
use engine::apply::Applied;
use engine::change_set::Plan;
use engine::deploy::{self, Approver, Observer, Settings, Up};
use engine::events::StackEvent;
use engine::waves::{self, RegionResult};
use environment::Region;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use stacks::pipeline::StackKind;

use crate::context::{
    ArtifactArgs, Context, PlanArgs, Target, ask, interactive, plan_json, print_plan,
};
use crate::output::{Output, json_line};

/// When a change needs the user's approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RequireApproval {
    /// Never ask.
    Never,
    /// Ask when IAM access broadens (as `deployer policy diff` classifies the change).
    Broadening,
    /// Ask for every change.
    AnyChange,
}

/// Arguments of `deployer up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    target: Target,
    /// Regions deployed at once after the canary.
    #[arg(long, default_value_t = 2, value_name = "N")]
    parallel: usize,
    /// Approve every change without asking (needed without a terminal when approval is required).
    #[arg(long)]
    yes: bool,
    /// Which changes need approval.
    #[arg(long, value_enum, default_value = "broadening")]
    require_approval: RequireApproval,
    /// Output format: `text` (progress bars on a terminal, one line per event otherwise) or `json`
    /// (one object per line, with a schema version).
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    #[command(flatten)]
    artifacts: ArtifactArgs,
    #[command(flatten)]
    plan: PlanArgs,
    /// Continue a halted rollout: regions whose pipeline already carries this plan are skipped,
    /// and a canary already deployed is not baked again (its alarms and gate are checked once).
    #[arg(long)]
    resume: bool,
    /// Do not run the canary gate (`deployer verify`) before the next wave; alarms still count.
    #[arg(long)]
    no_verify: bool,
}

/// `deployer verify` as the canary gate: the region's resource checks and a canary quote followed
/// hop by hop must pass before the next wave starts.
struct VerifyGate<'a> {
    context: &'a Context,
}

impl engine::gate::CanaryGate for VerifyGate<'_> {
    fn name(&self) -> String {
        "deployer verify".to_owned()
    }

    fn check<'a>(&'a self, region: &'a environment::Region) -> engine::gate::GateFuture<'a> {
        Box::pin(async move {
            let env = &self.context.env;
            let report = verify::verify_region(
                self.context.aws.connection(),
                env,
                region,
                verify::default_timeout(env),
            )
            .await
            .map_err(|e| engine::gate::GateFailure(e.to_string()))?;
            if report.passed() {
                Ok(())
            } else {
                Err(engine::gate::GateFailure(format!(
                    "deployer verify failed in {region}:\n{report}"
                )))
            }
        })
    }
}

/// The check the canary must pass before the next wave: `deployer verify`, unless `--no-verify`.
fn canary_gate<'a>(
    args: &UpArgs,
    context: &'a Context,
) -> Option<Box<dyn engine::gate::CanaryGate + 'a>> {
    if args.no_verify {
        return None;
    }
    Some(Box::new(VerifyGate { context }))
}

/// Runs `deployer up`.
pub async fn run(args: &UpArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let context = Context::open(&args.target).await?;
    let artifacts = args.artifacts.load()?;
    let env_name = context.env.name.as_str().to_owned();
    let printer = Printer::new(args.output, args.plan);
    let approver = Policy {
        policy: args.require_approval,
        yes: args.yes,
        printer: &printer,
        refused: AtomicBool::new(false),
    };
    let gate = canary_gate(args, &context);
    let up = Up {
        env: &context.env,
        regions: context.regions(),
        dr: context.dr_region(),
        artifacts: &artifacts,
        parallel: args.parallel,
        settings: Settings::default(),
        gate: gate.as_deref(),
        resume: args.resume,
    };
    let results = tokio::select! {
        results = deploy::up(&up, &approver, &printer) => results,
        _ = tokio::signal::ctrl_c() => {
            printer.clear();
            eprintln!(
                "interrupted: stopped waiting. Any stack operation already started goes on on AWS's side; watch it with `deployer status --env {env_name} --watch`, then run `deployer up --env {env_name}` again."
            );
            return Ok(ExitCode::from(crate::exit::INTERRUPTED));
        }
    };
    printer.clear();
    let code = waves::exit_code(&results);
    for (region, result) in &results {
        let text = match result {
            RegionResult::Unchanged => "unchanged".to_owned(),
            RegionResult::Changed => "deployed".to_owned(),
            RegionResult::Failed(why) => format!("FAILED: {why}"),
            RegionResult::Declined(why) => format!("not deployed: {why}"),
            RegionResult::Halted(why) => format!("deployed, but the rollout halted here: {why}"),
            RegionResult::NotStarted => "not started (an earlier wave did not complete)".to_owned(),
        };
        printer.line(
            &format!("{region}: {text}"),
            serde_json::json!({"type": "result", "region": region.as_str(), "result": text}),
        );
    }
    let failed = results
        .iter()
        .any(|(_, r)| matches!(r, RegionResult::Failed(_)));
    if code != 0 && !failed && approver.refused.load(Ordering::Relaxed) {
        // "No" at the prompt is a decision, not a crash.
        printer.line(
            &format!(
                "cancelled: you declined a change, so its change set was deleted and nothing was deployed there (nor in later waves). Run `deployer up --env {env_name}` again to be asked again."
            ),
            serde_json::json!({"type": "cancelled", "resume": format!("deployer up --env {env_name}")}),
        );
        return Ok(ExitCode::from(crate::exit::CANCELLED));
    }
    if code != 0 {
        let deployed: Vec<&str> = results
            .iter()
            .filter(|(_, r)| {
                matches!(
                    r,
                    RegionResult::Changed | RegionResult::Unchanged | RegionResult::Halted(_)
                )
            })
            .map(|(region, _)| region.as_str())
            .collect();
        let deployed_text = if deployed.is_empty() {
            "none".to_owned()
        } else {
            deployed.join(", ")
        };
        printer.line(
            &format!(
                "up did not complete. Regions deployed: {deployed_text}. Fix the cause and run `deployer up --env {env_name} --resume` (regions already deployed are skipped); `deployer status --env {env_name}` shows each stack's state."
            ),
            serde_json::json!({"type": "failed", "deployed": deployed, "resume": format!("deployer up --env {env_name} --resume")}),
        );
    } else {
        for (region, clients) in context.regions() {
            let pipeline = deploy::stack_of(region, StackKind::Pipeline)?;
            let steps = engine::next_steps::next_steps(
                &clients,
                &context.env,
                &pipeline.name,
                &pipeline.json,
            )
            .await?;
            let lines = steps.lines(&env_name);
            printer.line(
                &format!(
                    "next steps in {}:\n{}",
                    steps.region,
                    lines
                        .iter()
                        .map(|l| format!("  - {l}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
                steps.json(),
            );
        }
        printer.line(
            &format!("done in {:.1} s", started.elapsed().as_secs_f64()),
            serde_json::json!({"type": "done", "seconds": started.elapsed().as_secs_f64()}),
        );
    }
    Ok(ExitCode::from(code))
}

/// The approval policy, asking on the terminal when it has to.
struct Policy<'a> {
    policy: RequireApproval,
    yes: bool,
    printer: &'a Printer,
    /// Set when the user answered anything but yes.
    refused: AtomicBool,
}

impl Approver for Policy<'_> {
    fn approve(&self, region: &Region, plan: &Plan) -> Result<bool, String> {
        let needed = match self.policy {
            RequireApproval::Never => false,
            RequireApproval::Broadening => plan.broadens(),
            RequireApproval::AnyChange => true,
        };
        if !needed || self.yes {
            return Ok(true);
        }
        if !interactive() {
            return Err(format!(
                "{} in {region} needs approval ({}), but there is no terminal to ask on: review it with `deployer diff`, then run again with --yes",
                plan.stack,
                if plan.broadens() {
                    "IAM access broadens"
                } else {
                    "--require-approval any-change"
                }
            ));
        }
        // One question at a time, with the progress bars out of the way.
        let _guard = self
            .printer
            .ask_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.printer
            .bars
            .suspend(|| {
                ask(&format!(
                    "Deploy these changes to {} in {region}? [y/N] ",
                    plan.stack
                ))
            })
            .map(|answer| {
                let yes = matches!(answer.as_str(), "y" | "Y" | "yes");
                if !yes {
                    self.refused.store(true, Ordering::Relaxed);
                }
                yes
            })
            .map_err(|e| e.to_string())
    }
}

/// Shows plans, events and results.
pub struct Printer {
    output: Output,
    plan: PlanArgs,
    terminal: bool,
    bars: MultiProgress,
    active: Mutex<HashMap<(String, String), ProgressBar>>,
    ask_lock: Mutex<()>,
}

impl Printer {
    /// A printer for `output` showing plans as `plan` says; progress bars only on a terminal.
    pub fn new(output: Output, plan: PlanArgs) -> Printer {
        let terminal = output == Output::Text && interactive();
        let bars = MultiProgress::with_draw_target(if terminal {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        Printer {
            output,
            plan,
            terminal,
            bars,
            active: Mutex::new(HashMap::new()),
            ask_lock: Mutex::new(()),
        }
    }

    fn line(&self, text: &str, json: serde_json::Value) {
        match self.output {
            Output::Json => println!("{}", json_line("up", json)),
            Output::Text => {
                self.bars.suspend(|| println!("{text}"));
            }
        }
    }

    fn clear(&self) {
        let _ = self.bars.clear();
    }
}

impl Observer for Printer {
    fn plan(&self, _region: &Region, plan: &Plan) {
        match self.output {
            Output::Json => println!("{}", json_line("up", plan_json(plan))),
            Output::Text => self.bars.suspend(|| print_plan(plan, self.plan)),
        }
    }

    fn started(&self, region: &Region, stack: &str, total: usize) {
        if !self.terminal {
            self.line(
                &format!("{region} {stack}: executing {total} change(s)"),
                serde_json::json!({"type": "started", "region": region.as_str(), "stack": stack, "total": total}),
            );
            return;
        }
        let bar = self.bars.add(ProgressBar::new(total as u64));
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix:.bold} [{bar:30}] {pos}/{len} resources {wide_msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(format!("{region} {stack}"));
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((region.to_string(), stack.to_owned()), bar);
    }

    fn event(&self, region: &Region, stack: &str, event: &StackEvent) {
        if self.terminal {
            if let Some(bar) = self
                .active
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&(region.to_string(), stack.to_owned()))
            {
                if !event.is_stack_event() && event.is_complete() {
                    bar.inc(1);
                }
                bar.set_message(format!("{} {}", event.logical_id, event.status));
                if event.is_resource_failure() {
                    bar.println(format!(
                        "{region} {stack}: {} {}: {}",
                        event.logical_id,
                        event.status,
                        event.reason.as_deref().unwrap_or_default()
                    ));
                }
            }
            return;
        }
        self.line(
            format!(
                "{region} {stack} {} {} {} {}",
                event.timestamp,
                event.logical_id,
                event.status,
                event.reason.as_deref().unwrap_or_default()
            )
            .trim_end(),
            serde_json::json!({
                "type": "event", "region": region.as_str(), "stack": stack, "timestamp": event.timestamp,
                "logical_id": event.logical_id, "resource_type": event.resource_type, "status": event.status.as_str(),
                "reason": event.reason,
            }),
        );
    }

    fn finished(&self, region: &Region, stack: &str, outcome: &Result<Applied, String>) {
        if let Some(bar) = self
            .active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(region.to_string(), stack.to_owned()))
        {
            bar.finish_and_clear();
        }
        match outcome {
            Ok(applied) => {
                self.line(
                    &format!("{region} {stack}: {}", applied.status),
                    serde_json::json!({"type": "finished", "region": region.as_str(), "stack": stack, "status": applied.status.as_str(), "outputs": applied.outputs.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str()))).collect::<serde_json::Map<_, _>>()}),
                );
                if self.output == Output::Text {
                    for (key, value) in &applied.outputs {
                        println!("  {key} = {value}");
                    }
                }
            }
            Err(why) => self.line(
                &format!("{region} {stack}: FAILED: {why}"),
                serde_json::json!({"type": "finished", "region": region.as_str(), "stack": stack, "error": why}),
            ),
        }
    }

    fn note(&self, region: &Region, text: &str) {
        self.line(
            &format!("{region}: {text}"),
            serde_json::json!({"type": "note", "region": region.as_str(), "text": text}),
        );
    }
}
