//! `deployer diff`: what `up` would change, property by property, without building anything; with
//! `--offline`, what a change of the checkout does to the templates, without AWS.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use aws_sdk_cloudformation::types::{ChangeAction, Replacement};
use engine::artifacts::{self, Stored, StoredArtifact};
use engine::change_set::{self, Deployed, Plan, Prepared, ResourceChange, TemplateLocation};
use engine::deploy::{self, Pinned, Settings};
use engine::sources;
use serde_json::Value;
use stacks::pipeline::{ArtifactParameter, StackKind};
use synth::changes::{self, TemplateChanges};

use crate::context::{Context, PlanArgs, Target, plan_json, plan_text_with};
use crate::output::{Output, OutputArgs, json_line};
use crate::synth_cmd::{load_environment, pick_region};

/// Arguments of `deployer diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    #[command(flatten)]
    target: Target,
    /// Prebuilt artifacts to compare with the deployed ones: DIR/transform.zip, DIR/to-parquet.zip,
    /// DIR/notify.zip and DIR/scraper (default: nothing is built; code changes are found by
    /// comparing the hash of each runtime crate's sources with the one the stack records).
    #[arg(long, value_name = "DIR", conflicts_with = "offline")]
    artifacts: Option<PathBuf>,
    /// Compare the template snapshot committed at `--base` (`templates/<env>/`) with the templates
    /// synthesized now, with no AWS access (for merge requests, beside `policy diff`).
    #[arg(long)]
    offline: bool,
    /// With `--offline`: the git revision whose committed templates are the base (default: HEAD,
    /// so the changes not committed yet; a merge request passes its target's merge-base).
    #[arg(long, value_name = "REV", requires = "offline")]
    base: Option<String>,
    #[command(flatten)]
    plan: PlanArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// Runs `deployer diff`: 0 without changes, 2 with changes.
pub async fn run(args: &DiffArgs) -> Result<ExitCode> {
    let changed = if args.offline {
        offline(args)?
    } else {
        against_deployed(args).await?
    };
    Ok(if changed {
        ExitCode::from(crate::exit::CHANGES)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints one stack's plan with its property-level details, or that it is unchanged.
fn show(args: &DiffArgs, region: &str, stack: &str, plan: Option<(&Plan, &TemplateChanges)>) {
    match (args.output.output, plan) {
        (Output::Text, Some((plan, details))) => {
            print!("{}", plan_text_with(plan, args.plan, details));
        }
        (Output::Text, None) => println!("{region} {stack}: no changes"),
        (Output::Json, Some((plan, details))) => {
            let mut json = plan_json(plan);
            json["template_changes"] = serde_json::to_value(details).unwrap_or(Value::Null);
            println!("{}", json_line("diff", json));
        }
        (Output::Json, None) => println!(
            "{}",
            json_line(
                "diff",
                serde_json::json!({"type": "unchanged", "region": region, "stack": stack})
            )
        ),
    }
}

/// Whether an artifact's code changes, and how that is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    /// The same sources (or the same artifact) as deployed: not shown.
    Unchanged,
    /// Other sources (or another artifact) than deployed.
    Changed,
    /// The stack records no source hash (deployed by an older deployer, or from elsewhere).
    Unknown,
}

impl Code {
    fn as_str(self) -> &'static str {
        match self {
            Code::Unchanged => "unchanged",
            Code::Changed => "changed",
            Code::Unknown => "unknown",
        }
    }
}

/// The name of the resource running an artifact, as the stacks name it.
fn runs(parameter: ArtifactParameter) -> &'static str {
    match parameter {
        ArtifactParameter::Transform => "Transform",
        ArtifactParameter::ToParquet => "ToParquet",
        ArtifactParameter::Notify => "Notify",
        ArtifactParameter::Scraper => "Scraper",
        ArtifactParameter::VpnConnect => stacks::pipeline::vpn_connect::FUNCTION_ID,
    }
}

