//! `deployer run`: the pipeline deployed to an emulator, run on this machine (crate `local-run`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use crate::context::{Context, Target};
use crate::synth_cmd::load_environment;

/// Arguments of `deployer run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    target: Target,
    /// Stop after this long (`90`, `90s`, `5m`, `1h`); without it, run until Ctrl-C.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Do not start the scraper daemon (put records on the stream yourself).
    #[arg(long)]
    no_scraper: bool,
    /// Write this file once every part of the pipeline is started: a record put on the stream
    /// after it exists reaches the raw bucket (scripts wait for it before `deployer verify`).
    #[arg(long, value_name = "PATH")]
    ready_file: Option<PathBuf>,
}

/// `90`, `90s`, `5m` or `1h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: write 90, 90s, 5m or 1h"))?;
    let seconds = match unit {
        "s" => value,
        "m" => value * 60,
        "h" => value * 3600,
        _ => return Err(format!("`{text}`: the unit must be s, m or h")),
    };
    Ok(Duration::from_secs(seconds))
}

/// `$HOME/.cache/mystocktracker/run/<env>`: binaries, configuration, spool and logs of the run.
fn run_dir(env: &str) -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
        .join(".cache/mystocktracker/run")
        .join(env)
}

/// Holds `run_dir` for this run: an exclusive lock on its `.lock` file, released when the returned
/// file is dropped (or the process ends). A second run of the same environment would share the
/// scraper's spool, the functions' folders and logs, so it is refused instead.
fn hold_run_dir(run_dir: &std::path::Path, env: &str) -> Result<std::fs::File> {
    std::fs::create_dir_all(run_dir)
        .with_context(|| format!("cannot create the run directory {}", run_dir.display()))?;
    let path = run_dir.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another `deployer run --env {env}` is running with {}: stop it first (Ctrl-C in its terminal); two runs would share its scraper spool, functions and logs",
            run_dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Runs `deployer run`.
pub async fn run(args: &RunArgs) -> Result<ExitCode> {
    let env = load_environment(&args.target.paths, &args.target.env)?;
    if env.emulator.is_none() {
        bail!(local_run::RunError::NotEmulator(args.target.env.clone()));
    }
    let mut target = args.target.clone();
    // One region: the canary, where `up --env` deployed first.
    target.region = Some(
        target
            .region
            .unwrap_or_else(|| env.canary_region().as_str().to_owned()),
    );
    let context = Context::open(&target).await?;
    let endpoint = context
        .aws
        .endpoint()
        .context("the environment names no emulator endpoint")?
        .to_owned();
    let region = context
        .synthesis
        .regions
        .first()
        .context("no region synthesized")?
        .clone();
    let options = local_run::Options {
        env: context.env.clone(),
        region,
        sdk: context.aws.sdk_config().clone(),
        endpoint,
        run_dir: run_dir(&args.target.env),
        secret_value: std::env::var(local_run::SECRET_VALUE_VARIABLE).unwrap_or_default(),
        scraper: !args.no_scraper,
    };
    let _held = hold_run_dir(&options.run_dir, &args.target.env)?;
    let mut pipeline = local_run::LocalPipeline::prepare(&options).await?;
    if let Some(path) = &args.ready_file {
        pipeline = pipeline.signal_ready(path.clone());
    }
    print!("{}", pipeline.summary());
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let duration = args.duration;
    tokio::spawn(async move {
        let reason = match duration {
            Some(duration) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "Ctrl-C",
                _ = tokio::time::sleep(duration) => "--for elapsed",
            },
            None => {
                let _ = tokio::signal::ctrl_c().await;
                "Ctrl-C"
            }
        };
        tracing::info!("stopping: {reason}");
        let _ = stop_tx.send(true);
    });
    let mut view = local_run::view::View::for_stdout();
    let snapshot = pipeline.run(stop, &mut view).await?;
    Ok(if snapshot.failures == 0 {
        ExitCode::SUCCESS
    } else {
        println!(
            "{} failure(s): see the functions' logs in {}",
            snapshot.failures,
            options.run_dir.display()
        );
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_of_the_same_environment_is_refused_until_the_first_ends() {
        let dir = std::env::temp_dir().join(format!("mst-run-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = hold_run_dir(&dir, "local").unwrap();
        let error = hold_run_dir(&dir, "local").unwrap_err().to_string();
        assert!(
            error.contains("another `deployer run --env local` is running"),
            "{error}"
        );
        drop(first);
        hold_run_dir(&dir, "local").unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn durations_take_seconds_minutes_and_hours() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("m").is_err());
    }
}
