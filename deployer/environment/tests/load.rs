//! The shipped environment files load, and every class of bad input is reported with file, line, column,
//! the problem and the fix.

use std::path::Path;

use environment::{
    Diagnostic, LoadError, RetryAttempts, ScraperImage, StreamCapacity, load, parse,
};

const FILE: &str = "environments/test.yaml";

/// A valid environment; tests change one line at a time. Line numbers are noted for the assertions.
const BASE: &str = r#"account: "123456789012"
regions: [eu-west-1, eu-central-1]
symbols: [AAPL, MSFT]
scraper:
  sources:
    - name: quote-page
      url: https://quotes.example.com/quote/{symbol}
      currency: USD
      fields: {price: p, change_pct: c, market_time: t}
influxdb: {url: "https://influx.example.com:8086", api: v2, org: markets, bucket: quotes}
alerts: {threshold_pct: 1.0, emails: [oncall@example.com]}
network:
  vpc_cidr: 10.40.0.0/16
  vpn_client_cidr: 10.100.0.0/22
  vpn:
    eu-west-1: {server_certificate_arn: "arn:aws:acm:eu-west-1:123456789012:certificate/a-1", client_root_certificate_arn: "arn:aws:acm:eu-west-1:123456789012:certificate/a-2", allowed_client_cidrs: [203.0.113.0/24]}
    eu-central-1: {server_certificate_arn: "arn:aws:acm:eu-central-1:123456789012:certificate/b-1", client_root_certificate_arn: "arn:aws:acm:eu-central-1:123456789012:certificate/b-2", allowed_client_cidrs: ["2001:db8::/32"]}
"#;

/// `BASE` with `from` replaced by `to` (which must occur exactly once).
fn edit(from: &str, to: &str) -> String {
    assert_eq!(
        BASE.matches(from).count(),
        1,
        "{from:?} must occur once in BASE"
    );
    BASE.replacen(from, to, 1)
}

fn errors(text: &str) -> LoadError {
    match parse(FILE, text) {
        Ok(env) => panic!("expected problems, got {env:?}"),
        Err(err) => err,
    }
}

/// Asserts that `text` has exactly one problem, at `line:column`, whose message and help contain the given
/// parts, and that the rendering names the file and position and shows the fix.
fn assert_problem(text: &str, line: usize, column: usize, message: &str, help: &str) -> Diagnostic {
    let err = errors(text);
    let rendered = err.to_string();
    let [d] = err.diagnostics() else {
        panic!("expected one problem, got:\n{rendered}");
    };
    assert_eq!((d.line, d.column), (line, column), "{rendered}");
    assert!(
        d.message.contains(message),
        "message {:?} lacks {message:?}",
        d.message
    );
    let got_help = d.help.as_deref().unwrap_or_default();
    assert!(got_help.contains(help), "help {got_help:?} lacks {help:?}");
    assert!(
        rendered.contains(&format!("--> {FILE}:{line}:{column}\n")),
        "{rendered}"
    );
    assert!(
        rendered.contains(&format!("= help: {got_help}")),
        "{rendered}"
    );
    assert!(
        rendered.ends_with(&format!("error: {FILE} has 1 problem")),
        "{rendered}"
    );
    d.clone()
}

