//! SDK-level mocks: [`mock_client!`](crate::mock_client) builds a client of any AWS SDK crate that
//! answers from `aws-smithy-mocks` rules instead of the network, the one definition the deployer's
//! fault tests share.

pub use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, create_mock_http_client};

/// A client of the SDK crate `$krate` (`aws_sdk_s3`, ...) answering from the mock `$rules` (an
/// iterable of `&Rule`, matched in any order), in `eu-west-1` with test credentials. The optional
/// third argument adjusts the configuration builder (`|c: aws_sdk_s3::config::Builder|
/// c.retry_config(...)`); without it the SDK's default retries apply.
#[macro_export]
macro_rules! mock_client {
    ($krate:ident, $rules:expr) => {
        $crate::mock_client!($krate, $rules, |config: $krate::config::Builder| config)
    };
    ($krate:ident, $rules:expr, $configure:expr) => {{
        let mut interceptor = $crate::mocks::MockResponseInterceptor::new()
            .rule_mode($crate::mocks::RuleMode::MatchAny);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        let builder = $krate::Config::builder()
            .behavior_version($krate::config::BehaviorVersion::latest())
            .region($krate::config::Region::new("eu-west-1"))
            .credentials_provider($krate::config::Credentials::new(
                "AKIDTEST",
                "test-secret",
                None,
                None,
                "test",
            ))
            .http_client($crate::mocks::create_mock_http_client())
            .interceptor(interceptor);
        let configure = $configure;
        $krate::Client::from_conf(configure(builder).build())
    }};
}

/// One request a direct call of `aws_connect` (`json::JsonClient`, `query::QueryClient`,
/// `rest::RestClient`) sent to the HTTP client of [`direct_config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectRequest {
    /// The method (`POST`; `GET` for a REST-JSON read).
    pub method: String,
    /// The path and query (`/2015-03-31/functions/f`), without the endpoint.
    pub path: String,
    /// The `X-Amz-Target` header (JSON protocol: `AmazonSSM.GetParameter`), when there is one.
    pub target: Option<String>,
    /// The body.
    pub body: String,
}

/// An SDK configuration whose HTTP client answers each request with `answer`'s HTTP status and
/// body, without the network or real time (the fault tests pause tokio's clock), in `eu-west-1`
/// with test credentials: the mock for `aws_connect`'s direct clients, which have no SDK crate whose
/// rules could stand in.
pub fn direct_config(
    answer: impl Fn(&DirectRequest) -> (u16, String) + Send + Sync + 'static,
) -> aws_config::SdkConfig {
    let http_client = aws_smithy_http_client::test_util::infallible_client_fn(
        move |request: http::Request<aws_smithy_types::body::SdkBody>| {
            let sent = DirectRequest {
                method: request.method().as_str().to_owned(),
                path: request
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default(),
                target: request
                    .headers()
                    .get("x-amz-target")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                body: request
                    .body()
                    .bytes()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default(),
            };
            let (status, body) = answer(&sent);
            http::Response::builder()
                .status(status)
                .body(body)
                .unwrap_or_default()
        },
    );
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(
                    "AKIDTEST",
                    "test-secret",
                    None,
                    None,
                    "test",
                ),
            ),
        )
        .http_client(http_client)
        .build()
}
