//! The IAM snapshot: every generated role, its trust policy and its permissions, in a stable, readable
//! form. It is committed under `policies/<env>/`, one file per role, so a merge request shows exactly
//! which role gains or loses which permission.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::readable;

/// One role as reviewers read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleSnapshot {
    /// The role's logical id.
    pub role: String,
    /// The stack it belongs to, with the environment's name (`mst-prod-pipeline`).
    pub stack: String,
    /// The role's description.
    pub description: String,
    /// Who may assume the role.
    pub trust: Vec<Value>,
    /// What the role may do, statement by statement.
    pub permissions: Vec<Value>,
}

/// Every role of an environment, by logical id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Roles by logical id.
    pub roles: BTreeMap<String, RoleSnapshot>,
}

fn statements(document: &Value) -> Vec<Value> {
    match document.get("Statement") {
        Some(Value::Array(list)) => list.iter().map(readable::render).collect(),
        Some(single) => vec![readable::render(single)],
        None => Vec::new(),
    }
}

impl Snapshot {
    /// The roles of the given stacks (name, template JSON). Permissions come from the
    /// `AWS::IAM::Policy` resources attached to each role.
    pub fn from_stacks<'a>(stacks: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Self {
        let mut roles = BTreeMap::new();
        for (stack, template) in stacks {
            let Some(resources) = template.get("Resources").and_then(Value::as_object) else {
                continue;
            };
            for (id, resource) in resources {
                if resource.get("Type").and_then(Value::as_str) != Some("AWS::IAM::Role") {
                    continue;
                }
                let properties = &resource["Properties"];
                roles.insert(
                    id.clone(),
                    RoleSnapshot {
                        role: id.clone(),
                        stack: stack.to_owned(),
                        description: properties["Description"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        trust: statements(&properties["AssumeRolePolicyDocument"]),
                        permissions: Vec::new(),
                    },
                );
            }
            for resource in resources.values() {
                if resource.get("Type").and_then(Value::as_str) != Some("AWS::IAM::Policy") {
                    continue;
                }
                let properties = &resource["Properties"];
                let attached = properties["Roles"].as_array().into_iter().flatten();
                for role in attached.filter_map(|r| r.get("Ref").and_then(Value::as_str)) {
                    if let Some(snapshot) = roles.get_mut(role) {
                        snapshot
                            .permissions
                            .extend(statements(&properties["PolicyDocument"]));
                    }
                }
            }
        }
        Self { roles }
    }

    /// The snapshot's files: `<Role>.json` to its pretty JSON text.
    pub fn files(&self) -> BTreeMap<String, String> {
        self.roles
            .iter()
            .map(|(id, role)| {
                // A snapshot is plain data; serializing it cannot fail.
                let text = serde_json::to_string_pretty(role).unwrap_or_default() + "\n";
                (format!("{id}.json"), text)
            })
            .collect()
    }
}
