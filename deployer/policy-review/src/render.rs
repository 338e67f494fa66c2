//! The four outputs of `policy diff`: text for a terminal, Markdown for a merge-request note, JSON for
//! machines (schema in docs/iam-review.md) and JUnit XML for GitLab's test report.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;

use crate::diff::{Category, Change, ChangeKind, FailOn, PolicyDiff, RoleDiff, RoleStatus};
use crate::normalize::Scope;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Human-readable, coloured on a terminal.
    #[default]
    Text,
    /// A merge-request note.
    Markdown,
    /// `mystocktracker.policy-diff/1`.
    Json,
    /// One test case per role; which changes fail a case is `--fail-on`'s level (broadening ones,
    /// any, or none: with `never` every change is reported as output, nothing fails).
    Junit(FailOn),
}

/// The JSON schema's name and version; bumped on any incompatible change.
pub const JSON_SCHEMA: &str = "mystocktracker.policy-diff/1";

/// Renders `diff` in `format`. `color` applies to text only.
pub fn render(diff: &PolicyDiff, format: Format, color: bool) -> String {
    match format {
        Format::Text => text(diff, color),
        Format::Markdown => markdown(diff),
        Format::Json => json(diff),
        Format::Junit(level) => junit(diff, level),
    }
}

/// The summary line of the text format: `1 of 6 role(s) changed: 2 broadening, 0 narrowing, 0 risky`
/// (with the resource-based policies after the roles when the diff has any).
pub fn summary_line(diff: &PolicyDiff) -> String {
    let policies = if diff.resource_policies.is_empty() {
        String::new()
    } else {
        let total = diff.resource_policies.len();
        format!(
            " and {} of {total} resource {}",
            diff.resource_policies
                .iter()
                .filter(|p| p.status != RoleStatus::Unchanged)
                .count(),
            if total == 1 { "policy" } else { "policies" }
        )
    };
    format!(
        "{} of {} role(s){policies} changed: {} broadening, {} narrowing, {} risky",
        diff.roles_changed(),
        diff.roles.len(),
        diff.broadening(),
        diff.narrowing(),
        diff.risky()
    )
}

/// The policy a change is in: `trust`, `permissions`, or `role` for a role added or deleted.
fn scope_label(change: &Change) -> &'static str {
    match (change.category, change.scope) {
        (Category::NewRole | Category::RoleDeleted, _) => "role",
        (_, Scope::Trust) => "trust",
        (_, Scope::Permissions) => "permissions",
        (_, Scope::Resource) => "resource policy",
    }
}

/// What a change is about, in one line: actions, then resource or principal.
fn subject(change: &Change) -> String {
    let actions = change.actions.join(", ");
    match (change.scope, &change.resource, &change.principal) {
        (Scope::Resource, Some(resource), Some(principal)) => {
            format!("{actions} on {resource} by {principal}")
        }
        (_, _, Some(principal)) => format!("{actions} by {principal}"),
        (Scope::Permissions, Some(resource), None) => format!("{actions} on {resource}"),
        _ => actions,
    }
}

/// The conditions of a change's grants as one clause: `if A and B`; empty without conditions.
fn conditions_clause(change: &Change) -> String {
    if change.conditions.is_empty() {
        String::new()
    } else {
        format!("if {}", change.conditions.join(" and "))
    }
}

/// A change as one plain line (JUnit bodies).
fn plain_line(change: &Change) -> String {
    let sign = match change.kind {
        ChangeKind::Broadening => '+',
        ChangeKind::Narrowing => '-',
    };
    let mut line = format!("{sign} {} ", scope_label(change));
    let subject = subject(change);
    if !subject.is_empty() {
        line.push_str(&subject);
        line.push_str(": ");
    }
    line.push_str(&change.reason);
    if !change.conditions.is_empty() {
        let _ = write!(line, " ({})", conditions_clause(change));
    }
    if !change.risky.is_empty() {
        let _ = write!(line, " [risky: {}]", change.risky.join(", "));
    }
    line
}

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW_BOLD: &str = "\x1b[1;33m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// `s` in `style` when `color`, else as it is.
fn paint(color: bool, style: &str, s: &str) -> String {
    if color {
        format!("{style}{s}{RESET}")
    } else {
        s.to_owned()
    }
}

