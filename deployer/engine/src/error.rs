//! The engine's error type.

use std::fmt;

use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Why an engine operation failed. Every message is one readable sentence for the user; none
/// contains credentials.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable credentials: missing, expired or rejected.
    #[error("{0}")]
    Credentials(String),
    /// The credentials belong to another account than the environment's.
    #[error(
        "refusing to deploy: the credentials are for account {actual}, but environment `{env}` deploys to account {expected}; use the matching profile (--profile) or fix `account` in environments/{env}.yaml"
    )]
    WrongAccount {
        /// The environment's name.
        env: String,
        /// The environment's account.
        expected: String,
        /// The caller's account.
        actual: String,
    },
    /// An AWS API call failed.
    #[error("{operation} ({region}): {message}")]
    Api {
        /// The operation, such as `CreateChangeSet mst-prod-pipeline`.
        operation: String,
        /// The region it was sent to.
        region: String,
        /// The service's error code and message, or the transport error.
        message: String,
    },
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
        status: String,
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
        status: String,
        /// The first resource that failed and why, when CloudFormation reported one.
        failure: Option<Box<ResourceFailure>>,
    },
    /// The templates could not be synthesized.
    #[error(transparent)]
    Synth(#[from] synth::SynthError),
    /// Anything else, already phrased for the user.
    #[error("{0}")]
    Other(String),
}

/// The resource that made a stack operation fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceFailure {
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// Status, such as `CREATE_FAILED`.
    pub status: String,
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

/// Turns an SDK error into [`Error::Api`], or into [`Error::Credentials`] when the cause is the
/// credentials, so the user gets one sentence and what to run rather than an error chain.
pub fn api_error<E, R>(operation: impl Into<String>, region: &str, error: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    let code = error.code().map(str::to_owned);
    let message = match (&code, error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.clone(),
        _ => DisplayErrorContext(&error).to_string(),
    };
    if let Some(sentence) = credentials_problem(code.as_deref(), &message) {
        return Error::Credentials(sentence);
    }
    Error::Api {
        operation: operation.into(),
        region: region.to_owned(),
        message,
    }
}

/// The one sentence for a credentials problem, or `None` when the error is something else.
fn credentials_problem(code: Option<&str>, message: &str) -> Option<String> {
    const FIX: &str = "run `aws configure` (or `aws sso login --profile NAME` for SSO profiles) and pass the profile with --profile or AWS_PROFILE";
    match code {
        Some("ExpiredToken" | "ExpiredTokenException" | "RequestExpired") => {
            return Some(format!("the AWS credentials have expired: {FIX}."));
        }
        Some(
            "InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "SignatureDoesNotMatch"
            | "AuthFailure",
        ) => {
            return Some(format!(
                "AWS rejected the credentials ({}): {FIX}.",
                code.unwrap_or_default()
            ));
        }
        _ => {}
    }
    let lower = message.to_lowercase();
    if lower.contains("sso") && (lower.contains("expired") || lower.contains("token")) {
        return Some(format!(
            "the AWS SSO session has expired or is missing: {FIX}."
        ));
    }
    if lower.contains("credential")
        && (lower.contains("no ")
            || lower.contains("not loaded")
            || lower.contains("failed to load")
            || lower.contains("provider"))
    {
        return Some(format!("no AWS credentials were found: {FIX}."));
    }
    if lower.contains("expired") && lower.contains("token") {
        return Some(format!("the AWS credentials have expired: {FIX}."));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::credentials_problem;

    #[test]
    fn credential_errors_become_one_sentence() {
        let missing = credentials_problem(
            None,
            "dispatch failure: other: no credentials provider chain provided credentials",
        );
        assert!(missing.is_some_and(|s| s.starts_with("no AWS credentials were found")));
        let expired = credentials_problem(
            Some("ExpiredToken"),
            "The security token included in the request is expired",
        );
        assert!(expired.is_some_and(|s| s.contains("expired")));
        assert_eq!(
            credentials_problem(Some("Throttling"), "Rate exceeded"),
            None
        );
    }
}
