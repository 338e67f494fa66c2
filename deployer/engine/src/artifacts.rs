//! The deployed code: the four Lambda zips and the scraper binary, named by the SHA-256 of their
//! content and uploaded to each region's artifacts bucket only when absent.
//!
//! Nothing already in the bucket is trusted: uploads carry their `ChecksumSHA256` (S3 checks the
//! bytes against it and records it), and an object found at a key must have the local artifact's
//! SHA-256 checksum, or the deployment is refused ([`ArtifactError::Tampered`]). The object version
//! uploaded or checked is what the pipeline stack pins.
//!
//! Two sources: [`build`] compiles the runtime crates (the [`ARTIFACT_PROFILE`]) and zips each Lambda as
//! `bootstrap`; [`from_dir`] takes prebuilt files (`--artifacts DIR`), so CI builds once and deploys
//! many times. Both check that no binary needs a glibc newer than `provided.al2023`'s.

use std::fmt::Write as _;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, ChecksumAlgorithm, ChecksumMode, VersioningConfiguration,
};
use sha2::{Digest, Sha256};
use stacks::pipeline::ArtifactParameter;
use zip::write::SimpleFileOptions;

use crate::{Error, api_error};

/// The newest glibc `provided.al2023` (and the Amazon Linux 2023 scraper instance) ships: 2.34.
pub const MAX_GLIBC: (u32, u32) = (2, 34);

/// Why an artifact could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// Runtime crates are not in the workspace yet.
    #[error(
        "runtime crate(s) {} not found in the workspace: build them, or pass prebuilt files with --artifacts DIR (DIR/transform.zip, DIR/to-parquet.zip, DIR/notify.zip, DIR/scraper, DIR/vpn-connect.zip)",
        .0.join(", ")
    )]
    MissingCrates(Vec<String>),
    /// A prebuilt file is missing or unreadable.
    #[error("{}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A Lambda zip is not a zip with an executable `bootstrap` at its root.
    #[error("{}: {reason}", .path.display())]
    BadZip {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A binary needs a newer glibc than the target has.
    #[error(
        "{name} needs GLIBC_{}.{} but provided.al2023 has {}.{}: build it on an older glibc (for example with `cargo zigbuild --target x86_64-unknown-linux-gnu.2.34`) or against musl",
        .found.0, .found.1, MAX_GLIBC.0, MAX_GLIBC.1
    )]
    GlibcTooNew {
        /// The artifact.
        name: String,
        /// The highest `GLIBC_` version it needs.
        found: (u32, u32),
    },
    /// The binary is not a 64-bit ELF file as Lambda x86_64 and the instance run.
    #[error("{name}: not a usable x86_64 ELF binary: {reason}")]
    BadElf {
        /// The artifact.
        name: String,
        /// What the parser said.
        reason: String,
    },
    /// `cargo` failed.
    #[error("{0}")]
    Cargo(String),
    /// Writing a zip failed.
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// An object at a content-hash key does not prove it holds the local bytes.
    #[error(
        "refusing to deploy: s3://{bucket}/{key} ({what}) {}, but the local artifact's SHA-256 is {expected}. \
         The key names the content, so this object holds other bytes or bytes nobody can vouch for: \
         probably it was replaced or planted by someone who can write to the bucket{}. \
         Investigate (`aws s3api list-object-versions --bucket {bucket} --prefix {key}`, CloudTrail's S3 data events), \
         then delete the object (`aws s3api delete-object --bucket {bucket} --key {key}`) and run `deployer up` again: it uploads the local artifact",
        found_text(.found),
        if .found.is_none() { ", or uploaded by a deployer older than checksum verification" } else { "" }
    )]
    Tampered {
        /// What the object is, such as `the transform artifact`.
        what: String,
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// Base64 SHA-256 of the local bytes.
        expected: String,
        /// The object's recorded SHA-256 checksum, if it has one.
        found: Option<String>,
    },
    /// The bucket gave no object version to pin the code to.
    #[error(
        "s3://{bucket}/{key} has no object version: versioning is off on the artifacts bucket (the artifacts stack turns it on; check `aws s3api get-bucket-versioning --bucket {bucket}`)"
    )]
    Unversioned {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
}

