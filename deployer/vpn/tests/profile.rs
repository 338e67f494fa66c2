//! `deployer vpn profile` and `revoke`: CloudFormation as SDK-level mocks (aws-smithy-mocks), ACM's
//! JSON call over an in-process HTTP client (`testkit::mocks::direct_config`), EC2 as a stand-in
//! HTTP endpoint on 127.0.0.1 (moto has no Client VPN) that records the signed Query requests it
//! gets. The endpoint is found in the pipeline's resources, its exported configuration (real-shaped: AWS's directives and
//! a `<ca>` block) becomes a complete profile holding `<ca>`, `<cert>` and `<key>`, written with mode
//! 0600; certificates from another CA, or expired, are refused before anything is written. The
//! certificates are committed fixtures (tests/fixtures/make.sh says how they were made), checked at
//! fixed times so that they never go stale.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use aws_connect::json::JsonClient;
use aws_connect::query::QueryClient;
use aws_sdk_cloudformation::types::{ResourceStatus, StackResourceSummary};
use aws_smithy_mocks::mock;
use testkit::stand_in::{Answer, Recorded, StandIn};
use vpn::VpnError;
use vpn::certificate::{CertificateError, ClientCertificate};
use vpn::ovpn;

/// Builds a client of any service crate over mock rules.
macro_rules! client {
    ($krate:ident, $rules:expr) => {
        testkit::mock_client!($krate, $rules)
    };
}

const ENDPOINT: &str = "cvpn-endpoint-0123456789abcdef0";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

/// Inside the client certificate's year (it was issued on 2026-12-06 for 365 days).
fn while_valid() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_811_808_000) // 2027-06-01
}

/// After it expired, while its CA is still valid.
fn after_expiry() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_830_297_600) // 2028-01-01
}

/// What ExportClientVpnClientConfiguration returns for a mutual-authentication endpoint: AWS's
/// directives and the CA chain of the server certificate, here the same CA as the clients'.
fn exported(ca_pem: &str) -> String {
    format!(
        "client\ndev tun\nproto udp\nremote {ENDPOINT}.prod.clientvpn.eu-west-1.amazonaws.com 443\nremote-random-hostname\nresolv-retry infinite\nnobind\nremote-cert-tls server\ncipher AES-256-GCM\nverb 3\n<ca>\n{}\n</ca>\n\n\nreneg-sec 0\n\nverify-x509-name server name\n",
        ca_pem.trim()
    )
}

/// The client root CA that issued the operator's certificate.
fn ca() -> String {
    fixture("ca.pem")
}

fn operator() -> ClientCertificate {
    ClientCertificate::from_pem(
        fixture("client.pem"),
        "client.pem",
        fixture("client.key"),
        "client.key",
    )
    .unwrap()
}

/// The EC2 client of the deployer's connection to `stand_in` (a loopback endpoint: signed with the
/// emulator's credentials), for eu-west-1.
async fn ec2_at(stand_in: &StandIn) -> QueryClient {
    let connection = aws_connect::Connection::load(&aws_connect::Target {
        region: "eu-west-1".into(),
        endpoint: Some(stand_in.endpoint().to_owned()),
        profile: None,
    })
    .await;
    vpn::ec2_client(connection.sdk_config(), "eu-west-1")
}

/// XML text: `&`, `<` and `>` escaped.
fn xml_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// EC2's error answer, as its Query API gives it.
fn ec2_error(status: &str, code: &str, message: &str) -> Answer {
    Answer::xml_with_status(
        status,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{}</Message></Error></Errors><RequestID>0f1e2d3c-example</RequestID></Response>",
            xml_text(message)
        ),
    )
}

/// EC2's answer to ExportClientVpnClientConfiguration of [`ENDPOINT`] with `configuration`, or
/// an error naming what else was asked.
fn export_answer(request: &Recorded, configuration: &str) -> Answer {
    if request.form_value("Action").as_deref() != Some("ExportClientVpnClientConfiguration")
        || request.form_value("ClientVpnEndpointId").as_deref() != Some(ENDPOINT)
    {
        return ec2_error("400 Bad Request", "InvalidParameterValue", &request.body);
    }
    Answer::xml(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ExportClientVpnClientConfigurationResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n    <requestId>7d4b5e1c-example</requestId>\n    <clientConfiguration>{}</clientConfiguration>\n</ExportClientVpnClientConfigurationResponse>",
        xml_text(configuration)
    ))
}

