//! Decoding and validating an environment file section by section.
//!
//! Checks that concern one value run where the value is decoded, so the diagnostic points at it; checks
//! across sections (CIDR overlap, VPN certificates per region) run once both sides are decoded, using the
//! positions the decoder recorded. Every function reports its problems and returns `None` on failure, and
//! the callers carry on, so one run reports every problem of the file.

use std::collections::BTreeMap;

use ipnet::Ipv4Net;
use scraper_config::decode::{
    check_unique, http_host, int, positive, proxies, sources, symbols, user_agents,
};
use scraper_config::{DEFAULT_USER_AGENT, MAX_SHARDS, Shard};
use strict_yaml::{Decoder, MapReader, NodeKind, ScalarStyle, Value, closest, did_you_mean};

use crate::checks::{self, LOG_RETENTION_DAYS, REGIONS};
use crate::model::*;

/// Decodes the whole file. `name` is `None` when the file name was already reported as invalid.
pub(crate) fn environment(dec: &Decoder<'_>, name: Option<EnvName>) -> Option<Environment> {
    let root = dec.root_map()?;
    // The presence of `emulator` relaxes some rules (http URLs, no VPN certificates, no e-mails).
    let local = root.contains("emulator");
    let emulator = root.get("emulator").and_then(|v| {
        if v.is_null() {
            v.error(
                "`emulator` has no value",
                "set `endpoint: http://127.0.0.1:5000` under it, or remove `emulator` to target AWS",
            );
            return None;
        }
        emulator(&v)
    });
    let account = root.required_value("account").and_then(|v| account(&v));
    let regions = root.required_value("regions").and_then(|v| regions(&v));
    let tags = section(&root, "tags", BTreeMap::new(), |v| tags(v));
    let symbols = root.required_value("symbols").and_then(|v| symbols(&v));
    let scraper = root
        .required_value("scraper")
        .and_then(|v| scraper(&v, local));
    if let (Some((scraper, Some(span))), Some(symbols)) = (&scraper, &symbols) {
        check_every_shard_has_symbols(dec, span, scraper.instances, symbols);
    }
    let scraper = scraper.map(|(scraper, _)| scraper);
    let stream = section(&root, "stream", default_stream(), |v| stream(v));
    let firehose = section(&root, "firehose", default_firehose(), |v| firehose(v));
    let storage = section(&root, "storage", default_storage(), |v| storage(v));
    let transform = section(&root, "transform", default_transform(), |v| transform(v));
    let influxdb = root.required_value("influxdb").and_then(|v| influxdb(&v));
    let alerts = root
        .required_value("alerts")
        .and_then(|v| alerts(&v, local));
    let catalog = section(&root, "catalog", default_catalog(), |v| catalog(v));
    let athena = section(&root, "athena", default_athena(), |v| athena(v));
    let network = section(&root, "network", default_network(), |v| network(v));
    let logs = section(&root, "logs", Logs { retention_days: 30 }, |v| logs(v));
    let grafana = section(&root, "grafana", Grafana::default(), |v| grafana(v));
    let rollout = section(&root, "rollout", default_rollout(), |v| rollout(v));
    let dr = section(&root, "dr", None, |v| disaster_recovery(v).map(Some));
    let deploy = match root.optional_value("deploy") {
        None => Some(None),
        Some(v) => crate::deploy::decode(&v, regions.as_deref(), account.as_ref()).map(Some),
    };
    root.finish();

    if let (Some(network), Some(regions)) = (&network, &regions) {
        check_vpn_regions(dec, network, regions, local);
    }
    if let (Some(network), Some(account), Some(deploy)) = (&network, &account, &deploy) {
        check_vpn_accounts(dec, network, account, deploy.as_ref());
    }
    if let (Some(grafana), Some(regions)) = (&grafana, &regions) {
        check_grafana_region(dec, grafana, regions);
    }
    if let (Some(Some(dr)), Some(regions)) = (&dr, &regions) {
        check_dr_region(dec, dr, regions);
    }
    Some(Environment {
        name: name?,
        account: account?,
        regions: regions?,
        emulator: if local { Some(emulator?) } else { None },
        tags: tags?,
        symbols: symbols?,
        scraper: scraper?,
        stream: stream?,
        firehose: firehose?,
        storage: storage?,
        transform: transform?,
        influxdb: influxdb?,
        alerts: alerts?,
        catalog: catalog?,
        athena: athena?,
        network: network?,
        logs: logs?,
        grafana: grafana?,
        rollout: rollout?,
        dr: dr?,
        deploy: deploy?,
    })
}

/// An optional section: its default when absent, otherwise decoded by `f`.
fn section<'a, T>(
    map: &MapReader<'a>,
    key: &str,
    default: T,
    f: impl FnOnce(&Value<'a>) -> Option<T>,
) -> Option<T> {
    match map.optional_value(key) {
        None => Some(default),
        Some(v) => f(&v),
    }
}

fn emulator(v: &Value<'_>) -> Option<Emulator> {
    let map = v.map()?;
    let endpoint = map.required_value("endpoint").and_then(|v| {
        let text = v.string()?;
        match http_host(&text) {
            Some((_, "127.0.0.1" | "localhost")) => Some(text),
            _ => {
                v.error(
                    format!("emulator endpoint `{text}` is not a local address"),
                    "use `http://127.0.0.1:<port>` or `http://localhost:<port>`: the emulator runs on this machine",
                );
                None
            }
        }
    });
    map.finish();
    Some(Emulator {
        endpoint: endpoint?,
    })
}

