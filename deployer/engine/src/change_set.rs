//! Change sets: what a stack is, what would change, and cleaning up after a review.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{
    Capability, ChangeAction, ChangeSetStatus, ChangeSetType, Parameter, Replacement,
    RollbackConfiguration, RollbackTrigger, StackStatus, Tag, TemplateStage,
};
use policy_review::PolicyDiff;
use serde_json::Value;

use crate::events::is_missing_stack;
use crate::status::{Phase, phase};
use crate::{Error, api_error};

/// The stack tag holding the SHA-256 (hex) of the template the stack was deployed with.
pub const TEMPLATE_HASH_TAG: &str = "mst:template-sha256";
/// The stack tag holding the SHA-256 (hex) of the parameters the engine passed, as
/// [`parameters_sha256`] computes it.
pub const PARAMETERS_HASH_TAG: &str = "mst:parameters-sha256";

/// What the engine deploys as one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSpec {
    /// Stack name.
    pub name: String,
    /// The template, compact JSON.
    pub body: String,
    /// Parameters the engine passes (the others keep their defaults).
    pub parameters: BTreeMap<String, String>,
    /// Stack tags, including [`TEMPLATE_HASH_TAG`] and [`PARAMETERS_HASH_TAG`] when built by
    /// [`StackSpec::new`].
    pub tags: BTreeMap<String, String>,
    /// CloudFormation's rollback triggers for the operation, if any.
    pub rollback: Option<Rollback>,
    /// Existing resources to bring into the stack: when not empty, the change set is an `IMPORT`
    /// of these alone ([`crate::adopt`]).
    pub import: Vec<crate::adopt::Kept>,
}

/// A change set's rollback configuration: CloudFormation rolls the operation back when one of
/// the alarms goes into `ALARM` while it runs or during the monitoring time after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    /// The triggers: alarm ARN and its type (`AWS::CloudWatch::Alarm` or
    /// `AWS::CloudWatch::CompositeAlarm`); at most five.
    pub triggers: Vec<(String, String)>,
    /// Minutes CloudFormation keeps watching after the operation (0 to 180).
    pub monitoring_minutes: u32,
}

impl Rollback {
    fn to_sdk(&self) -> RollbackConfiguration {
        let triggers = self
            .triggers
            .iter()
            .map(|(arn, kind)| RollbackTrigger::builder().arn(arn).r#type(kind).build())
            .collect();
        RollbackConfiguration::builder()
            .set_rollback_triggers(Some(triggers))
            // The environment allows at most 180 minutes.
            .monitoring_time_in_minutes(i32::try_from(self.monitoring_minutes).unwrap_or(180))
            .build()
    }
}

impl StackSpec {
    /// A spec whose tags are `tags` plus the hashes of `body` and `parameters`: what lets the next
    /// `up` see from `DescribeStacks` alone that the stack already is this spec.
    pub fn new(
        name: String,
        body: String,
        parameters: BTreeMap<String, String>,
        mut tags: BTreeMap<String, String>,
    ) -> StackSpec {
        tags.insert(
            TEMPLATE_HASH_TAG.to_owned(),
            crate::artifacts::sha256_hex(body.as_bytes()),
        );
        tags.insert(
            PARAMETERS_HASH_TAG.to_owned(),
            parameters_sha256(&parameters),
        );
        StackSpec {
            name,
            body,
            parameters,
            tags,
            rollback: None,
            import: Vec::new(),
        }
    }
}

/// The SHA-256 (hex) of parameters: of `key=value` lines in key order, so it does not depend on
/// how they were collected.
pub fn parameters_sha256(parameters: &BTreeMap<String, String>) -> String {
    let text: String = parameters
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    crate::artifacts::sha256_hex(text.as_bytes())
}

/// A stack as CloudFormation has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// Stack id (ARN).
    pub stack_id: String,
    /// Status, such as `UPDATE_COMPLETE`.
    pub status: StackStatus,
    /// Status reason.
    pub reason: Option<String>,
    /// Parameter values.
    pub parameters: BTreeMap<String, String>,
    /// Stack tags.
    pub tags: BTreeMap<String, String>,
    /// Outputs (empty on emulators that do not report them).
    pub outputs: Vec<(String, String)>,
}

impl Deployed {
    /// What its status means (see [`phase`]).
    pub fn phase(&self) -> Phase {
        phase(&self.status)
    }

