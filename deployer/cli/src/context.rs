//! What every AWS subcommand shares: the environment, its synthesized stacks, the AWS clients after
//! the account check, the artifacts, and how results are shown.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use engine::artifacts::{self, Artifact};
use engine::aws::{self, Aws, AwsOptions, RegionClients};
use std::collections::BTreeMap;

use environment::{AccountId, Environment, Region};
use synth::{RegionOutput, Synthesis};

use crate::Paths;
use crate::synth_cmd::{load_environment, pick_region};

/// Options of every subcommand that talks to AWS.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The environment: `environments/<NAME>.yaml`.
    #[arg(long = "env", value_name = "NAME")]
    pub env: String,
    /// Only this region (default: every region of the environment).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// AWS profile (default: the standard credential chain, including AWS_PROFILE).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    #[command(flatten)]
    pub paths: Paths,
}

/// Where artifacts come from.
#[derive(Debug, Clone, clap::Args)]
pub struct ArtifactArgs {
    /// Prebuilt artifacts: DIR/transform.zip, DIR/to-parquet.zip, DIR/notify.zip, DIR/vpn-connect.zip and DIR/scraper
    /// (default: build the runtime crates with the `artifact` profile, as one `cargo build`).
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
}

impl ArtifactArgs {
    /// Reads or builds the artifacts, each with the hash of the checkout's sources (what `up`
    /// records on the stack for `diff`; prebuilt artifacts are taken to be built from this
    /// checkout, as CI builds them).
    pub fn load(&self) -> Result<Vec<Artifact>> {
        let workspace = std::env::current_dir().context("current directory")?;
        let mut loaded = match &self.artifacts {
            Some(dir) => artifacts::from_dir(dir).context("reading --artifacts")?,
            None => artifacts::build(&workspace, None)?,
        };
        with_source_hashes(&workspace, &mut loaded);
        Ok(loaded)
    }
}

/// Sets each artifact's source hash from the workspace at `workspace`; outside a workspace (prebuilt
/// artifacts deployed from elsewhere) they stay unknown, and `diff` says so.
pub fn with_source_hashes(workspace: &std::path::Path, artifacts: &mut [Artifact]) {
    match engine::sources::all(workspace) {
        Ok(hashes) => {
            for artifact in artifacts.iter_mut() {
                artifact.source_sha256 = hashes
                    .iter()
                    .find(|(p, _)| *p == artifact.parameter)
                    .map(|(_, h)| h.clone());
            }
        }
        Err(error) => tracing::warn!(
            "the artifacts' source hashes are not recorded ({error}): `deployer diff` will not know whether their code changed"
        ),
    }
}

/// An environment ready for AWS calls.
pub struct Context {
    /// The environment.
    pub env: Environment,
    /// Its stacks (the selected regions only).
    pub synthesis: Synthesis,
    /// AWS configuration (the caller's own credentials).
    pub aws: Aws,
    /// Per account of the environment, the connection acting in it: the assumed deploy role of
    /// an environment with `deploy:`, else `aws`. Each was checked to be in its account.
    pub accounts: BTreeMap<AccountId, Aws>,
}

impl Context {
    /// Loads and synthesizes the environment, configures AWS and checks the account: nothing is
    /// changed before the caller's account is known to be the environment's.
    pub async fn open(target: &Target) -> Result<Context> {
        let env = load_environment(&target.paths, &target.env)?;
        let region = pick_region(&env, target.region.as_deref())?;
        let synthesis = synth::synthesize(&env, region.as_ref())?;
        let aws = Aws::load(
            &env,
            &AwsOptions {
                profile: target.profile.clone(),
            },
        )
        .await;
        if let Some(endpoint) = aws.endpoint() {
            tracing::info!("sending requests to {endpoint}");
        }
        let accounts = aws::connect_accounts(&env, &aws).await?;
        Ok(Context {
            env,
            synthesis,
            aws,
            accounts,
        })
    }

    /// The DR region's stacks (with `deploy:` its bootstrap stack, then the replica stack) with
    /// the region's clients in its account, when the environment has `dr:`.
    pub fn dr_region(&self) -> Option<(&RegionOutput, RegionClients)> {
        self.synthesis
            .dr
            .as_ref()
            .map(|r| (r, self.aws_for(&r.region).region(&r.region)))
    }

