//! Per-role changes between two snapshots, each classified as broadening or narrowing with a
//! one-line reason, and risky actions flagged.
//!
//! The comparison works on sets of grants ([`crate::normalize`]). A grant only in the new snapshot
//! broadens access unless an old grant already covered it (same action and principal, a resource
//! pattern that covers it, no more conditions); a grant only in the old snapshot narrows access
//! unless a new grant still covers it. So a resource widened from `…/quotes/*` to `…/*` is one
//! broadening change, not an addition and a removal.
//!
//! Resource-based policies (key, bucket, topic and queue policies, Lambda permissions) are compared
//! the same way, holder by holder, when two sets of templates are compared ([`diff_templates`], what
//! the deploy engine does); committed snapshots hold roles only.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;
use synth::{ResourcePolicies, Snapshot};

use crate::classify::{condition_values_cover, covers, grant_covers, has_wildcard};
use crate::normalize::{
    Catalog, Condition, Effect, Grant, NormalRole, Scope, normalize_resource_policy, normalize_role,
};

/// Whether a change widens or narrows what the role (or who may assume it) can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// More requests are allowed than before.
    Broadening,
    /// Fewer requests are allowed than before.
    Narrowing,
}

/// What kind of change, for machines (`snake_case` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A role that did not exist.
    NewRole,
    /// A new trusted principal in the trust policy.
    NewPrincipal,
    /// An action pattern with a wildcard (`s3:*`, `s3:Get*`).
    WildcardAction,
    /// An action the role did not have at all.
    NewAction,
    /// An action the role had, on a resource it did not have it on.
    NewResource,
    /// A resource pattern replaced by one that covers it (`…/quotes/*` → `…/*`).
    ResourceWidened,
    /// An action granted on `"*"`.
    WildcardResource,
    /// A condition that restricted a grant is gone.
    ConditionRemoved,
    /// A condition admits more values than before.
    ConditionLoosened,
    /// A `Deny` that is gone.
    DenyRemoved,
    /// The role is gone.
    RoleDeleted,
    /// A trusted principal is gone.
    PrincipalRemoved,
    /// An action the role no longer has on any resource.
    ActionRemoved,
    /// An action the role keeps on other resources but no longer on this one.
    ResourceRemoved,
    /// A resource pattern replaced by a narrower one.
    ResourceNarrowed,
    /// A new condition restricts a grant.
    ConditionAdded,
    /// A condition admits fewer values than before.
    ConditionTightened,
    /// A new `Deny`.
    DenyAdded,
}

/// One change of a role: one or more actions that changed the same way on the same resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Broadening or narrowing.
    pub kind: ChangeKind,
    /// What kind of change.
    pub category: Category,
    /// Trust policy, permissions or resource-based policy.
    pub scope: Scope,
    /// The statements' effect.
    pub effect: Effect,
    /// The actions, as written, sorted.
    pub actions: Vec<String>,
    /// The resource (readable ARN pattern); `None` for trust policies and role-level changes.
    pub resource: Option<String>,
    /// What the resource or condition was before (widened/narrowed resources, loosened/tightened
    /// conditions).
    pub previous: Option<String>,
    /// The trusted principal (trust and resource-based policy changes).
    pub principal: Option<String>,
    /// The condition added, removed or changed.
    pub condition: Option<String>,
    /// The conditions the grants of this change are under, as `<Operator> <key> = <values>`
    /// (empty for condition changes, whose `condition` says what changed).
    pub conditions: Vec<String>,
    /// Actions of this change that deserve a second look (`iam:PassRole`, `kms:Decrypt`, wildcards
    /// covering such actions). Only broadening changes carry any.
    pub risky: Vec<String>,
    /// One line for the reviewer.
    pub reason: String,
}

/// What happened to a role as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleStatus {
    /// Only in the new snapshot.
    Added,
    /// Only in the old snapshot.
    Deleted,
    /// In both, with changes.
    Changed,
    /// In both, the same grants.
    Unchanged,
}

/// The changes of one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleDiff {
    /// Logical id.
    pub role: String,
    /// Its stack (the new snapshot's, or the old one's for a deleted role).
    pub stack: String,
    /// Added, deleted, changed or unchanged.
    pub status: RoleStatus,
    /// Broadening first.
    pub changes: Vec<Change>,
}

