//! AWS access: one shared SDK configuration (standard credential chain, `--profile`, endpoint
//! overrides), clients per region, and the account check that runs before any change.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region as SdkRegion, SdkConfig};
use aws_sdk_cloudformation::config::Credentials;
use environment::{Environment, Region};

use crate::{Error, api_error};

/// Attempts per call (the SDK's standard mode: exponential backoff with jitter, throttling and
/// transient errors only). CloudFormation throttles `Describe*` readily when several regions are
/// polled at once, hence more than the default three.
pub const MAX_ATTEMPTS: u32 = 8;

/// How the user asked to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// A named profile of `~/.aws/config` (`--profile`); `None` uses the standard chain
    /// (environment variables, `AWS_PROFILE`, SSO, web identity, container and instance roles).
    pub profile: Option<String>,
}

/// The SDK configuration shared by every region, and where requests go.
#[derive(Debug, Clone)]
pub struct Aws {
    config: SdkConfig,
    endpoint: Option<String>,
}

/// The clients of one region.
#[derive(Debug, Clone)]
pub struct RegionClients {
    /// The region.
    pub region: Region,
    /// CloudFormation.
    pub cloudformation: aws_sdk_cloudformation::Client,
    /// S3 (artifacts and large templates; data buckets with `--purge-data`).
    pub s3: aws_sdk_s3::Client,
    /// KMS (only `down --purge-data` uses it, to schedule the retained key's deletion).
    pub kms: aws_sdk_kms::Client,
}

/// The endpoint requests go to: `AWS_ENDPOINT_URL` when set, else the environment's emulator
/// endpoint, else AWS's own endpoints (`None`).
pub fn endpoint_for(env: &Environment) -> Option<String> {
    std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .or_else(|| env.emulator.as_ref().map(|e| e.endpoint.clone()))
}

impl Aws {
    /// Loads the configuration for `env`. Nothing is sent to AWS yet.
    ///
    /// Emulator environments are signed with fixed dummy credentials: the emulator accepts any, and
    /// a developer's real credentials are then never sent to a local process.
    pub async fn load(env: &Environment, options: &AwsOptions) -> Aws {
        let endpoint = endpoint_for(env);
        // rustls on ring: see the workspace manifest for why not the SDK's default client.
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .region(SdkRegion::new(env.canary_region().as_str().to_owned()))
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if env.is_local() {
            loader = loader.credentials_provider(Credentials::new(
                "mst-emulator",
                "mst-emulator",
                None,
                None,
                "emulator",
            ));
        }
        Aws {
            config: loader.load().await,
            endpoint,
        }
    }

    /// The shared SDK configuration (for clients of other services, as the end-to-end tests use).
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// The endpoint override in force, if any.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// An STS client (in the canary region).
    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.config)
    }

    /// The clients of `region`.
    pub fn region(&self, region: &Region) -> RegionClients {
        let sdk_region = SdkRegion::new(region.as_str().to_owned());
        let cloudformation = aws_sdk_cloudformation::Client::from_conf(
            aws_sdk_cloudformation::config::Builder::from(&self.config)
                .region(sdk_region.clone())
                .build(),
        );
        // Emulators serve buckets on paths, not on per-bucket host names.
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&self.config)
                .region(sdk_region.clone())
                .force_path_style(self.endpoint.is_some())
                .build(),
        );
        let kms = aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(&self.config)
                .region(sdk_region)
                .build(),
        );
        RegionClients {
            region: region.clone(),
            cloudformation,
            s3,
            kms,
        }
    }
}

/// Checks that the caller's account (STS `GetCallerIdentity`) is the environment's, before any
/// change. Missing or expired credentials surface here as [`Error::Credentials`].
pub async fn check_account(sts: &aws_sdk_sts::Client, env: &Environment) -> Result<String, Error> {
    let region = env.canary_region().as_str();
    let identity = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| api_error("GetCallerIdentity", region, e))?;
    let actual = identity.account().unwrap_or_default().to_owned();
    if actual != env.account.as_str() {
        return Err(Error::WrongAccount {
            env: env.name.as_str().to_owned(),
            expected: env.account.as_str().to_owned(),
            actual,
        });
    }
    Ok(actual)
}