    /// An operation is running on the stack.
    pub fn in_progress(&self) -> bool {
        self.phase().in_progress()
    }

    /// The stack exists only as the holder of an unexecuted change set: deploying it is a create.
    pub fn is_review_only(&self) -> bool {
        self.phase() == Phase::ReviewOnly
    }

    /// A failed first creation: it can only be deleted.
    pub fn is_failed_create(&self) -> bool {
        self.phase() == Phase::FailedCreate
    }
}

/// Describes `name`; `None` when it does not exist.
pub async fn describe_stack(
    client: &Client,
    region: &str,
    name: &str,
) -> Result<Option<Deployed>, Error> {
    let output = match client.describe_stacks().stack_name(name).send().await {
        Ok(output) => output,
        Err(error) if is_missing_stack(&error) => return Ok(None),
        Err(error) => return Err(api_error(format!("DescribeStacks {name}"), region, error)),
    };
    let Some(stack) = output.stacks().first() else {
        return Ok(None);
    };
    let Some(status) = stack.stack_status().cloned() else {
        return Err(Error::Other(format!(
            "DescribeStacks {name} ({region}) returned the stack without a status"
        )));
    };
    if phase(&status) == Phase::Deleted {
        return Ok(None);
    }
    Ok(Some(Deployed {
        stack_id: stack.stack_id().unwrap_or_default().to_owned(),
        status,
        reason: stack.stack_status_reason().map(str::to_owned),
        parameters: stack
            .parameters()
            .iter()
            .map(|p| {
                (
                    p.parameter_key().unwrap_or_default().to_owned(),
                    p.parameter_value().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        tags: stack
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        outputs: stack
            .outputs()
            .iter()
            .map(|o| {
                (
                    o.output_key().unwrap_or_default().to_owned(),
                    o.output_value().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
    }))
}

/// The deployed template's text, as it was submitted.
pub async fn deployed_template(client: &Client, region: &str, name: &str) -> Result<String, Error> {
    let output = client
        .get_template()
        .stack_name(name)
        .template_stage(TemplateStage::Original)
        .send()
        .await
        .map_err(|e| api_error(format!("GetTemplate {name}"), region, e))?;
    Ok(output.template_body().unwrap_or_default().to_owned())
}

/// True when the deployed stack already is `spec`, read from `DescribeStacks` alone: the same
/// tags, which include the template's and the parameters' hashes ([`StackSpec::new`]), the same
/// values for the parameters the engine passes, and a settled, successful state. This lets an
/// unchanged `up` skip change sets (and even reading the deployed template) entirely.
pub fn unchanged(deployed: &Deployed, spec: &StackSpec) -> bool {
    // UPDATE_ROLLBACK_COMPLETE means the last update failed: its tags may be what was tried rather
    // than what runs, so only a completed create, update or import can be unchanged.
    let settled_ok = deployed.phase() == Phase::Complete;
    let same_parameters = spec
        .parameters
        .iter()
        .all(|(k, v)| deployed.parameters.get(k) == Some(v));
    settled_ok && same_parameters && deployed.tags == spec.tags
}

/// Where CloudFormation reads the template from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateLocation {
    /// Inline (up to 51,200 bytes).
    Body,
    /// An S3 URL (the artifacts bucket), for larger templates.
    Url(String),
}

/// One resource change of a change set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceChange {
    /// `Add`, `Modify`, `Remove`, `Import`, `Dynamic` or `SyncWithActual`.
    pub action: ChangeAction,
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// For `Modify`: `True`, `False` or `Conditional`, as CloudFormation says.
    pub replacement: Option<Replacement>,
}

impl fmt::Display for ResourceChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.action {
            ChangeAction::Add => "+",
            ChangeAction::Remove => "-",
            // Modify, Import, Dynamic, SyncWithActual, and actions newer than the SDK.
            _ => "~",
        };
        write!(
            f,
            "{sign} {:<6} {} ({})",
            self.action.as_str(),
            self.logical_id,
            self.resource_type
        )?;
        match &self.replacement {
            Some(Replacement::True) => write!(f, "  REPLACEMENT"),
            Some(Replacement::Conditional) => write!(f, "  may be replaced"),
            None | Some(Replacement::False) => Ok(()),
            // A value newer than the SDK: show it rather than guess what it means.
            Some(other) => write!(f, "  replacement: {}", other.as_str()),
        }
    }
}

/// A reviewed change set, ready to execute or discard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Stack name.
    pub stack: String,
    /// Region.
    pub region: String,
    /// Change set id (ARN); empty for a plan computed locally for a stack that does not exist.
    pub change_set_id: String,
    /// True when executing creates the stack.
    pub create: bool,
    /// Resource changes.
    pub changes: Vec<ResourceChange>,
    /// How IAM changes, role by role and resource-based policy by policy, classified as
    /// `deployer policy diff` classifies it ([`iam_changes`]).
    pub iam: PolicyDiff,
}

impl Plan {
    /// True when IAM access broadens: any change `deployer policy diff` calls broadening.
    pub fn broadens(&self) -> bool {
        self.iam.broadening() > 0
    }

    /// Counts of (added, modified, removed, replaced) resources.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let count =
            |action: ChangeAction| self.changes.iter().filter(|c| c.action == action).count();
        let replaced = self
            .changes
            .iter()
            .filter(|c| c.replacement == Some(Replacement::True))
            .count();
        (
            count(ChangeAction::Add),
            count(ChangeAction::Modify),
            count(ChangeAction::Remove),
            replaced,
        )
    }
}

