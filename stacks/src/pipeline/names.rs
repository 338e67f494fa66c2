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

    /// The DR region's copy of the `purpose` bucket of `source_region`, in `account` (the DR
    /// region's): `mst-<env>-<purpose>-dr-<account>-<source region>` (at most 63 characters for
    /// the purposes `raw` and `curated`). Named after the source region, so each region's data
    /// keeps its own replica bucket (notify's state objects have the same keys in every region).
    pub fn replica_bucket(&self, purpose: &str, account: Expr, source_region: Expr) -> Expr {
        Expr::concat([
            Expr::lit(format!("mst-{}-{purpose}-dr-", self.env)),
            account,
            Expr::lit("-"),
            source_region,
        ])
    }

    /// The replication role's name in the stack's region, `mst-<env>-replication-<region>`: given
    /// only when the replicas are in another account than some source region, whose bucket and
    /// key policies must then name it.
    pub fn replication_role(&self) -> Expr {
        Expr::concat([
            Expr::lit(format!("mst-{}-replication-", self.env)),
            pseudo::region(),
        ])
    }

    /// [`Names::replication_role`]'s ARN in `account` and `region` (in the partition of the
    /// stack naming it).
    pub fn replication_role_arn(&self, account: &str, region: &str) -> Expr {
        Expr::concat([
            Expr::lit("arn:"),
            pseudo::partition(),
            Expr::lit(format!(
                ":iam::{account}:role/mst-{}-replication-{region}",
                self.env
            )),
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

    /// The bootstrap stack's deploy role in the stack's region: `mstboot-<env>-deploy-<region>`.
    /// Bootstrap roles start with `mstboot-`, outside the `mst-<env>-` names the execution role
    /// may manage, so the pipeline can never change them.
    pub fn deploy_role(&self) -> Expr {
        Expr::concat([
            Expr::lit(self.bootstrap_role_prefix("deploy")),
            pseudo::region(),
        ])
    }

    /// The bootstrap stack's CloudFormation execution role in the stack's region.
    pub fn execution_role(&self) -> Expr {
        Expr::concat([
            Expr::lit(self.bootstrap_role_prefix("cfn-exec")),
            pseudo::region(),
        ])
    }

    /// [`Names::deploy_role`]'s ARN in `account` and `region`.
    pub fn deploy_role_arn(&self, account: &str, region: &str) -> String {
        format!(
            "arn:aws:iam::{account}:role/{}{region}",
            self.bootstrap_role_prefix("deploy")
        )
    }

    /// [`Names::execution_role`]'s ARN in `account` and `region`.
    pub fn execution_role_arn(&self, account: &str, region: &str) -> String {
        format!(
            "arn:aws:iam::{account}:role/{}{region}",
            self.bootstrap_role_prefix("cfn-exec")
        )
    }

    /// The name of every region's execution role up to the region, `mstboot-<env>-cfn-exec-`.
    pub fn execution_role_prefix(&self) -> String {
        self.bootstrap_role_prefix("cfn-exec")
    }

    /// `mstboot-<env>-<purpose>-`: at most 8 + 20 + 10 characters, so a region name still fits
    /// IAM's 64.
    fn bootstrap_role_prefix(&self, purpose: &str) -> String {
        format!("mstboot-{}-{purpose}-", self.env)
    }

    /// The prefix of every name the pipeline's resources get, `mst-<env>-`.
    pub fn prefix(&self) -> String {
        format!("mst-{}-", self.env)
    }

    /// The `Name` tag of the Client VPN endpoint, `mst-<env>-vpn-endpoint`: its id is generated, so
    /// the deploy role's `vpn profile` and `vpn revoke` grants are scoped by this tag.
    pub fn vpn_endpoint(&self) -> String {
        format!("mst-{}-vpn-endpoint", self.env)
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
        let in_template = serde_json::to_value(names.replica_bucket(
            "curated",
            pseudo::account_id(),
            Expr::lit("ap-southeast-5"),
        ))
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
