//! `deployer init`: starts a new environment file that passes validation.

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};

use crate::Paths;
use crate::output::{Output, OutputArgs, json_line};

/// The commented skeleton of a new AWS environment; `{name}`, `{account}` and `{region}` are filled
/// in, and every line holding a placeholder is marked `REPLACE`.
const SKELETON: &str = include_str!("init/skeleton.yaml");

/// The marker of a line whose value is a placeholder.
const REPLACE: &str = "REPLACE";

/// Arguments of `deployer init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The new environment: writes `environments/<NAME>.yaml`.
    #[arg(long = "env", value_name = "NAME")]
    env: String,
    /// Start from a copy of this environment's file (comments kept) instead of the skeleton.
    #[arg(long, value_name = "ENV")]
    from: Option<String>,
    /// The AWS account id to put in the skeleton (placeholder otherwise).
    #[arg(long, value_name = "ID", conflicts_with = "from")]
    account: Option<String>,
    /// The skeleton's (canary) region.
    #[arg(
        long,
        value_name = "REGION",
        default_value = "eu-west-1",
        conflicts_with = "from"
    )]
    region: String,
    #[command(flatten)]
    paths: Paths,
    #[command(flatten)]
    output: OutputArgs,
}

/// Runs `deployer init`: writes the file only when it validates, never over an existing one.
pub fn run(args: &InitArgs) -> Result<ExitCode> {
    let file = args.paths.environments.join(format!("{}.yaml", args.env));
    if file.exists() {
        bail!(
            "{} already exists: choose another name, or edit that file",
            file.display()
        );
    }
    let text = match &args.from {
        Some(from) => from_existing(&args.paths.environments, from, &args.env)?,
        None => skeleton(
            &args.env,
            args.account.as_deref().unwrap_or("111122223333"),
            &args.region,
        ),
    };
    // The same checks as every command: a name or value the deployer would refuse is never written.
    environment::parse(&file.display().to_string(), &text)
        .map_err(|error| crate::Reported(error.to_string()))?;
    fs::create_dir_all(&args.paths.environments)
        .with_context(|| format!("cannot create {}", args.paths.environments.display()))?;
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&file)
        .with_context(|| format!("cannot create {}", file.display()))?;
    out.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", file.display()))?;
    let placeholders = placeholder_lines(&text);
    if args.output.output == Output::Json {
        let json = serde_json::json!({
            "type": "written",
            "file": file.display().to_string(),
            "placeholders": placeholders.iter().map(|(line, content)| serde_json::json!({"line": line, "content": content})).collect::<Vec<_>>(),
        });
        println!("{}", json_line("init", json));
        return Ok(ExitCode::SUCCESS);
    }
    println!("wrote {} (it passes validation)", file.display());
    if !placeholders.is_empty() {
        println!("replace the placeholders on these lines (marked {REPLACE}):");
        for (line, content) in placeholders {
            println!("  {}:{line}: {content}", file.display());
        }
    }
    println!(
        "then: deployer synth --env {0} && deployer diff --env {0}",
        args.env
    );
    Ok(ExitCode::SUCCESS)
}

/// The skeleton for environment `name` in `account` with `region` as its canary.
fn skeleton(name: &str, account: &str, region: &str) -> String {
    SKELETON
        .replace("{name}", name)
        .replace("{account}", account)
        .replace("{region}", region)
}

/// A copy of environment `from`'s file for `name`, with a first line saying where it came from.
fn from_existing(dir: &Path, from: &str, name: &str) -> Result<String> {
    let source = dir.join(format!("{from}.yaml"));
    let text = fs::read_to_string(&source).with_context(|| {
        format!(
            "cannot read {} (--from names an environment of {})",
            source.display(),
            dir.display()
        )
    })?;
    Ok(format!(
        "# Environment `{name}`, started from `{from}` by `deployer init`.\n{text}"
    ))
}

/// The lines (1-based) holding a placeholder, with their content trimmed.
fn placeholder_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.contains(&format!("# {REPLACE}")))
        .map(|(index, line)| (index + 1, line.trim().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_skeleton_validates_for_any_region_and_marks_every_placeholder() {
        for region in ["eu-west-1", "us-east-1", "ap-southeast-2"] {
            let text = skeleton("staging", "444455556666", region);
            let env = environment::parse("staging.yaml", &text).unwrap();
            assert_eq!(env.account.as_str(), "444455556666");
            assert_eq!(env.regions[0].as_str(), region);
            assert!(!text.contains("{name}") && !text.contains("{region}"));
            // Only `{symbol}` stays: the scraper fills it per symbol.
            assert!(text.contains("/quote/{symbol}"));
        }
        let text = skeleton("staging", "444455556666", "eu-west-1");
        let marked: Vec<String> = placeholder_lines(&text)
            .into_iter()
            .map(|(_, l)| l)
            .collect();
        for key in [
            "account:",
            "url: https://quotes",
            "price:",
            "url: https://influxdb",
            "emails:",
            "server_certificate_arn:",
            "client_root_certificate_arn:",
        ] {
            assert!(
                marked.iter().any(|l| l.starts_with(key)),
                "{key} is not marked: {marked:?}"
            );
        }
    }
}