pub(crate) fn account(v: &Value<'_>) -> Option<AccountId> {
    let text = v.str()?;
    if checks::is_account_id(text) {
        return Some(AccountId(text.to_owned()));
    }
    let quoted = matches!(
        v.node().kind,
        strict_yaml::NodeKind::Scalar(_, strict_yaml::ScalarStyle::Quoted)
    );
    let help = if quoted {
        "use the 12-digit id of the AWS account (`aws sts get-caller-identity --query Account`)"
            .to_owned()
    } else {
        "use the 12-digit id of the AWS account, in quotes so YAML keeps it as written: `account: \"123456789012\"`"
            .to_owned()
    };
    v.error(
        format!("`account` must be a 12-digit AWS account id, found `{text}`"),
        help,
    );
    None
}

fn regions(v: &Value<'_>) -> Option<Vec<Region>> {
    let items = v.items()?;
    if items.is_empty() {
        v.error(
            "`regions` is empty",
            "list at least one region, such as `[eu-west-1]`; the first is the canary",
        );
        return None;
    }
    let decoded: Vec<Option<Region>> = items.iter().map(region).collect();
    check_unique(
        items
            .iter()
            .filter_map(|i| Some((i.str()?, i.span(), i.clone()))),
        "region",
    );
    decoded.into_iter().collect()
}

fn region(v: &Value<'_>) -> Option<Region> {
    let text = v.str()?;
    if REGIONS.contains(&text) {
        return Some(Region(text.to_owned()));
    }
    v.error(format!("unknown AWS region `{text}`"), region_help(text));
    None
}

pub(crate) fn region_help(text: &str) -> String {
    match closest(text, REGIONS.iter().copied()) {
        Some(close) => format!("did you mean `{close}`?"),
        None => "use a commercial AWS region name such as `eu-west-1` or `us-east-1`".to_owned(),
    }
}

fn tags(v: &Value<'_>) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (k, val) in v.entries()? {
        let (Some(key), Some(value)) = (k.string(), val.string()) else {
            ok = false;
            continue;
        };
        let key_len = key.chars().count();
        if !(1..=128).contains(&key_len) || !checks::is_tag_text(&key) {
            k.error(
                format!("tag key `{key}` is not a valid AWS tag key"),
                "use 1 to 128 letters, digits, spaces and `_ . : / = + - @`",
            );
            ok = false;
        } else if key.to_ascii_lowercase().starts_with("aws:") {
            k.error(
                format!("tag key `{key}` uses the reserved `aws:` prefix"),
                "AWS reserves `aws:` for its own tags; choose another key",
            );
            ok = false;
        } else if key.to_ascii_lowercase().starts_with("mst:") {
            // The deployer's own stack tags (template and parameter hashes) start with `mst:`.
            k.error(
                format!("tag key `{key}` uses the deployer's reserved `mst:` prefix"),
                "the deployer keeps its own stack tags (such as `mst:template-sha256`) under `mst:`; choose another key",
            );
            ok = false;
        }
        if value.chars().count() > 256 || !checks::is_tag_text(&value) {
            val.error(
                format!("tag value of `{key}` is not a valid AWS tag value"),
                "use at most 256 letters, digits, spaces and `_ . : / = + - @`",
            );
            ok = false;
        }
        out.insert(key, value);
    }
    ok.then_some(out)
}

/// Rendezvous hashing gives each instance a random-looking share of the symbols: with few symbols per
/// instance a shard can come out empty, and an instance with nothing to scrape is refused (its
/// configuration would have no symbols).
fn check_every_shard_has_symbols(
    dec: &Decoder<'_>,
    span: &strict_yaml::Span,
    instances: u32,
    symbols: &[quote_record::Symbol],
) {
    let empty: Vec<String> = Shard::all(instances)
        .filter(|shard| !symbols.iter().any(|s| shard.owns(s)))
        .map(|shard| shard.index.to_string())
        .collect();
    if !empty.is_empty() {
        dec.error(
            *span,
            format!(
                "`scraper.instances: {instances}` leaves shard {} without symbols ({} symbols in all)",
                empty.join(", "),
                symbols.len()
            ),
            "lower `scraper.instances` or follow more symbols; each instance needs at least one",
        );
    }
}

/// The scraper section, and where `instances` was written (for the shard check, which needs the symbols).
fn scraper(v: &Value<'_>, local: bool) -> Option<(Scraper, Option<strict_yaml::Span>)> {
    let map = v.map()?;
    let instances_value = map.optional_value("instances");
    let instances_span = instances_value.as_ref().map(Value::span);
    let instances = match instances_value {
        None => Some(1),
        Some(v) => v.u32_in(1..=MAX_SHARDS),
    };
    let instance_type = match map.optional_value("instance_type") {
        None => Some("t3.micro".to_owned()),
        Some(v) => v.string().filter(|t| {
            let ok = t.split_once('.').is_some_and(|(family, size)| {
                family.starts_with(|c: char| c.is_ascii_lowercase())
                    && family
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !size.is_empty()
                    && size
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            });
            if !ok {
                v.error(
                    format!("`{t}` is not an EC2 instance type"),
                    "use an x86_64 instance type such as `t3.micro`",
                );
            } else if is_arm64_instance_type(t) {
                v.error(
                    format!("`{t}` is an arm64 (Graviton) instance type"),
                    "use an x86_64 instance type such as `t3.micro` or `m7i.large`: the scraper binary and its AMI are built for x86_64",
                );
                return false;
            }
            ok
        }),
    };
    let ami = match map.optional_value("ami") {
        None => Some(ScraperImage::Latest),
        Some(v) => scraper_image(&v),
    };
    let interval_seconds = int(&map, "interval_seconds", 15, 1..=3600);
    let concurrency = int(&map, "concurrency", 8, 1..=256);
    let timeout_seconds = int(&map, "timeout_seconds", 10, 1..=120);
    let rps = match map.optional_value("requests_per_second_per_host") {
        None => Some(2.0),
        Some(v) => positive(&v, "a request rate such as `2` or `0.5`"),
    };
    let user_agents = match map.optional_value("user_agents") {
        None => Some(vec![DEFAULT_USER_AGENT.to_owned()]),
        Some(v) => user_agents(&v),
    };
    let proxies = match map.optional_value("proxies") {
        None => Some(Vec::new()),
        Some(v) => proxies(&v),
    };
    let sources = map
        .required_value("sources")
        .and_then(|v| sources(&v, local));
    map.finish();
    let scraper = Scraper {
        instance_type: instance_type?,
        instances: instances?,
        ami: ami?,
        interval_seconds: interval_seconds?,
        concurrency: concurrency?,
        timeout_seconds: timeout_seconds?,
        requests_per_second_per_host: rps?,
        user_agents: user_agents?,
        proxies: proxies?,
        sources: sources?,
    };
    Some((scraper, instances_span))
}

