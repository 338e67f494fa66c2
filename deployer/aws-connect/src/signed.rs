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
use aws_types::service_config::ServiceConfigKey;

/// A service's error answer: its code, message and request id when the body gives them, and the
/// HTTP status.
#[derive(Debug)]
pub struct ServiceError {
    status: u16,
    metadata: ErrorMetadata,
}

/// A service of a direct call: its SigV4 signing name (also its endpoints' first label, such as
/// `autoscaling`) and its SDK service id (`Auto Scaling`), which names its own endpoint setting
/// (`AWS_ENDPOINT_URL_AUTO_SCALING`, or `endpoint_url` in a profile's `services` section) as for an
/// SDK client. A global service (IAM) has one endpoint per partition, signed for the partition's
/// home region, whatever region its client is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// The SigV4 signing name and endpoint prefix.
    pub signing_name: &'static str,
    /// The SDK service id.
    pub id: &'static str,
    /// Whether the service has one endpoint per partition rather than one per region.
    pub global: bool,
}

impl Service {
    /// The regional service signed as `signing_name` whose SDK service id is `id`.
    pub const fn new(signing_name: &'static str, id: &'static str) -> Service {
        Service {
            signing_name,
            id,
            global: false,
        }
    }

    /// The global service signed as `signing_name` whose SDK service id is `id`.
    pub const fn global(signing_name: &'static str, id: &'static str) -> Service {
        Service {
            signing_name,
            id,
            global: true,
        }
    }
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

/// Where requests to `service` in `region` go, decided as an SDK client of the service decides:
/// an endpoint marked as the client's own configuration, else the service's own setting
/// (`AWS_ENDPOINT_URL_<ID>`, a profile's `services` section), else the configuration's endpoint
/// (`AWS_ENDPOINT_URL`, or the emulator's that [`Connection`](crate::Connection) sets), else the
/// service's endpoint ([`default_endpoint`]). FIPS and dual-stack
/// endpoints are not known here: asked for, they are refused with the way out rather than ignored.
fn endpoint(config: &SdkConfig, service: Service, region: &str) -> Result<String, String> {
    let configured = if config.get_origin("endpoint_url").is_client_config() {
        config.endpoint_url().map(str::to_owned)
    } else {
        config
            .service_config()
            .and_then(|settings| {
                let key = ServiceConfigKey::builder()
                    .service_id(service.id)
                    .env("AWS_ENDPOINT_URL")
                    .profile("endpoint_url")
                    .build()
                    .ok()?;
                settings.load_config(key)
            })
            .or_else(|| config.endpoint_url().map(str::to_owned))
    };
    if let Some(url) = configured {
        return Ok(url.trim_end_matches('/').to_owned());
    }
    for (asked, setting) in [
        (
            config.use_fips(),
            "FIPS endpoints (AWS_USE_FIPS_ENDPOINT, use_fips_endpoint)",
        ),
        (
            config.use_dual_stack(),
            "dual-stack endpoints (AWS_USE_DUALSTACK_ENDPOINT, use_dualstack_endpoint)",
        ),
    ] {
        if asked == Some(true) {
            let variable = service.id.to_uppercase().replace(' ', "_");
            return Err(format!(
                "{setting} are asked for, and the deployer calls {} without its SDK, which does not know them: set AWS_ENDPOINT_URL_{variable} to the endpoint to use",
                service.id
            ));
        }
    }
    Ok(default_endpoint(service, region))
}

/// The service's regional endpoint (`https://ec2.eu-west-1.amazonaws.com`, `.amazonaws.com.cn` in
/// China), or a global service's one endpoint in the region's partition.
fn default_endpoint(service: Service, region: &str) -> String {
    let name = service.signing_name;
    match (service.global, Partition::of(region)) {
        (true, Partition::Aws) => format!("https://{name}.amazonaws.com"),
        (true, Partition::China) => format!("https://{name}.cn-north-1.amazonaws.com.cn"),
        (true, Partition::GovCloud) => format!("https://{name}.us-gov.amazonaws.com"),
        (false, Partition::China) => format!("https://{name}.{region}.amazonaws.com.cn"),
        (false, Partition::Aws | Partition::GovCloud) => {
            format!("https://{name}.{region}.amazonaws.com")
        }
    }
}

/// The region requests to `service` from `region` are signed for: the region itself, or for a
/// global service its partition's home region, where its one endpoint is.
fn signing_region(service: Service, region: &str) -> String {
    if !service.global {
        return region.to_owned();
    }
    match Partition::of(region) {
        Partition::Aws => "us-east-1",
        Partition::China => "cn-north-1",
        Partition::GovCloud => "us-gov-west-1",
    }
    .to_owned()
}

/// The AWS partitions a region can be in (the deployer's environments name commercial regions;
/// the others are told apart so a call never goes to the wrong partition's endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Partition {
    Aws,
    China,
    GovCloud,
}

impl Partition {
    fn of(region: &str) -> Partition {
        if region.starts_with("cn-") {
            Partition::China
        } else if region.starts_with("us-gov-") {
            Partition::GovCloud
        } else {
            Partition::Aws
        }
    }
}