fn found_text(found: &Option<String>) -> String {
    match found {
        Some(checksum) => format!("has SHA-256 checksum {checksum}"),
        None => "has no SHA-256 checksum".to_owned(),
    }
}

/// One artifact, ready to upload.
#[derive(Clone)]
pub struct Artifact {
    /// Which stack parameter it fills.
    pub parameter: ArtifactParameter,
    /// The file's bytes (a zip for Lambdas, the executable for the scraper).
    pub bytes: Vec<u8>,
    /// Lower-case hex SHA-256 of `bytes`.
    pub sha256: String,
    /// Base64 SHA-256 of `bytes`, as S3's `ChecksumSHA256`.
    pub checksum_sha256: String,
    /// The SHA-256 of the sources it was built from ([`crate::sources`]), recorded on the pipeline
    /// stack so `diff` can tell a code change without building; `None` when unknown.
    pub source_sha256: Option<String>,
}

impl std::fmt::Debug for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Artifact")
            .field("parameter", &self.parameter)
            .field("len", &self.bytes.len())
            .field("sha256", &self.sha256)
            .field("source_sha256", &self.source_sha256)
            .finish()
    }
}

impl Artifact {
    /// Wraps bytes, computing the hash.
    pub fn new(parameter: ArtifactParameter, bytes: Vec<u8>) -> Artifact {
        let sha256 = sha256_hex(&bytes);
        let checksum_sha256 = sha256_base64(&bytes);
        Artifact {
            parameter,
            bytes,
            sha256,
            checksum_sha256,
            source_sha256: None,
        }
    }

    /// What the artifact is, for messages: `the transform artifact`.
    pub fn description(&self) -> String {
        format!("the {} artifact", self.parameter.crate_name())
    }