/// EC2 standing in on 127.0.0.1, exporting `configuration` for [`ENDPOINT`]; and its client.
async fn ec2_exporting(configuration: String) -> (StandIn, QueryClient) {
    let stand_in = StandIn::start(move |request| export_answer(request, &configuration));
    let client = ec2_at(&stand_in).await;
    (stand_in, client)
}

const CLIENT_ROOT_ARN: &str =
    "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-4a1b-8c2d-3e4f5a6b7c8d";

/// ACM answering GetCertificate for [`CLIENT_ROOT_ARN`] only, with `certificate` and `chain`, as
/// ACM's JSON API does (a direct call of `aws_connect`, no SDK crate); any other certificate is
/// not found.
fn acm_holding(certificate: Option<String>, chain: Option<String>) -> JsonClient {
    let config = testkit::mocks::direct_config(move |request| {
        let asked: serde_json::Value = serde_json::from_str(&request.body).unwrap_or_default();
        if request.target.as_deref() == Some("CertificateManager.GetCertificate")
            && asked["CertificateArn"] == CLIENT_ROOT_ARN
        {
            let mut answer = serde_json::json!({});
            if let Some(certificate) = &certificate {
                answer["Certificate"] = certificate.as_str().into();
            }
            if let Some(chain) = &chain {
                answer["CertificateChain"] = chain.as_str().into();
            }
            (200, answer.to_string())
        } else {
            (
                400,
                serde_json::json!({
                    "__type": "ResourceNotFoundException",
                    "message": "Could not find certificate."
                })
                .to_string(),
            )
        }
    });
    vpn::acm_client(&config, "eu-west-1")
}

/// `vpn::profile` of the operator's certificate, checked against its own CA while it is valid,
/// written to `out`.
async fn write_profile(ec2: &QueryClient, out: &Path) -> Result<vpn::WrittenProfile, VpnError> {
    vpn::profile(
        ec2,
        ENDPOINT,
        &operator(),
        ca().as_bytes(),
        while_valid(),
        out,
    )
    .await
}

fn out_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mst-vpn-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("operator.ovpn")
}

#[tokio::test]
async fn the_endpoint_is_found_in_the_pipelines_resources() {
    let resources = mock!(aws_sdk_cloudformation::Client::list_stack_resources).then_output(|| {
        aws_sdk_cloudformation::operation::list_stack_resources::ListStackResourcesOutput::builder()
            .stack_resource_summaries(
                StackResourceSummary::builder()
                    .logical_resource_id("Vpc")
                    .physical_resource_id("vpc-0a1b2c3d")
                    .resource_type("AWS::EC2::VPC")
                    .resource_status(ResourceStatus::CreateComplete)
                    .last_updated_timestamp(
                        aws_sdk_cloudformation::primitives::DateTime::from_secs(0),
                    )
                    .build(),
            )
            .stack_resource_summaries(
                StackResourceSummary::builder()
                    .logical_resource_id(vpn::ENDPOINT_LOGICAL_ID)
                    .physical_resource_id(ENDPOINT)
                    .resource_type("AWS::EC2::ClientVpnEndpoint")
                    .resource_status(ResourceStatus::UpdateComplete)
                    .last_updated_timestamp(
                        aws_sdk_cloudformation::primitives::DateTime::from_secs(0),
                    )
                    .build(),
            )
            .build()
    });
    let cfn = client!(aws_sdk_cloudformation, [&resources]);
    assert_eq!(
        vpn::endpoint_id(&cfn, "eu-west-1", "mst-dev-pipeline")
            .await
            .unwrap(),
        ENDPOINT
    );
    let empty = mock!(aws_sdk_cloudformation::Client::list_stack_resources).then_output(|| {
        aws_sdk_cloudformation::operation::list_stack_resources::ListStackResourcesOutput::builder()
            .build()
    });
    let cfn = client!(aws_sdk_cloudformation, [&empty]);
    let error = vpn::endpoint_id(&cfn, "eu-west-1", "mst-local-pipeline")
        .await
        .unwrap_err();
    assert!(matches!(error, VpnError::NoEndpoint { .. }), "{error}");
    assert!(error.to_string().contains("deployer up"), "{error}");
}