impl RoleDiff {
    /// Broadening changes.
    pub fn broadening(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| c.kind == ChangeKind::Broadening)
            .count()
    }

    /// Narrowing changes.
    pub fn narrowing(&self) -> usize {
        self.changes.len() - self.broadening()
    }
}

/// When `policy diff` exits with "findings" (3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailOn {
    /// When any change broadens access.
    #[default]
    Broadening,
    /// When anything changed.
    Any,
    /// Never.
    Never,
}

/// Every role's changes between a base and a head snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PolicyDiff {
    /// The environment (for a comparison of templates, what the caller names: the deploy engine
    /// gives the stack).
    pub env: String,
    /// What the base snapshot is (`git:abc1234`, `deployed`, …).
    pub base: String,
    /// What the head snapshot is (`synth`, `git:…`).
    pub head: String,
    /// Every role of either snapshot, by logical id.
    pub roles: Vec<RoleDiff>,
    /// Every resource-based policy of either side, by the logical id of the resource holding it
    /// (`role` in each entry). Only comparisons of templates ([`diff_templates`]) have any: the
    /// committed snapshot holds roles only. Left out of JSON when empty, and shown by the text and
    /// JSON formats only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource_policies: Vec<RoleDiff>,
}

impl PolicyDiff {
    /// Every role, then every resource-based policy.
    pub fn holders(&self) -> impl Iterator<Item = &RoleDiff> {
        self.roles.iter().chain(&self.resource_policies)
    }

    /// Broadening changes over all roles and resource-based policies.
    pub fn broadening(&self) -> usize {
        self.holders().map(RoleDiff::broadening).sum()
    }

    /// Narrowing changes over all roles and resource-based policies.
    pub fn narrowing(&self) -> usize {
        self.holders().map(RoleDiff::narrowing).sum()
    }

    /// Changes flagged risky.
    pub fn risky(&self) -> usize {
        self.holders()
            .flat_map(|r| &r.changes)
            .filter(|c| !c.risky.is_empty())
            .count()
    }

    /// Whether any role or resource-based policy changed.
    pub fn changed(&self) -> bool {
        self.holders().any(|r| r.status != RoleStatus::Unchanged)
    }

    /// Roles that are not unchanged.
    pub fn roles_changed(&self) -> usize {
        self.roles
            .iter()
            .filter(|r| r.status != RoleStatus::Unchanged)
            .count()
    }

    /// Whether there are findings at `level`.
    pub fn fails(&self, level: FailOn) -> bool {
        match level {
            FailOn::Broadening => self.broadening() > 0,
            FailOn::Any => self.changed(),
            FailOn::Never => false,
        }
    }
}

/// Actions worth a second look when granted: privilege escalation, data-key use, bucket exposure,
/// secrets. An action pattern covering one of them (`iam:*`) is risky too.
pub const RISKY_ACTIONS: &[&str] = &[
    "iam:passrole",
    "iam:createrole",
    "iam:putrolepolicy",
    "iam:attachrolepolicy",
    "iam:updateassumerolepolicy",
    "iam:createpolicyversion",
    "iam:createaccesskey",
    "iam:putuserpolicy",
    "iam:attachuserpolicy",
    "sts:assumerole",
    "kms:decrypt",
    "kms:creategrant",
    "kms:putkeypolicy",
    "kms:schedulekeydeletion",
    "s3:putbucketpolicy",
    "s3:deletebucketpolicy",
    "s3:putbucketacl",
    "s3:putobjectacl",
    "s3:putbucketpublicaccessblock",
    "secretsmanager:getsecretvalue",
    "secretsmanager:putresourcepolicy",
    "lambda:addpermission",
    "lambda:updatefunctioncode",
    "ssm:sendcommand",
];

fn is_risky(action_key: &str) -> bool {
    RISKY_ACTIONS.iter().any(|r| covers(action_key, r))
}

/// One classified grant, before grants are grouped into changes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Atom {
    kind: ChangeKind,
    scope: Scope,
    category: Category,
    effect: Effect,
    resource: Option<String>,
    previous: Option<String>,
    principal: Option<String>,
    condition: Option<String>,
    conditions: Vec<String>,
    action_key: String,
    action: String,
}

