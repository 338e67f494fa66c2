//! Amazon SNS.

use serde::Serialize;

use super::resource_types;
use crate::iam::PolicyDocument;
use crate::template::{Expr, Handle};

/// `AWS::SNS::Topic`: `Ref` is the topic ARN.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Topic {
    /// The sender name shown in e-mails.
    pub display_name: String,
    /// KMS key encrypting messages at rest.
    pub kms_master_key_id: Expr,
    /// Inline subscriptions (e-mail addresses confirm by e-mail).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscription: Vec<Subscription>,
}

/// One inline subscription.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subscription {
    /// The address.
    pub endpoint: String,
    /// `email`.
    pub protocol: &'static str,
}

/// `AWS::SNS::TopicPolicy`: replaces the topics' default policy.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopicPolicy {
    /// The policy.
    pub policy_document: PolicyDocument,
    /// Topic ARNs.
    pub topics: Vec<Expr>,
}

resource_types!(Topic => "AWS::SNS::Topic", TopicPolicy => "AWS::SNS::TopicPolicy");

impl Handle<Topic> {
    /// The topic's ARN (what `Ref` returns for a topic).
    pub fn arn(&self) -> Expr {
        self.reference()
    }
}
