//! `deployer vpn profile` and `revoke` against SDK-level mocks (aws-smithy-mocks): the endpoint is
//! found in the pipeline's resources, its exported configuration (real-shaped: AWS's directives and
//! a `<ca>` block) becomes a complete profile holding `<ca>`, `<cert>` and `<key>`, written with mode
//! 0600; certificates from another CA, or expired, are refused before anything is written. The
//! certificates are committed fixtures (tests/fixtures/make.sh says how they were made), checked at
//! fixed times so that they never go stale.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use aws_sdk_acm::operation::get_certificate::GetCertificateOutput;
use aws_sdk_cloudformation::types::{ResourceStatus, StackResourceSummary};
use aws_sdk_ec2::operation::export_client_vpn_client_configuration::ExportClientVpnClientConfigurationOutput;
use aws_sdk_ec2::operation::import_client_vpn_client_certificate_revocation_list::ImportClientVpnClientCertificateRevocationListOutput;
use aws_smithy_mocks::mock;
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

fn ec2_exporting(configuration: String) -> aws_sdk_ec2::Client {
    let rule = mock!(aws_sdk_ec2::Client::export_client_vpn_client_configuration)
        .match_requests(|r| r.client_vpn_endpoint_id() == Some(ENDPOINT))
        .then_output(move || {
            ExportClientVpnClientConfigurationOutput::builder()
                .client_configuration(configuration.clone())
                .build()
        });
    client!(aws_sdk_ec2, [&rule])
}

const CLIENT_ROOT_ARN: &str =
    "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-4a1b-8c2d-3e4f5a6b7c8d";

/// ACM answering GetCertificate for [`CLIENT_ROOT_ARN`] only, with `certificate` and `chain`.
fn acm_holding(certificate: Option<String>, chain: Option<String>) -> aws_sdk_acm::Client {
    let rule = mock!(aws_sdk_acm::Client::get_certificate)
        .match_requests(|r| r.certificate_arn() == Some(CLIENT_ROOT_ARN))
        .then_output(move || {
            GetCertificateOutput::builder()
                .set_certificate(certificate.clone())
                .set_certificate_chain(chain.clone())
                .build()
        });
    client!(aws_sdk_acm, [&rule])
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
    let ec2 = ec2_exporting(exported(&fixture("ca.pem")));
    let out = out_path("complete");
    let written = vpn::profile(
        &ec2,
        "eu-west-1",
        ENDPOINT,
        &operator(),
        ca().as_bytes(),
        while_valid(),
        &out,
    )
    .await
    .unwrap();
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
        vpn::profile(
            &ec2,
            "eu-west-1",
            ENDPOINT,
            &operator(),
            ca().as_bytes(),
            while_valid(),
            &out,
        )
        .await
        .unwrap();
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_and_nothing_is_written() {
    // The endpoint's server certificate is from the operator's CA, but the client root CA (what
    // ACM holds for the endpoint) is another one: refused, whatever the exported `<ca>` says.
    let ec2 = ec2_exporting(exported(&ca()));
    let out = out_path("wrong-ca");
    let other = fixture("other-ca.pem");
    let error = vpn::profile(
        &ec2,
        "eu-west-1",
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
    let ec2 = ec2_exporting(exported(&other));
    vpn::profile(
        &ec2,
        "eu-west-1",
        ENDPOINT,
        &operator(),
        ca().as_bytes(),
        while_valid(),
        &out,
    )
    .await
    .unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(ovpn::block(&text, "ca"), Some(other.trim()));
}

#[tokio::test]
async fn an_expired_certificate_is_refused_with_its_date() {
    let ec2 = ec2_exporting(exported(&fixture("ca.pem")));
    let out = out_path("expired");
    let error = vpn::profile(
        &ec2,
        "eu-west-1",
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
        "eu-west-1",
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
    let ec2 = ec2_exporting("client\nremote x 443\n".into());
    let error = vpn::profile(
        &ec2,
        "eu-west-1",
        ENDPOINT,
        &operator(),
        ca().as_bytes(),
        while_valid(),
        &out,
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("has no <ca> block"), "{error}");
    let ec2 = ec2_exporting(format!("<ca>\n{}\n</ca>\n", fixture("ca.pem")));
    let error = vpn::profile(
        &ec2,
        "eu-west-1",
        ENDPOINT,
        &operator(),
        ca().as_bytes(),
        while_valid(),
        &out,
    )
    .await
    .unwrap_err();
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

#[tokio::test]
async fn a_revocation_list_is_checked_then_imported() {
    let crl = fixture("crl.pem");
    let expected = crl.clone();
    let import = mock!(aws_sdk_ec2::Client::import_client_vpn_client_certificate_revocation_list)
        .match_requests(move |r| {
            r.client_vpn_endpoint_id() == Some(ENDPOINT)
                && r.certificate_revocation_list() == Some(expected.as_str())
        })
        .then_output(|| {
            ImportClientVpnClientCertificateRevocationListOutput::builder()
                .r#return(true)
                .build()
        });
    let ec2 = client!(aws_sdk_ec2, [&import]);
    vpn::revoke(&ec2, "eu-west-1", ENDPOINT, &crl)
        .await
        .unwrap();
    assert_eq!(import.num_calls(), 1);
    // Not a CRL: refused before any call.
    for bad in [
        fixture("client.pem"),
        "hello".to_owned(),
        crl.replacen("MIG5", "MIG6", 1),
    ] {
        let error = vpn::revoke(&ec2, "eu-west-1", ENDPOINT, &bad)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                VpnError::Certificate(CertificateError::BadCrl { .. })
            ),
            "{error}"
        );
    }
    assert_eq!(import.num_calls(), 1);
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
}