/// The operation `action` of `service` in `region`, before its serializer and deserializer are set:
/// retried on throttling, transient and 5xx answers. The error (the call's construction failure)
/// says what the configuration lacks, or which endpoint setting cannot be honoured.
pub(crate) fn operation(
    config: &SdkConfig,
    region: &str,
    service: Service,
    action: &'static str,
) -> Result<OperationBuilder, BoxError> {
    let signing = signing(config, region, service)
        .map_err(|missing| format!("the SDK configuration has no {missing}"))?;
    Ok(Operation::builder()
        .service_name(service.signing_name)
        .operation_name(action)
        .endpoint_url(&endpoint(config, service, region)?)
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
    service: Service,
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
        region: Some(SigningRegion::from(Region::new(signing_region(
            service, region,
        )))),
        name: Some(SigningName::from_static(service.signing_name)),
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
            default_endpoint(Service::new("ec2", "EC2"), "eu-west-1"),
            "https://ec2.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            default_endpoint(Service::new("ssm", "SSM"), "cn-north-1"),
            "https://ssm.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            default_endpoint(KMS, "us-gov-west-1"),
            "https://kms.us-gov-west-1.amazonaws.com"
        );
        assert_eq!(signing_region(KMS, "eu-west-1"), "eu-west-1");
    }

    /// Endpoint settings as a profile or the environment would hold them: `AWS_ENDPOINT_URL_<ID>`
    /// values by service id.
    #[derive(Debug)]
    struct Settings(Vec<(&'static str, &'static str)>);

    impl aws_types::service_config::LoadServiceConfig for Settings {
        fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
            assert_eq!(
                (key.env(), key.profile()),
                ("AWS_ENDPOINT_URL", "endpoint_url")
            );
            self.0
                .iter()
                .find(|(id, _)| *id == key.service_id())
                .map(|(_, url)| (*url).to_owned())
        }
    }

    const AUTOSCALING: Service = Service::new("autoscaling", "Auto Scaling");
    const KMS: Service = Service::new("kms", "KMS");
    const IAM: Service = Service::global("iam", "IAM");

    #[test]
    fn a_services_own_endpoint_setting_wins_over_the_general_one_as_for_an_sdk_client() {
        let config = SdkConfig::builder()
            .service_config(Settings(vec![("Auto Scaling", "http://127.0.0.1:4566/")]))
            .endpoint_url("https://vpce.example.internal")
            .build();
        assert_eq!(
            endpoint(&config, AUTOSCALING, "eu-west-1").as_deref(),
            Ok("http://127.0.0.1:4566")
        );
        assert_eq!(
            endpoint(&config, KMS, "eu-west-1").as_deref(),
            Ok("https://vpce.example.internal")
        );
        let neither = SdkConfig::builder().build();
        assert_eq!(
            endpoint(&neither, KMS, "eu-west-1").as_deref(),
            Ok("https://kms.eu-west-1.amazonaws.com")
        );
    }

    #[test]
    fn fips_or_dual_stack_without_an_endpoint_is_refused_with_the_variable_to_set() {
        let fips = SdkConfig::builder().use_fips(true).build();
        let refused = endpoint(&fips, AUTOSCALING, "us-east-1").unwrap_err();
        assert!(refused.contains("FIPS endpoints"), "{refused}");
        assert!(
            refused.contains("set AWS_ENDPOINT_URL_AUTO_SCALING to the endpoint to use"),
            "{refused}"
        );
        let dual = SdkConfig::builder().use_dual_stack(true).build();
        let refused = endpoint(&dual, KMS, "us-east-1").unwrap_err();
        assert!(refused.contains("dual-stack"), "{refused}");
        assert!(refused.contains("AWS_ENDPOINT_URL_KMS"), "{refused}");
        let chosen = SdkConfig::builder()
            .use_fips(true)
            .service_config(Settings(vec![(
                "KMS",
                "https://kms-fips.us-east-1.amazonaws.com",
            )]))
            .build();
        assert_eq!(
            endpoint(&chosen, KMS, "us-east-1").as_deref(),
            Ok("https://kms-fips.us-east-1.amazonaws.com")
        );
    }

    #[test]
    fn iam_has_one_endpoint_per_partition_signed_for_its_home_region() {
        for (region, endpoint, signed_for) in [
            ("eu-west-1", "https://iam.amazonaws.com", "us-east-1"),
            ("us-east-1", "https://iam.amazonaws.com", "us-east-1"),
            (
                "cn-northwest-1",
                "https://iam.cn-north-1.amazonaws.com.cn",
                "cn-north-1",
            ),
            (
                "us-gov-east-1",
                "https://iam.us-gov.amazonaws.com",
                "us-gov-west-1",
            ),
        ] {
            assert_eq!(default_endpoint(IAM, region), endpoint, "{region}");
            assert_eq!(signing_region(IAM, region), signed_for, "{region}");
        }
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
