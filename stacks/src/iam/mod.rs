//! IAM policy documents as typed values, and the one place where `"Resource": "*"` may be used.
//!
//! Every action is an [`Action`] constant: no action may contain `*` (checked when the constant is
//! compiled), and a statement with a wildcard resource is refused unless every one of its actions is
//! listed in [`WILDCARD_RESOURCE_ACTIONS`] with the reason AWS gives. The one allowed `kms:*` is the
//! account statement of a key policy, [`Statement::key_policy_account_root`], for the reason given there.

pub mod actions;
pub mod uses;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::template::Expr;
use uses::Use;

/// One IAM action, `service:Name`, with no wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Action {
    service: &'static str,
    name: &'static str,
}

impl Action {
    /// An action; rejects `*` at compile time when used in a `const`.
    pub const fn new(service: &'static str, name: &'static str) -> Self {
        let bytes = name.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            assert!(
                bytes[i] != b'*' && bytes[i] != b'?',
                "IAM actions must be explicit: no wildcards"
            );
            i += 1;
        }
        assert!(
            !bytes.is_empty() && !service.is_empty(),
            "an IAM action needs a service and a name"
        );
        Self { service, name }
    }

    /// Every action of a service: private, so that only [`Statement::deny_everyone_any_action`] (denying
    /// more is always narrower) and [`Statement::key_policy_account_root`] (the documented exception)
    /// can use it.
    const fn any_of(service: &'static str) -> Self {
        Self { service, name: "*" }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.service, self.name)
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Actions that AWS documents as having no resource-level permissions, so they can only be granted on
/// `"Resource": "*"`; each with its reason. This list is the only place such a grant may come from.
/// The tests `wildcard_resource_is_refused_outside_the_exception_list` and
/// `identity_policies_name_explicit_actions_and_resources` keep every other action off `"*"`.
pub const WILDCARD_RESOURCE_ACTIONS: &[(Action, &str)] = &[
    (
        actions::cloudwatch::PUT_METRIC_DATA,
        "PutMetricData has no resource types (Service Authorization Reference, Amazon CloudWatch); \
         the `cloudwatch:namespace` condition limits it to one namespace",
    ),
    (
        actions::cloudwatch::GET_METRIC_DATA,
        "CloudWatch metrics have no resource-level permissions: the Service Authorization Reference lists no resource type for GetMetricData",
    ),
    (
        actions::cloudwatch::LIST_METRICS,
        "the Service Authorization Reference lists no resource type for ListMetrics",
    ),
    (
        actions::logs::STOP_QUERY,
        "a Logs Insights query is addressed by its id, not an ARN: no resource type for StopQuery",
    ),
];

/// `kms:*`, only reachable through [`Statement::key_policy_account_root`].
const KEY_POLICY_ACCOUNT_ACTIONS: Action = Action::any_of("kms");

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Effect {
    /// Grants the actions.
    Allow,
    /// Refuses the actions, whatever else allows them.
    Deny,
}

/// Who a resource or trust policy statement applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    /// AWS services, such as `lambda.amazonaws.com`.
    Service(Vec<Expr>),
    /// AWS accounts or roles, as ARNs.
    Aws(Vec<Expr>),
    /// Anyone (`"*"`): only in Deny statements (the TLS-only bucket rule) and VPC endpoint policies.
    Everyone,
}

impl Serialize for Principal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (key, values) = match self {
            Principal::Service(values) => ("Service", values),
            Principal::Aws(values) => ("AWS", values),
            Principal::Everyone => return serializer.serialize_str("*"),
        };
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(key, values)?;
        map.end()
    }
}

/// What a statement applies to.
#[derive(Debug, Clone, PartialEq)]
enum Resources {
    Listed(Vec<Expr>),
    Wildcard,
}

/// A statement's conditions: operator (`StringEquals`, ...) to condition key to values.
pub type Conditions = BTreeMap<&'static str, BTreeMap<String, Vec<Expr>>>;

