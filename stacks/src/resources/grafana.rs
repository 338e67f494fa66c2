//! Amazon Managed Grafana.

use serde::Serialize;

use super::resource_types;
use crate::template::{Expr, Handle};

/// `AWS::Grafana::Workspace`: a Grafana the service runs, reading AWS data sources with a role the
/// stack provides (`CUSTOMER_MANAGED`). `Ref` is the workspace id.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Workspace {
    /// The workspace's name (`[a-zA-Z0-9-._~]{1,255}`).
    pub name: String,
    /// What it is for.
    pub description: String,
    /// `CURRENT_ACCOUNT`: the workspace reads this account's data with [`Workspace::role_arn`].
    pub account_access_type: &'static str,
    /// How users sign in: `AWS_SSO` and/or `SAML`.
    pub authentication_providers: Vec<&'static str>,
    /// `CUSTOMER_MANAGED`: the role is the stack's, with exactly its uses' permissions.
    pub permission_type: &'static str,
    /// The role the workspace assumes to read its data sources and publish notifications.
    pub role_arn: Expr,
    /// The AWS data sources shown as configured on the workspace (`CLOUDWATCH`).
    pub data_sources: Vec<&'static str>,
    /// Where alerts may go (`SNS`).
    pub notification_destinations: Vec<&'static str>,
}

resource_types!(Workspace => "AWS::Grafana::Workspace");

impl Handle<Workspace> {
    /// The workspace's host name, such as `g-abc1234567.grafana-workspace.eu-west-1.amazonaws.com`.
    pub fn endpoint(&self) -> Expr {
        self.get_att("Endpoint")
    }
}
