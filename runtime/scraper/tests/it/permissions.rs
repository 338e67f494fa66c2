//! The `scraper` binary under its own role as deployed (`policies/local/ScraperRole.json`, assumed
//! in a moto that enforces IAM; the session's credentials given as the instance profile gives
//! them to the SDK's chain): its quotes reach the stream; without `kinesis:PutRecords` they do not,
//! and its log names moto's AccessDenied and the action.
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::common::{PageServer, Reply, quote_page, shard_records, temp_dir};
use testkit::Moto;
use testkit::iam::{AssumedRole, RolePolicy};

const REGION: &str = "eu-west-1";
const ROLE: &str = "ScraperRole";
/// Any name: CloudFormation names the stream, and the grant is on `stream/${QuoteStream}`.
const STREAM: &str = "mst-local-quotes";

/// The role's actions the scraper's code calls: each is needed by this scenario.
const CALLED: [&str; 1] = ["kinesis:PutRecords"];

/// The role's other actions, and why no test of the code can exercise them.
const NOT_CALLED_BY_THE_CODE: [(&str, &str); 6] = [
    (
        "autoscaling:SetInstanceHealth",
        "the heartbeat timer script marks a stalled instance unhealthy (tests/it/heartbeat_script.rs)",
    ),
    (
        "cloudformation:SignalResource",
        "the heartbeat timer script signals the shard's group after the first tick (tests/it/heartbeat_script.rs)",
    ),
    (
        "cloudwatch:PutMetricData",
        "the heartbeat timer script publishes the heartbeat's counters (tests/it/heartbeat_script.rs)",
    ),
    (
        "kms:GenerateDataKey",
        "KMS use implied by the encrypted stream: moto does not judge it; stacks::kms_use checks it",
    ),
    (
        "s3:GetObject",
        "the instance's user data fetches its shard's configuration at boot, before the scraper runs",
    ),
    (
        "s3:GetObjectVersion",
        "the instance's user data fetches the scraper's binary at boot, before the scraper runs",
    ),
];

/// The daemon running against `moto` and `pages` under `role`, its output in `dir/scraper.log`.
struct Daemon {
    child: Child,
    log: std::path::PathBuf,
}

impl Daemon {
    fn start(moto: &Moto, pages: &PageServer, role: &AssumedRole, dir: &std::path::Path) -> Self {
        let config = dir.join("scraper.yaml");
        std::fs::write(
            &config,
            format!(
                r#"{{"stream": {{"name": "{STREAM}", "region": "{REGION}", "endpoint": "{endpoint}"}},
"symbols": ["AAPL"], "interval_seconds": 1, "requests_per_second_per_host": 100,
"sources": [{{"name": "quote-page", "url": "{url}", "currency": "USD",
  "fields": {{"price": "span.price", "change_pct": "span.change", "market_time": "time@datetime"}}}}],
"spool": {{"dir": "{spool}", "max_mb": 1}}}}"#,
                endpoint = moto.endpoint(),
                url = pages.url("/q/{symbol}"),
                spool = dir.join("spool").display(),
            ),
        )
        .unwrap();
        let log = dir.join("scraper.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_scraper"))
            .arg("--config")
            .arg(&config)
            .envs(role.env())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// moto with IAM, the stream, and a quote page for AAPL.
async fn deployed() -> (Moto, aws_sdk_kinesis::Client, String, PageServer) {
    let moto = Moto::start_with_iam();
    let admin = aws_sdk_kinesis::Client::new(&moto.sdk_config(REGION).await);
    admin
        .create_stream()
        .stream_name(STREAM)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let shard = admin
        .list_shards()
        .stream_name(STREAM)
        .send()
        .await
        .unwrap()
        .shards()[0]
        .shard_id()
        .to_owned();
    let pages = PageServer::start(|path, _| match path {
        "/q/AAPL" => Reply::ok(quote_page("189.23")),
        _ => Reply::status(404),
    });
    (moto, admin, shard, pages)
}

async fn assume(moto: &Moto, policy: &RolePolicy) -> AssumedRole {
    moto.assume_role(REGION, policy, &[("QuoteStream", STREAM)])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn puts_quotes_under_its_own_role() {
    let (moto, admin, shard, pages) = deployed().await;
    let role = assume(&moto, &RolePolicy::local(ROLE)).await;
    let dir = temp_dir("permissions-allowed");
    let daemon = Daemon::start(&moto, &pages, &role, &dir);
    let started = Instant::now();
    while shard_records(&admin, STREAM, &shard).await.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no records after 60 s\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(!daemon.log().contains("AccessDenied"), "{}", daemon.log());
    drop(daemon);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_put_records_nothing_reaches_the_stream_and_the_log_names_it() {
    let full = RolePolicy::local(ROLE);
    let mut classified: Vec<&str> = CALLED.to_vec();
    classified.extend(NOT_CALLED_BY_THE_CODE.iter().map(|(action, _)| *action));
    classified.sort();
    assert_eq!(
        full.actions()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        classified,
        "every action of {ROLE} is either called here or listed with the reason it cannot be"
    );

    let (moto, admin, shard, pages) = deployed().await;
    for action in CALLED {
        let role = assume(&moto, &full.without(action)).await;
        let dir = temp_dir("permissions-denied");
        let daemon = Daemon::start(&moto, &pages, &role, &dir);
        let started = Instant::now();
        let denial = loop {
            if let Some(line) = daemon.log().lines().find(|l| l.contains("AccessDenied")) {
                break line.to_owned();
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "without {action}: no AccessDenied after 60 s\n{}",
                daemon.log()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        assert!(denial.contains(action), "without {action}: {denial}");
        assert!(
            shard_records(&admin, STREAM, &shard).await.is_empty(),
            "without {action}"
        );
        drop(daemon);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
