//! A typed CloudFormation template: resources are Rust values, references between them are typed
//! [`Handle`]s, and the JSON is produced by serde in a deterministic order.

mod expr;

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde_json::Value;

pub use expr::{Expr, pseudo};

/// A resource, parameter or output name inside one template: ASCII letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LogicalId(String);

impl LogicalId {
    /// A logical id; panics on characters CloudFormation rejects, since ids are fixed in code.
    pub fn new(id: &str) -> Self {
        assert!(
            !id.is_empty() && id.len() <= 255 && id.chars().all(|c| c.is_ascii_alphanumeric()),
            "logical id {id:?} must be 1-255 ASCII letters and digits"
        );
        Self(id.to_owned())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LogicalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The properties of one CloudFormation resource type.
pub trait Resource: Serialize {
    /// The CloudFormation type name, such as `AWS::Kinesis::Stream`.
    const TYPE: &'static str;
}

/// A typed reference to a resource (or parameter) of type `R` in the same template.
#[derive(Debug)]
pub struct Handle<R> {
    id: LogicalId,
    kind: PhantomData<fn() -> R>,
}

impl<R> Clone for Handle<R> {
    fn clone(&self) -> Self {
        Self {
            id: self.id.clone(),
            kind: PhantomData,
        }
    }
}

impl<R> Handle<R> {
    /// The logical id the handle points to.
    pub fn id(&self) -> &LogicalId {
        &self.id
    }

    /// `{"Ref": id}`: what `Ref` returns depends on the resource type (documented on each type).
    pub fn reference(&self) -> Expr {
        Expr::Ref(self.id.0.clone())
    }

    /// `{"Fn::GetAtt": [id, attribute]}`; resource modules wrap this in named, typed accessors.
    pub fn get_att(&self, attribute: &'static str) -> Expr {
        Expr::GetAtt(self.id.clone(), attribute)
    }
}

/// A template parameter, referenced through its handle.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    /// `String`, `Number`, or an AWS-specific type such as an SSM parameter type.
    #[serde(rename = "Type")]
    pub kind: String,
    /// What the parameter is for.
    pub description: String,
    /// The value used when none is passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// A regular expression the value must match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
}

/// Settings of a resource entry beside its properties.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Resources that must exist first, beyond the ones referenced.
    pub depends_on: Vec<LogicalId>,
    /// Keep the resource when the stack is deleted or the resource replaced.
    pub retain: bool,
    /// Checkov checks that do not apply, each with its reason (kept in the resource's Metadata).
    pub checkov_skips: Vec<(&'static str, &'static str)>,
    /// `CreationPolicy`: the resource is complete only after it is signalled.
    pub creation_policy: Option<CreationPolicy>,
    /// `UpdatePolicy`: how CloudFormation replaces an Auto Scaling group's instances.
    pub update_policy: Option<UpdatePolicy>,
}

/// `CreationPolicy` with a `ResourceSignal`: CloudFormation waits for `count` success signals
/// (`SignalResource`) within `timeout` and fails the resource otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreationPolicy {
    /// The signals awaited.
    pub resource_signal: ResourceSignal,
}

/// How many success signals, and how long to wait for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceSignal {
    /// Signals needed.
    pub count: u32,
    /// ISO 8601 duration, such as `PT15M`.
    pub timeout: String,
}

/// `UpdatePolicy` of an Auto Scaling group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdatePolicy {
    /// Replace the whole group: a new group is created (and must meet its creation policy) before
    /// the old one is deleted, so an instance always runs.
    #[serde(rename = "AutoScalingReplacingUpdate")]
    pub replacing_update: ReplacingUpdate,
}

/// `AutoScalingReplacingUpdate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplacingUpdate {
    /// `true`: replace the group on every update that touches its instances.
    pub will_replace: bool,
}

impl Options {
    /// No extra settings.
    pub fn none() -> Self {
        Self::default()
    }

    /// Kept on stack deletion and replacement (data that outlives the stack).
    pub fn retained() -> Self {
        Self {
            retain: true,
            ..Self::default()
        }
    }

