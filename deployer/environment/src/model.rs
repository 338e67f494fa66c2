//! The typed, validated model of one `environments/<name>.yaml` file.
//!
//! Every value here has passed both the strict YAML decoding (no unknown keys, right types) and the
//! semantic checks of `crate::decode`, so the stacks can trust it without re-checking.
//! docs/environments.md documents every key with its type, default and meaning: keep the two in step.

use std::collections::BTreeMap;

use ipnet::Ipv4Net;
use quote_record::Symbol;

/// One deployment target: an AWS account and its ordered regions, and how the pipeline is sized there.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    /// The environment's name: the file stem (`prod` for `environments/prod.yaml`).
    pub name: EnvName,
    /// The 12-digit AWS account the stacks are deployed to.
    pub account: AccountId,
    /// Regions in rollout order; the first one is the canary.
    pub regions: Vec<Region>,
    /// Set for a local emulator target (moto); absent for real AWS.
    pub emulator: Option<Emulator>,
    /// Tags put on every stack (and so on every resource CloudFormation tags).
    pub tags: BTreeMap<String, String>,
    /// The symbols the scraper follows.
    pub symbols: Vec<Symbol>,
    /// The scraper daemon and its EC2 instance.
    pub scraper: Scraper,
    /// The Kinesis data stream.
    pub stream: Stream,
    /// The Firehose delivery stream that lands raw records in S3.
    pub firehose: Firehose,
    /// Retention of the raw and curated buckets.
    pub storage: Storage,
    /// The transform Lambda's Kinesis event source mapping.
    pub transform: Transform,
    /// The InfluxDB the transform Lambda writes to.
    pub influxdb: InfluxDb,
    /// Price-move alerts.
    pub alerts: Alerts,
    /// The Glue catalog over the curated data.
    pub catalog: Catalog,
    /// The Athena workgroup over the curated data.
    pub athena: Athena,
    /// The VPC and the Client VPN in front of the scraper.
    pub network: Network,
    /// CloudWatch Logs retention for every log group.
    pub logs: Logs,
    /// How `deployer up` watches a rollout: rollback triggers' monitoring and the canary's bake.
    pub rollout: Rollout,
}

impl Environment {
    /// The canary region: the first of [`Environment::regions`].
    pub fn canary_region(&self) -> &Region {
        // Validation guarantees at least one region.
        &self.regions[0]
    }

    /// True when the environment targets a local emulator rather than AWS.
    pub fn is_local(&self) -> bool {
        self.emulator.is_some()
    }
}

/// An environment name: lower-case letters, digits and `-`, 1 to 20 characters, starting with a letter.
/// It becomes part of stack, bucket and role names, hence the tight rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvName(pub(crate) String);

impl EnvName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub(crate) String);

impl AccountId {
    /// The id as text (always 12 ASCII digits).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An AWS region name known to this version of the deployer, such as `eu-west-1`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region(pub(crate) String);

impl Region {
    /// The region name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A local AWS emulator target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emulator {
    /// The emulator's endpoint, such as `http://127.0.0.1:5000`. `AWS_ENDPOINT_URL` overrides it.
    pub endpoint: String,
}

/// The scraper daemon and the EC2 instance it runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct Scraper {
    /// EC2 instance type (x86_64). Default `t3.micro`.
    pub instance_type: String,
    /// Seconds between two scrape ticks. Default 15; 1 to 3600.
    pub interval_seconds: u32,
    /// Pages fetched at once. Default 8; 1 to 256.
    pub concurrency: u32,
    /// Per-request timeout in seconds. Default 10; 1 to 120.
    pub timeout_seconds: u32,
    /// Requests per second allowed to one host. Default 2; greater than 0.
    pub requests_per_second_per_host: f64,
    /// User-Agent headers, rotated per request. Default: one descriptive agent.
    pub user_agents: Vec<String>,
    /// HTTP(S) proxy URLs, rotated; a failing one is benched for a while. Default none.
    pub proxies: Vec<String>,
    /// Where quotes come from; at least one, names unique; `https://` URLs (`http://` too in emulator
    /// environments). The scraper configuration's own type: the deployer passes them through as they are.
    pub sources: Vec<scraper_config::SourceConfig>,
}

/// The Kinesis data stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// Capacity mode.
    pub capacity: StreamCapacity,
    /// Hours a record stays readable. Default 24; 24 to 8760 (AWS limits).
    pub retention_hours: u32,
}

/// Kinesis capacity mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamCapacity {
    /// Pay per use, scales by itself (`mode: on-demand`, the default).
    OnDemand,
    /// A fixed number of shards (`mode: provisioned`, `shards: N`).
    Provisioned {
        /// Shard count, 1 to 500.
        shards: u32,
    },
}

