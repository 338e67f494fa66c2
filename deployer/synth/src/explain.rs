//! Why each role has each permission: the uses every statement was built for (`stacks::iam::uses`),
//! per action, in the snapshot's readable form. `deployer policy explain` prints it; `deployer synth
//! --check` fails on [`Grants::unexplained`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;
use stacks::grants;
use stacks::iam::uses::Source;
use stacks::template::Template;

use crate::{Snapshot, readable};

/// The JSON report's schema and version (`mystocktracker.<command>/<version>`, as every command's
/// JSON); the version changes on any incompatible change.
pub const JSON_SCHEMA: &str = "mystocktracker.policy-explain/1";

/// Why an action is granted: one use of the statement that needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// `code` (a call in this repository) or `aws` (a requirement AWS documents).
    pub kind: &'static str,
    /// Who makes the call: a component, or the AWS service acting with the role.
    pub by: String,
    /// What for.
    pub what: String,
    /// The file making the call, or the AWS page.
    pub source: String,
}

/// One granted action and the uses that need it (empty: nothing does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionReasons {
    /// The action, `service:Name`.
    pub action: String,
    /// Every use of the statement that needs it.
    pub needed_by: Vec<Reason>,
}

/// One statement of a role's policy, explained action by action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementReasons {
    /// The statement's id.
    pub sid: Option<String>,
    /// `Allow` or `Deny`.
    pub effect: String,
    /// The readable resources, as in the snapshot.
    pub resources: Vec<String>,
    /// The conditions, `<Operator> <key> = <value> | <value>`.
    pub conditions: Vec<String>,
    /// Each action of the statement, in the statement's order.
    pub actions: Vec<ActionReasons>,
}

/// One role's permissions, explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleReasons {
    /// The role's logical id.
    pub role: String,
    /// The stack it belongs to.
    pub stack: String,
    /// The role's description.
    pub description: String,
    /// Its statements, in policy order.
    pub statements: Vec<StatementReasons>,
}

/// A granted action no use accounts for, in readable form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unexplained {
    /// The role's logical id.
    pub role: String,
    /// The statement's id.
    pub sid: Option<String>,
    /// The action.
    pub action: String,
    /// The statement's readable resources.
    pub resources: Vec<String>,
}

impl std::fmt::Display for Unexplained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} grants {} on {} (statement {}) but no use accounts for it.\n  = help: if nothing calls it, remove it from the statement; if something does, build the statement with `Statement::grant` and the `Use` that needs it (stacks/src/iam/uses.rs names the code path or AWS page); then run `deployer synth --env <env>` and commit policies/",
            self.role,
            self.action,
            self.resources.join(", "),
            self.sid.as_deref().unwrap_or("without a Sid")
        )
    }
}

/// Every role's explained grants, and the actions nothing accounts for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Roles by logical id.
    pub roles: BTreeMap<String, RoleReasons>,
    /// Granted actions without a use, by role and statement.
    pub unexplained: Vec<Unexplained>,
}

fn texts(value: &Value) -> Vec<String> {
    match readable::render(value) {
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map_or_else(|| item.to_string(), str::to_owned)
            })
            .collect(),
        Value::Null => Vec::new(),
        Value::String(text) => vec![text],
        other => vec![other.to_string()],
    }
}

fn conditions(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (operator, keys) in value.as_object().into_iter().flatten() {
        for (key, values) in keys.as_object().into_iter().flatten() {
            out.push(format!("{operator} {key} = {}", texts(values).join(" | ")));
        }
    }
    out
}

fn reason(used: stacks::iam::uses::Use) -> Reason {
    let need = used.need();
    let kind = match need.source {
        Source::Code { .. } => "code",
        Source::Aws(_) => "aws",
    };
    Reason {
        kind,
        by: need.by.to_owned(),
        what: need.what,
        source: need.source.to_string(),
    }
}

