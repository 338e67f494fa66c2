//! What CloudFormation's resource handlers need, from AWS's resource provider schemas (shipped by
//! `cfn-lint` in the tools virtualenv): every `kms:` action a handler of a resource type in a pipeline
//! template calls must be allowed by the data key's policy, and `policies/handler-permissions.json`
//! lists the create, update and delete handler permissions of every resource type the stacks use.
//!
//! The schemas are found the way `runtime/testkit` finds moto: `$MST_TOOLS/venv` (default
//! `~/.cache/mystocktracker/venv`, made by `.ci/setup-tools`). Without them these tests fail; they
//! never skip.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use environment::Environment;
use serde_json::Value;
use stacks::pipeline;

/// The committed file, relative to the workspace root.
const HANDLER_PERMISSIONS: &str = "policies/handler-permissions.json";
/// The handlers whose permissions the execution role needs.
const HANDLERS: [&str; 4] = ["create", "read", "update", "delete"];
/// Set to rewrite [`HANDLER_PERMISSIONS`].
const UPDATE: &str = "UPDATE_HANDLER_PERMISSIONS";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn shipped_environments() -> Vec<Environment> {
    let dir = workspace().join("environments");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| environment::load(path).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// `cfnlint/data/schemas` in the tools virtualenv (see `runtime/testkit`'s `tools_venv`).
fn schemas_dir() -> PathBuf {
    let tools = std::env::var_os("MST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/mystocktracker")
        });
    let lib = tools.join("venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|entry| entry.path().join("site-packages/cfnlint/data/schemas"))
            .find(|dir| dir.join("providers").is_dir())
    });
    found.unwrap_or_else(|| {
        panic!(
            "no cfn-lint resource schemas under {}: run `bash .ci/setup-tools` (it makes the tools \
             virtualenv) or set MST_TOOLS to the directory holding venv/",
            lib.display()
        )
    })
}

/// The resource provider schemas of one region: type name to schema.
struct Schemas {
    dir: PathBuf,
    by_region: BTreeMap<String, Value>,
}

impl Schemas {
    fn new() -> Self {
        Self {
            dir: schemas_dir(),
            by_region: BTreeMap::new(),
        }
    }

    fn read(path: &Path) -> Value {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The create, read, update and delete handler permissions of `kind` in `region`: what
    /// CloudFormation calls to manage a resource of that type in a stack (`list` is for
    /// discovery, which stack operations do not use).
    fn handler_permissions(&mut self, region: &str, kind: &str) -> BTreeSet<String> {
        let dir = self.dir.clone();
        let providers = self
            .by_region
            .entry(region.to_owned())
            .or_insert_with(|| Self::read(&dir.join(format!("providers/{region}.json"))));
        let file = providers[kind]
            .as_str()
            .unwrap_or_else(|| panic!("{kind} has no resource schema for {region}"));
        let schema = Self::read(&dir.join(format!("resources/{file}.json")));
        let mut out = BTreeSet::new();
        for handler in HANDLERS {
            let permissions = schema["handlers"][handler]["permissions"].as_array();
            for permission in permissions.into_iter().flatten() {
                out.insert(permission.as_str().unwrap().to_owned());
            }
        }
        out
    }
}

/// Every (environment, region, template JSON) the shipped environments synthesize.
fn all_templates() -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for env in shipped_environments() {
        for region in &env.regions {
            for stack in pipeline::stacks(&env, region).unwrap() {
                out.push((
                    env.name.as_str().to_owned(),
                    region.to_string(),
                    stack.template.to_json().unwrap(),
                ));
            }
        }
    }
    out
}

fn resource_types(template: &Value) -> BTreeSet<String> {
    template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| r["Type"].as_str().unwrap().to_owned())
        .collect()
}

/// Whether an IAM action pattern (`kms:*`, `kms:Get*`, `kms:Decrypt`) covers `action`.
fn covers(pattern: &str, action: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => action
            .to_ascii_lowercase()
            .starts_with(&prefix.to_ascii_lowercase()),
        None => pattern.eq_ignore_ascii_case(action),
    }
}