    /// The S3 key: `<crate>/<sha256>.zip` or `scraper/<sha256>.bin`, as the stack's parameter
    /// pattern requires.
    pub fn key(&self) -> String {
        let extension = match self.parameter {
            ArtifactParameter::Scraper => "bin",
            _ => "zip",
        };
        format!(
            "{}/{}.{extension}",
            self.parameter.crate_name(),
            self.sha256
        )
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Base64 SHA-256, as S3's `ChecksumSHA256` spells it.
pub fn sha256_base64(bytes: &[u8]) -> String {
    aws_smithy_types::base64::encode(Sha256::digest(bytes))
}

/// The file name of an artifact under `--artifacts DIR`.
pub fn file_name(parameter: ArtifactParameter) -> String {
    match parameter {
        ArtifactParameter::Scraper => parameter.crate_name().to_owned(),
        _ => format!("{}.zip", parameter.crate_name()),
    }
}

/// Reads prebuilt artifacts from `dir` and checks them (zip layout, glibc).
pub fn from_dir(dir: &Path) -> Result<Vec<Artifact>, ArtifactError> {
    ArtifactParameter::ALL
        .iter()
        .map(|&parameter| {
            let path = dir.join(file_name(parameter));
            let bytes = std::fs::read(&path).map_err(|source| ArtifactError::Read {
                path: path.clone(),
                source,
            })?;
            if parameter != ArtifactParameter::Scraper {
                let bootstrap = read_bootstrap(&bytes).map_err(|reason| ArtifactError::BadZip {
                    path: path.clone(),
                    reason,
                })?;
                check_binary(parameter.crate_name(), &bootstrap, false)?;
            } else {
                check_binary(parameter.crate_name(), &bytes, false)?;
            }
            Ok(Artifact::new(parameter, bytes))
        })
        .collect()
}

/// Builds every runtime crate of the workspace at `workspace` and packages it, with the
/// [`ARTIFACT_PROFILE`].
///
/// One command ([`cargo_build_args`]) builds the five artifacts together, so their shared
/// dependencies compile once with one feature set and their single-threaded fat-LTO links run side
/// by side. A single artifact ([`build_binary`]) is built by the same command, so whatever built
/// it first (`deployer up`, `.ci/run`, a test or a benchmark), the others find it built instead of
/// rebuilding the tree with other features.
///
/// Fails with [`ArtifactError::MissingCrates`] (naming them and suggesting `--artifacts`) when a
/// runtime crate does not exist. `target_dir` overrides Cargo's target directory.
pub fn build(workspace: &Path, target_dir: Option<&Path>) -> Result<Vec<Artifact>, ArtifactError> {
    let target = build_all(workspace, target_dir)?;
    ArtifactParameter::ALL
        .iter()
        .map(|&parameter| {
            let path = target.join(parameter.crate_name());
            let binary = std::fs::read(&path).map_err(|source| ArtifactError::Read {
                path: path.clone(),
                source,
            })?;
            check_binary(parameter.crate_name(), &binary, true)?;
            let bytes = match parameter {
                ArtifactParameter::Scraper => binary,
                _ => zip_bootstrap(&binary)?,
            };
            Ok(Artifact::new(parameter, bytes))
        })
        .collect()
}

/// Builds one artifact's binary exactly as [`build`] does (the same command, which builds them
/// all) and returns its path, unpackaged: for tests and benchmarks that run the binary that ships,
/// and find it built when `deployer up` or `.ci/run` built it before.
pub fn build_binary(
    workspace: &Path,
    target_dir: Option<&Path>,
    parameter: ArtifactParameter,
) -> Result<PathBuf, ArtifactError> {
    Ok(build_all(workspace, target_dir)?.join(parameter.crate_name()))
}

/// Runs [`cargo_build_args`] in `workspace` and returns the directory that holds the binaries.
fn build_all(workspace: &Path, target_dir: Option<&Path>) -> Result<PathBuf, ArtifactError> {
    let cargo_command = || {
        let mut command = cargo_outside_a_crate();
        if let Some(dir) = target_dir {
            command.env("CARGO_TARGET_DIR", dir);
        }
        command
    };
    let metadata = cargo_metadata(workspace, cargo_command())?;
    // Only the workspace's own packages count: a registry crate may share a name with a runtime
    // crate (crates.io has a `scraper`), and registry packages have a `source`.
    let packages: Vec<&str> = metadata["packages"]
        .as_array()
        .map(|p| {
            p.iter()
                .filter(|p| p["source"].is_null())
                .filter_map(|p| p["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    let missing: Vec<String> = ArtifactParameter::ALL
        .iter()
        .map(|p| p.package())
        .filter(|name| !packages.contains(name))
        .map(|name| format!("`{name}`"))
        .collect();
    if !missing.is_empty() {
        return Err(ArtifactError::MissingCrates(missing));
    }
    let target_dir = metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| ArtifactError::Cargo("cargo metadata gave no target directory".into()))?;
    run_cargo_build(cargo_command(), workspace, &cargo_build_args())?;
    Ok(target_dir.join(ARTIFACT_PROFILE))
}

/// The Cargo profile (and target subdirectory) the artifacts are built with, defined in the
/// workspace's `Cargo.toml`: fat LTO, one codegen unit, size-optimised (a smaller zip, so a faster
/// cold start), with the hot paths (the record's code, the scraper) at `opt-level = 3`.
pub const ARTIFACT_PROFILE: &str = "artifact";

/// The arguments of the one `cargo` command that builds every artifact:
/// `build --profile artifact --locked -p transform -p to-parquet -p notify -p scraper-daemon -p vpn-connect`,
/// what `.ci/run` and the benchmark scripts run too (a test holds them to it).
pub fn cargo_build_args() -> Vec<&'static str> {
    let mut args = vec!["build", "--profile", ARTIFACT_PROFILE, "--locked"];
    for parameter in ArtifactParameter::ALL {
        args.extend(["-p", parameter.package()]);
    }
    args
}

fn run_cargo_build(
    mut command: Command,
    workspace: &Path,
    args: &[&str],
) -> Result<(), ArtifactError> {
    command.current_dir(workspace).args(args);
    tracing::info!("building the runtime crates: {command:?}");
    let status = command
        .status()
        .map_err(|e| ArtifactError::Cargo(format!("could not run cargo: {e}")))?;
    if !status.success() {
        return Err(ArtifactError::Cargo(format!(
            "cargo {} failed ({status})",
            args.join(" ")
        )));
    }
    Ok(())
}

/// A `cargo` command without the variables Cargo sets for a crate it runs (a test or a bench
/// calling [`build`]): build scripts watch some of them (ring's reruns when `CARGO_MANIFEST_DIR`
/// changes), so passing them on would rebuild the artifacts, and every crate above ring, each time
/// they are built from inside and from outside Cargo.
fn cargo_outside_a_crate() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if is_set_for_a_running_crate(&name) {
            command.env_remove(name.as_ref());
        }
    }
    command
}

/// The variables Cargo sets for the crate it runs
/// (<https://doc.rust-lang.org/cargo/reference/environment-variables.html>), not those that
/// configure Cargo itself (`CARGO_HOME`, `CARGO_TARGET_DIR`, ...).
fn is_set_for_a_running_crate(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_MANIFEST_")
        || name.starts_with("CARGO_BIN_")
        || matches!(
            name,
            "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE" | "CARGO_TARGET_TMPDIR"
        )
}

fn cargo_metadata(
    workspace: &Path,
    mut command: Command,
) -> Result<serde_json::Value, ArtifactError> {
    let output = command
        .current_dir(workspace)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .map_err(|e| ArtifactError::Cargo(format!("could not run cargo metadata: {e}")))?;
    if !output.status.success() {
        return Err(ArtifactError::Cargo(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| ArtifactError::Cargo(format!("cargo metadata printed bad JSON: {e}")))
}

/// Checks an executable: when `require_elf`, it must be an ELF file; an ELF file must need at most
/// [`MAX_GLIBC`]. (A prebuilt `bootstrap` may be a script, which Lambda also runs.)
fn check_binary(name: &str, bytes: &[u8], require_elf: bool) -> Result<(), ArtifactError> {
    if !bytes.starts_with(b"\x7fELF") {
        if require_elf {
            return Err(ArtifactError::BadElf {
                name: name.to_owned(),
                reason: "no ELF header".into(),
            });
        }
        return Ok(());
    }
    match max_glibc(bytes) {
        Ok(Some(found)) if found > MAX_GLIBC => Err(ArtifactError::GlibcTooNew {
            name: name.to_owned(),
            found,
        }),
        Ok(_) => Ok(()),
        Err(reason) => Err(ArtifactError::BadElf {
            name: name.to_owned(),
            reason,
        }),
    }
}

/// The highest `GLIBC_x.y` version an ELF binary's version needs (`.gnu.version_r`) name, or
/// `None` for a static binary or one that needs no versioned glibc symbol.
pub fn max_glibc(bytes: &[u8]) -> Result<Option<(u32, u32)>, String> {
    use object::elf::FileHeader64;
    use object::read::elf::FileHeader;

    let header = FileHeader64::<object::Endianness>::parse(bytes).map_err(|e| e.to_string())?;
    let endian = header.endian().map_err(|e| e.to_string())?;
    let sections = header.sections(endian, bytes).map_err(|e| e.to_string())?;
    let Some((mut needs, link)) = sections
        .gnu_verneed(endian, bytes)
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let strings = sections
        .strings(endian, bytes, link)
        .map_err(|e| e.to_string())?;
    let mut highest: Option<(u32, u32)> = None;
    while let Some((_need, mut auxes)) = needs.next().map_err(|e| e.to_string())? {
        while let Some(aux) = auxes.next().map_err(|e| e.to_string())? {
            let name = aux.name(endian, strings).map_err(|e| e.to_string())?;
            if let Some(version) = parse_glibc_version(name) {
                highest = highest.max(Some(version));
            }
        }
    }
    Ok(highest)
}

/// `GLIBC_2.34` → `(2, 34)`; `GLIBC_2.2.5` → `(2, 2)`; anything else → `None`.
fn parse_glibc_version(name: &[u8]) -> Option<(u32, u32)> {
    let rest = std::str::from_utf8(name.strip_prefix(b"GLIBC_")?).ok()?;
    let mut parts = rest.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().unwrap_or("0").parse().ok()?;
    Some((major, minor))
}

/// Zips `binary` as an executable `bootstrap`, byte-reproducibly: fixed timestamp (1980-01-01, the
/// zip epoch), fixed permissions, one entry.
pub fn zip_bootstrap(binary: &[u8]) -> Result<Vec<u8>, ArtifactError> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o755);
    writer.start_file("bootstrap", options)?;
    writer
        .write_all(binary)
        .map_err(|e| ArtifactError::Zip(e.into()))?;
    Ok(writer.finish()?.into_inner())
}

/// The `bootstrap` entry of a Lambda zip, checked to be executable (`deployer run` runs it).
pub fn read_bootstrap(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("not a zip file: {e}"))?;
    let mut entry = archive.by_name("bootstrap").map_err(|_| {
        "no `bootstrap` at the root of the zip (Lambda's provided runtimes run it)".to_owned()
    })?;
    if entry.unix_mode().is_some_and(|mode| mode & 0o111 == 0) {
        return Err("`bootstrap` is not executable in the zip (mode has no x bit)".into());
    }
    let mut content = Vec::new();
    entry
        .read_to_end(&mut content)
        .map_err(|e| format!("cannot read `bootstrap`: {e}"))?;
    Ok(content)
}

/// An object at a content-hash key whose checksum is the local bytes'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The key.
    pub key: String,
    /// The object version to pin; `None` only in a bucket without versioning.
    pub version_id: Option<String>,
    /// True when this run uploaded it.
    pub uploaded: bool,
}

