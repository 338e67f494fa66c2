//! The SHA-256 of what an artifact is built from, computed without building or running cargo: the
//! runtime crate's sources, those of the workspace crates it depends on, the versions (with
//! checksums) of the registry crates they pull in as `Cargo.lock` pins them, and the workspace's
//! build profiles.
//!
//! `up` records it on the pipeline stack ([`source_tag`]), and `deployer diff` compares it with the
//! sources of the checkout, so "code of transform changes" is known in a second, not after a
//! fifteen-minute release build. It is conservative: a change that does not change the binary (a
//! comment) still counts as a change; a change outside these files (the Rust toolchain) does not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use stacks::pipeline::ArtifactParameter;

/// The prefix of the pipeline stack tags holding each artifact's source hash:
/// `mst:source-sha256:transform`.
pub const SOURCE_TAG_PREFIX: &str = "mst:source-sha256:";

/// The stack tag holding `parameter`'s source hash.
pub fn source_tag(parameter: ArtifactParameter) -> String {
    format!("{SOURCE_TAG_PREFIX}{}", parameter.crate_name())
}

/// Why a source hash could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A file could not be read.
    #[error("{}: {source}", .path.display())]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The workspace has no such crate.
    #[error(
        "the workspace at {} has no crate `{package}`: run deployer from the repository's root, or pass prebuilt files with --artifacts DIR",
        .workspace.display()
    )]
    MissingCrate {
        /// The workspace root.
        workspace: PathBuf,
        /// The package name.
        package: String,
    },
}

fn read(path: &Path) -> Result<String, SourceError> {
    std::fs::read_to_string(path).map_err(|source| SourceError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The value of `key = "value"` on a TOML line, if the line is that.
fn string_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line
        .trim()
        .strip_prefix(key)?
        .trim_start()
        .strip_prefix('=')?;
    let rest = rest.trim().strip_prefix('"')?;
    rest.split('"').next()
}

/// The value of `key = "value"` inside an inline table on `line` (`{ path = "x", … }`).
fn inline_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!("{key} = \""))? + key.len() + 4;
    line[start..].split('"').next()
}

/// One dependency line of a `[dependencies]` section: its key and the rest.
fn dependency(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (key, rest) = line.split_once('=')?;
    let key = key.trim();
    // `name.workspace = true`.
    let (key, rest) = match key.split_once('.') {
        Some((name, attribute)) => (
            name,
            if attribute == "workspace" {
                "{ workspace = true }"
            } else {
                rest
            },
        ),
        None => (key, rest),
    };
    Some((key.trim_matches('"'), rest))
}

/// The workspace as its manifests describe it: members by package name, the workspace's path
/// dependencies by key.
struct Workspace {
    root: PathBuf,
    members: BTreeMap<String, PathBuf>,
    path_dependencies: BTreeMap<String, PathBuf>,
    profiles: String,
}

impl Workspace {
    fn read(root: &Path) -> Result<Workspace, SourceError> {
        let manifest = read(&root.join("Cargo.toml"))?;
        let mut section = String::new();
        let mut member_dirs = Vec::new();
        let mut in_members = false;
        let mut path_dependencies = BTreeMap::new();
        let mut profiles = String::new();
        for line in manifest.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with('[') && !in_members {
                section = trimmed.to_owned();
            }
            if section.starts_with("[profile") {
                profiles.push_str(line);
                profiles.push('\n');
            }
            if section == "[workspace]" {
                if trimmed.starts_with("members") {
                    in_members = true;
                }
                if in_members {
                    member_dirs.extend(
                        trimmed
                            .split('"')
                            .skip(1)
                            .step_by(2)
                            .map(|dir| root.join(dir)),
                    );
                    if trimmed.ends_with(']') {
                        in_members = false;
                    }
                }
            }
            if section == "[workspace.dependencies]"
                && let Some((key, rest)) = dependency(line)
                && let Some(path) = inline_value(rest, "path")
            {
                path_dependencies.insert(key.to_owned(), root.join(path));
            }
        }
        let mut members = BTreeMap::new();
        for dir in member_dirs {
            let manifest = read(&dir.join("Cargo.toml"))?;
            if let Some(name) = manifest.lines().find_map(|l| string_value(l, "name")) {
                members.insert(name.to_owned(), dir);
            }
        }
        Ok(Workspace {
            root: root.to_owned(),
            members,
            path_dependencies,
            profiles,
        })
    }

    /// The workspace crates `package` is built from (itself included, by directory) and the
    /// registry crates they name directly. Dev-dependencies do not count: they are not in the
    /// binary.
    fn closure(&self, package: &str) -> Result<(BTreeSet<PathBuf>, BTreeSet<String>), SourceError> {
        let start = self
            .members
            .get(package)
            .ok_or_else(|| SourceError::MissingCrate {
                workspace: self.root.clone(),
                package: package.to_owned(),
            })?;
        let mut local = BTreeSet::new();
        let mut registry = BTreeSet::new();
        let mut queue = vec![start.clone()];
        while let Some(dir) = queue.pop() {
            if !local.insert(dir.clone()) {
                continue;
            }
            let manifest = read(&dir.join("Cargo.toml"))?;
            let mut in_dependencies = false;
            for line in manifest.lines() {
                let trimmed = line.trim();
                if trimmed.starts_with('[') {
                    let header = trimmed.trim_matches(|c| c == '[' || c == ']');
                    in_dependencies = header == "dependencies"
                        || header == "build-dependencies"
                        || (header.starts_with("target.")
                            && (header.ends_with(".dependencies")
                                || header.ends_with(".build-dependencies")));
                    continue;
                }
                if !in_dependencies {
                    continue;
                }
                let Some((key, rest)) = dependency(line) else {
                    continue;
                };
                let path = match inline_value(rest, "path") {
                    Some(path) => Some(dir.join(path)),
                    None if rest.contains("workspace = true") => {
                        self.path_dependencies.get(key).cloned()
                    }
                    None => None,
                };
                match path {
                    Some(path) => queue.push(path),
                    None => {
                        registry.insert(inline_value(rest, "package").unwrap_or(key).to_owned());
                    }
                }
            }
        }
        Ok((local, registry))
    }
}