/// One policy statement.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    effect: Effect,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal: Option<Principal>,
    action: Vec<Action>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_resources"
    )]
    resource: Option<Resources>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    condition: Conditions,
    /// Why the statement exists ([`Statement::grant`]); never part of the policy document.
    #[serde(skip)]
    uses: Vec<Use>,
}

fn serialize_resources<S: Serializer>(
    resources: &Option<Resources>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match resources {
        Some(Resources::Listed(list)) => list.serialize(serializer),
        Some(Resources::Wildcard) => serializer.serialize_str("*"),
        None => serializer.serialize_none(),
    }
}

/// Why a statement could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A wildcard resource for an action that supports resource-level permissions.
    #[error("{0} supports resource-level permissions: grant it on explicit ARNs, not \"*\"")]
    WildcardNotAllowed(Action),
    /// A statement with no action.
    #[error("a statement needs at least one action")]
    NoAction,
    /// An identity statement with no resource.
    #[error("a statement granting {0} names no resource")]
    NoResource(Action),
}

impl Statement {
    /// Allows `actions` on the listed resources.
    pub fn allow(actions: &[Action], resources: impl IntoIterator<Item = Expr>) -> Self {
        let mut action = actions.to_vec();
        action.sort();
        action.dedup();
        Self {
            sid: None,
            effect: Effect::Allow,
            principal: None,
            action,
            resource: Some(Resources::Listed(resources.into_iter().collect())),
            condition: Conditions::new(),
            uses: Vec::new(),
        }
    }

    /// Allows on the listed resources exactly the actions `uses` need, and keeps the uses with the
    /// statement as its reasons (`deployer policy explain` prints them; a role's action that no use
    /// accounts for fails [`crate::grants::unexplained`]). Every identity statement of the pipeline is
    /// built this way.
    pub fn grant(uses: &[Use], resources: impl IntoIterator<Item = Expr>) -> Self {
        let actions: Vec<Action> = uses.iter().flat_map(|u| u.need().actions).collect();
        let mut statement = Self::allow(&actions, resources);
        statement.uses = uses.to_vec();
        statement
    }

    /// The uses that account for this statement's actions (empty for statements made with
    /// [`Statement::allow`]).
    pub fn uses(&self) -> &[Use] {
        &self.uses
    }

    /// The statement's actions, sorted.
    pub fn actions(&self) -> &[Action] {
        &self.action
    }

