//! Inputs for the external policy judge (`parliament`): each role's permissions as a concrete IAM
//! policy document, with the placeholders resolved the way CloudFormation would in the canary region.

use std::collections::BTreeMap;

use environment::{Environment, Region};
use serde_json::{Value, json};

use crate::Synthesis;

/// One policy document per role, `<Role>.json` to its JSON text, resolved for `region`.
pub fn parliament_inputs(
    env: &Environment,
    region: &Region,
    synthesis: &Synthesis,
) -> BTreeMap<String, String> {
    let types = resource_types(synthesis, region);
    synthesis
        .snapshot
        .roles
        .iter()
        .map(|(id, role)| {
            let document = json!({"Version": "2012-10-17", "Statement": role.permissions});
            let text = resolve(&document.to_string(), env, region, &types);
            (format!("{id}.json"), text)
        })
        .collect()
}

/// Logical id to CloudFormation type, for every resource and parameter of the region's stacks.
fn resource_types(synthesis: &Synthesis, region: &Region) -> BTreeMap<String, String> {
    let mut types = BTreeMap::new();
    for stack in synthesis
        .regions
        .iter()
        .filter(|r| &r.region == region)
        .flat_map(|r| &r.stacks)
    {
        for section in ["Resources", "Parameters"] {
            if let Some(entries) = stack.json.get(section).and_then(Value::as_object) {
                for (id, entry) in entries {
                    types.insert(
                        id.clone(),
                        entry["Type"].as_str().unwrap_or_default().to_owned(),
                    );
                }
            }
        }
    }
    types
}

/// Replaces `${...}` placeholders with the values CloudFormation would produce: pseudo parameters with
/// the environment's, resource references with plausible names and ARNs of the right service.
fn resolve(
    text: &str,
    env: &Environment,
    region: &Region,
    types: &BTreeMap<String, String>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        out.push_str(&placeholder(&after[..end], env, region, types));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn placeholder(
    name: &str,
    env: &Environment,
    region: &Region,
    types: &BTreeMap<String, String>,
) -> String {
    let account = env.account.as_str();
    match name {
        "AWS::Partition" => return "aws".into(),
        "AWS::Region" => return region.as_str().into(),
        "AWS::AccountId" => return account.into(),
        "AWS::URLSuffix" => return "amazonaws.com".into(),
        // Only the pipeline stack's policies name their own stack.
        "AWS::StackName" => return format!("mst-{}-pipeline", env.name.as_str()),
        _ => {}
    }
    // The replica key's ARN is a parameter the engine fills in with the DR region's key.
    if name == stacks::pipeline::REPLICA_KEY_PARAMETER
        && let Some(dr) = &env.dr
    {
        return format!(
            "arn:aws:kms:{}:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ac",
            dr.region
        );
    }
    let (id, attribute) = name
        .split_once('.')
        .map_or((name, None), |(id, attr)| (id, Some(attr)));
    let physical = format!("mst-{}-{}", env.name.as_str(), id.to_lowercase());
    let arn =
        |service: &str, resource: &str| format!("arn:aws:{service}:{region}:{account}:{resource}");
    match (types.get(id).map(String::as_str), attribute) {
        (Some("AWS::SQS::Queue"), Some("Arn")) => arn("sqs", &physical),
        (Some("AWS::SNS::Topic"), None) => arn("sns", &physical),
        (Some("AWS::SecretsManager::Secret"), None) => {
            arn("secretsmanager", &format!("secret:{physical}-AbCdEf"))
        }
        (Some("AWS::Lambda::Function"), Some("Arn")) => {
            arn("lambda", &format!("function:{physical}"))
        }
        (Some("AWS::IAM::Role"), Some("Arn")) => format!("arn:aws:iam::{account}:role/{physical}"),
        (Some("AWS::KMS::Key"), None) => "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        (_, Some(_)) => arn("unknown", &physical),
        (_, None) => physical,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_resolve_to_concrete_arns() {
        let env = crate::tests::minimal_env();
        let region = env.regions[0].clone();
        let types = BTreeMap::from([
            ("Queue".to_owned(), "AWS::SQS::Queue".to_owned()),
            ("Stream".to_owned(), "AWS::Kinesis::Stream".to_owned()),
        ]);
        let text = "arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/${Stream} ${Queue.Arn}";
        assert_eq!(
            resolve(text, &env, &region, &types),
            format!(
                "arn:aws:kinesis:{r}:{a}:stream/mst-{e}-stream arn:aws:sqs:{r}:{a}:mst-{e}-queue",
                r = region,
                a = env.account.as_str(),
                e = env.name.as_str()
            )
        );
    }
}
