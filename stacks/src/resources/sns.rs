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
}

/// `AWS::SNS::Subscription`: one address on a topic, with a filter policy (an inline subscription
/// of the topic cannot have one).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subscription {
    /// The topic's ARN.
    pub topic_arn: Expr,
    /// The address.
    pub endpoint: String,
    /// `email`.
    pub protocol: &'static str,
    /// Which messages are delivered (JSON; see SNS message filtering).
    pub filter_policy: serde_json::Value,
    /// What the filter policy applies to: `MessageAttributes`.
    pub filter_policy_scope: &'static str,
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

resource_types!(
    Topic => "AWS::SNS::Topic",
    Subscription => "AWS::SNS::Subscription",
    TopicPolicy => "AWS::SNS::TopicPolicy",
);

impl Handle<Topic> {
    /// The topic's ARN (what `Ref` returns for a topic).
    pub fn arn(&self) -> Expr {
        self.reference()
    }
}
