//! AWS KMS.

use serde::Serialize;

use super::resource_types;
use crate::iam::PolicyDocument;
use crate::template::{Expr, Handle};

/// `AWS::KMS::Key`: `Ref` is the key id.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Key {
    /// What the key protects.
    pub description: String,
    /// Yearly automatic rotation.
    pub enable_key_rotation: bool,
    /// Days before a scheduled deletion happens (7-30).
    pub pending_window_in_days: u32,
    /// The key policy.
    pub key_policy: PolicyDocument,
}

/// `AWS::KMS::Alias`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Alias {
    /// `alias/...`.
    pub alias_name: String,
    /// The key.
    pub target_key_id: Expr,
}

resource_types!(Key => "AWS::KMS::Key", Alias => "AWS::KMS::Alias");

impl Handle<Key> {
    /// The key's ARN, `arn:<partition>:kms:<region>:<account>:key/<id>`.
    pub fn arn(&self) -> Expr {
        Expr::regional_arn("kms", [Expr::lit("key/"), self.reference()])
    }
}