/// The `kms:` actions the handlers of the template's resource types call that no key policy of the
/// template allows to the account (the principal deploying the stack is one of its IAM principals,
/// which the key policy must delegate to).
fn kms_actions_the_key_policy_refuses(
    schemas: &mut Schemas,
    region: &str,
    template: &Value,
) -> BTreeSet<(String, String)> {
    let account_root =
        serde_json::json!({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"});
    let allowed: Vec<String> = template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::KMS::Key")
        .flat_map(|key| {
            key["Properties"]["KeyPolicy"]["Statement"]
                .as_array()
                .unwrap()
        })
        .filter(|s| {
            s["Effect"] == "Allow"
                && s["Principal"]["AWS"]
                    .as_array()
                    .is_some_and(|p| p.contains(&account_root))
        })
        .flat_map(|s| s["Action"].as_array().unwrap())
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let mut refused = BTreeSet::new();
    for kind in resource_types(template) {
        for permission in schemas.handler_permissions(region, &kind) {
            if permission.to_ascii_lowercase().starts_with("kms:")
                && !allowed.iter().any(|pattern| covers(pattern, &permission))
            {
                refused.insert((kind.clone(), permission));
            }
        }
    }
    refused
}

fn has_data_key(template: &Value) -> bool {
    resource_types(template).contains("AWS::KMS::Key")
}

#[test]
fn the_key_policy_allows_every_kms_action_the_resource_handlers_call() {
    let mut schemas = Schemas::new();
    let mut checked = 0;
    for (env, region, template) in all_templates() {
        // The artifacts stack has no customer managed key: its bucket uses SSE-S3.
        if !has_data_key(&template) {
            continue;
        }
        let refused = kms_actions_the_key_policy_refuses(&mut schemas, &region, &template);
        assert!(refused.is_empty(), "{env}/{region}: {refused:#?}");
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} templates with a key");
}

#[test]
fn a_key_policy_listing_actions_one_by_one_misses_the_alias_handlers() {
    let env = shipped_environments()
        .into_iter()
        .find(|e| e.name.as_str() == "prod")
        .unwrap();
    let region = env.canary_region().to_string();
    let mut template = pipeline::stacks(&env, env.canary_region())
        .unwrap()
        .into_iter()
        .find(|s| s.kind == pipeline::StackKind::Pipeline)
        .unwrap()
        .template
        .to_json()
        .unwrap();
    // The account statement as it was before AWS's default replaced it.
    let old = [
        "CancelKeyDeletion",
        "CreateGrant",
        "Decrypt",
        "DescribeKey",
        "DisableKey",
        "DisableKeyRotation",
        "EnableKey",
        "EnableKeyRotation",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GetKeyPolicy",
        "GetKeyRotationStatus",
        "ListGrants",
        "ListKeyPolicies",
        "ListResourceTags",
        "PutKeyPolicy",
        "ReEncryptFrom",
        "ReEncryptTo",
        "RetireGrant",
        "RevokeGrant",
        "ScheduleKeyDeletion",
        "TagResource",
        "UntagResource",
        "UpdateKeyDescription",
    ];
    for statement in template["Resources"]["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
        .as_array_mut()
        .unwrap()
    {
        if statement["Action"] == serde_json::json!(["kms:*"]) {
            statement["Action"] = old.iter().map(|a| format!("kms:{a}")).collect();
        }
    }
    let refused = kms_actions_the_key_policy_refuses(&mut Schemas::new(), &region, &template);
    for needed in ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"] {
        assert!(
            refused.contains(&("AWS::KMS::Alias".to_owned(), needed.to_owned())),
            "{needed} not reported: {refused:#?}"
        );
    }
}

/// The version of a package installed in the tools virtualenv, from its `dist-info` directory.
fn installed_version(site_packages: &Path, package: &str) -> String {
    std::fs::read_dir(site_packages)
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().into_string().ok())
        .find_map(|name| {
            name.strip_prefix(&format!("{package}-"))
                .and_then(|rest| rest.strip_suffix(".dist-info"))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("{package} is not installed in {}", site_packages.display()))
}

/// parliament's copy of AWS's Service Authorization Reference (`iam_definition.json`), read once
/// per test for both views below.
fn service_reference(site_packages: &Path) -> Value {
    Schemas::read(&site_packages.join("parliament/iam_definition.json"))
}

/// Every action of the Service Authorization Reference, as IAM spells it.
fn iam_action_names(services: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for service in services.as_array().unwrap() {
        let prefix = service["prefix"].as_str().unwrap();
        for privilege in service["privileges"].as_array().unwrap() {
            out.push(format!(
                "{prefix}:{}",
                privilege["privilege"].as_str().unwrap()
            ));
        }
    }
    out
}

/// Whether `action` matches `pattern` (IAM's `*`, case-insensitive).
fn glob_matches(pattern: &str, action: &str) -> bool {
    let (pattern, action) = (pattern.to_ascii_lowercase(), action.to_ascii_lowercase());
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !action.starts_with(first)
        || !action.ends_with(last)
        || action.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &action[first.len()..action.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Per `service:Action` (lower case) of the Service Authorization Reference, the ARN formats of
/// the resource types the action is scoped to (its required ones when it has any; empty: none,
/// only `*`).
fn iam_definition(services: &Value) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for service in services.as_array().unwrap() {
        let prefix = service["prefix"].as_str().unwrap();
        let arns: BTreeMap<&str, &str> = service["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["resource"].as_str().unwrap(), r["arn"].as_str().unwrap()))
            .collect();
        for privilege in service["privileges"].as_array().unwrap() {
            let action = format!("{prefix}:{}", privilege["privilege"].as_str().unwrap());
            // The required resource types (`name*`) when there are any: the request always names
            // one of those; the optional ones (access points, access grants) are other paths.
            // With none required and an entry without a type, the action is authorized without a
            // resource (`s3:TagResource` here lists only access grants, yet tags buckets too):
            // only `*` is sure to work.
            let all: Vec<&str> = privilege["resource_types"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["resource_type"].as_str().unwrap())
                .collect();
            let required: Vec<&str> = all.iter().copied().filter(|t| t.ends_with('*')).collect();
            let chosen = if !required.is_empty() {
                required
            } else if all.contains(&"") {
                Vec::new()
            } else {
                all
            };
            let formats = out.entry(action.to_ascii_lowercase()).or_default();
            for name in chosen {
                if let Some(arn) = arns.get(name.trim_end_matches('*')) {
                    formats.push((*arn).to_owned());
                }
            }
            formats.sort();
            formats.dedup();
        }
    }
    out
}

/// The committed file: per resource type of any shipped pipeline template, its handlers'
/// permissions; per permission, the ARN formats it can be scoped to; and where both came from.
fn handler_permissions_file() -> String {
    let mut schemas = Schemas::new();
    let site_packages = schemas.dir.join("../../..").canonicalize().unwrap();
    let mut by_type: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, region, template) in pipeline_templates() {
        for kind in resource_types(&template) {
            let permissions = schemas.handler_permissions(&region, &kind);
            by_type.entry(kind).or_default().extend(permissions);
        }
    }
    let reference = service_reference(&site_packages);
    let definitions = iam_definition(&reference);
    // A schema may name a family (`autoscaling:Describe*`): it stands for every action of the
    // Service Authorization Reference it matches, so the role lists them by name.
    // A family parliament knows no action of (a service newer than its copy) is listed as
    // unknown, like a single unknown action.
    let names = iam_action_names(&reference);
    let mut unknown = BTreeSet::new();
    for permissions in by_type.values_mut() {
        let families: Vec<String> = permissions
            .iter()
            .filter(|a| a.contains('*'))
            .cloned()
            .collect();
        for family in families {
            permissions.remove(&family);
            let matching: Vec<&String> =
                names.iter().filter(|n| glob_matches(&family, n)).collect();
            if matching.is_empty() {
                unknown.insert(family);
            }
            permissions.extend(matching.into_iter().cloned());
        }
    }
    let mut resources: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for action in by_type.values().flatten() {
        assert!(
            !action.contains('*'),
            "{action}: a handler permission with a wildcard"
        );
        let formats = match definitions.get(&action.to_ascii_lowercase()) {
            Some(formats) => formats.clone(),
            None => {
                unknown.insert(action.clone());
                Vec::new()
            }
        };
        resources.insert(action.clone(), formats);
    }
    let file = serde_json::json!({
        "about": "What CloudFormation's resource handlers call (handlers.create/read/update/delete.permissions of the resource provider schemas), per resource type of the pipeline templates; and per permission, the ARN formats of the resource types IAM lets it be scoped to (empty: only \"*\"). The execution role of `deployer bootstrap` is built from it (stacks/src/handlers.rs). Generated by stacks/tests/it/handler_permissions.rs; do not edit.",
        "sources": [
            {
                "name": "cfn-lint",
                "version": installed_version(&site_packages, "cfn_lint"),
                "licence": "MIT-0",
                "files": "cfnlint/data/schemas/providers/<region>.json and resources/*.json (AWS CloudFormation resource provider schemas)"
            },
            {
                "name": "parliament",
                "version": installed_version(&site_packages, "parliament"),
                "licence": "BSD-3-Clause",
                "files": "parliament/iam_definition.json (AWS Service Authorization Reference)"
            }
        ],
        "regenerate": format!("{UPDATE}=1 cargo nextest run -p stacks the_committed_handler_permissions_are_up_to_date"),
        "unknown_to_parliament": unknown,
        "types": by_type,
        "resources": resources,
    });
    serde_json::to_string_pretty(&file).unwrap() + "\n"
}

/// Every (environment, region, template JSON) the execution roles deploy: the shipped
/// environments' pipeline templates and their DR regions' replica templates.
fn pipeline_templates() -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for mut env in shipped_environments() {
        // The pipeline's resource types do not depend on `deploy:`; without it no execution role
        // is built, which needs this very file (so a new resource type can be added to it).
        env.deploy = None;
        for region in &env.regions {
            for stack in pipeline::stacks(&env, region).unwrap() {
                if stack.kind == pipeline::StackKind::Pipeline {
                    out.push((
                        env.name.as_str().to_owned(),
                        region.to_string(),
                        stack.template.to_json().unwrap(),
                    ));
                }
            }
        }
        // The DR region's replica stack, which its own execution role deploys.
        if let Some(dr) = &env.dr {
            for stack in pipeline::dr_stacks(&env).unwrap() {
                if stack.kind == pipeline::StackKind::Replica {
                    out.push((
                        env.name.as_str().to_owned(),
                        dr.region.to_string(),
                        stack.template.to_json().unwrap(),
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn the_committed_handler_permissions_are_up_to_date() {
    let path = workspace().join(HANDLER_PERMISSIONS);
    let expected = handler_permissions_file();
    if std::env::var_os(UPDATE).is_some() {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{HANDLER_PERMISSIONS} is out of date (the stacks' resource types or the cfn-lint schemas \
         changed): regenerate it with `{UPDATE}=1 cargo nextest run -p stacks \
         the_committed_handler_permissions_are_up_to_date` and commit it"
    );
}

/// The actions the bootstrap stack's execution role allows (its managed policies), with the
/// resources of each statement.
fn execution_role_grants(bootstrap: &Value) -> BTreeMap<String, Vec<Value>> {
    role_grants(bootstrap, "ExecutionRole")
}

/// The actions the managed policies attached to `role` allow, with the resources of each
/// statement.
fn role_grants(bootstrap: &Value, role: &str) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for resource in bootstrap["Resources"].as_object().unwrap().values() {
        if resource["Type"] != "AWS::IAM::ManagedPolicy"
            || resource["Properties"]["Roles"] != serde_json::json!([{ "Ref": role }])
        {
            continue;
        }
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
        {
            assert_eq!(statement["Effect"], "Allow");
            for action in statement["Action"].as_array().unwrap() {
                out.entry(action.as_str().unwrap().to_owned())
                    .or_default()
                    .push(statement["Resource"].clone());
            }
        }
    }
    out
}

#[test]
fn the_execution_role_allows_exactly_the_handler_permissions_of_the_pipelines_resource_types() {
    let mut schemas = Schemas::new();
    let site_packages = schemas.dir.join("../../..").canonicalize().unwrap();
    let reference = service_reference(&site_packages);
    let iam = iam_definition(&reference);
    let names = iam_action_names(&reference);
    let mut checked = Vec::new();
    for env in shipped_environments() {
        for region in &env.regions {
            let stacks = pipeline::stacks(&env, region).unwrap();
            let bootstrap = stacks[0].template.to_json().unwrap();
            let pipeline = stacks[1].template.to_json().unwrap();
            let granted = execution_role_grants(&bootstrap);
            if !env.is_bootstrapped() {
                assert!(
                    granted.is_empty(),
                    "{}: no deploy: section, no execution role",
                    env.name.as_str()
                );
                continue;
            }
            // What the schemas of this region say the handlers of exactly the types of the
            // environment's pipelines (every region's: the role is the same everywhere) call,
            // families (`Describe*`) spelled out, less what IAM does not know as an action (and
            // so no policy can name).
            let mut kinds = resource_types(&pipeline);
            for other in env.regions.iter().filter(|r| *r != region) {
                kinds.extend(resource_types(
                    &pipeline::stacks(&env, other).unwrap()[1]
                        .template
                        .to_json()
                        .unwrap(),
                ));
            }
            check_execution_role(
                &mut schemas,
                (&iam, &names),
                &format!("{}/{region}", env.name.as_str()),
                region.as_str(),
                env.name.as_str(),
                &granted,
                kinds,
            );
            checked.push(format!("{}/{region}", env.name.as_str()));
        }
        // The DR region's bootstrap stack: its own execution role, for the replica stack's
        // resource types alone (the DR region runs no pipeline).
        let dr_stacks = pipeline::dr_stacks(&env).unwrap();
        let Some(dr) = &env.dr else {
            assert!(dr_stacks.is_empty());
            continue;
        };
        let replica = dr_stacks
            .iter()
            .find(|s| s.kind == pipeline::StackKind::Replica)
            .unwrap()
            .template
            .to_json()
            .unwrap();
        let Some(bootstrap) = dr_stacks
            .iter()
            .find(|s| s.kind == pipeline::StackKind::Artifacts)
        else {
            assert!(
                !env.is_bootstrapped(),
                "{}: dr: and deploy: but no bootstrap stack in the DR region",
                env.name.as_str()
            );
            continue;
        };
        let bootstrap = bootstrap.template.to_json().unwrap();
        assert!(
            execution_role_grants(&bootstrap).is_empty(),
            "the DR region holds no pipeline: no pipeline execution role there"
        );
        let granted = role_grants(&bootstrap, "ReplicaExecutionRole");
        check_execution_role(
            &mut schemas,
            (&iam, &names),
            &format!("{}/{} (DR)", env.name.as_str(), dr.region),
            dr.region.as_str(),
            env.name.as_str(),
            &granted,
            resource_types(&replica),
        );
        // Nothing for the pipeline's types the replicas do not have.
        for absent in [
            "firehose:CreateDeliveryStream",
            "lambda:CreateFunction",
            "ec2:RunInstances",
            "iam:CreateRole",
        ] {
            assert!(
                !granted.contains_key(absent),
                "{absent} granted in the DR region"
            );
        }
        checked.push(format!("{}/{} (DR)", env.name.as_str(), dr.region));
    }
    assert!(
        checked.iter().any(|c| c.ends_with("(DR)")),
        "no DR region checked: {checked:?}"
    );
    assert!(checked.len() >= 5, "only {checked:?} checked");
}

/// Asserts that `granted` (an execution role's actions with their resources) is exactly the
/// handler permissions of `kinds` in `region` (families spelled out, less what IAM does not know
/// as an action), each scoped wherever IAM allows.
fn check_execution_role(
    schemas: &mut Schemas,
    (iam, names): (&BTreeMap<String, Vec<String>>, &[String]),
    label: &str,
    region: &str,
    env_name: &str,
    granted: &BTreeMap<String, Vec<Value>>,
    kinds: BTreeSet<String>,
) {
    let mut expected = BTreeSet::new();
    for kind in kinds {
        for permission in schemas.handler_permissions(region, &kind) {
            if permission.contains('*') {
                expected.extend(
                    names
                        .iter()
                        .filter(|n| glob_matches(&permission, n))
                        .cloned(),
                );
            } else if iam.contains_key(&permission.to_ascii_lowercase()) {
                expected.insert(permission);
            }
        }
    }
    let allowed: BTreeSet<String> = granted.keys().cloned().collect();
    let missing: Vec<_> = expected.difference(&allowed).collect();
    let extra: Vec<_> = allowed.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{label}: the execution role misses {missing:?} and allows {extra:?} beyond the handlers of the resource types it deploys"
    );
    // Scoped wherever IAM allows: `*` only for actions without a resource type.
    for (action, resources) in granted {
        let scopable = !iam[&action.to_ascii_lowercase()].is_empty();
        for resource in resources {
            assert!(
                !(scopable && resource == "*"),
                "{}: {action} could be scoped but is allowed on *",
                env_name
            );
            if resource != "*" {
                let text = resource.to_string();
                // An ARN format without an account (`…:${AWS::Region}::image/*`) names
                // what AWS owns, such as the public AMIs the launch template uses.
                assert!(
                    text.contains("${AWS::AccountId}")
                        || text.contains(&format!("mst-{}-", env_name))
                        || text.contains("${AWS::Region}::"),
                    "{action} on {text}: neither the account nor the environment's names"
                );
            }
        }
    }
}

#[test]
fn a_resource_type_missing_from_the_pipeline_gets_no_handler_permission() {
    // Kinesis Firehose's handlers are the only ones calling firehose:*; take the environment
    // that has it and check the role names nothing of a type no pipeline template holds.
    let env = shipped_environments()
        .into_iter()
        .find(|e| e.name.as_str() == "prod")
        .unwrap();
    let stacks = pipeline::stacks(&env, env.canary_region()).unwrap();
    let granted = execution_role_grants(&stacks[0].template.to_json().unwrap());
    assert!(granted.contains_key("firehose:CreateDeliveryStream"));
    for absent in [
        "rds:CreateDBInstance",
        "dynamodb:CreateTable",
        "ecs:CreateCluster",
        "iam:CreateUser",
    ] {
        assert!(!granted.contains_key(absent), "{absent} granted");
    }
}
