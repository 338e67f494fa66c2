//! Amazon EventBridge.

use serde::Serialize;

use super::resource_types;
use crate::template::{Expr, Handle};

/// `AWS::Events::Rule` on the default event bus: `Ref` is the rule name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Rule {
    /// What the rule catches and why.
    pub description: String,
    /// The events it matches.
    pub event_pattern: EventPattern,
    /// `ENABLED`.
    pub state: &'static str,
    /// Where matched events go.
    pub targets: Vec<Target>,
}

/// An event pattern: source, detail type and detail fields, each a list of accepted values.
#[derive(Debug, Clone, Serialize)]
pub struct EventPattern {
    /// Event sources, such as `aws.glue`.
    pub source: Vec<&'static str>,
    /// Detail types, such as `Glue Crawler State Change`.
    #[serde(rename = "detail-type")]
    pub detail_type: Vec<&'static str>,
    /// Fields of the event's detail and their accepted values.
    pub detail: std::collections::BTreeMap<&'static str, Vec<Expr>>,
}

/// A rule target.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Target {
    /// The target's ARN (an SNS topic here).
    pub arn: Expr,
    /// The target's id within the rule.
    pub id: &'static str,
}

resource_types!(Rule => "AWS::Events::Rule");

impl Handle<Rule> {
    /// The rule's ARN (what `aws:SourceArn` is when EventBridge delivers to a target).
    pub fn arn(&self) -> Expr {
        self.get_att("Arn")
    }
}
