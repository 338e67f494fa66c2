//! What a direct call ([`query`](crate::query), [`json`](crate::json)) shares whatever its
//! protocol: an operation on the SDK's own orchestrator with the connection's HTTPS client,
//! credentials (signed by the SDK's SigV4 signer), retries, timeouts and endpoint, and the service's
//! error answer as [`ServiceError`], which [`CallError`](crate::CallError) sorts as any SDK error.

use std::fmt;

use aws_config::SdkConfig;
use aws_runtime::auth::SigV4OperationSigningConfig;
use aws_runtime::auth::sigv4::{SCHEME_ID, SigV4AuthScheme};
use aws_runtime::retries::classifiers::AwsErrorCodeClassifier;
use aws_smithy_runtime::client::orchestrator::operation::{Operation, OperationBuilder};
use aws_smithy_runtime::client::retries::classifiers::{
    HttpStatusCodeClassifier, TransientErrorClassifier,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::auth::static_resolver::StaticAuthSchemeOptionResolver;
use aws_smithy_runtime_api::client::auth::{
    AuthSchemeOptionResolverParams, SharedAuthScheme, SharedAuthSchemeOptionResolver,
};
use aws_smithy_runtime_api::client::identity::SharedIdentityResolver;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
use aws_smithy_runtime_api::client::runtime_plugin::StaticRuntimePlugin;
use aws_smithy_types::config_bag::Layer;
use aws_smithy_types::error::metadata::{ErrorMetadata, ProvideErrorMetadata};
use aws_types::SigningName;
use aws_types::region::{Region, SigningRegion};

/// A service's error answer: its code, message and request id when the body gives them, and the
/// HTTP status.
#[derive(Debug)]
pub struct ServiceError {
    status: u16,
    metadata: ErrorMetadata,
}

/// What a direct call gives: the answer, or the SDK's error with a [`ServiceError`] for the
/// service's own refusals.
pub type DirectResult<T> = Result<T, SdkError<ServiceError, HttpResponse>>;

impl ServiceError {
    /// The error of an answer with `status`, as its body described it.
    pub(crate) fn new(status: u16, metadata: ErrorMetadata) -> ServiceError {
        ServiceError { status, metadata }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> u16 {
        self.status
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.metadata.code(), self.metadata.message()) {
            (Some(code), Some(message)) => write!(f, "{code}: {message}"),
            (Some(code), None) => f.write_str(code),
            (None, Some(message)) => f.write_str(message),
            (None, None) => write!(f, "HTTP status {} and no error code", self.status),
        }
    }
}

impl std::error::Error for ServiceError {}

impl ProvideErrorMetadata for ServiceError {
    fn meta(&self) -> &ErrorMetadata {
        &self.metadata
    }
}

/// Where requests to `service` in `region` go: the connection's endpoint override, else the
/// service's regional endpoint (`https://ec2.eu-west-1.amazonaws.com`, `.amazonaws.com.cn` in
/// China).
fn endpoint(config: &SdkConfig, service: &str, region: &str) -> String {
    match config.endpoint_url() {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => regional_endpoint(service, region),
    }
}

fn regional_endpoint(service: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://{service}.{region}.{suffix}")
}

/// The operation `action` of `service` (its signing name and endpoint prefix) in `region`, before
/// its serializer and deserializer are set: retried on throttling, transient and 5xx answers. The
/// error (the call's construction failure) says what the configuration lacks.
pub(crate) fn operation(
    config: &SdkConfig,
    region: &str,
    service: &'static str,
    action: &'static str,
) -> Result<OperationBuilder, BoxError> {
    let signing = signing(config, region, service)
        .map_err(|missing| format!("the SDK configuration has no {missing}"))?;
    Ok(Operation::builder()
        .service_name(service)
        .operation_name(action)
        .endpoint_url(&endpoint(config, service, region))
        .standard_retry(
            &config
                .retry_config()
                .cloned()
                .unwrap_or_else(crate::retry_config),
        )
        .retry_classifier(HttpStatusCodeClassifier::default())
        .retry_classifier(TransientErrorClassifier::<ServiceError>::new())
        .retry_classifier(AwsErrorCodeClassifier::<ServiceError>::new())
        .timeout_config(
            config
                .timeout_config()
                .cloned()
                .unwrap_or_else(crate::timeout_config),
        )
        .with_connection_poisoning()
        .runtime_plugin(signing))
}

/// The HTTP client, sleep, clock and SigV4 signing with the connection's credentials; the error
/// names what the configuration lacks.
fn signing(
    config: &SdkConfig,
    region: &str,
    service: &'static str,
) -> Result<StaticRuntimePlugin, &'static str> {
    let credentials = config
        .credentials_provider()
        .ok_or("credentials provider")?;
    let http_client = config.http_client().ok_or("HTTP client")?;
    let mut components = RuntimeComponentsBuilder::new("aws_connect::signed")
        .with_http_client(Some(http_client))
        .with_auth_scheme_option_resolver(Some(SharedAuthSchemeOptionResolver::new(
            StaticAuthSchemeOptionResolver::new(vec![SCHEME_ID]),
        )))
        .with_auth_scheme(SharedAuthScheme::new(SigV4AuthScheme::new()))
        .with_identity_resolver(SCHEME_ID, SharedIdentityResolver::new(credentials));
    if let Some(sleep) = config.sleep_impl() {
        components = components.with_sleep_impl(Some(sleep));
    }
    if let Some(clock) = config.time_source() {
        components = components.with_time_source(Some(clock));
    }
    if let Some(cache) = config.identity_cache() {
        components = components.with_identity_cache(Some(cache));
    }
    let mut layer = Layer::new("aws_connect::signed");
    layer.store_put(AuthSchemeOptionResolverParams::new(()));
    layer.store_put(SigV4OperationSigningConfig {
        region: Some(SigningRegion::from(Region::new(region.to_owned()))),
        name: Some(SigningName::from_static(service)),
        ..Default::default()
    });
    Ok(StaticRuntimePlugin::new()
        .with_config(layer.freeze())
        .with_runtime_components(components))
}

/// The body of an answer as text (empty when it has none).
pub(crate) fn body_text(response: &HttpResponse) -> Result<&str, std::str::Utf8Error> {
    response
        .body()
        .bytes()
        .map(std::str::from_utf8)
        .transpose()
        .map(Option::unwrap_or_default)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
    use super::*;

    #[test]
    fn regional_endpoints_follow_the_partition() {
        assert_eq!(
            regional_endpoint("ec2", "eu-west-1"),
            "https://ec2.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            regional_endpoint("ssm", "cn-north-1"),
            "https://ssm.cn-north-1.amazonaws.com.cn"
        );
    }

    #[test]
    fn a_service_error_reads_as_code_and_message() {
        let error = ServiceError::new(
            400,
            ErrorMetadata::builder()
                .code("AccessDenied")
                .message("not allowed")
                .build(),
        );
        assert_eq!(error.to_string(), "AccessDenied: not allowed");
        assert_eq!(error.status(), 400);
        let bare = ServiceError::new(503, ErrorMetadata::builder().build());
        assert_eq!(bare.to_string(), "HTTP status 503 and no error code");
    }
}
