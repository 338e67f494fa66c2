//! `deployer bootstrap`: the bootstrap stack (artifacts bucket, deploy role, CloudFormation
//! execution role) in every region of the environment, and its DR region, that is in the
//! caller's account.

use std::process::ExitCode;

use anyhow::{Result, bail};
use engine::apply::Applied;
use engine::aws::{self, Aws, AwsOptions};
use engine::change_set::{Plan, TemplateLocation};
use engine::deploy::{self, Approver, Observer, Settings, StackResult};
use engine::events::StackEvent;
use environment::Region;
use stacks::pipeline::StackKind;

use crate::context::{PlanArgs, Target, ask, interactive, print_plan};
use crate::synth_cmd::{load_environment, pick_region};

/// Arguments of `deployer bootstrap`.
#[derive(Debug, clap::Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    target: Target,
    /// Bootstrap with this role, assumed first (an administrator role of the account to
    /// bootstrap, such as `arn:aws:iam::<account>:role/OrganizationAccountAccessRole`); default:
    /// the caller's own credentials.
    #[arg(long, value_name = "ARN")]
    role_arn: Option<String>,
    /// Create or update the bootstrap stacks without asking.
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    plan: PlanArgs,
}

/// Asks before each change (bootstrapping creates IAM roles), unless `--yes`.
struct Ask {
    yes: bool,
    plan: PlanArgs,
}

impl Approver for Ask {
    fn approve(&self, region: &Region, plan: &Plan) -> Result<bool, String> {
        if self.yes {
            return Ok(true);
        }
        if !interactive() {
            return Err(format!(
                "{} in {region} creates or changes IAM roles and needs approval: run on a terminal, or pass --yes",
                plan.stack
            ));
        }
        print_plan(plan, self.plan);
        let answer = ask(&format!("Bootstrap {} in {region}? [y/N] ", plan.stack))
            .map_err(|e| e.to_string())?;
        Ok(matches!(answer.as_str(), "y" | "Y" | "yes"))
    }
}

/// One line per event.
struct Lines;

impl Observer for Lines {
    fn plan(&self, _region: &Region, _plan: &Plan) {}
    fn started(&self, region: &Region, stack: &str, total: usize) {
        println!("{region} {stack}: {total} change(s) started");
    }
    fn event(&self, region: &Region, stack: &str, event: &StackEvent) {
        println!(
            "{region} {stack} {} {} {}",
            event.timestamp, event.logical_id, event.status
        );
    }
    fn finished(&self, _region: &Region, _stack: &str, _outcome: &Result<Applied, String>) {}
    fn note(&self, region: &Region, text: &str) {
        println!("{region}: {text}");
    }
}

/// Runs `deployer bootstrap`.
pub async fn run(args: &BootstrapArgs) -> Result<ExitCode> {
    let target = &args.target;
    let env = load_environment(&target.paths, &target.env)?;
    let name = env.name.as_str().to_owned();
    if !env.is_bootstrapped() {
        bail!(
            "environments/{name}.yaml has no `deploy:` section, so it deploys with the caller's own credentials and has nothing to bootstrap: add `deploy:` (docs/environments.md) to deploy through a deploy role and an execution role"
        );
    }
    let only = pick_region(&env, target.region.as_deref())?;
    let synthesis = synth::synthesize(&env, only.as_ref())?;
    let base = Aws::load(
        &env,
        &AwsOptions {
            profile: target.profile.clone(),
        },
    )
    .await;
    let aws = match &args.role_arn {
        Some(role) => {
            let caller = base.sts().get_caller_identity().send().await.map_err(|e| {
                engine::api_error("GetCallerIdentity", env.canary_region().as_str(), e)
            })?;
            let session = aws::session_name(
                caller.arn().unwrap_or_default(),
                std::env::var("GITLAB_USER_LOGIN").ok().as_deref(),
                std::env::var("CI_JOB_ID").ok().as_deref(),
            );
            base.assume(role, &session).await
        }
        None => base,
    };
    let identity = aws
        .sts()
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| engine::api_error("GetCallerIdentity", env.canary_region().as_str(), e))?;
    let account = identity.account().unwrap_or_default().to_owned();
    let approver = Ask {
        yes: args.yes,
        plan: args.plan,
    };
    let settings = Settings::default();
    let mut failed = false;
    let mut skipped = Vec::new();
    // The DR region too (with `dr:`): its bootstrap stack's execution role deploys the replicas.
    for region in synthesis.regions.iter().chain(&synthesis.dr) {
        let wanted = env.account_of(&region.region).as_str();
        if wanted != account {
            skipped.push(format!("{} (account {wanted})", region.region));
            continue;
        }
        let clients = aws.region(&region.region);
        // The same account check as every other command, in this region.
        aws::check_region_account(&clients, &env).await?;
        let spec = deploy::spec(&env, region, StackKind::Artifacts, None, None)?;
        let result = deploy::ensure_stack(
            &clients,
            &env,
            &spec,
            &TemplateLocation::Body,
            &settings,
            &approver,
            &Lines,
        )
        .await;
        let text = match result {
            Ok(StackResult::Unchanged) => "bootstrapped (unchanged)".to_owned(),
            Ok(StackResult::Applied(_)) => "bootstrapped".to_owned(),
            Ok(StackResult::Declined(why)) => {
                failed = true;
                format!("not bootstrapped: {why}")
            }
            Err(error) => {
                failed = true;
                format!("FAILED: {error}")
            }
        };
        println!(
            "{} (account {account}) {}: {text}",
            region.region, spec.name
        );
    }
    if !skipped.is_empty() {
        println!(
            "not bootstrapped with these credentials (account {account}): {}; run `deployer bootstrap --env {name}` again with credentials of each of those accounts (`--profile`, or `--role-arn` with an administrator role there)",
            skipped.join(", ")
        );
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
