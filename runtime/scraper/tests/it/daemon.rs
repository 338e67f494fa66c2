//! The `scraper` binary as systemd runs it: local pages, moto's Kinesis, JSON logs with one summary line
//! per tick, SIGTERM → flush and exit 0; and a bad configuration → every problem, positioned, exit 2.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{PageServer, Reply, quote_page, shard_records, temp_dir};
use quote_record::Quote;
use testkit::Moto;

const STREAM: &str = "mst-daemon-quotes";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_puts_logs_and_stops_on_sigterm() {
    let server = PageServer::start(|path, _| match path {
        "/q/AAPL" => Reply::ok(quote_page("189.23")),
        "/q/MSFT" => Reply::ok(quote_page("415.10")),
        _ => Reply::status(404),
    });
    let moto = Moto::start();
    // The test's own client, to make the stream and read it back (the binary builds its own).
    let c = aws_sdk_kinesis::Client::new(&moto.sdk_config("eu-west-1").await);
    c.create_stream()
        .stream_name(STREAM)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let dir = temp_dir("daemon");
    let config = dir.join("scraper.yaml");
    std::fs::write(
        &config,
        format!(
            r#"{{"stream": {{"name": "{STREAM}", "region": "eu-west-1", "endpoint": "{endpoint}"}},
"symbols": ["AAPL", "MSFT", "GONE"], "interval_seconds": 1, "requests_per_second_per_host": 100,
"sources": [{{"name": "quote-page", "url": "{url}", "currency": "USD",
  "fields": {{"price": "span.price", "change_pct": "span.change", "market_time": "time@datetime"}}}}],
"spool": {{"dir": "{spool}", "max_mb": 1}}}}"#,
            endpoint = moto.endpoint(),
            url = server.url("/q/{symbol}"),
            spool = dir.join("spool").display(),
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_scraper"))
        .arg("--config")
        .arg(&config)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Wait for two ticks' worth of records.
    let shard = c
        .list_shards()
        .stream_name(STREAM)
        .send()
        .await
        .unwrap()
        .shards()[0]
        .shard_id()
        .to_owned();
    let started = Instant::now();
    let mut records = Vec::new();
    while records.len() < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no records after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        records = shard_records(&c, STREAM, &shard)
            .await
            .iter()
            .map(|r| {
                (
                    r.partition_key().to_owned(),
                    Quote::from_json(r.data().as_ref()).unwrap(),
                )
            })
            .collect();
    }
    for (key, q) in &records {
        assert_eq!(key, q.symbol().as_str());
        assert_eq!(q.source(), "quote-page");
        let want = if key == "AAPL" { 189.23 } else { 415.10 };
        assert_eq!(q.price(), want);
    }

    // SIGTERM: exit 0, promptly.
    let stop = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            stop.elapsed() < Duration::from_secs(25),
            "still running 25 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "exit {status:?}\n{out}\n{err}");

    // JSON logs: a summary per tick with every counter, the failure of GONE named, and a last line.
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let ticks: Vec<&serde_json::Value> = lines.iter().filter(|l| l["message"] == "tick").collect();
    assert!(ticks.len() >= 2, "{out}");
    for key in [
        "fetched", "parsed", "failed", "put", "retried", "spooled", "dropped",
    ] {
        assert!(ticks[0][key].is_u64(), "{key} missing: {}", ticks[0]);
    }
    assert_eq!(ticks[0]["parsed"], 2, "{}", ticks[0]);
    assert_eq!(ticks[0]["failed"], 1, "{}", ticks[0]);
    assert!(
        lines.iter().any(|l| l["symbol"] == "GONE"
            && l["source"] == "quote-page"
            && l["code"] == "http_status"),
        "{out}"
    );
    assert!(lines.iter().any(|l| l["signal"] == "SIGTERM"), "{out}");
    let last = lines.last().unwrap();
    assert_eq!(last["message"], "stopped", "{out}");
    assert_eq!(last["spool_len"], 0, "{out}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_config_reports_every_problem_and_exits_2() {
    let dir = temp_dir("badconfig");
    let config = dir.join("scraper.yaml");
    std::fs::write(
        &config,
        "stream: {name: s, region: eu-west-1}\nsymbols: [AAPL]\nintervall_seconds: 5\nsources:\n  - name: p\n    url: \"https://q.example.com/{symbol}\"\n    currency: USD\n    fields: {price: \"span..price\", change_pct: c, market_time: t}\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scraper"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    let file = config.display();
    assert!(err.contains(&format!("--> {file}:3:1")), "{err}");
    assert!(err.contains("did you mean `interval_seconds`?"), "{err}");
    assert!(err.contains(&format!("--> {file}:8:21")), "{err}");
    assert!(
        err.contains("`span..price` is not a valid CSS selector: class needs ident"),
        "{err}"
    );
    assert!(err.contains("missing top-level key `spool`"), "{err}");
    assert!(err.contains("has 3 problems"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}
