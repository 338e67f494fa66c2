//! Calls to an AWS REST-JSON API (an operation is a method and a path; JSON answers) for a service
//! the deployer reads a few things of: Lambda's `GetFunction` and `ListEventSourceMappings`
//! (`verify`). Lambda's generated crate compiles 85 operations for these two. Connection, signing,
//! retries and errors are [`signed`](crate::signed)'s, shared with [`json`](crate::json) and
//! [`query`](crate::query); the answer and its errors are read as [`json`](crate::json) reads them.

use aws_config::SdkConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::body::SdkBody;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use crate::signed::{self, DirectResult, Service};

/// One REST-JSON API: its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestApi {
    /// The service (signing name, SDK service id).
    pub service: Service,
}

/// AWS Lambda (every path of its current API starts with `/2015-03-31/`).
pub const LAMBDA: RestApi = RestApi {
    service: Service::new("lambda", "Lambda"),
};

/// A `GET` of a REST-JSON API: its path (segments encoded with [`segment`]) and query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Get {
    path: String,
    query: Vec<(String, String)>,
}

impl Get {
    /// `GET path` (already encoded, starting with `/`).
    pub fn path(path: impl Into<String>) -> Get {
        Get {
            path: path.into(),
            query: Vec::new(),
        }
    }

    /// The request with `name=value` added to its query (encoded here).
    pub fn query(mut self, name: &str, value: &str) -> Get {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The request's path and query, as sent.
    fn uri(&self) -> String {
        let query: Vec<String> = self
            .query
            .iter()
            .map(|(name, value)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(name, UNRESERVED),
                    utf8_percent_encode(value, UNRESERVED)
                )
            })
            .collect();
        if query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, query.join("&"))
        }
    }
}

/// RFC 3986's unreserved characters, which a path segment or query value keeps as they are.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `value` as one path segment: a function's ARN keeps its `:` only as `%3A`.
pub fn segment(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED).to_string()
}

/// A client of one REST-JSON API in one region, made from the deployer's one SDK configuration
/// ([`Connection::sdk_config`](crate::Connection::sdk_config)).
#[derive(Debug, Clone)]
pub struct RestClient {
    config: SdkConfig,
    region: String,
    api: RestApi,
}

impl RestClient {
    /// The client of `api` in `region`.
    pub fn new(config: &SdkConfig, region: &str, api: RestApi) -> RestClient {
        RestClient {
            config: config.clone(),
            region: region.to_owned(),
            api,
        }
    }

    /// The region requests are signed for and sent to.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Sends `request`, the operation `operation` (named as the API reference and IAM name it),
    /// and returns the answer's JSON.
    pub async fn call(&self, operation: &'static str, request: Get) -> DirectResult<Value> {
        signed::operation(&self.config, &self.region, self.api.service, operation)
            .map_err(SdkError::construction_failure)?
            .serializer(|request: Get| get_request(&request))
            .deserializer(crate::json::read_answer)
            .build()
            .invoke(request)
            .await
    }
}

/// The `GET` of `request`; the orchestrator puts the endpoint in front of the path.
fn get_request(request: &Get) -> Result<HttpRequest, BoxError> {
    let mut http = HttpRequest::new(SdkBody::empty());
    http.set_method("GET")?;
    http.set_uri(request.uri())?;
    Ok(http)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
    use super::*;

    #[test]
    fn paths_and_queries_are_encoded_as_uri_parts() {
        let arn = "arn:aws:lambda:eu-west-1:444455556666:function:mst-prod-Transform-1";
        let request = get_request(
            &Get::path(format!("/2015-03-31/functions/{}", segment(arn)))
                .query("FunctionName", "a b/c"),
        )
        .unwrap();
        assert_eq!(request.method(), "GET");
        assert_eq!(
            request.uri(),
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A444455556666%3Afunction%3Amst-prod-Transform-1?FunctionName=a%20b%2Fc"
        );
        assert_eq!(request.body().bytes(), Some(&b""[..]));
        assert_eq!(
            get_request(&Get::path("/2015-03-31/functions/f"))
                .unwrap()
                .uri(),
            "/2015-03-31/functions/f"
        );
    }
}
