//! AWS access for the engine: clients per region over the one connection of `aws-connect` (client,
//! retries, timeouts, endpoint override, which credentials go where), and the account check that
//! runs before any change.

use aws_config::Region as SdkRegion;
use aws_config::SdkConfig;
use aws_connect::{Connection, Target};
use environment::{Environment, Region};

use crate::{Error, api_error};

/// How the user asked to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// A named profile of `~/.aws/config` (`--profile`); `None` uses the standard chain
    /// (environment variables, `AWS_PROFILE`, SSO, web identity, container and instance roles).
    pub profile: Option<String>,
}

/// The connection shared by every region.
#[derive(Debug, Clone)]
pub struct Aws {
    connection: Connection,
}

/// The clients of one region.
#[derive(Debug, Clone)]
pub struct RegionClients {
    /// The region.
    pub region: Region,
    /// CloudFormation.
    pub cloudformation: aws_sdk_cloudformation::Client,
    /// S3 (artifacts and large templates; finding kept buckets before a create; data buckets with
    /// `--purge-data`).
    pub s3: aws_sdk_s3::Client,
    /// KMS: whether a kept key can be adopted (`DescribeKey`), and `down --purge-data` scheduling
    /// the retained key's deletion.
    pub kms: aws_sdk_kms::Client,
    /// SNS (after `up`: which alert addresses confirmed their subscription).
    pub sns: aws_sdk_sns::Client,
    /// Secrets Manager (after `up`: whether the InfluxDB token's secret holds a value; never read).
    pub secretsmanager: aws_sdk_secretsmanager::Client,
    /// STS: the account check before any stack operation in the region.
    pub sts: aws_sdk_sts::Client,
    /// CloudWatch: the pipeline's alarms (rollback triggers, the canary's bake).
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// Where the credentials come from, for messages: `profile \`ci\``, `the default credential
    /// chain` or `the emulator's fixed credentials`.
    pub credentials: String,
}

/// What `env` asks for: its canary region, `AWS_ENDPOINT_URL` or its emulator endpoint, `options`'
/// profile.
pub fn target(env: &Environment, options: &AwsOptions) -> Target {
    Target {
        region: env.canary_region().as_str().to_owned(),
        endpoint: aws_connect::endpoint_override(
            env.emulator.as_ref().map(|e| e.endpoint.as_str()),
        ),
        profile: options.profile.clone(),
    }
}

impl Aws {
    /// Loads the configuration for `env` (see [`target`]). Nothing is sent to AWS yet.
    pub async fn load(env: &Environment, options: &AwsOptions) -> Aws {
        Aws {
            connection: Connection::load(&target(env, options)).await,
        }
    }

    /// The connection (endpoint, profile, whether it is an emulator).
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The shared SDK configuration (for clients of other services, as the end-to-end tests use).
    pub fn sdk_config(&self) -> &SdkConfig {
        self.connection.sdk_config()
    }

    /// The endpoint override in force, if any.
    pub fn endpoint(&self) -> Option<&str> {
        self.connection.endpoint()
    }

    /// An STS client (in the canary region).
    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(self.sdk_config())
    }

    /// The clients of `region`.
    pub fn region(&self, region: &Region) -> RegionClients {
        let sdk_region = SdkRegion::new(region.as_str().to_owned());
        let config = self.sdk_config();
        let cloudformation = aws_sdk_cloudformation::Client::from_conf(
            aws_sdk_cloudformation::config::Builder::from(config)
                .region(sdk_region.clone())
                .build(),
        );
        // Emulators serve buckets on paths, not on per-bucket host names.
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(config)
                .region(sdk_region.clone())
                .force_path_style(self.endpoint().is_some())
                .build(),
        );
        let kms = aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(config)
                .region(sdk_region.clone())
                .build(),
        );
        let sns = aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(config)
                .region(sdk_region.clone())
                .build(),
        );
        let secretsmanager = aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::config::Builder::from(config)
                .region(sdk_region.clone())
                .build(),
        );
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(config)
                .region(sdk_region.clone())
                .build(),
        );
        let cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(config)
                .region(sdk_region)
                .build(),
        );
        RegionClients {
            region: region.clone(),
            cloudformation,
            s3,
            kms,
            sns,
            secretsmanager,
            sts,
            cloudwatch,
            credentials: self.credentials(),
        }
    }

    /// Where the credentials come from, as messages name it.
    pub fn credentials(&self) -> String {
        match self.connection.profile() {
            _ if self.connection.is_emulator() => "the emulator's fixed credentials".to_owned(),
            Some(profile) => format!("profile `{profile}`"),
            None => "the default credential chain".to_owned(),
        }
    }
}

/// Checks that the caller's account (STS `GetCallerIdentity`) is the environment's, in the canary
/// region, before any change. Missing or expired credentials and an unreachable endpoint surface
/// here, as the first call. See [`check_account_in`].
pub async fn check_account(sts: &aws_sdk_sts::Client, env: &Environment) -> Result<String, Error> {
    check_account_in(
        sts,
        env,
        env.canary_region().as_str(),
        "the default credential chain",
    )
    .await
}

/// Checks with `sts` (a client of `region`, using the credentials `credentials` describes) that
/// the caller is in the environment's account; returns the account. A wrong account is
/// [`Error::WrongAccount`], naming both accounts, the caller's ARN (the user or role) and where
/// the credentials came from.
pub async fn check_account_in(
    sts: &aws_sdk_sts::Client,
    env: &Environment,
    region: &str,
    credentials: &str,
) -> Result<String, Error> {
    let identity = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| api_error("GetCallerIdentity", region, e))?;
    let actual = identity.account().unwrap_or_default().to_owned();
    if actual != env.account.as_str() {
        return Err(Error::WrongAccount(Box::new(crate::error::WrongAccount {
            env: env.name.as_str().to_owned(),
            region: region.to_owned(),
            expected: env.account.as_str().to_owned(),
            actual,
            caller: identity.arn().unwrap_or("an unknown caller").to_owned(),
            credentials: credentials.to_owned(),
        })));
    }
    Ok(actual)
}

/// [`check_account_in`] for the region of `clients`.
pub async fn check_region_account(
    clients: &RegionClients,
    env: &Environment,
) -> Result<String, Error> {
    check_account_in(
        &clients.sts,
        env,
        clients.region.as_str(),
        &clients.credentials,
    )
    .await
}