/// `scraper.ami`: `latest` or an image id.
fn scraper_image(v: &Value<'_>) -> Option<ScraperImage> {
    let text = v.string()?;
    if text == "latest" {
        return Some(ScraperImage::Latest);
    }
    if ScraperImage::is_image_id(&text) {
        return Some(ScraperImage::Id(text));
    }
    v.error(
        format!("`{text}` is not an AMI id"),
        "write `latest` (the newest Amazon Linux 2023, resolved at deploy) or an x86_64 image id: `ami-` and 8 or 17 lower-case hex digits, such as `ami-0abcdef1234567890`",
    );
    None
}

/// True for the families of AWS's arm64 (Graviton) instance types: `a1`, and those whose
/// generation digit is followed by `g` (`t4g`, `m7g`, `c6gn`, `x2gd`, `im4gn`, `is4gen`, `g5g`).
fn is_arm64_instance_type(instance_type: &str) -> bool {
    let family = instance_type.split('.').next().unwrap_or_default();
    if family == "a1" {
        return true;
    }
    let mut chars = family.chars().skip_while(|c| c.is_ascii_lowercase());
    chars.next().is_some_and(|c| c.is_ascii_digit()) && chars.next() == Some('g')
}

fn default_stream() -> Stream {
    Stream {
        capacity: StreamCapacity::OnDemand,
        retention_hours: 24,
    }
}

fn stream(v: &Value<'_>) -> Option<Stream> {
    let map = v.map()?;
    let mode = match map.optional_value("mode") {
        None => Some("on-demand"),
        Some(v) => match v.str()? {
            m @ ("on-demand" | "provisioned") => Some(m),
            other => {
                v.error(
                    format!("unknown stream mode `{other}`"),
                    did_you_mean(other, &["on-demand", "provisioned"]),
                );
                None
            }
        },
    };
    let shards = map.optional_value("shards");
    let capacity = match (mode, shards) {
        (Some("provisioned"), Some(s)) => s
            .u32_in(1..=500)
            .map(|shards| StreamCapacity::Provisioned { shards }),
        (Some("provisioned"), None) => {
            let at = map
                .get("mode")
                .and_then(|m| m.key_span())
                .unwrap_or(v.span());
            v.decoder().error(
                at,
                "`stream.mode: provisioned` needs `shards`",
                "add `shards: <1 to 500>` to `stream`, or use `mode: on-demand`",
            );
            None
        }
        (Some(_), Some(s)) => {
            s.error(
                "`stream.shards` is only used with `mode: provisioned`",
                "remove `shards` (on-demand streams scale by themselves), or set `mode: provisioned`",
            );
            None
        }
        (Some(_), None) => Some(StreamCapacity::OnDemand),
        (None, _) => None,
    };
    let retention_hours = int(&map, "retention_hours", 24, 24..=8760);
    map.finish();
    Some(Stream {
        capacity: capacity?,
        retention_hours: retention_hours?,
    })
}

fn default_firehose() -> Firehose {
    Firehose {
        buffering_seconds: 60,
        buffering_mb: 64,
        dynamic_partitioning: true,
    }
}

fn firehose(v: &Value<'_>) -> Option<Firehose> {
    let map = v.map()?;
    let buffering_seconds = int(&map, "buffering_seconds", 60, 60..=900);
    let dynamic_partitioning = match map.optional_value("dynamic_partitioning") {
        None => Some(true),
        Some(v) => v.bool(),
    };
    let buffering_mb = match map.optional_value("buffering_mb") {
        None => Some(64),
        Some(mb) => mb.u32_in(0..=u32::MAX).and_then(|n| {
            // An invalid `dynamic_partitioning` (already reported) is taken as the default, true.
            let dp = dynamic_partitioning != Some(false);
            let (lo, why) = if dp {
                (64, "with dynamic partitioning")
            } else {
                (1, "without dynamic partitioning")
            };
            if (lo..=128).contains(&n) {
                return Some(n);
            }
            let help = if dp {
                "set 64 to 128 MiB, or set `dynamic_partitioning: false` to allow 1 to 128"
                    .to_owned()
            } else {
                "set 1 to 128 MiB".to_owned()
            };
            mb.error(
                format!("`firehose.buffering_mb` must be from {lo} to 128 {why}, found {n}"),
                help,
            );
            None
        }),
    };
    map.finish();
    Some(Firehose {
        buffering_seconds: buffering_seconds?,
        buffering_mb: buffering_mb?,
        dynamic_partitioning: dynamic_partitioning?,
    })
}

