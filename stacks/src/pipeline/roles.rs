//! One IAM role per component: a trust policy for the service that runs it, and one policy holding
//! exactly the statements the component's uses produce.

use crate::iam::actions::sts;
use crate::iam::{PolicyDocument, Principal, Statement};
use crate::resources::iam::{Policy, Role};
use crate::template::{Expr, Handle, Options, Template, pseudo};

use super::BuildError;
use super::keys::{DataKey, data_key_grant};

/// The AWS service a role is assumed by, and the confused-deputy condition it supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TrustedService {
    /// Lambda execution roles. Lambda sets no `aws:SourceArn`/`aws:SourceAccount` when it assumes an
    /// execution role, so a condition on them would make the role unusable.
    Lambda,
    /// Firehose documents `sts:ExternalId` = the account id as its confused-deputy guard.
    Firehose,
    /// Glue crawlers. Glue does not document source conditions for role assumption.
    Glue,
    /// EC2 instance profiles: the instance, not a service acting for another account, assumes the role.
    Ec2,
    /// VPC flow logs delivering to CloudWatch Logs; the service documents `aws:SourceAccount` and
    /// `aws:SourceArn` (the flow log) as its confused-deputy guard
    /// (<https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html>).
    VpcFlowLogs,
    /// Amazon Managed Grafana workspaces; the service documents `aws:SourceAccount` and
    /// `aws:SourceArn` (the workspace) as its confused-deputy guard
    /// (<https://docs.aws.amazon.com/grafana/latest/userguide/AMG-manage-permissions.html>).
    Grafana,
}

impl TrustedService {
    fn trust_statement(self) -> Statement {
        let service = match self {
            Self::Lambda => "lambda",
            Self::Firehose => "firehose",
            Self::Glue => "glue",
            Self::Ec2 => "ec2",
            Self::VpcFlowLogs => "vpc-flow-logs",
            Self::Grafana => "grafana",
        };
        let statement = Statement::allow_principal(
            Principal::Service(vec![Expr::service_principal(service)]),
            &[sts::ASSUME_ROLE],
        );
        match self {
            Self::Firehose => {
                statement.condition("StringEquals", "sts:ExternalId", [pseudo::account_id()])
            }
            Self::VpcFlowLogs => statement
                .condition("StringEquals", "aws:SourceAccount", [pseudo::account_id()])
                .condition(
                    "ArnLike",
                    "aws:SourceArn",
                    [Expr::regional_arn("ec2", [Expr::lit("vpc-flow-log/*")])],
                ),
            Self::Grafana => statement
                .condition("StringEquals", "aws:SourceAccount", [pseudo::account_id()])
                .condition(
                    "ArnLike",
                    "aws:SourceArn",
                    [Expr::regional_arn("grafana", [Expr::lit("/workspaces/*")])],
                ),
            Self::Lambda | Self::Glue | Self::Ec2 => statement,
        }
    }
}

/// Adds `<name>Role` and its `<name>Policy` with `statements` and, last, the data key permissions
/// their uses need ([`data_key_grant`]); returns the role and the policy (so resources that need the
/// permissions in place at creation can depend on the policy).
pub(super) fn component_role(
    t: &mut Template,
    name: &str,
    service: TrustedService,
    description: &str,
    key: &DataKey,
    mut statements: Vec<Statement>,
) -> Result<(Handle<Role>, Handle<Policy>), BuildError> {
    statements.extend(data_key_grant(key, &statements));
    let role = t.add(
        &format!("{name}Role"),
        Role {
            description: description.to_owned(),
            assume_role_policy_document: PolicyDocument::new(vec![service.trust_statement()]),
        },
        Options::none(),
    )?;
    let policy = t.add(
        &format!("{name}Policy"),
        Policy {
            policy_name: format!("{name}Permissions"),
            policy_document: PolicyDocument::identity(statements)?,
            roles: vec![role.reference()],
        },
        Options::none(),
    )?;
    Ok((role, policy))
}
