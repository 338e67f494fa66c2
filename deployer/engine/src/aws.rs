//! AWS access for the engine: clients per region over the one connection of `aws-connect` (client,
//! retries, timeouts, endpoint override, which credentials go where), and the account check that
//! runs before any change.

use std::collections::BTreeMap;

use aws_config::Region as SdkRegion;
use aws_config::SdkConfig;
use aws_connect::{Connection, Target};
use environment::{AccountId, Environment, Region};

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
    assumed: Option<String>,
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
    /// KMS: whether a kept key can be adopted (`DescribeKey`), `down --purge-data` scheduling the
    /// retained key's deletion, the replica key by its alias (JSON calls on this connection,
    /// without KMS's SDK crate: see [`aws_connect::json`]).
    pub kms: aws_connect::json::JsonClient,
    /// SNS (after `up`: which alert addresses confirmed their subscription).
    pub sns: aws_sdk_sns::Client,
    /// Secrets Manager (after `up`: whether the InfluxDB token's secret holds a value; never read).
    pub secretsmanager: aws_sdk_secretsmanager::Client,
    /// STS: the account check before any stack operation in the region.
    pub sts: aws_sdk_sts::Client,
    /// CloudWatch: the pipeline's alarms (rollback triggers, the canary's bake).
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// SSM: the scraper's `latest` AMI, read once from AWS's public parameter (one JSON call on
    /// this connection, without SSM's SDK crate: see [`aws_connect::json`]).
    pub ssm: aws_connect::json::JsonClient,
    /// EC2 Auto Scaling (`status`: each scraper shard's instance and its health; one Query call on
    /// this connection, without Auto Scaling's SDK crate: see [`aws_connect::query`]).
    pub autoscaling: aws_connect::query::QueryClient,
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
            assumed: None,
        }
    }

    /// This connection acting as `role_arn`, in a session named `session` (see
    /// [`aws_connect::Connection::assume_role`]).
    pub async fn assume(&self, role_arn: &str, session: &str) -> Aws {
        Aws {
            connection: self.connection.assume_role(role_arn, session).await,
            assumed: Some(role_arn.to_owned()),
        }
    }

    /// The role this connection assumed, if any.
    pub fn assumed_role(&self) -> Option<&str> {
        self.assumed.as_deref()
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
        let kms =
            aws_connect::json::JsonClient::new(config, region.as_str(), aws_connect::json::KMS);
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
        let ssm =
            aws_connect::json::JsonClient::new(config, region.as_str(), aws_connect::json::SSM);
        let autoscaling = aws_connect::query::QueryClient::new(
            config,
            region.as_str(),
            aws_connect::query::AUTOSCALING,
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
            ssm,
            autoscaling,
            credentials: self.credentials(),
        }
    }

    /// Where the credentials come from, as messages name it.
    pub fn credentials(&self) -> String {
        if let Some(role) = &self.assumed {
            return format!("the assumed role `{role}`");
        }
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
/// the caller is in the account the environment deploys `region` to; returns the account. A wrong account is
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
    let expected = env
        .regions
        .iter()
        .find(|r| r.as_str() == region)
        .map_or(&env.account, |r| env.account_of(r));
    if actual != expected.as_str() {
        return Err(Error::WrongAccount(Box::new(crate::error::WrongAccount {
            env: env.name.as_str().to_owned(),
            region: region.to_owned(),
            expected: expected.as_str().to_owned(),
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

/// The session name of an assumed deploy role: `deployer-` and who deployed, from GitLab's CI
/// variables (`GITLAB_USER_LOGIN`, `CI_JOB_ID`) when set, else the last part of the caller's ARN
/// (the user, or the session of an assumed role); only the characters STS accepts, at most 64.
pub fn session_name(caller_arn: &str, ci_user: Option<&str>, ci_job: Option<&str>) -> String {
    let who = match (ci_user, ci_job) {
        (Some(user), Some(job)) => format!("{user}-job{job}"),
        (Some(user), None) => user.to_owned(),
        _ => caller_arn
            .rsplit('/')
            .next()
            .unwrap_or(caller_arn)
            .to_owned(),
    };
    let clean: String = format!("deployer-{who}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    clean
}

/// The role to assume in `account`: `deploy.roles`' entry, else the deploy role of the bootstrap
/// stack in the account's first region.
pub fn deploy_role(env: &Environment, account: &AccountId, first_region: &Region) -> String {
    stacks::pipeline::deploy_role_arn_of(env, account, first_region)
}

/// True when `caller_arn` (of STS `GetCallerIdentity`) already is a session of `role_arn`, as a
/// CI job that got the deploy role through web identity is.
pub fn is_session_of(caller_arn: &str, role_arn: &str) -> bool {
    let Some((account, name)) = role_arn
        .strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.split_once(":role/"))
    else {
        return false;
    };
    let role_name = name.rsplit('/').next().unwrap_or(name);
    caller_arn
        .strip_prefix(&format!("arn:aws:sts::{account}:assumed-role/{role_name}/"))
        .is_some()
}

/// The connections of an environment's accounts: for an environment without `deploy:`, `base`
/// for its one account; with it, per account, `base` acting as the account's deploy role
/// ([`deploy_role`]; `base` itself when it already is a session of that role), each checked with
/// STS to be in its account before anything else is called.
pub async fn connect_accounts(
    env: &Environment,
    base: &Aws,
) -> Result<BTreeMap<AccountId, Aws>, Error> {
    let canary = env.canary_region().as_str();
    if !env.is_bootstrapped() {
        check_account_in(&base.sts(), env, canary, &base.credentials()).await?;
        return Ok(BTreeMap::from([(env.account.clone(), base.clone())]));
    }
    let caller = base
        .sts()
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| api_error("GetCallerIdentity", canary, e))?;
    let caller_arn = caller.arn().unwrap_or_default().to_owned();
    let session = session_name(
        &caller_arn,
        std::env::var("GITLAB_USER_LOGIN").ok().as_deref(),
        std::env::var("CI_JOB_ID").ok().as_deref(),
    );
    let mut out = BTreeMap::new();
    // With `dr:`, the DR region's account too (when no region is in it).
    for (account, first) in stacks::pipeline::deploy_accounts(env) {
        let first = &first;
        let role = deploy_role(env, &account, first);
        let aws = if is_session_of(&caller_arn, &role) {
            base.clone()
        } else {
            base.assume(&role, &session).await
        };
        let sts = aws.region(first).sts;
        match check_account_in(&sts, env, first.as_str(), &aws.credentials()).await {
            Ok(_) => {}
            Err(Error::Aws(error)) if aws.assumed_role().is_some() => {
                return Err(Error::Other(format!(
                    "cannot act as {role} in account {} ({}); if the account is not bootstrapped yet, run `deployer bootstrap --env {}` with its administrator's credentials, and check that `deploy.principals` (or `deploy.gitlab`) names who you are: {caller_arn}",
                    account.as_str(),
                    error,
                    env.name.as_str()
                )));
            }
            Err(other) => return Err(other),
        }
        tracing::info!(
            "account {}: acting as {role} (session {session})",
            account.as_str()
        );
        out.insert(account, aws);
    }
    Ok(out)
}