/// An artifact in a region's bucket: the key and version the pipeline stack's parameters take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredArtifact {
    /// Which artifact.
    pub parameter: ArtifactParameter,
    /// Where it is; for `diff`, `version_id` is `None` when it is not uploaded yet.
    pub object: Stored,
    /// The SHA-256 of its sources, when known ([`Artifact::source_sha256`]).
    pub source_sha256: Option<String>,
}

/// Accepts an object's recorded checksum only when it is exactly the local bytes' SHA-256: no
/// checksum, another algorithm's, a composite (multipart) one or a different one are refused.
pub fn check_checksum(
    what: &str,
    bucket: &str,
    key: &str,
    expected: &str,
    found: Option<&str>,
) -> Result<(), ArtifactError> {
    if found == Some(expected) {
        return Ok(());
    }
    Err(ArtifactError::Tampered {
        what: what.to_owned(),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        expected: expected.to_owned(),
        found: found.map(str::to_owned),
    })
}

/// The object at `key` when there is one, after checking that its SHA-256 checksum is `checksum`
/// (base64): `None` when absent, [`ArtifactError::Tampered`] when it holds anything else.
pub async fn find_verified(
    s3: &aws_sdk_s3::Client,
    region: &str,
    bucket: &str,
    key: &str,
    checksum: &str,
    what: &str,
) -> Result<Option<Stored>, Error> {
    let head = s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await;
    let head = match head {
        Ok(head) => head,
        Err(error) => {
            let not_found = error
                .as_service_error()
                .is_some_and(aws_sdk_s3::operation::head_object::HeadObjectError::is_not_found);
            if not_found {
                return Ok(None);
            }
            return Err(api_error(
                format!("HeadObject s3://{bucket}/{key}"),
                region,
                error,
            ));
        }
    };
    check_checksum(what, bucket, key, checksum, head.checksum_sha256())?;
    Ok(Some(Stored {
        key: key.to_owned(),
        version_id: head.version_id().map(str::to_owned),
        uploaded: false,
    }))
}

