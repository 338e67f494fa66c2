//! The instance's heartbeat timer script (`systemd/mystocktracker-heartbeat.sh`), run here with a
//! stand-in `aws` command that records its arguments: it publishes only new ticks, signals the shard's
//! group once, and marks the instance unhealthy only when the heartbeat is stale.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use scraper::Heartbeat;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/systemd/mystocktracker-heartbeat.sh"
);

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let aws = bin.join("aws");
        std::fs::write(
            &aws,
            format!(
                "#!/bin/bash\necho \"$*\" >> {}\n",
                dir.path().join("calls").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&aws, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        World { dir }
    }

    fn heartbeat(&self) -> PathBuf {
        self.dir.path().join("heartbeat.json")
    }

    fn beat(&self, ticks: u64, quotes: u64, fetch_failures: u64) {
        Heartbeat {
            shard: 2,
            shards: 3,
            at: 0,
            ticks,
            quotes,
            fetch_failures,
            put: quotes,
        }
        .write(&self.heartbeat())
        .unwrap();
    }

    /// Runs the script once and returns the `aws` calls it made.
    fn run(&self) -> Vec<String> {
        let calls = self.dir.path().join("calls");
        let _ = std::fs::remove_file(&calls);
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap()
        );
        let out = Command::new("bash")
            .arg(SCRIPT)
            .env("PATH", path)
            .env("MST_HEARTBEAT_FILE", self.heartbeat())
            .env("MST_HEARTBEAT_STATE", self.dir.path().join("state"))
            .env("MST_ENVIRONMENT", "prod")
            .env("MST_REGION", "eu-west-1")
            .env("MST_STACK", "mst-prod-pipeline")
            .env("MST_SHARD", "2")
            .env("MST_INSTANCE_ID", "i-0123456789abcdef0")
            .env("MST_STALE_SECONDS", "180")
            .env("MST_NAMESPACE", "MyStockTracker/Scraper")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        read_lines(&calls)
    }
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| t.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

#[test]
fn new_ticks_are_published_the_group_signalled_once_and_a_stale_heartbeat_marks_the_instance() {
    let world = World::new();
    world.beat(3, 10, 1);
    let calls = world.run();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    let dims = "Dimensions=[{Name=Environment,Value=prod},{Name=Shard,Value=2}]";
    assert!(calls[0].starts_with(
        "cloudwatch put-metric-data --region eu-west-1 --namespace MyStockTracker/Scraper"
    ));
    for metric in [
        format!("MetricName=Ticks,Value=3,Unit=Count,{dims}"),
        format!("MetricName=Quotes,Value=10,Unit=Count,{dims}"),
        format!("MetricName=FetchFailures,Value=1,Unit=Count,{dims}"),
    ] {
        assert!(calls[0].contains(&metric), "{metric} in {}", calls[0]);
    }
    assert_eq!(
        calls[1],
        "cloudformation signal-resource --region eu-west-1 --stack-name mst-prod-pipeline \
         --logical-resource-id ScraperShard2 --unique-id i-0123456789abcdef0 --status SUCCESS"
    );

    // Two more ticks: only the difference is published, and no second signal.
    world.beat(5, 14, 1);
    let calls = world.run();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert!(
        calls[0].contains("MetricName=Ticks,Value=2,"),
        "{}",
        calls[0]
    );
    assert!(
        calls[0].contains("MetricName=Quotes,Value=4,"),
        "{}",
        calls[0]
    );
    assert!(
        calls[0].contains("MetricName=FetchFailures,Value=0,"),
        "{}",
        calls[0]
    );

    // The loop stalls: nothing new to publish (the alarm sees missing data), and once the
    // heartbeat is older than the limit the instance is marked unhealthy.
    assert!(world.run().is_empty());
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(600);
    std::fs::File::options()
        .write(true)
        .open(world.heartbeat())
        .unwrap()
        .set_modified(old)
        .unwrap();
    let calls = world.run();
    assert_eq!(
        calls,
        vec![
            "autoscaling set-instance-health --region eu-west-1 --instance-id i-0123456789abcdef0 \
             --health-status Unhealthy --no-should-respect-grace-period"
        ]
    );

    // A restarted scraper counts from zero again: its ticks are published as they are.
    world.beat(1, 3, 0);
    let calls = world.run();
    assert!(
        calls[0].contains("MetricName=Ticks,Value=1,"),
        "{}",
        calls[0]
    );
}