fn show_code(
    args: &DiffArgs,
    region: &str,
    stack: &str,
    parameter: ArtifactParameter,
    code: Code,
    how: &str,
) {
    if code == Code::Unchanged {
        return;
    }
    match args.output.output {
        Output::Text => match code {
            Code::Unchanged => {}
            Code::Changed => println!("  code of {} changes ({how})", runs(parameter)),
            Code::Unknown => println!(
                "  code of {}: not known ({how}; pass --artifacts DIR to compare built artifacts)",
                runs(parameter)
            ),
        },
        Output::Json => println!(
            "{}",
            json_line(
                "diff",
                serde_json::json!({
                    "type": "code", "region": region, "stack": stack,
                    "artifact": parameter.crate_name(), "resource": runs(parameter),
                    "code": code.as_str(), "how": how,
                })
            )
        ),
    }
}

/// The artifacts the change set pins: with `--artifacts`, the given ones as the bucket holds them;
/// without, the deployed ones (code changes are told apart by source hash, not by a change set),
/// with the source hashes the stack records, so only the templates and settings are compared.
async fn pinned_artifacts(
    clients: &engine::aws::RegionClients,
    bucket: &str,
    given: Option<&[artifacts::Artifact]>,
    deployed: Option<&Deployed>,
) -> Result<Vec<StoredArtifact>> {
    if let Some(given) = given {
        return Ok(artifacts::find_all(&clients.s3, clients.region.as_str(), bucket, given).await?);
    }
    Ok(ArtifactParameter::ALL
        .iter()
        .map(|&parameter| {
            let value = |name: &str| deployed.and_then(|d| d.parameters.get(name)).cloned();
            StoredArtifact {
                parameter,
                object: Stored {
                    // Not deployed: a local plan, which passes no parameters.
                    key: value(parameter.parameter_name()).unwrap_or_default(),
                    version_id: value(parameter.version_parameter_name()),
                    uploaded: false,
                },
                source_sha256: deployed
                    .and_then(|d| d.tags.get(&sources::source_tag(parameter)))
                    .cloned(),
            }
        })
        .collect())
}

/// How the code of each artifact the new template `declares` (vpn-connect only with a VPN)
/// compares with the deployed stack's.
fn code_changes(
    deployed: &Deployed,
    declares: &Value,
    given: Option<&[StoredArtifact]>,
    hashes: &[(ArtifactParameter, String)],
) -> Vec<(ArtifactParameter, Code, String)> {
    ArtifactParameter::ALL
        .iter()
        .filter(|p| p.is_declared_in(declares))
        .map(|&parameter| {
            if let Some(given) = given {
                let key = given
                    .iter()
                    .find(|a| a.parameter == parameter)
                    .map(|a| a.object.key.as_str());
                let deployed_key = deployed.parameters.get(parameter.parameter_name());
                return if deployed_key.map(String::as_str) == key {
                    (parameter, Code::Unchanged, String::new())
                } else {
                    (
                        parameter,
                        Code::Changed,
                        "the given artifact differs from the deployed one".into(),
                    )
                };
            }
            let current = hashes
                .iter()
                .find(|(p, _)| *p == parameter)
                .map(|(_, h)| h);
            match deployed.tags.get(&sources::source_tag(parameter)) {
                None => (
                    parameter,
                    Code::Unknown,
                    "the stack records no source hash: deployed by an older deployer".into(),
                ),
                Some(recorded) if Some(recorded) == current => (parameter, Code::Unchanged, String::new()),
                Some(_) => (
                    parameter,
                    Code::Changed,
                    format!(
                        "its sources differ from those deployed: crate `{}` or its workspace dependencies",
                        parameter.package()
                    ),
                ),
            }
        })
        .collect()
}