    /// The connection acting in `region`'s account.
    pub fn aws_for(&self, region: &Region) -> &Aws {
        self.accounts
            .get(self.env.account_of(region))
            .unwrap_or(&self.aws)
    }

    /// The selected regions, in rollout order, with their clients (in each region's account).
    pub fn regions(&self) -> Vec<(&RegionOutput, RegionClients)> {
        self.synthesis
            .regions
            .iter()
            .map(|r| (r, self.aws_for(&r.region).region(&r.region)))
            .collect()
    }
}

/// True when both standard input and standard error are terminals, so a question can be asked.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks a question on the terminal and reads one line.
pub fn ask(question: &str) -> Result<String> {
    use std::io::Write;
    let mut stderr = std::io::stderr();
    write!(stderr, "{question}")?;
    stderr.flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

/// How much of a plan's IAM `diff` and `up` show.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct PlanArgs {
    /// For a new stack, list every IAM grant instead of one line per role and resource policy
    /// (changes to existing stacks are always shown grant by grant).
    #[arg(long)]
    pub detail: bool,
}

/// Prints a plan the way `diff` and `up` show it.
pub fn print_plan(plan: &engine::change_set::Plan, args: PlanArgs) {
    print!("{}", plan_text(plan, args));
}

/// A plan as `diff` shows it: [`plan_text`] with, under each resource change, what changes in its
/// properties (before → after, line diffs of user data and policy documents, the create-only
/// property that replaces it), from comparing the two templates.
pub fn plan_text_with(
    plan: &engine::change_set::Plan,
    args: PlanArgs,
    details: &synth::changes::TemplateChanges,
) -> String {
    let mut out = plan_lines(plan, args, Some(details));
    if !details.sections.is_empty() {
        out.push_str("  template sections:\n");
        for property in &details.sections {
            out.push_str(&synth::changes::property_text(property, "      "));
        }
    }
    out
}

/// A plan as `diff` and `up` show it: the resource changes, then how IAM changes, role by role and
/// resource-based policy by policy, in the words of `deployer policy diff`. A new stack's IAM is one
/// line per role and resource policy unless `--detail`.
pub fn plan_text(plan: &engine::change_set::Plan, args: PlanArgs) -> String {
    plan_lines(plan, args, None)
}

fn plan_lines(
    plan: &engine::change_set::Plan,
    args: PlanArgs,
    details: Option<&synth::changes::TemplateChanges>,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let (add, modify, remove, replace) = plan.counts();
    let _ = writeln!(
        out,
        "{} {}: {add} to add, {modify} to modify ({replace} replaced), {remove} to remove{}",
        plan.region,
        plan.stack,
        if plan.create { " (new stack)" } else { "" }
    );
    for change in &plan.changes {
        let _ = writeln!(out, "  {change}");
        let properties = details
            .and_then(|d| d.resource(&change.logical_id))
            .map(|r| r.properties.as_slice())
            .unwrap_or_default();
        for property in properties {
            out.push_str(&synth::changes::property_text(property, "      "));
        }
    }
    for parameter in &plan.parameters {
        let _ = writeln!(out, "  {parameter}");
    }
    if plan.iam.changed() {
        let _ = writeln!(
            out,
            "  IAM changes{}: {}",
            if plan.broadens() { " (broadening)" } else { "" },
            policy_review::render::summary_line(&plan.iam)
        );
        if plan.create && !args.detail {
            out.push_str(&policy_review::render::summary_text(&plan.iam, "    "));
            let _ = writeln!(
                out,
                "    (every grant: add --detail, or see `deployer policy diff`)"
            );
        } else {
            out.push_str(&policy_review::render::changes_text(
                &plan.iam, "    ", false,
            ));
        }
    }
    out
}

