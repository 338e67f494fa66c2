//! What CloudFormation's resource handlers call, per resource type, and what each of those actions
//! can be scoped to: the vendored `policies/handler-permissions.json` (generated from the resource
//! provider schemas cfn-lint ships and parliament's copy of the Service Authorization Reference by
//! `stacks/tests/it/handler_permissions.rs`, which also checks it is current). The CloudFormation
//! execution role of the bootstrap stack is built from it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::iam::Action;

/// The vendored file, compiled in.
const TEXT: &str = include_str!("../../policies/handler-permissions.json");

#[derive(Debug, Deserialize)]
struct Data {
    #[serde(borrow)]
    types: BTreeMap<&'static str, Vec<&'static str>>,
    #[serde(borrow)]
    resources: BTreeMap<&'static str, Vec<&'static str>>,
    #[serde(borrow)]
    unknown_to_parliament: Vec<&'static str>,
}

/// Why the vendored data cannot answer.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HandlerError {
    /// The file does not parse (it was edited by hand).
    #[error(
        "policies/handler-permissions.json does not parse ({0}): regenerate it (see its `regenerate`)"
    )]
    Unreadable(String),
    /// A template uses a resource type the file does not list.
    #[error(
        "policies/handler-permissions.json has no handler permissions for {0}: regenerate it (see its `regenerate`) after adding a resource type"
    )]
    UnknownType(String),
    /// A permission is not `service:Action`.
    #[error("handler permission `{0}` is not `service:Action`")]
    BadAction(String),
}

fn data() -> Result<&'static Data, HandlerError> {
    static DATA: OnceLock<Result<Data, String>> = OnceLock::new();
    DATA.get_or_init(|| serde_json::from_str(TEXT).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| HandlerError::Unreadable(e.clone()))
}

/// The resource type's name as the vendored file spells it (a `'static` string), if listed.
pub fn known_type(kind: &str) -> Option<&'static str> {
    data()
        .ok()?
        .types
        .keys()
        .copied()
        .find(|known| *known == kind)
}

/// Every permission the create, read, update and delete handlers of `kind` call, as listed.
pub fn permissions(kind: &str) -> Result<&'static [&'static str], HandlerError> {
    data()?
        .types
        .get(kind)
        .map(Vec::as_slice)
        .ok_or_else(|| HandlerError::UnknownType(kind.to_owned()))
}

/// The handler permissions of `kind` that IAM knows as actions, typed. The others (listed under
/// `unknown_to_parliament`: API names that are not IAM actions, such as `s3:DeleteBucketCors`,
/// or actions newer than the reference) cannot be put in a policy the judges accept.
pub fn actions(kind: &str) -> Result<Vec<Action>, HandlerError> {
    let unknown = &data()?.unknown_to_parliament;
    permissions(kind)?
        .iter()
        .filter(|permission| !unknown.contains(permission))
        .map(|permission| {
            let (service, name) = permission
                .split_once(':')
                .filter(|(s, n)| !s.is_empty() && !n.is_empty() && !n.contains(['*', '?']))
                .ok_or_else(|| HandlerError::BadAction((*permission).to_owned()))?;
            Ok(Action::new(service, name))
        })
        .collect()
}

/// The ARN formats (`arn:${Partition}:kinesis:${Region}:${Account}:stream/${StreamName}`) of the
/// resource types `action` can be scoped to; empty when IAM allows it only on `*`.
pub fn arn_formats(action: Action) -> &'static [&'static str] {
    let text = action.to_string();
    data()
        .ok()
        .and_then(|data| data.resources.get(text.as_str()))
        .map_or(&[], Vec::as_slice)
}

/// True when the Service Authorization Reference gives `action` (`service:Action`), a handler
/// permission, no resource type: IAM allows it only on `*`.
pub fn is_unscopable(action: &str) -> bool {
    data().ok().is_some_and(|data| {
        !data.unknown_to_parliament.contains(&action)
            && data.resources.get(action).is_some_and(Vec::is_empty)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.
    use super::*;

    #[test]
    fn the_vendored_file_reads_and_types_its_actions() {
        let actions = actions("AWS::Kinesis::Stream").unwrap();
        assert!(actions.contains(&Action::new("kinesis", "CreateStream")));
        assert!(
            !arn_formats(Action::new("kinesis", "CreateStream")).is_empty(),
            "CreateStream can be scoped to a stream"
        );
        assert_eq!(
            known_type("AWS::Kinesis::Stream"),
            Some("AWS::Kinesis::Stream")
        );
        assert!(matches!(
            permissions("AWS::Nope::Nothing"),
            Err(HandlerError::UnknownType(_))
        ));
    }
}