fn default_storage() -> Storage {
    Storage {
        raw_retention_days: 30,
        curated_retention_days: None,
        noncurrent_version_days: 7,
    }
}

fn storage(v: &Value<'_>) -> Option<Storage> {
    let map = v.map()?;
    let raw = int(&map, "raw_retention_days", 30, 1..=u32::MAX);
    let curated = match map.optional_value("curated_retention_days") {
        None => Some(None),
        Some(v) => v.u32_in(1..=u32::MAX).map(Some),
    };
    let noncurrent = int(&map, "noncurrent_version_days", 7, 1..=u32::MAX);
    map.finish();
    Some(Storage {
        raw_retention_days: raw?,
        curated_retention_days: curated?,
        noncurrent_version_days: noncurrent?,
    })
}

fn default_transform() -> Transform {
    Transform {
        batch_size: 500,
        batching_window_seconds: 1,
        maximum_record_age_seconds: 3600,
        maximum_retry_attempts: RetryAttempts::UntilRecordExpires,
        memory_mb: 256,
        timeout_seconds: 60,
    }
}

fn transform(v: &Value<'_>) -> Option<Transform> {
    let map = v.map()?;
    let batch_size = int(&map, "batch_size", 500, 1..=10_000);
    let batching_window_seconds = int(&map, "batching_window_seconds", 1, 0..=300);
    let maximum_record_age_seconds = int(&map, "maximum_record_age_seconds", 3600, 60..=604_800);
    let maximum_retry_attempts = retry_attempts(&map);
    let memory_mb = int(&map, "memory_mb", 256, 128..=10_240);
    let timeout_seconds = int(&map, "timeout_seconds", 60, 1..=900);
    map.finish();
    Some(Transform {
        batch_size: batch_size?,
        batching_window_seconds: batching_window_seconds?,
        maximum_record_age_seconds: maximum_record_age_seconds?,
        maximum_retry_attempts: maximum_retry_attempts?,
        memory_mb: memory_mb?,
        timeout_seconds: timeout_seconds?,
    })
}

/// `maximum_retry_attempts`: -1 or 0 to 10000, as AWS accepts for a Kinesis event source mapping.
fn retry_attempts(map: &MapReader<'_>) -> Option<RetryAttempts> {
    let Some(v) = map.optional_value("maximum_retry_attempts") else {
        return Some(RetryAttempts::UntilRecordExpires);
    };
    let number = match &v.node().kind {
        NodeKind::Scalar(text, ScalarStyle::Plain) => text.parse::<i64>().ok(),
        _ => None,
    };
    match number {
        Some(-1) => Some(RetryAttempts::UntilRecordExpires),
        Some(n) if (0..=10_000).contains(&n) => u32::try_from(n).ok().map(RetryAttempts::AtMost),
        _ => {
            v.error(
                format!(
                    "`{}` must be -1 (retry until the records are `maximum_record_age_seconds` old) or from 0 to 10000, found {}",
                    v.path(),
                    v.describe()
                ),
                "set -1 (the default), or a number of retries from 0 to 10000, without quotes",
            );
            None
        }
    }
}

fn influxdb(v: &Value<'_>) -> Option<InfluxDb> {
    let map = v.map()?;
    let url = map.required_value("url").and_then(|v| {
        let text = v.string()?;
        if http_host(&text).is_none() {
            v.error(
                format!("InfluxDB URL `{text}` is not an http(s) URL"),
                "write the server's base URL, such as `https://influx.example.com:8086`",
            );
            return None;
        }
        // The transform Lambda's own rule (it appends the write path and query to this URL).
        if let Some(why) = lambda_contract::transform::influx_url_problem(&text) {
            v.error(
                format!("InfluxDB URL `{text}` is not a base URL: {why}"),
                "write only the server's base URL, such as `https://influx.example.com:8086`, without `?...` or `#...`",
            );
            return None;
        }
        Some(text)
    });
    let api = map.required_value("api").and_then(|v| match v.str()? {
        "v2" => Some("v2"),
        "v1" => Some("v1"),
        other => {
            v.error(
                format!("unknown InfluxDB API `{other}`"),
                "use `v2` (InfluxDB 2.x, org and bucket) or `v1` (InfluxDB 1.x, database)",
            );
            None
        }
    });
    // Keys of the other API version are errors that say why, rather than "unknown key".
    let misplaced = |key: &str, help: &str| {
        if let Some(k) = map.get(key) {
            k.decoder().error(
                k.key_span().unwrap_or(k.span()),
                format!(
                    "`influxdb.{key}` is not used with `api: {}`",
                    api.unwrap_or("?")
                ),
                help.to_owned(),
            );
        }
    };
    let api = match api {
        Some("v2") => {
            let org = influx_name(&map, "org", "organisation", "markets");
            let bucket = influx_name(&map, "bucket", "bucket", "quotes");
            misplaced(
                "database",
                "the v2 API writes to `org` and `bucket`; remove `database`, or set `api: v1`",
            );
            Some(InfluxApi::V2 {
                org: org?,
                bucket: bucket?,
            })
        }
        Some(_) => {
            let database = influx_name(&map, "database", "database", "quotes");
            misplaced(
                "org",
                "the v1 API writes to a `database`; remove `org`, or set `api: v2`",
            );
            misplaced(
                "bucket",
                "the v1 API writes to a `database`; remove `bucket`, or set `api: v2`",
            );
            Some(InfluxApi::V1 {
                database: database?,
            })
        }
        None => {
            // Mark the version-specific keys as known so they are not reported as unknown on top.
            for key in ["org", "bucket", "database"] {
                let _ = map.get(key);
            }
            None
        }
    };
    map.finish();
    Some(InfluxDb {
        url: url?,
        api: api?,
    })
}