impl Atom {
    fn new(kind: ChangeKind, category: Category, grant: &Grant) -> Atom {
        Atom {
            kind,
            scope: grant.scope,
            category,
            effect: grant.effect,
            resource: (grant.scope != Scope::Trust).then(|| {
                let prefix = if grant.resource.negated { "NOT " } else { "" };
                format!("{prefix}{}", grant.resource.pattern)
            }),
            previous: None,
            principal: grant.principal.as_ref().map(ToString::to_string),
            condition: None,
            conditions: grant.conditions.iter().map(ToString::to_string).collect(),
            action_key: grant.action.key.clone(),
            action: if grant.action.negated {
                format!("NOT {}", grant.action.display)
            } else {
                grant.action.display.clone()
            },
        }
    }
}

/// Whether `set` has a grant of `grant`'s scope and effect for its principal (any action): in a
/// resource-based policy, a grant for a principal the policy did not name is a new principal.
fn names_principal(set: &BTreeSet<Grant>, grant: &Grant) -> bool {
    set.iter().any(|g| {
        g.scope == grant.scope && g.effect == grant.effect && g.principal == grant.principal
    })
}

/// Grants of `set` with the same scope, effect, action and principal as `grant`.
fn same_action<'a>(set: &'a BTreeSet<Grant>, grant: &'a Grant) -> impl Iterator<Item = &'a Grant> {
    set.iter().filter(move |g| {
        g.scope == grant.scope
            && g.effect == grant.effect
            && g.action.negated == grant.action.negated
            && g.action.key == grant.action.key
            && g.principal == grant.principal
            && g.resource.negated == grant.resource.negated
    })
}

/// How the conditions of `new` differ from those of `old` on the same action and resource:
/// `(removed, condition, previous)`. `removed` when `new` lacks one of `old`'s conditions entirely
/// (then `condition` is that old condition); otherwise `condition` is the first condition of `new`
/// that admits what `old`'s did not, and `previous` the old one it replaces.
fn condition_change(old: &[Condition], new: &[Condition]) -> (bool, String, Option<String>) {
    // A condition of `old` that `new` lacks entirely: removed (broadening).
    for o in old {
        if !new
            .iter()
            .any(|n| n.operator == o.operator && n.key == o.key)
        {
            return (true, o.to_string(), None);
        }
    }
    for o in old {
        for n in new
            .iter()
            .filter(|n| n.operator == o.operator && n.key == o.key)
        {
            if !condition_values_cover(o, n) {
                return (false, n.to_string(), Some(o.to_string()));
            }
        }
    }
    (false, String::new(), None)
}

/// Classifies a grant of the new snapshot that the old one lacks; `None` when old grants still
/// cover it (no broadening).
fn classify_added(grant: &Grant, old: &BTreeSet<Grant>) -> Option<Atom> {
    if old.iter().any(|o| grant_covers(o, grant)) {
        return None;
    }
    if grant.effect == Effect::Deny {
        return Some(Atom::new(ChangeKind::Narrowing, Category::DenyAdded, grant));
    }
    let similar: Vec<&Grant> = same_action(old, grant).collect();
    if let Some(o) = similar.iter().find(|o| o.resource == grant.resource) {
        let (removed, condition, previous) = condition_change(&o.conditions, &grant.conditions);
        let category = if removed {
            Category::ConditionRemoved
        } else {
            Category::ConditionLoosened
        };
        let mut atom = Atom::new(ChangeKind::Broadening, category, grant);
        atom.condition = Some(condition);
        atom.conditions.clear();
        atom.previous = previous;
        return Some(atom);
    }
    if grant.scope == Scope::Trust
        || (grant.scope == Scope::Resource && !names_principal(old, grant))
    {
        return Some(Atom::new(
            ChangeKind::Broadening,
            Category::NewPrincipal,
            grant,
        ));
    }
    if !grant.action.negated && has_wildcard(&grant.action.key) {
        return Some(Atom::new(
            ChangeKind::Broadening,
            Category::WildcardAction,
            grant,
        ));
    }
    let widened: Vec<&str> = similar
        .iter()
        .filter(|o| covers(&grant.resource.pattern, &o.resource.pattern))
        .map(|o| o.resource.pattern.as_str())
        .collect();
    if !widened.is_empty() {
        let mut atom = Atom::new(ChangeKind::Broadening, Category::ResourceWidened, grant);
        atom.previous = Some(widened.join(", "));
        return Some(atom);
    }
    // In a resource-based policy `"*"` is the resource the policy is on (a key policy's only form).
    if grant.resource.pattern == "*" && grant.scope == Scope::Permissions {
        return Some(Atom::new(
            ChangeKind::Broadening,
            Category::WildcardResource,
            grant,
        ));
    }
    let category = if similar.is_empty() {
        Category::NewAction
    } else {
        Category::NewResource
    };
    Some(Atom::new(ChangeKind::Broadening, category, grant))
}

