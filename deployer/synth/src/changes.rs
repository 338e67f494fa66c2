//! What changes between two versions of a stack's template, resource by resource and property by
//! property, as a reviewer reads it: `Environment.Variables.THRESHOLD_PCT: 1 → 2.5`, user data and
//! policy documents as line diffs, intrinsics as readable text (`${QuoteStream.Arn}`), and which
//! change replaces its resource (a change to a property CloudFormation can only set at creation,
//! [`create_only`]).
//!
//! `deployer diff` shows this under each change of a change set (the deployed template against the
//! synthesized one), and `deployer diff --offline` shows it alone (a committed template snapshot
//! against the synthesized one). Pure: no AWS, no clock.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::readable;

/// What happens to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Only in the new template.
    Add,
    /// In both, with different definitions.
    Modify,
    /// Only in the old template.
    Remove,
}

impl Action {
    /// `Add`, `Modify` or `Remove`, as CloudFormation's change sets spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Add => "Add",
            Action::Modify => "Modify",
            Action::Remove => "Remove",
        }
    }
}

/// One changed property (or resource attribute such as `DeletionPolicy`) of a modified resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropertyChange {
    /// Its path under `Properties`, dotted, list items as `[i]` (`Environment.Variables.X`,
    /// `Tags[2].Value`); resource attributes are named as such (`DependsOn`, `DeletionPolicy`).
    pub path: String,
    /// The old value as readable text; `None` when the property was not set.
    pub before: Option<String>,
    /// The new value as readable text; `None` when the property is no longer set.
    pub after: Option<String>,
    /// For multi-line text (user data) and policy documents: the line diff, each line starting with
    /// `- `, `+ ` or two spaces (context), `…` between distant hunks. Empty for one-line values.
    pub lines: Vec<String>,
    /// Changing this property replaces the resource (it is create-only for the resource type).
    pub replaces: bool,
}

/// How one resource changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceChanges {
    /// Logical id.
    pub logical_id: String,
    /// Resource type (the new one for a modified resource).
    pub resource_type: String,
    /// Added, modified or removed.
    pub action: Action,
    /// For a modified resource, what changed; empty otherwise.
    pub properties: Vec<PropertyChange>,
}

impl ResourceChanges {
    /// The changed properties that make CloudFormation replace the resource (create-only ones, or
    /// `Type` itself).
    pub fn replaced_by(&self) -> Vec<&str> {
        self.properties
            .iter()
            .filter(|p| p.replaces)
            .map(|p| p.path.as_str())
            .collect()
    }
}

/// How one stack's template changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TemplateChanges {
    /// The changed resources: those of the new template in its order, then the removed ones.
    pub resources: Vec<ResourceChanges>,
    /// Changed template sections other than `Resources` (`Parameters`, `Outputs`, `Conditions`…),
    /// property by property under the section's name (`Outputs.TopicArn.Value`).
    pub sections: Vec<PropertyChange>,
}

impl TemplateChanges {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty() && self.sections.is_empty()
    }

    /// The changes of one resource, if it changed.
    pub fn resource(&self, logical_id: &str) -> Option<&ResourceChanges> {
        self.resources.iter().find(|r| r.logical_id == logical_id)
    }

    /// Counts of (added, modified, removed, replaced) resources.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let count = |action: Action| self.resources.iter().filter(|r| r.action == action).count();
        let replaced = self
            .resources
            .iter()
            .filter(|r| !r.replaced_by().is_empty())
            .count();
        (
            count(Action::Add),
            count(Action::Modify),
            count(Action::Remove),
            replaced,
        )
    }
}

/// The create-only properties of every resource type the stacks use, dotted
/// (`LaunchTemplate`, `TableInput.Name`), from the CloudFormation resource provider schemas
/// (`createOnlyProperties`) as cfn-lint ships them. Regenerate with `.ci/create-only-properties`
/// when a stack starts using a new type (a test fails until then).
static CREATE_ONLY: LazyLock<BTreeMap<String, Vec<String>>> =
    LazyLock::new(|| serde_json::from_str(include_str!("create_only.json")).unwrap_or_default());