    /// The statement's id, if it has one.
    pub fn sid_text(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// Whether the statement allows (rather than denies).
    pub fn is_allow(&self) -> bool {
        self.effect == Effect::Allow
    }

    /// Allows `actions` on `"*"`; refused unless every action is in [`WILDCARD_RESOURCE_ACTIONS`].
    pub fn allow_on_any_resource(actions: &[Action]) -> Result<Self, PolicyError> {
        if let Some(bad) = actions.iter().find(|action| {
            !WILDCARD_RESOURCE_ACTIONS
                .iter()
                .any(|(allowed, _)| allowed == *action)
        }) {
            return Err(PolicyError::WildcardNotAllowed(*bad));
        }
        let mut statement = Self::allow(actions, []);
        statement.resource = Some(Resources::Wildcard);
        Ok(statement)
    }

    /// [`Statement::grant`] on `"*"`; refused unless every action the uses need is in
    /// [`WILDCARD_RESOURCE_ACTIONS`].
    pub fn grant_on_any_resource(uses: &[Use]) -> Result<Self, PolicyError> {
        let actions: Vec<Action> = uses.iter().flat_map(|u| u.need().actions).collect();
        let mut statement = Self::allow_on_any_resource(&actions)?;
        statement.uses = uses.to_vec();
        Ok(statement)
    }

    /// Denies `actions` to everyone on the listed resources (for resource policies).
    pub fn deny_everyone(actions: &[Action], resources: impl IntoIterator<Item = Expr>) -> Self {
        let mut statement = Self::allow(actions, resources);
        statement.effect = Effect::Deny;
        statement.principal = Some(Principal::Everyone);
        statement
    }

    /// Denies every action of `service` to everyone on the listed resources, when `condition` holds
    /// (for example S3 requests without TLS).
    pub fn deny_everyone_any_action(
        service: &'static str,
        resources: impl IntoIterator<Item = Expr>,
    ) -> Self {
        Self::deny_everyone(&[Action::any_of(service)], resources)
    }

    /// The account statement of AWS's default key policy: `kms:*` on the key for the account root
    /// (`arn:<partition>:iam::<account>:root`), which hands the key's access control to IAM policies.
    ///
    /// This is the one place an `Allow` may carry an action wildcard, because AWS documents it as the
    /// statement every key policy needs ("Default key policy",
    /// <https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html>):
    /// - it does not grant anything to anyone by itself: the root principal here means "IAM policies of
    ///   this account may allow use of the key", so every role still gets exactly what its own policy
    ///   lists (each role policy here names explicit `kms:` actions on the key);
    /// - an explicit list breaks real deployments whenever it misses an action some API needs on the key
    ///   (creating `alias/…` needs `kms:CreateAlias`, replacing it `kms:UpdateAlias`, deleting the stack
    ///   `kms:DeleteAlias`, CloudFormation's handlers call others), and the emulator checks none of it;
    /// - without it the key can become unmanageable: AWS refuses key policies that lock the account out
    ///   unless that check is bypassed, and a key nobody may administer can only be recovered through
    ///   AWS Support.
    ///
    /// `account_root` must be the account's root ARN; the key policy makes the statement's resource `*`,
    /// which in a key policy is the key itself.
    pub fn key_policy_account_root(account_root: Expr) -> Self {
        Self::allow_principal(
            Principal::Aws(vec![account_root]),
            &[KEY_POLICY_ACCOUNT_ACTIONS],
        )
        .sid("EnableIamPoliciesForThisAccount")
        .on_this_key()
    }

    /// A VPC endpoint policy statement: any principal of `account` may call `actions` on `resources`
    /// through the endpoint. Endpoint policies only narrow what IAM already grants.
    pub fn through_endpoint(
        actions: &[Action],
        resources: impl IntoIterator<Item = Expr>,
        account: Expr,
    ) -> Self {
        Self::through_endpoint_from_anyone(actions, resources).condition(
            "StringEquals",
            "aws:PrincipalAccount",
            [account],
        )
    }

    /// A VPC endpoint policy statement for AWS-owned public resources (such as the Amazon Linux package
    /// repositories), which are read without the caller's account.
    pub fn through_endpoint_from_anyone(
        actions: &[Action],
        resources: impl IntoIterator<Item = Expr>,
    ) -> Self {
        let mut statement = Self::allow(actions, resources);
        statement.principal = Some(Principal::Everyone);
        statement
    }

    /// A trust or resource policy statement: `principal` may perform `actions`. Trust policies name no
    /// resource; resource policies add one with [`Statement::on`] or [`Statement::on_this_key`].
    pub fn allow_principal(principal: Principal, actions: &[Action]) -> Self {
        let mut statement = Self::allow(actions, []);
        statement.principal = Some(principal);
        statement.resource = None;
        statement
    }

    /// Sets the statement's resources (for resource policies).
    pub fn on(mut self, resources: impl IntoIterator<Item = Expr>) -> Self {
        self.resource = Some(Resources::Listed(resources.into_iter().collect()));
        self
    }

    /// In a KMS key policy `"Resource": "*"` means the key the policy is attached to, and nothing else.
    pub fn on_this_key(mut self) -> Self {
        self.resource = Some(Resources::Wildcard);
        self
    }

    /// Names the statement (statement ids are letters and digits).
    pub fn sid(mut self, sid: &str) -> Self {
        debug_assert!(
            sid.chars().all(|c| c.is_ascii_alphanumeric()),
            "sid {sid:?}"
        );
        self.sid = Some(sid.to_owned());
        self
    }

    /// Adds a condition `operator: {key: values}`.
    pub fn condition(
        mut self,
        operator: &'static str,
        key: &str,
        values: impl IntoIterator<Item = Expr>,
    ) -> Self {
        self.condition
            .entry(operator)
            .or_default()
            .entry(key.to_owned())
            .or_default()
            .extend(values);
        self
    }

    /// Checks the invariants an identity policy statement must hold.
    fn check_identity(&self) -> Result<(), PolicyError> {
        let first = self.action.first().ok_or(PolicyError::NoAction)?;
        match &self.resource {
            Some(Resources::Listed(list)) if list.is_empty() => {
                Err(PolicyError::NoResource(*first))
            }
            None => Err(PolicyError::NoResource(*first)),
            _ => Ok(()),
        }
    }
}

/// An IAM policy document.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    version: &'static str,
    statement: Vec<Statement>,
}