/// Classifies a grant of the old snapshot that the new one lacks; `None` when new grants still
/// cover it (no narrowing).
fn classify_removed(grant: &Grant, new: &BTreeSet<Grant>) -> Option<Atom> {
    if new.iter().any(|n| grant_covers(n, grant)) {
        return None;
    }
    if grant.effect == Effect::Deny {
        return Some(Atom::new(
            ChangeKind::Broadening,
            Category::DenyRemoved,
            grant,
        ));
    }
    let similar: Vec<&Grant> = same_action(new, grant).collect();
    if let Some(n) = similar.iter().find(|n| n.resource == grant.resource) {
        // The new grant has a condition the old one lacked, or a tighter one.
        let added = n.conditions.iter().find(|c| {
            !grant
                .conditions
                .iter()
                .any(|o| o.operator == c.operator && o.key == c.key)
        });
        let mut atom;
        match added {
            Some(condition) => {
                atom = Atom::new(ChangeKind::Narrowing, Category::ConditionAdded, grant);
                atom.condition = Some(condition.to_string());
            }
            None => {
                let (_, condition, previous) = condition_change(&n.conditions, &grant.conditions);
                atom = Atom::new(ChangeKind::Narrowing, Category::ConditionTightened, grant);
                // Reported from the new side: the previous text is the old condition.
                atom.condition = previous;
                atom.previous = Some(condition);
            }
        }
        atom.conditions.clear();
        return Some(atom);
    }
    if grant.scope == Scope::Trust
        || (grant.scope == Scope::Resource && !names_principal(new, grant))
    {
        return Some(Atom::new(
            ChangeKind::Narrowing,
            Category::PrincipalRemoved,
            grant,
        ));
    }
    let narrowed: Vec<&str> = similar
        .iter()
        .filter(|n| covers(&grant.resource.pattern, &n.resource.pattern))
        .map(|n| n.resource.pattern.as_str())
        .collect();
    if !narrowed.is_empty() {
        let mut atom = Atom::new(ChangeKind::Narrowing, Category::ResourceNarrowed, grant);
        atom.previous = atom.resource.take();
        atom.resource = Some(narrowed.join(", "));
        return Some(atom);
    }
    let category = if similar.is_empty() {
        Category::ActionRemoved
    } else {
        Category::ResourceRemoved
    };
    Some(Atom::new(ChangeKind::Narrowing, category, grant))
}

fn reason(change: &Change) -> String {
    let text = |o: &Option<String>| o.clone().unwrap_or_default();
    // Who holds the grants: the role, or in a resource-based policy the principal.
    let (holder, principal) = match change.scope {
        Scope::Resource => ("principal", "principal"),
        Scope::Trust | Scope::Permissions => ("role", "trusted principal"),
    };
    match change.category {
        Category::NewRole => String::new(),
        Category::RoleDeleted => "role deleted".into(),
        Category::NewPrincipal => format!("new {principal}: {}", text(&change.principal)),
        Category::PrincipalRemoved => {
            format!("{principal} removed: {}", text(&change.principal))
        }
        Category::WildcardAction => "action wildcard: grants every action it matches".into(),
        Category::NewAction => format!("new action for this {holder}"),
        Category::NewResource => format!("action the {holder} had, now on one more resource"),
        Category::ResourceWidened => format!("resource widened from {}", text(&change.previous)),
        Category::WildcardResource => "granted on every resource (\"*\")".into(),
        Category::ConditionRemoved => format!("condition removed: {}", text(&change.condition)),
        Category::ConditionLoosened => format!(
            "condition loosened: {} -> {}",
            text(&change.previous),
            text(&change.condition)
        ),
        Category::DenyRemoved => "Deny removed".into(),
        Category::ActionRemoved => "action removed from this role".into(),
        Category::ResourceRemoved => "resource removed (the action remains on others)".into(),
        Category::ResourceNarrowed => format!("resource narrowed from {}", text(&change.previous)),
        Category::ConditionAdded => format!("condition added: {}", text(&change.condition)),
        Category::ConditionTightened => format!(
            "condition tightened: {} -> {}",
            text(&change.previous),
            text(&change.condition)
        ),
        Category::DenyAdded => "Deny added".into(),
    }
}