    /// Adds a dependency on another resource.
    pub fn depends_on<R>(mut self, other: &Handle<R>) -> Self {
        self.depends_on.push(other.id.clone());
        self
    }

    /// Records that a checkov check does not apply to this resource, and why.
    pub fn skip_checkov(mut self, check: &'static str, reason: &'static str) -> Self {
        self.checkov_skips.push((check, reason));
        self
    }

    /// Complete only after `count` success signals within `timeout`, and replaced (new group first)
    /// on updates that touch its instances: for Auto Scaling groups whose instances signal when
    /// they work.
    pub fn replaced_after_signals(mut self, count: u32, timeout: &str) -> Self {
        self.creation_policy = Some(CreationPolicy {
            resource_signal: ResourceSignal {
                count,
                timeout: timeout.to_owned(),
            },
        });
        self.update_policy = Some(UpdatePolicy {
            replacing_update: ReplacingUpdate { will_replace: true },
        });
        self
    }
}

/// Resource properties with their type erased, so one template holds every resource type while
/// code that has a [`Handle`] can still change them with their type ([`Template::modify`]).
trait ErasedProperties: Any + fmt::Debug {
    fn to_json(&self) -> Result<Value, serde_json::Error>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<R: Resource + Any + fmt::Debug> ErasedProperties for R {
    fn to_json(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

#[derive(Debug)]
struct ResourceEntry {
    kind: &'static str,
    depends_on: Vec<LogicalId>,
    retain: bool,
    metadata: Option<Value>,
    creation_policy: Option<CreationPolicy>,
    update_policy: Option<UpdatePolicy>,
    properties: Box<dyn ErasedProperties>,
}

impl Serialize for ResourceEntry {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeMap};
        let properties = self.properties.to_json().map_err(S::Error::custom)?;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("Type", self.kind)?;
        if !self.depends_on.is_empty() {
            map.serialize_entry("DependsOn", &self.depends_on)?;
        }
        if self.retain {
            map.serialize_entry("DeletionPolicy", "Retain")?;
            map.serialize_entry("UpdateReplacePolicy", "Retain")?;
        }
        if let Some(metadata) = &self.metadata {
            map.serialize_entry("Metadata", metadata)?;
        }
        if let Some(policy) = &self.creation_policy {
            map.serialize_entry("CreationPolicy", policy)?;
        }
        if let Some(policy) = &self.update_policy {
            map.serialize_entry("UpdatePolicy", policy)?;
        }
        map.serialize_entry("Properties", &properties)?;
        map.end()
    }
}

/// A stack output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    /// What the value is.
    pub description: String,
    /// The value.
    pub value: Expr,
}

/// One CloudFormation template under construction.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Template {
    #[serde(rename = "AWSTemplateFormatVersion")]
    format_version: &'static str,
    description: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    parameters: BTreeMap<LogicalId, Parameter>,
    resources: BTreeMap<LogicalId, ResourceEntry>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    outputs: BTreeMap<LogicalId, Output>,
}

/// Why a template could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// Two entries share a logical id.
    #[error("logical id {0} is used twice in one template")]
    DuplicateId(LogicalId),
    /// The template did not serialize (a bug in a resource type).
    #[error("template did not serialize: {0}")]
    Json(serde_json::Error),
}

