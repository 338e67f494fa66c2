//! Typed properties of the CloudFormation resource types the pipeline uses, one module per service.
//!
//! Each type carries the properties this project sets (the AWS resource reference has more); field names
//! follow the reference in snake case and are renamed to its PascalCase by serde. `cfn-lint` checks the
//! generated JSON against the AWS resource schemas in CI.

pub mod athena;
pub mod autoscaling;
pub mod cloudwatch;
pub mod ec2;
pub mod events;
pub mod firehose;
pub mod glue;
pub mod grafana;
pub mod iam;
pub mod kinesis;
pub mod kms;
pub mod lambda;
pub mod logs;
pub mod s3;
pub mod secretsmanager;
pub mod sns;
pub mod sqs;

/// Implements [`crate::template::Resource`] for property structs.
macro_rules! resource_types {
    ($($ty:ty => $name:literal),+ $(,)?) => {
        $(impl $crate::template::Resource for $ty {
            const TYPE: &'static str = $name;
        })+
    };
}
pub(crate) use resource_types;

/// `{"Key": k, "Value": v}` pairs, as several resource types take tags.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: crate::template::Expr,
}