/// `Cargo.lock`'s registry packages reachable from `names`, as `name version checksum` lines.
fn locked(lock: &str, names: &BTreeSet<String>) -> BTreeSet<String> {
    struct Package {
        name: String,
        version: String,
        checksum: String,
        dependencies: Vec<String>,
    }
    let mut packages: Vec<Package> = Vec::new();
    let mut in_dependencies = false;
    for line in lock.lines() {
        let trimmed = line.trim();
        if trimmed == "[[package]]" {
            packages.push(Package {
                name: String::new(),
                version: String::new(),
                checksum: String::new(),
                dependencies: Vec::new(),
            });
            in_dependencies = false;
            continue;
        }
        let Some(package) = packages.last_mut() else {
            continue;
        };
        if in_dependencies {
            if trimmed == "]" {
                in_dependencies = false;
            } else if let Some(dependency) = trimmed.split('"').nth(1) {
                package.dependencies.push(dependency.to_owned());
            }
        } else if trimmed.starts_with("dependencies = [") {
            in_dependencies = true;
        } else if let Some(name) = string_value(trimmed, "name") {
            package.name = name.to_owned();
        } else if let Some(version) = string_value(trimmed, "version") {
            package.version = version.to_owned();
        } else if let Some(checksum) = string_value(trimmed, "checksum") {
            package.checksum = checksum.to_owned();
        }
    }
    // A dependency is `name` or, when several versions are locked, `name version`.
    let matches = |wanted: &str, p: &Package| match wanted.split_once(' ') {
        Some((name, version)) => p.name == name && p.version == version,
        None => p.name == wanted,
    };
    let mut seen = BTreeSet::new();
    let mut queue: Vec<String> = names.iter().cloned().collect();
    while let Some(wanted) = queue.pop() {
        for package in packages.iter().filter(|p| matches(&wanted, p)) {
            // Registry packages only: workspace crates are hashed by their sources.
            if package.checksum.is_empty() {
                continue;
            }
            if seen.insert(format!(
                "{} {} {}",
                package.name, package.version, package.checksum
            )) {
                queue.extend(package.dependencies.iter().cloned());
            }
        }
    }
    seen
}

/// Every file under `dir`, sorted, relative to it (skipping `target` folders).
fn files(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> Result<(), SourceError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(SourceError::Read {
                path: dir.to_owned(),
                source,
            });
        }
    };
    for entry in entries {
        let entry = entry.map_err(|source| SourceError::Read {
            path: dir.to_owned(),
            source,
        })?;
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let path = entry.path();
        if path.is_dir() {
            if entry.file_name() != "target" {
                files(&path, &format!("{name}/"), out)?;
            }
        } else {
            out.push((name, path));
        }
    }
    out.sort();
    Ok(())
}

