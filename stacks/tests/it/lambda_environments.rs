//! Every function's environment, as the stacks write it for every shipped environment file and every
//! region, is accepted by that function's own configuration parser: the `from_lookup` of its module in
//! `lambda-contract`, which is what the Lambda calls at cold start. The test depends on the contract
//! crate only, not on the Lambda crates (their AWS SDK, Arrow and Parquet would make every `stacks`
//! test build minutes longer for the same parser).

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use environment::Environment;
use lambda_contract::{ConfigError, notify, prefixes, to_parquet, transform, vpn_connect};
use serde_json::Value;
use stacks::pipeline::{self, StackKind};

const ACCOUNT: &str = "123456789012";

/// Every `environments/*.yaml`, so that a new environment file is covered without editing this test.
fn shipped_environment_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no environment files in {}",
        dir.display()
    );
    files
}

/// The ARN CloudFormation gives resource `id` (the shape is what the parsers look at).
fn arn_of(template: &Value, id: &str, region: &str) -> String {
    let kind = template["Resources"][id]["Type"]
        .as_str()
        .unwrap_or_else(|| panic!("{id} is not a resource"));
    let service = kind.split("::").nth(1).unwrap().to_lowercase();
    format!("arn:aws:{service}:{region}:{ACCOUNT}:{id}")
}

/// What `Ref` of `id` gives: pseudo parameters, and the ARN for the resources whose `Ref` is their
/// ARN. Other resources would give their name or id, which no function variable takes today.
fn reference(template: &Value, id: &str, region: &str) -> String {
    match id {
        "AWS::AccountId" => ACCOUNT.to_owned(),
        "AWS::Region" => region.to_owned(),
        "AWS::Partition" => "aws".to_owned(),
        "AWS::URLSuffix" => "amazonaws.com".to_owned(),
        _ => match template["Resources"][id]["Type"].as_str() {
            Some("AWS::SNS::Topic" | "AWS::SecretsManager::Secret") => arn_of(template, id, region),
            other => panic!(
                "Ref of {id} ({other:?}) in a function's environment: teach this test its value"
            ),
        },
    }
}

/// The text CloudFormation makes of a variable's value at deployment.
fn resolve(value: &Value, template: &Value, region: &str) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Object(map) if map.len() == 1 => {
            let (function, argument) = map.iter().next().unwrap();
            match (function.as_str(), argument) {
                ("Ref", Value::String(id)) => reference(template, id, region),
                ("Fn::GetAtt", Value::Array(parts)) if parts[1] == "Arn" => {
                    arn_of(template, parts[0].as_str().unwrap(), region)
                }
                ("Fn::Sub", Value::String(body)) => {
                    let mut out = String::new();
                    let mut rest = body.as_str();
                    while let Some(start) = rest.find("${") {
                        out.push_str(&rest[..start]);
                        let after = &rest[start + 2..];
                        let end = after.find('}').unwrap();
                        let name = &after[..end];
                        match name.strip_prefix('!') {
                            Some(literal) => out.push_str(&format!("${{{literal}}}")),
                            None => match name.split_once('.') {
                                Some((id, "Arn")) => out.push_str(&arn_of(template, id, region)),
                                _ => out.push_str(&reference(template, name, region)),
                            },
                        }
                        rest = &after[end + 1..];
                    }
                    out.push_str(rest);
                    out
                }
                ("Fn::Join", Value::Array(parts)) => {
                    let separator = parts[0].as_str().unwrap();
                    parts[1]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|part| resolve(part, template, region))
                        .collect::<Vec<_>>()
                        .join(separator)
                }
                _ => panic!("unsupported intrinsic in a function's environment: {value}"),
            }
        }
        other => panic!("unsupported value in a function's environment: {other}"),
    }
}

