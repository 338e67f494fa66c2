//! The engine's error type.

use std::fmt;

use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudformation::types::{ResourceStatus, StackStatus};

/// Why an engine operation failed. Every message is one readable sentence for the user; none
/// contains credentials.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The credentials belong to another account than the environment's.
    #[error(transparent)]
    WrongAccount(Box<WrongAccount>),
    /// An AWS call failed: the endpoint is unreachable, the credentials are missing, expired or
    /// rejected, access is denied, throttling did not stop, or the service refused the request.
    #[error(transparent)]
    Aws(#[from] aws_connect::CallError),
    /// An artifact could not be built, read or checked.
    #[error(transparent)]
    Artifact(#[from] crate::artifacts::ArtifactError),
    /// A change set could not be created for a reason other than "no changes".
    #[error("change set for {stack} in {region} failed: {reason}")]
    ChangeSetFailed {
        /// Stack name.
        stack: String,
        /// Region.
        region: String,
        /// CloudFormation's status reason.
        reason: String,
    },
    /// The stack is in a state no operation can start from.
    #[error("{stack} in {region} is {status}: {hint}")]
    Blocked {
        /// Stack name.
        stack: String,
        /// Region.
        region: String,
        /// Its status.
        status: StackStatus,
        /// What to do.
        hint: String,
    },
    /// A stack operation ended in failure (after the rollback, when there was one).
    #[error("{stack} in {region} ended {status}{}", failure_text(.failure))]
    StackFailed {
        /// Stack name.
        stack: String,
        /// Region.
        region: String,
        /// Final stack status, such as `UPDATE_ROLLBACK_COMPLETE`.
        status: StackStatus,
        /// The first resource that failed and why, when CloudFormation reported one.
        failure: Option<Box<ResourceFailure>>,
    },
    /// The templates could not be synthesized.
    #[error(transparent)]
    Synth(#[from] synth::SynthError),
    /// An environment with `deploy:` is not bootstrapped (or no longer matches this version's
    /// bootstrap template) in a region.
    #[error(
        "{stack} in {region} (account {account}) {why}: run `deployer bootstrap --env {env}` with credentials of account {account} (an administrator's), then run this again"
    )]
    NotBootstrapped {
        /// The environment.
        env: String,
        /// The bootstrap stack's name.
        stack: String,
        /// Region.
        region: String,
        /// Account.
        account: String,
        /// What is wrong with it.
        why: String,
    },
    /// Anything else, already phrased for the user.
    #[error("{0}")]
    Other(String),
}

/// Credentials of another account than the environment's, as STS reported them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to deploy to {region}: the credentials ({credentials}: {caller}) are for account {actual}, but environment `{env}` deploys to account {expected}; use the matching profile (--profile) or fix `account` in environments/{env}.yaml"
)]
pub struct WrongAccount {
    /// The environment's name.
    pub env: String,
    /// The region checked.
    pub region: String,
    /// The caller's ARN (user or assumed role), as STS reports it.
    pub caller: String,
    /// Where the credentials came from: `profile \`ci\``, `the default credential chain`, ...
    pub credentials: String,
    /// The environment's account.
    pub expected: String,
    /// The caller's account.
    pub actual: String,
}

/// The resource that made a stack operation fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceFailure {
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// Status, such as `CREATE_FAILED`; for a failure only the stack reports, its status.
    pub status: FailureStatus,
    /// CloudFormation's reason.
    pub reason: String,
}

impl fmt::Display for ResourceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) {}: {}",
            self.logical_id, self.resource_type, self.status, self.reason
        )
    }
}

fn failure_text(failure: &Option<Box<ResourceFailure>>) -> String {
    match failure {
        Some(f) => format!("; first failure: {f}"),
        None => String::new(),
    }
}

/// The status of a [`ResourceFailure`]: a resource's, or the stack's when no resource failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureStatus {
    /// A resource's status, such as `CREATE_FAILED`.
    Resource(ResourceStatus),
    /// The stack's status, such as `ROLLBACK_COMPLETE`.
    Stack(StackStatus),
}

impl fmt::Display for FailureStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureStatus::Resource(status) => f.write_str(status.as_str()),
            FailureStatus::Stack(status) => f.write_str(status.as_str()),
        }
    }
}

/// Turns an SDK error into [`Error::Aws`]: one sentence for the user naming the endpoint, profile
/// or permission and the fix (see `aws_connect::CallError`).
pub fn api_error<E, R>(operation: impl Into<String>, region: &str, error: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    Error::Aws(aws_connect::CallError::new(operation, region, &error))
}
