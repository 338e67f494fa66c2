//! Every role's grants with the uses they were made for, read from the typed template, and the check
//! that no granted action lacks one.
//!
//! The reasons are attached where a statement is built ([`Statement::grant`]) and never reach the
//! JSON, so they are read from the typed `AWS::IAM::Policy` resources. [`unexplained`] is the guard
//! against stale grants: an action in a role's policy that none of the statement's uses needs is
//! either a grant nothing uses (remove it) or a use nobody wrote down (add it to `iam/uses.rs`).

use std::fmt;

use crate::iam::{Action, Statement};
use crate::kms_use::texts;
use crate::resources::iam::{ManagedPolicy, Policy};
use crate::template::{Expr, Template};

/// The statements one policy gives one role.
#[derive(Debug, Clone)]
pub struct RoleGrants<'a> {
    /// The role's logical id.
    pub role: String,
    /// The `AWS::IAM::Policy` resource's logical id.
    pub policy: String,
    /// The statements, in document order, each with its uses.
    pub statements: &'a [Statement],
}

/// Each (policy, role) pair of `template`, inline policies then managed ones, each in policy id
/// order.
pub fn of_template(template: &Template) -> Vec<RoleGrants<'_>> {
    let mut out = Vec::new();
    let inline = template
        .resources_of::<Policy>()
        .map(|(id, p)| (id, &p.roles, &p.policy_document));
    let managed = template
        .resources_of::<ManagedPolicy>()
        .map(|(id, p)| (id, &p.roles, &p.policy_document));
    for (id, roles, document) in inline.chain(managed) {
        for role in roles {
            let role = match role {
                Expr::Ref(name) => name.clone(),
                other => format!("{other:?}"),
            };
            out.push(RoleGrants {
                role,
                policy: id.as_str().to_owned(),
                statements: document.statements(),
            });
        }
    }
    out
}

/// A granted action that none of its statement's uses needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unexplained {
    /// The role's logical id.
    pub role: String,
    /// The policy's logical id.
    pub policy: String,
    /// The statement's id, if any.
    pub sid: Option<String>,
    /// The action nothing accounts for.
    pub action: Action,
    /// The statement's resources as the template writes them (`${Id}` for references).
    pub resources: Vec<String>,
}

impl fmt::Display for Unexplained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} grants {} on {} (policy {}, statement {}) but no use accounts for it.\n  = help: if nothing calls it, remove it; if something does, build the statement with `Statement::grant` and the `Use` that needs it (stacks/src/iam/uses.rs: the code path or AWS page), then run `deployer synth --env <env>`",
            self.role,
            self.action,
            self.resources.join(", "),
            self.policy,
            self.sid.as_deref().unwrap_or("without a Sid"),
        )
    }
}

/// Every allowed action of every role in `template` that its statement's uses do not account for.
pub fn unexplained(template: &Template) -> Vec<Unexplained> {
    let mut out = Vec::new();
    for grants in of_template(template) {
        for statement in grants.statements.iter().filter(|s| s.is_allow()) {
            let needed: Vec<Action> = statement
                .uses()
                .iter()
                .flat_map(|u| u.need().actions)
                .collect();
            for action in statement.actions() {
                if needed.contains(action) {
                    continue;
                }
                let json = serde_json::to_value(statement).unwrap_or_default();
                out.push(Unexplained {
                    role: grants.role.clone(),
                    policy: grants.policy.clone(),
                    sid: statement.sid_text().map(str::to_owned),
                    action: *action,
                    resources: texts(&json["Resource"]),
                });
            }
        }
    }
    out
}
