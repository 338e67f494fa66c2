//! AWS Secrets Manager.

use serde::Serialize;

use super::resource_types;
use crate::template::{Expr, Handle};

/// `AWS::SecretsManager::Secret` with no value: the operator sets it after deployment, so no secret
/// ever appears in a template. `Ref` is the secret's ARN.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Secret {
    /// What the secret holds and how to set it.
    pub description: String,
    /// KMS key (ARN) encrypting the value.
    pub kms_key_id: Expr,
}

resource_types!(Secret => "AWS::SecretsManager::Secret");

impl Handle<Secret> {
    /// The secret's ARN (what `Ref` returns for a secret).
    pub fn arn(&self) -> Expr {
        self.reference()
    }
}
