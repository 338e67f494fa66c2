//! Stack parameters: the content-hash keys of the uploaded artifacts and the object versions the
//! deployer checked, passed by the deployer.

use crate::template::{Expr, Handle, Parameter, Template, TemplateError};

use super::BuildError;

/// The artifacts the pipeline stack takes as parameters (S3 keys named by content hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactParameter {
    /// The transform Lambda zip.
    Transform,
    /// The to-parquet Lambda zip.
    ToParquet,
    /// The notify Lambda zip.
    Notify,
    /// The scraper binary.
    Scraper,
    /// The vpn-connect Lambda zip (Client VPN's client-connect handler). Its parameters exist only
    /// in the pipelines of regions with a VPN, as the function does.
    VpnConnect,
}

impl ArtifactParameter {
    /// Every artifact, in a fixed order.
    pub const ALL: [ArtifactParameter; 5] = [
        Self::Transform,
        Self::ToParquet,
        Self::Notify,
        Self::Scraper,
        Self::VpnConnect,
    ];

    /// The parameter's logical id.
    pub fn parameter_name(self) -> &'static str {
        match self {
            Self::Transform => "TransformCodeKey",
            Self::ToParquet => "ToParquetCodeKey",
            Self::Notify => "NotifyCodeKey",
            Self::Scraper => "ScraperBinaryKey",
            Self::VpnConnect => "VpnConnectCodeKey",
        }
    }

    /// The logical id of the parameter pinning the artifact's S3 object version.
    pub fn version_parameter_name(self) -> &'static str {
        match self {
            Self::Transform => "TransformCodeVersion",
            Self::ToParquet => "ToParquetCodeVersion",
            Self::Notify => "NotifyCodeVersion",
            Self::Scraper => "ScraperBinaryVersion",
            Self::VpnConnect => "VpnConnectCodeVersion",
        }
    }

    /// Whether the pipeline template `template` (its JSON) declares this artifact's code
    /// parameter: vpn-connect's only where the region has a VPN. CloudFormation refuses an
    /// undeclared parameter, and an artifact not declared has no function to compare or tag.
    pub fn is_declared_in(self, template: &serde_json::Value) -> bool {
        template["Parameters"].get(self.parameter_name()).is_some()
    }

    /// The artifact's name: the binary's name, and the prefix of its S3 key (`scraper/<sha256>.bin`).
    pub fn crate_name(self) -> &'static str {
        match self {
            Self::Transform => "transform",
            Self::ToParquet => "to-parquet",
            Self::Notify => "notify",
            Self::Scraper => "scraper",
            Self::VpnConnect => "vpn-connect",
        }
    }

    /// The Cargo package that builds it (`cargo build -p <package>`). The scraper's package is
    /// `scraper-daemon` because crates.io's HTML crate `scraper` is one of its dependencies.
    pub fn package(self) -> &'static str {
        match self {
            Self::Scraper => "scraper-daemon",
            other => other.crate_name(),
        }
    }
}

/// The pipeline stack's parameter naming the artifacts bucket (the engine fills it in).
pub const ARTIFACTS_BUCKET_PARAMETER: &str = "ArtifactsBucket";

/// The pipeline stack's parameter holding the scraper's AMI id: `scraper.ami`, with `latest`
/// resolved by the deployer once per region at deploy time, so that CloudFormation never re-reads
/// it and a new AMI shows in `diff` as the change it is.
pub const SCRAPER_IMAGE_PARAMETER: &str = "ScraperImageId";

/// What changing one of the pipeline's parameters does, for the parameters whose change the
/// template alone does not show (its text stays the same): `diff` and `up` print it beside the
/// old and new value. `None` for the artifacts' keys and versions, whose changes show as the
/// functions' and the scraper's code.
pub fn parameter_effect(name: &str) -> Option<&'static str> {
    // The instance's launch template takes the image; the instance names the template's latest
    // version, and `LaunchTemplate` is create-only on an instance, so a new image replaces it.
    (name == SCRAPER_IMAGE_PARAMETER)
        .then_some("replaces the scraper instances, one shard at a time")
}

/// S3 version ids are opaque URL-safe strings of at most 1,024 bytes. The pattern also keeps the
/// value safe inside the scraper's user-data script, where it is quoted.
const VERSION_ID_PATTERN: &str = "^[A-Za-z0-9._+/=-]{1,1024}$";

