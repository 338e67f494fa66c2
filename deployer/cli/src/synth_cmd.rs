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
    /// Write nothing; fail (exit 2) with the difference when the committed IAM snapshot is stale, or
    /// when a role has an action that no use accounts for (`deployer policy explain`).
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
    if args.check {
        return check_snapshot(&snapshot_dir, &synthesis, args.output.output);
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
        None => Some(write_snapshot(&snapshot_dir, &synthesis)?),
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
                    &snapshot_dir,
                    snapshot_changes.as_deref()
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
        Some(changes) => print_snapshot_changes(&snapshot_dir, &changes, &synthesis),
        None => println!(
            "  {} not written: a single-region run sees only part of the environment",
            snapshot_dir.display()
        ),
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

/// What a run did to one file of the committed IAM snapshot.
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
    snapshot_dir: &Path,
    changes: Option<&[SnapshotChange]>,
) -> serde_json::Value {
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
        "snapshot": changes.map(|changes| serde_json::json!({
            "dir": snapshot_dir.display().to_string(),
            "roles": synthesis.snapshot.files().len(),
            "written": changes.iter().filter_map(|c| match c { SnapshotChange::Written(n) => Some(n), SnapshotChange::Removed(_) => None }).collect::<Vec<_>>(),
            "removed": changes.iter().filter_map(|c| match c { SnapshotChange::Removed(n) => Some(n), SnapshotChange::Written(_) => None }).collect::<Vec<_>>(),
        })),
    })
}

/// Says which snapshot files the run changed: they are reviewed and committed, so a rewrite must
/// never go unnoticed.
fn print_snapshot_changes(dir: &Path, changes: &[SnapshotChange], synthesis: &Synthesis) {
    if changes.is_empty() {
        println!(
            "  {}: unchanged ({} roles)",
            dir.display(),
            synthesis.snapshot.files().len()
        );
        return;
    }
    println!(
        "  {}: {} file(s) changed; review them (`git diff {}`, `deployer policy diff`) and commit:",
        dir.display(),
        changes.len(),
        dir.display()
    );
    for change in changes {
        match change {
            SnapshotChange::Written(name) => println!("    wrote   {name}"),
            SnapshotChange::Removed(name) => println!("    removed {name}"),
        }
    }
}

fn committed_snapshot(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(files);
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") {
            let text = fs::read_to_string(entry.path())
                .with_context(|| format!("reading {}", entry.path().display()))?;
            files.insert(name, text);
        }
    }
    Ok(files)
}

fn write_snapshot(dir: &Path, synthesis: &Synthesis) -> Result<Vec<SnapshotChange>> {
    let wanted = synthesis.snapshot.files();
    let mut changes = Vec::new();
    for name in committed_snapshot(dir)?
        .keys()
        .filter(|name| !wanted.contains_key(*name))
    {
        fs::remove_file(dir.join(name))
            .with_context(|| format!("removing {}", dir.join(name).display()))?;
        changes.push(SnapshotChange::Removed(name.clone()));
    }
    for (name, text) in &wanted {
        if write(&dir.join(name), text)? {
            changes.push(SnapshotChange::Written(name.clone()));
        }
    }
    Ok(changes)
}

fn check_snapshot(dir: &Path, synthesis: &Synthesis, output: Output) -> Result<ExitCode> {
    let unexplained = &synthesis.grants.unexplained;
    for grant in unexplained {
        eprintln!("error: {grant}");
    }
    let committed = committed_snapshot(dir)?;
    let wanted = synthesis.snapshot.files();
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
        if output == Output::Json {
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
    if output == Output::Json {
        println!(
            "{}",
            json_line(
                "synth",
                serde_json::json!({
                    "type": "check", "dir": dir.display().to_string(),
                    "up_to_date": stale.is_empty() && unexplained.is_empty(), "stale": stale,
                    "unexplained": unexplained.iter().map(ToString::to_string).collect::<Vec<_>>(),
                })
            )
        );
        return Ok(if stale.is_empty() && unexplained.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(crate::exit::CHANGES)
        });
    }
    if stale.is_empty() && !unexplained.is_empty() {
        return Ok(ExitCode::from(crate::exit::CHANGES));
    }
    if stale.is_empty() {
        println!(
            "policies up to date: {} ({} roles)",
            dir.display(),
            wanted.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "error: the IAM snapshot in {} is stale ({} file(s) differ).\n  = help: run `deployer synth --env {}` and commit {}",
        dir.display(),
        stale.len(),
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        dir.display()
    );
    Ok(ExitCode::from(crate::exit::CHANGES))
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
    println!(
        "  done in {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
}