/// Groups atoms that differ only by action into changes, broadening first.
fn group(atoms: Vec<Atom>) -> Vec<Change> {
    let mut groups: BTreeMap<Atom, BTreeMap<String, String>> = BTreeMap::new();
    for atom in atoms {
        let key = Atom {
            action_key: String::new(),
            action: String::new(),
            ..atom.clone()
        };
        groups
            .entry(key)
            .or_default()
            .entry(atom.action_key)
            .or_insert(atom.action);
    }
    groups
        .into_iter()
        .map(|(key, actions)| {
            // Risky: granted actions (permissions and resource-based policies) and wildcard
            // principals (trust and resource-based policies), on broadening changes only.
            let mut risky = Vec::new();
            if key.kind == ChangeKind::Broadening {
                if key.scope != Scope::Trust {
                    risky.extend(
                        actions
                            .iter()
                            .filter(|(k, _)| is_risky(k))
                            .map(|(_, display)| display.clone()),
                    );
                }
                if key.scope != Scope::Permissions
                    && key.principal.as_deref().is_some_and(has_wildcard)
                {
                    risky.extend(key.principal.iter().cloned());
                }
            }
            let mut change = Change {
                kind: key.kind,
                category: key.category,
                scope: key.scope,
                effect: key.effect,
                actions: actions.into_values().collect(),
                resource: key.resource,
                previous: key.previous,
                principal: key.principal,
                condition: key.condition,
                conditions: key.conditions,
                risky,
                reason: String::new(),
            };
            change.reason = reason(&change);
            change
        })
        .collect()
}

fn diff_roles(old: &NormalRole, new: &NormalRole) -> Vec<Change> {
    let mut atoms: Vec<Atom> = new
        .grants
        .difference(&old.grants)
        .filter_map(|g| classify_added(g, &old.grants))
        .collect();
    atoms.extend(
        old.grants
            .difference(&new.grants)
            .filter_map(|g| classify_removed(g, &new.grants)),
    );
    group(atoms)
}

/// Compares two snapshots of environment `env`. `catalog` expands intrinsic references (use the
/// current synthesis'); `base` and `head` label the two sides in reports.
pub fn diff_snapshots(
    env: &str,
    base_label: &str,
    base: &Snapshot,
    head_label: &str,
    head: &Snapshot,
    catalog: &Catalog,
) -> PolicyDiff {
    let names: BTreeSet<&String> = base.roles.keys().chain(head.roles.keys()).collect();
    let empty = |role: &str, stack: &str| NormalRole {
        role: role.to_owned(),
        stack: stack.to_owned(),
        grants: BTreeSet::new(),
    };
    let mut roles = Vec::new();
    for name in names {
        let role = match (base.roles.get(name), head.roles.get(name)) {
            (Some(old), Some(new)) => {
                let changes =
                    diff_roles(&normalize_role(old, catalog), &normalize_role(new, catalog));
                RoleDiff {
                    role: name.clone(),
                    stack: new.stack.clone(),
                    status: if changes.is_empty() {
                        RoleStatus::Unchanged
                    } else {
                        RoleStatus::Changed
                    },
                    changes,
                }
            }
            (None, Some(new)) => {
                let normal = normalize_role(new, catalog);
                let trusted: Vec<String> = normal
                    .grants
                    .iter()
                    .filter_map(|g| g.principal.as_ref().map(ToString::to_string))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let permissions = normal
                    .grants
                    .iter()
                    .filter(|g| g.scope == Scope::Permissions)
                    .count();
                let mut changes = vec![Change {
                    kind: ChangeKind::Broadening,
                    category: Category::NewRole,
                    scope: Scope::Trust,
                    effect: Effect::Allow,
                    actions: Vec::new(),
                    resource: None,
                    previous: None,
                    principal: None,
                    condition: None,
                    conditions: Vec::new(),
                    risky: Vec::new(),
                    reason: format!(
                        "new role, trusted by {}, with {permissions} permission grant(s)",
                        if trusted.is_empty() {
                            "nobody".to_owned()
                        } else {
                            trusted.join(", ")
                        }
                    ),
                }];
                changes.extend(diff_roles(&empty(name, &new.stack), &normal));
                RoleDiff {
                    role: name.clone(),
                    stack: new.stack.clone(),
                    status: RoleStatus::Added,
                    changes,
                }
            }
            (Some(old), None) => RoleDiff {
                role: name.clone(),
                stack: old.stack.clone(),
                status: RoleStatus::Deleted,
                changes: vec![Change {
                    kind: ChangeKind::Narrowing,
                    category: Category::RoleDeleted,
                    scope: Scope::Trust,
                    effect: Effect::Allow,
                    actions: Vec::new(),
                    resource: None,
                    previous: None,
                    principal: None,
                    condition: None,
                    conditions: Vec::new(),
                    risky: Vec::new(),
                    reason: "role deleted".into(),
                }],
            },
            (None, None) => continue,
        };
        roles.push(role);
    }
    PolicyDiff {
        env: env.to_owned(),
        base: base_label.to_owned(),
        head: head_label.to_owned(),
        roles,
        resource_policies: Vec::new(),
    }
}