/// The create-only properties of `resource_type`, dotted; `None` for a type the table does not know.
pub fn create_only(resource_type: &str) -> Option<&'static [String]> {
    CREATE_ONLY.get(resource_type).map(Vec::as_slice)
}

/// Whether changing `path` (dotted, `[i]` for list items) of a `resource_type` replaces it: the
/// path is a create-only property or lies inside one.
fn replaces(resource_type: &str, path: &str) -> bool {
    create_only(resource_type).is_some_and(|properties| {
        properties.iter().any(|property| {
            path == property
                || path
                    .strip_prefix(property.as_str())
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
    })
}

fn resources(template: Option<&Value>) -> Option<&Map<String, Value>> {
    template?.get("Resources")?.as_object()
}

/// How `new` differs from `old` (`None`: the stack does not exist on that side).
pub fn compare(old: Option<&Value>, new: Option<&Value>) -> TemplateChanges {
    let empty = Map::new();
    let old_resources = resources(old).unwrap_or(&empty);
    let new_resources = resources(new).unwrap_or(&empty);
    let type_of = |r: &Value| r["Type"].as_str().unwrap_or_default().to_owned();
    let mut changes = TemplateChanges::default();
    for (id, resource) in new_resources {
        match old_resources.get(id) {
            None => changes.resources.push(ResourceChanges {
                logical_id: id.clone(),
                resource_type: type_of(resource),
                action: Action::Add,
                properties: Vec::new(),
            }),
            Some(before) if before != resource => changes.resources.push(ResourceChanges {
                logical_id: id.clone(),
                resource_type: type_of(resource),
                action: Action::Modify,
                properties: resource_changes(before, resource),
            }),
            Some(_) => {}
        }
    }
    for (id, resource) in old_resources {
        if !new_resources.contains_key(id) {
            changes.resources.push(ResourceChanges {
                logical_id: id.clone(),
                resource_type: type_of(resource),
                action: Action::Remove,
                properties: Vec::new(),
            });
        }
    }
    let no_template = Value::Object(Map::new());
    let old = old.unwrap_or(&no_template);
    let new = new.unwrap_or(&no_template);
    for section in keys(old, new) {
        if section == "Resources" {
            continue;
        }
        walk(
            section,
            old.get(section),
            new.get(section),
            &mut changes.sections,
            &|_| false,
        );
    }
    changes
}

/// The union of two objects' keys: `old`'s order, then the new ones.
fn keys<'a>(old: &'a Value, new: &'a Value) -> Vec<&'a str> {
    let mut keys: Vec<&str> = old
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys())
        .map(String::as_str)
        .collect();
    for key in new.as_object().into_iter().flat_map(|m| m.keys()) {
        if !keys.contains(&key.as_str()) {
            keys.push(key);
        }
    }
    keys
}

fn resource_changes(old: &Value, new: &Value) -> Vec<PropertyChange> {
    let resource_type = new["Type"].as_str().unwrap_or_default();
    let mut out = Vec::new();
    if old["Type"] != new["Type"] {
        walk("Type", old.get("Type"), new.get("Type"), &mut out, &|_| {
            true
        });
    }
    let no_properties = Value::Object(Map::new());
    let old_properties = old.get("Properties").unwrap_or(&no_properties);
    let new_properties = new.get("Properties").unwrap_or(&no_properties);
    for key in keys(old_properties, new_properties) {
        walk(
            key,
            old_properties.get(key),
            new_properties.get(key),
            &mut out,
            &|path| replaces(resource_type, path),
        );
    }
    for key in keys(old, new) {
        if key == "Type" || key == "Properties" {
            continue;
        }
        walk(key, old.get(key), new.get(key), &mut out, &|_| false);
    }
    out
}

/// An intrinsic function call (`{"Ref": …}`, `{"Fn::…": …}`): compared as one value, never
/// walked into.
fn is_intrinsic(value: &Value) -> bool {
    value.as_object().is_some_and(|map| {
        map.len() == 1
            && map
                .keys()
                .all(|k| k == "Ref" || k == "Condition" || k.starts_with("Fn::"))
    })
}

/// A policy document (IAM, key, bucket, topic or queue policy): shown as a line diff of its
/// readable JSON.
fn is_document(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    last.ends_with("PolicyDocument") || last == "KeyPolicy"
}

/// The readable text of a value that is text, unwrapping `Fn::Base64` (user data).
fn text_of(value: &Value) -> Option<String> {
    match value.get("Fn::Base64") {
        Some(inner) if is_intrinsic(value) => readable::as_text(inner),
        _ => readable::as_text(value),
    }
}

/// A value on one line: text as it reads, anything else as compact readable JSON.
fn one_line(value: &Value) -> String {
    match text_of(value) {
        Some(text) => text,
        None => readable::render(value).to_string(),
    }
}

/// A value as the lines of its line diff: multi-line text as it is, documents as pretty JSON.
fn as_lines(path: &str, value: Option<&Value>) -> Option<String> {
    let value = value?;
    if is_document(path) {
        return serde_json::to_string_pretty(&readable::render(value))
            .ok()
            .map(|text| text + "\n");
    }
    text_of(value)
        .filter(|text| text.contains('\n'))
        .map(|text| {
            if text.ends_with('\n') {
                text
            } else {
                text + "\n"
            }
        })
}

fn walk(
    path: &str,
    old: Option<&Value>,
    new: Option<&Value>,
    out: &mut Vec<PropertyChange>,
    replaces: &dyn Fn(&str) -> bool,
) {
    if old == new {
        return;
    }
    let multi_line = is_document(path)
        || [old, new]
            .into_iter()
            .flatten()
            .any(|v| text_of(v).is_some_and(|t| t.contains('\n')));
    if !multi_line {
        match (old, new) {
            (Some(Value::Object(a)), Some(Value::Object(b)))
                if !is_intrinsic(old.unwrap_or(&Value::Null))
                    && !is_intrinsic(new.unwrap_or(&Value::Null)) =>
            {
                let (old_value, new_value) = (Value::Object(a.clone()), Value::Object(b.clone()));
                for key in keys(&old_value, &new_value) {
                    walk(
                        &format!("{path}.{key}"),
                        a.get(key),
                        b.get(key),
                        out,
                        replaces,
                    );
                }
                return;
            }
            (Some(Value::Array(a)), Some(Value::Array(b))) if a.len() == b.len() => {
                for (index, (x, y)) in a.iter().zip(b).enumerate() {
                    walk(&format!("{path}[{index}]"), Some(x), Some(y), out, replaces);
                }
                return;
            }
            _ => {}
        }
    }
    let lines = if multi_line {
        line_diff(
            &as_lines(path, old).unwrap_or_default(),
            &as_lines(path, new).unwrap_or_default(),
        )
    } else {
        Vec::new()
    };
    let summary = |value: Option<&Value>| {
        value.map(|v| {
            if multi_line {
                let count = as_lines(path, Some(v)).map_or(0, |t| t.lines().count());
                format!("({count} lines)")
            } else {
                one_line(v)
            }
        })
    };
    out.push(PropertyChange {
        path: path.to_owned(),
        before: summary(old),
        after: summary(new),
        lines,
        replaces: replaces(path),
    });
}

/// The changed lines of `old` → `new` with two lines of context, hunks separated by `…`.
fn line_diff(old: &str, new: &str) -> Vec<String> {
    let diff = similar::TextDiff::from_lines(old, new);
    let mut lines = Vec::new();
    for (index, group) in diff.grouped_ops(2).iter().enumerate() {
        if index > 0 {
            lines.push("…".to_owned());
        }
        for op in group {
            for change in diff.iter_changes(op) {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => "- ",
                    similar::ChangeTag::Insert => "+ ",
                    similar::ChangeTag::Equal => "  ",
                };
                lines.push(format!("{sign}{}", change.value().trim_end_matches('\n')));
            }
        }
    }
    lines
}