#[test]
fn shipped_files_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
    let local = load(&root.join("local.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(local.is_local());
    assert_eq!(local.canary_region().as_str(), "us-east-1");
    let dev = load(&root.join("dev.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dev.name.as_str(), "dev");
    assert_eq!(dev.network.vpn.len(), 1);
    let prod = load(&root.join("prod.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let regions: Vec<&str> = prod.regions.iter().map(|r| r.as_str()).collect();
    assert_eq!(regions, ["eu-west-1", "eu-central-1", "us-east-1"]);
    assert!(prod.symbols.len() >= 5);
    assert_eq!(prod.alerts.emails.len(), 2);
    assert_eq!(
        prod.stream.capacity,
        StreamCapacity::Provisioned { shards: 2 }
    );
    assert_eq!(prod.network.vpn.len(), 3);
}

#[test]
fn base_is_valid_and_defaults_apply() {
    let env = parse(FILE, BASE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(env.name.as_str(), "test");
    assert_eq!(env.account.as_str(), "123456789012");
    assert_eq!(env.scraper.interval_seconds, 15);
    assert_eq!(env.stream.capacity, StreamCapacity::OnDemand);
    assert_eq!(
        (env.firehose.buffering_seconds, env.firehose.buffering_mb),
        (60, 64)
    );
    assert_eq!(env.logs.retention_days, 30);
    assert_eq!(env.catalog.crawler_schedule, "cron(15 3 * * ? *)");
    assert_eq!(env.athena.bytes_scanned_limit_gb, 10);
    assert_eq!(
        (env.rollout.monitoring_minutes, env.rollout.bake_minutes),
        (10, 15)
    );
    // A failing batch is retried until its records reach the maximum age, not a few times.
    assert_eq!(
        env.transform.maximum_retry_attempts,
        RetryAttempts::UntilRecordExpires
    );
    assert_eq!(env.transform.maximum_record_age_seconds, 3600);
}

#[test]
fn retry_attempts_are_minus_one_or_a_count_up_to_10000() {
    for (written, expected) in [
        ("-1", RetryAttempts::UntilRecordExpires),
        ("0", RetryAttempts::AtMost(0)),
        ("10000", RetryAttempts::AtMost(10_000)),
    ] {
        let text = format!("{BASE}transform:\n  maximum_retry_attempts: {written}\n");
        let env = parse(FILE, &text).unwrap_or_else(|e| panic!("{written}: {e}"));
        assert_eq!(env.transform.maximum_retry_attempts, expected, "{written}");
    }
    assert_eq!(RetryAttempts::UntilRecordExpires.as_cloudformation(), -1);
    assert_eq!(RetryAttempts::AtMost(7).as_cloudformation(), 7);
    for (written, found) in [
        ("-2", "the number -2"),
        ("10001", "the number 10001"),
        ("\"5\"", "the string \"5\""),
        ("many", "the string \"many\""),
    ] {
        assert_problem(
            &format!("{BASE}transform:\n  maximum_retry_attempts: {written}\n"),
            19,
            27,
            &format!(
                "`transform.maximum_retry_attempts` must be -1 (retry until the records are `maximum_record_age_seconds` old) or from 0 to 10000, found {found}"
            ),
            "set -1 (the default), or a number of retries from 0 to 10000",
        );
    }
}

#[test]
fn the_deployers_tag_prefix_is_reserved() {
    assert_problem(
        &format!("{BASE}tags:\n  mst:template-sha256: abc\n"),
        19,
        3,
        "tag key `mst:template-sha256` uses the deployer's reserved `mst:` prefix",
        "choose another key",
    );
}

#[test]
fn rollout_times_are_read() {
    let text = format!("{BASE}rollout:\n  monitoring_minutes: 30\n  bake_minutes: 0\n");
    let env = parse(FILE, &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (env.rollout.monitoring_minutes, env.rollout.bake_minutes),
        (30, 0)
    );
}

#[test]
fn rollout_monitoring_beyond_cloudformations_limit() {
    assert_problem(
        &format!("{BASE}rollout: {{monitoring_minutes: 181}}\n"),
        18,
        31,
        "`rollout.monitoring_minutes` must be from 0 to 180, found 181",
        "set a value from 0 to 180",
    );
}

#[test]
fn rollout_bake_must_be_whole_minutes() {
    assert_problem(
        &format!("{BASE}rollout:\n  bake_minutes: 1.5\n"),
        19,
        17,
        "expected an integer for `rollout.bake_minutes`, found",
        "write a whole number from 0 to 1440",
    );
}

#[test]
fn rollout_misspelt_key_suggests_the_right_one() {
    assert_problem(
        &format!("{BASE}rollout:\n  bake_minute: 5\n"),
        19,
        3,
        "unknown key `bake_minute` in `rollout`",
        "did you mean `bake_minutes`?",
    );
}

#[test]
fn athena_limit_is_read() {
    let text = format!("{BASE}athena:\n  bytes_scanned_limit_gb: 250\n");
    let env = parse(FILE, &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(env.athena.bytes_scanned_limit_gb, 250);
}

#[test]
fn athena_limit_out_of_range() {
    assert_problem(
        &format!("{BASE}athena: {{bytes_scanned_limit_gb: 0}}\n"),
        18,
        34,
        "`athena.bytes_scanned_limit_gb` must be from 1 to 10000, found 0",
        "set a value from 1 to 10000",
    );
}

#[test]
fn athena_limit_must_be_an_integer() {
    assert_problem(
        &format!("{BASE}athena:\n  bytes_scanned_limit_gb: 10GB\n"),
        19,
        27,
        "expected an integer for `athena.bytes_scanned_limit_gb`, found the string \"10GB\"",
        "write a whole number from 1 to 10000",
    );
}

#[test]
fn athena_misspelt_key_suggests_the_right_one() {
    assert_problem(
        &format!("{BASE}athena:\n  bytes_scanned_limit: 10\n"),
        19,
        3,
        "unknown key `bytes_scanned_limit` in `athena`",
        "did you mean `bytes_scanned_limit_gb`?",
    );
}

#[test]
fn misspelt_key_suggests_the_right_one() {
    let text = format!("{BASE}firehose:\n  bufering_seconds: 60\n");
    let d = assert_problem(
        &text,
        19,
        3,
        "unknown key `bufering_seconds` in `firehose`",
        "did you mean `buffering_seconds`?",
    );
    let rendered = errors(&text).to_string();
    assert!(rendered.starts_with(
        "error: unknown key `bufering_seconds` in `firehose`\n  --> environments/test.yaml:19:3\n   |\n19 |   bufering_seconds: 60\n   |   ^^^^^^^^^^^^^^^^\n"
    ), "{rendered}");
    assert_eq!(d.span.end.column, 19);
}

#[test]
fn unknown_top_level_key_lists_valid_keys() {
    let text = format!("{BASE}colour: red\n");
    assert_problem(
        &text,
        18,
        1,
        "unknown top-level key `colour`",
        "valid keys at the top level are `emulator`, `account`",
    );
}

#[test]
fn type_error_names_expected_and_found() {
    let text = format!("{BASE}transform:\n  batch_size: abc\n");
    assert_problem(
        &text,
        19,
        15,
        "expected an integer for `transform.batch_size`, found the string \"abc\"",
        "write a whole number from 1 to 10000",
    );
}

#[test]
fn bad_region_suggests_the_closest() {
    let text = edit(
        "regions: [eu-west-1, eu-central-1]",
        "regions: [eu-west1, eu-central-1]",
    );
    // The VPN entry for eu-west-1 now names a region that is not deployed to: a second, separate problem.
    let err = errors(&text);
    let d = &err.diagnostics()[0];
    assert_eq!((d.line, d.column), (2, 11));
    assert_eq!(d.message, "unknown AWS region `eu-west1`");
    assert_eq!(d.help.as_deref(), Some("did you mean `eu-west-1`?"));
}

#[test]
fn account_id_must_be_twelve_digits() {
    assert_problem(
        &edit(r#"account: "123456789012""#, r#"account: "12345""#),
        1,
        10,
        "`account` must be a 12-digit AWS account id, found `12345`",
        "aws sts get-caller-identity",
    );
    // Unquoted numbers keep their digits as written (even a leading zero)... (the VPN
    // certificates move with the account: they must be in it)
    let env = parse(
        FILE,
        &edit(r#"account: "123456789012""#, "account: 012345678901")
            .replace(":123456789012:certificate/", ":012345678901:certificate/"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(env.account.as_str(), "012345678901");
    // ...and a number that is not 12 digits gets the hint to quote it.
    assert_problem(
        &edit(r#"account: "123456789012""#, "account: 1.2e11"),
        1,
        10,
        "found `1.2e11`",
        r#"in quotes so YAML keeps it as written: `account: "123456789012"`"#,
    );
}

#[test]
fn unparsable_cidr() {
    assert_problem(
        &edit("vpc_cidr: 10.40.0.0/16", "vpc_cidr: 10.40.0/16"),
        13,
        13,
        "`10.40.0/16` is not an IPv4 CIDR",
        "such as `10.40.0.0/16`",
    );
    assert_problem(
        &edit("vpc_cidr: 10.40.0.0/16", "vpc_cidr: 10.40.1.0/16"),
        13,
        13,
        "`10.40.1.0/16` has host bits set",
        "use the network address `10.40.0.0/16`",
    );
}

#[test]
fn overlapping_cidrs() {
    assert_problem(
        &edit(
            "vpn_client_cidr: 10.100.0.0/22",
            "vpn_client_cidr: 10.40.0.0/22",
        ),
        14,
        20,
        "VPN client CIDR `10.40.0.0/22` overlaps the VPC CIDR `10.40.0.0/16` (line 13)",
        "choose a VPN client range outside the VPC",
    );
}

#[test]
fn vpn_cidr_too_small() {
    assert_problem(
        &edit(
            "vpn_client_cidr: 10.100.0.0/22",
            "vpn_client_cidr: 10.100.0.0/24",
        ),
        14,
        20,
        "VPN client CIDR `10.100.0.0/24` is /24: Client VPN needs /12 to /22",
        "such as `10.100.0.0/22`",
    );
}

#[test]
fn bad_email() {
    assert_problem(
        &edit("emails: [oncall@example.com]", "emails: [oncall@example]"),
        11,
        39,
        "`oncall@example` is not a valid e-mail address: the domain has no `.`",
        "such as `oncall@example.com`",
    );
}

#[test]
fn bad_symbol_shows_the_schema_error() {
    assert_problem(
        &edit("symbols: [AAPL, MSFT]", "symbols: [AAPL, msft]"),
        3,
        17,
        "invalid symbol `msft`: a symbol starts with an upper-case letter A-Z",
        "write it in upper case: `MSFT`",
    );
}

/// The canary symbol of `deployer verify` is reserved: an environment listing it is refused, so the
/// scraper never produces it and verify's cleanup never removes a user's data.
#[test]
fn the_canary_symbol_is_refused_as_a_user_symbol() {
    assert_problem(
        &edit("symbols: [AAPL, MSFT]", "symbols: [AAPL, MST-CANARY]"),
        3,
        17,
        "`MST-CANARY` is reserved for the canary of `deployer verify`",
        "remove it from `symbols`",
    );
}

#[test]
fn threshold_must_be_positive() {
    assert_problem(
        &edit("threshold_pct: 1.0", "threshold_pct: 0"),
        11,
        25,
        "`alerts.threshold_pct` must be a number greater than 0, found 0",
        "such as `1.0`",
    );
    assert_problem(
        &edit("threshold_pct: 1.0", "threshold_pct: -.inf"),
        11,
        25,
        "greater than 0",
        "such as `1.0`",
    );
}

#[test]
fn firehose_buffering_limits_depend_on_dynamic_partitioning() {
    let text = format!("{BASE}firehose: {{buffering_seconds: 30}}\n");
    assert_problem(
        &text,
        18,
        31,
        "`firehose.buffering_seconds` must be from 60 to 900, found 30",
        "set a value from 60 to 900",
    );
    let text = format!("{BASE}firehose: {{buffering_mb: 32}}\n");
    assert_problem(
        &text,
        18,
        26,
        "`firehose.buffering_mb` must be from 64 to 128 with dynamic partitioning, found 32",
        "`dynamic_partitioning: false` to allow 1 to 128",
    );
    // Without dynamic partitioning 32 MiB is fine, but 129 is not.
    let text = format!("{BASE}firehose: {{buffering_mb: 32, dynamic_partitioning: false}}\n");
    assert_eq!(
        parse(FILE, &text)
            .unwrap_or_else(|e| panic!("{e}"))
            .firehose
            .buffering_mb,
        32
    );
    let text = format!("{BASE}firehose: {{buffering_mb: 129, dynamic_partitioning: false}}\n");
    assert_problem(
        &text,
        18,
        26,
        "must be from 1 to 128 without dynamic partitioning, found 129",
        "set 1 to 128 MiB",
    );
}

#[test]
fn retention_out_of_range() {
    let text = format!("{BASE}stream: {{retention_hours: 12}}\n");
    assert_problem(
        &text,
        18,
        27,
        "`stream.retention_hours` must be from 24 to 8760, found 12",
        "set a value from 24 to 8760",
    );
    let text = format!("{BASE}logs: {{retention_days: 31}}\n");
    assert_problem(
        &text,
        18,
        24,
        "CloudWatch Logs does not accept a retention of 31 days",
        "use `30`, the nearest allowed value",
    );
}

#[test]
fn duplicate_region_names_the_first() {
    assert_problem(
        &edit(
            "regions: [eu-west-1, eu-central-1]",
            "regions: [eu-west-1, eu-central-1, eu-west-1]",
        ),
        2,
        36,
        "region `eu-west-1` is listed twice",
        "already listed at line 2",
    );
}

#[test]
fn duplicate_symbol_names_the_first() {
    assert_problem(
        &edit(
            "symbols: [AAPL, MSFT]",
            "symbols:\n  - AAPL\n  - MSFT\n  - AAPL",
        ),
        6,
        5,
        "symbol `AAPL` is listed twice",
        "already listed at line 4",
    );
}

#[test]
fn duplicate_source_names_the_first() {
    let text = edit(
        "      fields: {price: p, change_pct: c, market_time: t}\n",
        "      fields: {price: p, change_pct: c, market_time: t}\n    - name: quote-page\n      url: https://other.example.com/{symbol}\n      currency: EUR\n      fields: {price: p, change_pct: c, market_time: t}\n",
    );
    assert_problem(
        &text,
        10,
        13,
        "source name `quote-page` is listed twice",
        "already listed at line 6",
    );
}

#[test]
fn sources_must_not_be_empty() {
    let start = BASE.find("    - name: quote-page").unwrap_or_default();
    let end = BASE.find("influxdb:").unwrap_or_default();
    let text = format!("{} []\n{}", &BASE[..start - 1], &BASE[end..]);
    assert_problem(
        &text,
        5,
        12,
        "`scraper.sources` is empty",
        "add at least one quote source",
    );
}

#[test]
fn source_url_must_be_https_outside_emulator_environments() {
    let plain = "      url: http://quotes.example.com/quote/{symbol}";
    let text = edit(
        "      url: https://quotes.example.com/quote/{symbol}",
        plain,
    );
    assert_problem(
        &text,
        7,
        12,
        "source URL `http://quotes.example.com/quote/{symbol}` is not an https URL",
        "`http://` only against a local emulator or test server",
    );
    // An emulator environment may scrape a plain-HTTP test server, and the source reaches the model as is.
    let local = format!("emulator: {{endpoint: \"http://127.0.0.1:5000\"}}\n{text}");
    let env = parse(FILE, &local).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        env.scraper.sources[0].url,
        "http://quotes.example.com/quote/{symbol}"
    );
    // Any other scheme is refused there too.
    let ftp = local.replace("http://quotes", "ftp://quotes");
    let err = errors(&ftp);
    let [d] = err.diagnostics() else {
        panic!("expected one problem, got:\n{err}");
    };
    assert_eq!((d.line, d.column), (8, 12), "{err}");
    assert!(d.message.contains("is not an https URL"), "{err}");
}

#[test]
fn vpn_certificates_required_outside_local() {
    let text = edit("    eu-central-1: {server", "    #eu-central-1: {server");
    assert_problem(
        &text,
        15,
        3,
        "no VPN certificates for region `eu-central-1`",
        "under `network.vpn`; ACM certificates are regional",
    );
    // An emulator environment needs none.
    let local = BASE.split("network:").next().unwrap_or_default().to_owned()
        + "emulator: {endpoint: http://127.0.0.1:5000}\n";
    assert!(
        parse(FILE, &local)
            .unwrap_or_else(|e| panic!("{e}"))
            .is_local()
    );
}

#[test]
fn vpn_certificate_arn_must_match_its_region() {
    let text = edit(
        "eu-central-1: {server_certificate_arn: \"arn:aws:acm:eu-central-1:",
        "eu-central-1: {server_certificate_arn: \"arn:aws:acm:eu-west-1:",
    );
    assert_problem(
        &text,
        17,
        44,
        "the certificate is in region `eu-west-1`, but it is listed under `eu-central-1`",
        "ACM certificates are regional",
    );
    let text = format!(
        "{BASE}    us-east-2: {{server_certificate_arn: \"arn:aws:acm:us-east-2:123456789012:certificate/c-1\", client_root_certificate_arn: \"arn:aws:acm:us-east-2:123456789012:certificate/c-2\"}}\n"
    );
    assert_problem(
        &text,
        18,
        5,
        "VPN certificates for `us-east-2`, which is not in `regions`",
        "remove the `us-east-2` entry, or add `us-east-2` to `regions`",
    );
}

#[test]
fn vpn_allowed_client_networks_per_region_override_the_environments() {
    let region = |name: &str| {
        parse(FILE, BASE)
            .unwrap_or_else(|e| panic!("{e}"))
            .regions
            .into_iter()
            .find(|r| r.as_str() == name)
            .unwrap()
    };
    let text = edit(", allowed_client_cidrs: [\"2001:db8::/32\"]}", "}")
        + "    allowed_client_cidrs: [198.51.100.7/32, \"2001:db8:5::/48\"]\n";
    let env = parse(FILE, &text).unwrap_or_else(|e| panic!("{e}"));
    let listed = |name: &str| -> Vec<String> {
        env.network
            .allowed_client_cidrs(&region(name))
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    // eu-west-1 has its own list; eu-central-1 takes the environment's, IPv4 and IPv6.
    assert_eq!(listed("eu-west-1"), ["203.0.113.0/24"]);
    assert_eq!(
        listed("eu-central-1"),
        ["198.51.100.7/32", "2001:db8:5::/48"]
    );
}

#[test]
fn every_vpn_needs_allowed_client_networks() {
    let text = edit(", allowed_client_cidrs: [\"2001:db8::/32\"]}", "}");
    assert_problem(
        &text,
        17,
        5,
        "no allowed client networks for the VPN in `eu-central-1`",
        "`[0.0.0.0/0, ::/0]` admits any address",
    );
    let text = edit(
        "allowed_client_cidrs: [\"2001:db8::/32\"]",
        "allowed_client_cidrs: []",
    );
    assert_problem(
        &text,
        17,
        209,
        "`network.vpn.eu-central-1.allowed_client_cidrs` is empty",
        "`[0.0.0.0/0, ::/0]` to admit any address",
    );
    let text = edit(
        "allowed_client_cidrs: [203.0.113.0/24]",
        "allowed_client_cidrs: [203.0.113.9/24]",
    );
    assert_problem(
        &text,
        16,
        201,
        "is not an allowed client network",
        "write the network `203.0.113.0/24`, or `203.0.113.9/32` for that one address",
    );
}

#[test]
fn shards_only_with_provisioned_mode() {
    let text = format!("{BASE}stream: {{mode: on-demand, shards: 2}}\n");
    assert_problem(
        &text,
        18,
        35,
        "`stream.shards` is only used with `mode: provisioned`",
        "remove `shards`",
    );
    let text = format!("{BASE}stream: {{mode: provisioned, shards: 501}}\n");
    assert_problem(
        &text,
        18,
        37,
        "`stream.shards` must be from 1 to 500, found 501",
        "set a value from 1 to 500",
    );
}

#[test]
fn influx_keys_must_match_the_api_version() {
    let text = edit(
        "api: v2, org: markets, bucket: quotes}",
        "api: v1, org: markets, database: quotes}",
    );
    assert_problem(
        &text,
        10,
        61,
        "`influxdb.org` is not used with `api: v1`",
        "the v1 API writes to a `database`; remove `org`, or set `api: v2`",
    );
    let text = edit("bucket: quotes}", "bucket: quotes, database: q}");
    assert_problem(
        &text,
        10,
        91,
        "`influxdb.database` is not used with `api: v2`",
        "remove `database`, or set `api: v1`",
    );
}

/// The transform Lambda appends its write path and query to `influxdb.url`, and refuses at every cold
/// start a URL with a query or a fragment: `deployer synth` refuses it first, with the contract's rule.
#[test]
fn influx_url_must_be_a_base_url_without_query_or_fragment() {
    for (url, what) in [
        (
            "https://influx.example.com:8086/?org=markets",
            "query (`?`)",
        ),
        ("https://influx.example.com:8086/#writes", "fragment (`#`)"),
    ] {
        let text = edit(
            "url: \"https://influx.example.com:8086\"",
            &format!("url: \"{url}\""),
        );
        let d = assert_problem(
            &text,
            10,
            17,
            &format!("InfluxDB URL `{url}` is not a base URL: it has a {what}"),
            "write only the server's base URL, such as `https://influx.example.com:8086`",
        );
        assert!(
            lambda_contract::transform::influx_url_problem(url)
                .is_some_and(|why| d.message.ends_with(why)),
            "the message gives the contract's reason: {}",
            d.message
        );
    }
}

/// A blank InfluxDB name would reach the transform Lambda as a blank variable, which it treats as unset
/// and refuses at every cold start: `deployer synth` refuses it with its position.
#[test]
fn influx_org_bucket_and_database_must_not_be_blank() {
    let text = edit("org: markets", "org: \" \"");
    assert_problem(
        &text,
        10,
        66,
        "`influxdb.org` is blank",
        "write the InfluxDB organisation the transform Lambda writes to",
    );
    let text = edit("bucket: quotes}", "bucket: \"\"}");
    assert_problem(
        &text,
        10,
        83,
        "`influxdb.bucket` is blank",
        "write the InfluxDB bucket the transform Lambda writes to",
    );
    let text = edit(
        "api: v2, org: markets, bucket: quotes}",
        "api: v1, database: \"  \"}",
    );
    assert_problem(
        &text,
        10,
        71,
        "`influxdb.database` is blank",
        "write the InfluxDB database the transform Lambda writes to",
    );
}

/// The scraper refuses to start on a locator it cannot read; `deployer synth` refuses it first, with the
/// scraper configuration's own locator check (for HTML, the scraper's own CSS parser), at the locator's
/// position.
#[test]
fn locators_are_checked_with_the_scrapers_syntax_for_the_sources_format() {
    let text = edit("{price: p,", "{price: \"@content\",");
    assert_problem(
        &text,
        9,
        23,
        "invalid HTML locator `@content`: `@content` has no selector before it",
        "write a CSS selector such as `span.price`, optionally `@attribute`",
    );
    // A selector the scraper's CSS parser refuses: the message carries that parser's own reason.
    for (selector, column, reason) in [
        ("div[", 23, "unexpected end"),
        ("..price", 23, "class needs ident"),
    ] {
        let text = edit("{price: p,", &format!("{{price: \"{selector}\","));
        let d = assert_problem(
            &text,
            9,
            column,
            &format!("`{selector}` is not a valid CSS selector: {reason}"),
            "write a CSS selector such as `span.price`, optionally `@attribute` (`time@datetime`)",
        );
        let scraper_reason = scraper_config::parse_selector(selector).unwrap_err().reason;
        assert!(d.message.ends_with(&scraper_reason), "{}", d.message);
    }
    // The attribute part does not hide a bad selector.
    let text = edit("{price: p,", "{price: \"span..v@content\",");
    assert_problem(
        &text,
        9,
        23,
        "`span..v` is not a valid CSS selector",
        "write a CSS selector such as `span.price`",
    );
    let text = edit(
        "      fields: {price: p, change_pct: c, market_time: t}",
        "      format: json\n      fields: {price: $.p, change_pct: \"$..c\", market_time: $.t}",
    );
    assert_problem(
        &text,
        10,
        40,
        "invalid JSON path `$..c`",
        "write a path such as `$.quote.price`",
    );
}

/// A source's currency follows the record's rule (`quote_record::Currency`), which the scraper applies.
#[test]
fn source_currency_must_be_an_iso_4217_code() {
    for code in ["usd", "US", "EURO"] {
        let text = edit(
            "      currency: USD\n",
            &format!("      currency: {code}\n"),
        );
        assert_problem(
            &text,
            8,
            17,
            &format!("`{code}` is not an ISO 4217 currency code"),
            "use three upper-case letters, such as `USD` or `EUR`",
        );
    }
}

#[test]
fn source_needs_a_currency_and_unknown_keys_are_still_reported() {
    let text = edit("      currency: USD\n", "      currncy: USD\n");
    let err = errors(&text);
    let got: Vec<(usize, usize, &str, Option<&str>)> = err
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.column, d.message.as_str(), d.help.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (
                8,
                7,
                "unknown key `currncy` in `scraper.sources[0]`",
                Some("did you mean `currency`?")
            ),
            (
                9,
                7,
                "source `quote-page` has no currency",
                Some(
                    "add `currency: USD` (or the right code) to the source, or a `currency` locator under `fields`"
                )
            ),
        ],
        "{err}"
    );
}

#[test]
fn bad_file_name() {
    let err = parse("environments/Prod.yaml", BASE)
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    let d = &err.diagnostics()[0];
    assert_eq!(d.line, 0);
    assert!(
        d.message.contains("environment name `Prod`"),
        "{}",
        d.message
    );
}

#[test]
fn several_problems_are_reported_in_one_run() {
    let text = BASE
        .replace(
            "regions: [eu-west-1, eu-central-1]",
            "regions: [eu-west-1, eu-centrl-1]",
        )
        .replace("symbols: [AAPL, MSFT]", "symbols: [AAPL, AAPL]")
        .replace(
            "vpn_client_cidr: 10.100.0.0/22",
            "vpn_client_cidr: 10.40.0.0/22",
        )
        .replace("emails: [oncall@example.com]", "emails: [oncall]")
        + "firehose: {bufering_seconds: 60}\n";
    let err = errors(&text);
    let got: Vec<(usize, usize)> = err
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.column))
        .collect();
    // The VPN entries are not checked against `regions` while a region is invalid: that would only echo it.
    assert_eq!(
        got,
        [(2, 22), (3, 17), (11, 39), (14, 20), (18, 12)],
        "{err}"
    );
    let messages: Vec<&str> = err
        .diagnostics()
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(messages[1], "symbol `AAPL` is listed twice");
    assert_eq!(messages[4], "unknown key `bufering_seconds` in `firehose`");
    assert!(
        err.to_string()
            .ends_with("error: environments/test.yaml has 5 problems")
    );
}

#[test]
fn user_agents_are_checked_as_the_scraper_checks_them() {
    // A control character would make an invalid header; the scraper refuses it at start, so synth does.
    let text = edit(
        "scraper:\n",
        "scraper:\n  user_agents: [\"ok/1.0\", \"bad\\tagent\"]\n",
    );
    assert_problem(
        &text,
        5,
        27,
        "a User-Agent must be non-blank printable ASCII",
        "MyStockTracker/0.1",
    );
    let empty = edit("scraper:\n", "scraper:\n  user_agents: []\n");
    assert_problem(
        &empty,
        5,
        16,
        "`scraper.user_agents` is empty",
        "remove the key to use the default",
    );
}

#[test]
fn grafana_section_defaults_and_values() {
    let env = parse(FILE, BASE).expect("valid");
    assert_eq!(env.grafana, environment::Grafana::default());
    assert_eq!(env.grafana.stale_after_intervals, 4);
    let text = format!(
        "{BASE}grafana: {{url: \"https://grafana.example.com/\", quotes_query: victoriametrics, influx_user: grafana, stale_after_intervals: 6}}\n"
    );
    let env = parse(FILE, &text).expect("valid");
    assert_eq!(
        env.grafana.url.as_deref(),
        Some("https://grafana.example.com")
    );
    assert_eq!(
        env.grafana.quotes_query,
        environment::QuotesQuery::VictoriaMetrics
    );
    assert_eq!(env.grafana.influx_user.as_deref(), Some("grafana"));
    assert_eq!(env.grafana.stale_after_intervals, 6);
}

#[test]
fn grafana_section_problems_are_located() {
    // BASE has 17 lines: the section starts on line 18.
    assert_problem(
        &format!("{BASE}grafana: {{quotes_query: flux}}\n"),
        18,
        25,
        "unknown quotes query API `flux`",
        "`influxql`",
    );
    assert_problem(
        &format!("{BASE}grafana: {{url: \"grafana.example.com\"}}\n"),
        18,
        16,
        "is not an http(s) base URL",
        "https://grafana.example.com",
    );
    assert_problem(
        &format!("{BASE}grafana: {{stale_after_intervals: 1}}\n"),
        18,
        34,
        "2",
        "1000",
    );
}

#[test]
fn grafana_workspace_is_read() {
    let text = format!("{BASE}grafana:\n  workspace: {{authentication: [saml, aws_sso]}}\n");
    let env = parse(FILE, &text).expect("valid");
    let workspace = env.grafana.workspace.expect("a workspace");
    assert_eq!(
        workspace.authentication,
        [
            environment::GrafanaAuthentication::Saml,
            environment::GrafanaAuthentication::AwsSso
        ]
    );
}

#[test]
fn dr_section_is_optional_and_decoded() {
    let env = parse(FILE, BASE).expect("valid");
    assert_eq!(env.dr, None);
    let text = format!("{BASE}dr: {{region: eu-north-1, rpo_minutes: 15, rto_minutes: 120}}\n");
    let env = parse(FILE, &text).expect("valid");
    let dr = env.dr.expect("dr section");
    assert_eq!(dr.region.as_str(), "eu-north-1");
    assert_eq!((dr.rpo_minutes, dr.rto_minutes), (15, 120));
}

#[test]
fn dr_objectives_the_design_cannot_meet_are_refused_with_the_bound() {
    // BASE has 17 lines: the section starts on line 18.
    let rpo = assert_problem(
        &format!("{BASE}dr: {{region: eu-north-1, rpo_minutes: 5, rto_minutes: 120}}\n"),
        18,
        39,
        "a recovery point objective of 5 minutes cannot be met",
        "set `rpo_minutes: 15` or more",
    );
    assert!(
        rpo.help
            .unwrap_or_default()
            .contains("S3 Replication Time Control")
    );
    let rto = assert_problem(
        &format!("{BASE}dr: {{region: eu-north-1, rpo_minutes: 15, rto_minutes: 30}}\n"),
        18,
        56,
        "a recovery time objective of 30 minutes cannot be met",
        "set `rto_minutes: 60` or more",
    );
    assert!(rto.help.unwrap_or_default().contains("docs/dr.md"));
    assert_eq!(
        (environment::MIN_RPO_MINUTES, environment::MIN_RTO_MINUTES),
        (15, 60)
    );
}

#[test]
fn grafana_workspace_problems_are_located() {
    // BASE has 17 lines: `grafana:` is line 18, `workspace:` line 19.
    assert_problem(
        &format!("{BASE}grafana:\n  workspace: {{authentication: [okta]}}\n"),
        19,
        32,
        "unknown Grafana authentication `okta`",
        "`aws_sso`",
    );
    assert_problem(
        &format!("{BASE}grafana:\n  workspace: {{authentication: []}}\n"),
        19,
        31,
        "`grafana.workspace.authentication` is empty",
        "`[aws_sso]`",
    );
    assert_problem(
        &format!("{BASE}grafana:\n  workspace: {{}}\n"),
        19,
        3,
        "authentication",
        "",
    );
    // eu-west-1 is the canary and offers Managed Grafana; eu-north-1 does not.
    let text = edit(
        "regions: [eu-west-1, eu-central-1]",
        "regions: [eu-north-1, eu-central-1]",
    )
    .replace("    eu-west-1: {", "    eu-north-1: {")
    .replace("acm:eu-west-1:", "acm:eu-north-1:");
    assert_problem(
        &format!("{text}grafana:\n  workspace: {{authentication: [aws_sso]}}\n"),
        19,
        3,
        "Amazon Managed Grafana is not offered in `eu-north-1`, the canary region",
        "us-east-1",
    );
}

#[test]
fn dr_region_must_be_known_and_outside_the_regions() {
    assert_problem(
        &format!("{BASE}dr: {{region: eu-central-1, rpo_minutes: 15, rto_minutes: 60}}\n"),
        18,
        14,
        "the DR region `eu-central-1` is one of `regions`",
        "such as `eu-central-2`",
    );
    assert_problem(
        &format!("{BASE}dr: {{region: eu-nrth-1, rpo_minutes: 15, rto_minutes: 60}}\n"),
        18,
        14,
        "unknown AWS region `eu-nrth-1`",
        "did you mean `eu-north-1`?",
    );
    assert_problem(
        &format!("{BASE}dr: {{region: eu-north-1, rto_minutes: 60}}\n"),
        18,
        1,
        "rpo_minutes",
        "add `rpo_minutes: <value>` in `dr`",
    );
}

/// BASE with eu-central-1's VPN certificates in account 210987654321, where `DEPLOY` places the
/// region (ACM certificates are not shared across accounts).
fn two_account_base() -> String {
    BASE.replace(
        "arn:aws:acm:eu-central-1:123456789012:",
        "arn:aws:acm:eu-central-1:210987654321:",
    )
}

/// BASE is 17 lines long: a `deploy:` section starts on line 18.
const DEPLOY: &str = r#"deploy:
  accounts:
    eu-central-1: "210987654321"
  roles:
    "210987654321": arn:aws:iam::210987654321:role/deployer
  principals: [arn:aws:iam::123456789012:role/ci-runner]
  gitlab: {project: data-platform/mystocktracker, branch: main}
"#;

#[test]
fn deploy_places_regions_in_accounts_and_names_who_may_deploy() {
    let base = two_account_base();
    let env = parse(FILE, &format!("{base}{DEPLOY}")).unwrap_or_else(|e| panic!("{e}"));
    assert!(env.is_bootstrapped());
    let accounts: Vec<(String, Vec<String>)> = env
        .accounts()
        .into_iter()
        .map(|(a, regions)| {
            let regions = regions.iter().map(ToString::to_string).collect();
            (a.as_str().to_owned(), regions)
        })
        .collect();
    assert_eq!(
        accounts,
        [
            ("123456789012".to_owned(), vec!["eu-west-1".to_owned()]),
            ("210987654321".to_owned(), vec!["eu-central-1".to_owned()])
        ]
    );
    let deploy = env.deploy.as_ref().unwrap();
    assert_eq!(
        deploy.principals,
        ["arn:aws:iam::123456789012:role/ci-runner"]
    );
    let gitlab = deploy.gitlab.as_ref().unwrap();
    assert_eq!(
        (
            gitlab.host.as_str(),
            gitlab.project.as_str(),
            gitlab.branch.as_str()
        ),
        ("gitlab.com", "data-platform/mystocktracker", "main")
    );
    // Without `deploy`, every region is in `account` and nothing is assumed.
    let plain = parse(FILE, BASE).unwrap();
    assert!(!plain.is_bootstrapped());
    assert_eq!(plain.accounts().len(), 1);
}

#[test]
fn deploy_accounts_must_name_a_deployed_region() {
    assert_problem(
        &format!("{BASE}{}", DEPLOY.replace("eu-central-1: ", "us-west-2: ")),
        20,
        5,
        "`deploy.accounts` places `us-west-2`, which is not in `regions`",
        "add `us-west-2` to `regions`",
    );
}

#[test]
fn deploy_role_must_be_in_the_account_it_is_listed_under() {
    let base = two_account_base();
    assert_problem(
        &format!(
            "{base}{}",
            DEPLOY.replace("role/deployer", "role/x").replace(
                "arn:aws:iam::210987654321:role/x",
                "arn:aws:iam::123456789012:role/x"
            )
        ),
        22,
        21,
        "the role `arn:aws:iam::123456789012:role/x` is in account `123456789012`, not `210987654321`",
        "name a role of the account it is listed under",
    );
}

#[test]
fn deploy_role_for_an_account_without_regions_is_refused() {
    let base = two_account_base();
    assert_problem(
        &format!(
            "{base}{}",
            DEPLOY.replace(
                "\"210987654321\": arn:aws:iam::210987654321",
                "\"999999999999\": arn:aws:iam::999999999999"
            )
        ),
        22,
        5,
        "`deploy.roles` names account `999999999999`, which no region is deployed to",
        "use `account` or an account of `deploy.accounts`",
    );
}

#[test]
fn deploy_principal_must_be_an_iam_arn() {
    let base = two_account_base();
    assert_problem(
        &format!(
            "{base}{}",
            DEPLOY.replace("arn:aws:iam::123456789012:role/ci-runner", "ci-runner")
        ),
        23,
        16,
        "`ci-runner` is not an IAM role or user ARN",
        "arn:aws:iam::<12-digit account>:role/<name>",
    );
}

#[test]
fn deploy_needs_someone_to_assume_the_roles() {
    let base = two_account_base();
    assert_problem(
        &format!("{base}deploy:\n  accounts: {{eu-central-1: \"210987654321\"}}\n"),
        18,
        1,
        "`deploy` names nobody who may assume the deploy roles",
        "`deploy.principals`",
    );
}

#[test]
fn deploy_gitlab_branch_must_match_exactly() {
    let base = two_account_base();
    assert_problem(
        &format!(
            "{base}{}",
            DEPLOY.replace("branch: main", "branch: \"release/*\"")
        ),
        24,
        59,
        "`release/*` is not a branch name the trust policy can match exactly",
        "write one protected branch",
    );
}

#[test]
fn the_scraper_ami_defaults_to_latest() {
    let env = parse(FILE, BASE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(env.scraper.ami, ScraperImage::Latest);
    let text = edit("scraper:\n", "scraper:\n  ami: latest\n");
    let env = parse(FILE, &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(env.scraper.ami, ScraperImage::Latest);
}

#[test]
fn the_scraper_ami_takes_both_forms_of_image_id() {
    for id in ["ami-0abcdef1234567890", "ami-1a2b3c4d"] {
        let text = edit("scraper:\n", &format!("scraper:\n  ami: {id}\n"));
        let env = parse(FILE, &text).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(env.scraper.ami, ScraperImage::Id(id.to_owned()));
    }
}

#[test]
fn a_bad_ami_id_is_refused_where_it_is() {
    for bad in [
        "ami-0ABCDEF1234567890",
        "ami-0abcdef123456789",
        "ami-xyz12345",
        "img-1a2b3c4d",
        "newest",
    ] {
        assert_problem(
            &edit("scraper:\n", &format!("scraper:\n  ami: {bad}\n")),
            5,
            8,
            &format!("`{bad}` is not an AMI id"),
            "write `latest` (the newest Amazon Linux 2023, resolved at deploy) or an x86_64 image id",
        );
    }
}

#[test]
fn an_arm64_instance_type_is_refused_for_the_x86_64_scraper() {
    for arm in [
        "t4g.micro",
        "m7g.large",
        "c6gn.xlarge",
        "a1.medium",
        "im4gn.large",
    ] {
        assert_problem(
            &edit("scraper:\n", &format!("scraper:\n  instance_type: {arm}\n")),
            5,
            18,
            &format!("`{arm}` is an arm64 (Graviton) instance type"),
            "the scraper binary and its AMI are built for x86_64",
        );
    }
    for x86 in [
        "t3.micro",
        "m7i.large",
        "g4dn.xlarge",
        "c5n.large",
        "m6a.large",
    ] {
        let text = edit("scraper:\n", &format!("scraper:\n  instance_type: {x86}\n"));
        let env = parse(FILE, &text).unwrap_or_else(|e| panic!("{x86}: {e}"));
        assert_eq!(env.scraper.instance_type, x86);
    }
}

#[test]
fn market_hours_default_to_the_new_york_session_in_utc_and_read_back() {
    let env = parse(FILE, BASE).unwrap_or_else(|e| panic!("{e}"));
    let hours = env.alerts.market_hours;
    assert_eq!(
        (
            hours.first_day,
            hours.last_day,
            hours.open_minute,
            hours.close_minute
        ),
        (1, 5, 870, 1200)
    );
    assert_eq!(hours.to_string(), "Mon-Fri 14:30-20:00");
    let with = |hours: &str| {
        let text = edit(
            "emails: [oncall@example.com]}",
            &format!("emails: [oncall@example.com], market_hours: \"{hours}\"}}"),
        );
        parse(FILE, &text)
            .unwrap_or_else(|e| panic!("{e}"))
            .alerts
            .market_hours
    };
    let sunday = with("Sun-Thu 06:00-12:30");
    assert_eq!(
        (
            sunday.first_day,
            sunday.last_day,
            sunday.open_minute,
            sunday.close_minute
        ),
        (7, 4, 360, 750)
    );
    assert_eq!(with("sat 00:00-24:00").to_string(), "Sat 00:00-24:00");
    assert!(with("always").is_always());
    assert_eq!(with("always").to_string(), "always");
}

#[test]
fn market_hours_that_cannot_be_read_are_positioned_errors() {
    let with = |hours: &str| {
        edit(
            "emails: [oncall@example.com]}",
            &format!("emails: [oncall@example.com], market_hours: \"{hours}\"}}"),
        )
    };
    let help = "such as `Mon-Fri 14:30-20:00`, or `always`";
    for (hours, message) in [
        (
            "Mon-Fri 20:00-14:30",
            "closes at 14:30 before it opens at 20:00",
        ),
        ("Mon-Fri 14:30", "`14:30` is not a time range"),
        ("Mon-Fry 14:30-20:00", "`Fry` is not a day"),
        ("Mon-Fri 14:30-25:00", "`25:00` is not a time of day"),
        ("Mon-Fri", "has no days and times"),
        ("Mon-Fri 9:30-16:00", "`9:30` is not a time of day"),
    ] {
        // Line 11 of BASE; the value starts after `market_hours: `.
        assert_problem(&with(hours), 11, 74, message, help);
    }
}

#[test]
fn vpn_certificates_must_be_in_the_account_their_region_is_deployed_to() {
    // Line 16 is eu-west-1's entry; its client root certificate's value starts at column 124.
    assert_problem(
        &edit(
            "arn:aws:acm:eu-west-1:123456789012:certificate/a-2",
            "arn:aws:acm:eu-west-1:999988887777:certificate/a-2",
        ),
        16,
        124,
        "`network.vpn.eu-west-1.client_root_certificate_arn` is a certificate of account 999988887777, but `eu-west-1` is deployed to account 123456789012",
        "import the certificate into ACM in account 123456789012 (region `eu-west-1`) and use that ARN, or correct `account`",
    );
    // A region placed in another account by `deploy.accounts` needs certificates of that account:
    // BASE's eu-central-1 certificates are in the environment's account.
    let err = errors(&format!("{BASE}{DEPLOY}"));
    let rendered = err.to_string();
    let problems: Vec<(usize, &str)> = err
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.message.as_str()))
        .collect();
    assert_eq!(
        problems,
        [
            (
                17,
                "`network.vpn.eu-central-1.server_certificate_arn` is a certificate of account 123456789012, but `eu-central-1` is deployed to account 210987654321"
            ),
            (
                17,
                "`network.vpn.eu-central-1.client_root_certificate_arn` is a certificate of account 123456789012, but `eu-central-1` is deployed to account 210987654321"
            ),
        ],
        "{rendered}"
    );
    assert!(
        rendered.contains("or correct `deploy.accounts.eu-central-1`"),
        "{rendered}"
    );
    // With the certificates in that account the environment loads.
    parse(FILE, &format!("{}{DEPLOY}", two_account_base())).unwrap_or_else(|e| panic!("{e}"));
}