fn text(diff: &PolicyDiff, color: bool) -> String {
    let paint = |style: &str, s: &str| paint(color, style, s);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        paint(
            BOLD,
            &format!("policy diff {}: {} -> {}", diff.env, diff.base, diff.head)
        )
    );
    let _ = writeln!(out, "{}", summary_line(diff));
    for section in sections(diff, "", color) {
        let _ = write!(out, "\n{section}");
    }
    let unchanged: Vec<&str> = diff
        .roles
        .iter()
        .filter(|r| r.status == RoleStatus::Unchanged)
        .map(|r| r.role.as_str())
        .collect();
    if !unchanged.is_empty() {
        let _ = writeln!(out, "\nunchanged: {}", unchanged.join(", "));
    }
    out
}

/// The changed roles, then the changed resource-based policies, each as a block of lines of the
/// text format, every line indented by `indent`.
fn sections(diff: &PolicyDiff, indent: &str, color: bool) -> Vec<String> {
    let paint = |style: &str, s: &str| paint(color, style, s);
    let roles = diff.roles.iter().map(|r| (r, status_word(r.status)));
    let policies = diff
        .resource_policies
        .iter()
        .map(|p| (p, policy_status_word(p.status)));
    let mut out = Vec::new();
    for (holder, status) in roles
        .chain(policies)
        .filter(|(h, _)| h.status != RoleStatus::Unchanged)
    {
        let mut section = String::new();
        let _ = writeln!(
            section,
            "{indent}{} ({}): {status}",
            paint(BOLD, &holder.role),
            holder.stack,
        );
        for change in &holder.changes {
            let (sign, word, style) = match change.kind {
                ChangeKind::Broadening => ('+', "broadening", RED),
                ChangeKind::Narrowing => ('-', "narrowing ", GREEN),
            };
            let scope = scope_label(change);
            let subject = subject(change);
            let _ = writeln!(
                section,
                "{indent}  {} {}{}",
                paint(style, &format!("{sign} {word}")),
                paint(DIM, &format!("[{scope}] ")),
                if subject.is_empty() {
                    &change.reason
                } else {
                    &subject
                }
            );
            if !subject.is_empty() {
                let _ = writeln!(section, "{indent}      {}", change.reason);
            }
            if !change.conditions.is_empty() {
                let _ = writeln!(section, "{indent}      {}", conditions_clause(change));
            }
            if !change.risky.is_empty() {
                let _ = writeln!(
                    section,
                    "{indent}      {}",
                    paint(
                        YELLOW_BOLD,
                        &format!("! risky: {}", change.risky.join(", "))
                    )
                );
            }
        }
        out.push(section);
    }
    out
}

/// The changed roles and resource-based policies of `diff` as the text format shows them, without
/// its header, summary and list of unchanged roles, every line indented by `indent` (the deploy
/// engine's plans show this).
pub fn changes_text(diff: &PolicyDiff, indent: &str, color: bool) -> String {
    sections(diff, indent, color).concat()
}

