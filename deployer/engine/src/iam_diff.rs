//! A statement-level comparison of the IAM in two templates: trust and permission statements of
//! roles and policies, key and resource policies, and Lambda permissions. Readable, not a policy
//! algebra: a statement that changes shows as one removed and one added line. (`deployer policy
//! diff` is the full tool, tracked separately.)

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

/// Added or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sign {
    /// In the new template only: this may broaden access.
    Added,
    /// In the deployed template only.
    Removed,
}

/// One statement that differs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IamChange {
    /// Added or removed.
    pub sign: Sign,
    /// Logical id of the resource holding the statement, with the document (`TransformRole trust`).
    pub holder: String,
    /// The statement, readable: `Allow kinesis:GetRecords on ${QuoteStream.Arn}`.
    pub statement: String,
}

impl fmt::Display for IamChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.sign {
            Sign::Added => '+',
            Sign::Removed => '-',
        };
        write!(f, "{sign} {}: {}", self.holder, self.statement)
    }
}

/// The IAM statements that differ between the deployed template (`None` for a new stack) and the
/// new one, removed first, each group sorted.
pub fn diff(deployed: Option<&Value>, new: &Value) -> Vec<IamChange> {
    let old = deployed.map(statements).unwrap_or_default();
    let new = statements(new);
    let mut changes: Vec<IamChange> = old
        .difference(&new)
        .map(|(holder, statement)| IamChange {
            sign: Sign::Removed,
            holder: holder.clone(),
            statement: statement.clone(),
        })
        .chain(new.difference(&old).map(|(holder, statement)| IamChange {
            sign: Sign::Added,
            holder: holder.clone(),
            statement: statement.clone(),
        }))
        .collect();
    changes.sort_by(|a, b| b.sign.cmp(&a.sign).then_with(|| a.cmp(b)));
    changes
}

/// True when access may broaden: an `Allow` statement (or a trust, a managed policy, a Lambda
/// permission) is added, or a `Deny` statement is removed.
pub fn broadens(changes: &[IamChange]) -> bool {
    changes.iter().any(|c| {
        let deny = c.statement.starts_with("Deny ");
        match c.sign {
            Sign::Added => !deny,
            Sign::Removed => deny,
        }
    })
}

/// Every IAM statement of a template as (holder, readable statement).
fn statements(template: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let Some(resources) = template.get("Resources").and_then(Value::as_object) else {
        return out;
    };
    for (id, resource) in resources {
        let kind = resource
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let props = resource.get("Properties").cloned().unwrap_or(Value::Null);
        let mut add = |holder: String, document: Option<&Value>| {
            for statement in document_statements(document) {
                out.insert((holder.clone(), render_statement(statement)));
            }
        };
        match kind {
            "AWS::IAM::Role" => {
                add(format!("{id} trust"), props.get("AssumeRolePolicyDocument"));
                for policy in props
                    .get("Policies")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let name = policy.get("PolicyName").map(render).unwrap_or_default();
                    add(format!("{id} inline {name}"), policy.get("PolicyDocument"));
                }
                for arn in props
                    .get("ManagedPolicyArns")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    out.insert((format!("{id} managed"), render(arn)));
                }
            }
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => {
                let targets = ["Roles", "Users", "Groups"]
                    .iter()
                    .filter_map(|k| props.get(*k))
                    .map(render)
                    .collect::<Vec<_>>()
                    .join(" ");
                add(
                    format!("{id} (attached to {targets})"),
                    props.get("PolicyDocument"),
                );
            }
            "AWS::KMS::Key" => add(format!("{id} key policy"), props.get("KeyPolicy")),
            "AWS::S3::BucketPolicy" | "AWS::SNS::TopicPolicy" | "AWS::SQS::QueuePolicy" => {
                add(format!("{id} resource policy"), props.get("PolicyDocument"));
            }
            "AWS::Lambda::Permission" => {
                out.insert((format!("{id} lambda permission"), render(&props)));
            }
            _ => {}
        }
    }
    out
}

fn document_statements(document: Option<&Value>) -> Vec<&Value> {
    match document.and_then(|d| d.get("Statement")) {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    }
}