/// A required InfluxDB name (`org`, `bucket`, `database`). The transform Lambda treats a blank
/// variable as unset and would refuse to start, so a blank name is refused here.
fn influx_name(map: &MapReader<'_>, key: &str, what: &str, example: &str) -> Option<String> {
    map.required_value(key).and_then(|v| {
        let text = v.string()?;
        if lambda_contract::vars::is_unset(&text) {
            v.error(
                format!("`influxdb.{key}` is blank"),
                format!("write the InfluxDB {what} the transform Lambda writes to, such as `{key}: {example}`"),
            );
            return None;
        }
        Some(text)
    })
}

fn alerts(v: &Value<'_>, local: bool) -> Option<Alerts> {
    let map = v.map()?;
    let threshold_pct = match map.optional_value("threshold_pct") {
        None => Some(1.0),
        Some(v) => positive(
            &v,
            "the price move in percent that triggers an alert, such as `1.0`",
        ),
    };
    let emails = map.required_value("emails").and_then(|list| {
        let items = list.items()?;
        if items.is_empty() && !local {
            list.error(
                "`alerts.emails` is empty",
                "list at least one address to receive alerts, such as `[oncall@example.com]`",
            );
            return None;
        }
        let all: Vec<Option<String>> = items
            .iter()
            .map(|item| {
                let text = item.string()?;
                if let Some(why) = checks::email_problem(&text) {
                    item.error(
                        format!("`{text}` is not a valid e-mail address: {why}"),
                        "write an address such as `oncall@example.com`",
                    );
                    return None;
                }
                Some(text)
            })
            .collect();
        all.into_iter().collect()
    });
    let market_hours = match map.optional_value("market_hours") {
        None => Some(MarketHours::default()),
        Some(v) => v.string().and_then(|text| {
            MarketHours::parse(&text)
                .map_err(|why| {
                    v.error(
                        format!("`alerts.market_hours`: {why}"),
                        "write days and a time range in UTC, such as `Mon-Fri 14:30-20:00`, or `always`",
                    );
                })
                .ok()
        }),
    };
    map.finish();
    Some(Alerts {
        threshold_pct: threshold_pct?,
        emails: emails?,
        market_hours: market_hours?,
    })
}

fn default_catalog() -> Catalog {
    Catalog {
        crawler_schedule: "cron(15 3 * * ? *)".to_owned(),
    }
}

fn catalog(v: &Value<'_>) -> Option<Catalog> {
    let map = v.map()?;
    let schedule = match map.optional_value("crawler_schedule") {
        None => Some(default_catalog().crawler_schedule),
        Some(v) => v.string().filter(|s| {
            let ok = checks::is_cron(s);
            if !ok {
                v.error(
                    format!("`{s}` is not a CloudWatch cron expression"),
                    "write `cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)`, such as `cron(15 3 * * ? *)`",
                );
            }
            ok
        }),
    };
    map.finish();
    Some(Catalog {
        crawler_schedule: schedule?,
    })
}

fn default_athena() -> Athena {
    Athena {
        bytes_scanned_limit_gb: 10,
    }
}

fn athena(v: &Value<'_>) -> Option<Athena> {
    let map = v.map()?;
    // Athena's smallest cutoff is 10 MB; 10 TB is far beyond any query of this data set.
    let limit = int(&map, "bytes_scanned_limit_gb", 10, 1..=10_000);
    map.finish();
    Some(Athena {
        bytes_scanned_limit_gb: limit?,
    })
}

fn default_network() -> Network {
    Network {
        vpc_cidr: Ipv4Net::new(std::net::Ipv4Addr::new(10, 40, 0, 0), 16).unwrap_or_default(),
        vpn_client_cidr: Ipv4Net::new(std::net::Ipv4Addr::new(10, 100, 0, 0), 22)
            .unwrap_or_default(),
        admin_cidrs: Vec::new(),
        vpn: BTreeMap::new(),
        vpn_allowed_client_cidrs: Vec::new(),
    }
}

/// A CIDR value; `None` (reported) when it does not parse or is not a network address.
fn cidr(v: &Value<'_>) -> Option<Ipv4Net> {
    let text = v.str()?;
    checks::parse_cidr(text)
        .map_err(|(message, help)| v.error(message, help))
        .ok()
}