/// `diff` against the deployed stacks: a change set per changed stack (deleted after), its
/// resources detailed from the deployed and the synthesized templates. Returns whether anything
/// changes.
async fn against_deployed(args: &DiffArgs) -> Result<bool> {
    let context = Context::open(&args.target).await?;
    let workspace = std::env::current_dir().context("current directory")?;
    // Never a build: prebuilt artifacts when given, else the hashes of the sources.
    let given = match &args.artifacts {
        Some(dir) => {
            let mut loaded = artifacts::from_dir(dir).context("reading --artifacts")?;
            crate::context::with_source_hashes(&workspace, &mut loaded);
            Some(loaded)
        }
        None => None,
    };
    let hashes = match &given {
        Some(_) => Vec::new(),
        None => sources::all(&workspace).context(
            "hashing the runtime crates' sources (to tell code changes without building)",
        )?,
    };
    let settings = Settings::default();
    let mut changed = false;
    // The DR region's stacks first, as `up` deploys them: with `deploy:` its bootstrap stack
    // (checked), then the replica stack.
    let dr = context.dr_region().map(|(region, clients)| {
        let kinds = region.stacks.iter().map(|s| s.kind).collect();
        (region, clients, kinds)
    });
    let regions = context.regions().into_iter().map(|(region, clients)| {
        (
            region,
            clients,
            vec![StackKind::Artifacts, StackKind::Pipeline],
        )
    });
    // The replica key the pipelines name: the deployed one, or a stand-in before the first `up`.
    let replica_key = match context.dr_region() {
        Some((_, clients)) => engine::dr::replica_key_arn(&clients, &context.env)
            .await?
            .or_else(|| deploy::replica_key_not_deployed(&context.env)),
        None => None,
    };
    for (region, clients, kinds) in dr.into_iter().chain(regions) {
        let region_name = clients.region.as_str();
        let bucket = deploy::artifacts_bucket(&context.env, &region.region);
        for kind in kinds {
            let cfn = &clients.cloudformation;
            let name = &deploy::stack_of(region, kind)?.name;
            let deployed = change_set::describe_stack(cfn, region_name, name).await?;
            let deployed = deployed.filter(|d| !d.is_review_only() && !d.is_failed_create());
            let stored = match kind {
                // Read-only: what the bucket holds is checked (a planted object is refused here
                // too) and its versions compared; nothing is uploaded.
                StackKind::Pipeline => {
                    pinned_artifacts(&clients, &bucket, given.as_deref(), deployed.as_ref()).await?
                }
                StackKind::Artifacts | StackKind::Replica => Vec::new(),
            };
            // The AMI resolved as `up` would: a new `latest` shows as the scraper's replacement.
            let pinned = match kind {
                StackKind::Pipeline => Some(Pinned {
                    artifacts: stored.clone(),
                    scraper_image: engine::image::resolve(&clients.ssm, region_name, &context.env)
                        .await?,
                }),
                StackKind::Artifacts | StackKind::Replica => None,
            };
            let spec = deploy::spec(
                &context.env,
                region,
                kind,
                pinned.as_ref(),
                replica_key.as_deref(),
            )?;
            if kind == StackKind::Artifacts && context.env.is_bootstrapped() {
                // `deployer bootstrap`'s stack: `up` needs it current and never changes it.
                deploy::check_bootstrap(&clients, &context.env, &spec).await?;
                show(args, region_name, &spec.name, None);
                continue;
            }
            let new: Value = serde_json::from_str(&spec.body)
                .with_context(|| format!("the template of {} is not JSON", spec.name))?;
            let Some(deployed) = deployed else {
                // Not deployed: every resource is new; computed locally, nothing left behind.
                let plan = change_set::local_plan(&spec, region_name)?;
                show(
                    args,
                    region_name,
                    &spec.name,
                    Some((&plan, &TemplateChanges::default())),
                );
                changed = true;
                continue;
            };
            let code = match kind {
                StackKind::Pipeline => code_changes(
                    &deployed,
                    &new,
                    given.is_some().then_some(&stored[..]),
                    &hashes,
                ),
                StackKind::Artifacts | StackKind::Replica => Vec::new(),
            };
            let code_changed = code.iter().any(|(_, c, _)| *c != Code::Unchanged);
            changed |= code_changed;
            if change_set::unchanged(&deployed, &spec) {
                show(args, region_name, &spec.name, None);
            } else {
                let body = change_set::deployed_template(cfn, region_name, &spec.name).await?;
                let location = match kind {
                    StackKind::Pipeline => {
                        deploy::template_location(&clients, &bucket, &spec).await?
                    }
                    StackKind::Artifacts | StackKind::Replica => TemplateLocation::Body,
                };
                let old: Option<Value> = serde_json::from_str(&body).ok();
                let details = changes::compare(old.as_ref(), Some(&new));
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
                        show(args, region_name, &spec.name, Some((&plan, &details)));
                        change_set::discard(cfn, &plan).await?;
                        changed = true;
                    }
                }
            }
            for (parameter, state, how) in code {
                show_code(args, region_name, &spec.name, parameter, state, &how);
            }
        }
    }
    Ok(changed)
}

