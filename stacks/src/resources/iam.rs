//! AWS IAM resources.

use serde::Serialize;

use super::resource_types;
use crate::iam::PolicyDocument;
use crate::template::{Expr, Handle};

/// `AWS::IAM::Role`: `Ref` is the role name. Permissions live in a separate [`Policy`], because a
/// separate policy round-trips through every IAM API reader (and local emulators) unchanged.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Role {
    /// The role's name; absent lets CloudFormation generate one from the stack's name (the
    /// pipeline's roles), set where others must find the role by name (the bootstrap roles).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_name: Option<Expr>,
    /// What the role is for.
    pub description: String,
    /// Who may assume it.
    pub assume_role_policy_document: PolicyDocument,
}

/// `AWS::IAM::Policy`: an inline policy attached to roles.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    /// The policy's name within the role.
    pub policy_name: String,
    /// The permissions.
    pub policy_document: PolicyDocument,
    /// Role names.
    pub roles: Vec<Expr>,
}

/// `AWS::IAM::ManagedPolicy`: a customer managed policy attached to roles, for a policy larger
/// than a role's inline policies may be (10,240 characters in all; a managed policy holds 6,144).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedPolicy {
    /// What the policy is for.
    pub description: String,
    /// The permissions.
    pub policy_document: PolicyDocument,
    /// Role names.
    pub roles: Vec<Expr>,
}

/// `AWS::IAM::InstanceProfile`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceProfile {
    /// Role names (exactly one).
    pub roles: Vec<Expr>,
}

resource_types!(
    Role => "AWS::IAM::Role",
    Policy => "AWS::IAM::Policy",
    ManagedPolicy => "AWS::IAM::ManagedPolicy",
    InstanceProfile => "AWS::IAM::InstanceProfile",
);

impl Handle<Role> {
    /// The role's ARN.
    pub fn arn(&self) -> Expr {
        self.get_att("Arn")
    }
}

impl Handle<InstanceProfile> {
    /// The instance profile's ARN.
    pub fn arn(&self) -> Expr {
        self.get_att("Arn")
    }
}
