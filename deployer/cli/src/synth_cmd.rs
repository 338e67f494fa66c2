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

/// Exit code of `synth --check` when the committed snapshot is stale or a grant has no use.
const EXIT_STALE: u8 = 3;

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
    /// Write nothing; fail (exit 3) with the difference when the committed IAM snapshot is stale, or
    /// when a role has an action that no use accounts for (`deployer policy explain`).
    #[arg(long)]
    check: bool,
    /// Also write parliament's inputs (concrete policy documents) to `<DIR>/<env>/parliament/`.
    #[arg(long)]
    judge_inputs: bool,
    #[command(flatten)]
    paths: Paths,
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
    let synthesis = synth::synthesize(&env, region.as_ref())?;
    let snapshot_dir = args.paths.policies.join(env.name.as_str());
    if args.check {
        return check_snapshot(&snapshot_dir, &synthesis);
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
    if region.is_none() {
        write_snapshot(&snapshot_dir, &synthesis)?;
    }
    // Written anyway, so the author can see the grant in the snapshot; `--check` (CI) refuses it.
    for grant in &synthesis.grants.unexplained {
        eprintln!("warning: {grant}");
    }
    print_summary(&env, &synthesis, &out, started);
    Ok(ExitCode::SUCCESS)
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    // Unchanged files are left alone, so their timestamps tell what a run changed.
    if fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
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

fn write_snapshot(dir: &Path, synthesis: &Synthesis) -> Result<()> {
    let wanted = synthesis.snapshot.files();
    for name in committed_snapshot(dir)?
        .keys()
        .filter(|name| !wanted.contains_key(*name))
    {
        fs::remove_file(dir.join(name))
            .with_context(|| format!("removing {}", dir.join(name).display()))?;
    }
    for (name, text) in &wanted {
        write(&dir.join(name), text)?;
    }
    Ok(())
}

fn check_snapshot(dir: &Path, synthesis: &Synthesis) -> Result<ExitCode> {
    let unexplained = &synthesis.grants.unexplained;
    for grant in unexplained {
        eprintln!("error: {grant}");
    }
    let committed = committed_snapshot(dir)?;
    let wanted = synthesis.snapshot.files();
    let mut stale = 0;
    let names: std::collections::BTreeSet<&String> =
        committed.keys().chain(wanted.keys()).collect();
    for name in names {
        let path = dir.join(name);
        let old = committed.get(name).map_or("", String::as_str);
        let new = wanted.get(name).map_or("", String::as_str);
        if old == new {
            continue;
        }
        stale += 1;
        let diff = similar::TextDiff::from_lines(old, new);
        print!(
            "{}",
            diff.unified_diff().context_radius(3).header(
                &format!("a/{}", path.display()),
                &format!("b/{}", path.display())
            )
        );
    }
    if stale == 0 && !unexplained.is_empty() {
        return Ok(ExitCode::from(EXIT_STALE));
    }
    if stale == 0 {
        println!(
            "policies up to date: {} ({} roles)",
            dir.display(),
            wanted.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "error: the IAM snapshot in {} is stale ({stale} file(s) differ).\n  = help: run `deployer synth --env {}` and commit {}",
        dir.display(),
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        dir.display()
    );
    Ok(ExitCode::from(EXIT_STALE))
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