/// Parses `variables` with `parse`, and checks that the parser read every variable the stack sets
/// (except `RUST_LOG`, the log filter every function reads through `lambda-support`): a variable
/// no parser reads is a name the two sides disagree on.
fn parse_all<T>(
    function: &str,
    variables: &BTreeMap<String, String>,
    parse: impl FnOnce(&dyn Fn(&str) -> Option<String>) -> Result<T, ConfigError>,
) -> T {
    let asked = RefCell::new(BTreeSet::new());
    let lookup = |name: &str| {
        asked.borrow_mut().insert(name.to_owned());
        variables.get(name).cloned()
    };
    let config = parse(&lookup).unwrap_or_else(|e| panic!("{function}: {e}"));
    let unread: Vec<&String> = variables
        .keys()
        .filter(|name| *name != "RUST_LOG" && !asked.borrow().contains(*name))
        .collect();
    assert!(
        unread.is_empty(),
        "{function} sets {unread:?}, which its configuration does not read"
    );
    config
}

fn check_functions(env: &Environment, region: &str, template: &Value) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for (id, resource) in template["Resources"].as_object().unwrap() {
        if resource["Type"] != "AWS::Lambda::Function" {
            continue;
        }
        let variables: BTreeMap<String, String> =
            resource["Properties"]["Environment"]["Variables"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(name, value)| (name.clone(), resolve(value, template, region)))
                .collect();
        let context = format!("{} {region} {id}", env.name.as_str());
        match id.as_str() {
            "Transform" => {
                let config = parse_all(&context, &variables, |lookup| {
                    transform::Config::from_lookup(lookup)
                });
                assert_eq!(config.influx.api, env.influxdb.api, "{context}");
                assert_eq!(
                    config.influx.url,
                    env.influxdb.url.trim_end_matches('/'),
                    "{context}"
                );
                assert_eq!(
                    config.quarantine_prefix,
                    prefixes::quarantine(transform::QUARANTINE_NAME)
                );
            }
            "ToParquet" => {
                let config = parse_all(&context, &variables, |lookup| {
                    to_parquet::Config::from_lookup(lookup)
                });
                assert_eq!(config.curated_prefix, prefixes::QUOTES, "{context}");
                assert_eq!(
                    config.quarantine_prefix,
                    prefixes::quarantine(to_parquet::QUARANTINE_NAME)
                );
            }
            "Notify" => {
                let config = parse_all(&context, &variables, |lookup| {
                    notify::Config::from_lookup(lookup)
                });
                assert_eq!(config.threshold_pct, env.alerts.threshold_pct, "{context}");
                assert_eq!(config.state_prefix, prefixes::NOTIFY_STATE, "{context}");
            }
            "VpnConnect" => {
                let config = parse_all(&context, &variables, |lookup| {
                    vpn_connect::Config::from_lookup(lookup)
                });
                let region = env.regions.iter().find(|r| r.as_str() == region).unwrap();
                assert_eq!(
                    config.allowed_client_cidrs,
                    env.network.allowed_client_cidrs(region),
                    "{context}"
                );
            }
            other => panic!(
                "function {other} has no configuration parser in this test: add its contract to lambda-contract and here"
            ),
        }
        seen.insert(id.clone());
    }
    seen
}

#[test]
fn every_functions_environment_is_accepted_by_its_own_parser() {
    let mut checked = 0;
    for file in shipped_environment_files() {
        let env = environment::load(&file).unwrap_or_else(|e| panic!("{e}"));
        for region in &env.regions {
            let stacks = pipeline::stacks(&env, region).unwrap();
            let pipeline = stacks
                .into_iter()
                .find(|s| s.kind == StackKind::Pipeline)
                .unwrap();
            let template = pipeline.template.to_json().unwrap();
            let seen = check_functions(&env, &region.to_string(), &template);
            let mut expected =
                BTreeSet::from(["Notify".into(), "ToParquet".into(), "Transform".into()]);
            // The VPN's connect handler exists wherever the VPN does (not in local environments).
            if env.network.vpn.contains_key(region) {
                expected.insert("VpnConnect".into());
            }
            assert_eq!(seen, expected, "{} {region}", file.display());
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} (environment, region) pairs");
}
