//! `deployer vpn`: a thin layer over the `vpn` crate (`profile`, `revoke`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context as _, Result, bail};
use engine::deploy;
use stacks::pipeline::StackKind;

use crate::context::{Context, Target};

/// Arguments of `deployer vpn`.
#[derive(Debug, clap::Args)]
pub struct VpnArgs {
    #[command(subcommand)]
    command: VpnCommand,
}

#[derive(Debug, clap::Subcommand)]
enum VpnCommand {
    /// Write a complete OpenVPN profile (.ovpn, mode 0600) for one region's Client VPN endpoint,
    /// with your client certificate and key inlined; the certificate is checked first.
    Profile(ProfileArgs),
    /// Import a certificate revocation list (PEM) into the Client VPN endpoint of every selected
    /// region: connections with a revoked certificate are refused from then on.
    Revoke(RevokeArgs),
}

/// Arguments of `deployer vpn profile`.
#[derive(Debug, clap::Args)]
struct ProfileArgs {
    #[command(flatten)]
    target: Target,
    /// Your client certificate (PEM), issued by the endpoint's client root CA.
    #[arg(long, value_name = "FILE")]
    cert: PathBuf,
    /// Its private key (PEM). It is copied into the profile, never printed.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The client root CA (PEM) to check the certificate against, instead of reading it from ACM
    /// (default: the certificate `network.vpn.<region>.client_root_certificate_arn` names).
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Where to write the profile (default: `<env>-<region>.ovpn`).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Arguments of `deployer vpn revoke`.
#[derive(Debug, clap::Args)]
struct RevokeArgs {
    #[command(flatten)]
    target: Target,
    /// The certificate revocation list (PEM, `-----BEGIN X509 CRL-----`) of the client root CA.
    #[arg(long, value_name = "FILE")]
    crl: PathBuf,
}

/// Runs `deployer vpn`.
pub async fn run(args: &VpnArgs) -> Result<ExitCode> {
    match &args.command {
        VpnCommand::Profile(args) => profile(args).await,
        VpnCommand::Revoke(args) => revoke(args).await,
    }
}

fn read(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {what} {}", path.display()))
}

async fn profile(args: &ProfileArgs) -> Result<ExitCode> {
    let Some(region) = args.target.region.clone() else {
        bail!("`deployer vpn profile` needs --region REGION: each region has its own endpoint");
    };
    let certificate = vpn::certificate::ClientCertificate::from_pem(
        read(&args.cert, "the certificate")?,
        &args.cert.display().to_string(),
        read(&args.key, "the key")?,
        &args.key.display().to_string(),
    )?;
    let ca = args
        .ca
        .as_ref()
        .map(|path| read(path, "the client root CA"))
        .transpose()?;
    let context = Context::open(&args.target).await?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}-{region}.ovpn", context.env.name.as_str())));
    for (output, clients) in context.regions() {
        let stack = deploy::stack_of(output, StackKind::Pipeline)?.name.clone();
        let name = clients.region.as_str();
        let endpoint = vpn::endpoint_id(&clients.cloudformation, name, &stack).await?;
        let config = context.aws_for(&output.region).sdk_config();
        let client_root_ca = match &ca {
            Some(pem) => pem.clone(),
            None => {
                let Some(certificates) = context.env.network.vpn.get(&output.region) else {
                    bail!(
                        "{name} has no VPN in {}: `network.vpn` names no certificates for it",
                        context.env.name.as_str()
                    );
                };
                vpn::client_root_ca(
                    &vpn::acm_client(config, name),
                    name,
                    &certificates.client_root_certificate_arn,
                )
                .await?
            }
        };
        let ec2 = vpn::ec2_client(config, name);
        let written = vpn::profile(
            &ec2,
            &endpoint,
            &certificate,
            client_root_ca.as_bytes(),
            SystemTime::now(),
            &out,
        )
        .await?;
        println!(
            "wrote {} (mode 0600) for {} in {name}: certificate {} valid until {}",
            out.display(),
            written.endpoint,
            written.subject.as_deref().unwrap_or("(no common name)"),
            written.not_after
        );
        println!("connect with: sudo openvpn --config {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

async fn revoke(args: &RevokeArgs) -> Result<ExitCode> {
    let crl = read(&args.crl, "the revocation list")?;
    vpn::certificate::check_crl(crl.as_bytes())?;
    let context = Context::open(&args.target).await?;
    for (output, clients) in context.regions() {
        let stack = deploy::stack_of(output, StackKind::Pipeline)?.name.clone();
        let name = clients.region.as_str();
        let endpoint = vpn::endpoint_id(&clients.cloudformation, name, &stack).await?;
        let ec2 = vpn::ec2_client(context.aws_for(&output.region).sdk_config(), name);
        vpn::revoke(&ec2, &endpoint, &crl).await?;
        println!("imported the revocation list into {endpoint} in {name}");
    }
    Ok(ExitCode::SUCCESS)
}