impl Grants {
    /// The grants of the given typed templates; `snapshot` names each role's stack and description.
    pub fn from_templates<'a>(
        templates: impl IntoIterator<Item = &'a Template>,
        snapshot: &Snapshot,
    ) -> Self {
        let mut out = Self::default();
        for template in templates {
            for role_grants in grants::of_template(template) {
                let known = snapshot.roles.get(&role_grants.role);
                let role = out
                    .roles
                    .entry(role_grants.role.clone())
                    .or_insert_with(|| RoleReasons {
                        role: role_grants.role.clone(),
                        stack: known.map(|r| r.stack.clone()).unwrap_or_default(),
                        description: known.map(|r| r.description.clone()).unwrap_or_default(),
                        statements: Vec::new(),
                    });
                for statement in role_grants.statements {
                    let json = serde_json::to_value(statement).unwrap_or_default();
                    let actions = statement
                        .actions()
                        .iter()
                        .map(|action| ActionReasons {
                            action: action.to_string(),
                            needed_by: statement
                                .uses()
                                .iter()
                                .filter(|used| used.need().actions.contains(action))
                                .map(|used| reason(*used))
                                .collect(),
                        })
                        .collect();
                    role.statements.push(StatementReasons {
                        sid: statement.sid_text().map(str::to_owned),
                        effect: json["Effect"].as_str().unwrap_or_default().to_owned(),
                        resources: texts(&json["Resource"]),
                        conditions: conditions(&json["Condition"]),
                        actions,
                    });
                }
            }
            for missing in grants::unexplained(template) {
                out.unexplained.push(Unexplained {
                    role: missing.role,
                    sid: missing.sid,
                    action: missing.action.to_string(),
                    resources: missing.resources,
                });
            }
        }
        out
    }

    /// Adds the roles of `other` this does not have yet (with their unexplained grants): the
    /// roles of another region's stacks, where a role both have is the same (the snapshot checks).
    pub fn add_roles_of(&mut self, other: Grants) {
        for (id, role) in other.roles {
            if self.roles.contains_key(&id) {
                continue;
            }
            self.unexplained
                .extend(other.unexplained.iter().filter(|u| u.role == id).cloned());
            self.roles.insert(id, role);
        }
    }
}

/// The report `deployer policy explain` prints: some or all roles of an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// [`JSON_SCHEMA`].
    pub schema: &'static str,
    /// The environment.
    pub env: String,
    /// The roles asked for, by logical id.
    pub roles: Vec<RoleReasons>,
    /// Their granted actions that no use accounts for.
    pub unexplained: Vec<Unexplained>,
}

/// A role the environment does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment {env} has no role `{role}`; its roles are {}", known.join(", "))]
pub struct UnknownRole {
    /// The environment.
    pub env: String,
    /// The role asked for.
    pub role: String,
    /// The roles it has.
    pub known: Vec<String>,
}

impl Grants {
    /// The report for `role` (every role when `None`) of environment `env`.
    pub fn report(&self, env: &str, role: Option<&str>) -> Result<Report, UnknownRole> {
        let roles: Vec<RoleReasons> = match role {
            None => self.roles.values().cloned().collect(),
            Some(wanted) => match self.roles.get(wanted) {
                Some(found) => vec![found.clone()],
                None => {
                    return Err(UnknownRole {
                        env: env.to_owned(),
                        role: wanted.to_owned(),
                        known: self.roles.keys().cloned().collect(),
                    });
                }
            },
        };
        let unexplained = self
            .unexplained
            .iter()
            .filter(|u| roles.iter().any(|r| r.role == u.role))
            .cloned()
            .collect();
        Ok(Report {
            schema: JSON_SCHEMA,
            env: env.to_owned(),
            roles,
            unexplained,
        })
    }
}

