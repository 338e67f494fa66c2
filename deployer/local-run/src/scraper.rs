//! The scraper daemon, the deployed binary, with the configuration the instance's user data would
//! write (`stacks::pipeline::scraper_config`, the one definition), pointed at the emulator's Kinesis
//! endpoint and a spool directory of the run. Its JSON log lines are copied to its log file and its
//! per-tick counts (`parsed`, `put`, `failed`) summed for the live view. Stopped with SIGTERM, as
//! systemd stops it, so it flushes its batch and spool.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use scraper_config::ScraperConfig;

/// How long the daemon may take to flush after SIGTERM before it is killed.
pub const STOP_BUDGET: Duration = Duration::from_secs(20);

/// Counters from the daemon's tick lines.
#[derive(Debug, Default)]
pub struct ScraperStats {
    /// Quotes parsed from pages.
    pub parsed: AtomicU64,
    /// Records put on the stream.
    pub put: AtomicU64,
    /// Fetches or parses that failed.
    pub failed: AtomicU64,
}

/// The running daemon; killed on drop if not stopped.
pub struct ScraperProcess {
    child: Option<Child>,
    stats: Arc<ScraperStats>,
    /// Its log file.
    pub log: PathBuf,
    /// Its configuration file.
    pub config_path: PathBuf,
}

/// The configuration for the run: the template's, with the emulator endpoint, a local spool and the
/// heartbeat beside the spool.
pub fn local_config(mut config: ScraperConfig, endpoint: &str, spool_dir: &Path) -> ScraperConfig {
    config.stream.endpoint = Some(endpoint.to_owned());
    config.spool.dir = spool_dir.display().to_string();
    config.heartbeat_file = Some(
        spool_dir
            .with_file_name("heartbeat.json")
            .display()
            .to_string(),
    );
    config
}

impl ScraperProcess {
    /// Writes `config` to `dir/scraper.yaml` and starts `binary --config` with `environment`.
    pub fn start(
        binary: &Path,
        config: &ScraperConfig,
        dir: &Path,
        environment: &BTreeMap<String, String>,
    ) -> Result<Self, String> {
        let config_path = dir.join("scraper.yaml");
        let text = serde_json::to_string_pretty(config)
            .map_err(|e| format!("cannot serialize the scraper configuration: {e}"))?;
        std::fs::write(&config_path, text)
            .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
        let log = dir.join("scraper.log");
        let mut file = std::fs::File::create(&log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let stderr = file
            .try_clone()
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let mut child = Command::new(binary)
            .arg("--config")
            .arg(&config_path)
            .env_clear()
            .envs(environment)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot run the scraper {}: {e}", binary.display()))?;
        let stats = Arc::new(ScraperStats::default());
        if let Some(stdout) = child.stdout.take() {
            let stats = Arc::clone(&stats);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let _ = writeln!(file, "{line}");
                    count_tick(&line, &stats);
                }
            });
        }
        Ok(Self {
            child: Some(child),
            stats,
            log,
            config_path,
        })
    }

    /// The counters.
    pub fn stats(&self) -> Arc<ScraperStats> {
        Arc::clone(&self.stats)
    }

    /// Whether the daemon exited (with its status).
    pub fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        child.try_wait().ok().flatten().map(|s| s.to_string())
    }

    /// SIGTERM, then waits up to [`STOP_BUDGET`] for the flush; kills it after that.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // `kill -TERM`: the standard tool, as this crate forbids unsafe code (no libc call).
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + STOP_BUDGET;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tracing::warn!("the scraper did not stop within {STOP_BUDGET:?} of SIGTERM: killed");
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for ScraperProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Adds a `tick` line's counts to `stats`.
fn count_tick(line: &str, stats: &ScraperStats) {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
        return;
    };
    if value["message"] != "tick" {
        return;
    }
    let add = |counter: &AtomicU64, field: &str| {
        counter.fetch_add(value[field].as_u64().unwrap_or(0), Ordering::Relaxed);
    };
    add(&stats.parsed, "parsed");
    add(&stats.put, "put");
    add(&stats.failed, "failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_lines_are_counted_and_other_lines_ignored() {
        let stats = ScraperStats::default();
        count_tick(
            r#"{"level":"INFO","message":"tick","parsed":3,"put":2,"failed":1}"#,
            &stats,
        );
        count_tick(r#"{"level":"INFO","message":"started","parsed":9}"#, &stats);
        count_tick("not json", &stats);
        assert_eq!(stats.parsed.load(Ordering::Relaxed), 3);
        assert_eq!(stats.put.load(Ordering::Relaxed), 2);
        assert_eq!(stats.failed.load(Ordering::Relaxed), 1);
    }
}
