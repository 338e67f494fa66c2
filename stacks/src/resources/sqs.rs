//! Amazon SQS.

use serde::Serialize;

use super::resource_types;
use crate::iam::PolicyDocument;
use crate::template::{Expr, Handle};

/// `AWS::SQS::Queue`: `Ref` is the queue URL.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Queue {
    /// KMS key (ARN or id) encrypting messages.
    pub kms_master_key_id: Expr,
    /// Seconds a message is kept (60 to 1,209,600).
    pub message_retention_period: u32,
}

/// `AWS::SQS::QueuePolicy`: the queues' resource policy.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueuePolicy {
    /// The policy.
    pub policy_document: PolicyDocument,
    /// Queue URLs.
    pub queues: Vec<Expr>,
}

resource_types!(Queue => "AWS::SQS::Queue", QueuePolicy => "AWS::SQS::QueuePolicy");

impl Handle<Queue> {
    /// The queue's ARN.
    pub fn arn(&self) -> Expr {
        self.get_att("Arn")
    }

    /// The queue's URL (what `Ref` returns for a queue).
    pub fn url(&self) -> Expr {
        self.reference()
    }

    /// The queue's name.
    pub fn name(&self) -> Expr {
        self.get_att("QueueName")
    }
}
