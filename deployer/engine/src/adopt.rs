//! Adopting what an earlier `down` kept: the template's `DeletionPolicy: Retain` resources that
//! still exist are found through their services' APIs and brought into the new stack with a
//! CloudFormation resource import (a change set of type `IMPORT`), before the normal update.
//!
//! How each kept resource is found, with no state file (CloudFormation and the services hold it):
//! - a bucket by the name its template fixes (`HeadBucket`: 200 is ours, 404 is gone);
//! - a KMS key, which has no name, as the key a kept bucket of the same template is encrypted
//!   with (`GetBucketEncryption`, then `DescribeKey`: a key pending deletion is not adopted).
//!   That is exactly the key the kept data needs; a key whose buckets are all gone protects
//!   nothing and is not adopted (a new one is made).
//!
//! CloudFormation's rules for the import
//! (<https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-import.html>): every
//! resource to import carries a `DeletionPolicy` in the template, the import change set creates
//! and updates nothing else, and each is named by its type's identifier ([`identifier_property`]).
//! So the import template holds only the kept resources, each without the properties that refer
//! to resources not imported (an S3 notification naming a Lambda, say); CloudFormation applies no
//! property on import, and the update that follows applies the full template.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudformation::types::ResourceToImport;
use aws_sdk_s3::error::ProvideErrorMetadata;
use environment::{Environment, Region};
use serde_json::{Map, Value};

use crate::aws::RegionClients;
use crate::{Error, api_error};

/// A retained resource that exists and can be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// Its logical id in the template.
    pub logical_id: String,
    /// Its resource type.
    pub resource_type: String,
    /// Its identifier's value (bucket name, key id), under [`identifier_property`].
    pub identifier: String,
}

impl Kept {
    /// The entry of `ResourcesToImport`.
    pub fn to_import(&self) -> Option<ResourceToImport> {
        let property = identifier_property(&self.resource_type)?;
        Some(
            ResourceToImport::builder()
                .resource_type(&self.resource_type)
                .logical_resource_id(&self.logical_id)
                .resource_identifier(property, &self.identifier)
                .build(),
        )
    }
}

impl std::fmt::Display for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} {})",
            self.logical_id, self.resource_type, self.identifier
        )
    }
}

/// The property CloudFormation's import identifies a resource of `resource_type` by (the type's
/// primary identifier in its resource provider schema), for the types the deployer retains.
pub fn identifier_property(resource_type: &str) -> Option<&'static str> {
    match resource_type {
        "AWS::S3::Bucket" => Some("BucketName"),
        "AWS::KMS::Key" => Some("KeyId"),
        _ => None,
    }
}

