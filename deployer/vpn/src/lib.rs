//! `deployer vpn`: what an operator needs to reach the scraper through an environment's Client VPN.
//!
//! - [`profile`]: the endpoint's client configuration (EC2 `ExportClientVpnClientConfiguration`)
//!   completed with the operator's certificate and key into one `.ovpn` file, written with mode
//!   0600 and never printed. The certificate is checked first, with the X.509 verifier rustls uses
//!   (`rustls-webpki`): it must chain to the endpoint's client root CA (read from ACM by
//!   [`client_root_ca`], the certificate the environment names) and be valid now, so a profile
//!   that cannot connect is never written.
//! - [`revoke`]: a certificate revocation list, checked to be one, imported into the endpoint
//!   (EC2 `ImportClientVpnClientCertificateRevocationList`).
//!
//! The endpoint is found in the region's pipeline stack (its `ClientVpnEndpoint` resource).

pub mod certificate;
pub mod ovpn;

use std::path::Path;

use aws_connect::json::{self, JsonClient};
use aws_connect::query::{self, QueryClient};
use aws_sdk_cloudformation::types::ResourceStatus;
use certificate::{CertificateError, ClientCertificate};

/// The pipeline's logical id of the Client VPN endpoint (`stacks`' network module).
pub const ENDPOINT_LOGICAL_ID: &str = "ClientVpnEndpoint";