/// A plan computed from two templates alone, as a change set would list it: what `--offline`
/// shows, in the same form as `diff` against AWS.
fn offline_plan(
    stack: &str,
    region: &str,
    old: Option<&Value>,
    new: Option<&Value>,
    details: &TemplateChanges,
) -> Plan {
    let no_template = Value::Object(serde_json::Map::new());
    Plan {
        stack: stack.to_owned(),
        region: region.to_owned(),
        change_set_id: String::new(),
        create: old.is_none(),
        // Templates carry no parameter values: the header says what the AMI will be.
        parameters: Vec::new(),
        changes: details
            .resources
            .iter()
            .map(|r| ResourceChange {
                action: ChangeAction::from(r.action.as_str()),
                logical_id: r.logical_id.clone(),
                resource_type: r.resource_type.clone(),
                replacement: (r.action == changes::Action::Modify).then(|| {
                    if r.replaced_by().is_empty() {
                        Replacement::False
                    } else {
                        Replacement::True
                    }
                }),
            })
            .collect(),
        iam: change_set::iam_changes(stack, old, new.unwrap_or(&no_template)),
    }
}

/// `diff --offline`: the committed template snapshot at `--base` against the templates synthesized
/// now. Returns whether anything changes.
fn offline(args: &DiffArgs) -> Result<bool> {
    let paths = &args.target.paths;
    let env = load_environment(paths, &args.target.env)?;
    let only = pick_region(&env, args.target.region.as_deref())?;
    let synthesis = synth::synthesize(&env, only.as_ref())?;
    let dir = paths.templates.join(env.name.as_str());
    let rev = args.base.as_deref().unwrap_or("HEAD");
    let repo = Path::new(".");
    let base = policy_review::source::files_at(repo, rev, &dir)
        .with_context(|| format!("reading {} at {rev}", dir.display()))?;
    let label = policy_review::source::short_rev(repo, rev);
    let parse = |name: &str, text: &str| -> Result<Value> {
        serde_json::from_str(text)
            .with_context(|| format!("{rev}:{}/{name} is not a JSON template", dir.display()))
    };
    // Templates do not hold the AMI (a parameter `up` resolves): say what it will be.
    let ami = engine::image::offline_description(&env);
    match args.output.output {
        Output::Text => {
            println!(
                "{}: the templates committed in {} at {label} → the templates synthesized now",
                env.name.as_str(),
                dir.display()
            );
            println!("  scraper AMI: {ami}");
        }
        Output::Json => println!(
            "{}",
            json_line(
                "diff",
                serde_json::json!({"type": "offline", "env": env.name.as_str(),
                    "base": label, "dir": dir.display().to_string(), "scraper_ami": ami})
            )
        ),
    }
    let mut changed = false;
    let mut seen = std::collections::BTreeSet::new();
    let mut stacks: Vec<(String, String, Option<Value>, Option<Value>)> = Vec::new();
    // The DR region's replica stack first, as `up` deploys it.
    for region in synthesis.dr.iter().chain(&synthesis.regions) {
        for stack in &region.stacks {
            let file = format!("{}/{}.json", region.region, stack.name);
            let old = base.get(&file).map(|t| parse(&file, t)).transpose()?;
            seen.insert(file);
            stacks.push((
                region.region.as_str().to_owned(),
                stack.name.clone(),
                old,
                Some(stack.json.clone()),
            ));
        }
    }
    // Stacks of regions the environment no longer has (a whole-environment run only).
    if only.is_none() {
        for (file, text) in base.iter().filter(|(f, _)| !seen.contains(*f)) {
            let Some((region, stack)) = file.strip_suffix(".json").and_then(|f| f.split_once('/'))
            else {
                continue;
            };
            stacks.push((
                region.to_owned(),
                stack.to_owned(),
                Some(parse(file, text)?),
                None,
            ));
        }
    }
    for (region, stack, old, new) in &stacks {
        let details = changes::compare(old.as_ref(), new.as_ref());
        if details.is_empty() {
            show(args, region, stack, None);
            continue;
        }
        changed = true;
        let plan = offline_plan(stack, region, old.as_ref(), new.as_ref(), &details);
        show(args, region, stack, Some((&plan, &details)));
    }
    Ok(changed)
}