impl PolicyDocument {
    /// A resource or trust policy from its statements.
    pub fn new(statements: Vec<Statement>) -> Self {
        Self {
            version: "2012-10-17",
            statement: statements,
        }
    }

    /// An identity policy; every statement must name actions and resources.
    pub fn identity(statements: Vec<Statement>) -> Result<Self, PolicyError> {
        for statement in &statements {
            statement.check_identity()?;
        }
        Ok(Self::new(statements))
    }

    /// The statements, in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statement
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GET_RECORDS: Action = Action::new("kinesis", "GetRecords");

    #[test]
    fn wildcard_resource_is_refused_outside_the_exception_list() {
        assert_eq!(
            Statement::allow_on_any_resource(&[GET_RECORDS]),
            Err(PolicyError::WildcardNotAllowed(GET_RECORDS))
        );
        for (action, reason) in WILDCARD_RESOURCE_ACTIONS {
            assert!(!reason.is_empty(), "{action} needs a reason");
            assert!(Statement::allow_on_any_resource(&[*action]).is_ok());
        }
    }

    #[test]
    fn the_key_policy_account_statement_is_aws_default_and_the_only_allowed_action_wildcard() {
        let root = Expr::lit("arn:aws:iam::123456789012:root");
        assert_eq!(
            serde_json::to_value(Statement::key_policy_account_root(root)).unwrap(),
            json!({
                "Sid": "EnableIamPoliciesForThisAccount",
                "Effect": "Allow",
                "Principal": {"AWS": ["arn:aws:iam::123456789012:root"]},
                "Action": ["kms:*"],
                "Resource": "*"
            })
        );
    }

    #[test]
    #[should_panic(expected = "IAM actions must be explicit")]
    fn a_public_action_cannot_be_a_wildcard() {
        let _ = Action::new("kms", "*");
    }

    #[test]
    fn statements_sort_and_deduplicate_actions_and_serialize_as_iam_json() {
        let put = Action::new("kinesis", "PutRecords");
        let statement = Statement::allow(
            &[put, GET_RECORDS, put],
            [Expr::lit("arn:aws:kinesis:eu-west-1:1:stream/s")],
        )
        .sid("Read")
        .condition(
            "StringEquals",
            "aws:SourceAccount",
            [Expr::lit("123456789012")],
        );
        assert_eq!(
            serde_json::to_value(&statement).unwrap(),
            json!({
                "Sid": "Read",
                "Effect": "Allow",
                "Action": ["kinesis:GetRecords", "kinesis:PutRecords"],
                "Resource": ["arn:aws:kinesis:eu-west-1:1:stream/s"],
                "Condition": {"StringEquals": {"aws:SourceAccount": ["123456789012"]}}
            })
        );
    }

    #[test]
    fn identity_policies_need_resources_and_deny_everyone_uses_star_principal() {
        assert_eq!(
            PolicyDocument::identity(vec![Statement::allow(&[GET_RECORDS], [])]),
            Err(PolicyError::NoResource(GET_RECORDS))
        );
        let deny = Statement::deny_everyone(&[GET_RECORDS], [Expr::lit("r")]);
        assert_eq!(
            serde_json::to_value(&deny).unwrap()["Principal"],
            json!("*")
        );
    }
}