impl Report {
    /// The report as JSON text.
    pub fn to_json(&self) -> String {
        // Plain data: serializing cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The report for a terminal or a review: per role, one table per statement with a row per action
    /// and reason.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let actions: usize = self
            .roles
            .iter()
            .flat_map(|r| &r.statements)
            .map(|s| s.actions.len())
            .sum();
        let _ = writeln!(
            out,
            "policy explain {}: {} role(s), {actions} granted action(s), {}",
            self.env,
            self.roles.len(),
            match self.unexplained.len() {
                0 => "each needed by a use".to_owned(),
                n => format!("{n} needed by nothing"),
            }
        );
        for role in &self.roles {
            let _ = writeln!(
                out,
                "\n{} ({}): {}",
                role.role, role.stack, role.description
            );
            for statement in &role.statements {
                let _ = writeln!(
                    out,
                    "\n  {} {} on {}",
                    statement.sid.as_deref().unwrap_or("(no Sid)"),
                    statement.effect,
                    statement.resources.join(", ")
                );
                for condition in &statement.conditions {
                    let _ = writeln!(out, "    if {condition}");
                }
                let mut rows = vec![[
                    "ACTION".to_owned(),
                    "NEEDED BY".to_owned(),
                    "SOURCE".to_owned(),
                ]];
                for action in &statement.actions {
                    if action.needed_by.is_empty() {
                        rows.push([
                            action.action.clone(),
                            "NOTHING: no use accounts for this grant".to_owned(),
                            "-".to_owned(),
                        ]);
                    }
                    for (index, reason) in action.needed_by.iter().enumerate() {
                        rows.push([
                            if index == 0 {
                                action.action.clone()
                            } else {
                                String::new()
                            },
                            format!("{}: {}", reason.by, reason.what),
                            reason.source.clone(),
                        ]);
                    }
                }
                let width = |column: usize| {
                    rows.iter()
                        .map(|row| row[column].chars().count())
                        .max()
                        .unwrap_or(0)
                };
                let (first, second) = (width(0), width(1));
                for row in &rows {
                    let line = format!("    {:<first$}  {:<second$}  {}", row[0], row[1], row[2]);
                    let _ = writeln!(out, "{}", line.trim_end());
                }
            }
        }
        for missing in &self.unexplained {
            let _ = writeln!(out, "\nerror: {missing}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use stacks::iam::actions::{kinesis, sts};
    use stacks::iam::uses::Use;
    use stacks::iam::{PolicyDocument, Principal, Statement};
    use stacks::pipeline::{self, StackKind};
    use stacks::resources::iam::{Policy, Role};
    use stacks::template::{Expr, Options};

    use super::*;
    use crate::tests::minimal_env;

    /// The local pipeline with a scratch role whose second statement was made without a use.
    fn grants_with_a_scratch_role() -> Grants {
        let env = minimal_env();
        let mut stack = pipeline::stacks(&env, env.canary_region())
            .expect("stacks")
            .into_iter()
            .find(|s| s.kind == StackKind::Pipeline)
            .expect("pipeline stack");
        let t = &mut stack.template;
        let role = t
            .add(
                "ScratchRole",
                Role {
                    role_name: None,
                    description: "scratch".into(),
                    assume_role_policy_document: PolicyDocument::new(vec![
                        Statement::allow_principal(
                            Principal::Service(vec![Expr::lit("ec2.amazonaws.com")]),
                            &[sts::ASSUME_ROLE],
                        ),
                    ]),
                },
                Options::none(),
            )
            .expect("role");
        let stream = Expr::GetAtt(stacks::template::LogicalId::new("QuoteStream"), "Arn");
        t.add(
            "ScratchPolicy",
            Policy {
                policy_name: "ScratchPermissions".into(),
                policy_document: PolicyDocument::identity(vec![
                    Statement::grant(&[Use::ScraperPutsQuotes], [stream.clone()]).sid("PutQuotes"),
                    Statement::allow(&[kinesis::LIST_SHARDS], [stream]).sid("ListShards"),
                ])
                .expect("policy"),
                roles: vec![role.reference()],
            },
            Options::none(),
        )
        .expect("policy");
        let json = stack.template.to_json().expect("json");
        let snapshot = Snapshot::from_stacks([(stack.name.as_str(), &json)]);
        Grants::from_templates([&stack.template], &snapshot)
    }

    #[test]
    fn a_grant_without_a_use_is_reported_readably_and_shown_as_needed_by_nothing() {
        let grants = grants_with_a_scratch_role();
        assert_eq!(
            grants.unexplained,
            [Unexplained {
                role: "ScratchRole".into(),
                sid: Some("ListShards".into()),
                action: "kinesis:ListShards".into(),
                resources: vec!["${QuoteStream.Arn}".into()],
            }]
        );
        let message = grants.unexplained[0].to_string();
        assert!(
            message.starts_with(
                "ScratchRole grants kinesis:ListShards on ${QuoteStream.Arn} (statement ListShards) but no use accounts for it."
            ),
            "{message}"
        );
        assert!(
            message.contains("= help: if nothing calls it, remove it"),
            "{message}"
        );

        // The other roles are unaffected, and a report of one of them carries no finding.
        assert!(
            grants
                .report("local", Some("TransformRole"))
                .expect("role")
                .unexplained
                .is_empty()
        );
        let report = grants.report("local", Some("ScratchRole")).expect("role");
        let text = report.to_text();
        assert!(text.contains("1 needed by nothing"), "{text}");
        assert!(
            text.contains("kinesis:ListShards  NOTHING: no use accounts for this grant  -"),
            "{text}"
        );
        assert!(
            text.contains("\nerror: ScratchRole grants kinesis:ListShards"),
            "{text}"
        );
        let json: Value = serde_json::from_str(&report.to_json()).expect("json");
        assert_eq!(json["schema"], JSON_SCHEMA);
        assert_eq!(json["unexplained"][0]["action"], "kinesis:ListShards");
        assert_eq!(
            json["roles"][0]["statements"][1]["actions"][0]["needed_by"],
            serde_json::json!([])
        );
    }

    #[test]
    fn an_unknown_role_names_the_roles_there_are() {
        let grants = grants_with_a_scratch_role();
        let error = grants.report("local", Some("Nope")).expect_err("unknown");
        // local's seven components, its replication role (`dr:`) and the scratch role.
        assert_eq!(error.known.len(), 9);
        assert!(
            error
                .to_string()
                .starts_with("environment local has no role `Nope`; its roles are CrawlerRole, "),
            "{error}"
        );
    }
}