#[tokio::test]
async fn a_complete_profile_is_written_owner_only_with_ca_cert_and_key() {
    let (_ec2_stand_in, ec2) = ec2_exporting(exported(&fixture("ca.pem"))).await;
    let out = out_path("complete");
    let written = write_profile(&ec2, &out).await.unwrap();
    assert_eq!(written.endpoint, ENDPOINT);
    assert_eq!(written.subject.as_deref(), Some("operator.mst.example"));
    assert_eq!(written.not_after, "2027-12-06");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let text = std::fs::read_to_string(&out).unwrap();
    // It parses as an OpenVPN client profile: AWS's directives, then the three inline blocks.
    let directives = ovpn::directives(&text);
    let names: Vec<&str> = directives.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "client",
        "dev",
        "proto",
        "remote",
        "remote-cert-tls",
        "verify-x509-name",
    ] {
        assert!(names.contains(&expected), "{expected} missing: {names:?}");
    }
    assert!(
        directives
            .iter()
            .any(|(n, a)| n == "remote" && a.starts_with(ENDPOINT))
    );
    assert_eq!(ovpn::block(&text, "ca"), Some(fixture("ca.pem").trim()));
    assert_eq!(
        ovpn::block(&text, "cert"),
        Some(fixture("client.pem").trim())
    );
    let key = ovpn::block(&text, "key").unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
    assert_eq!(key, fixture("client.key").trim());
    // Each block once; nothing but the profile (no second copy of the key).
    assert_eq!(text.matches("<key>").count(), 1);
    assert_eq!(text.matches("BEGIN PRIVATE KEY").count(), 1);

    // Writing again over an existing, wider file leaves it 0600 too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_profile(&ec2, &out).await.unwrap();
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_and_nothing_is_written() {
    // The endpoint's server certificate is from the operator's CA, but the client root CA (what
    // ACM holds for the endpoint) is another one: refused, whatever the exported `<ca>` says.
    let (_ec2_stand_in, ec2) = ec2_exporting(exported(&ca())).await;
    let out = out_path("wrong-ca");
    let other = fixture("other-ca.pem");
    let error = vpn::profile(
        &ec2,
        ENDPOINT,
        &operator(),
        other.as_bytes(),
        while_valid(),
        &out,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            &error,
            VpnError::Certificate(CertificateError::WrongIssuer { subject }) if subject == "`operator.mst.example`"
        ),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("was not issued by the endpoint's client root CA"),
        "{error}"
    );
    assert!(!out.exists());
    // A server certificate from another CA than the clients': the check is against the client
    // root CA, so the operator's certificate is usable and the exported `<ca>` kept as it is.
    let (_ec2_stand_in, ec2) = ec2_exporting(exported(&other)).await;
    write_profile(&ec2, &out).await.unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(ovpn::block(&text, "ca"), Some(other.trim()));
}

#[tokio::test]
async fn an_expired_certificate_is_refused_with_its_date() {
    let (_ec2_stand_in, ec2) = ec2_exporting(exported(&fixture("ca.pem"))).await;
    let out = out_path("expired");
    let error = vpn::profile(
        &ec2,
        ENDPOINT,
        &operator(),
        ca().as_bytes(),
        after_expiry(),
        &out,
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the certificate `operator.mst.example` expired on 2027-12-06: issue a new one from the client root CA"
    );
    assert!(!out.exists());
    // Before it was issued: not valid yet.
    let error = vpn::profile(
        &ec2,
        ENDPOINT,
        &operator(),
        ca().as_bytes(),
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600), // 2026-01-01
        &out,
    )
    .await
    .unwrap_err();
    assert!(
        error.to_string().contains("is not valid before 2026-12-06"),
        "{error}"
    );
}