/// The IAM of a new stack, one line per role and resource-based policy: what it is, whom it trusts,
/// how many grants it has and which risky actions it holds. A first deploy grants everything at
/// once, so listing each grant there would bury the plan; [`changes_text`] (`--detail`) and
/// `deployer policy diff` show them all.
pub fn summary_text(diff: &PolicyDiff, indent: &str) -> String {
    let mut out = String::new();
    for holder in diff.holders().filter(|h| h.status != RoleStatus::Unchanged) {
        let count = |wanted: fn(&Change) -> bool| -> usize {
            holder
                .changes
                .iter()
                .filter(|c| c.category != Category::NewRole && wanted(c))
                .map(|c| c.actions.len().max(1))
                .sum()
        };
        let grants = count(|c| c.category != Category::DenyAdded);
        let denies = count(|c| c.category == Category::DenyAdded);
        let sign = match holder.status {
            RoleStatus::Added => '+',
            RoleStatus::Deleted => '-',
            RoleStatus::Changed | RoleStatus::Unchanged => '~',
        };
        let mut what = match holder
            .changes
            .iter()
            .find(|c| c.category == Category::NewRole)
        {
            Some(new_role) => new_role.reason.clone(),
            None if diff.roles.iter().any(|r| r.role == holder.role) => {
                format!("{}, {grants} grant change(s)", status_word(holder.status))
            }
            None => format!("{}, {grants} grant(s)", policy_status_word(holder.status)),
        };
        if denies > 0 {
            let _ = write!(what, ", {denies} denied action(s)");
        }
        let risky: BTreeSet<&str> = holder
            .changes
            .iter()
            .flat_map(|c| c.risky.iter().map(String::as_str))
            .collect();
        let _ = write!(out, "{indent}{sign} {}: {what}", holder.role);
        if !risky.is_empty() {
            let _ = write!(
                out,
                "; risky: {}",
                risky.into_iter().collect::<Vec<_>>().join(", ")
            );
        }
        out.push('\n');
    }
    out
}

/// Every change of `diff` as one plain line, prefixed with its role or resource-based policy:
/// `TransformRole: + permissions kinesis:PutRecord on …: new action for this role`.
pub fn change_lines(diff: &PolicyDiff) -> Vec<String> {
    diff.holders()
        .flat_map(|holder| {
            holder
                .changes
                .iter()
                .map(move |change| format!("{}: {}", holder.role, plain_line(change)))
        })
        .collect()
}

fn policy_status_word(status: RoleStatus) -> &'static str {
    match status {
        RoleStatus::Added => "new resource policy",
        RoleStatus::Deleted => "resource policy deleted",
        RoleStatus::Changed => "resource policy changed",
        RoleStatus::Unchanged => "resource policy unchanged",
    }
}

fn status_word(status: RoleStatus) -> &'static str {
    match status {
        RoleStatus::Added => "new role",
        RoleStatus::Deleted => "deleted",
        RoleStatus::Changed => "changed",
        RoleStatus::Unchanged => "unchanged",
    }
}

/// Text in a Markdown table cell as code: pipes escaped, backticks avoided.
fn md_code(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    format!("`{}`", s.replace('`', "'").replace('|', "\\|"))
}

fn md_text(s: &str) -> String {
    s.replace('|', "\\|")
}

fn markdown(diff: &PolicyDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### IAM policy review: `{}`\n", diff.env);
    let _ = writeln!(
        out,
        "Base `{}`, head `{}`: {}, **{} broadening**, {} narrowing, {} risky.\n",
        diff.base,
        diff.head,
        if diff.roles_changed() == 1 {
            "1 role changed".to_owned()
        } else {
            format!("{} roles changed", diff.roles_changed())
        },
        diff.broadening(),
        diff.narrowing(),
        diff.risky()
    );
    if diff.roles_changed() == 0 {
        let _ = writeln!(
            out,
            "No IAM change: every role ({}) grants exactly what it granted.",
            diff.roles.len()
        );
        return out;
    }
    let _ = writeln!(out, "| Role | Stack | Status | Broadening | Narrowing |");
    let _ = writeln!(out, "|---|---|---|---:|---:|");
    for role in &diff.roles {
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {} | {} | {} |",
            role.role,
            role.stack,
            status_word(role.status),
            role.broadening(),
            role.narrowing()
        );
    }
    for role in diff
        .roles
        .iter()
        .filter(|r| r.status != RoleStatus::Unchanged)
    {
        markdown_role(&mut out, role);
    }
    out
}

