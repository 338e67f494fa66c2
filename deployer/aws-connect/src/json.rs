//! Calls to an AWS JSON-protocol API (`awsJson1.1`: a `POST /` naming the operation in
//! `X-Amz-Target`, JSON both ways) for a service the deployer needs one operation of: SSM's
//! `GetParameter` (the scraper's `latest` AMI), Glue's `GetTable` and Firehose's
//! `DescribeDeliveryStream` (`verify`), ACM's `GetCertificate` (`deployer vpn profile`), KMS's
//! `DescribeKey`, `ScheduleKeyDeletion` and `ListAliases` (adopting kept data, `down --purge-data`,
//! the replica key). SSM's and Glue's generated crates compile 146 and 265 operations: 56 s and
//! 96 s of one core in every cold debug build, and again in clippy's. Connection, signing, retries
//! and errors are [`signed`](crate::signed)'s, shared with [`query`](crate::query).

use aws_config::SdkConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, OrchestratorError};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::error::metadata::ErrorMetadata;
use serde_json::Value;

use crate::signed::{self, DirectResult, Service, ServiceError};

/// One JSON API: its service and the prefix of its operations in `X-Amz-Target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonApi {
    /// The service (signing name, SDK service id).
    pub service: Service,
    /// The target prefix, such as `AmazonSSM` (`X-Amz-Target: AmazonSSM.GetParameter`).
    pub target_prefix: &'static str,
}

impl JsonApi {
    /// The API of `service` whose operations are `target_prefix.Operation`.
    pub const fn new(service: Service, target_prefix: &'static str) -> JsonApi {
        JsonApi {
            service,
            target_prefix,
        }
    }
}

/// AWS Systems Manager.
pub const SSM: JsonApi = JsonApi::new(Service::new("ssm", "SSM"), "AmazonSSM");
/// AWS Glue.
pub const GLUE: JsonApi = JsonApi::new(Service::new("glue", "Glue"), "AWSGlue");
/// AWS Certificate Manager.
pub const ACM: JsonApi = JsonApi::new(Service::new("acm", "ACM"), "CertificateManager");
/// Amazon Data Firehose.
pub const FIREHOSE: JsonApi =
    JsonApi::new(Service::new("firehose", "Firehose"), "Firehose_20150804");
/// AWS Key Management Service.
pub const KMS: JsonApi = JsonApi::new(Service::new("kms", "KMS"), "TrentService");

/// A client of one JSON API in one region, made from the deployer's one SDK configuration
/// ([`Connection::sdk_config`](crate::Connection::sdk_config)).
#[derive(Debug, Clone)]
pub struct JsonClient {
    config: SdkConfig,
    region: String,
    api: JsonApi,
}

impl JsonClient {
    /// The client of `api` in `region`.
    pub fn new(config: &SdkConfig, region: &str, api: JsonApi) -> JsonClient {
        JsonClient {
            config: config.clone(),
            region: region.to_owned(),
            api,
        }
    }

    /// The region requests are signed for and sent to.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Sends `operation` with `input` (its members as the API reference names them) and returns
    /// the answer's JSON.
    pub async fn call(&self, operation: &'static str, input: Value) -> DirectResult<Value> {
        let target = format!("{}.{operation}", self.api.target_prefix);
        signed::operation(&self.config, &self.region, self.api.service, operation)
            .map_err(SdkError::construction_failure)?
            .serializer(move |input: Value| json_request(&target, &input))
            .deserializer(read_answer)
            .build()
            .invoke(input)
            .await
    }
}

/// The `POST /` of `input`; the orchestrator puts the endpoint in front of the path.
fn json_request(target: &str, input: &Value) -> Result<HttpRequest, BoxError> {
    let mut request = HttpRequest::new(SdkBody::from(serde_json::to_vec(input)?));
    request.set_method("POST")?;
    request.set_uri("/")?;
    request
        .headers_mut()
        .insert("Content-Type", "application/x-amz-json-1.1");
    request
        .headers_mut()
        .try_insert("X-Amz-Target", target.to_owned())?;
    Ok(request)
}

pub(crate) fn read_answer(
    response: &HttpResponse,
) -> Result<Value, OrchestratorError<ServiceError>> {
    let text = signed::body_text(response)
        .map_err(|e| OrchestratorError::other(format!("the answer is not UTF-8: {e}")))?;
    let status = response.status().as_u16();
    if response.status().is_success() {
        if text.trim().is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_str(text)
            .map_err(|e| OrchestratorError::other(format!("the answer is not JSON: {e}")))
    } else {
        let header = response.headers().get("x-amzn-errortype");
        let request_id = response.headers().get("x-amzn-requestid");
        Err(OrchestratorError::operation(error_of(
            status, header, request_id, text,
        )))
    }
}

/// The code (from `X-Amzn-ErrorType` or the body's `__type`/`code`, without its namespace and
/// anything after `:`), message and request id of an error answer.
fn error_of(
    status: u16,
    type_header: Option<&str>,
    request_id: Option<&str>,
    body: &str,
) -> ServiceError {
    let document: Value = serde_json::from_str(body).unwrap_or_default();
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| document.get(*name).and_then(Value::as_str))
    };
    let mut builder = ErrorMetadata::builder();
    if let Some(code) = type_header
        .or_else(|| field(&["__type", "code"]))
        .map(sanitize_code)
        .filter(|code| !code.is_empty())
    {
        builder = builder.code(code);
    }
    if let Some(message) = field(&["message", "Message", "errorMessage"]) {
        builder = builder.message(message);
    }
    if let Some(id) = request_id {
        builder = builder.custom("aws_request_id", id);
    }
    ServiceError::new(status, builder.build())
}

/// `aws.protocoltests.restjson#FooError:http://internal.amazon.com/...` → `FooError`.
fn sanitize_code(code: &str) -> &str {
    let code = code.split(':').next().unwrap_or_default();
    code.rsplit('#').next().unwrap_or_default().trim()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
    use super::*;
    use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;

    #[test]
    fn the_request_names_its_target_and_carries_the_input() {
        let request = json_request(
            "AmazonSSM.GetParameter",
            &serde_json::json!({"Name": "/aws/service/x"}),
        )
        .unwrap();
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri(), "/");
        assert_eq!(
            request.headers().get("x-amz-target"),
            Some("AmazonSSM.GetParameter")
        );
        assert_eq!(
            request.headers().get("content-type"),
            Some("application/x-amz-json-1.1")
        );
        assert_eq!(
            request.body().bytes(),
            Some(&br#"{"Name":"/aws/service/x"}"#[..])
        );
    }

    #[test]
    fn error_codes_lose_their_namespace_and_suffix() {
        let glue = error_of(
            400,
            None,
            Some("r-1"),
            r#"{"__type":"com.amazonaws.glue#EntityNotFoundException","Message":"Table quotes not found."}"#,
        );
        assert_eq!(glue.code(), Some("EntityNotFoundException"));
        assert_eq!(glue.message(), Some("Table quotes not found."));
        assert_eq!(glue.meta().extra("aws_request_id"), Some("r-1"));

        let header = error_of(
            400,
            Some("ParameterNotFound:http://internal.amazon.com/coral/"),
            None,
            r#"{"message":"no such parameter"}"#,
        );
        assert_eq!(header.code(), Some("ParameterNotFound"));
        assert_eq!(header.to_string(), "ParameterNotFound: no such parameter");

        let unreadable = error_of(502, None, None, "<html>Bad Gateway</html>");
        assert_eq!(unreadable.code(), None);
        assert_eq!(unreadable.status(), 502);
    }
}
