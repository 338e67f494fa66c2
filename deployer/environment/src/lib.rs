//! The environment model: one YAML file per deployment target, decoded strictly and validated as a whole.
//!
//! [`load`] and [`parse`] give either a fully valid [`Environment`] or every problem of the file at once
//! ([`LoadError`]), each positioned at the offending text and saying how to fix it. docs/environments.md
//! documents every key.

mod checks;
mod decode;
pub mod fleet;
mod model;

use std::path::{Path, PathBuf};

pub use model::*;
pub use strict_yaml::Diagnostic;

/// Why an environment file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("error: cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file has problems: its `Display` renders all of them, rustc style.
    #[error(transparent)]
    Invalid(#[from] strict_yaml::Problems),
}

impl LoadError {
    /// Every problem found, in file order (empty when the file could not be read).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            LoadError::Read { .. } => &[],
            LoadError::Invalid(problems) => problems.diagnostics(),
        }
    }
}

/// Reads and validates `path`; the environment's name is the file stem (`prod` for `environments/prod.yaml`).
pub fn load(path: &Path) -> Result<Environment, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&path.display().to_string(), &text)
}

/// Validates `text` as the environment file `file_name`, whose stem is the environment's name. `file_name` is
/// also how diagnostics name the file.
pub fn parse(file_name: &str, text: &str) -> Result<Environment, LoadError> {
    let doc = strict_yaml::Document::parse(file_name, text)?;
    let dec = strict_yaml::Decoder::new(&doc);
    let stem = Path::new(file_name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let name = if checks::is_env_name(stem) {
        Some(EnvName(stem.to_owned()))
    } else {
        dec.file_error(
            format!("environment name `{stem}` (the file name) must match `^[a-z][a-z0-9-]{{0,19}}$`"),
            "rename the file: 1 to 20 lower-case letters, digits and `-`, starting with a letter, such as `prod.yaml`",
        );
        None
    };
    let env = decode::environment(&dec, name);
    Ok(dec.finish(env)?)
}
