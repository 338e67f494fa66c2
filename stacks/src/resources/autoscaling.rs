//! Amazon EC2 Auto Scaling.

use serde::Serialize;

use super::ec2::LaunchTemplateRef;
use super::resource_types;
use crate::template::Expr;

/// `AWS::AutoScaling::AutoScalingGroup`: `Ref` is the group's name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutoScalingGroup {
    /// The launch template and its version.
    pub launch_template: LaunchTemplateRef,
    /// Fewest instances (a string, as CloudFormation spells it).
    pub min_size: String,
    /// Most instances.
    pub max_size: String,
    /// Instances wanted.
    pub desired_capacity: String,
    /// Subnets the instances start in.
    #[serde(rename = "VPCZoneIdentifier")]
    pub vpc_zone_identifier: Vec<Expr>,
    /// `EC2`: the instance's status checks, plus what the instance reports with `SetInstanceHealth`.
    pub health_check_type: &'static str,
    /// Seconds after launch before health checks count.
    pub health_check_grace_period: u32,
    /// Tags; `PropagateAtLaunch` ones are copied to the instances.
    pub tags: Vec<GroupTag>,
}

/// A tag of an Auto Scaling group.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupTag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: Expr,
    /// Copied to the group's instances.
    pub propagate_at_launch: bool,
}

resource_types!(AutoScalingGroup => "AWS::AutoScaling::AutoScalingGroup");
