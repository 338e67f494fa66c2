//! Physical names derived from the environment: one place, so stacks, IAM and the deployer agree.

use environment::Environment;

use super::StackKind;
use crate::template::{Expr, pseudo};

/// Names of the environment's stacks and named resources.
#[derive(Debug, Clone)]
pub struct Names {
    env: String,
}

impl Names {
    /// Names for `env`.
    pub fn new(env: &Environment) -> Self {
        Self {
            env: env.name.as_str().to_owned(),
        }
    }

    /// The stack name, `mst-<env>-<kind>`.
    pub fn stack(&self, kind: StackKind) -> String {
        format!("mst-{}-{}", self.env, kind.as_str())
    }

    /// A bucket name unique across AWS: `mst-<env>-<purpose>-<account>-<region>` (at most 63
    /// characters, as environment names are at most 20).
    pub fn bucket(&self, purpose: &str) -> Expr {
        Expr::concat([
            Expr::lit(format!("mst-{}-{purpose}-", self.env)),
            pseudo::account_id(),
            Expr::lit("-"),
            pseudo::region(),
        ])
    }

    /// A name unique within the account and region, `mst-<env>-<purpose>`.
    pub fn regional(&self, purpose: &str) -> String {
        format!("mst-{}-{purpose}", self.env)
    }

    /// The Athena workgroup name, `mst-<env>`: the one workgroup of the environment in each region.
    pub fn athena_workgroup(&self) -> String {
        format!("mst-{}", self.env)
    }

    /// The Glue database name (Glue wants lower case and underscores).
    pub fn glue_database(&self) -> String {
        format!("mst_{}", self.env.replace('-', "_"))
    }
}
