//! `deployer synth`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use environment::{Environment, Region};
use synth::Synthesis;

use crate::Paths;
use crate::output::{Output, OutputArgs, json_line};

/// Arguments of `deployer synth`.
#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    /// The environment: `environments/<NAME>.yaml`.
    #[arg(long = "env", value_name = "NAME")]
    env: String,
    /// Only this region (default: every region of the environment).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// Where templates are written: `<DIR>/<env>/<region>/<stack>.json`.
    #[arg(long, default_value = "out", value_name = "DIR")]
    out: PathBuf,
    /// Write nothing; fail (exit 2) with the difference when the committed IAM or template snapshot
    /// is stale, or when a role has an action that no use accounts for (`deployer policy explain`).
    #[arg(long)]
    check: bool,
    /// Also write parliament's inputs (concrete policy documents) to `<DIR>/<env>/parliament/`.
    #[arg(long)]
    judge_inputs: bool,
    #[command(flatten)]
    paths: Paths,
    #[command(flatten)]
    output: OutputArgs,
}

/// Loads `environments/<name>.yaml`, with every problem rendered.
pub fn load_environment(paths: &Paths, name: &str) -> Result<Environment> {
    let file = paths.environments.join(format!("{name}.yaml"));
    if !file.exists() {
        let known = list_environments(&paths.environments);
        bail!(
            "no environment `{name}`: {} does not exist (known: {})",
            file.display(),
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
    }
    // The rendered diagnostics already say everything: file, line, column, problem, fix.
    environment::load(&file).map_err(|error| crate::Reported(error.to_string()).into())
}

fn list_environments(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            entry
                .file_name()
                .to_str()?
                .strip_suffix(".yaml")
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

pub(crate) fn pick_region(env: &Environment, wanted: Option<&str>) -> Result<Option<Region>> {
    let Some(wanted) = wanted else {
        return Ok(None);
    };
    match env.regions.iter().find(|r| r.as_str() == wanted) {
        Some(region) => Ok(Some(region.clone())),
        None => bail!(
            "region {wanted} is not in environment {}; its regions are {}",
            env.name.as_str(),
            env.regions
                .iter()
                .map(Region::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Runs `deployer synth`.
pub fn run(args: &SynthArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let env = load_environment(&args.paths, &args.env)?;
    let region = pick_region(&env, args.region.as_deref())?;
    for hint in environment::fleet::hints(&env) {
        eprintln!("hint: {hint}");
    }
    let synthesis = synth::synthesize(&env, region.as_ref())?;
    let snapshot_dir = args.paths.policies.join(env.name.as_str());
    let templates_dir = args.paths.templates.join(env.name.as_str());
    if args.check {
        return check_snapshot(
            &snapshot_dir,
            &templates_dir,
            &synthesis,
            args.output.output,
        );
    }
    let out = args.out.join(env.name.as_str());
    for (path, text) in synthesis.template_files() {
        write(&out.join(path), text)?;
    }
    if args.judge_inputs {
        for (file, text) in synth::parliament_inputs(&env, env.canary_region(), &synthesis) {
            write(&out.join("parliament").join(file), &text)?;
        }
    }
    // A single-region run sees only part of the environment's stacks; the snapshot is the whole
    // environment's, so it is written only by a full run.
    let snapshot_changes = match region {
        None => Some((
            write_snapshot(&snapshot_dir, &synthesis.snapshot.files())?,
            write_snapshot(&templates_dir, &template_snapshot(&synthesis))?,
        )),
        Some(_) => None,
    };
    if args.output.output == Output::Json {
        println!(
            "{}",
            json_line(
                "synth",
                summary_json(
                    &env,
                    &synthesis,
                    &out,
                    (&snapshot_dir, &templates_dir),
                    snapshot_changes.as_ref()
                )
            )
        );
        return Ok(ExitCode::SUCCESS);
    }
    // Written anyway, so the author can see the grant in the snapshot; `--check` (CI) refuses it.
    for grant in &synthesis.grants.unexplained {
        eprintln!("warning: {grant}");
    }
    print_summary(&env, &synthesis, &out, started);
    match snapshot_changes {
        Some((policies, templates)) => {
            print_snapshot_changes(
                &snapshot_dir,
                &policies,
                synthesis.snapshot.files().len(),
                "roles",
            );
            print_snapshot_changes(
                &templates_dir,
                &templates,
                template_snapshot(&synthesis).len(),
                "templates",
            );
        }
        None => {
            for dir in [&snapshot_dir, &templates_dir] {
                println!(
                    "  {} not written: a single-region run sees only part of the environment",
                    dir.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` to `path` unless it already holds it; says whether it wrote.
fn write(path: &Path, text: &str) -> Result<bool> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    // Unchanged files are left alone, so their timestamps tell what a run changed.
    if fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(false);
    }
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

/// The committed template snapshot of a whole synthesis: `<region>/<stack>.json` to its pretty JSON,
/// what `diff --offline` reads at a base revision.
pub fn template_snapshot(synthesis: &Synthesis) -> BTreeMap<String, String> {
    synthesis
        .template_files()
        .into_iter()
        .map(|(path, text)| (path, text.to_owned()))
        .collect()
}

/// What a run did to one file of a committed snapshot.
#[derive(Debug, PartialEq, Eq)]
enum SnapshotChange {
    Written(String),
    Removed(String),
}

/// What `synth --output json` prints: the stacks per region, and what happened to the snapshot
/// (`null` when a single-region run did not write it).
fn summary_json(
    env: &Environment,
    synthesis: &Synthesis,
    out: &Path,
    (snapshot_dir, templates_dir): (&Path, &Path),
    changes: Option<&(Vec<SnapshotChange>, Vec<SnapshotChange>)>,
) -> serde_json::Value {
    let files = |dir: &Path, count: usize, changes: &[SnapshotChange]| {
        serde_json::json!({
            "dir": dir.display().to_string(),
            "files": count,
            "written": changes.iter().filter_map(|c| match c { SnapshotChange::Written(n) => Some(n), SnapshotChange::Removed(_) => None }).collect::<Vec<_>>(),
            "removed": changes.iter().filter_map(|c| match c { SnapshotChange::Removed(n) => Some(n), SnapshotChange::Written(_) => None }).collect::<Vec<_>>(),
        })
    };
    serde_json::json!({
        "type": "synth",
        "env": env.name.as_str(),
        "account": env.account.as_str(),
        "out": out.display().to_string(),
        "regions": synthesis.regions.iter().map(|region| serde_json::json!({
            "region": region.region.as_str(),
            "canary": region.canary,
            "stacks": region.stacks.iter().map(|stack| serde_json::json!({
                "name": stack.name,
                "resources": stack.resources,
                "bytes": stack.compact.len(),
                "through_s3": stack.needs_s3_upload(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "dr": synthesis.dr.as_ref().map(|region| serde_json::json!({
            "region": region.region.as_str(),
            "stacks": region.stacks.iter().map(|stack| serde_json::json!({
                "name": stack.name,
                "resources": stack.resources,
                "bytes": stack.compact.len(),
            })).collect::<Vec<_>>(),
        })),
        "snapshot": changes.map(|(policies, _)| {
            let mut json = files(snapshot_dir, synthesis.snapshot.files().len(), policies);
            json["roles"] = json["files"].clone();
            json
        }),
        "templates": changes.map(|(_, templates)| {
            files(templates_dir, template_snapshot(synthesis).len(), templates)
        }),
    })
}

/// Says which snapshot files the run changed: they are reviewed and committed, so a rewrite must
/// never go unnoticed.
fn print_snapshot_changes(dir: &Path, changes: &[SnapshotChange], files: usize, what: &str) {
    if changes.is_empty() {
        println!("  {}: unchanged ({files} {what})", dir.display());
        return;
    }
    println!(
        "  {}: {} file(s) changed; review them (`git diff {}`, `deployer {}`) and commit:",
        dir.display(),
        changes.len(),
        dir.display(),
        if what == "roles" {
            "policy diff"
        } else {
            "diff --offline"
        }
    );
    for change in changes {
        match change {
            SnapshotChange::Written(name) => println!("    wrote   {name}"),
            SnapshotChange::Removed(name) => println!("    removed {name}"),
        }
    }
}

/// The `.json` files under `dir` (and its subfolders), by their path relative to it with `/`.
fn committed_snapshot(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    collect_json(dir, "", &mut files)?;
    Ok(files)
}

fn collect_json(dir: &Path, prefix: &str, files: &mut BTreeMap<String, String>) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.path().is_dir() {
            collect_json(&entry.path(), &format!("{name}/"), files)?;
        } else if name.ends_with(".json") {
            let text = fs::read_to_string(entry.path())
                .with_context(|| format!("reading {}", entry.path().display()))?;
            files.insert(name, text);
        }
    }
    Ok(())
}

fn write_snapshot(dir: &Path, wanted: &BTreeMap<String, String>) -> Result<Vec<SnapshotChange>> {
    let mut changes = Vec::new();
    for name in committed_snapshot(dir)?
        .keys()
        .filter(|name| !wanted.contains_key(*name))
    {
        fs::remove_file(dir.join(name))
            .with_context(|| format!("removing {}", dir.join(name).display()))?;
        changes.push(SnapshotChange::Removed(name.clone()));
    }
    for (name, text) in wanted {
        if write(&dir.join(name), text)? {
            changes.push(SnapshotChange::Written(name.clone()));
        }
    }
    Ok(changes)
}

/// The files of `dir` that differ from `wanted`, each printed as a unified diff unless `quiet`.
fn stale_files(dir: &Path, wanted: &BTreeMap<String, String>, quiet: bool) -> Result<Vec<String>> {
    let committed = committed_snapshot(dir)?;
    let mut stale = Vec::new();
    let names: std::collections::BTreeSet<&String> =
        committed.keys().chain(wanted.keys()).collect();
    for name in names {
        let path = dir.join(name);
        let old = committed.get(name).map_or("", String::as_str);
        let new = wanted.get(name).map_or("", String::as_str);
        if old == new {
            continue;
        }
        stale.push(name.clone());
        if quiet {
            continue;
        }
        let diff = similar::TextDiff::from_lines(old, new);
        print!(
            "{}",
            diff.unified_diff().context_radius(3).header(
                &format!("a/{}", path.display()),
                &format!("b/{}", path.display())
            )
        );
    }
    Ok(stale)
}

fn check_snapshot(
    dir: &Path,
    templates_dir: &Path,
    synthesis: &Synthesis,
    output: Output,
) -> Result<ExitCode> {
    let unexplained = &synthesis.grants.unexplained;
    for grant in unexplained {
        eprintln!("error: {grant}");
    }
    let wanted = synthesis.snapshot.files();
    let templates = template_snapshot(synthesis);
    let quiet = output == Output::Json;
    let stale = stale_files(dir, &wanted, quiet)?;
    let stale_templates = stale_files(templates_dir, &templates, quiet)?;
    let up_to_date = stale.is_empty() && stale_templates.is_empty() && unexplained.is_empty();
    let code = if up_to_date {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::CHANGES)
    };
    if output == Output::Json {
        println!(
            "{}",
            json_line(
                "synth",
                serde_json::json!({
                    "type": "check", "dir": dir.display().to_string(),
                    "templates_dir": templates_dir.display().to_string(),
                    "up_to_date": up_to_date, "stale": stale, "stale_templates": stale_templates,
                    "unexplained": unexplained.iter().map(ToString::to_string).collect::<Vec<_>>(),
                })
            )
        );
        return Ok(code);
    }
    let env = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for (what, dir, stale, count) in [
        ("IAM snapshot", dir, &stale, wanted.len()),
        (
            "template snapshot",
            templates_dir,
            &stale_templates,
            templates.len(),
        ),
    ] {
        if stale.is_empty() {
            if unexplained.is_empty() {
                let label = if what == "IAM snapshot" {
                    "policies"
                } else {
                    "templates"
                };
                println!("{label} up to date: {} ({count} files)", dir.display());
            }
            continue;
        }
        eprintln!(
            "error: the {what} in {} is stale ({} file(s) differ).\n  = help: run `deployer synth --env {env}` and commit {}",
            dir.display(),
            stale.len(),
            dir.display()
        );
    }
    Ok(code)
}

fn print_summary(env: &Environment, synthesis: &Synthesis, out: &Path, started: Instant) {
    println!(
        "{}: {} region(s), account {}, templates in {}",
        env.name.as_str(),
        synthesis.regions.len(),
        env.account.as_str(),
        out.display()
    );
    for region in &synthesis.regions {
        let totals = synthesis.totals(region);
        println!(
            "  {}{}: {} stacks, {} resources, {} roles, {} statements",
            region.region,
            if region.canary { " (canary)" } else { "" },
            totals.stacks,
            totals.resources,
            totals.roles,
            totals.statements
        );
        for stack in &region.stacks {
            println!(
                "    {:<24} {:>4} resources {:>8} bytes{}",
                stack.name,
                stack.resources,
                stack.compact.len(),
                if stack.needs_s3_upload() {
                    "  (over the 51,200-byte inline limit: deployed through S3)"
                } else {
                    ""
                }
            );
        }
    }
    if let Some(region) = &synthesis.dr {
        println!(
            "  {} (DR, deployed first): the replicas of every region's raw and curated data",
            region.region
        );
        for stack in &region.stacks {
            println!(
                "    {:<24} {:>4} resources {:>8} bytes",
                stack.name,
                stack.resources,
                stack.compact.len()
            );
        }
    }
    println!(
        "  done in {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
}