/// Handles to the pipeline stack's parameters.
#[derive(Debug, Clone)]
pub(super) struct Parameters {
    pub artifacts_bucket: Handle<Parameter>,
    transform: ArtifactHandles,
    to_parquet: ArtifactHandles,
    notify: ArtifactHandles,
    scraper: ArtifactHandles,
    /// Added with the vpn-connect function ([`Parameters::add_vpn_connect`]).
    vpn_connect: Option<ArtifactHandles>,
    pub ami: Handle<Parameter>,
}

/// The two parameters of one artifact.
#[derive(Debug, Clone)]
struct ArtifactHandles {
    key: Handle<Parameter>,
    version: Handle<Parameter>,
}

impl Parameters {
    fn artifact(&self, artifact: ArtifactParameter) -> Result<&ArtifactHandles, BuildError> {
        match artifact {
            ArtifactParameter::Transform => Ok(&self.transform),
            ArtifactParameter::ToParquet => Ok(&self.to_parquet),
            ArtifactParameter::Notify => Ok(&self.notify),
            ArtifactParameter::Scraper => Ok(&self.scraper),
            ArtifactParameter::VpnConnect => self
                .vpn_connect
                .as_ref()
                .ok_or(BuildError::MissingParameter(artifact.parameter_name())),
        }
    }

    /// The S3 key of an artifact.
    pub fn key(&self, artifact: ArtifactParameter) -> Result<Expr, BuildError> {
        Ok(self.artifact(artifact)?.key.reference())
    }

    /// The S3 object version of an artifact, as the deployer uploaded or checked it.
    pub fn version(&self, artifact: ArtifactParameter) -> Result<Expr, BuildError> {
        Ok(self.artifact(artifact)?.version.reference())
    }

    /// Declares the vpn-connect artifact's parameters (only a pipeline with a VPN has them).
    pub fn add_vpn_connect(&mut self, t: &mut Template) -> Result<(), TemplateError> {
        if self.vpn_connect.is_none() {
            self.vpn_connect = Some(add_artifact(t, ArtifactParameter::VpnConnect)?);
        }
        Ok(())
    }
}

/// Adds the key and version parameters of `artifact`.
fn add_artifact(
    t: &mut Template,
    artifact: ArtifactParameter,
) -> Result<ArtifactHandles, TemplateError> {
    let key = t.parameter(
        artifact.parameter_name(),
        Parameter {
            kind: "String".into(),
            description: format!(
                "S3 key of the {} artifact, named by its SHA-256.",
                artifact.crate_name()
            ),
            default: None,
            allowed_pattern: Some("^[a-z0-9-]+/[0-9a-f]{64}\\.(zip|bin)$".into()),
        },
    )?;
    let version = t.parameter(
        artifact.version_parameter_name(),
        Parameter {
            kind: "String".into(),
            description: format!(
                "S3 object version of the {} artifact, whose SHA-256 checksum the deployer verified.",
                artifact.crate_name()
            ),
            default: None,
            allowed_pattern: Some(VERSION_ID_PATTERN.into()),
        },
    )?;
    Ok(ArtifactHandles { key, version })
}

pub(super) fn add(t: &mut Template) -> Result<Parameters, TemplateError> {
    let artifacts_bucket = t.parameter(
        ARTIFACTS_BUCKET_PARAMETER,
        Parameter {
            kind: "String".into(),
            description: "Bucket holding the code artifacts (the artifacts stack's bucket).".into(),
            default: None,
            allowed_pattern: Some("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$".into()),
        },
    )?;
    let transform = add_artifact(t, ArtifactParameter::Transform)?;
    let to_parquet = add_artifact(t, ArtifactParameter::ToParquet)?;
    let notify = add_artifact(t, ArtifactParameter::Notify)?;
    let scraper = add_artifact(t, ArtifactParameter::Scraper)?;
    let ami = t.parameter(
        SCRAPER_IMAGE_PARAMETER,
        Parameter {
            kind: "AWS::EC2::Image::Id".into(),
            description:
                "AMI of the scraper's instance, resolved once by the deployer (`scraper.ami`)."
                    .into(),
            default: None,
            allowed_pattern: None,
        },
    )?;
    Ok(Parameters {
        artifacts_bucket,
        transform,
        to_parquet,
        notify,
        scraper,
        vpn_connect: None,
        ami,
    })
}