/// `Allow a, b on X, Y for Principal if Condition`, keys in a fixed order so equal statements
/// render equally.
fn render_statement(statement: &Value) -> String {
    let field = |key: &str| statement.get(key).map(render_list);
    let mut text = statement
        .get("Effect")
        .and_then(Value::as_str)
        .unwrap_or("Allow")
        .to_owned();
    if let Some(actions) = field("Action") {
        text.push_str(&format!(" {actions}"));
    }
    if let Some(actions) = field("NotAction") {
        text.push_str(&format!(" all but {actions}"));
    }
    if let Some(resources) = field("Resource") {
        text.push_str(&format!(" on {resources}"));
    }
    if let Some(resources) = field("NotResource") {
        text.push_str(&format!(" on all but {resources}"));
    }
    if let Some(principal) = statement.get("Principal") {
        text.push_str(&format!(" for {}", render(principal)));
    }
    if let Some(condition) = statement.get("Condition") {
        text.push_str(&format!(" if {}", render(condition)));
    }
    text
}

fn render_list(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let mut items: Vec<String> = items.iter().map(render).collect();
            items.sort();
            items.join(", ")
        }
        other => render(other),
    }
}

/// Intrinsic functions as `${Name}` / `${Name.Attr}`, other values as compact JSON with sorted keys.
fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(map) if map.len() == 1 => {
            let (key, inner) = map
                .iter()
                .next()
                .map(|(k, v)| (k.as_str(), v))
                .unwrap_or(("", value));
            match (key, inner) {
                ("Ref", Value::String(name)) => format!("${{{name}}}"),
                ("Fn::GetAtt", Value::Array(parts)) => format!(
                    "${{{}}}",
                    parts.iter().map(render).collect::<Vec<_>>().join(".")
                ),
                ("Fn::Sub", Value::String(text)) => text.clone(),
                ("Fn::Sub", Value::Array(parts)) if !parts.is_empty() => render(&parts[0]),
                ("Fn::Join", Value::Array(parts)) if parts.len() == 2 => {
                    let separator = parts[0].as_str().unwrap_or_default();
                    match &parts[1] {
                        Value::Array(items) => {
                            items.iter().map(render).collect::<Vec<_>>().join(separator)
                        }
                        other => render(other),
                    }
                }
                _ => compact_sorted(value),
            }
        }
        _ => compact_sorted(value),
    }
}

fn compact_sorted(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}: {}", render(&map[k])))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(render).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn template(actions: &[&str]) -> Value {
        json!({"Resources": {
            "TransformRole": {"Type": "AWS::IAM::Role", "Properties": {
                "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}]}}},
            "TransformPolicy": {"Type": "AWS::IAM::Policy", "Properties": {
                "Roles": [{"Ref": "TransformRole"}],
                "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": actions, "Resource": {"Fn::GetAtt": ["QuoteStream", "Arn"]}}]}}}
        }})
    }

    #[test]
    fn an_added_action_shows_as_a_replaced_statement_and_broadens() {
        let old = template(&["kinesis:GetRecords"]);
        let new = template(&["kinesis:GetRecords", "kinesis:PutRecord"]);
        let changes = diff(Some(&old), &new);
        let lines: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "- TransformPolicy (attached to [${TransformRole}]): Allow kinesis:GetRecords on ${QuoteStream.Arn}",
                "+ TransformPolicy (attached to [${TransformRole}]): Allow kinesis:GetRecords, kinesis:PutRecord on ${QuoteStream.Arn}",
            ]
        );
        assert!(broadens(&changes));
        assert!(diff(Some(&new), &new).is_empty());
    }

    #[test]
    fn removing_only_narrows() {
        let old = template(&["kinesis:GetRecords"]);
        let mut new = old.clone();
        new["Resources"]
            .as_object_mut()
            .unwrap()
            .remove("TransformPolicy");
        let changes = diff(Some(&old), &new);
        assert_eq!(changes.len(), 1);
        assert!(!broadens(&changes));
    }

    #[test]
    fn an_added_deny_narrows_and_a_removed_deny_broadens() {
        let deny = IamChange {
            sign: Sign::Added,
            holder: "P".into(),
            statement: "Deny s3:* on X".into(),
        };
        assert!(!broadens(std::slice::from_ref(&deny)));
        assert!(broadens(&[IamChange {
            sign: Sign::Removed,
            ..deny
        }]));
    }

    #[test]
    fn a_new_stack_adds_every_statement() {
        let changes = diff(None, &template(&["kinesis:GetRecords"]));
        assert_eq!(changes.len(), 2);
        assert!(changes.iter().all(|c| c.sign == Sign::Added));
    }
}