fn markdown_role(out: &mut String, role: &RoleDiff) {
    let _ = writeln!(
        out,
        "\n#### `{}` ({})\n",
        role.role,
        status_word(role.status)
    );
    let _ = writeln!(out, "| | Policy | Actions | Resource / principal | Why |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for change in &role.changes {
        let kind = match change.kind {
            ChangeKind::Broadening => "**broadening**",
            ChangeKind::Narrowing => "narrowing",
        };
        let scope = scope_label(change);
        let actions = change
            .actions
            .iter()
            .map(|a| {
                if change.risky.contains(a) {
                    format!("{} :warning:", md_code(a))
                } else {
                    md_code(a)
                }
            })
            .collect::<Vec<_>>()
            .join("<br>");
        let target = change
            .principal
            .as_deref()
            .or(change.resource.as_deref())
            .map(md_code)
            .unwrap_or_default();
        let mut why = md_text(&change.reason);
        if !change.conditions.is_empty() {
            let _ = write!(why, "; {}", md_text(&conditions_clause(change)));
        }
        if !change.risky.is_empty() {
            let _ = write!(
                why,
                "; :warning: risky: {}",
                change
                    .risky
                    .iter()
                    .map(|r| md_code(r))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let _ = writeln!(out, "| {kind} | {scope} | {actions} | {target} | {why} |");
    }
}

#[derive(Serialize)]
struct JsonSummary {
    roles: usize,
    roles_changed: usize,
    broadening: usize,
    narrowing: usize,
    risky: usize,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    schema: &'static str,
    env: &'a str,
    base: &'a str,
    head: &'a str,
    summary: JsonSummary,
    roles: &'a [RoleDiff],
}

fn json(diff: &PolicyDiff) -> String {
    let report = JsonReport {
        schema: JSON_SCHEMA,
        env: &diff.env,
        base: &diff.base,
        head: &diff.head,
        summary: JsonSummary {
            roles: diff.roles.len(),
            roles_changed: diff.roles_changed(),
            broadening: diff.broadening(),
            narrowing: diff.narrowing(),
            risky: diff.risky(),
        },
        roles: &diff.roles,
    };
    // Plain data of strings, numbers and enums: serializing cannot fail.
    serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 cannot carry.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Whether `change` fails its test case at `level`.
fn fails_case(change: &Change, level: FailOn) -> bool {
    match level {
        FailOn::Broadening => change.kind == ChangeKind::Broadening,
        FailOn::Any => true,
        FailOn::Never => false,
    }
}

fn junit(diff: &PolicyDiff, level: FailOn) -> String {
    let failures = diff
        .roles
        .iter()
        .filter(|r| r.changes.iter().any(|c| fails_case(c, level)))
        .count();
    let suite = format!("policy diff {}", diff.env);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">",
        xml_escape(&suite),
        diff.roles.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
        xml_escape(&format!("{suite}: {} -> {}", diff.base, diff.head)),
        diff.roles.len()
    );
    for role in &diff.roles {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\"",
            xml_escape(&format!("policies.{}.{}", diff.env, role.stack)),
            xml_escape(&role.role)
        );
        if role.changes.is_empty() {
            out.push_str("/>\n");
            continue;
        }
        out.push_str(">\n");
        let (failing, reported): (Vec<&Change>, Vec<&Change>) =
            role.changes.iter().partition(|c| fails_case(c, level));
        if !failing.is_empty() {
            let body: Vec<String> = failing.iter().map(|c| plain_line(c)).collect();
            let (kind, what) = match level {
                FailOn::Broadening => ("broadening", "broadening change(s)"),
                FailOn::Any | FailOn::Never => ("change", "change(s)"),
            };
            let _ = writeln!(
                out,
                "      <failure type=\"{kind}\" message=\"{}\">{}</failure>",
                xml_escape(&format!(
                    "{} ({}): {} {what}",
                    role.role,
                    status_word(role.status),
                    failing.len()
                )),
                xml_escape(&body.join("\n"))
            );
        }
        if !reported.is_empty() {
            let body: Vec<String> = reported.iter().map(|c| plain_line(c)).collect();
            let _ = writeln!(
                out,
                "      <system-out>{}</system-out>",
                xml_escape(&body.join("\n"))
            );
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escaping() {
        assert_eq!(
            xml_escape("a<b>&\"c'\u{1}\n"),
            "a&lt;b&gt;&amp;&quot;c&apos;\n"
        );
    }
}
