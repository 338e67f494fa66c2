//! Physical names derived from the environment: one place, so stacks, IAM and the deployer agree.

use environment::Environment;

use super::StackKind;
use crate::template::{Expr, pseudo};

/// The purpose part of the artifacts bucket's name.
const ARTIFACTS_PURPOSE: &str = "artifacts";

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
    /// characters, as environment names are at most 20), for the stack's own account and region.
    pub fn bucket(&self, purpose: &str) -> Expr {
        Expr::concat([
            Expr::lit(self.bucket_prefix(purpose)),
            pseudo::account_id(),
            Expr::lit("-"),
            pseudo::region(),
        ])
    }

    /// [`Names::bucket`] spelt out for `account` and `region`, for callers outside a template.
    pub fn bucket_in(&self, purpose: &str, account: &str, region: &str) -> String {
        format!("{}{account}-{region}", self.bucket_prefix(purpose))
    }

    /// The artifacts bucket of the artifacts stack, as [`Names::bucket`] names it.
    pub fn artifacts_bucket(&self) -> Expr {
        self.bucket(ARTIFACTS_PURPOSE)
    }

    /// The name of the artifacts bucket in `account` and `region`: what the deployer uploads to
    /// before the stack's outputs can be read.
    pub fn artifacts_bucket_in(&self, account: &str, region: &str) -> String {
        self.bucket_in(ARTIFACTS_PURPOSE, account, region)
    }

    /// The DR region's copy of the `purpose` bucket of `source_region`:
    /// `mst-<env>-<purpose>-dr-<account>-<source region>` (at most 63 characters for the purposes
    /// `raw` and `curated`). Named after the source region, so each region's data keeps its own
    /// replica bucket (notify's state objects have the same keys in every region).
    pub fn replica_bucket(&self, purpose: &str, source_region: Expr) -> Expr {
        Expr::concat([
            Expr::lit(format!("mst-{}-{purpose}-dr-", self.env)),
            pseudo::account_id(),
            Expr::lit("-"),
            source_region,
        ])
    }

    /// [`Names::replica_bucket`] spelt out, for callers outside a template.
    pub fn replica_bucket_in(&self, purpose: &str, account: &str, source_region: &str) -> String {
        format!("mst-{}-{purpose}-dr-{account}-{source_region}", self.env)
    }

    /// The alias of the DR region's replica key, `alias/mst-<env>-replica`.
    pub fn replica_key_alias(&self) -> String {
        format!("alias/mst-{}-replica", self.env)
    }

    fn bucket_prefix(&self, purpose: &str) -> String {
        format!("mst-{}-{purpose}-", self.env)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_artifacts_bucket_name_is_the_same_in_and_outside_the_template() {
        let names = Names { env: "prod".into() };
        let in_template = serde_json::to_value(names.artifacts_bucket()).unwrap_or_default();
        let resolved = in_template["Fn::Sub"]
            .as_str()
            .unwrap_or_default()
            .replace("${AWS::AccountId}", "444455556666")
            .replace("${AWS::Region}", "eu-west-1");
        assert_eq!(resolved, "mst-prod-artifacts-444455556666-eu-west-1");
        assert_eq!(
            names.artifacts_bucket_in("444455556666", "eu-west-1"),
            resolved
        );
    }

    #[test]
    fn replica_bucket_names_fit_s3s_limit_for_the_longest_env_and_region() {
        let names = Names {
            env: "a".repeat(20),
        };
        let name = names.replica_bucket_in("curated", "123456789012", "ap-southeast-5");
        assert_eq!(name.len(), 63, "{name}");
        let in_template =
            serde_json::to_value(names.replica_bucket("curated", Expr::lit("ap-southeast-5")))
                .unwrap_or_default();
        assert_eq!(
            in_template["Fn::Sub"]
                .as_str()
                .unwrap_or_default()
                .replace("${AWS::AccountId}", "123456789012"),
            name
        );
    }
}