impl Template {
    /// An empty template.
    pub fn new(description: impl Into<String>) -> Self {
        Self {
            format_version: "2010-09-09",
            description: description.into(),
            parameters: BTreeMap::new(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
        }
    }

    fn claim(&self, id: &str) -> Result<LogicalId, TemplateError> {
        let id = LogicalId::new(id);
        if self.resources.contains_key(&id)
            || self.parameters.contains_key(&id)
            || self.outputs.contains_key(&id)
        {
            return Err(TemplateError::DuplicateId(id));
        }
        Ok(id)
    }

    /// Adds a resource and returns its typed handle.
    pub fn add<R: Resource + Any + fmt::Debug>(
        &mut self,
        id: &str,
        properties: R,
        options: Options,
    ) -> Result<Handle<R>, TemplateError> {
        let id = self.claim(id)?;
        let metadata = (!options.checkov_skips.is_empty()).then(|| {
            let skips: Vec<Value> = options
                .checkov_skips
                .iter()
                .map(|(check, reason)| serde_json::json!({ "id": check, "comment": reason }))
                .collect();
            serde_json::json!({ "checkov": { "skip": skips } })
        });
        let mut depends_on = options.depends_on;
        depends_on.sort();
        depends_on.dedup();
        self.resources.insert(
            id.clone(),
            ResourceEntry {
                kind: R::TYPE,
                depends_on,
                retain: options.retain,
                metadata,
                creation_policy: options.creation_policy,
                update_policy: options.update_policy,
                properties: Box::new(properties),
            },
        );
        Ok(Handle {
            id,
            kind: PhantomData,
        })
    }

    /// Changes a resource's properties after it was added (for settings that need resources added
    /// later, such as a bucket's notifications), and adds dependencies on `depends_on`.
    pub fn modify<R: Resource + Any + fmt::Debug>(
        &mut self,
        handle: &Handle<R>,
        depends_on: &[LogicalId],
        change: impl FnOnce(&mut R),
    ) {
        // A handle is only made by `add` on this template, so the entry exists and has type R.
        let entry = self
            .resources
            .get_mut(&handle.id)
            .expect("handle from this template");
        let properties = entry
            .properties
            .as_any_mut()
            .downcast_mut::<R>()
            .expect("handle type matches entry");
        change(properties);
        entry.depends_on.extend(depends_on.iter().cloned());
        entry.depends_on.sort();
        entry.depends_on.dedup();
    }

    /// Adds a parameter and returns its handle (`Ref` gives the value).
    pub fn parameter(
        &mut self,
        id: &str,
        parameter: Parameter,
    ) -> Result<Handle<Parameter>, TemplateError> {
        let id = self.claim(id)?;
        self.parameters.insert(id.clone(), parameter);
        Ok(Handle {
            id,
            kind: PhantomData,
        })
    }

    /// Adds an output.
    pub fn output(
        &mut self,
        id: &str,
        description: impl Into<String>,
        value: Expr,
    ) -> Result<(), TemplateError> {
        let id = self.claim(id)?;
        self.outputs.insert(
            id,
            Output {
                description: description.into(),
                value,
            },
        );
        Ok(())
    }

    /// The resources of type `R` with their logical ids, in id order: for checks that read what the
    /// JSON does not carry, such as the reasons attached to IAM statements.
    pub fn resources_of<R: Resource + Any>(&self) -> impl Iterator<Item = (&LogicalId, &R)> {
        self.resources.iter().filter_map(|(id, entry)| {
            entry
                .properties
                .as_any()
                .downcast_ref::<R>()
                .map(|properties| (id, properties))
        })
    }

    /// Number of resources.
    pub fn resource_count(&self) -> usize {
        self.resources.len()
    }

    /// The template as a JSON value.
    pub fn to_json(&self) -> Result<Value, TemplateError> {
        serde_json::to_value(self).map_err(TemplateError::Json)
    }

    /// The template as pretty-printed JSON (stable order: map keys sorted, fields in declaration order).
    pub fn to_pretty_json(&self) -> Result<String, TemplateError> {
        serde_json::to_string_pretty(self)
            .map(|text| text + "\n")
            .map_err(TemplateError::Json)
    }
}

/// Each resource of a rendered template (the JSON CloudFormation receives): its logical id, its
/// type and its properties. Shared by the KMS-use check here and `synth`'s IAM snapshot, which both
/// read templates as CloudFormation sees them.
pub fn rendered_resources(template: &Value) -> impl Iterator<Item = (&String, &str, &Value)> {
    template
        .get("Resources")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(id, resource)| {
            let kind = resource.get("Type").and_then(Value::as_str);
            (id, kind.unwrap_or_default(), &resource["Properties"])
        })
}