fn network(v: &Value<'_>) -> Option<Network> {
    let map = v.map()?;
    let defaults = default_network();
    let vpc = match map.optional_value("vpc_cidr") {
        None => Some((defaults.vpc_cidr, None)),
        Some(v) => cidr(&v).and_then(|net| {
            if (16..=24).contains(&net.prefix_len()) {
                return Some((net, Some(v.span())));
            }
            v.error(
                format!("VPC CIDR `{net}` must be /16 to /24, found /{}", net.prefix_len()),
                "use a /16 to /24 network (the stacks carve /26 subnets out of it), such as `10.40.0.0/16`",
            );
            None
        }),
    };
    let vpn = match map.optional_value("vpn_client_cidr") {
        None => Some((defaults.vpn_client_cidr, None)),
        Some(v) => cidr(&v).and_then(|net| {
            if (12..=22).contains(&net.prefix_len()) {
                return Some((net, Some(v.span())));
            }
            v.error(
                format!(
                    "VPN client CIDR `{net}` is /{}: Client VPN needs /12 to /22",
                    net.prefix_len()
                ),
                format!(
                    "use a /22 or larger range, such as `{}`",
                    Ipv4Net::new(net.network(), 22)
                        .map(|n| n.trunc())
                        .unwrap_or(defaults.vpn_client_cidr)
                ),
            );
            None
        }),
    };
    if let (Some((vpc, vpc_at)), Some((vpn, vpn_at))) = (vpc, vpn)
        && (vpc.contains(&vpn.network()) || vpn.contains(&vpc.network()))
    {
        let at = vpn_at.or(vpc_at).unwrap_or(v.span());
        let vpc_where = vpc_at.map_or("the default".to_owned(), |s| {
            format!("line {}", s.start.line)
        });
        v.decoder().error(
            at,
            format!("VPN client CIDR `{vpn}` overlaps the VPC CIDR `{vpc}` ({vpc_where})"),
            "choose a VPN client range outside the VPC, such as `10.100.0.0/22` next to a `10.40.0.0/16` VPC",
        );
    }
    let admin_cidrs = match map.optional_value("admin_cidrs") {
        None => Some(Vec::new()),
        Some(v) => v.items().and_then(|items| {
            let all: Vec<Option<Ipv4Net>> = items.iter().map(cidr).collect();
            all.into_iter().collect()
        }),
    };
    let vpn_certs = match map.optional_value("vpn") {
        None => Some((BTreeMap::new(), Vec::new())),
        Some(v) => vpn_certificates(&v),
    };
    map.finish();
    let (vpn_certs, allowed) = vpn_certs?;
    Some(Network {
        vpc_cidr: vpc?.0,
        vpn_client_cidr: vpn?.0,
        admin_cidrs: admin_cidrs?,
        vpn: vpn_certs,
        vpn_allowed_client_cidrs: allowed,
    })
}

/// The key of the allow-list of VPN client source networks, under `network.vpn` (the environment's
/// list) and under a region's entry there (that region's own list).
const ALLOWED_CLIENT_CIDRS: &str = "allowed_client_cidrs";

/// A non-empty list of source networks, each checked by the vpn-connect Lambda's own parser.
fn allowed_client_cidrs(v: &Value<'_>) -> Option<Vec<ipnet::IpNet>> {
    let items = v.items()?;
    if items.is_empty() {
        v.error(
            format!("`{}` is empty: no VPN client could connect", v.path()),
            "list the public networks operators connect from, such as `[203.0.113.0/24]`, or `[0.0.0.0/0, ::/0]` to admit any address",
        );
        return None;
    }
    if items.len() > lambda_contract::vpn_connect::MAX_CLIENT_CIDRS {
        v.error(
            format!(
                "`{}` lists {} networks; at most {} fit the handler's environment",
                v.path(),
                items.len(),
                lambda_contract::vpn_connect::MAX_CLIENT_CIDRS
            ),
            "merge neighbouring networks into wider ones",
        );
        return None;
    }
    let parsed: Vec<Option<ipnet::IpNet>> = items
        .iter()
        .map(|item| {
            let text = item.str()?;
            lambda_contract::vpn_connect::parse_client_cidr(text)
                .map_err(|why| {
                    item.error(
                        format!("`{}` is not an allowed client network", item.path()),
                        why,
                    )
                })
                .ok()
        })
        .collect();
    parsed.into_iter().collect()
}

/// `network.vpn`: one entry per region, and the environment's `allowed_client_cidrs`.
type VpnSection = (BTreeMap<Region, VpnCertificates>, Vec<ipnet::IpNet>);

fn vpn_certificates(v: &Value<'_>) -> Option<VpnSection> {
    let mut out = BTreeMap::new();
    let mut allowed = Vec::new();
    let mut ok = true;
    for (k, val) in v.entries()? {
        if k.str() == Some(ALLOWED_CLIENT_CIDRS) {
            match allowed_client_cidrs(&val) {
                Some(list) => allowed = list,
                None => ok = false,
            }
            continue;
        }
        let region = k.str().and_then(|name| {
            if REGIONS.contains(&name) {
                Some(Region(name.to_owned()))
            } else {
                k.error(
                    format!("unknown AWS region `{name}` in `network.vpn`"),
                    region_help(name),
                );
                None
            }
        });
        let certs = val.map().and_then(|map| {
            let arn = |key: &str| {
                map.required_value(key).and_then(|v| {
                    let text = v.string()?;
                    let region = region.as_ref()?;
                    match checks::certificate_arn_problem(&text, region.as_str()) {
                        None => Some(text),
                        Some(why) => {
                            v.error(
                                format!("`{}` is not an ACM certificate ARN of `{region}`: {why}", v.path()),
                                format!("ACM certificates are regional: import or request the certificate in `{region}` and use its ARN, `arn:aws:acm:{region}:<account>:certificate/<id>`"),
                            );
                            None
                        }
                    }
                })
            };
            let server = arn("server_certificate_arn");
            let client = arn("client_root_certificate_arn");
            let allowed = match map.optional_value(ALLOWED_CLIENT_CIDRS) {
                None => Some(None),
                Some(v) => allowed_client_cidrs(&v).map(Some),
            };
            map.finish();
            Some(VpnCertificates {
                server_certificate_arn: server?,
                client_root_certificate_arn: client?,
                allowed_client_cidrs: allowed?,
            })
        });
        match (region, certs) {
            (Some(r), Some(c)) => {
                out.insert(r, c);
            }
            _ => ok = false,
        }
    }
    ok.then_some((out, allowed))
}

