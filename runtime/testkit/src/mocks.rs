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
