//! Calls to an AWS Query-protocol API (a form-encoded `POST` answered in XML) for a service the
//! deployer needs a few operations of: EC2's Client VPN exports (`deployer vpn`), EC2 Auto
//! Scaling's `DescribeAutoScalingGroups` (`deployer status`) and IAM's role reads (`policy diff
//! --against-deployed`). A generated SDK crate compiles every
//! operation of its service: `aws-sdk-ec2`'s 756 took 3 minutes of one core in every cold debug
//! build, and again in clippy's, for `deployer vpn`'s two calls. Connection, signing, retries and errors are
//! [`signed`](crate::signed)'s, shared with [`json`](crate::json).

use aws_config::SdkConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, OrchestratorError};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::error::metadata::ErrorMetadata;
use aws_smithy_xml::decode::{Document, ScopedDecoder, try_data};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::signed::{self, DirectResult, Service, ServiceError};

/// One Query API: its service and the version every request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryApi {
    /// The service (signing name, SDK service id).
    pub service: Service,
    /// The API version (`Version=`), such as `2016-11-15`.
    pub version: &'static str,
}

impl QueryApi {
    /// The API of `service` at `version`.
    pub const fn new(service: Service, version: &'static str) -> QueryApi {
        QueryApi { service, version }
    }
}

/// Amazon EC2 (every current EC2 operation is in this version).
pub const EC2: QueryApi = QueryApi::new(Service::new("ec2", "EC2"), "2016-11-15");
/// Amazon EC2 Auto Scaling.
pub const AUTOSCALING: QueryApi =
    QueryApi::new(Service::new("autoscaling", "Auto Scaling"), "2011-01-01");
/// AWS Identity and Access Management: one endpoint per partition, whatever the client's region.
pub const IAM: QueryApi = QueryApi::new(Service::global("iam", "IAM"), "2010-05-08");

/// A client of one Query API in one region, made from the deployer's one SDK configuration
/// ([`Connection::sdk_config`](crate::Connection::sdk_config)).
#[derive(Debug, Clone)]
pub struct QueryClient {
    config: SdkConfig,
    region: String,
    api: QueryApi,
}

/// A successful answer: its XML, read by element name ([`QueryAnswer::text`]), by path
/// ([`QueryAnswer::texts`]), or whole for lists of structures (`aws_smithy_xml::decode`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryAnswer {
    xml: String,
}

/// The characters a form value keeps as they are (`application/x-www-form-urlencoded` as AWS's
/// Query services read it: RFC 3986's unreserved characters).
const FORM_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

impl QueryClient {
    /// The client of `api` in `region`.
    pub fn new(config: &SdkConfig, region: &str, api: QueryApi) -> QueryClient {
        QueryClient {
            config: config.clone(),
            region: region.to_owned(),
            api,
        }
    }

    /// The region requests are signed for and sent to.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Sends `action` with `params` (name and value pairs, as the API reference names them).
    pub async fn call(
        &self,
        action: &'static str,
        params: &[(&str, &str)],
    ) -> DirectResult<QueryAnswer> {
        let body = form_body(action, self.api.version, params);
        signed::operation(&self.config, &self.region, self.api.service, action)
            .map_err(SdkError::construction_failure)?
            .serializer(form_request)
            .deserializer(read_answer)
            .build()
            .invoke(body)
            .await
    }
}

impl QueryAnswer {
    /// The text of the first element named `name` directly under the root, entities decoded.
    pub fn text(&self, name: &str) -> Option<String> {
        self.text_at(&[name])
    }

    /// The answer's XML as it came.
    pub fn xml(&self) -> &str {
        &self.xml
    }

    /// The text of every element at `path` below the root, in document order, entities decoded:
    /// `["ListRolePoliciesResult", "PolicyNames", "member"]` gives each policy name. An element on
    /// the path's end that holds elements instead of text gives nothing.
    pub fn texts(&self, path: &[&str]) -> Vec<String> {
        let mut found = Vec::new();
        let mut document = Document::new(&self.xml);
        if let Ok(mut root) = document.root_element() {
            collect_texts(&mut root, path, &mut found);
        }
        found
    }

