//! The live IAM of a deployed environment: every role of its stacks with its trust policy, inline
//! policies and attached managed policies, read through the CloudFormation and IAM APIs and brought
//! into the snapshot's readable form, so `policy diff --against-deployed` shows IAM drift.
//!
//! CloudFormation says which roles the stacks created (physical names are generated, such as
//! `mst-prod-pipeline-TransformRole-1A2B3C`) and what every other resource's physical name is, which
//! [`LiveNames`] turns back into `${LogicalId}`; IAM gives the documents.
//!
//! The connection (client, retries, timeouts, endpoint, credentials) is `aws-connect`'s, the same as
//! the deploy engine's: callers load one and pass its [`SdkConfig`]. IAM's six reads are direct
//! Query calls ([`aws_connect::query::IAM`]): IAM's generated crate compiles all of its 176
//! operations for them.

use aws_config::SdkConfig;
use aws_connect::CallError;
use aws_connect::query::{IAM, QueryAnswer, QueryClient};
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use serde_json::Value;
use synth::{RoleSnapshot, Snapshot};

use crate::Error;
use crate::normalize::{Catalog, DeployedResource, LiveNames};

/// One failed call as [`Error::Call`]: a sentence naming the endpoint, profile or permission.
fn aws_error<E, R>(operation: &str, region: &str, error: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    Error::Call(CallError::new(operation, region, &error))
}

/// What CloudFormation knows about the deployed stacks: their resources and parameter values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployment {
    /// Every resource of every stack, with its stack's name.
    pub resources: Vec<(String, DeployedResource)>,
    /// Parameter values of every stack.
    pub parameters: Vec<(String, String)>,
}

/// Lists the resources and parameters of `stacks` through CloudFormation. A stack that does not
/// exist is an error naming it.
pub async fn locate(config: &SdkConfig, stacks: &[String]) -> Result<Deployment, Error> {
    let cfn = aws_sdk_cloudformation::Client::new(config);
    let region = config.region().map(ToString::to_string).unwrap_or_default();
    let mut deployment = Deployment::default();
    for stack in stacks {
        let described = cfn
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| {
                // CloudFormation's answer for a missing stack: ValidationError "Stack with id X
                // does not exist".
                let missing = e.as_service_error().is_some_and(|e| {
                    use aws_sdk_cloudformation::error::ProvideErrorMetadata as _;
                    e.code() == Some("ValidationError")
                        && e.message().is_some_and(|m| m.contains("does not exist"))
                });
                if missing {
                    Error::Aws {
                        operation: "cloudformation:DescribeStacks".into(),
                        message: format!(
                            "stack {stack} is not deployed in {region}: deploy it first (`deployer up`)"
                        ),
                    }
                } else {
                    aws_error(&format!("cloudformation:DescribeStacks {stack}"), &region, e)
                }
            })?;
        for found in described.stacks() {
            for parameter in found.parameters() {
                if let (Some(key), Some(value)) =
                    (parameter.parameter_key(), parameter.parameter_value())
                {
                    deployment
                        .parameters
                        .push((key.to_owned(), value.to_owned()));
                }
            }
        }
        let mut token: Option<String> = None;
        loop {
            let page = cfn
                .list_stack_resources()
                .stack_name(stack)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    aws_error(
                        &format!("cloudformation:ListStackResources {stack}"),
                        &region,
                        e,
                    )
                })?;
            for summary in page.stack_resource_summaries() {
                deployment.resources.push((
                    stack.clone(),
                    DeployedResource {
                        logical_id: summary.logical_resource_id().unwrap_or_default().to_owned(),
                        kind: summary.resource_type().unwrap_or_default().to_owned(),
                        physical_id: summary
                            .physical_resource_id()
                            .unwrap_or_default()
                            .to_owned(),
                    },
                ));
            }
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
    }
    Ok(deployment)
}

/// Decodes `%XX` escapes (IAM returns policy documents URL-encoded, RFC 3986).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A live policy document (URL-encoded or plain JSON) as its statements.
pub fn document_statements(name: &str, text: &str) -> Result<Vec<Value>, Error> {
    let parsed: Value = serde_json::from_str(text)
        .or_else(|_| serde_json::from_str(&percent_decode(text)))
        .map_err(|e: serde_json::Error| Error::LiveDocument {
            name: name.to_owned(),
            message: e.to_string(),
        })?;
    Ok(match parsed.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(single) => vec![single.clone()],
        None => Vec::new(),
    })
}

