//! Security and wiring properties of the generated stacks, checked on every shipped environment.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
use std::collections::{BTreeMap, BTreeSet};

use environment::Environment;
use serde_json::{Value, json};
use stacks::pipeline::{self, StackKind};

fn env(name: &str) -> Environment {
    let path = format!("{}/../environments/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
    environment::load(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{e}"))
}

/// Every (environment, region, stack kind, template JSON) of the shipped environments.
fn all_templates() -> Vec<(String, String, StackKind, Value)> {
    let mut out = Vec::new();
    for name in ["local", "dev", "prod"] {
        let env = env(name);
        for region in &env.regions {
            for stack in pipeline::stacks(&env, region).unwrap() {
                out.push((
                    name.to_owned(),
                    region.to_string(),
                    stack.kind,
                    stack.template.to_json().unwrap(),
                ));
            }
        }
    }
    out
}

fn resources(template: &Value) -> &serde_json::Map<String, Value> {
    template["Resources"].as_object().unwrap()
}

fn of_type<'a>(
    template: &'a Value,
    kind: &'a str,
) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
    resources(template)
        .iter()
        .filter(move |(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id, &r["Properties"]))
}

fn pipeline_template(name: &str) -> Value {
    let env = env(name);
    let stacks = pipeline::stacks(&env, env.canary_region()).unwrap();
    stacks
        .into_iter()
        .find(|s| s.kind == StackKind::Pipeline)
        .unwrap()
        .template
        .to_json()
        .unwrap()
}

