//! The deployed code: the three Lambda zips and the scraper binary, named by the SHA-256 of their
//! content and uploaded to each region's artifacts bucket only when absent.
//!
//! Two sources: [`build`] compiles the runtime crates in release mode and zips each Lambda as
//! `bootstrap`; [`from_dir`] takes prebuilt files (`--artifacts DIR`), so CI builds once and deploys
//! many times. Both check that no binary needs a glibc newer than `provided.al2023`'s.

use std::fmt::Write as _;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_s3::primitives::ByteStream;
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
        "runtime crate(s) {} not found in the workspace: build them, or pass prebuilt files with --artifacts DIR (DIR/transform.zip, DIR/to-parquet.zip, DIR/notify.zip, DIR/scraper)",
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
}

impl std::fmt::Debug for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Artifact")
            .field("parameter", &self.parameter)
            .field("len", &self.bytes.len())
            .field("sha256", &self.sha256)
            .finish()
    }
}

impl Artifact {
    /// Wraps bytes, computing the hash.
    pub fn new(parameter: ArtifactParameter, bytes: Vec<u8>) -> Artifact {
        let sha256 = sha256_hex(&bytes);
        Artifact {
            parameter,
            bytes,
            sha256,
        }
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

/// Builds every runtime crate of the workspace at `workspace` in release mode and packages it.
///
/// Fails with [`ArtifactError::MissingCrates`] (naming them and suggesting `--artifacts`) when a
/// runtime crate does not exist. `target_dir` overrides Cargo's target directory.
pub fn build(workspace: &Path, target_dir: Option<&Path>) -> Result<Vec<Artifact>, ArtifactError> {
    let target_dir_override = target_dir;
    let mut metadata_command = Command::new(cargo());
    let mut command = Command::new(cargo());
    if let Some(dir) = target_dir {
        metadata_command.env("CARGO_TARGET_DIR", dir);
        command.env("CARGO_TARGET_DIR", dir);
    }
    let metadata = cargo_metadata(workspace, metadata_command)?;
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
    // Lambdas are built with the workspace's `lambda` profile (fat LTO, size-optimised: a much smaller
    // zip, so a faster cold start); the scraper, a long-running daemon, with `release`.
    let lambdas: Vec<ArtifactParameter> = ArtifactParameter::ALL
        .into_iter()
        .filter(|p| *p != ArtifactParameter::Scraper)
        .collect();
    run_cargo_build(command, workspace, LAMBDA_PROFILE, &lambdas)?;
    let mut scraper_command = Command::new(cargo());
    if let Some(dir) = target_dir_override {
        scraper_command.env("CARGO_TARGET_DIR", dir);
    }
    run_cargo_build(
        scraper_command,
        workspace,
        "release",
        &[ArtifactParameter::Scraper],
    )?;
    ArtifactParameter::ALL
        .iter()
        .map(|&parameter| {
            let profile_dir = if parameter == ArtifactParameter::Scraper {
                "release"
            } else {
                LAMBDA_PROFILE
            };
            let path = target_dir.join(profile_dir).join(parameter.crate_name());
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

/// The Cargo profile Lambda binaries are built with (defined in the workspace's `Cargo.toml`).
pub const LAMBDA_PROFILE: &str = "lambda";

fn run_cargo_build(
    mut command: Command,
    workspace: &Path,
    profile: &str,
    parameters: &[ArtifactParameter],
) -> Result<(), ArtifactError> {
    command
        .current_dir(workspace)
        .args(["build", "--profile", profile, "--locked"]);
    for parameter in parameters {
        command.args(["-p", parameter.package()]);
    }
    tracing::info!("building runtime crates: {command:?}");
    let status = command
        .status()
        .map_err(|e| ArtifactError::Cargo(format!("could not run cargo: {e}")))?;
    if !status.success() {
        return Err(ArtifactError::Cargo(format!(
            "cargo build --profile {profile} of the runtime crates failed ({status})"
        )));
    }
    Ok(())
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
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

/// The `bootstrap` entry of a Lambda zip, checked to be executable.
fn read_bootstrap(bytes: &[u8]) -> Result<Vec<u8>, String> {
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

/// What [`upload_missing`] did with one artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upload {
    /// It was already in the bucket.
    Present(String),
    /// It was uploaded.
    Uploaded(String),
}

/// Uploads each artifact that is not in `bucket` yet (keys are content hashes, so a present key is
/// the same content).
pub async fn upload_missing(
    s3: &aws_sdk_s3::Client,
    region: &str,
    bucket: &str,
    artifacts: &[Artifact],
) -> Result<Vec<Upload>, Error> {
    let mut done = Vec::new();
    for artifact in artifacts {
        let key = artifact.key();
        if put_if_absent(s3, region, bucket, &key, &artifact.bytes).await? {
            done.push(Upload::Uploaded(key));
        } else {
            done.push(Upload::Present(key));
        }
    }
    Ok(done)
}

/// Puts `bytes` at `key` unless an object is there already; true when it uploaded.
pub async fn put_if_absent(
    s3: &aws_sdk_s3::Client,
    region: &str,
    bucket: &str,
    key: &str,
    bytes: &[u8],
) -> Result<bool, Error> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => return Ok(false),
        Err(error) => {
            let not_found = error
                .as_service_error()
                .is_some_and(aws_sdk_s3::operation::head_object::HeadObjectError::is_not_found);
            if !not_found {
                return Err(api_error(
                    format!("HeadObject s3://{bucket}/{key}"),
                    region,
                    error,
                ));
            }
        }
    }
    tracing::info!("uploading s3://{bucket}/{key} ({} bytes)", bytes.len());
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(bytes.to_vec()))
        .send()
        .await
        .map_err(|e| api_error(format!("PutObject s3://{bucket}/{key}"), region, e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

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
