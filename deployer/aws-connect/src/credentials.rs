//! The credential chain, labelled: when it finds no credentials (or fails), the error says which
//! profile was asked ([`CredentialsSource`]), so the user's sentence can name it.

use std::error::Error;
use std::fmt;

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};

/// The profile a credentials error is about (`None`: the default chain), with the chain's error.
#[derive(Debug)]
pub(crate) struct CredentialsSource {
    pub(crate) profile: Option<String>,
    source: CredentialsError,
}

impl fmt::Display for CredentialsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.profile {
            Some(profile) => write!(f, "credentials of profile {profile}"),
            None => write!(f, "credentials of the default chain"),
        }
    }
}

impl Error for CredentialsSource {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

/// A provider whose errors carry the profile it reads.
#[derive(Debug)]
pub(crate) struct Labelled {
    inner: SharedCredentialsProvider,
    profile: Option<String>,
}

impl Labelled {
    pub(crate) fn new(inner: SharedCredentialsProvider, profile: Option<String>) -> Labelled {
        Labelled { inner, profile }
    }
}

impl ProvideCredentials for Labelled {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.inner.provide_credentials().await.map_err(|error| {
                let not_loaded = matches!(error, CredentialsError::CredentialsNotLoaded(_));
                let labelled = CredentialsSource {
                    profile: self.profile.clone(),
                    source: error,
                };
                if not_loaded {
                    CredentialsError::not_loaded(labelled)
                } else {
                    CredentialsError::provider_error(labelled)
                }
            })
        })
    }

    fn fallback_on_interrupt(&self) -> Option<Credentials> {
        self.inner.fallback_on_interrupt()
    }
}