/// Outside local environments every region needs its VPN certificates; in any environment an entry for a
/// region that is not deployed to is a mistake (probably a region removed from `regions` but not here).
fn check_vpn_regions(dec: &Decoder<'_>, network: &Network, regions: &[Region], local: bool) {
    if !local {
        for (i, region) in regions.iter().enumerate() {
            if network.vpn.contains_key(region) {
                continue;
            }
            let at = dec
                .key_span("network.vpn")
                .or_else(|| dec.key_span("network"))
                .or_else(|| dec.value_span(&format!("regions[{i}]")));
            if let Some(at) = at {
                dec.error(
                    at,
                    format!("no VPN certificates for region `{region}`"),
                    format!("add `{region}: {{server_certificate_arn: ..., client_root_certificate_arn: ...}}` under `network.vpn`; ACM certificates are regional"),
                );
            }
        }
    }
    // Every VPN admits only listed source addresses (its client-connect handler): no list, no VPN.
    for region in network.vpn.keys() {
        if !network.allowed_client_cidrs(region).is_empty() || !regions.contains(region) {
            continue;
        }
        if let Some(at) = dec.key_span(&format!("network.vpn.{region}")) {
            dec.error(
                at,
                format!("no allowed client networks for the VPN in `{region}`"),
                format!("add `{ALLOWED_CLIENT_CIDRS}: [203.0.113.0/24]` (the public networks operators connect from) under `network.vpn` for every region, or under `network.vpn.{region}` for this one; `[0.0.0.0/0, ::/0]` admits any address"),
            );
        }
    }
    for region in network.vpn.keys() {
        if regions.contains(region) {
            continue;
        }
        if let Some(at) = dec.key_span(&format!("network.vpn.{region}")) {
            dec.error(
                at,
                format!("VPN certificates for `{region}`, which is not in `regions`"),
                format!("remove the `{region}` entry, or add `{region}` to `regions`"),
            );
        }
    }
}

/// Client VPN takes its certificates from ACM in the endpoint's own account (ACM certificates cannot
/// be shared): each region's two ARNs must name the account the region is deployed to, else the
/// endpoint fails to create in the middle of a rollout.
fn check_vpn_accounts(
    dec: &Decoder<'_>,
    network: &Network,
    account: &AccountId,
    deploy: Option<&Deploy>,
) {
    for (region, certificates) in &network.vpn {
        let moved = deploy.and_then(|d| d.accounts.get(region));
        let expected = moved.unwrap_or(account).as_str();
        for (key, arn) in [
            (
                "server_certificate_arn",
                &certificates.server_certificate_arn,
            ),
            (
                "client_root_certificate_arn",
                &certificates.client_root_certificate_arn,
            ),
        ] {
            // The shape was checked when the ARN was read: the account is its fifth field.
            let Some(arn_account) = arn.split(':').nth(4) else {
                continue;
            };
            if arn_account == expected {
                continue;
            }
            let path = format!("network.vpn.{region}.{key}");
            let Some(at) = dec.value_span(&path) else {
                continue;
            };
            let or_fix = match moved {
                Some(_) => format!("`deploy.accounts.{region}`"),
                None => "`account`".to_owned(),
            };
            dec.error(
                at,
                format!(
                    "`{path}` is a certificate of account {arn_account}, but `{region}` is deployed to account {expected}"
                ),
                format!(
                    "a Client VPN endpoint only uses ACM certificates of its own account: import the certificate into ACM in account {expected} (region `{region}`) and use that ARN, or correct {or_fix}"
                ),
            );
        }
    }
}

fn logs(v: &Value<'_>) -> Option<Logs> {
    let map = v.map()?;
    let days = match map.optional_value("retention_days") {
        None => Some(30),
        Some(v) => v.u32_in(0..=u32::MAX).and_then(|n| {
            if LOG_RETENTION_DAYS.contains(&n) {
                return Some(n);
            }
            let nearest = LOG_RETENTION_DAYS
                .iter()
                .min_by_key(|d| d.abs_diff(n))
                .copied()
                .unwrap_or(30);
            v.error(
                format!("CloudWatch Logs does not accept a retention of {n} days"),
                format!("use `{nearest}`, the nearest allowed value (allowed: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)"),
            );
            None
        }),
    };
    map.finish();
    Some(Logs {
        retention_days: days?,
    })
}

fn grafana(v: &Value<'_>) -> Option<Grafana> {
    let map = v.map()?;
    let defaults = Grafana::default();
    let url = match map.optional_value("url") {
        None => Some(None),
        Some(v) => v.string().and_then(|text| {
            if http_host(&text).is_none() || text.contains('?') || text.contains('#') {
                v.error(
                    format!("Grafana URL `{text}` is not an http(s) base URL"),
                    "write Grafana's base URL, such as `https://grafana.example.com`, without `?...` or `#...`",
                );
                return None;
            }
            Some(Some(text.trim_end_matches('/').to_owned()))
        }),
    };
    let quotes_query = match map.optional_value("quotes_query") {
        None => Some(defaults.quotes_query),
        Some(v) => match v.str()? {
            "influxql" => Some(QuotesQuery::InfluxQl),
            "victoriametrics" => Some(QuotesQuery::VictoriaMetrics),
            other => {
                v.error(
                    format!("unknown quotes query API `{other}`"),
                    "use `influxql` (InfluxDB 1.x or 2.x) or `victoriametrics` (PromQL on the VictoriaMetrics at `influxdb.url`)",
                );
                None
            }
        },
    };
    let influx_user = match map.optional_value("influx_user") {
        None => Some(None),
        Some(v) => v.string().and_then(|text| {
            if lambda_contract::vars::is_unset(&text) {
                v.error(
                    "`grafana.influx_user` is blank",
                    "write the InfluxDB user Grafana reads as, such as `influx_user: grafana`, or remove the key",
                );
                return None;
            }
            Some(Some(text))
        }),
    };
    let stale_after_intervals = match map.optional_value("stale_after_intervals") {
        None => Some(defaults.stale_after_intervals),
        Some(v) => v.u32_in(2..=1000),
    };
    let workspace = match map.optional_value("workspace") {
        None => Some(None),
        Some(v) => grafana_workspace(&v).map(Some),
    };
    map.finish();
    Some(Grafana {
        url: url?,
        quotes_query: quotes_query?,
        influx_user: influx_user?,
        stale_after_intervals: stale_after_intervals?,
        workspace: workspace?,
    })
}