/// The source hash (lower-case hex SHA-256) of `parameter`'s artifact in the workspace at `root`.
/// Each crate contributes its `Cargo.toml`, `build.rs` and everything under `src/`; tests,
/// benchmarks and examples do not (they are not in the binary).
pub fn source_sha256(root: &Path, parameter: ArtifactParameter) -> Result<String, SourceError> {
    let workspace = Workspace::read(root)?;
    let (local, registry) = workspace.closure(parameter.package())?;
    let mut hasher = Sha256::new();
    for dir in &local {
        let relative = dir.strip_prefix(root).unwrap_or(dir);
        hasher.update(format!("crate {}\n", relative.display()));
        let mut found = Vec::new();
        for top in ["Cargo.toml", "build.rs"] {
            if dir.join(top).is_file() {
                found.push((top.to_owned(), dir.join(top)));
            }
        }
        files(&dir.join("src"), "src/", &mut found)?;
        for (name, path) in found {
            let bytes = std::fs::read(&path).map_err(|source| SourceError::Read {
                path: path.clone(),
                source,
            })?;
            hasher.update(format!("file {name} {}\n", bytes.len()));
            hasher.update(&bytes);
        }
    }
    let lock = read(&root.join("Cargo.lock"))?;
    for line in locked(&lock, &registry) {
        hasher.update(format!("registry {line}\n"));
    }
    hasher.update(format!("profiles\n{}", workspace.profiles));
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The source hash of every artifact, in [`ArtifactParameter::ALL`]'s order.
pub fn all(root: &Path) -> Result<Vec<(ArtifactParameter, String)>, SourceError> {
    ArtifactParameter::ALL
        .iter()
        .map(|&p| Ok((p, source_sha256(root, p)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-crate workspace: `app` depends on `lib` and on a registry crate.
    fn workspace(dir: &Path) {
        let write = |path: &str, text: &str| {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write(
            "Cargo.toml",
            "[workspace]\nmembers = [\n    \"app\",\n    \"lib\",\n    \"other\",\n]\n\n[workspace.dependencies]\nlib = { path = \"lib\" }\nserde = \"1\"\n\n[profile.release]\nlto = \"thin\"\n",
        );
        write(
            "app/Cargo.toml",
            "[package]\nname = \"transform\"\n\n[dependencies]\nlib.workspace = true\nserde.workspace = true\n\n[dev-dependencies]\nother = { path = \"../other\" }\n",
        );
        write("app/src/main.rs", "fn main() {}\n");
        write("app/tests/t.rs", "#[test] fn t() {}\n");
        write("lib/Cargo.toml", "[package]\nname = \"lib\"\n");
        write("lib/src/lib.rs", "pub fn f() {}\n");
        write("other/Cargo.toml", "[package]\nname = \"other\"\n");
        write("other/src/lib.rs", "\n");
        write(
            "Cargo.lock",
            "[[package]]\nname = \"serde\"\nversion = \"1.0.1\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"aa\"\ndependencies = [\n \"serde_derive\",\n]\n\n[[package]]\nname = \"serde_derive\"\nversion = \"1.0.1\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"bb\"\n\n[[package]]\nname = \"unrelated\"\nversion = \"2.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"cc\"\n\n[[package]]\nname = \"transform\"\nversion = \"0.1.0\"\ndependencies = [\n \"lib\",\n \"serde\",\n]\n",
        );
    }

    #[test]
    fn the_hash_follows_the_sources_the_binary_is_built_from_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        workspace(root);
        let hash = || source_sha256(root, ArtifactParameter::Transform).unwrap();
        let first = hash();
        assert_eq!(first.len(), 64);
        assert_eq!(hash(), first, "stable");

        let change = |path: &str, text: &str| {
            let path = root.join(path);
            let old = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, text).unwrap();
            let changed = hash();
            std::fs::write(&path, old).unwrap();
            assert_eq!(hash(), first);
            changed
        };
        // Its own sources, a workspace dependency's, a locked registry version (transitively), the
        // profiles: each changes the hash.
        assert_ne!(change("app/src/main.rs", "fn main() { }\n"), first);
        assert_ne!(change("lib/src/lib.rs", "pub fn g() {}\n"), first);
        let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
        assert_ne!(
            change(
                "Cargo.lock",
                &lock.replace("checksum = \"bb\"", "checksum = \"bd\"")
            ),
            first
        );
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert_ne!(
            change("Cargo.toml", &manifest.replace("thin", "fat")),
            first
        );
        // Tests, a dev-dependency and an unrelated locked crate do not.
        assert_eq!(change("app/tests/t.rs", "\n"), first);
        assert_eq!(change("other/src/lib.rs", "pub fn h() {}\n"), first);
        assert_eq!(
            change(
                "Cargo.lock",
                &lock.replace("checksum = \"cc\"", "checksum = \"cd\"")
            ),
            first
        );
        // A crate that is not there is named.
        let missing = source_sha256(root, ArtifactParameter::Notify).unwrap_err();
        assert!(
            missing.to_string().contains("no crate `notify`"),
            "{missing}"
        );
    }

    #[test]
    fn the_real_runtime_crates_hash() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let hashes = all(&root).unwrap();
        assert_eq!(hashes.len(), ArtifactParameter::ALL.len());
        let distinct: BTreeSet<&String> = hashes.iter().map(|(_, h)| h).collect();
        assert_eq!(distinct.len(), ArtifactParameter::ALL.len(), "{hashes:?}");
    }
}
