//! `deployer diff`.

use std::process::ExitCode;

use anyhow::Result;
use engine::change_set::{self, Prepared, TemplateLocation};
use engine::deploy::{self, Pinned, Settings};
use stacks::pipeline::StackKind;

use crate::context::{ArtifactArgs, Context, PlanArgs, Target, plan_json, print_plan};
use crate::output::{Output, OutputArgs, json_line};

/// Arguments of `deployer diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    artifacts: ArtifactArgs,
    #[command(flatten)]
    plan: PlanArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// Prints one stack's plan, or that it is unchanged, in the chosen output.
fn show(args: &DiffArgs, region: &str, stack: &str, plan: Option<&change_set::Plan>) {
    match (args.output.output, plan) {
        (Output::Text, Some(plan)) => print_plan(plan, args.plan),
        (Output::Text, None) => println!("{region} {stack}: no changes"),
        (Output::Json, Some(plan)) => println!("{}", json_line("diff", plan_json(plan))),
        (Output::Json, None) => println!(
            "{}",
            json_line(
                "diff",
                serde_json::json!({"type": "unchanged", "region": region, "stack": stack})
            )
        ),
    }
}

/// Runs `deployer diff`: 0 without changes, 2 with changes.
pub async fn run(args: &DiffArgs) -> Result<ExitCode> {
    let context = Context::open(&args.target).await?;
    let artifacts = args.artifacts.load()?;
    let settings = Settings::default();
    let mut changed = false;
    for (region, clients) in context.regions() {
        let region_name = clients.region.as_str();
        let bucket = deploy::artifacts_bucket(&context.env, &region.region);
        // Read-only: what the bucket holds is checked (a planted object is refused here too) and
        // its versions compared; nothing is uploaded.
        let stored =
            engine::artifacts::find_all(&clients.s3, region_name, &bucket, &artifacts).await?;
        // Resolved as `up` would: a new `latest` AMI shows as the scraper's replacement.
        let pinned = Pinned {
            artifacts: stored,
            scraper_image: engine::image::resolve(&clients.ssm, region_name, &context.env).await?,
        };
        for kind in [StackKind::Artifacts, StackKind::Pipeline] {
            let pinned = (kind == StackKind::Pipeline).then_some(&pinned);
            let spec = deploy::spec(&context.env, region, kind, pinned)?;
            if kind == StackKind::Artifacts && context.env.is_bootstrapped() {
                // `deployer bootstrap`'s stack: `up` needs it current and never changes it.
                deploy::check_bootstrap(&clients, &context.env, &spec).await?;
                show(args, region_name, &spec.name, None);
                continue;
            }
            let cfn = &clients.cloudformation;
            let deployed = change_set::describe_stack(cfn, region_name, &spec.name).await?;
            let deployed = deployed.filter(|d| !d.is_review_only() && !d.is_failed_create());
            let Some(deployed) = deployed else {
                // Not deployed: every resource is new; computed locally, nothing left behind.
                let plan = change_set::local_plan(&spec, region_name)?;
                show(args, region_name, &spec.name, Some(&plan));
                changed = true;
                continue;
            };
            if change_set::unchanged(&deployed, &spec) {
                show(args, region_name, &spec.name, None);
                continue;
            }
            let body = change_set::deployed_template(cfn, region_name, &spec.name).await?;
            let location = match kind {
                StackKind::Pipeline => deploy::template_location(&clients, &bucket, &spec).await?,
                StackKind::Artifacts => TemplateLocation::Body,
            };
            let old = serde_json::from_str(&body).ok();
            match change_set::create(
                cfn,
                region_name,
                &spec,
                &location,
                false,
                Some((&deployed, old.as_ref())),
                settings.poll,
            )
            .await?
            {
                Prepared::Unchanged => show(args, region_name, &spec.name, None),
                Prepared::Changes(plan) => {
                    show(args, region_name, &spec.name, Some(&plan));
                    change_set::discard(cfn, &plan).await?;
                    changed = true;
                }
            }
        }
    }
    Ok(if changed {
        ExitCode::from(crate::exit::CHANGES)
    } else {
        ExitCode::SUCCESS
    })
}