#[tokio::test]
async fn a_configuration_without_its_ca_or_not_a_client_profile_is_refused() {
    let out = out_path("bad-config");
    let (_ec2_stand_in, ec2) = ec2_exporting("client\nremote x 443\n".into()).await;
    let error = write_profile(&ec2, &out).await.unwrap_err();
    assert!(error.to_string().contains("has no <ca> block"), "{error}");
    let (_ec2_stand_in, ec2) = ec2_exporting(format!("<ca>\n{}\n</ca>\n", fixture("ca.pem"))).await;
    let error = write_profile(&ec2, &out).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("is not an OpenVPN client profile"),
        "{error}"
    );
    assert!(!out.exists());
}

#[test]
fn files_that_are_not_a_certificate_or_a_key_are_named() {
    let error = ClientCertificate::from_pem(
        fixture("client.key"),
        "me.pem",
        fixture("client.key"),
        "me.key",
    )
    .unwrap_err();
    assert_eq!(
        error,
        CertificateError::NoCertificate {
            path: "me.pem".into()
        }
    );
    let error = ClientCertificate::from_pem(
        fixture("client.pem"),
        "me.pem",
        fixture("client.pem"),
        "me.key",
    )
    .unwrap_err();
    assert_eq!(
        error,
        CertificateError::NoKey {
            path: "me.key".into()
        }
    );
    // The key never shows in debug output.
    assert!(!format!("{:?}", operator()).contains("PRIVATE"));
}

/// EC2's answer to ImportClientVpnClientCertificateRevocationList of `crl` into [`ENDPOINT`]:
/// `<return>{confirmed}</return>`, or an error naming what else was asked.
fn import_answer(request: &Recorded, crl: &str, confirmed: bool) -> Answer {
    if request.form_value("Action").as_deref()
        != Some("ImportClientVpnClientCertificateRevocationList")
        || request.form_value("ClientVpnEndpointId").as_deref() != Some(ENDPOINT)
        || request.form_value("CertificateRevocationList").as_deref() != Some(crl)
    {
        return ec2_error("400 Bad Request", "InvalidParameterValue", &request.body);
    }
    Answer::xml(format!(
        "<ImportClientVpnClientCertificateRevocationListResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>5e6f-example</requestId><return>{confirmed}</return></ImportClientVpnClientCertificateRevocationListResponse>"
    ))
}

#[tokio::test]
async fn a_revocation_list_is_checked_then_imported() {
    let crl = fixture("crl.pem");
    let expected = crl.clone();
    let stand_in = StandIn::start(move |request| import_answer(request, &expected, true));
    let ec2 = ec2_at(&stand_in).await;
    vpn::revoke(&ec2, ENDPOINT, &crl).await.unwrap();
    assert_eq!(stand_in.requests().len(), 1);
    // Not a CRL: refused before any call.
    for bad in [
        fixture("client.pem"),
        "hello".to_owned(),
        crl.replacen("MIG5", "MIG6", 1),
    ] {
        let error = vpn::revoke(&ec2, ENDPOINT, &bad).await.unwrap_err();
        assert!(
            matches!(
                error,
                VpnError::Certificate(CertificateError::BadCrl { .. })
            ),
            "{error}"
        );
    }
    assert_eq!(stand_in.requests().len(), 1);

    // An answer that does not confirm the import is an error, not a silent success.
    let expected = crl.clone();
    let unconfirmed = StandIn::start(move |request| import_answer(request, &expected, false));
    let error = vpn::revoke(&ec2_at(&unconfirmed).await, ENDPOINT, &crl)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("EC2 did not confirm the import"),
        "{error}"
    );
}

#[tokio::test]
async fn ec2_gets_a_signed_query_request_from_the_deployers_connection() {
    let (stand_in, ec2) = ec2_exporting(exported(&ca())).await;
    write_profile(&ec2, &out_path("signed")).await.unwrap();
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/")
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded; charset=utf-8")
    );
    assert_eq!(request.form_value("Version").as_deref(), Some("2016-11-15"));
    // SigV4 for EC2 in the client's region, with the emulator's credentials (a loopback endpoint
    // never gets a developer's own).
    let authorization = request.header("authorization").unwrap();
    assert!(
        authorization.starts_with("AWS4-HMAC-SHA256 Credential=mst-emulator/"),
        "{authorization}"
    );
    assert!(
        authorization.contains("/eu-west-1/ec2/aws4_request, SignedHeaders="),
        "{authorization}"
    );
    assert!(request.header("x-amz-date").is_some());
}