/// The logical ids and types of `template`'s resources with `DeletionPolicy: Retain`.
pub fn retained_resources(template: &Value) -> Vec<(String, String)> {
    template["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, r)| r["DeletionPolicy"] == "Retain")
        .map(|(id, r)| {
            (
                id.clone(),
                r["Type"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The logical ids (and parameters) a template value refers to: `Ref`, `Fn::GetAtt` and the
/// `${Name}` / `${Name.Attribute}` of `Fn::Sub` (pseudo parameters and `${!…}` escapes left out).
pub fn references(value: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    collect_references(value, &mut found);
    found
}

fn collect_references(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("Ref", Value::String(name)) => {
                        found.insert(name.clone());
                    }
                    ("Fn::GetAtt", Value::Array(parts)) => {
                        if let Some(Value::String(name)) = parts.first() {
                            found.insert(name.clone());
                        }
                    }
                    ("Fn::GetAtt", Value::String(dotted)) => {
                        found.insert(dotted.split('.').next().unwrap_or_default().to_owned());
                    }
                    ("Fn::Sub", Value::String(text)) => sub_references(text, found),
                    ("Fn::Sub", Value::Array(parts)) => {
                        if let Some(Value::String(text)) = parts.first() {
                            sub_references(text, found);
                        }
                        parts
                            .iter()
                            .skip(1)
                            .for_each(|p| collect_references(p, found));
                    }
                    _ => collect_references(inner, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_references(i, found)),
        _ => {}
    }
}

fn sub_references(text: &str, found: &mut BTreeSet<String>) {
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.starts_with('!') && !name.starts_with("AWS::") {
            found.insert(name.split('.').next().unwrap_or_default().to_owned());
        }
        rest = &after[end + 1..];
    }
}

/// The template of the import: `template`'s parameters, mappings and conditions, and only the
/// `kept` resources, each without `DependsOn` entries and top-level properties that refer to a
/// resource not imported; no outputs (they may name resources not there yet).
pub fn import_template(template: &Value, kept: &[Kept]) -> Value {
    let resources = template["Resources"].as_object();
    let imported: BTreeSet<&str> = kept.iter().map(|k| k.logical_id.as_str()).collect();
    let others: BTreeSet<&str> = resources
        .into_iter()
        .flatten()
        .map(|(id, _)| id.as_str())
        .filter(|id| !imported.contains(id))
        .collect();
    let mut out = Map::new();
    for section in [
        "AWSTemplateFormatVersion",
        "Description",
        "Parameters",
        "Mappings",
        "Conditions",
    ] {
        if let Some(value) = template.get(section) {
            out.insert(section.to_owned(), value.clone());
        }
    }
    let mut chosen = Map::new();
    for k in kept {
        let Some(mut resource) = resources.and_then(|r| r.get(&k.logical_id)).cloned() else {
            continue;
        };
        if let Some(object) = resource.as_object_mut() {
            let depends: Vec<Value> = match object.remove("DependsOn") {
                Some(Value::String(one)) => vec![Value::String(one)],
                Some(Value::Array(many)) => many,
                _ => Vec::new(),
            }
            .into_iter()
            .filter(|d| d.as_str().is_some_and(|d| imported.contains(d)))
            .collect();
            if !depends.is_empty() {
                object.insert("DependsOn".to_owned(), Value::Array(depends));
            }
            if let Some(Value::Object(properties)) = object.get_mut("Properties") {
                properties.retain(|_, value| {
                    references(value)
                        .iter()
                        .all(|name| !others.contains(name.as_str()))
                });
            }
        }
        chosen.insert(k.logical_id.clone(), resource);
    }
    out.insert("Resources".to_owned(), Value::Object(chosen));
    Value::Object(out)
}

/// The retained resources of `template` (synthesized for `env` in `region`) that exist, found
/// through their services (see the module's documentation), in template order.
pub async fn find(
    clients: &RegionClients,
    template: &Value,
    env: &Environment,
    region: &Region,
) -> Result<Vec<Kept>, Error> {
    let retained = retained_resources(template);
    let mut kept = Vec::new();
    for (logical, kind) in retained.iter().filter(|(_, t)| t == "AWS::S3::Bucket") {
        let Some(name) = crate::deploy::resolve_name(
            &template["Resources"][logical]["Properties"]["BucketName"],
            env,
            region,
        ) else {
            tracing::debug!("{logical} has no fixed name: it cannot be found again");
            continue;
        };
        if bucket_exists(clients, &name).await? {
            kept.push(Kept {
                logical_id: logical.clone(),
                resource_type: kind.clone(),
                identifier: name,
            });
        }
    }
    let buckets: BTreeMap<String, String> = kept
        .iter()
        .map(|k| (k.logical_id.clone(), k.identifier.clone()))
        .collect();
    for (logical, kind) in retained.iter().filter(|(_, t)| t == "AWS::KMS::Key") {
        // The kept buckets of this template encrypted with this key.
        let encrypted = buckets.iter().filter(|(bucket, _)| {
            references(&template["Resources"][bucket.as_str()]["Properties"]["BucketEncryption"])
                .contains(logical)
        });
        for (_, name) in encrypted {
            if let Some(key_id) = usable_key_of(clients, name).await? {
                kept.push(Kept {
                    logical_id: logical.clone(),
                    resource_type: kind.clone(),
                    identifier: key_id,
                });
                break;
            }
        }
    }
    Ok(kept)
}

/// True when `bucket` exists and answers us; false when it does not exist.
async fn bucket_exists(clients: &RegionClients, bucket: &str) -> Result<bool, Error> {
    let region = clients.region.as_str();
    match clients.s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(true),
        Err(error)
            if error.as_service_error().is_some_and(|e| e.is_not_found())
                || matches!(error.code(), Some("NotFound" | "NoSuchBucket"))
                || error
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 404) =>
        {
            Ok(false)
        }
        Err(error) => Err(Error::Other(format!(
            "the bucket {bucket}, which the template names, exists but cannot be adopted ({}): if another account owns it, choose another environment name or account",
            api_error(format!("HeadBucket {bucket}"), region, error)
        ))),
    }
}

/// The id of the KMS key `bucket` is encrypted with by default, when that key exists and is not
/// pending deletion.
async fn usable_key_of(clients: &RegionClients, bucket: &str) -> Result<Option<String>, Error> {
    let region = clients.region.as_str();
    let encryption = clients
        .s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| api_error(format!("GetBucketEncryption {bucket}"), region, e))?;
    let key = encryption
        .server_side_encryption_configuration()
        .map(|c| c.rules())
        .unwrap_or_default()
        .iter()
        .filter_map(|rule| rule.apply_server_side_encryption_by_default())
        .find_map(|default| default.kms_master_key_id());
    let Some(key) = key else {
        return Ok(None);
    };
    Ok(crate::keys::describe(&clients.kms, key)
        .await?
        .filter(crate::keys::Key::is_usable)
        .map(|found| found.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template() -> Value {
        json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Parameters": {"ArtifactsBucket": {"Type": "String"}},
            "Resources": {
                "Key": {"Type": "AWS::KMS::Key", "DeletionPolicy": "Retain",
                        "Properties": {"KeyPolicy": {"Statement": [{"Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}}]}}},
                "Logs": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
                         "Properties": {"BucketName": "logs"}},
                "Raw": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
                        "DependsOn": ["RawInvokes", "Logs"],
                        "Properties": {
                            "BucketName": {"Fn::Sub": "raw-${AWS::AccountId}"},
                            "BucketEncryption": {"Rules": [{"KMSMasterKeyID": {"Fn::Sub": "arn:aws:kms:r:a:key/${Key}"}}]},
                            "LoggingConfiguration": {"DestinationBucketName": {"Ref": "Logs"}},
                            "NotificationConfiguration": {"Function": {"Fn::GetAtt": ["Lambda", "Arn"]}},
                            "Tags": [{"Key": "code", "Value": {"Ref": "ArtifactsBucket"}}]
                        }},
                "RawInvokes": {"Type": "AWS::Lambda::Permission", "Properties": {"FunctionName": {"Ref": "Lambda"}}},
                "Lambda": {"Type": "AWS::Lambda::Function", "Properties": {}}
            },
            "Outputs": {"L": {"Value": {"Ref": "Lambda"}}}
        })
    }

    fn kept(id: &str, kind: &str) -> Kept {
        Kept {
            logical_id: id.into(),
            resource_type: kind.into(),
            identifier: format!("{id}-physical"),
        }
    }

    #[test]
    fn references_cover_ref_getatt_and_sub_but_not_pseudo_parameters_or_escapes() {
        let value = json!([{"Ref": "A"}, {"Fn::GetAtt": ["B", "Arn"]}, {"Fn::GetAtt": "C.Arn"},
            {"Fn::Sub": "${D}/${E.Arn}/${AWS::Region}/${!Literal}"},
            {"Fn::Sub": ["${F}", {"F": {"Ref": "G"}}]}]);
        let names: Vec<String> = references(&value).into_iter().collect();
        assert_eq!(names, ["A", "B", "C", "D", "E", "F", "G"]);
    }

    #[test]
    fn the_import_template_holds_only_the_kept_resources_without_references_to_others() {
        let template = template();
        let import = import_template(
            &template,
            &[
                kept("Raw", "AWS::S3::Bucket"),
                kept("Logs", "AWS::S3::Bucket"),
                kept("Key", "AWS::KMS::Key"),
            ],
        );
        let resources = import["Resources"].as_object().unwrap();
        assert_eq!(resources.keys().collect::<Vec<_>>(), ["Raw", "Logs", "Key"]);
        let raw = &resources["Raw"];
        // Kept: the references to imported resources and to parameters; gone: the Lambda's.
        assert_eq!(raw["DependsOn"], json!(["Logs"]));
        assert_eq!(raw["DeletionPolicy"], "Retain");
        assert!(raw["Properties"]["BucketEncryption"].is_object());
        assert!(raw["Properties"]["LoggingConfiguration"].is_object());
        assert!(raw["Properties"]["Tags"].is_array());
        assert!(raw["Properties"].get("NotificationConfiguration").is_none());
        assert_eq!(resources["Key"], template["Resources"]["Key"]);
        assert_eq!(import["Parameters"], template["Parameters"]);
        assert!(import.get("Outputs").is_none());
    }

    #[test]
    fn without_the_log_bucket_the_logging_configuration_waits_for_the_update() {
        let import = import_template(&template(), &[kept("Raw", "AWS::S3::Bucket")]);
        let raw = &import["Resources"]["Raw"];
        assert!(raw.get("DependsOn").is_none());
        assert!(raw["Properties"].get("LoggingConfiguration").is_none());
        assert!(raw["Properties"].get("BucketEncryption").is_none());
        assert!(raw["Properties"]["BucketName"].is_object());
    }

    #[test]
    fn every_type_the_stacks_retain_has_an_import_identifier() {
        for name in ["local", "dev", "prod"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("../../environments/{name}.yaml"));
            let env = environment::load(&path).unwrap();
            let synthesis = synth::synthesize(&env, None).unwrap();
            let mut retained = 0;
            for region in &synthesis.regions {
                for stack in &region.stacks {
                    for (id, kind) in retained_resources(&stack.json) {
                        retained += 1;
                        assert!(
                            identifier_property(&kind).is_some(),
                            "{name} {}: {id} is retained but `up` cannot adopt a {kind}",
                            stack.name
                        );
                    }
                }
            }
            assert!(retained >= 5, "{name}: {retained}");
        }
    }

    #[test]
    fn a_kept_resource_is_imported_by_its_types_identifier() {
        let entry = kept("Raw", "AWS::S3::Bucket").to_import().unwrap();
        assert_eq!(entry.resource_type(), Some("AWS::S3::Bucket"));
        assert_eq!(entry.logical_resource_id(), Some("Raw"));
        assert_eq!(
            entry
                .resource_identifier()
                .and_then(|i| i.get("BucketName"))
                .map(String::as_str),
            Some("Raw-physical")
        );
        let key = kept("Key", "AWS::KMS::Key").to_import().unwrap();
        assert!(key.resource_identifier().unwrap().contains_key("KeyId"));
        assert!(kept("G", "AWS::Logs::LogGroup").to_import().is_none());
    }
}