/// Compares the resource-based policies of two sets of templates, holder by holder (every holder of
/// either side, by logical id). A holder only on one side is `added` or `deleted` with each of its
/// grants as a change: its principals are new (broadening) or removed (narrowing), and a `Deny` of a
/// deleted policy is a `deny_removed` (broadening).
pub fn diff_resource_policies(
    base: &ResourcePolicies,
    head: &ResourcePolicies,
    catalog: &Catalog,
) -> Vec<RoleDiff> {
    let names: BTreeSet<&String> = base.policies.keys().chain(head.policies.keys()).collect();
    let normal = |policies: &ResourcePolicies, name: &str| {
        policies
            .policies
            .get(name)
            .map(|p| normalize_resource_policy(p, catalog))
    };
    names
        .into_iter()
        .filter_map(|name| {
            let (old, new) = (normal(base, name), normal(head, name));
            let status = match (&old, &new) {
                (Some(_), Some(_)) => RoleStatus::Changed,
                (None, Some(_)) => RoleStatus::Added,
                (Some(_), None) => RoleStatus::Deleted,
                (None, None) => return None,
            };
            // The stack of the new side, or the old one's for a deleted policy.
            let stack = new.as_ref().or(old.as_ref())?.stack.clone();
            let empty = || NormalRole {
                role: name.clone(),
                stack: stack.clone(),
                grants: BTreeSet::new(),
            };
            let changes = diff_roles(&old.unwrap_or_else(empty), &new.unwrap_or_else(empty));
            Some(RoleDiff {
                role: name.clone(),
                stack,
                status: if status == RoleStatus::Changed && changes.is_empty() {
                    RoleStatus::Unchanged
                } else {
                    status
                },
                changes,
            })
        })
        .collect()
}

/// Compares the IAM of two sets of CloudFormation templates (stack name, template JSON): the roles
/// as `deployer synth` snapshots them ([`Snapshot::from_stacks`], then [`diff_snapshots`]) and the
/// resource-based policies ([`ResourcePolicies::from_stacks`], then [`diff_resource_policies`]).
/// References expand through a catalog of both sides' resources (the head's where both have an id).
/// `base` is empty for stacks that do not exist yet.
pub fn diff_templates(
    env: &str,
    base_label: &str,
    base: &[(&str, &Value)],
    head_label: &str,
    head: &[(&str, &Value)],
) -> PolicyDiff {
    let mut catalog = Catalog::default();
    for (_, template) in base.iter().chain(head) {
        catalog.add_template(template);
    }
    let sides = |stacks: &[(&str, &Value)]| {
        (
            Snapshot::from_stacks(stacks.iter().copied()),
            ResourcePolicies::from_stacks(stacks.iter().copied()),
        )
    };
    let ((old_roles, old_policies), (new_roles, new_policies)) = (sides(base), sides(head));
    let mut diff = diff_snapshots(
        env, base_label, &old_roles, head_label, &new_roles, &catalog,
    );
    diff.resource_policies = diff_resource_policies(&old_policies, &new_policies, &catalog);
    diff
}
