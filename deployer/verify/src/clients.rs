//! The clients of one region, built over the one connection of `aws-connect`, and the HTTP client
//! for InfluxDB and the emulator's own API.

use std::time::Duration;

use aws_config::Region as SdkRegion;
use aws_connect::Connection;
use environment::Region;

/// How long one InfluxDB or emulator request may take.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// Everything `verify` talks to in one region. Fields are public so tests can pass mocked clients.
#[derive(Debug, Clone)]
pub struct Clients {
    /// The region.
    pub region: String,
    /// CloudFormation: the pipeline stack's resources.
    pub cloudformation: aws_sdk_cloudformation::Client,
    /// Lambda: function states and the event source mapping (two REST-JSON reads on this
    /// connection, without Lambda's SDK crate: see [`aws_connect::rest`]).
    pub lambda: aws_connect::rest::RestClient,
    /// Kinesis: where the canary is put.
    pub kinesis: aws_sdk_kinesis::Client,
    /// Firehose: the delivery stream's status (one JSON call on this connection, without
    /// Firehose's SDK crate: see [`aws_connect::json`]).
    pub firehose: aws_connect::json::JsonClient,
    /// Glue: the quotes table (one JSON call on this connection, without Glue's SDK crate: see
    /// [`aws_connect::json`]).
    pub glue: aws_connect::json::JsonClient,
    /// S3: raw and curated objects, notify's state.
    pub s3: aws_sdk_s3::Client,
    /// Secrets Manager: the InfluxDB token.
    pub secrets: aws_sdk_secretsmanager::Client,
    /// InfluxDB queries and the emulator's SNS dump (`/moto-api/data.json?service=sns`).
    pub http: reqwest::Client,
    /// The emulator's endpoint, when requests go to one (its notifications are read there).
    pub emulator_endpoint: Option<String>,
}

/// The HTTP client for InfluxDB and the emulator: rustls on ring, as the transform Lambda's writer.
pub fn http_client() -> reqwest::Client {
    // Installing twice is harmless: the first provider stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .connect_timeout(HTTP_TIMEOUT)
        .user_agent(concat!("mystocktracker-verify/", env!("CARGO_PKG_VERSION")))
        .build()
        // Building fails only without a TLS provider, installed just above.
        .unwrap_or_default()
}

impl Clients {
    /// The clients of `region` over `connection` (path-style S3 when an endpoint is overridden).
    pub fn new(connection: &Connection, region: &Region) -> Clients {
        let config = connection.sdk_config();
        let sdk_region = SdkRegion::new(region.as_str().to_owned());
        macro_rules! client {
            ($krate:ident) => {
                $krate::Client::from_conf(
                    $krate::config::Builder::from(config)
                        .region(sdk_region.clone())
                        .build(),
                )
            };
        }
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(config)
                .region(sdk_region.clone())
                .force_path_style(connection.endpoint().is_some())
                .build(),
        );
        Clients {
            region: region.as_str().to_owned(),
            cloudformation: client!(aws_sdk_cloudformation),
            lambda: aws_connect::rest::RestClient::new(
                config,
                region.as_str(),
                aws_connect::rest::LAMBDA,
            ),
            kinesis: client!(aws_sdk_kinesis),
            firehose: aws_connect::json::JsonClient::new(
                config,
                region.as_str(),
                aws_connect::json::FIREHOSE,
            ),
            glue: aws_connect::json::JsonClient::new(
                config,
                region.as_str(),
                aws_connect::json::GLUE,
            ),
            s3,
            secrets: client!(aws_sdk_secretsmanager),
            http: http_client(),
            emulator_endpoint: connection
                .is_emulator()
                .then(|| connection.endpoint().map(str::to_owned))
                .flatten(),
        }
    }
}