    /// The text of the first element at `path` below the root (see [`QueryAnswer::texts`]).
    pub fn text_at(&self, path: &[&str]) -> Option<String> {
        self.texts(path).into_iter().next()
    }
}

fn collect_texts(scope: &mut ScopedDecoder<'_, '_>, path: &[&str], found: &mut Vec<String>) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    while let Some(mut element) = scope.next_tag() {
        if element.start_el().local() != *first {
            continue;
        }
        if rest.is_empty() {
            found.extend(leaf_text(&mut element));
        } else {
            collect_texts(&mut element, rest, found);
        }
    }
}

/// `Action=…&Version=…&name=value…`, every value form-encoded.
fn form_body(action: &str, version: &str, params: &[(&str, &str)]) -> String {
    [("Action", action), ("Version", version)]
        .iter()
        .chain(params)
        .map(|(name, value)| {
            format!(
                "{}={}",
                utf8_percent_encode(name, FORM_VALUE),
                utf8_percent_encode(value, FORM_VALUE)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The `POST /` of a form body; the orchestrator puts the endpoint in front of the path.
fn form_request(body: String) -> Result<HttpRequest, BoxError> {
    let mut request = HttpRequest::new(SdkBody::from(body));
    request.set_method("POST")?;
    request.set_uri("/")?;
    request.headers_mut().insert(
        "Content-Type",
        "application/x-www-form-urlencoded; charset=utf-8",
    );
    Ok(request)
}

fn read_answer(response: &HttpResponse) -> Result<QueryAnswer, OrchestratorError<ServiceError>> {
    let text = signed::body_text(response)
        .map_err(|e| OrchestratorError::other(format!("the answer is not UTF-8: {e}")))?;
    let status = response.status().as_u16();
    if response.status().is_success() {
        Document::new(text)
            .root_element()
            .map(|_| QueryAnswer {
                xml: text.to_owned(),
            })
            .map_err(|e| OrchestratorError::other(format!("the answer is not XML: {e}")))
    } else {
        Err(OrchestratorError::operation(error_of(status, text)))
    }
}

/// The text of an element that holds no elements (`None` for one that does, whatever text comes
/// before its first element).
fn leaf_text(element: &mut ScopedDecoder<'_, '_>) -> Option<String> {
    let text = try_data(element).ok()?.into_owned();
    element.next_tag().is_none().then_some(text)
}

/// The code, message and request id of an error answer, wherever its `Error` element is:
/// `<Response><Errors><Error>` (EC2) or `<ErrorResponse><Error>` (the other Query services).
fn error_of(status: u16, xml: &str) -> ServiceError {
    let mut builder = ErrorMetadata::builder();
    let mut document = Document::new(xml);
    if let Ok(mut root) = document.root_element() {
        while let Some(mut element) = root.next_tag() {
            match element.start_el().local() {
                "Errors" => {
                    if let Some(mut error) = element.next_tag() {
                        builder = read_error(&mut error, builder);
                    }
                }
                "Error" => builder = read_error(&mut element, builder),
                "RequestID" | "RequestId" => {
                    if let Ok(id) = try_data(&mut element) {
                        builder = builder.custom("aws_request_id", id.into_owned());
                    }
                }
                _ => {}
            }
        }
    }
    ServiceError::new(status, builder.build())
}

fn read_error(
    error: &mut ScopedDecoder<'_, '_>,
    mut builder: aws_smithy_types::error::metadata::Builder,
) -> aws_smithy_types::error::metadata::Builder {
    while let Some(mut field) = error.next_tag() {
        let name = field.start_el().local().to_owned();
        let Ok(text) = try_data(&mut field) else {
            continue;
        };
        match name.as_str() {
            "Code" => builder = builder.code(text.trim()),
            "Message" => builder = builder.message(text.trim()),
            _ => {}
        }
    }
    builder
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
    use super::*;

    #[test]
    fn values_are_form_encoded_after_action_and_version() {
        let crl = "-----BEGIN X509 CRL-----\nMIIB+/a=\n-----END X509 CRL-----\n";
        assert_eq!(
            form_body(
                "ImportClientVpnClientCertificateRevocationList",
                "2016-11-15",
                &[
                    ("ClientVpnEndpointId", "cvpn-endpoint-0123"),
                    ("CertificateRevocationList", crl),
                ],
            ),
            "Action=ImportClientVpnClientCertificateRevocationList&Version=2016-11-15\
             &ClientVpnEndpointId=cvpn-endpoint-0123\
             &CertificateRevocationList=-----BEGIN%20X509%20CRL-----%0AMIIB%2B%2Fa%3D%0A-----END%20X509%20CRL-----%0A"
        );
    }

    #[test]
    fn an_answer_gives_the_text_of_its_root_fields_with_entities_decoded() {
        let answer = QueryAnswer {
            xml: r#"<?xml version="1.0" encoding="UTF-8"?>
<ExportClientVpnClientConfigurationResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>7d4b5e1c</requestId>
    <nested><a>1</a></nested>
    <clientConfiguration>client
&lt;ca&gt;
x
&lt;/ca&gt;
</clientConfiguration>
</ExportClientVpnClientConfigurationResponse>"#
                .to_owned(),
        };
        assert_eq!(answer.text("requestId").as_deref(), Some("7d4b5e1c"));
        assert_eq!(
            answer.text("clientConfiguration").as_deref(),
            Some("client\n<ca>\nx\n</ca>\n")
        );
        assert_eq!(answer.text("nested"), None, "an element of elements");
        assert_eq!(answer.text("missing"), None);
    }

    #[test]
    fn texts_are_found_along_a_path_of_nested_elements() {
        let xml = r#"<ListRolePoliciesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <ListRolePoliciesResult>
    <PolicyNames>
      <member>Read</member>
      <member>Write&amp;Delete</member>
    </PolicyNames>
    <IsTruncated>false</IsTruncated>
  </ListRolePoliciesResult>
  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>
</ListRolePoliciesResponse>"#;
        let answer = QueryAnswer {
            xml: xml.to_owned(),
        };
        assert_eq!(
            answer.texts(&["ListRolePoliciesResult", "PolicyNames", "member"]),
            ["Read", "Write&Delete"]
        );
        assert_eq!(
            answer
                .text_at(&["ListRolePoliciesResult", "IsTruncated"])
                .as_deref(),
            Some("false")
        );
        assert_eq!(answer.text_at(&["ListRolePoliciesResult", "Marker"]), None);
        assert!(
            answer
                .texts(&["ListRolePoliciesResult", "PolicyNames"])
                .is_empty(),
            "a list is not a text"
        );
        assert_eq!(answer.text("ListRolePoliciesResult"), None);
    }

    #[test]
    fn errors_are_read_from_ec2s_and_the_other_services_shapes() {
        let ec2 = error_of(
            400,
            "<Response><Errors><Error><Code>InvalidClientVpnEndpointId.NotFound</Code>\
             <Message>The Client VPN endpoint ID 'cvpn-endpoint-1' does not exist</Message></Error></Errors>\
             <RequestID>ea966190</RequestID></Response>",
        );
        use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;
        assert_eq!(ec2.code(), Some("InvalidClientVpnEndpointId.NotFound"));
        assert_eq!(
            ec2.message(),
            Some("The Client VPN endpoint ID 'cvpn-endpoint-1' does not exist")
        );
        assert_eq!(ec2.meta().extra("aws_request_id"), Some("ea966190"));
        assert_eq!(ec2.status(), 400);

        let iam = error_of(
            403,
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
             <Code>AccessDenied</Code><Message>not allowed</Message></Error><RequestId>r-1</RequestId></ErrorResponse>",
        );
        assert_eq!(iam.code(), Some("AccessDenied"));
        assert_eq!(iam.to_string(), "AccessDenied: not allowed");

        let unreadable = error_of(503, "Service Unavailable");
        assert_eq!(unreadable.code(), None);
        assert_eq!(unreadable.to_string(), "HTTP status 503 and no error code");
    }
}