/// All logical ids a value refers to: `Ref`, `Fn::GetAtt` and `${...}` in `Fn::Sub`.
fn references(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(id)) = map.get("Ref") {
                out.insert(id.clone());
            }
            if let Some(Value::Array(parts)) = map.get("Fn::GetAtt") {
                out.insert(parts[0].as_str().unwrap().to_owned());
            }
            if let Some(Value::String(body)) = map.get("Fn::Sub") {
                let mut rest = body.as_str();
                while let Some(start) = rest.find("${") {
                    let after = &rest[start + 2..];
                    let end = after.find('}').unwrap();
                    let name = &after[..end];
                    if !name.starts_with('!') {
                        out.insert(name.split('.').next().unwrap().to_owned());
                    }
                    rest = &after[end + 1..];
                }
            }
            map.values().for_each(|v| references(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

#[test]
fn synthesis_is_deterministic() {
    let env = env("prod");
    for region in &env.regions {
        let a: Vec<String> = pipeline::stacks(&env, region)
            .unwrap()
            .iter()
            .map(|s| s.template.to_pretty_json().unwrap())
            .collect();
        let b: Vec<String> = pipeline::stacks(&env, region)
            .unwrap()
            .iter()
            .map(|s| s.template.to_pretty_json().unwrap())
            .collect();
        assert_eq!(a, b);
    }
}

#[test]
fn every_reference_resolves_and_the_dependency_graph_has_no_cycle() {
    for (env, region, kind, template) in all_templates() {
        let known: BTreeSet<String> = resources(&template)
            .keys()
            .chain(
                template["Parameters"]
                    .as_object()
                    .map(|p| p.keys())
                    .into_iter()
                    .flatten(),
            )
            .cloned()
            .collect();
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (id, resource) in resources(&template) {
            let mut refs = BTreeSet::new();
            references(resource, &mut refs);
            for dep in resource["DependsOn"].as_array().into_iter().flatten() {
                refs.insert(dep.as_str().unwrap().to_owned());
            }
            refs.retain(|r| !r.starts_with("AWS::"));
            for r in &refs {
                assert!(
                    known.contains(r),
                    "{env}/{region}/{kind:?}: {id} refers to unknown {r}"
                );
            }
            refs.retain(|r| resources(&template).contains_key(r));
            graph.insert(id.clone(), refs);
        }
        // Kahn's algorithm: every resource must be removable.
        let mut remaining = graph.clone();
        loop {
            let ready: Vec<String> = remaining
                .iter()
                .filter(|(_, deps)| deps.iter().all(|d| !remaining.contains_key(d)))
                .map(|(id, _)| id.clone())
                .collect();
            if ready.is_empty() {
                break;
            }
            for id in ready {
                remaining.remove(&id);
            }
        }
        assert!(
            remaining.is_empty(),
            "{env}/{region}/{kind:?}: dependency cycle among {:?}",
            remaining.keys()
        );
    }
}

#[test]
fn identity_policies_name_explicit_actions_and_resources() {
    // `"*"` only for actions IAM allows nowhere else: the exception list, and the handler
    // permissions the Service Authorization Reference gives no resource type.
    let unscopable = |action: &str| {
        stacks::iam::WILDCARD_RESOURCE_ACTIONS
            .iter()
            .any(|(a, _)| a.to_string() == action)
            || stacks::handlers::is_unscopable(action)
    };
    for (env, _, _, template) in all_templates() {
        let policies = of_type(&template, "AWS::IAM::Policy")
            .chain(of_type(&template, "AWS::IAM::ManagedPolicy"));
        for (id, policy) in policies {
            for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                assert_eq!(statement["Effect"], "Allow", "{env}: {id}");
                for action in statement["Action"].as_array().unwrap() {
                    let action = action.as_str().unwrap();
                    assert!(
                        !action.contains('*') && action.contains(':'),
                        "{env}: {id} grants {action}"
                    );
                }
                // `"*"` only for the actions AWS gives no resource type: each listed with its
                // reason, or a handler permission IAM cannot scope (the execution role).
                if statement["Resource"] == "*" {
                    for action in statement["Action"].as_array().unwrap() {
                        assert!(
                            unscopable(action.as_str().unwrap()),
                            "{env}: {id} grants {action} on *"
                        );
                    }
                    // PutMetricData is then held to one namespace.
                    if statement["Action"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|a| a == "cloudwatch:PutMetricData")
                    {
                        assert!(
                            statement["Condition"].is_object(),
                            "{env}: {id}: PutMetricData on * without a condition"
                        );
                    }
                    continue;
                }
                let resources = statement["Resource"]
                    .as_array()
                    .expect("explicit resource list");
                assert!(!resources.is_empty(), "{env}: {id}");
                for resource in resources {
                    if resource == "*" {
                        for action in statement["Action"].as_array().unwrap() {
                            let action = action.as_str().unwrap();
                            assert!(unscopable(action), "{env}: {id} grants {action} on *");
                        }
                    }
                }
            }
        }
    }
}

/// Every statement of every policy document in a template (identity, trust, key, bucket, topic,
/// queue and endpoint policies), with the logical id of the resource holding it.
fn all_statements(template: &Value) -> Vec<(String, Value)> {
    fn walk(id: &str, value: &Value, out: &mut Vec<(String, Value)>) {
        match value {
            Value::Object(map) => {
                if let (true, Some(Value::Array(statements))) =
                    (map.contains_key("Version"), map.get("Statement"))
                {
                    out.extend(statements.iter().map(|s| (id.to_owned(), s.clone())));
                }
                map.values().for_each(|v| walk(id, v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(id, v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (id, resource) in resources(template) {
        walk(id, &resource["Properties"], &mut out);
    }
    out
}

#[test]
fn the_only_allowed_action_wildcard_is_the_key_policys_account_statement() {
    for (env, region, kind, template) in all_templates() {
        let mut account_statements = 0;
        for (id, statement) in all_statements(&template) {
            let wildcard = statement["Action"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a.as_str().unwrap().contains('*'));
            if !wildcard || statement["Effect"] == "Deny" {
                continue;
            }
            // AWS's default key policy statement (see `Statement::key_policy_account_root`).
            assert_eq!(id, "DataKey", "{env}/{region}/{kind:?}: {statement}");
            assert_eq!(
                statement,
                serde_json::json!({
                    "Sid": "EnableIamPoliciesForThisAccount",
                    "Effect": "Allow",
                    "Principal": {"AWS": [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}]},
                    "Action": ["kms:*"],
                    "Resource": "*"
                })
            );
            account_statements += 1;
        }
        let expected = usize::from(kind == StackKind::Pipeline);
        assert_eq!(account_statements, expected, "{env}/{region}/{kind:?}");
    }
}

#[test]
fn one_role_and_one_policy_per_component() {
    let template = pipeline_template("prod");
    let roles: BTreeSet<&String> = of_type(&template, "AWS::IAM::Role")
        .map(|(id, _)| id)
        .collect();
    let expected = [
        "CrawlerRole",
        "FirehoseRole",
        "FlowLogsRole",
        "GrafanaWorkspaceRole",
        "NotifyRole",
        // prod has `dr:`: S3 replicates its buckets with this role (tests/it/replication.rs).
        "ReplicationRole",
        "ScraperRole",
        "ToParquetRole",
        "TransformRole",
        "VpnConnectRole",
    ];
    assert_eq!(
        roles,
        expected
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
            .iter()
            .collect()
    );
    for role in roles {
        let attached: Vec<&String> = of_type(&template, "AWS::IAM::Policy")
            .filter(|(_, p)| {
                p["Roles"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["Ref"] == role.as_str())
            })
            .map(|(id, _)| id)
            .collect();
        assert_eq!(attached.len(), 1, "{role} has policies {attached:?}");
    }
}

#[test]
fn trust_policies_name_one_service_and_firehose_checks_the_account() {
    let template = pipeline_template("prod");
    let services: BTreeMap<&str, &str> = [
        ("TransformRole", "lambda.amazonaws.com"),
        ("ToParquetRole", "lambda.amazonaws.com"),
        ("NotifyRole", "lambda.amazonaws.com"),
        ("VpnConnectRole", "lambda.amazonaws.com"),
        ("FirehoseRole", "firehose.amazonaws.com"),
        ("CrawlerRole", "glue.amazonaws.com"),
        ("ScraperRole", "ec2.amazonaws.com"),
        ("FlowLogsRole", "vpc-flow-logs.amazonaws.com"),
        ("GrafanaWorkspaceRole", "grafana.amazonaws.com"),
        ("ReplicationRole", "s3.amazonaws.com"),
    ]
    .into();
    for (id, role) in of_type(&template, "AWS::IAM::Role") {
        let statements = role["AssumeRolePolicyDocument"]["Statement"]
            .as_array()
            .unwrap();
        assert_eq!(statements.len(), 1);
        assert_eq!(
            statements[0]["Principal"]["Service"],
            serde_json::json!([services[id.as_str()]])
        );
        assert_eq!(
            statements[0]["Action"],
            serde_json::json!(["sts:AssumeRole"])
        );
    }
    let firehose = &resources(&template)["FirehoseRole"]["Properties"]["AssumeRolePolicyDocument"]
        ["Statement"][0];
    assert_eq!(
        firehose["Condition"]["StringEquals"]["sts:ExternalId"],
        serde_json::json!([{"Ref": "AWS::AccountId"}])
    );
}

#[test]
fn the_managed_grafana_workspace_is_in_the_canary_region_only_with_its_own_guarded_role() {
    let prod = env("prod");
    for region in &prod.regions {
        let template = pipeline::stacks(&prod, region)
            .unwrap()
            .into_iter()
            .find(|s| s.kind == StackKind::Pipeline)
            .unwrap()
            .template
            .to_json()
            .unwrap();
        let workspaces: Vec<_> = of_type(&template, "AWS::Grafana::Workspace").collect();
        if region != prod.canary_region() {
            assert!(workspaces.is_empty(), "{region}");
            assert!(!resources(&template).contains_key("GrafanaWorkspaceRole"));
            continue;
        }
        let [(_, workspace)] = workspaces.as_slice() else {
            panic!("one workspace in the canary region");
        };
        assert_eq!(
            workspace["AuthenticationProviders"],
            serde_json::json!(["AWS_SSO"])
        );
        assert_eq!(workspace["PermissionType"], "CUSTOMER_MANAGED");
        assert_eq!(workspace["AccountAccessType"], "CURRENT_ACCOUNT");
        assert_eq!(
            workspace["RoleArn"],
            serde_json::json!({"Fn::GetAtt": ["GrafanaWorkspaceRole", "Arn"]})
        );
        // Confused-deputy guard: only this account's workspaces assume the role.
        let trust = &resources(&template)["GrafanaWorkspaceRole"]["Properties"]["AssumeRolePolicyDocument"]
            ["Statement"][0]["Condition"];
        assert_eq!(
            trust["StringEquals"]["aws:SourceAccount"],
            serde_json::json!([{"Ref": "AWS::AccountId"}])
        );
        assert!(
            trust["ArnLike"]["aws:SourceArn"]
                .to_string()
                .contains(":grafana:"),
            "{trust}"
        );
        // It reads only the transform's log group, and may publish to the alert topic (and the topic lets it).
        let policy = &resources(&template)["GrafanaWorkspacePolicy"]["Properties"]["PolicyDocument"]
            ["Statement"];
        let logs = policy
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "QueryTransformLogs")
            .unwrap();
        assert_eq!(
            logs["Action"],
            serde_json::json!(["logs:GetQueryResults", "logs:StartQuery"])
        );
        assert!(logs["Resource"].to_string().contains("TransformLogGroup"));
        let topic_policy = resources(&template)["AlertTopicPolicy"]["Properties"]["PolicyDocument"]
            ["Statement"]
            .as_array()
            .unwrap();
        let grafana = topic_policy
            .iter()
            .find(|s| s["Sid"] == "GrafanaWorkspacePublishes")
            .expect("the topic policy lets the workspace publish");
        assert_eq!(
            grafana["Principal"]["AWS"],
            serde_json::json!([{"Fn::GetAtt": ["GrafanaWorkspaceRole", "Arn"]}])
        );
        assert!(template["Outputs"]["GrafanaWorkspaceUrl"].is_object());
    }
    // No `grafana.workspace`, no workspace.
    let dev = pipeline_template("dev");
    assert_eq!(of_type(&dev, "AWS::Grafana::Workspace").count(), 0);
    assert!(dev["Outputs"].get("GrafanaWorkspaceUrl").is_none());
}

#[test]
fn buckets_are_private_encrypted_versioned_and_tls_only() {
    for (env, region, _, template) in all_templates() {
        let policies: Vec<&Value> = of_type(&template, "AWS::S3::BucketPolicy")
            .map(|(_, p)| p)
            .collect();
        for (id, bucket) in of_type(&template, "AWS::S3::Bucket") {
            let block = &bucket["PublicAccessBlockConfiguration"];
            for setting in [
                "BlockPublicAcls",
                "BlockPublicPolicy",
                "IgnorePublicAcls",
                "RestrictPublicBuckets",
            ] {
                assert_eq!(block[setting], true, "{env}/{region}: {id} {setting}");
            }
            let sse = &bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"];
            assert!(
                sse["SSEAlgorithm"] == "aws:kms" || sse["SSEAlgorithm"] == "AES256",
                "{id}"
            );
            if id == "RawBucket" || id == "CuratedBucket" {
                assert_eq!(
                    sse["SSEAlgorithm"], "aws:kms",
                    "data bucket {id} uses the KMS key"
                );
                assert_eq!(
                    resources(&template)[id]["DeletionPolicy"],
                    "Retain",
                    "{id} is retained"
                );
            }
            assert_eq!(bucket["VersioningConfiguration"]["Status"], "Enabled");
            let tls_only = policies.iter().any(|policy| {
                policy["Bucket"]["Ref"] == id.as_str()
                    && policy["PolicyDocument"]["Statement"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|s| {
                            s["Effect"] == "Deny"
                                && s["Condition"]["Bool"]["aws:SecureTransport"]
                                    == serde_json::json!(["false"])
                        })
            });
            assert!(tls_only, "{env}/{region}: {id} has no TLS-only policy");
        }
    }
}

#[test]
fn everything_at_rest_is_encrypted_with_the_data_key() {
    let template = pipeline_template("dev");
    let key_arn = serde_json::json!({"Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/${DataKey}"});
    let checks = [
        ("AWS::Kinesis::Stream", "/StreamEncryption/KeyId"),
        ("AWS::SNS::Topic", "/KmsMasterKeyId"),
        ("AWS::SQS::Queue", "/KmsMasterKeyId"),
        ("AWS::Logs::LogGroup", "/KmsKeyId"),
        ("AWS::SecretsManager::Secret", "/KmsKeyId"),
        ("AWS::Lambda::Function", "/KmsKeyArn"),
        (
            "AWS::EC2::LaunchTemplate",
            "/LaunchTemplateData/BlockDeviceMappings/0/Ebs/KmsKeyId",
        ),
    ];
    for (kind, pointer) in checks {
        let mut seen = 0;
        for (id, properties) in of_type(&template, kind) {
            assert_eq!(properties.pointer(pointer), Some(&key_arn), "{id} ({kind})");
            seen += 1;
        }
        assert!(seen > 0, "no {kind}");
    }
    assert_eq!(
        resources(&template)["DataKey"]["Properties"]["EnableKeyRotation"],
        true
    );
    let retention = env("dev").logs.retention_days;
    for (_, group) in of_type(&template, "AWS::Logs::LogGroup") {
        assert_eq!(group["RetentionInDays"], retention);
    }
}

#[test]
fn functions_run_on_al2023_with_no_secret_in_their_configuration() {
    let template = pipeline_template("prod");
    for (id, function) in of_type(&template, "AWS::Lambda::Function") {
        assert_eq!(function["Runtime"], "provided.al2023", "{id}");
        assert_eq!(function["Handler"], "bootstrap");
        assert_eq!(function["LoggingConfig"]["LogFormat"], "JSON");
        let code_key = &function["Code"]["S3Key"]["Ref"];
        assert!(
            code_key.as_str().unwrap().ends_with("CodeKey"),
            "{id} code comes from a content-hash parameter"
        );
        assert_eq!(
            function["Code"]["S3ObjectVersion"]["Ref"].as_str(),
            code_key
                .as_str()
                .map(|k| k.replace("CodeKey", "CodeVersion"))
                .as_deref(),
            "{id} code is pinned to the object version the deployer verified"
        );
        for (name, value) in function["Environment"]["Variables"].as_object().unwrap() {
            let lower = name.to_lowercase();
            if lower.contains("token") || lower.contains("secret") || lower.contains("password") {
                assert!(
                    name.ends_with("_ARN"),
                    "{id}: {name} must carry a secret's ARN, not a secret"
                );
                assert_eq!(value, &serde_json::json!({"Ref": "InfluxTokenSecret"}));
            }
        }
    }
    let secret = &resources(&template)["InfluxTokenSecret"]["Properties"];
    assert!(secret.get("SecretString").is_none() && secret.get("GenerateSecretString").is_none());
}

#[test]
fn triggers_are_wired_with_scoped_permissions() {
    let template = pipeline_template("prod");
    let mapping = &resources(&template)["TransformEventSourceMapping"]["Properties"];
    assert_eq!(
        mapping["FunctionResponseTypes"],
        serde_json::json!(["ReportBatchItemFailures"])
    );
    assert_eq!(mapping["BisectBatchOnFunctionError"], true);
    assert_eq!(mapping["BatchSize"], 500);
    assert_eq!(
        mapping["DestinationConfig"]["OnFailure"]["Destination"],
        serde_json::json!({"Fn::GetAtt": ["FailedEventsQueue", "Arn"]})
    );
    for (id, permission) in of_type(&template, "AWS::Lambda::Permission") {
        assert_eq!(permission["Principal"], "s3.amazonaws.com", "{id}");
        assert_eq!(
            permission["SourceAccount"],
            serde_json::json!({"Ref": "AWS::AccountId"})
        );
        assert!(
            permission["SourceArn"]["Fn::Sub"]
                .as_str()
                .unwrap()
                .starts_with("arn:${AWS::Partition}:s3:::mst-prod-")
        );
    }
    for (bucket, function, prefix) in [
        ("RawBucket", "ToParquet", "raw/"),
        ("CuratedBucket", "Notify", "quotes/"),
    ] {
        let notification = &resources(&template)[bucket]["Properties"]["NotificationConfiguration"]
            ["LambdaConfigurations"][0];
        assert_eq!(
            notification["Function"],
            serde_json::json!({"Fn::GetAtt": [function, "Arn"]})
        );
        assert_eq!(
            notification["Filter"]["S3Key"]["Rules"][0],
            serde_json::json!({"Name": "prefix", "Value": prefix})
        );
        assert!(
            !resources(&template)[bucket]["DependsOn"]
                .as_array()
                .unwrap()
                .is_empty(),
            "{bucket} waits for its permission"
        );
    }
}

#[test]
fn firehose_partitions_by_symbol_and_date_with_the_environments_buffering() {
    let template = pipeline_template("prod");
    let destination = &resources(&template)["RawDeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"];
    assert_eq!(
        destination["Prefix"],
        "raw/symbol=!{partitionKeyFromQuery:symbol}/dt=!{partitionKeyFromQuery:dt}/"
    );
    assert_eq!(
        destination["BufferingHints"],
        serde_json::json!({"IntervalInSeconds": 300, "SizeInMBs": 128})
    );
    assert_eq!(
        destination["DynamicPartitioningConfiguration"]["Enabled"],
        true
    );
    let processors = destination["ProcessingConfiguration"]["Processors"]
        .as_array()
        .unwrap();
    assert_eq!(processors[0]["Type"], "MetadataExtraction");
    assert_eq!(processors[1]["Type"], "AppendDelimiterToRecord");
}

#[test]
fn the_scraper_is_reachable_only_through_the_vpn_and_requires_imdsv2() {
    let prod = pipeline_template("prod");
    let data = &resources(&prod)["ScraperLaunchTemplate"]["Properties"]["LaunchTemplateData"];
    assert_eq!(data["MetadataOptions"]["HttpTokens"], "required");
    assert_eq!(data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"], true);
    let ingress = resources(&prod)["ScraperSecurityGroup"]["Properties"]["SecurityGroupIngress"]
        .as_array()
        .unwrap();
    assert_eq!(
        ingress.len(),
        1,
        "prod has no admin CIDRs: SSH only from the VPN"
    );
    assert_eq!(
        ingress[0]["SourceSecurityGroupId"],
        serde_json::json!({"Ref": "VpnSecurityGroup"})
    );
    assert_eq!(
        (
            ingress[0]["FromPort"].as_u64(),
            ingress[0]["ToPort"].as_u64()
        ),
        (Some(22), Some(22))
    );
    for (_, group) in of_type(&prod, "AWS::EC2::SecurityGroup") {
        for rule in group["SecurityGroupIngress"].as_array().unwrap() {
            assert_ne!(rule["CidrIp"], "0.0.0.0/0");
        }
    }
    let vpn = &resources(&prod)["ClientVpnEndpoint"]["Properties"];
    assert_eq!(
        vpn["AuthenticationOptions"][0]["Type"],
        "certificate-authentication"
    );
    assert_eq!(vpn["ClientCidrBlock"], "10.100.0.0/22");
    for (_, subnet) in of_type(&prod, "AWS::EC2::Subnet") {
        assert_eq!(subnet["MapPublicIpOnLaunch"], false);
    }
    // Local environments have no certificates, so no VPN (and no way in but admin CIDRs).
    let local = pipeline_template("local");
    assert_eq!(of_type(&local, "AWS::EC2::ClientVpnEndpoint").count(), 0);
}

#[test]
fn user_data_installs_the_configured_scraper_under_systemd() {
    let env = env("prod");
    let template = pipeline_template("prod");
    let user_data = &resources(&template)["ScraperLaunchTemplate"]["Properties"]["LaunchTemplateData"]
        ["UserData"]["Fn::Base64"];
    let script = user_data["Fn::Sub"]
        .as_str()
        .expect("user data is one Fn::Sub");
    assert!(script.starts_with("#!/bin/bash\n"));
    assert!(
        script.contains("sha256sum --check"),
        "the binary is verified against its content hash"
    );
    assert!(
        script.contains("--bucket \"$bucket\" --key \"$key\" --version-id \"$version\"")
            && script.contains("bucket=\"${ArtifactsBucket}\"")
            && script.contains("key=\"${ScraperBinaryKey}\"")
            && script.contains("version=\"${ScraperBinaryVersion}\""),
        "the binary is fetched at the object version the deployer verified"
    );
    // Every shard's configuration is fetched by its content-hash key, checked, and given the
    // stream's name, which CloudFormation fills in.
    let configurations = pipeline::shard_configurations(&env, "eu-west-1").unwrap();
    for file in &configurations {
        assert!(
            script.contains(&format!(
                "  {}) config_key=\"{}\" ;;",
                file.shard.index, file.key
            )),
            "shard {} is given its configuration's key",
            file.shard.index
        );
    }
    assert!(script.contains("--key \"$config_key\" /etc/mystocktracker/scraper.download"));
    assert!(script.contains(
        "echo \"$(basename \"$config_key\" .json)  /etc/mystocktracker/scraper.download\" | sha256sum --check --quiet"
    ));
    assert!(
        script.contains("sed 's/@@STREAM_NAME@@/${QuoteStream}/'"),
        "the stream name is filled in by CloudFormation"
    );
    assert!(script.contains("shard=$(metadata tags/instance/mst-shard)"));
    // No configuration (and so no symbol) is inlined: the user data stays small whatever the symbols.
    for symbol in &env.symbols {
        assert!(
            !script.contains(&format!("\"{symbol}\"")),
            "{symbol} inlined in the user data"
        );
    }
    assert!(
        script.contains("NoNewPrivileges=yes")
            && script.contains(
                "systemctl enable --now mystocktracker-scraper.service mystocktracker-heartbeat.timer"
            )
    );
    assert!(script.contains("MST_NAMESPACE=MyStockTracker/Scraper"));
    assert!(script.contains("MST_STACK=${AWS::StackName}"));
}

/// One Auto Scaling group of one per shard, all from the one launch template; each tagged with its
/// shard, created and replaced only once its instance signals, and each waiting for the shard before
/// it, so a rollout replaces one shard at a time.
#[test]
fn each_shard_is_a_group_of_one_replaced_one_at_a_time_after_its_signal() {
    let mut env = env("prod");
    env.symbols = (0..100)
        .map(|i| quote_record::Symbol::parse(&format!("T{i}")).unwrap())
        .collect();
    env.scraper.instances = 4;
    let stacks = pipeline::stacks(&env, env.canary_region()).unwrap();
    let template = stacks[1].template.to_json().unwrap();
    assert_eq!(
        of_type(&template, "AWS::AutoScaling::AutoScalingGroup").count(),
        4
    );
    assert_eq!(of_type(&template, "AWS::EC2::Instance").count(), 0);
    for index in 0..4u32 {
        let id = pipeline::shard_group_id(index);
        let group = &resources(&template)[&id];
        let props = &group["Properties"];
        assert_eq!(
            (
                &props["MinSize"],
                &props["MaxSize"],
                &props["DesiredCapacity"]
            ),
            (&json!("1"), &json!("1"), &json!("1"))
        );
        assert_eq!(
            props["LaunchTemplate"]["LaunchTemplateId"],
            json!({"Ref": "ScraperLaunchTemplate"})
        );
        assert_eq!(props["HealthCheckType"], "EC2");
        assert!(props["Tags"].as_array().unwrap().contains(
            &json!({"Key": "mst-shard", "Value": index.to_string(), "PropagateAtLaunch": true})
        ));
        assert_eq!(
            group["CreationPolicy"],
            json!({"ResourceSignal": {"Count": 1, "Timeout": "PT15M"}})
        );
        assert_eq!(
            group["UpdatePolicy"],
            json!({"AutoScalingReplacingUpdate": {"WillReplace": true}})
        );
        let depends: Vec<Value> = if index == 0 {
            Vec::new()
        } else {
            vec![json!(pipeline::shard_group_id(index - 1))]
        };
        assert_eq!(
            group.get("DependsOn").cloned().unwrap_or(json!([])),
            json!(depends),
            "{id}"
        );
    }
    assert_eq!(
        resources(&template)["ScraperLaunchTemplate"]["Properties"]["LaunchTemplateData"]["MetadataOptions"]
            ["InstanceMetadataTags"],
        "enabled"
    );
}

#[test]
fn artifacts_stack_holds_only_the_private_artifacts_bucket() {
    // Without `deploy:` (local), the artifacts stack is the bucket alone, as before bootstrapping.
    let env = env("local");
    assert!(!env.is_bootstrapped());
    let stacks = pipeline::stacks(&env, env.canary_region()).unwrap();
    assert_eq!(stacks[0].kind, StackKind::Artifacts);
    assert_eq!(stacks[0].name, "mst-local-artifacts");
    assert_eq!(stacks[1].name, "mst-local-pipeline");
    let template = stacks[0].template.to_json().unwrap();
    let kinds: BTreeSet<&str> = resources(&template)
        .values()
        .map(|r| r["Type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["AWS::S3::Bucket", "AWS::S3::BucketPolicy"])
    );
    assert_eq!(
        template["Outputs"]["ArtifactsBucketName"]["Value"],
        serde_json::json!({"Ref": "ArtifactsBucket"})
    );
}

/// The text a `Fn::Sub` body becomes once CloudFormation has filled in `refs`: placeholders replaced,
/// `${!name}` escapes turned back into the literal `${name}`.
fn substitute(value: &Value, refs: &[(&str, &str)]) -> String {
    let mut text = value["Fn::Sub"]
        .as_str()
        .unwrap_or_else(|| panic!("not a Fn::Sub: {value}"))
        .to_owned();
    for (name, with) in refs {
        text = text.replace(&format!("${{{name}}}"), with);
    }
    assert!(
        !text.replace("${!", "").contains("${"),
        "unresolved placeholder in {text}"
    );
    text.replace("${!", "${")
}

/// The `(name, Hive type)` of each field of `quote_record::arrow::schema()`, read from its source so the
/// stacks need no arrow dependency: the Parquet files are written with exactly that schema.
fn parquet_schema_columns() -> Vec<(String, &'static str)> {
    let path = format!(
        "{}/../runtime/quote/src/arrow.rs",
        env!("CARGO_MANIFEST_DIR")
    );
    let source = std::fs::read_to_string(&path).unwrap();
    let body = source
        .split("pub fn schema() -> SchemaRef {")
        .nth(1)
        .unwrap()
        .split("\n}\n")
        .next()
        .unwrap();
    body.split("Field::new(")
        .skip(1)
        .map(|field| {
            let mut parts = field.splitn(3, ", ");
            let name = parts.next().unwrap().trim_matches('"').to_owned();
            let kind = match parts.next().unwrap() {
                "DataType::Float64" => "double",
                "DataType::Int64" => "bigint",
                "DataType::Utf8" | "dictionary_utf8()" => "string",
                "timestamp_utc_micros()" => "timestamp",
                other => panic!("no Hive type known for {other} (column {name})"),
            };
            (name, kind)
        })
        .collect()
}

#[test]
fn the_quotes_table_has_the_parquet_files_columns_and_hive_partitions() {
    let expected = parquet_schema_columns();
    assert_eq!(expected.len(), 7, "{expected:?}");
    let ours: Vec<(String, &str)> = pipeline::QUOTE_COLUMNS
        .iter()
        .map(|c| (c.name.to_owned(), c.kind))
        .collect();
    assert_eq!(ours, expected);

    let template = pipeline_template("prod");
    let table = &resources(&template)["QuotesTable"]["Properties"];
    assert_eq!(
        table["DatabaseName"],
        serde_json::json!({"Ref": "QuotesDatabase"})
    );
    let input = &table["TableInput"];
    assert_eq!(input["Name"], "quotes");
    assert_eq!(input["TableType"], "EXTERNAL_TABLE");
    let columns: Vec<(String, String)> = input["StorageDescriptor"]["Columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["Name"].as_str().unwrap().to_owned(),
                c["Type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected_strings: Vec<(String, String)> = expected
        .iter()
        .map(|(n, k)| (n.clone(), (*k).to_owned()))
        .collect();
    assert_eq!(columns, expected_strings);
    assert_eq!(
        input["PartitionKeys"],
        serde_json::json!([{"Name": "symbol", "Type": "string"}, {"Name": "dt", "Type": "string"}])
    );
    let storage = &input["StorageDescriptor"];
    assert_eq!(
        substitute(&storage["Location"], &[("CuratedBucket", "b")]),
        "s3://b/quotes/"
    );
    assert_eq!(
        storage["InputFormat"],
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    );
    assert_eq!(
        storage["OutputFormat"],
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    );
    assert_eq!(
        storage["SerdeInfo"]["SerializationLibrary"],
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    );
    assert_eq!(input["Parameters"]["classification"], "parquet");
    assert_eq!(input["Parameters"]["parquet.compression"], "ZSTD");
}

#[test]
fn partition_projection_lists_the_environments_symbols_and_every_day() {
    for name in ["local", "dev", "prod"] {
        let env = env(name);
        let template = pipeline_template(name);
        let parameters =
            &resources(&template)["QuotesTable"]["Properties"]["TableInput"]["Parameters"];
        let symbols: Vec<&str> = env.symbols.iter().map(|s| s.as_str()).collect();
        assert_eq!(parameters["projection.enabled"], "true", "{name}");
        assert_eq!(parameters["projection.symbol.type"], "enum");
        assert_eq!(
            parameters["projection.symbol.values"],
            symbols.join(","),
            "{name}"
        );
        assert_eq!(parameters["projection.dt.type"], "date");
        assert_eq!(parameters["projection.dt.format"], "yyyy-MM-dd");
        assert_eq!(parameters["projection.dt.range"], "2020-01-01,NOW");
        assert_eq!(parameters["projection.dt.interval"], "1");
        assert_eq!(parameters["projection.dt.interval.unit"], "DAYS");
        // CloudFormation must leave Athena's placeholders alone: escaped in the Fn::Sub body...
        let template_value = &parameters["storage.location.template"];
        let body = template_value["Fn::Sub"].as_str().unwrap();
        assert!(body.contains("symbol=${!symbol}/dt=${!dt}/"), "{body}");
        // ...so the deployed value is the literal Athena expects.
        assert_eq!(
            substitute(template_value, &[("CuratedBucket", "curated")]),
            "s3://curated/quotes/symbol=${symbol}/dt=${dt}/"
        );
    }
    // A symbol with a dot (BRK.B) is a value like any other.
    let prod = pipeline_template("prod");
    assert!(
        resources(&prod)["QuotesTable"]["Properties"]["TableInput"]["Parameters"]
            ["projection.symbol.values"]
            .as_str()
            .unwrap()
            .split(',')
            .any(|s| s == "BRK.B")
    );
}

#[test]
fn the_crawler_only_reports_drift_of_the_typed_table() {
    let template = pipeline_template("prod");
    let crawler = &resources(&template)["QuotesCrawler"];
    let properties = &crawler["Properties"];
    assert_eq!(
        properties["Targets"],
        serde_json::json!({"CatalogTargets": [{"DatabaseName": {"Ref": "QuotesDatabase"}, "Tables": ["quotes"]}]})
    );
    assert_eq!(
        properties["SchemaChangePolicy"],
        serde_json::json!({"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"})
    );
    assert!(properties.get("DatabaseName").is_none());
    assert!(
        crawler["DependsOn"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("QuotesTable"))
    );
    let statements =
        resources(&template)["CrawlerPolicy"]["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap();
    let glue: Vec<&Value> = statements
        .iter()
        .filter(|s| s["Action"][0].as_str().unwrap().starts_with("glue:"))
        .collect();
    assert_eq!(glue.len(), 1);
    let actions: Vec<&str> = glue[0]["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for write in [
        "glue:CreateTable",
        "glue:UpdateTable",
        "glue:DeleteTable",
        "glue:GetTables",
    ] {
        assert!(!actions.contains(&write), "the crawler may not {write}");
    }
    let table_arn = serde_json::json!({"Fn::Sub": "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:table/${QuotesDatabase}/quotes"});
    assert!(glue[0]["Resource"].as_array().unwrap().contains(&table_arn));
}

#[test]
fn the_workgroup_encrypts_results_with_the_data_key_and_limits_bytes_scanned() {
    let key_arn = serde_json::json!({"Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/${DataKey}"});
    let template = pipeline_template("prod");
    let workgroup = &resources(&template)["AthenaWorkGroup"]["Properties"];
    assert_eq!(workgroup["Name"], "mst-prod");
    let configuration = &workgroup["WorkGroupConfiguration"];
    assert_eq!(configuration["EnforceWorkGroupConfiguration"], true);
    assert_eq!(configuration["PublishCloudWatchMetricsEnabled"], true);
    // prod sets no `athena` section: the default 10 GB.
    assert_eq!(
        configuration["BytesScannedCutoffPerQuery"],
        10_000_000_000_u64
    );
    let results = &configuration["ResultConfiguration"];
    assert_eq!(
        substitute(&results["OutputLocation"], &[("CuratedBucket", "b")]),
        "s3://b/athena-results/"
    );
    assert_eq!(
        results["EncryptionConfiguration"],
        serde_json::json!({"EncryptionOption": "SSE_KMS", "KmsKey": key_arn})
    );
    // Results expire; the rest of the curated bucket keeps its own retention.
    let rules =
        resources(&template)["CuratedBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
            .as_array()
            .unwrap();
    let results_rule = rules
        .iter()
        .find(|r| r["Prefix"] == "athena-results/")
        .expect("a lifecycle rule for athena-results/");
    assert_eq!(results_rule["ExpirationInDays"], 7);

    // The limit comes from the environment.
    let path = format!("{}/../environments/local.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap() + "athena:\n  bytes_scanned_limit_gb: 3\n";
    let env =
        environment::parse("environments/local.yaml", &text).unwrap_or_else(|e| panic!("{e}"));
    let stacks = pipeline::stacks(&env, env.canary_region()).unwrap();
    let template = stacks[1].template.to_json().unwrap();
    assert_eq!(
        resources(&template)["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]["BytesScannedCutoffPerQuery"],
        3_000_000_000_u64
    );
}

#[test]
fn named_queries_run_in_the_workgroup_on_the_database_and_prune_by_day() {
    let template = pipeline_template("dev");
    let named: Vec<(&String, &Value)> = of_type(&template, "AWS::Athena::NamedQuery").collect();
    assert_eq!(named.len(), 3);
    for (id, query) in named {
        assert_eq!(
            query["Database"],
            serde_json::json!({"Ref": "QuotesDatabase"}),
            "{id}"
        );
        assert_eq!(
            query["WorkGroup"],
            serde_json::json!({"Ref": "AthenaWorkGroup"}),
            "{id}"
        );
        let sql = query["QueryString"].as_str().unwrap();
        assert!(sql.contains("FROM quotes\n"), "{id}: {sql}");
        // A `dt` predicate on the table itself, so partition projection reads only those days.
        let where_clause = sql.split("WHERE ").nth(1).unwrap_or_default();
        assert!(
            where_clause.starts_with("dt "),
            "{id} does not filter on dt: {sql}"
        );
    }
    let sqls: Vec<&str> = pipeline::queries::ALL.iter().map(|q| q.3).collect();
    assert!(sqls[0].contains("max_by(price, market_time)"));
    assert!(sqls[1].contains("min_by(price, market_time) AS open"));
    assert!(sqls[2].contains("ORDER BY abs(close - open) / open DESC"));
}

#[test]
fn docs_show_the_biggest_movers_query_as_deployed_for_prod() {
    let readme = std::fs::read_to_string(format!(
        "{}/../docs/data-and-athena.md",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let for_prod =
        pipeline::queries::BIGGEST_MOVERS.replace("FROM quotes\n", "FROM mst_prod.quotes\n");
    assert!(
        readme.contains(&format!("```sql\n{for_prod}\n```")),
        "docs/data-and-athena.md's example differs from queries::BIGGEST_MOVERS:\n{for_prod}"
    );
}

#[test]
fn notify_can_list_only_its_state_prefix() {
    let template = pipeline_template("prod");
    let statements =
        resources(&template)["NotifyPolicy"]["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap();
    let list = statements
        .iter()
        .find(|s| s["Sid"] == "SeeStateObjects")
        .expect("a SeeStateObjects statement");
    assert_eq!(list["Action"], serde_json::json!(["s3:ListBucket"]));
    assert_eq!(
        list["Resource"],
        serde_json::json!([{"Fn::Sub": "arn:${AWS::Partition}:s3:::mst-prod-curated-${AWS::AccountId}-${AWS::Region}"}])
    );
    assert_eq!(
        list["Condition"],
        serde_json::json!({"StringLike": {"s3:prefix": ["state/notify/*"]}})
    );
    // Listing is the only bucket-level grant notify has.
    let listing: Vec<&Value> = statements
        .iter()
        .filter(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!("s3:ListBucket"))
        })
        .collect();
    assert_eq!(listing.len(), 1);
}

fn policy_statements<'a>(template: &'a Value, id: &str, property: &str) -> &'a Vec<Value> {
    resources(template)[id]["Properties"][property]["Statement"]
        .as_array()
        .unwrap()
}

fn statement<'a>(statements: &'a [Value], sid: &str) -> &'a Value {
    statements
        .iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no statement {sid}"))
}

#[test]
fn the_topic_and_the_queue_take_tls_only_and_only_from_what_sends_to_them() {
    let template = pipeline_template("prod");
    let not_tls = serde_json::json!({"Bool": {"aws:SecureTransport": ["false"]}});

    let topic = policy_statements(&template, "AlertTopicPolicy", "PolicyDocument");
    let deny = statement(topic, "DenyPublishWithoutTls");
    assert_eq!(
        (&deny["Effect"], &deny["Principal"], &deny["Condition"]),
        (
            &serde_json::json!("Deny"),
            &serde_json::json!("*"),
            &not_tls
        )
    );
    let alarms: BTreeSet<String> = of_type(&template, "AWS::CloudWatch::Alarm")
        .map(|(id, _)| serde_json::json!({"Fn::GetAtt": [id, "Arn"]}).to_string())
        .collect();
    // Five health alarms, prod's six replication alarms (`dr:`), one "no quotes" alarm per shard,
    // one on the stream's silence and the VPN's denial alarm.
    assert_eq!(
        alarms.len(),
        5 + 6 + env("prod").scraper.instances as usize + 1 + 1
    );
    let from_alarms = statement(topic, "PipelineAlarmsPublish");
    assert_eq!(
        from_alarms["Principal"],
        serde_json::json!({"Service": ["cloudwatch.amazonaws.com"]})
    );
    let sources: BTreeSet<String> = from_alarms["Condition"]["ArnEquals"]["aws:SourceArn"]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::to_string)
        .collect();
    assert_eq!(sources, alarms);
    assert_eq!(
        from_alarms["Condition"]["StringEquals"]["aws:SourceAccount"],
        serde_json::json!([{"Ref": "AWS::AccountId"}])
    );
    let from_rule = statement(topic, "CrawlerFailedRulePublishes");
    assert_eq!(
        from_rule["Condition"]["ArnEquals"]["aws:SourceArn"],
        serde_json::json!([{"Fn::GetAtt": ["CrawlerFailedRule", "Arn"]}])
    );
    assert_eq!(
        statement(topic, "NotifyLambdaPublishes")["Principal"],
        serde_json::json!({"AWS": [{"Fn::GetAtt": ["NotifyRole", "Arn"]}]})
    );
    // prod's canary has a Managed Grafana workspace, whose role may publish too.
    assert_eq!(
        statement(topic, "GrafanaWorkspacePublishes")["Principal"],
        serde_json::json!({"AWS": [{"Fn::GetAtt": ["GrafanaWorkspaceRole", "Arn"]}]})
    );
    assert_eq!(topic.len(), 5);

    let queue = policy_statements(&template, "FailedEventsQueuePolicy", "PolicyDocument");
    let deny = statement(queue, "DenyRequestsWithoutTls");
    assert_eq!(deny["Action"], serde_json::json!(["sqs:*"]));
    assert_eq!(deny["Condition"], not_tls);
    let senders = statement(queue, "FunctionsSendFailedEvents");
    assert_eq!(senders["Action"], serde_json::json!(["sqs:SendMessage"]));
    assert_eq!(
        senders["Principal"]["AWS"],
        serde_json::json!([
            {"Fn::GetAtt": ["TransformRole", "Arn"]},
            {"Fn::GetAtt": ["ToParquetRole", "Arn"]},
            {"Fn::GetAtt": ["NotifyRole", "Arn"]}
        ])
    );
}

#[test]
fn failed_crawls_reach_the_alert_topic() {
    let template = pipeline_template("prod");
    let rule = &resources(&template)["CrawlerFailedRule"]["Properties"];
    assert_eq!(
        rule["EventPattern"],
        serde_json::json!({
            "source": ["aws.glue"],
            "detail-type": ["Glue Crawler State Change"],
            "detail": {"crawlerName": [{"Ref": "QuotesCrawler"}], "state": ["Failed"]}
        })
    );
    assert_eq!(rule["State"], "ENABLED");
    assert_eq!(
        rule["Targets"][0]["Arn"],
        serde_json::json!({"Ref": "AlertTopic"})
    );
}

#[test]
fn every_key_grant_is_limited_to_the_services_the_role_uses_the_key_through() {
    let via = |services: &[&str]| -> Value {
        services
            .iter()
            .map(|s| serde_json::json!({"Fn::Sub": format!("{s}.${{AWS::Region}}.amazonaws.com")}))
            .collect()
    };
    let expected: BTreeMap<&str, (Value, Value)> = [
        (
            "CrawlerPolicy",
            (serde_json::json!(["kms:Decrypt"]), via(&["s3"])),
        ),
        (
            "FirehosePolicy",
            (
                serde_json::json!(["kms:Decrypt", "kms:GenerateDataKey"]),
                via(&["s3", "kinesis"]),
            ),
        ),
        (
            "NotifyPolicy",
            (
                serde_json::json!(["kms:Decrypt", "kms:GenerateDataKey"]),
                via(&["s3", "sqs", "sns"]),
            ),
        ),
        (
            "ScraperPolicy",
            (
                serde_json::json!(["kms:GenerateDataKey"]),
                via(&["kinesis"]),
            ),
        ),
        (
            // Publishing to the encrypted alert topic.
            "GrafanaWorkspacePolicy",
            (
                serde_json::json!(["kms:Decrypt", "kms:GenerateDataKey"]),
                via(&["sns"]),
            ),
        ),
        (
            "ToParquetPolicy",
            (
                serde_json::json!(["kms:Decrypt", "kms:GenerateDataKey"]),
                via(&["s3", "sqs"]),
            ),
        ),
        (
            "TransformPolicy",
            (
                serde_json::json!(["kms:Decrypt", "kms:GenerateDataKey"]),
                via(&["s3", "kinesis", "sqs", "secretsmanager"]),
            ),
        ),
    ]
    .into();
    let template = pipeline_template("prod");
    for (id, policy) in of_type(&template, "AWS::IAM::Policy") {
        if id == "ReplicationPolicy" {
            // Two keys (the source's and the DR region's): tests/it/replication.rs checks both.
            continue;
        }
        let kms: Vec<&Value> = policy["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Action"][0].as_str().unwrap().starts_with("kms:"))
            .collect();
        let Some((actions, services)) = expected.get(id.as_str()) else {
            assert!(kms.is_empty(), "{id} uses the key");
            continue;
        };
        assert_eq!(kms.len(), 1, "{id}");
        assert_eq!(&kms[0]["Action"], actions, "{id}");
        assert_eq!(
            &kms[0]["Condition"]["StringEquals"]["kms:ViaService"], services,
            "{id}"
        );
    }
}

#[test]
fn the_crawler_encrypts_its_own_logs_and_to_parquet_can_tell_a_vanished_object() {
    let template = pipeline_template("prod");
    let crawler = policy_statements(&template, "CrawlerPolicy", "PolicyDocument");
    let logs = statement(crawler, "WriteEncryptedCrawlerLogs");
    assert!(
        logs["Action"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("logs:AssociateKmsKey"))
    );
    assert_eq!(
        logs["Resource"],
        serde_json::json!([{"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws-glue/crawlers-role/*"}])
    );

    let to_parquet = policy_statements(&template, "ToParquetPolicy", "PolicyDocument");
    let list = statement(to_parquet, "SeeRawRecords");
    assert_eq!(list["Action"], serde_json::json!(["s3:ListBucket"]));
    assert_eq!(
        list["Condition"]["StringLike"]["s3:prefix"],
        serde_json::json!(["raw/*"])
    );
    assert_eq!(
        statement(to_parquet, "QuarantineInvalidRecords")["Action"],
        serde_json::json!(["s3:AbortMultipartUpload", "s3:PutObject"])
    );
    let scraper = policy_statements(&template, "ScraperPolicy", "PolicyDocument");
    assert_eq!(
        statement(scraper, "PutQuotes")["Action"],
        serde_json::json!(["kinesis:PutRecords"])
    );
}

#[test]
fn flow_logs_go_to_an_encrypted_group_and_endpoints_take_https_from_the_scraper_only() {
    for (env, region, kind, template) in all_templates() {
        if kind != StackKind::Pipeline {
            continue;
        }
        let at = format!("{env}/{region}");
        let flow = &resources(&template)["VpcFlowLog"]["Properties"];
        assert_eq!(
            flow["ResourceId"],
            serde_json::json!({"Ref": "Vpc"}),
            "{at}"
        );
        assert_eq!(flow["TrafficType"], "ALL", "{at}");
        assert_eq!(
            flow["DeliverLogsPermissionArn"],
            serde_json::json!({"Fn::GetAtt": ["FlowLogsRole", "Arn"]}),
            "{at}"
        );
        let group = &resources(&template)["FlowLogsLogGroup"]["Properties"];
        assert!(
            group["KmsKeyId"].to_string().contains("key/${DataKey}"),
            "{at}"
        );
        let trust = &resources(&template)["FlowLogsRole"]["Properties"]["AssumeRolePolicyDocument"]
            ["Statement"][0];
        assert_eq!(
            trust["Condition"]["StringEquals"]["aws:SourceAccount"],
            serde_json::json!([{"Ref": "AWS::AccountId"}]),
            "{at}"
        );
        let endpoints = &resources(&template)["EndpointSecurityGroup"]["Properties"];
        assert_eq!(
            endpoints["SecurityGroupIngress"],
            serde_json::json!([{
                "Description": "HTTPS from the scraper",
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "SourceSecurityGroupId": {"Ref": "ScraperSecurityGroup"}
            }]),
            "{at}"
        );
        let delivery = statement(
            policy_statements(&template, "AccessLogsBucketPolicy", "PolicyDocument"),
            "S3ServerAccessLogDelivery",
        );
        let sources = delivery["Condition"]["ArnLike"]["aws:SourceArn"].to_string();
        assert!(
            sources.contains("-raw-") && sources.contains("-curated-"),
            "{at}: {sources}"
        );
    }
}

/// Every alert e-mail is a subscription of the alert topic whose filter policy drops the canary's
/// alert (notify marks it with `CANARY_ATTRIBUTE`) and keeps messages without attributes (alarms).
#[test]
fn every_email_subscription_filters_out_the_canary_alert() {
    for name in ["local", "dev", "prod"] {
        let env = env(name);
        let template = pipeline_template(name);
        let subscriptions: Vec<&Value> = of_type(&template, "AWS::SNS::Subscription")
            .map(|(_, p)| p)
            .collect();
        let mut endpoints: Vec<&str> = subscriptions
            .iter()
            .map(|p| p["Endpoint"].as_str().unwrap())
            .collect();
        endpoints.sort_unstable();
        let mut expected: Vec<&str> = env.alerts.emails.iter().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(endpoints, expected, "{name}");
        for p in subscriptions {
            assert_eq!(p["Protocol"], "email");
            assert_eq!(p["TopicArn"], serde_json::json!({"Ref": "AlertTopic"}));
            assert_eq!(p["FilterPolicyScope"], "MessageAttributes");
            assert_eq!(
                p["FilterPolicy"],
                serde_json::json!({ (lambda_contract::notify::CANARY_ATTRIBUTE): [{"exists": false}] }),
                "{name}"
            );
        }
        let (_, topic) = of_type(&template, "AWS::SNS::Topic").next().unwrap();
        assert!(
            topic.get("Subscription").is_none(),
            "no inline subscription (it cannot filter)"
        );
    }
}

/// The rollback triggers name alarms by ARN before the stack exists: every pipeline alarm has the
/// fixed name `stacks::pipeline::alarm_names` computes, and the triggers fit CloudFormation's five.
#[test]
fn alarms_have_the_fixed_names_rollback_triggers_and_the_bake_use() {
    for name in ["local", "dev", "prod"] {
        let env = env(name);
        let stack = pipeline::stacks(&env, env.canary_region())
            .unwrap()
            .into_iter()
            .find(|s| s.kind == StackKind::Pipeline)
            .unwrap();
        let template = stack.template.to_json().unwrap();
        let in_template: BTreeSet<String> = of_type(&template, "AWS::CloudWatch::Alarm")
            .map(|(_, properties)| properties["AlarmName"].as_str().unwrap().to_owned())
            .collect();
        let expected: BTreeSet<String> = pipeline::alarm_names(&env).into_iter().collect();
        let replication: BTreeSet<String> = pipeline::replication_alarm_names(&env)
            .into_iter()
            .collect();
        assert_eq!(replication.is_empty(), env.dr.is_none(), "{name}");
        // Besides the health alarms: the freshness alarms, which are neither watched by the bake nor
        // rollback triggers (a new stack is silent until its scrapers tick).
        let mut freshness: BTreeSet<String> = (0..env.scraper.instances)
            .map(|i| format!("mst-{name}-{}", pipeline::shard_alarm_name(i)))
            .collect();
        freshness.insert(format!("mst-{name}-{}", pipeline::STREAM_SILENT_ALARM));
        let mut others: BTreeSet<String> = replication.union(&freshness).cloned().collect();
        // And the VPN's denial alarm (no rollback trigger: a deployment does not cause denials)
        // wherever there is a VPN.
        if env.network.vpn.contains_key(env.canary_region()) {
            others.insert(pipeline::vpn_connect::alarm_name(&env));
        }
        assert_eq!(
            in_template,
            expected.union(&others).cloned().collect(),
            "{name}"
        );
        let triggers = pipeline::rollback_alarm_names(&env);
        assert!(triggers.len() <= pipeline::MAX_ROLLBACK_TRIGGERS);
        assert!(
            triggers.iter().all(|t| expected.contains(t)),
            "{name}: five alarms or fewer are their own triggers"
        );
        assert_eq!(
            of_type(&template, "AWS::CloudWatch::CompositeAlarm").count(),
            0,
            "{name}: no composite alarm is needed for five alarms"
        );
    }
}

#[test]
fn the_vpn_admits_only_allowed_addresses_through_its_connect_handler() {
    use lambda_contract::vpn_connect::{ALLOWED_CLIENT_CIDRS, FUNCTION_NAME_PREFIX};
    use stacks::pipeline::vpn_connect;

    for name in ["dev", "prod"] {
        let env = env(name);
        for region in &env.regions {
            let stacks = pipeline::stacks(&env, region).unwrap();
            let template = stacks
                .into_iter()
                .find(|s| s.kind == StackKind::Pipeline)
                .unwrap()
                .template
                .to_json()
                .unwrap();
            let context = format!("{name} {region}");
            let function = &template["Resources"]["VpnConnect"]["Properties"];
            let function_name = function["FunctionName"].as_str().unwrap();
            assert!(function_name.starts_with(FUNCTION_NAME_PREFIX), "{context}");
            assert_eq!(function_name, vpn_connect::function_name(&env));
            assert!(function_name.len() <= 64, "{function_name}");
            assert_eq!(
                function["ReservedConcurrentExecutions"],
                vpn_connect::RESERVED_CONCURRENCY
            );
            // Client VPN times out the handler after 30 s.
            assert!(function["Timeout"].as_u64().unwrap() < 30);
            let allowed: Vec<String> = env
                .network
                .allowed_client_cidrs(region)
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(
                function["Environment"]["Variables"][ALLOWED_CLIENT_CIDRS],
                allowed.join(","),
                "{context}"
            );
            // The endpoint calls it for every connection, by its (unqualified) ARN.
            let (_, endpoint) = of_type(&template, "AWS::EC2::ClientVpnEndpoint")
                .next()
                .unwrap();
            assert_eq!(
                endpoint["ClientConnectOptions"],
                serde_json::json!({
                    "Enabled": true,
                    "LambdaFunctionArn": {"Fn::GetAtt": ["VpnConnect", "Arn"]}
                })
            );
            // Its role may only write its own logs.
            let policy = &template["Resources"]["VpnConnectPolicy"]["Properties"]["PolicyDocument"]
                ["Statement"];
            let actions: Vec<&str> = policy
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|s| s["Action"].as_array().unwrap())
                .map(|a| a.as_str().unwrap())
                .collect();
            assert_eq!(actions, ["logs:CreateLogStream", "logs:PutLogEvents"]);
            // Denials are counted from the handler's log group and alarmed on a burst, to the topic
            // (whose policy lets the alarm publish).
            let (_, filter) = of_type(&template, "AWS::Logs::MetricFilter")
                .next()
                .unwrap();
            assert_eq!(
                filter["LogGroupName"],
                serde_json::json!({"Ref": "VpnConnectLogGroup"})
            );
            assert_eq!(filter["FilterPattern"], vpn_connect::DENIAL_PATTERN);
            let transformation = &filter["MetricTransformations"][0];
            let alarm = &template["Resources"]["VpnDenialsAlarm"]["Properties"];
            assert_eq!(alarm["MetricName"], transformation["MetricName"]);
            assert_eq!(alarm["Namespace"], transformation["MetricNamespace"]);
            assert_eq!(
                alarm["AlarmActions"],
                serde_json::json!([{"Ref": "AlertTopic"}])
            );
            let topic_policy = template["Resources"]["AlertTopicPolicy"].to_string();
            assert!(topic_policy.contains("VpnDenialsAlarm"), "{context}");
            // The code parameters exist with the function.
            assert!(template["Parameters"]["VpnConnectCodeKey"].is_object());
        }
    }
    // No VPN, no handler and no parameters for its code.
    let local = pipeline_template("local");
    assert!(local["Resources"].get("VpnConnect").is_none());
    assert!(local["Parameters"].get("VpnConnectCodeKey").is_none());
    assert_eq!(of_type(&local, "AWS::Logs::MetricFilter").count(), 0);
}

#[test]
fn the_denial_filter_matches_the_handlers_own_log_field() {
    // The handler logs `decision = "deny"`; the filter pattern names the same field and value.
    let pattern = stacks::pipeline::vpn_connect::DENIAL_PATTERN;
    assert!(pattern.contains(r#"$.decision = "deny""#), "{pattern}");
}

/// What stops arriving raises an alarm: one per shard on its heartbeat's quotes, one on the stream's
/// incoming records, both with missing data breaching, both to the alert topic (and allowed by its
/// policy), neither a rollback trigger.
#[test]
fn silence_from_a_shard_or_on_the_stream_alarms_to_the_topic() {
    let mut env = env("prod");
    env.symbols = (0..100)
        .map(|i| quote_record::Symbol::parse(&format!("T{i}")).unwrap())
        .collect();
    env.scraper.instances = 3;
    env.scraper.interval_seconds = 15;
    let stacks = pipeline::stacks(&env, env.canary_region()).unwrap();
    let template = stacks[1].template.to_json().unwrap();
    let all = resources(&template);
    let policy = serde_json::to_string(&all["AlertTopicPolicy"]).unwrap();
    for index in 0..3u32 {
        let id = format!("ScraperShard{index}NoQuotesAlarm");
        let alarm = &all[&id]["Properties"];
        assert_eq!(
            alarm["AlarmName"],
            format!("mst-prod-{}", pipeline::shard_alarm_name(index))
        );
        assert_eq!(alarm["Namespace"], pipeline::HEARTBEAT_NAMESPACE);
        assert_eq!(alarm["MetricName"], "Quotes");
        assert_eq!(
            alarm["Dimensions"],
            json!([{"Name": "Environment", "Value": "prod"}, {"Name": "Shard", "Value": index.to_string()}])
        );
        // Four 15 s intervals round up to one minute of the heartbeat timer.
        assert_eq!(
            (
                alarm["Period"].as_u64(),
                alarm["EvaluationPeriods"].as_u64()
            ),
            (Some(60), Some(1))
        );
        assert_eq!(alarm["ComparisonOperator"], "LessThanThreshold");
        assert_eq!(alarm["TreatMissingData"], "breaching");
        assert_eq!(alarm["AlarmActions"], json!([{"Ref": "AlertTopic"}]));
        assert!(policy.contains(&format!("\"{id}\"")), "{id} may publish");
    }
    let stream = &all["QuoteStreamNoRecordsAlarm"]["Properties"];
    let records = &stream["Metrics"][0];
    assert_eq!(
        records["MetricStat"],
        json!({
            "Metric": {
                "Namespace": "AWS/Kinesis",
                "MetricName": "IncomingRecords",
                "Dimensions": [{"Name": "StreamName", "Value": {"Ref": "QuoteStream"}}],
            },
            "Period": 300,
            "Stat": "Sum",
        })
    );
    assert_eq!(records["ReturnData"], false);
    // Only within prod's market hours (the default, Mon-Fri 14:30-20:00 UTC), a silent period counts
    // as 0 records; outside them there is no datapoint and the alarm keeps its state.
    let watched = &stream["Metrics"][1];
    assert_eq!(watched["ReturnData"], true);
    assert_eq!(
        watched["Expression"],
        "IF((DAY(records) <= 5) AND ((HOUR(records) * 60 + MINUTE(records)) >= 870) \
         AND ((HOUR(records) * 60 + MINUTE(records)) < 1200), FILL(records, 0))"
    );
    assert_eq!(
        (
            stream["EvaluationPeriods"].as_u64(),
            stream["Threshold"].as_f64()
        ),
        (Some(3), Some(1.0))
    );
    assert_eq!(stream["ComparisonOperator"], "LessThanThreshold");
    assert_eq!(stream["TreatMissingData"], "ignore");
    assert!(stream.get("MetricName").is_none() && stream.get("Namespace").is_none());
    assert!(policy.contains("\"QuoteStreamNoRecordsAlarm\""));
    let triggers = pipeline::rollback_alarm_names(&env).join(" ");
    assert!(
        !triggers.contains("no-quotes") && !triggers.contains("no-records"),
        "{triggers}"
    );
}

#[test]
fn the_bootstrap_stack_is_the_artifacts_stack_with_the_roles_added() {
    // With `deploy:` (dev), the same stack (name, bucket's logical id and properties) gains the
    // deploy and execution roles: bootstrapping an environment deployed before updates it in place.
    let plain = env("local");
    let env = env("dev");
    let bootstrap = pipeline::stacks(&env, env.canary_region()).unwrap();
    let before = pipeline::stacks(&plain, plain.canary_region()).unwrap();
    assert_eq!(bootstrap[0].name, "mst-dev-artifacts");
    let template = bootstrap[0].template.to_json().unwrap();
    let old = before[0].template.to_json().unwrap();
    let bucket = |t: &Value| {
        let text = t["Resources"]["ArtifactsBucket"].to_string();
        text.replace("mst-local-", "mst-ENV-")
            .replace("mst-dev-", "mst-ENV-")
    };
    assert_eq!(bucket(&template), bucket(&old));
    let roles: BTreeSet<&str> = resources(&template)
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::IAM::Role")
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(roles, BTreeSet::from(["DeployRole", "ExecutionRole"]));
    let deploy = &template["Resources"]["DeployRole"]["Properties"];
    assert_eq!(
        deploy["RoleName"],
        serde_json::json!({"Fn::Sub": "mstboot-dev-deploy-${AWS::Region}"})
    );
    let trust = deploy["AssumeRolePolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    let gitlab = trust
        .iter()
        .find(|s| s["Sid"] == "GitLabPipelines")
        .unwrap();
    assert_eq!(
        gitlab["Action"],
        serde_json::json!(["sts:AssumeRoleWithWebIdentity"])
    );
    assert_eq!(
        gitlab["Condition"]["StringEquals"]["gitlab.com:sub"],
        serde_json::json!(["project_path:data-platform/mystocktracker:ref_type:branch:ref:main"])
    );
    assert_eq!(
        gitlab["Condition"]["StringEquals"]["gitlab.com:aud"],
        serde_json::json!(["sts.amazonaws.com"])
    );
    let named = trust
        .iter()
        .find(|s| s["Sid"] == "NamedPrincipals")
        .unwrap();
    assert_eq!(
        named["Principal"]["AWS"],
        serde_json::json!(["arn:aws:iam::111122223333:role/platform-operators"])
    );
    // The deploy role changes the pipeline only with the execution role and passes nothing else.
    let policy =
        &template["Resources"]["DeployPolicy"]["Properties"]["PolicyDocument"]["Statement"];
    let change = policy
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "ChangeThePipelineThroughTheExecutionRole")
        .unwrap();
    assert!(
        change["Resource"]
            .to_string()
            .contains("stack/mst-dev-pipeline/*")
    );
    assert!(
        change["Condition"]["ArnLike"]["cloudformation:RoleArn"]
            .to_string()
            .contains("role/mstboot-dev-cfn-exec-*")
    );
    let iam_actions: Vec<String> = policy
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().clone())
        .map(|a| a.as_str().unwrap().to_owned())
        .filter(|a| a.starts_with("iam:"))
        .collect();
    assert_eq!(iam_actions, ["iam:PassRole"]);
}

#[test]
fn the_scrapers_ami_is_a_plain_image_id_parameter_and_latest_is_read_by_the_deploy_role() {
    // The pipeline takes the AMI id the deployer resolved: CloudFormation never re-reads an SSM
    // parameter on its own, so a new AMI release cannot replace the scraper unannounced.
    for (name, region, kind, template) in all_templates() {
        if kind != StackKind::Pipeline {
            continue;
        }
        let parameter = &template["Parameters"][pipeline::SCRAPER_IMAGE_PARAMETER];
        assert_eq!(parameter["Type"], "AWS::EC2::Image::Id", "{name} {region}");
        assert!(parameter.get("Default").is_none(), "{name} {region}");
    }
    let grants = |env: &Environment| -> Vec<Value> {
        let stacks = pipeline::stacks(env, env.canary_region()).unwrap();
        let template = stacks[0].template.to_json().unwrap();
        template["Resources"]["DeployPolicy"]["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Action"].to_string().contains("ssm:"))
            .cloned()
            .collect()
    };
    // `latest` (dev's default): GetParameter on exactly AWS's public x86_64 parameter.
    let dev = env("dev");
    assert_eq!(dev.scraper.ami, environment::ScraperImage::Latest);
    let resolve = grants(&dev);
    assert_eq!(resolve.len(), 1);
    assert_eq!(
        resolve[0]["Action"],
        serde_json::json!(["ssm:GetParameter"])
    );
    assert_eq!(
        resolve[0]["Resource"],
        serde_json::json!([{"Fn::Sub": "arn:${AWS::Partition}:ssm:*:*:parameter/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"}])
    );
    // A fixed image id needs no SSM at all.
    let mut fixed = dev.clone();
    fixed.scraper.ami = environment::ScraperImage::Id("ami-0abcdef1234567890".into());
    assert!(grants(&fixed).is_empty());
}

/// The stream's silence expression follows the market hours: days and minutes of the day as metric
/// math numbers them (1 = Monday; minutes after midnight UTC), bounds left out where the window
/// reaches the end of the week or day, and no condition at all around the clock.
#[test]
fn the_stream_silence_expression_follows_the_market_hours() {
    use environment::MarketHours;
    let expression =
        |hours: &str| pipeline::stream_silence_expression(&MarketHours::parse(hours).unwrap(), "m");
    assert_eq!(
        expression("Sun-Thu 06:00-12:30"),
        "IF(((DAY(m) >= 7) OR (DAY(m) <= 4)) AND ((HOUR(m) * 60 + MINUTE(m)) >= 360) \
         AND ((HOUR(m) * 60 + MINUTE(m)) < 750), FILL(m, 0))"
    );
    assert_eq!(
        expression("Tue-Thu 14:30-20:00"),
        "IF((DAY(m) >= 2) AND (DAY(m) <= 4) AND ((HOUR(m) * 60 + MINUTE(m)) >= 870) \
         AND ((HOUR(m) * 60 + MINUTE(m)) < 1200), FILL(m, 0))"
    );
    assert_eq!(
        expression("Tue-Sun 00:00-24:00"),
        "IF((DAY(m) >= 2), FILL(m, 0))"
    );
    assert_eq!(
        expression("Mon-Sun 08:00-24:00"),
        "IF(((HOUR(m) * 60 + MINUTE(m)) >= 480), FILL(m, 0))"
    );
    assert_eq!(expression("always"), "FILL(m, 0)");
    assert_eq!(expression("Mon-Sun 00:00-24:00"), "FILL(m, 0)");
    // Around the clock, silence breaches through the missing-data rule too.
    let mut env = env("prod");
    env.alerts.market_hours = MarketHours::ALWAYS;
    let stacks = pipeline::stacks(&env, env.canary_region()).unwrap();
    let template = stacks[1].template.to_json().unwrap();
    let stream = &resources(&template)["QuoteStreamNoRecordsAlarm"]["Properties"];
    assert_eq!(stream["Metrics"][1]["Expression"], "FILL(records, 0)");
    assert_eq!(stream["TreatMissingData"], "breaching");
}