/// The result of asking CloudFormation what would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    /// Nothing would change (the change set, if one was made, is already deleted).
    Unchanged,
    /// Something would (boxed: a plan is large next to `Unchanged`).
    Changes(Box<Plan>),
}

/// A change set name: starts with a letter, unique enough per stack.
fn change_set_name() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("deployer-{}-{:09}", now.as_secs(), now.subsec_nanos())
}

/// Creates a change set for `spec`, waits until CloudFormation has computed it, and returns what
/// would change. A change set without changes is deleted and reported as [`Prepared::Unchanged`].
/// `deployed_template` is the current template (for the IAM comparison), `None` for a new stack.
pub async fn create(
    client: &Client,
    region: &str,
    spec: &StackSpec,
    location: &TemplateLocation,
    create: bool,
    deployed_template: Option<&Value>,
    poll: Duration,
) -> Result<Prepared, Error> {
    let stack = spec.name.as_str();
    let request = client
        .create_change_set()
        .stack_name(stack)
        .change_set_name(change_set_name())
        .change_set_type(if !spec.import.is_empty() {
            ChangeSetType::Import
        } else if create {
            ChangeSetType::Create
        } else {
            ChangeSetType::Update
        })
        .set_resources_to_import((!spec.import.is_empty()).then(|| {
            spec.import
                .iter()
                .filter_map(crate::adopt::Kept::to_import)
                .collect()
        }))
        .capabilities(Capability::CapabilityNamedIam)
        .set_parameters(Some(
            spec.parameters
                .iter()
                .map(|(k, v)| {
                    Parameter::builder()
                        .parameter_key(k)
                        .parameter_value(v)
                        .build()
                })
                .collect(),
        ))
        .set_tags(Some(
            spec.tags
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ));
    let request = match &spec.rollback {
        Some(rollback) => request.rollback_configuration(rollback.to_sdk()),
        None => request,
    };
    let request = match location {
        TemplateLocation::Body => request.template_body(&spec.body),
        TemplateLocation::Url(url) => request.template_url(url),
    };
    let created = request
        .send()
        .await
        .map_err(|e| api_error(format!("CreateChangeSet {stack}"), region, e))?;
    let id = created.id().unwrap_or_default().to_owned();

    let mut changes = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .describe_change_set()
            .stack_name(stack)
            .change_set_name(&id)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| api_error(format!("DescribeChangeSet {stack}"), region, e))?;
        match page.status() {
            Some(ChangeSetStatus::CreateComplete) => {}
            Some(ChangeSetStatus::CreatePending | ChangeSetStatus::CreateInProgress) | None => {
                tokio::time::sleep(poll).await;
                continue;
            }
            Some(ChangeSetStatus::Failed) => {
                let reason = page.status_reason().unwrap_or_default().to_owned();
                let plan = Plan {
                    stack: stack.to_owned(),
                    region: region.to_owned(),
                    change_set_id: id.clone(),
                    create,
                    changes: Vec::new(),
                    iam: PolicyDiff::default(),
                };
                discard(client, &plan).await?;
                if reason.contains("didn't contain changes")
                    || reason.contains("No updates are to be performed")
                {
                    return Ok(Prepared::Unchanged);
                }
                return Err(Error::ChangeSetFailed {
                    stack: stack.to_owned(),
                    region: region.to_owned(),
                    reason,
                });
            }
            // Deleted under us, or a status newer than the SDK: neither will become reviewable.
            Some(other) => {
                return Err(Error::ChangeSetFailed {
                    stack: stack.to_owned(),
                    region: region.to_owned(),
                    reason: format!(
                        "the change set is {} instead of being computed; run again",
                        other.as_str()
                    ),
                });
            }
        }
        for change in page.changes() {
            if let Some(rc) = change.resource_change() {
                let Some(action) = rc.action().cloned() else {
                    return Err(Error::Other(format!(
                        "DescribeChangeSet {stack} ({region}): a change to {} has no action",
                        rc.logical_resource_id().unwrap_or_default()
                    )));
                };
                changes.push(ResourceChange {
                    action,
                    logical_id: rc.logical_resource_id().unwrap_or_default().to_owned(),
                    resource_type: rc.resource_type().unwrap_or_default().to_owned(),
                    replacement: rc.replacement().cloned(),
                });
            }
        }
        match page.next_token() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    let new_template: Value = serde_json::from_str(&spec.body)
        .map_err(|e| Error::Other(format!("template of {stack} is not JSON: {e}")))?;
    Ok(Prepared::Changes(Box::new(Plan {
        stack: stack.to_owned(),
        region: region.to_owned(),
        change_set_id: id,
        create,
        changes,
        iam: iam_changes(stack, deployed_template, &new_template),
    })))
}