/// Reads every role of `deployment` through IAM: trust policy, inline policies, attached managed
/// policies; documents in the snapshot's readable form (see [`LiveNames`]).
pub async fn read_roles(
    config: &SdkConfig,
    deployment: &Deployment,
    account: &str,
    catalog: &Catalog,
) -> Result<Snapshot, Error> {
    let region = config.region().map(ToString::to_string).unwrap_or_default();
    let iam = QueryClient::new(config, &region, IAM);
    let call = |operation: &'static str, params: Vec<(&'static str, String)>| {
        let iam = &iam;
        let region = &region;
        async move {
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            iam.call(operation, &params)
                .await
                .map_err(|e| aws_error(&format!("iam:{operation}"), region, e))
        }
    };
    let resources: Vec<DeployedResource> = deployment
        .resources
        .iter()
        .map(|(_, r)| r.clone())
        .collect();
    let names = LiveNames::new(
        account,
        &region,
        &resources,
        &deployment.parameters,
        catalog,
    );
    let readable = |statements: Vec<Value>| -> Vec<Value> {
        statements.iter().map(|s| names.readable_value(s)).collect()
    };
    let mut snapshot = Snapshot::default();
    for (stack, resource) in &deployment.resources {
        if resource.kind != "AWS::IAM::Role" {
            continue;
        }
        let role_name = resource.physical_id.as_str();
        let named = || vec![("RoleName", role_name.to_owned())];
        let role = call("GetRole", named()).await?;
        let trust = match role.text_at(&["GetRoleResult", "Role", "AssumeRolePolicyDocument"]) {
            Some(text) => document_statements(&format!("{role_name} trust policy"), &text)?,
            None => Vec::new(),
        };
        let mut permissions = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut params = named();
            params.extend(marker.take().map(|m| ("Marker", m)));
            let page = call("ListRolePolicies", params).await?;
            let result = "ListRolePoliciesResult";
            for policy in page.texts(&[result, "PolicyNames", "member"]) {
                let mut params = named();
                params.push(("PolicyName", policy.clone()));
                let got = call("GetRolePolicy", params).await?;
                let document = got
                    .text_at(&["GetRolePolicyResult", "PolicyDocument"])
                    .unwrap_or_default();
                permissions.extend(document_statements(
                    &format!("{role_name}/{policy}"),
                    &document,
                )?);
            }
            match next_marker(&page, result) {
                Some(next) => marker = Some(next),
                None => break,
            }
        }
        let mut marker: Option<String> = None;
        loop {
            let mut params = named();
            params.extend(marker.take().map(|m| ("Marker", m)));
            let page = call("ListAttachedRolePolicies", params).await?;
            let result = "ListAttachedRolePoliciesResult";
            for arn in page.texts(&[result, "AttachedPolicies", "member", "PolicyArn"]) {
                let policy = call("GetPolicy", vec![("PolicyArn", arn.clone())]).await?;
                let Some(version) =
                    policy.text_at(&["GetPolicyResult", "Policy", "DefaultVersionId"])
                else {
                    continue;
                };
                let params = vec![("PolicyArn", arn.clone()), ("VersionId", version)];
                let got = call("GetPolicyVersion", params).await?;
                if let Some(text) =
                    got.text_at(&["GetPolicyVersionResult", "PolicyVersion", "Document"])
                {
                    permissions.extend(document_statements(&arn, &text)?);
                }
            }
            match next_marker(&page, result) {
                Some(next) => marker = Some(next),
                None => break,
            }
        }
        snapshot.roles.insert(
            resource.logical_id.clone(),
            RoleSnapshot {
                role: resource.logical_id.clone(),
                stack: stack.clone(),
                description: role
                    .text_at(&["GetRoleResult", "Role", "Description"])
                    .unwrap_or_default(),
                trust: readable(trust),
                permissions: readable(permissions),
            },
        );
    }
    Ok(snapshot)
}

/// The `Marker` of a truncated IAM list answer whose result element is `result`.
fn next_marker(page: &QueryAnswer, result: &str) -> Option<String> {
    let truncated = page.text_at(&[result, "IsTruncated"]).as_deref() == Some("true");
    page.text_at(&[result, "Marker"])
        .filter(|marker| truncated && !marker.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_decode_whether_url_encoded_or_not() {
        let plain = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#;
        let encoded = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%7D%5D%7D";
        assert_eq!(document_statements("p", plain).unwrap_or_default().len(), 1);
        assert_eq!(
            document_statements("e", encoded).unwrap_or_default(),
            vec![serde_json::json!({"Effect": "Allow"})]
        );
        assert!(document_statements("bad", "not json").is_err());
    }
}