/// Makes `key` hold `bytes`: an object already there is accepted only with their SHA-256 checksum
/// ([`find_verified`]); otherwise `bytes` are uploaded with their `ChecksumSHA256`, which S3
/// verifies and records.
pub async fn store(
    s3: &aws_sdk_s3::Client,
    region: &str,
    bucket: &str,
    key: &str,
    bytes: &[u8],
    what: &str,
) -> Result<Stored, Error> {
    let checksum = sha256_base64(bytes);
    if let Some(found) = find_verified(s3, region, bucket, key, &checksum, what).await? {
        return Ok(found);
    }
    tracing::info!("uploading s3://{bucket}/{key} ({} bytes)", bytes.len());
    let put = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(bytes.to_vec()))
        // The algorithm header makes S3 record the checksum; the value is the local bytes' hash,
        // so S3 refuses the upload if what arrives differs.
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .checksum_sha256(checksum)
        .send()
        .await
        .map_err(|e| api_error(format!("PutObject s3://{bucket}/{key}"), region, e))?;
    Ok(Stored {
        key: key.to_owned(),
        version_id: put.version_id().map(str::to_owned),
        uploaded: true,
    })
}

/// [`store`]s every artifact in `bucket` and returns the versions to pin, refusing a bucket that
/// gives none.
pub async fn store_all(
    s3: &aws_sdk_s3::Client,
    region: &str,
    bucket: &str,
    artifacts: &[Artifact],
) -> Result<Vec<StoredArtifact>, Error> {
    let mut stored = Vec::new();
    for artifact in artifacts {
        let object = store(
            s3,
            region,
            bucket,
            &artifact.key(),
            &artifact.bytes,
            &artifact.description(),
        )
        .await?;
        if object.version_id.is_none() {
            return Err(ArtifactError::Unversioned {
                bucket: bucket.to_owned(),
                key: object.key,
            }
            .into());
        }
        stored.push(StoredArtifact {
            parameter: artifact.parameter,
            object,
            source_sha256: artifact.source_sha256.clone(),
        });
    }
    Ok(stored)
}

