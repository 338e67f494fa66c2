//! `deployer policy diff`: compares two IAM snapshots of an environment role by role and explains
//! every difference as a security reviewer needs it: which role gains or loses which action on which
//! resource, whether that broadens access, and why.
//!
//! The comparison is semantic. Statements are cut into atomic grants (one effect, action, resource,
//! principal and condition set each, see [`normalize`]), so reordering statements, splitting them,
//! repeating an action or changing its case is no change. Intrinsic references are expanded into
//! readable ARNs with the partition, region and account shown as names, so a committed snapshot and
//! the live policies of a deployed role meet in one form. Each difference is then classified
//! ([`diff`]) with IAM-style wildcard coverage ([`classify`]) and rendered for a terminal, a merge
//! request, a machine or GitLab's test report ([`render`]).
//!
//! Snapshots come from a directory, a git revision or synthesis ([`source`]); with the `aws` feature,
//! also from the live roles of a deployed environment (`source::deployed`). The deploy engine compares
//! a deployed and a new template with [`diff_templates`]: their roles the same way, and their
//! resource-based policies (key, bucket, topic and queue policies, Lambda permissions) too.

pub mod classify;
pub mod diff;
pub mod normalize;
pub mod render;
pub mod source;

pub use diff::{
    Category, Change, ChangeKind, PolicyDiff, RoleDiff, RoleStatus, diff_snapshots, diff_templates,
};
pub use normalize::{Catalog, Grant, Scope};
pub use render::Format;

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A snapshot file is not a role snapshot.
    #[error("{path} is not a role snapshot: {source}")]
    Json {
        /// The file (`REV:path` for a git revision).
        path: String,
        /// The decoding error.
        source: serde_json::Error,
    },
    /// `git` failed or could not be started.
    #[error("git {args}: {message}")]
    Git {
        /// The git arguments.
        args: String,
        /// What git said.
        message: String,
    },
    /// A call to AWS failed.
    #[error("{operation}: {message}")]
    Aws {
        /// The API operation (`iam:GetRolePolicy`).
        operation: String,
        /// What AWS said.
        message: String,
    },
    /// A call to AWS failed at the network edge or in the service (unreachable endpoint, missing
    /// credentials, access denied, throttling): one sentence naming what to do.
    #[cfg(feature = "aws")]
    #[error(transparent)]
    Call(#[from] aws_connect::CallError),
    /// A live policy document is not valid JSON.
    #[error("the live policy {name} is not a JSON policy document: {message}")]
    LiveDocument {
        /// Role and policy name.
        name: String,
        /// The decoding problem.
        message: String,
    },
}