/// One property change as text lines (the first one names it; line diffs follow, indented by
/// two more spaces), each starting with `indent`.
pub fn property_text(change: &PropertyChange, indent: &str) -> String {
    let mut out = String::new();
    let value = |v: &Option<String>| v.clone().unwrap_or_else(|| "(not set)".to_owned());
    let _ = write!(
        out,
        "{indent}{}: {} → {}",
        change.path,
        value(&change.before),
        value(&change.after)
    );
    if change.replaces {
        out.push_str("  (create-only: replaces the resource)");
    }
    out.push('\n');
    for line in &change.lines {
        let _ = writeln!(out, "{indent}    {line}");
    }
    out
}

/// A resource's change as `deployer diff --offline` prints it: a line like a change set's
/// (`~ Modify Notify (AWS::Lambda::Function)`, `REPLACEMENT` when a create-only property
/// changes), then its properties.
pub fn resource_text(change: &ResourceChanges, indent: &str) -> String {
    let sign = match change.action {
        Action::Add => "+",
        Action::Modify => "~",
        Action::Remove => "-",
    };
    let mut out = format!(
        "{indent}{sign} {:<6} {} ({})",
        change.action.as_str(),
        change.logical_id,
        change.resource_type
    );
    if !change.replaced_by().is_empty() {
        out.push_str("  REPLACEMENT");
    }
    out.push('\n');
    for property in &change.properties {
        out.push_str(&property_text(property, &format!("{indent}    ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn notify(threshold: &str) -> Value {
        json!({"Resources": {
            "Notify": {"Type": "AWS::Lambda::Function", "Properties": {
                "FunctionName": "mst-notify",
                "Environment": {"Variables": {"THRESHOLD_PCT": threshold, "TOPIC_ARN": {"Ref": "AlertTopic"}}},
                "Tags": [{"Key": "owner", "Value": "data"}]}},
            "NotifyPolicy": {"Type": "AWS::IAM::Policy", "Properties": {
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": {"Ref": "AlertTopic"}}]}}},
        }})
    }

    fn text(changes: &TemplateChanges) -> String {
        changes
            .resources
            .iter()
            .map(|r| resource_text(r, "  "))
            .collect::<String>()
            + &changes
                .sections
                .iter()
                .map(|p| property_text(p, "  "))
                .collect::<String>()
    }

    #[test]
    fn a_changed_variable_reads_as_before_and_after() {
        let changes = compare(Some(&notify("1.0")), Some(&notify("2.5")));
        assert_eq!(
            text(&changes),
            "  ~ Modify Notify (AWS::Lambda::Function)\n      Environment.Variables.THRESHOLD_PCT: 1.0 → 2.5\n"
        );
        assert_eq!(changes.counts(), (0, 1, 0, 0));
        assert!(compare(Some(&notify("1")), Some(&notify("1"))).is_empty());
    }

    #[test]
    fn intrinsics_read_as_text_and_added_or_removed_values_say_so() {
        let old = notify("1");
        let mut new = old.clone();
        new["Resources"]["Notify"]["Properties"]["Environment"]["Variables"]["TOPIC_ARN"] =
            json!({"Fn::GetAtt": ["OtherTopic", "TopicArn"]});
        new["Resources"]["Notify"]["Properties"]["Environment"]["Variables"]["NEW"] =
            json!({"Fn::Sub": "${AWS::Region}-x"});
        new["Resources"]["Notify"]["Properties"]["Tags"][0]["Value"] = json!("ops");
        new["Resources"]["Notify"]["DeletionPolicy"] = json!("Retain");
        assert_eq!(
            text(&compare(Some(&old), Some(&new))),
            "  ~ Modify Notify (AWS::Lambda::Function)
      Environment.Variables.TOPIC_ARN: ${AlertTopic} → ${OtherTopic.TopicArn}
      Environment.Variables.NEW: (not set) → ${AWS::Region}-x
      Tags[0].Value: data → ops
      DeletionPolicy: (not set) → Retain
"
        );
    }

    #[test]
    fn a_create_only_property_names_the_replacement() {
        let old = notify("1");
        let mut new = old.clone();
        new["Resources"]["Notify"]["Properties"]["FunctionName"] = json!("mst-notify-2");
        let changes = compare(Some(&old), Some(&new));
        assert_eq!(changes.resources[0].replaced_by(), ["FunctionName"]);
        assert_eq!(changes.counts(), (0, 1, 0, 1));
        assert_eq!(
            text(&changes),
            "  ~ Modify Notify (AWS::Lambda::Function)  REPLACEMENT
      FunctionName: mst-notify → mst-notify-2  (create-only: replaces the resource)
"
        );
        // Inside a create-only property counts too; a name that merely starts the same does not.
        assert!(replaces("AWS::Glue::Table", "TableInput.Name"));
        assert!(replaces("AWS::S3::Bucket", "BucketName"));
        assert!(!replaces("AWS::S3::Bucket", "BucketNameX"));
        assert!(!replaces("AWS::Lambda::Function", "MemorySize"));
    }

    #[test]
    fn policy_documents_and_user_data_are_line_diffs() {
        let old = notify("1");
        let mut new = old.clone();
        new["Resources"]["NotifyPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Action"] =
            json!(["sns:Publish", "sns:Subscribe"]);
        assert_eq!(
            text(&compare(Some(&old), Some(&new))),
            "  ~ Modify NotifyPolicy (AWS::IAM::Policy)
      PolicyDocument: (12 lines) → (13 lines)
                  \"Effect\": \"Allow\",
                  \"Action\": [
          -         \"sns:Publish\"
          +         \"sns:Publish\",
          +         \"sns:Subscribe\"
                  ],
                  \"Resource\": \"${AlertTopic}\"
"
        );
        let instance = |script: &str| {
            json!({"Resources": {"Scraper": {"Type": "AWS::EC2::Instance", "Properties": {
                "UserData": {"Fn::Base64": {"Fn::Sub": script}}}}}})
        };
        let changes = compare(
            Some(&instance("#!/bin/sh\nset -e\nrun --a\nexit 0\n")),
            Some(&instance(
                "#!/bin/sh\nset -e\nrun --b ${AWS::Region}\nexit 0\n",
            )),
        );
        assert_eq!(
            text(&changes),
            "  ~ Modify Scraper (AWS::EC2::Instance)
      UserData: (4 lines) → (4 lines)
            #!/bin/sh
            set -e
          - run --a
          + run --b ${AWS::Region}
            exit 0
"
        );
    }

    #[test]
    fn added_removed_resources_and_other_sections() {
        let old = notify("1");
        let mut new = old.clone();
        let resources = new["Resources"].as_object_mut().unwrap();
        resources.remove("NotifyPolicy");
        resources.insert("Queue".into(), json!({"Type": "AWS::SQS::Queue"}));
        new["Outputs"] = json!({"TopicArn": {"Value": {"Ref": "AlertTopic"}}});
        let changes = compare(Some(&old), Some(&new));
        assert_eq!(
            text(&changes),
            "  + Add    Queue (AWS::SQS::Queue)
  - Remove NotifyPolicy (AWS::IAM::Policy)
  Outputs: (not set) → {\"TopicArn\":{\"Value\":\"${AlertTopic}\"}}
"
        );
        assert_eq!(changes.counts(), (1, 0, 1, 0));
        // A stack that does not exist yet: everything is added.
        assert_eq!(compare(None, Some(&old)).counts(), (2, 0, 0, 0));
    }

    /// A stack that starts using a resource type the table does not know would have its
    /// replacements go unnamed: this fails until `.ci/create-only-properties` is run.
    #[test]
    fn every_resource_type_of_the_shipped_environments_has_its_create_only_properties() {
        for (name, text) in [
            (
                "local.yaml",
                include_str!("../../../environments/local.yaml"),
            ),
            ("dev.yaml", include_str!("../../../environments/dev.yaml")),
            ("prod.yaml", include_str!("../../../environments/prod.yaml")),
        ] {
            let env = environment::parse(name, text).unwrap();
            for region in crate::synthesize(&env, None).unwrap().regions {
                for stack in region.stacks {
                    for (id, resource) in stack.json["Resources"].as_object().unwrap() {
                        let kind = resource["Type"].as_str().unwrap();
                        assert!(
                            create_only(kind).is_some(),
                            "{name}: {id} is a {kind}, which deployer/synth/src/create_only.json does not list: run .ci/create-only-properties"
                        );
                    }
                }
            }
        }
    }
}