/// Why a `deployer vpn` command failed; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum VpnError {
    /// The stack has no endpoint to talk to.
    #[error(
        "the stack {stack} in {region} has no Client VPN endpoint: deploy the environment first (`deployer up`); local environments have no VPN"
    )]
    NoEndpoint {
        /// The stack.
        stack: String,
        /// The region.
        region: String,
    },
    /// A CloudFormation or EC2 call failed.
    #[error("{0}")]
    Aws(String),
    /// The certificate or key cannot be used.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// The exported configuration is not what Client VPN gives.
    #[error("the endpoint {endpoint}'s client configuration {problem}")]
    Configuration {
        /// The endpoint.
        endpoint: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A file could not be read or written.
    #[error("{what} {path}: {source}")]
    File {
        /// Reading or writing.
        what: &'static str,
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// The Client VPN endpoint id of `stack` (the region's pipeline), from its resources.
pub async fn endpoint_id(
    cloudformation: &aws_sdk_cloudformation::Client,
    region: &str,
    stack: &str,
) -> Result<String, VpnError> {
    let resources = engine::status::stack_resources(cloudformation, region, stack)
        .await
        .map_err(|e| VpnError::Aws(e.to_string()))?;
    resources
        .iter()
        .find(|r| {
            r.logical_resource_id() == Some(ENDPOINT_LOGICAL_ID)
                && !matches!(
                    r.resource_status(),
                    Some(ResourceStatus::DeleteComplete | ResourceStatus::CreateFailed)
                )
        })
        .and_then(|r| r.physical_resource_id())
        .filter(|id| id.starts_with("cvpn-endpoint-"))
        .map(str::to_owned)
        .ok_or_else(|| VpnError::NoEndpoint {
            stack: stack.to_owned(),
            region: region.to_owned(),
        })
}

/// The client root CA (PEM: the certificate and its chain) that ACM holds as `arn`, the
/// `client_root_certificate_arn` the environment gives the region's endpoint.
pub async fn client_root_ca(acm: &JsonClient, region: &str, arn: &str) -> Result<String, VpnError> {
    let found = acm
        .call(
            "GetCertificate",
            serde_json::json!({ "CertificateArn": arn }),
        )
        .await
        .map_err(|e| {
            VpnError::Aws(
                aws_connect::CallError::new(format!("ACM GetCertificate {arn}"), region, &e)
                    .to_string(),
            )
        })?;
    let mut pem = found["Certificate"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_owned();
    if pem.is_empty() {
        return Err(VpnError::Aws(format!(
            "ACM in {region} returned no certificate for {arn}: check `network.vpn.{region}.client_root_certificate_arn`"
        )));
    }
    if let Some(chain) = found["CertificateChain"]
        .as_str()
        .filter(|c| !c.trim().is_empty())
    {
        pem.push('\n');
        pem.push_str(chain.trim());
    }
    pem.push('\n');
    Ok(pem)
}

/// The ACM client of `region`, from the deployer's one SDK configuration (`aws-connect`): one JSON
/// call on that connection, without ACM's SDK crate (see [`aws_connect::json`]).
pub fn acm_client(config: &aws_config::SdkConfig, region: &str) -> JsonClient {
    JsonClient::new(config, region, json::ACM)
}

/// The EC2 client of `region`, from the deployer's one SDK configuration (`aws-connect`): two Query
/// calls on that connection, without EC2's SDK crate (see [`aws_connect::query`]).
pub fn ec2_client(config: &aws_config::SdkConfig, region: &str) -> QueryClient {
    QueryClient::new(config, region, query::EC2)
}

/// What [`profile`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenProfile {
    /// The endpoint the profile connects to.
    pub endpoint: String,
    /// The certificate's subject common name, when it has one.
    pub subject: Option<String>,
    /// The certificate's expiry, `YYYY-MM-DD`.
    pub not_after: String,
}

// The two EC2 calls below are written out at their call sites, not behind a helper: the deploy-role
// contract (`stacks/tests/it/deploy_role_calls.rs`) finds each AWS call by its literal operation
// name, `ec2.call("Operation", ...)`.

/// Exports `endpoint`'s client configuration and writes it to `out` (mode 0600) with the
/// certificate and key of `certificate` inlined, once the certificate is known to be issued by
/// `client_root_ca` (PEM; [`client_root_ca`] reads it from ACM) and valid at `now`. The exported
/// configuration's own `<ca>` is the server certificate's CA, which need not be the clients'.
pub async fn profile(
    ec2: &QueryClient,
    endpoint: &str,
    certificate: &ClientCertificate,
    client_root_ca: &[u8],
    now: std::time::SystemTime,
    out: &Path,
) -> Result<WrittenProfile, VpnError> {
    let exported = ec2
        .call(
            "ExportClientVpnClientConfiguration",
            &[("ClientVpnEndpointId", endpoint)],
        )
        .await
        .map_err(|e| {
            VpnError::Aws(
                aws_connect::CallError::new(
                    format!("ExportClientVpnClientConfiguration {endpoint}"),
                    ec2.region(),
                    &e,
                )
                .to_string(),
            )
        })?;
    let configuration = exported.text("clientConfiguration").unwrap_or_default();
    let config_problem = |problem: String| VpnError::Configuration {
        endpoint: endpoint.to_owned(),
        problem,
    };
    if ovpn::block(&configuration, "ca").is_none() {
        return Err(config_problem("has no <ca> block".into()));
    }
    let checked = certificate.check(client_root_ca, now)?;
    let text = ovpn::complete(&configuration, certificate)
        .map_err(|problem| config_problem(problem.to_owned()))?;
    ovpn::write_private(out, &text).map_err(|source| VpnError::File {
        what: "cannot write",
        path: out.display().to_string(),
        source,
    })?;
    Ok(WrittenProfile {
        endpoint: endpoint.to_owned(),
        subject: checked.subject,
        not_after: checked.not_after,
    })
}

/// Imports the revocation list `crl_pem` (checked first) into `endpoint`.
pub async fn revoke(ec2: &QueryClient, endpoint: &str, crl_pem: &str) -> Result<(), VpnError> {
    certificate::check_crl(crl_pem.as_bytes())?;
    let imported = ec2
        .call(
            "ImportClientVpnClientCertificateRevocationList",
            &[
                ("ClientVpnEndpointId", endpoint),
                ("CertificateRevocationList", crl_pem),
            ],
        )
        .await
        .map_err(|e| {
            VpnError::Aws(
                aws_connect::CallError::new(
                    format!("ImportClientVpnClientCertificateRevocationList {endpoint}"),
                    ec2.region(),
                    &e,
                )
                .to_string(),
            )
        })?;
    // The operation's one output: whether EC2 took the list.
    if imported.text("return").as_deref() != Some("true") {
        return Err(VpnError::Aws(format!(
            "ImportClientVpnClientCertificateRevocationList {endpoint} ({}): EC2 did not confirm the import (its answer has no `<return>true</return>`); run again, and check the endpoint's revocation list in the EC2 console",
            ec2.region()
        )));
    }
    Ok(())
}