/// The Firehose delivery stream to the raw bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firehose {
    /// Seconds Firehose buffers before writing. Default 60; 60 to 900.
    pub buffering_seconds: u32,
    /// MiB Firehose buffers before writing. Default 64; 64 to 128 with dynamic partitioning, else 1 to 128.
    pub buffering_mb: u32,
    /// Partition the raw data by symbol and date (JQ metadata extraction). Default true.
    pub dynamic_partitioning: bool,
}

/// Retention of the data buckets, in days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storage {
    /// Days raw JSON objects are kept. Default 30; at least 1.
    pub raw_retention_days: u32,
    /// Days curated Parquet objects are kept; absent keeps them forever. Default absent.
    pub curated_retention_days: Option<u32>,
    /// Days a replaced or deleted object version is kept. Default 7; at least 1.
    pub noncurrent_version_days: u32,
}

/// The transform Lambda's Kinesis event source mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    /// Records per invocation. Default 500; 1 to 10000.
    pub batch_size: u32,
    /// Seconds to gather a batch. Default 1; 0 to 300.
    pub batching_window_seconds: u32,
    /// Records older than this are sent to the dead-letter queue. Default 3600; 60 to 604800 (or -1 not allowed).
    pub maximum_record_age_seconds: u32,
    /// Retries of a failing batch before it goes to the dead-letter queue. Default 5; 0 to 10000.
    pub maximum_retry_attempts: u32,
    /// Function memory in MiB. Default 256; 128 to 10240.
    pub memory_mb: u32,
    /// Function timeout in seconds. Default 60; 1 to 900.
    pub timeout_seconds: u32,
}

/// The InfluxDB the transform Lambda writes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfluxDb {
    /// The server's base URL, such as `https://influx.example.com:8086`.
    pub url: String,
    /// Which write API to use.
    pub api: InfluxApi,
}

/// The InfluxDB write API and its addressing: the transform Lambda's own type (`lambda-contract`),
/// so what the environment holds is what the function is configured with. `V2` writes with
/// `POST /api/v2/write?org=..&bucket=..` and a token (InfluxDB 2.x, 1.8+, VictoriaMetrics); `V1`
/// with `POST /write?db=..` (InfluxDB 1.x).
pub use lambda_contract::transform::InfluxApi;

/// Price-move alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct Alerts {
    /// Alert when a price moves by at least this many percent. Default 1.0; greater than 0.
    pub threshold_pct: f64,
    /// Addresses subscribed to the alert topic (each confirms by e-mail). At least one outside local.
    pub emails: Vec<String>,
}

/// The Glue catalog over the curated data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    /// The crawler's schedule, a CloudWatch `cron(...)` expression. Default `cron(15 3 * * ? *)`.
    pub crawler_schedule: String,
}

/// The Athena workgroup over the curated data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Athena {
    /// Athena cancels a query that would scan more than this many gigabytes (10^9 bytes): a guard
    /// against a query without a `dt` filter reading the whole history. Default 10; 1 to 10000.
    pub bytes_scanned_limit_gb: u32,
}

/// The VPC and Client VPN in front of the scraper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// The VPC's CIDR, /16 to /24. Default `10.40.0.0/16`.
    pub vpc_cidr: Ipv4Net,
    /// Addresses given to VPN clients; /22 or larger (AWS rule), not overlapping the VPC. Default `10.100.0.0/22`.
    pub vpn_client_cidr: Ipv4Net,
    /// Extra CIDRs allowed to reach the scraper by SSH (inside the VPC, for example a bastion). Default none.
    pub admin_cidrs: Vec<Ipv4Net>,
    /// The VPN's ACM certificates per region (ACM certificates are regional). Required for every region
    /// outside local environments; ignored-but-allowed to be empty for local ones.
    pub vpn: BTreeMap<Region, VpnCertificates>,
}

/// ACM certificates for the Client VPN's mutual-TLS authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpnCertificates {
    /// ACM ARN of the server certificate.
    pub server_certificate_arn: String,
    /// ACM ARN of the client root certificate chain.
    pub client_root_certificate_arn: String,
}

/// CloudWatch Logs settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logs {
    /// Days log events are kept; one of the values CloudWatch Logs accepts. Default 30.
    pub retention_days: u32,
}

/// How `deployer up` watches a rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    /// Minutes CloudFormation keeps watching the pipeline's alarms (its rollback triggers) after
    /// a stack operation, rolling back when one fires. Default 10; 0 to 180 (CloudFormation's limit).
    pub monitoring_minutes: u32,
    /// Minutes the canary region is held after it deployed, its alarms watched, before the next
    /// wave starts. Default 15; 0 to 1440.
    pub bake_minutes: u32,
}