/// A plan as one JSON object. `iam` has one line per IAM change, `iam_changes` the changed roles
/// and resource-based policies as `deployer policy diff --format json` lists roles.
pub fn plan_json(plan: &engine::change_set::Plan) -> serde_json::Value {
    let changed = |holders: &[policy_review::RoleDiff]| {
        holders
            .iter()
            .filter(|h| h.status != policy_review::RoleStatus::Unchanged)
            .cloned()
            .collect::<Vec<_>>()
    };
    serde_json::json!({
        "type": "plan",
        "region": plan.region,
        "stack": plan.stack,
        "create": plan.create,
        "changes": plan.changes.iter().map(|c| serde_json::json!({
            "action": c.action.as_str(), "logical_id": c.logical_id, "resource_type": c.resource_type,
            "replacement": c.replacement.as_ref().map(|r| r.as_str()),
        })).collect::<Vec<_>>(),
        "parameters": plan.parameters.iter().map(|p| serde_json::json!({
            "name": p.name, "before": p.before, "after": p.after, "effect": p.effect,
        })).collect::<Vec<_>>(),
        "iam": policy_review::render::change_lines(&plan.iam),
        "iam_changes": {
            "roles": changed(&plan.iam.roles),
            "resource_policies": changed(&plan.iam.resource_policies),
        },
        "broadening": plan.broadens(),
    })
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudformation::types::{ChangeAction, Replacement};
    use engine::change_set::{Plan, ResourceChange, iam_changes};
    use serde_json::{Value, json};

    use super::*;

    /// The shipped `local` environment's pipeline template.
    fn pipeline() -> Value {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let env = environment::load(&root.join("environments/local.yaml")).unwrap();
        let synthesis = synth::synthesize(&env, None).unwrap();
        synthesis.regions[0]
            .stacks
            .iter()
            .find(|s| s.name == "mst-local-pipeline")
            .unwrap()
            .json
            .clone()
    }

    fn plan_of(old: &Value, new: &Value) -> Plan {
        Plan {
            stack: "mst-local-pipeline".into(),
            region: "us-east-1".into(),
            change_set_id: "cs".into(),
            create: false,
            changes: vec![ResourceChange {
                action: ChangeAction::Modify,
                logical_id: "TransformPolicy".into(),
                resource_type: "AWS::IAM::Policy".into(),
                replacement: Some(Replacement::False),
            }],
            parameters: Vec::new(),
            iam: iam_changes("mst-local-pipeline", Some(old), new),
        }
    }

    /// The example of docs/deploying.md's `deployer diff` section (its second, with the line diff of
    /// the policy document): the transform Lambda may now also write to the stream it reads.
    #[test]
    fn a_plan_shows_which_role_gains_which_action_and_that_it_broadens() {
        let old = pipeline();
        let mut new = old.clone();
        let statements =
            new["Resources"]["TransformPolicy"]["Properties"]["PolicyDocument"]["Statement"]
                .as_array_mut()
                .unwrap();
        let read = statements
            .iter_mut()
            .find(|s| s["Sid"] == "ReadQuoteStream")
            .unwrap();
        read["Action"]
            .as_array_mut()
            .unwrap()
            .push(json!("kinesis:PutRecord"));
        let plan = plan_of(&old, &new);
        assert_eq!(
            plan_text(&plan, PlanArgs::default()),
            "us-east-1 mst-local-pipeline: 0 to add, 1 to modify (0 replaced), 0 to remove
  ~ Modify TransformPolicy (AWS::IAM::Policy)
  IAM changes (broadening): 1 of 8 role(s) and 0 of 8 resource policies changed: 1 broadening, 0 narrowing, 0 risky
    TransformRole (mst-local-pipeline): changed
      + broadening [permissions] kinesis:PutRecord on arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/${QuoteStream}
          new action for this role
"
        );
        let json = plan_json(&plan);
        assert_eq!(json["broadening"], true);
        assert_eq!(
            json["iam"],
            json!([
                "TransformRole: + permissions kinesis:PutRecord on arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/${QuoteStream}: new action for this role"
            ])
        );
        assert_eq!(json["iam_changes"]["roles"][0]["role"], "TransformRole");
        assert_eq!(
            json["iam_changes"]["roles"][0]["changes"][0]["category"],
            "new_action"
        );
        assert_eq!(json["iam_changes"]["resource_policies"], json!([]));

        // `diff` adds, under the resource, the line diff of its policy document.
        let details = synth::changes::compare(Some(&old), Some(&new));
        let with = plan_text_with(&plan, PlanArgs::default(), &details);
        assert_eq!(
            with,
            r#"us-east-1 mst-local-pipeline: 0 to add, 1 to modify (0 replaced), 0 to remove
  ~ Modify TransformPolicy (AWS::IAM::Policy)
      PolicyDocument: (81 lines) → (82 lines)
                    "kinesis:GetRecords",
                    "kinesis:GetShardIterator",
          -         "kinesis:ListShards"
          +         "kinesis:ListShards",
          +         "kinesis:PutRecord"
                  ],
                  "Resource": [
  IAM changes (broadening): 1 of 8 role(s) and 0 of 8 resource policies changed: 1 broadening, 0 narrowing, 0 risky
    TransformRole (mst-local-pipeline): changed
      + broadening [permissions] kinesis:PutRecord on arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/${QuoteStream}
          new action for this role
"#
        );

        // Nothing about IAM when IAM does not change.
        assert!(!plan_text(&plan_of(&old, &old), PlanArgs::default()).contains("IAM changes"));
    }

    /// A new AMI changes no template text: the plan names the parameter, both ids and what the
    /// change does, beside CloudFormation's resource changes.
    #[test]
    fn a_plan_shows_an_ami_change_as_the_scrapers_replacement() {
        let template = pipeline();
        let mut plan = plan_of(&template, &template);
        plan.changes = vec![
            ResourceChange {
                action: ChangeAction::Modify,
                logical_id: "ScraperLaunchTemplate".into(),
                resource_type: "AWS::EC2::LaunchTemplate".into(),
                replacement: Some(Replacement::False),
            },
            ResourceChange {
                action: ChangeAction::Modify,
                logical_id: "ScraperInstance".into(),
                resource_type: "AWS::EC2::Instance".into(),
                replacement: Some(Replacement::True),
            },
        ];
        plan.parameters = vec![engine::change_set::ParameterChange {
            name: "ScraperImageId".into(),
            before: Some("ami-0aaaaaaaaaaaaaaaa".into()),
            after: "ami-0bbbbbbbbbbbbbbbb".into(),
            effect: "replaces the scraper instances, one shard at a time",
        }];
        assert_eq!(
            plan_text(&plan, PlanArgs::default()),
            "us-east-1 mst-local-pipeline: 0 to add, 2 to modify (1 replaced), 0 to remove
  ~ Modify ScraperLaunchTemplate (AWS::EC2::LaunchTemplate)
  ~ Modify ScraperInstance (AWS::EC2::Instance)  REPLACEMENT
  ScraperImageId ami-0aaaaaaaaaaaaaaaa → ami-0bbbbbbbbbbbbbbbb: replaces the scraper instances, one shard at a time
"
        );
        assert_eq!(
            plan_json(&plan)["parameters"],
            json!([{"name": "ScraperImageId", "before": "ami-0aaaaaaaaaaaaaaaa",
                "after": "ami-0bbbbbbbbbbbbbbbb", "effect": "replaces the scraper instances, one shard at a time"}])
        );
    }

    /// A new stack's IAM is one line per role and resource policy (the first `up` of `prod` used to
    /// print several hundred grant lines); `--detail` lists every grant.
    #[test]
    fn a_new_stack_shows_one_line_per_role_unless_detail_is_asked() {
        let new = pipeline();
        let mut plan = plan_of(&new, &new);
        plan.create = true;
        plan.iam = iam_changes("mst-local-pipeline", None, &new);
        let summary = plan_text(&plan, PlanArgs::default());
        let iam: Vec<&str> = summary
            .lines()
            .skip_while(|l| !l.starts_with("  IAM changes"))
            .skip(1)
            .collect();
        let roles = plan.iam.roles.len();
        let policies = plan.iam.resource_policies.len();
        assert_eq!(iam.len(), roles + policies + 1, "{summary}");
        assert!(
            iam[..roles + policies]
                .iter()
                .all(|l| l.starts_with("    + ")),
            "everything in a new stack is new: {summary}"
        );
        assert!(
            iam.iter().any(
                |l| l.starts_with("    + RawBucketPolicy: new resource policy, ")
                    && l.contains("denied action(s)")
            ),
            "{summary}"
        );
        assert!(
            iam.iter().any(
                |l| l.starts_with("    + TransformRole: new role, trusted by ")
                    && l.contains("lambda.amazonaws.com")
                    && l.contains(" permission grant(s)")
            ),
            "{summary}"
        );
        assert!(
            iam.iter().all(|l| !l.contains("kinesis:GetRecords")),
            "no grant is listed one by one: {summary}"
        );
        assert_eq!(
            iam.last().copied(),
            Some("    (every grant: add --detail, or see `deployer policy diff`)")
        );

        let detail = plan_text(&plan, PlanArgs { detail: true });
        assert!(detail.contains("kinesis:GetRecords"), "{detail}");
        assert!(detail.lines().count() > summary.lines().count() * 2);
    }
}