#[tokio::test]
async fn an_ec2_error_is_one_sentence_with_its_code_and_nothing_is_written() {
    let stand_in = StandIn::start(|_| {
        ec2_error(
            "400 Bad Request",
            "InvalidClientVpnEndpointId.NotFound",
            &format!("The Client VPN endpoint ID '{ENDPOINT}' does not exist"),
        )
    });
    let out = out_path("ec2-error");
    let error = write_profile(&ec2_at(&stand_in).await, &out)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "ExportClientVpnClientConfiguration {ENDPOINT} (eu-west-1): InvalidClientVpnEndpointId.NotFound: The Client VPN endpoint ID '{ENDPOINT}' does not exist"
        )
    );
    assert_eq!(
        stand_in.requests().len(),
        1,
        "a client error is not retried"
    );
    assert!(!out.exists());

    // Access denied reads as the deployer's other denials do.
    let denied = StandIn::start(|_| {
        ec2_error(
            "403 Forbidden",
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
        )
    });
    let error = vpn::revoke(&ec2_at(&denied).await, ENDPOINT, &fixture("crl.pem"))
        .await
        .unwrap_err();
    assert!(
        error.to_string().starts_with(&format!(
            "access denied: the credentials may not call ImportClientVpnClientCertificateRevocationList {ENDPOINT} in eu-west-1"
        )),
        "{error}"
    );
}

#[tokio::test]
async fn a_throttled_call_is_retried_until_ec2_answers() {
    let configuration = exported(&ca());
    let answered = std::sync::atomic::AtomicUsize::new(0);
    let stand_in = StandIn::start(move |request| {
        if answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
            ec2_error(
                "503 Service Unavailable",
                "RequestLimitExceeded",
                "Request limit exceeded.",
            )
        } else {
            export_answer(request, &configuration)
        }
    });
    let out = out_path("throttled");
    write_profile(&ec2_at(&stand_in).await, &out).await.unwrap();
    assert_eq!(stand_in.requests().len(), 3);
    assert!(out.exists());
}

#[tokio::test]
async fn the_client_root_ca_is_read_from_acm_and_checks_the_certificate() {
    let acm = acm_holding(Some(ca()), None);
    let read = vpn::client_root_ca(&acm, "eu-west-1", CLIENT_ROOT_ARN)
        .await
        .unwrap();
    assert_eq!(read.trim(), ca().trim());
    assert!(operator().check(read.as_bytes(), while_valid()).is_ok());

    // An intermediate CA imported with its chain: both are trust anchors, in that order.
    let acm = acm_holding(Some(ca()), Some(fixture("other-ca.pem")));
    let read = vpn::client_root_ca(&acm, "eu-west-1", CLIENT_ROOT_ARN)
        .await
        .unwrap();
    assert_eq!(read.matches("BEGIN CERTIFICATE").count(), 2, "{read}");
    assert!(read.starts_with(ca().trim()), "{read}");
    assert!(operator().check(read.as_bytes(), while_valid()).is_ok());

    // ACM holding another CA under that ARN: the operator's certificate is refused.
    let acm = acm_holding(Some(fixture("other-ca.pem")), None);
    let read = vpn::client_root_ca(&acm, "eu-west-1", CLIENT_ROOT_ARN)
        .await
        .unwrap();
    assert!(matches!(
        operator().check(read.as_bytes(), while_valid()),
        Err(CertificateError::WrongIssuer { .. })
    ));

    // No certificate in the answer: the error names the environment key to check.
    let acm = acm_holding(None, None);
    let error = vpn::client_root_ca(&acm, "eu-west-1", CLIENT_ROOT_ARN)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("network.vpn.eu-west-1.client_root_certificate_arn"),
        "{error}"
    );

    // Another ARN: ACM's not-found error, as one sentence naming the call.
    let other = CLIENT_ROOT_ARN.replace("0a1b2c3d", "ffffffff");
    let error = vpn::client_root_ca(&acm, "eu-west-1", &other)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("ACM GetCertificate") && error.contains("Could not find certificate"),
        "{error}"
    );
}