/// How the IAM of stack `stack` changes from its deployed template (`None` for a new stack) to
/// `new`: its roles, as `deployer synth` snapshots them, and its resource-based policies (key,
/// bucket, topic and queue policies, Lambda permissions), compared and classified by
/// `policy-review`, the comparison behind `deployer policy diff`. The sides are labelled `deployed`
/// and `template`; `env` holds the stack's name.
pub fn iam_changes(stack: &str, deployed: Option<&Value>, new: &Value) -> PolicyDiff {
    let base: Vec<(&str, &Value)> = deployed.map(|t| (stack, t)).into_iter().collect();
    policy_review::diff_templates(stack, "deployed", &base, "template", &[(stack, new)])
}

/// What creating a stack that does not exist would do, computed from the template alone (no
/// change set, so `diff` leaves nothing behind in a region never deployed to).
pub fn local_plan(spec: &StackSpec, region: &str) -> Result<Plan, Error> {
    let template: Value = serde_json::from_str(&spec.body)
        .map_err(|e| Error::Other(format!("template of {} is not JSON: {e}", spec.name)))?;
    let changes = template
        .get("Resources")
        .and_then(Value::as_object)
        .map(|resources| {
            resources
                .iter()
                .map(|(id, r)| ResourceChange {
                    action: ChangeAction::Add,
                    logical_id: id.clone(),
                    resource_type: r
                        .get("Type")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    replacement: None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Plan {
        stack: spec.name.clone(),
        region: region.to_owned(),
        change_set_id: String::new(),
        create: true,
        changes,
        iam: iam_changes(&spec.name, None, &template),
    })
}

/// Deletes the plan's change set; for a create, also the empty `REVIEW_IN_PROGRESS` stack
/// CloudFormation made to hold it.
pub async fn discard(client: &Client, plan: &Plan) -> Result<(), Error> {
    if plan.change_set_id.is_empty() {
        return Ok(());
    }
    client
        .delete_change_set()
        .stack_name(&plan.stack)
        .change_set_name(&plan.change_set_id)
        .send()
        .await
        .map_err(|e| api_error(format!("DeleteChangeSet {}", plan.stack), &plan.region, e))?;
    if plan.create
        && describe_stack(client, &plan.region, &plan.stack)
            .await?
            .is_some_and(|s| s.is_review_only())
    {
        client
            .delete_stack()
            .stack_name(&plan.stack)
            .send()
            .await
            .map_err(|e| api_error(format!("DeleteStack {}", plan.stack), &plan.region, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use policy_review::render::change_lines;
    use policy_review::{Category, ChangeKind, RoleStatus};
    use serde_json::json;

    use super::*;

    const STACK: &str = "mst-test-pipeline";

    fn template(actions: &[&str]) -> Value {
        json!({"Resources": {
            "TransformRole": {"Type": "AWS::IAM::Role", "Properties": {
                "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}]}}},
            "TransformPolicy": {"Type": "AWS::IAM::Policy", "Properties": {
                "Roles": [{"Ref": "TransformRole"}],
                "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": actions, "Resource": {"Fn::GetAtt": ["QuoteStream", "Arn"]}}]}}}
        }})
    }

    fn plan(iam: PolicyDiff) -> Plan {
        Plan {
            stack: STACK.into(),
            region: "us-east-1".into(),
            change_set_id: String::new(),
            create: false,
            changes: Vec::new(),
            iam,
        }
    }

    fn statements<'a>(template: &'a mut Value, holder: &str) -> &'a mut Vec<Value> {
        template["Resources"][holder]["Properties"]["PolicyDocument"]["Statement"]
            .as_array_mut()
            .unwrap()
    }

    #[test]
    fn an_added_action_is_the_role_gaining_it_and_broadens() {
        let old = template(&["kinesis:GetRecords"]);
        let new = template(&["kinesis:GetRecords", "kinesis:PutRecord"]);
        let changes = iam_changes(STACK, Some(&old), &new);
        assert_eq!(
            change_lines(&changes),
            [
                "TransformRole: + permissions kinesis:PutRecord on ${QuoteStream.Arn}: new action for this role"
            ]
        );
        assert!(plan(changes).broadens());
        let same = iam_changes(STACK, Some(&new), &new);
        assert!(!same.changed());
        assert!(!plan(same).broadens());
    }

    #[test]
    fn removing_only_narrows() {
        let old = template(&["kinesis:GetRecords"]);
        let mut new = old.clone();
        new["Resources"]
            .as_object_mut()
            .unwrap()
            .remove("TransformPolicy");
        let changes = iam_changes(STACK, Some(&old), &new);
        assert_eq!(
            change_lines(&changes),
            [
                "TransformRole: - permissions kinesis:GetRecords on ${QuoteStream.Arn}: action removed from this role"
            ]
        );
        assert!(!plan(changes).broadens());
    }

    #[test]
    fn an_added_deny_narrows_and_a_removed_deny_broadens() {
        let old = template(&["kinesis:GetRecords"]);
        let mut new = old.clone();
        statements(&mut new, "TransformPolicy").push(
            json!({"Effect": "Deny", "Action": "kinesis:GetRecords", "Resource": "${QuoteStream.Arn}"}),
        );
        let added = iam_changes(STACK, Some(&old), &new);
        assert_eq!(added.roles[0].changes[0].category, Category::DenyAdded);
        assert!(!plan(added).broadens());
        let removed = iam_changes(STACK, Some(&new), &old);
        assert_eq!(removed.roles[0].changes[0].category, Category::DenyRemoved);
        assert!(plan(removed).broadens());
    }

    #[test]
    fn a_new_stack_adds_the_role_and_every_grant() {
        let changes = iam_changes(STACK, None, &template(&["kinesis:GetRecords"]));
        let role = &changes.roles[0];
        assert_eq!(role.status, RoleStatus::Added);
        assert_eq!(
            role.changes
                .iter()
                .map(|c| (c.kind, c.category))
                .collect::<Vec<_>>(),
            [
                (ChangeKind::Broadening, Category::NewRole),
                (ChangeKind::Broadening, Category::NewPrincipal),
                (ChangeKind::Broadening, Category::NewAction),
            ]
        );
        assert!(plan(changes).broadens());
    }

    #[test]
    fn resource_based_policies_count_too() {
        let mut old = template(&["kinesis:GetRecords"]);
        old["Resources"]["RawBucketPolicy"] = json!({"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "RawBucket"},
            "PolicyDocument": {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": "arn:aws:s3:::raw/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}});
        // A bucket opened to everyone broadens.
        let mut open = old.clone();
        statements(&mut open, "RawBucketPolicy").push(
            json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::raw/*"}),
        );
        let changes = iam_changes(STACK, Some(&old), &open);
        assert_eq!(
            change_lines(&changes),
            [
                "RawBucketPolicy: + resource policy s3:GetObject on arn:aws:s3:::raw/* by AWS *: new principal: AWS * [risky: AWS *]"
            ]
        );
        assert!(plan(changes).broadens());
        // So does a new Lambda permission; the TLS-only Deny of a new bucket policy does not.
        let mut invoked = old.clone();
        invoked["Resources"]["RawBucketInvokesToParquet"] = json!({"Type": "AWS::Lambda::Permission", "Properties": {
            "Action": "lambda:InvokeFunction", "FunctionName": {"Ref": "ToParquet"}, "Principal": "s3.amazonaws.com",
            "SourceArn": "arn:aws:s3:::raw", "SourceAccount": {"Ref": "AWS::AccountId"}}});
        assert!(plan(iam_changes(STACK, Some(&old), &invoked)).broadens());
        let mut deny_only = old.clone();
        deny_only["Resources"]
            .as_object_mut()
            .unwrap()
            .retain(|id, _| id == "RawBucketPolicy");
        let created = iam_changes(STACK, None, &deny_only);
        assert!(created.changed());
        assert!(!plan(created).broadens());
    }

    #[test]
    fn changes_show_their_action_and_replacement() {
        let change = |action: ChangeAction, replacement: Option<Replacement>| {
            ResourceChange {
                action,
                logical_id: "Transform".into(),
                resource_type: "AWS::Lambda::Function".into(),
                replacement,
            }
            .to_string()
        };
        assert_eq!(
            change(ChangeAction::Add, None),
            "+ Add    Transform (AWS::Lambda::Function)"
        );
        assert_eq!(
            change(ChangeAction::Modify, Some(Replacement::True)),
            "~ Modify Transform (AWS::Lambda::Function)  REPLACEMENT"
        );
        assert_eq!(
            change(ChangeAction::Modify, Some(Replacement::Conditional)),
            "~ Modify Transform (AWS::Lambda::Function)  may be replaced"
        );
        assert_eq!(
            change(ChangeAction::Remove, None),
            "- Remove Transform (AWS::Lambda::Function)"
        );
        // Values newer than the SDK are shown as CloudFormation sent them.
        assert_eq!(
            change(
                ChangeAction::from("Reticulate"),
                Some(Replacement::from("Maybe"))
            ),
            "~ Reticulate Transform (AWS::Lambda::Function)  replacement: Maybe"
        );
    }

    #[test]
    fn a_local_plan_compares_against_nothing() {
        let spec = StackSpec {
            name: STACK.into(),
            body: template(&["kinesis:GetRecords"]).to_string(),
            parameters: BTreeMap::new(),
            tags: BTreeMap::new(),
            rollback: None,
            import: Vec::new(),
        };
        let plan = local_plan(&spec, "us-east-1").unwrap();
        assert_eq!(plan.changes.len(), 2);
        assert_eq!(plan.iam.roles[0].status, RoleStatus::Added);
        assert!(plan.broadens());
    }

    #[test]
    fn a_stack_is_unchanged_when_its_hash_tags_parameters_and_state_match() {
        let parameters = BTreeMap::from([("Key".to_owned(), "a".to_owned())]);
        let tags = BTreeMap::from([("owner".to_owned(), "me".to_owned())]);
        let spec = StackSpec::new(STACK.into(), "{}".into(), parameters.clone(), tags.clone());
        assert_eq!(
            spec.tags[TEMPLATE_HASH_TAG],
            crate::artifacts::sha256_hex(b"{}")
        );
        assert_eq!(
            spec.tags[PARAMETERS_HASH_TAG],
            parameters_sha256(&parameters)
        );
        let deployed = Deployed {
            stack_id: "id".into(),
            status: StackStatus::UpdateComplete,
            reason: None,
            parameters: parameters.clone(),
            tags: spec.tags.clone(),
            outputs: Vec::new(),
        };
        assert!(unchanged(&deployed, &spec));
        let other_template =
            StackSpec::new(STACK.into(), "{ }".into(), parameters.clone(), tags.clone());
        assert!(!unchanged(&deployed, &other_template));
        let other_parameters = StackSpec::new(
            STACK.into(),
            "{}".into(),
            BTreeMap::from([("Key".to_owned(), "b".to_owned())]),
            tags.clone(),
        );
        assert!(!unchanged(&deployed, &other_parameters));
        // A stack deployed before the hash tags existed is not known to be unchanged.
        let mut untagged = deployed.clone();
        untagged.tags = tags;
        assert!(!unchanged(&untagged, &spec));
        // A failed update carries the tags it tried: not unchanged.
        let mut rolled_back = deployed;
        rolled_back.status = StackStatus::UpdateRollbackComplete;
        assert!(!unchanged(&rolled_back, &spec));
    }
}