/// Turns versioning on for `bucket`, for emulators only: moto's CloudFormation ignores the artifacts
/// stack's `VersioningConfiguration`, and without versions there is nothing to pin. On AWS the
/// stack turns it on, and [`store_all`] refuses a bucket that gives no version.
pub async fn enable_versioning_on_emulator(
    s3: &aws_sdk_s3::Client,
    region: &str,
    bucket: &str,
) -> Result<(), Error> {
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| api_error(format!("PutBucketVersioning {bucket}"), region, e))?;
    Ok(())
}

/// What `bucket` holds of `artifacts`, checked but not uploaded (for `diff`): an artifact not there
/// yet has no version.
pub async fn find_all(
    s3: &aws_sdk_s3::Client,
    region: &str,
    bucket: &str,
    artifacts: &[Artifact],
) -> Result<Vec<StoredArtifact>, Error> {
    let mut found = Vec::new();
    for artifact in artifacts {
        let key = artifact.key();
        let object = find_verified(
            s3,
            region,
            bucket,
            &key,
            &artifact.checksum_sha256,
            &artifact.description(),
        )
        .await?
        .unwrap_or(Stored {
            key,
            version_id: None,
            uploaded: false,
        });
        found.push(StoredArtifact {
            parameter: artifact.parameter,
            object,
            source_sha256: artifact.source_sha256.clone(),
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_crates_variables_are_not_passed_to_the_artifact_build() {
        for name in [
            "CARGO_MANIFEST_DIR",
            "CARGO_MANIFEST_PATH",
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION_MAJOR",
            "CARGO_CRATE_NAME",
            "CARGO_BIN_NAME",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
        ] {
            assert!(is_set_for_a_running_crate(name), "{name}");
        }
        for name in [
            "CARGO",
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_TERM_COLOR",
            "PATH",
        ] {
            assert!(!is_set_for_a_running_crate(name), "{name}");
        }
        // In this test (run by Cargo or nextest) the variable is set, and the command drops it.
        let command = cargo_outside_a_crate();
        let dropped: Vec<_> = command
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        assert!(
            dropped.iter().any(|n| n == "CARGO_MANIFEST_DIR"),
            "{dropped:?}"
        );
    }

    #[test]
    fn the_artifacts_build_together_and_the_scripts_run_the_same_command() {
        let all = "build --profile artifact --locked -p transform -p to-parquet -p notify -p scraper-daemon -p vpn-connect";
        assert_eq!(cargo_build_args().join(" "), all);
        // Another command (one artifact alone, other features) would rebuild the artifacts' tree:
        // every script that builds an artifact runs this one.
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for script in [
            ".ci/run",
            "runtime/transform-bench/bench.sh",
            "runtime/vpn-connect/bench.sh",
        ] {
            let text = std::fs::read_to_string(workspace.join(script)).unwrap();
            assert!(
                text.contains(&format!("cargo {all}\n")),
                "{script} does not run `cargo {all}`"
            );
            let optimized = |line: &&str| {
                line.contains("cargo build")
                    && ["--profile", "--release"]
                        .iter()
                        .any(|profile| line.contains(profile))
            };
            for line in text.lines().filter(optimized) {
                assert_eq!(
                    line.trim(),
                    format!("cargo {all}"),
                    "{script} builds an artifact another way"
                );
            }
        }
    }

    #[test]
    fn every_other_package_built_with_the_artifact_profile_has_the_artifacts_in_its_graph() {
        // A bench built with `--profile artifact` reuses the artifacts' compiled dependencies only
        // if they resolve the same features, which they do when all five artifacts are in its
        // dependency graph (unused dev-dependencies suffice); otherwise Cargo compiles a second
        // variant of much of the tree in the optimized profile.
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut built = std::collections::BTreeSet::new();
        for script in [
            ".ci/run",
            "runtime/quote/bench.sh",
            "runtime/transform-bench/bench.sh",
            "runtime/vpn-connect/bench.sh",
        ] {
            let text = std::fs::read_to_string(workspace.join(script)).unwrap();
            for line in text.lines().filter(|l| l.contains("--profile artifact")) {
                let words: Vec<&str> = line.split_whitespace().collect();
                for pair in words.windows(2).filter(|pair| pair[0] == "-p") {
                    built.insert(pair[1].to_owned());
                }
            }
        }
        let artifacts: Vec<&str> = ArtifactParameter::ALL.iter().map(|p| p.package()).collect();
        built.retain(|name| !artifacts.contains(&name.as_str()));
        assert!(
            built.contains("transform-bench") && built.contains("scraper-bench"),
            "{built:?}"
        );
        let metadata = cargo_metadata(&workspace, cargo_outside_a_crate()).unwrap();
        let packages = metadata["packages"].as_array().unwrap();
        for name in &built {
            let package = packages
                .iter()
                .find(|p| p["name"] == name.as_str())
                .unwrap();
            let dependencies: Vec<&str> = package["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|d| d["name"].as_str())
                .collect();
            let missing: Vec<&&str> = artifacts
                .iter()
                .filter(|a| !dependencies.contains(a))
                .collect();
            assert!(
                missing.is_empty(),
                "{name} is built with --profile artifact without {missing:?} in its graph: list them \
                 as (unused) dev-dependencies, or it recompiles the artifacts' tree"
            );
        }
    }

    #[test]
    fn zips_are_reproducible_and_hold_an_executable_bootstrap() {
        let a = zip_bootstrap(b"#!/bin/sh\necho hi\n").unwrap();
        let b = zip_bootstrap(b"#!/bin/sh\necho hi\n").unwrap();
        assert_eq!(a, b);
        assert_eq!(read_bootstrap(&a).unwrap(), b"#!/bin/sh\necho hi\n");
    }

    #[test]
    fn keys_follow_the_parameter_pattern() {
        let zip = Artifact::new(ArtifactParameter::ToParquet, b"x".to_vec());
        assert_eq!(zip.key(), format!("to-parquet/{}.zip", sha256_hex(b"x")));
        let bin = Artifact::new(ArtifactParameter::Scraper, b"x".to_vec());
        assert!(bin.key().starts_with("scraper/") && bin.key().ends_with(".bin"));
        assert_eq!(bin.key().len(), "scraper/".len() + 64 + ".bin".len());
    }

    #[test]
    fn checksums_are_base64_sha256_as_s3_spells_them() {
        // S3's documented example: the SHA-256 of "hello" (RFC 4648 base64, with padding).
        assert_eq!(
            sha256_base64(b"hello"),
            "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
        );
        let artifact = Artifact::new(ArtifactParameter::Notify, b"hello".to_vec());
        assert_eq!(artifact.checksum_sha256, sha256_base64(b"hello"));
    }

    #[test]
    fn only_the_exact_sha256_checksum_is_accepted() {
        let expected = sha256_base64(b"zip");
        let check = |found: Option<&str>| {
            check_checksum("the notify artifact", "b", "notify/k.zip", &expected, found)
        };
        assert!(check(Some(&expected)).is_ok());
        let other = sha256_base64(b"planted");
        for found in [
            None,
            Some(other.as_str()),
            Some(""),
            // A multipart upload's composite checksum does not prove the whole object's hash.
            Some(&*format!("{expected}-2")),
            Some(&*expected.to_lowercase()),
        ] {
            let Err(ArtifactError::Tampered {
                found: reported, ..
            }) = check(found)
            else {
                panic!("{found:?} must be refused");
            };
            assert_eq!(reported.as_deref(), found);
        }
    }

    #[test]
    fn a_refusal_says_what_where_expected_found_why_and_how_to_fix() {
        let planted = check_checksum(
            "the transform artifact",
            "mst-prod-artifacts-444455556666-eu-west-1",
            "transform/ab.zip",
            "EXPECTED=",
            Some("FOUND="),
        )
        .unwrap_err()
        .to_string();
        for part in [
            "refusing to deploy",
            "s3://mst-prod-artifacts-444455556666-eu-west-1/transform/ab.zip (the transform artifact)",
            "has SHA-256 checksum FOUND=",
            "the local artifact's SHA-256 is EXPECTED=",
            "replaced or planted",
            "aws s3api delete-object --bucket mst-prod-artifacts-444455556666-eu-west-1 --key transform/ab.zip",
            "run `deployer up` again",
        ] {
            assert!(planted.contains(part), "{part:?} in {planted}");
        }
        let unchecked = check_checksum("the scraper artifact", "b", "k", "E=", None)
            .unwrap_err()
            .to_string();
        assert!(
            unchecked.contains("has no SHA-256 checksum")
                && unchecked.contains("older than checksum verification"),
            "{unchecked}"
        );
    }

    #[test]
    fn glibc_versions_parse() {
        assert_eq!(parse_glibc_version(b"GLIBC_2.34"), Some((2, 34)));
        assert_eq!(parse_glibc_version(b"GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(parse_glibc_version(b"GLIBC_PRIVATE"), None);
        assert_eq!(parse_glibc_version(b"GCC_3.0"), None);
    }

    #[test]
    fn the_running_test_binary_has_a_readable_glibc_need() {
        // This test executable is a dynamically linked ELF built on this machine: the parser
        // must find its GLIBC_ needs (we do not assert the number: it depends on the host).
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let found = max_glibc(&me).unwrap();
        assert!(found.is_some_and(|(major, _)| major == 2), "{found:?}");
    }

    #[test]
    fn a_too_new_glibc_is_refused() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let found = max_glibc(&me).unwrap().unwrap();
        let result = check_binary("transform", &me, true);
        if found > MAX_GLIBC {
            assert!(matches!(result, Err(ArtifactError::GlibcTooNew { .. })));
        } else {
            assert!(result.is_ok());
        }
        assert!(matches!(
            check_binary("transform", b"#!/bin/sh", true),
            Err(ArtifactError::BadElf { .. })
        ));
    }

    #[test]
    fn missing_runtime_crates_are_named() {
        let error = ArtifactError::MissingCrates(vec!["`transform`".into(), "`notify`".into()]);
        let text = error.to_string();
        assert!(text.contains("`transform`, `notify`") && text.contains("--artifacts DIR"));
    }
}