fn grafana_workspace(v: &Value<'_>) -> Option<GrafanaWorkspace> {
    let map = v.map()?;
    let authentication = map.required_value("authentication").and_then(|v| {
        let items = v.items()?;
        if items.is_empty() {
            v.error(
                "`grafana.workspace.authentication` is empty",
                "list how users sign in: `[aws_sso]` (IAM Identity Center) or `[saml]`",
            );
            return None;
        }
        check_unique(
            items
                .iter()
                .filter_map(|i| Some((i.str()?, i.span(), i.clone()))),
            "authentication method",
        );
        let methods: Option<Vec<GrafanaAuthentication>> = items
            .iter()
            .map(|item| match item.str()? {
                "aws_sso" => Some(GrafanaAuthentication::AwsSso),
                "saml" => Some(GrafanaAuthentication::Saml),
                other => {
                    item.error(
                        format!("unknown Grafana authentication `{other}`"),
                        "use `aws_sso` (IAM Identity Center, enabled in the account's organisation) or `saml` (configured on the workspace after it is created)",
                    );
                    None
                }
            })
            .collect();
        methods
    });
    map.finish();
    Some(GrafanaWorkspace {
        authentication: authentication?,
    })
}

/// A Managed Grafana workspace goes in the canary region, which must be one where the resource type
/// exists.
fn check_grafana_region(dec: &Decoder<'_>, grafana: &Grafana, regions: &[Region]) {
    let (Some(_), Some(canary)) = (&grafana.workspace, regions.first()) else {
        return;
    };
    if checks::GRAFANA_WORKSPACE_REGIONS.contains(&canary.0.as_str()) {
        return;
    }
    if let Some(at) = dec.key_span("grafana.workspace") {
        dec.error(
            at,
            format!("Amazon Managed Grafana is not offered in `{canary}`, the canary region"),
            format!(
                "put a region where it is offered first in `regions` ({}), or remove `grafana.workspace` and run your own Grafana",
                checks::GRAFANA_WORKSPACE_REGIONS.join(", ")
            ),
        );
    }
}

fn default_rollout() -> Rollout {
    Rollout {
        monitoring_minutes: 10,
        bake_minutes: 15,
    }
}

fn rollout(v: &Value<'_>) -> Option<Rollout> {
    let map = v.map()?;
    // CloudFormation accepts a monitoring time of 0 to 180 minutes; a bake longer than a day is
    // more likely a unit mistake (seconds) than an intent.
    let monitoring_minutes = int(&map, "monitoring_minutes", 10, 0..=180);
    let bake_minutes = int(&map, "bake_minutes", 15, 0..=1440);
    map.finish();
    Some(Rollout {
        monitoring_minutes: monitoring_minutes?,
        bake_minutes: bake_minutes?,
    })
}

fn disaster_recovery(v: &Value<'_>) -> Option<DisasterRecovery> {
    let map = v.map()?;
    let region = map.required_value("region").and_then(|v| region(&v));
    let rpo = map.required_value("rpo_minutes").and_then(|v| {
        let minutes = v.u32_in(0..=MAX_OBJECTIVE_MINUTES)?;
        if minutes < MIN_RPO_MINUTES {
            v.error(
                format!("a recovery point objective of {minutes} minutes cannot be met"),
                format!("S3 Replication Time Control replicates 99.99% of objects within {MIN_RPO_MINUTES} minutes, so the data of the last {MIN_RPO_MINUTES} minutes may be lost: set `rpo_minutes: {MIN_RPO_MINUTES}` or more (see docs/dr.md)"),
            );
            return None;
        }
        Some(minutes)
    });
    let rto = map.required_value("rto_minutes").and_then(|v| {
        let minutes = v.u32_in(0..=MAX_OBJECTIVE_MINUTES)?;
        if minutes < MIN_RTO_MINUTES {
            v.error(
                format!("a recovery time objective of {minutes} minutes cannot be met"),
                format!("the restore runbook's steps take about {MIN_RTO_MINUTES} minutes (deploying the pipeline in the DR region, restoring InfluxDB, verifying): set `rto_minutes: {MIN_RTO_MINUTES}` or more (see docs/dr.md)"),
            );
            return None;
        }
        Some(minutes)
    });
    map.finish();
    Some(DisasterRecovery {
        region: region?,
        rpo_minutes: rpo?,
        rto_minutes: rto?,
    })
}

/// The DR region holds copies of the regions' data: a region replicating to itself would survive
/// nothing (and its replica buckets would clash with the pipeline's own names).
fn check_dr_region(dec: &Decoder<'_>, dr: &DisasterRecovery, regions: &[Region]) {
    if !regions.contains(&dr.region) {
        return;
    }
    // Suggest a region on the same continent as the clashing one (`eu-…` for `eu-west-1`).
    let continent = dr.region.as_str().split('-').next().unwrap_or_default();
    let outside = REGIONS
        .iter()
        .filter(|r| !regions.iter().any(|region| region.as_str() == **r))
        .find(|r| r.starts_with(&format!("{continent}-")))
        .copied()
        .unwrap_or("a region not in `regions`");
    if let Some(at) = dec.value_span("dr.region") {
        dec.error(
            at,
            format!("the DR region `{}` is one of `regions`", dr.region),
            format!("choose a region the pipeline does not run in, such as `{outside}`: a region's disaster must not take its replicas with it"),
        );
    }
}
