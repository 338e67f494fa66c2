//! The HTTPS client: rustls on `ring` (see the workspace manifest for why not the SDK's default
//! client), wrapped so that a failed connection names the endpoint it tried ([`Unreachable`]), and so
//! that a refused connection to this machine is not retried: nothing listens there, and waiting
//! through eight attempts would only delay saying so.

use std::error::Error;
use std::fmt;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

use crate::is_loopback;

/// The client every configuration uses.
pub(crate) fn client() -> SharedHttpClient {
    let inner = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    SharedHttpClient::new(NamingClient { inner })
}

/// A connection to `endpoint` failed; the source is the SDK's connector error.
#[derive(Debug)]
pub(crate) struct Unreachable {
    /// Scheme, host and port, such as `https://sts.us-east-1.amazonaws.com`.
    pub(crate) endpoint: String,
    source: ConnectorError,
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot reach {}", self.endpoint)
    }
}

impl Error for Unreachable {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

#[derive(Debug)]
struct NamingClient {
    inner: SharedHttpClient,
}

impl HttpClient for NamingClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(NamingConnector {
            inner: self.inner.http_connector(settings, components),
        })
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct NamingConnector {
    inner: SharedHttpConnector,
}

impl HttpConnector for NamingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let endpoint = origin(request.uri());
        let call = self.inner.call(request);
        HttpConnectorFuture::new(async move { call.await.map_err(|e| named(e, endpoint)) })
    }
}

/// `scheme://host[:port]` of a URI (no path or query: they may hold object keys).
fn origin(uri: &str) -> String {
    let (scheme, rest) = uri.split_once("://").unwrap_or(("https", uri));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    format!("{scheme}://{host_port}")
}

/// The same kind of connector error (so the retry strategy sees what it saw before), with the
/// endpoint in its chain; except that a refused connection to this machine is not retried.
fn named(error: ConnectorError, endpoint: String) -> ConnectorError {
    let local = is_loopback(&endpoint);
    let (timeout, io, user) = (error.is_timeout(), error.is_io(), error.is_user());
    let kind = error.as_other();
    let wrapped = Box::new(Unreachable {
        endpoint,
        source: error,
    });
    if timeout {
        ConnectorError::timeout(wrapped)
    } else if io && !local {
        ConnectorError::io(wrapped)
    } else if user {
        ConnectorError::user(wrapped)
    } else {
        ConnectorError::other(wrapped, kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_leaves_out_paths_and_credentials() {
        assert_eq!(
            origin("https://bucket.s3.eu-west-1.amazonaws.com/key?versionId=1"),
            "https://bucket.s3.eu-west-1.amazonaws.com"
        );
        assert_eq!(origin("http://127.0.0.1:5000/"), "http://127.0.0.1:5000");
        assert_eq!(origin("http://u:p@127.0.0.1:5000"), "http://127.0.0.1:5000");
    }

    #[test]
    fn a_refused_local_connection_is_not_retried_a_remote_one_is() {
        let refused = || {
            ConnectorError::io(Box::new(std::io::Error::from(
                std::io::ErrorKind::ConnectionRefused,
            )))
        };
        let local = named(refused(), "http://127.0.0.1:5000".into());
        assert!(!local.is_io() && local.as_other().is_none());
        let remote = named(refused(), "https://sts.us-east-1.amazonaws.com".into());
        assert!(remote.is_io());
        let timeout = named(
            ConnectorError::timeout("slow".into()),
            "http://127.0.0.1:5000".into(),
        );
        assert!(timeout.is_timeout());
    }
}
