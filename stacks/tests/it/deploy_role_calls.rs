//! The deploy role allows every AWS call the deployer makes with it.
//!
//! `up`, `diff`, `down`, `status`, `dr status`, `verify` (also `up`'s canary gate) and `vpn` run with the
//! bootstrap stack's deploy role: an SDK call its policy does not allow is an AccessDenied in a real
//! account, which no emulator test sees (moto enforces IAM only where a test turns it on). So the
//! deployer crates' sources are scanned for SDK operation calls (`<client>.<operation>()` ... `.send()`
//! or `.into_paginator()`) and for `aws_connect`'s direct calls (`<client>.call("Operation", ...)`),
//! each mapped to its IAM action, and every one must be allowed by the
//! snapshot of the deploy role's policy (`policies/<env>/DeployRole.json`, which CI keeps equal to
//! what `deployer synth` builds) or be listed below with the reason it does not run with the role.

#![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Crates under `deployer/` whose calls never run with the deploy role.
const EXCLUDED_CRATES: &[(&str, &str)] = &[
    (
        "local-run",
        "`deployer run`: the local world against the emulator, with the emulator's credentials",
    ),
    (
        "local-firehose",
        "`deployer run`'s Firehose, on the emulator",
    ),
    (
        "lambda-host",
        "`deployer run`'s Lambda host, on the emulator",
    ),
    (
        "policy-review",
        "`policy diff --against-deployed` reads the deployed roles with the caller's own credentials (`Aws::load`), never the assumed deploy role",
    ),
];

/// Calls (file, IAM action) that run with the deploy role but need no grant, or never run with it.
const EXCLUDED_CALLS: &[(&str, &str, &str)] = &[
    (
        "deployer/engine/src/aws.rs",
        "sts:GetCallerIdentity",
        "needs no permission: STS answers it for any caller (the account check before any stack operation)",
    ),
    (
        "deployer/cli/src/bootstrap_cmd.rs",
        "sts:GetCallerIdentity",
        "`bootstrap` runs with an administrator's credentials, and GetCallerIdentity needs no permission",
    ),
    (
        "deployer/engine/src/artifacts.rs",
        "s3:PutBucketVersioning",
        "emulator only (`enable_versioning_on_emulator`: moto's CloudFormation drops VersioningConfiguration); AWS's CloudFormation sets it",
    ),
    (
        "deployer/engine/src/dr.rs",
        "s3:PutReplicationConfiguration",
        "emulator only (`apply_replication_on_emulator`: moto's CloudFormation drops ReplicationConfiguration); AWS's CloudFormation sets it",
    ),
];

/// SDK operations whose IAM action is not `service:OperationInPascalCase`.
const ACTION_OF: &[(&str, &str, &str)] = &[
    ("s3", "head_bucket", "s3:ListBucket"),
    ("s3", "head_object", "s3:GetObject"),
    ("s3", "list_objects_v2", "s3:ListBucket"),
    ("s3", "list_object_versions", "s3:ListBucketVersions"),
    ("s3", "delete_objects", "s3:DeleteObject"),
    (
        "s3",
        "get_bucket_encryption",
        "s3:GetEncryptionConfiguration",
    ),
    (
        "s3",
        "get_bucket_replication",
        "s3:GetReplicationConfiguration",
    ),
    (
        "s3",
        "put_bucket_replication",
        "s3:PutReplicationConfiguration",
    ),
];

/// The IAM service prefix of a client, by the name the code gives it (a variable, a field of the
/// region's clients, or the accessor of a connection: `base.sts()`).
const CLIENTS: &[(&str, &str)] = &[
    ("cloudformation", "cloudformation"),
    ("cfn", "cloudformation"),
    ("cloudwatch", "cloudwatch"),
    ("s3", "s3"),
    ("kms", "kms"),
    ("sts", "sts"),
    ("sns", "sns"),
    ("sqs", "sqs"),
    ("secretsmanager", "secretsmanager"),
    ("secrets", "secretsmanager"),
    ("kinesis", "kinesis"),
    ("lambda", "lambda"),
    ("firehose", "firehose"),
    ("glue", "glue"),
    ("iam", "iam"),
    ("ssm", "ssm"),
    ("autoscaling", "autoscaling"),
    ("ec2", "ec2"),
    ("acm", "acm"),
];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One SDK operation call found in the sources.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Call {
    /// Relative to the repository, `/`-separated.
    file: String,
    line: usize,
    /// `service:Action`.
    action: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn skip_space_back(text: &[u8], mut at: usize) -> usize {
    while at > 0 && text[at - 1].is_ascii_whitespace() {
        at -= 1;
    }
    at
}

/// A link of a method chain, read backwards: `.name(args)`, or the receiver's path segment `name`.
#[derive(Debug)]
struct Link {
    name: String,
    /// `None` for a path segment (no call), `Some(true)` for `name()`.
    empty_args: Option<bool>,
}

/// The chain that ends just before `end` (the `.` of `.send()`), first link first.
fn chain_before(text: &[u8], end: usize) -> Vec<Link> {
    let mut links = Vec::new();
    let mut at = end;
    loop {
        at = skip_space_back(text, at);
        let mut empty_args = None;
        if at > 0 && text[at - 1] == b')' {
            // Find the matching `(`.
            let close = at - 1;
            let mut depth = 0usize;
            let mut i = close + 1;
            while i > 0 {
                i -= 1;
                match text[i] {
                    b')' => depth += 1,
                    b'(' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            empty_args = Some(text[i + 1..close].iter().all(u8::is_ascii_whitespace));
            at = i;
        }
        let name_end = at;
        while at > 0 && is_ident(text[at - 1]) {
            at -= 1;
        }
        if at == name_end {
            break;
        }
        links.push(Link {
            name: String::from_utf8_lossy(&text[at..name_end]).into_owned(),
            empty_args,
        });
        let before = skip_space_back(text, at);
        if before > 0 && text[before - 1] == b'.' {
            at = before - 1;
        } else {
            break;
        }
    }
    links.reverse();
    links
}

/// The chain the nearest `let [mut] name = <path>.<call>(...)` before `before` starts with, up to
/// its first call (a rebinding such as `let request = match ...` is passed over).
fn chain_of_binding(text: &str, name: &str, before: usize) -> Vec<Link> {
    let head = &text[..before];
    let mut starts: Vec<usize> = [format!("let mut {name} ="), format!("let {name} =")]
        .iter()
        .flat_map(|pattern| {
            head.match_indices(pattern.as_str())
                .map(|(i, _)| i + pattern.len())
                .collect::<Vec<_>>()
        })
        .collect();
    starts.sort_unstable();
    starts
        .into_iter()
        .rev()
        .map(|start| chain_after(text, start))
        .find(|links| links.iter().any(|l| l.empty_args.is_some()))
        .unwrap_or_default()
}

/// The path and first call that start at `start`: `clients.kinesis.put_records(`.
fn chain_after(text: &str, start: usize) -> Vec<Link> {
    let bytes = text.as_bytes();
    let mut links = Vec::new();
    let mut at = start;
    loop {
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let name_start = at;
        while at < bytes.len() && is_ident(bytes[at]) {
            at += 1;
        }
        if at == name_start {
            break;
        }
        let name = text[name_start..at].to_owned();
        if bytes.get(at) == Some(&b'(') {
            let empty = bytes.get(at + 1) == Some(&b')');
            links.push(Link {
                name,
                empty_args: Some(empty),
            });
            break;
        }
        links.push(Link {
            name,
            empty_args: None,
        });
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if bytes.get(at) == Some(&b'.') {
            at += 1;
        } else {
            break;
        }
    }
    links
}

fn pascal(operation: &str) -> String {
    operation
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

fn service_of_client(name: &str) -> Option<&'static str> {
    CLIENTS
        .iter()
        .find(|(client, _)| *client == name)
        .map(|(_, service)| *service)
}

/// `text` with comments and the contents of string and character literals blanked (newlines
/// kept), so that neither a `//` comment inside a call chain nor a `(` in a string misleads the scan.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push_str("  ");
            i += 2;
        } else if c == '"' || (c == 'r' && (next == Some('"') || next == Some('#'))) {
            // A string, raw (`r#"..."#`) or not.
            let raw = c == 'r';
            let mut hashes = 0;
            if raw {
                out.push(' ');
                i += 1;
                while chars.get(i) == Some(&'#') {
                    hashes += 1;
                    out.push(' ');
                    i += 1;
                }
                if chars.get(i) != Some(&'"') {
                    continue;
                }
            }
            out.push('"');
            i += 1;
            while i < chars.len() {
                if !raw && chars[i] == '\\' {
                    out.push(' ');
                    out.push(chars.get(i + 1).map_or(' ', |&c| blank(c)));
                    i += 2;
                    continue;
                }
                if chars[i] == '"' && (0..hashes).all(|k| chars.get(i + 1 + k) == Some(&'#')) {
                    out.push('"');
                    out.extend(std::iter::repeat_n(' ', hashes));
                    i += 1 + hashes;
                    break;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
        } else if c == '\'' && next == Some('\\') {
            // An escaped character literal, `'\''` or `'\n'`.
            let end = (i + 3..chars.len())
                .find(|&k| chars[k] == '\'')
                .unwrap_or(chars.len() - 1);
            out.extend(std::iter::repeat_n(' ', end + 1 - i));
            i = end + 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            out.push_str("   ");
            i += 3;
        } else {
            if c.is_alphanumeric() || c == '_' {
                // An identifier (a `br` or `r` inside it starts no string).
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    out.push(chars[i]);
                    i += 1;
                }
                continue;
            }
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The SDK operation calls of one source file (its `#[cfg(test)]` module left out).
fn calls_in(relative: &str, text: &str) -> Vec<Call> {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    // The literals `code_only` blanks, char for char: a direct call's operation is one.
    let source: Vec<char> = text.chars().collect();
    let code = code_only(text);
    let text = code.as_str();
    let bytes = text.as_bytes();
    // `client` is the one client type the file imports (`aws_sdk_cloudformation::Client`).
    let imported: BTreeSet<&str> = text
        .match_indices("aws_sdk_")
        .filter_map(|(i, _)| {
            let rest = &text[i + "aws_sdk_".len()..];
            let service = rest.split(|c: char| !is_ident(c as u8)).next()?;
            rest[service.len()..]
                .starts_with("::Client")
                .then_some(service)
        })
        .collect();
    let mut calls = Vec::new();
    for terminal in [".send()", ".into_paginator()"] {
        for (at, _) in text.match_indices(terminal) {
            let mut links = chain_before(bytes, at);
            if links.len() == 1 && links[0].empty_args.is_none() {
                // `request.send()`: the chain the variable was bound to.
                links = chain_of_binding(text, &links[0].name, at);
            }
            // The operation: the last argument-less call before the first call with arguments.
            let first_call = links.iter().position(|l| l.empty_args.is_some());
            let Some(first_call) = first_call else {
                continue;
            };
            let mut op = None;
            for (i, link) in links.iter().enumerate().skip(first_call) {
                if link.empty_args == Some(true) {
                    op = Some(i);
                } else {
                    break;
                }
            }
            // Not an SDK operation (a reqwest builder: `http.get(url).send()`).
            let Some(op) = op else { continue };
            let client = op.checked_sub(1).map(|i| links[i].name.as_str());
            let service = match client {
                Some("client") if imported.len() == 1 => imported.iter().next().copied(),
                Some(name) => service_of_client(name),
                None => None,
            };
            let line = text[..at].matches('\n').count() + 1;
            let operation = &links[op].name;
            let Some(service) = service else {
                panic!(
                    "{relative}:{line}: `.{operation}()` on a client this test cannot name ({client:?}): add it to CLIENTS"
                );
            };
            let action = ACTION_OF
                .iter()
                .find(|(s, o, _)| *s == service && o == operation)
                .map_or_else(
                    || format!("{service}:{}", pascal(operation)),
                    |(_, _, action)| (*action).to_owned(),
                );
            calls.push(Call {
                file: relative.to_owned(),
                line,
                action,
            });
        }
    }
    // `aws_connect`'s direct calls (EC2, SSM, Glue without their SDK crates):
    // `<client>.call("Operation", ...)`, the operation named as the API and IAM name it. A `.call`
    // on a receiver that is no AWS client (Grafana's HTTP API) is not one.
    for (at, _) in text.match_indices(".call(") {
        let start = text[..at].chars().count() + ".call(".len();
        let arguments: String = source[start..].iter().take(120).collect();
        let Some(operation) = arguments
            .trim_start()
            .strip_prefix('"')
            .and_then(|rest| rest.split('"').next())
            .filter(|name| name.starts_with(|c: char| c.is_ascii_uppercase()))
        else {
            continue;
        };
        let links = chain_before(bytes, at);
        let Some(service) = links.last().and_then(|l| service_of_client(&l.name)) else {
            continue;
        };
        calls.push(Call {
            file: relative.to_owned(),
            line: text[..at].matches('\n').count() + 1,
            action: format!("{service}:{operation}"),
        });
    }
    calls
}

/// Every SDK operation call of the deployer crates that may run with the deploy role.
fn deployer_calls() -> Vec<Call> {
    let root = repository();
    let mut calls = Vec::new();
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root.join("deployer"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    crates.sort();
    for krate in crates {
        let name = krate.file_name().unwrap().to_string_lossy().into_owned();
        if EXCLUDED_CRATES.iter().any(|(c, _)| *c == name) {
            continue;
        }
        let mut files = Vec::new();
        rust_files(&krate.join("src"), &mut files);
        files.sort();
        for file in files {
            let relative = file
                .strip_prefix(&root)
                .unwrap()
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            calls.extend(calls_in(
                &relative,
                &std::fs::read_to_string(&file).unwrap(),
            ));
        }
    }
    calls
}

/// The actions the deploy role's snapshot allows (on any of its resources).
fn deploy_role_actions(env: &str) -> BTreeSet<String> {
    let path = repository().join(format!("policies/{env}/DeployRole.json"));
    let snapshot: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut actions = BTreeSet::new();
    for statement in snapshot["permissions"].as_array().unwrap() {
        if statement["Effect"] != "Allow" {
            continue;
        }
        match &statement["Action"] {
            serde_json::Value::String(action) => {
                actions.insert(action.clone());
            }
            serde_json::Value::Array(list) => {
                actions.extend(list.iter().filter_map(|a| a.as_str().map(str::to_owned)));
            }
            _ => {}
        }
    }
    actions
}

/// The environments with a deploy role (`deploy:` in their file).
fn environments_with_deploy_role() -> Vec<String> {
    let mut envs: Vec<String> = std::fs::read_dir(repository().join("policies"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("DeployRole.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    envs.sort();
    envs
}

/// The calls the deploy role of `env` does not allow and no exclusion accounts for.
fn ungranted(calls: &[Call], granted: &BTreeSet<String>) -> Vec<String> {
    calls
        .iter()
        .filter(|call| !granted.contains(&call.action))
        .filter(|call| {
            !EXCLUDED_CALLS
                .iter()
                .any(|(file, action, _)| *file == call.file && *action == call.action)
        })
        .map(|call| format!("{}:{}: {}", call.file, call.line, call.action))
        .collect()
}

#[test]
fn the_deploy_role_allows_every_call_the_deployer_makes_with_it() {
    let calls = deployer_calls();
    let envs = environments_with_deploy_role();
    assert!(
        envs.contains(&"prod".to_owned()),
        "no policies/prod/DeployRole.json: {envs:?}"
    );
    for env in envs {
        let missing = ungranted(&calls, &deploy_role_actions(&env));
        assert!(
            missing.is_empty(),
            "the deploy role of {env} does not allow these calls (AccessDenied in a real account): grant them with a `Use::Deployer*` row in stacks/src/pipeline/bootstrap.rs, or list them in EXCLUDED_CALLS with the reason they never run with the role:\n  {}",
            missing.join("\n  ")
        );
    }
}

#[test]
fn the_scan_finds_the_calls_each_command_is_known_to_make() {
    let found: BTreeMap<String, BTreeSet<String>> =
        deployer_calls()
            .into_iter()
            .fold(BTreeMap::new(), |mut by_file, call| {
                by_file.entry(call.file).or_default().insert(call.action);
                by_file
            });
    // A scanner that stopped seeing calls would make the test above pass on anything.
    for (file, action) in [
        // Bound to a variable first, then sent (`request.send()`).
        (
            "deployer/engine/src/change_set.rs",
            "cloudformation:CreateChangeSet",
        ),
        ("deployer/engine/src/dr.rs", "cloudwatch:GetMetricData"),
        ("deployer/verify/src/hops.rs", "kinesis:PutRecords"),
        // A receiver named `client`, typed by the file's import.
        (
            "deployer/engine/src/apply.rs",
            "cloudformation:ExecuteChangeSet",
        ),
        // Through a connection's accessor and a table-mapped action.
        ("deployer/engine/src/aws.rs", "sts:GetCallerIdentity"),
        ("deployer/engine/src/adopt.rs", "s3:ListBucket"),
        ("deployer/engine/src/artifacts.rs", "s3:PutObject"),
        // Direct calls of `aws_connect` (JSON and Query APIs).
        ("deployer/verify/src/checks.rs", "glue:GetTable"),
        ("deployer/vpn/src/lib.rs", "acm:GetCertificate"),
        (
            "deployer/verify/src/checks.rs",
            "firehose:DescribeDeliveryStream",
        ),
        ("deployer/engine/src/image.rs", "ssm:GetParameter"),
        ("deployer/engine/src/keys.rs", "kms:DescribeKey"),
        ("deployer/engine/src/keys.rs", "kms:ScheduleKeyDeletion"),
        ("deployer/engine/src/keys.rs", "kms:ListAliases"),
        (
            "deployer/engine/src/fleet.rs",
            "autoscaling:DescribeAutoScalingGroups",
        ),
        // A REST-JSON one.
        ("deployer/verify/src/checks.rs", "lambda:GetFunction"),
        (
            "deployer/verify/src/checks.rs",
            "lambda:ListEventSourceMappings",
        ),
        (
            "deployer/vpn/src/lib.rs",
            "ec2:ExportClientVpnClientConfiguration",
        ),
        (
            "deployer/vpn/src/lib.rs",
            "ec2:ImportClientVpnClientCertificateRevocationList",
        ),
    ] {
        assert!(
            found
                .get(file)
                .is_some_and(|actions| actions.contains(action)),
            "the scan no longer finds {action} in {file}: {found:#?}"
        );
    }
    // No reqwest call (InfluxDB, the emulator's API) is taken for an SDK call.
    assert!(
        !found.contains_key("deployer/verify/src/influx.rs")
            || found["deployer/verify/src/influx.rs"]
                == BTreeSet::from(["secretsmanager:GetSecretValue".to_owned()]),
        "{:?}",
        found.get("deployer/verify/src/influx.rs")
    );
}

#[test]
fn every_exclusion_still_names_a_call_the_scan_finds() {
    let calls = deployer_calls();
    for (file, action, reason) in EXCLUDED_CALLS {
        assert!(
            calls.iter().any(|c| c.file == *file && c.action == *action),
            "EXCLUDED_CALLS names {action} in {file} ({reason}), which no longer makes it: remove the row"
        );
    }
    let root = repository();
    for (krate, _) in EXCLUDED_CRATES {
        assert!(
            root.join("deployer")
                .join(krate)
                .join("Cargo.toml")
                .is_file(),
            "EXCLUDED_CRATES names deployer/{krate}, which does not exist"
        );
    }
}

#[test]
fn a_call_the_role_does_not_allow_is_reported_in_either_form() {
    let sdk = "async fn f(clients: &Clients) {\n    clients\n        .glue\n        .delete_table()\n        .name(n)\n        .send()\n        .await;\n}\n";
    // `aws_connect`'s direct call: the operation is a literal (after a `(` inside a string and a
    // non-ASCII comment, which must not shift what is read); Grafana's `.call("GET", ...)` is not
    // an AWS call.
    let direct = "async fn f(clients: &Clients) {\n    // the table → gone\n    let _ = grafana.call(\"GET\", \"/api(\", None);\n    clients\n        .glue\n        .call(\n            \"DeleteTable\",\n            json!({ \"Name\": n }),\n        )\n        .await;\n}\n";
    for text in [sdk, direct] {
        let calls = calls_in("deployer/engine/src/new.rs", text);
        assert_eq!(
            calls,
            [Call {
                file: "deployer/engine/src/new.rs".into(),
                line: 6,
                action: "glue:DeleteTable".into(),
            }],
            "{text}"
        );
        let missing = ungranted(&calls, &deploy_role_actions("prod"));
        assert_eq!(missing, ["deployer/engine/src/new.rs:6: glue:DeleteTable"]);
    }
}

/// The statements of the deploy role's policy in the bootstrap stack of `env`'s first region.
fn deploy_policy_statements(env: &environment::Environment) -> Vec<serde_json::Value> {
    let stacks = stacks::pipeline::stacks(env, &env.regions[0]).unwrap();
    let artifacts = stacks
        .iter()
        .find(|s| s.kind == stacks::pipeline::StackKind::Artifacts)
        .unwrap();
    let json = artifacts.template.to_json().unwrap();
    json["Resources"]["DeployPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_multi_account_deploy_role_may_assume_exactly_the_other_accounts_deploy_roles() {
    let text = std::fs::read_to_string(repository().join("environments/prod.yaml")).unwrap();
    let single = environment::parse("prod.yaml", &text).unwrap();
    assert!(
        deploy_policy_statements(&single)
            .iter()
            .all(|s| s["Sid"] != "AssumeTheOtherAccountsDeployRoles"),
        "one account: nothing to assume"
    );

    // eu-central-1 in a second account, us-east-1 in a third with a role of its own.
    let text = text.replacen(
        "deploy:\n",
        "deploy:\n  accounts:\n    eu-central-1: \"777788889999\"\n    us-east-1: \"121212121212\"\n  roles:\n    \"121212121212\": arn:aws:iam::121212121212:role/deployer\n",
        1,
    );
    // Each region's VPN certificates are in its own account (ACM certificates are not shared).
    let text = text
        .replace(
            "arn:aws:acm:eu-central-1:444455556666:",
            "arn:aws:acm:eu-central-1:777788889999:",
        )
        .replace(
            "arn:aws:acm:us-east-1:444455556666:",
            "arn:aws:acm:us-east-1:121212121212:",
        );
    let multi = environment::parse("prod.yaml", &text).unwrap();
    let statements = deploy_policy_statements(&multi);
    let assume = statements
        .iter()
        .find(|s| s["Sid"] == "AssumeTheOtherAccountsDeployRoles")
        .unwrap();
    assert_eq!(assume["Action"], serde_json::json!(["sts:AssumeRole"]));
    assert_eq!(
        assume["Resource"],
        serde_json::json!([
            "arn:aws:iam::444455556666:role/mstboot-prod-deploy-eu-west-1",
            "arn:aws:iam::777788889999:role/mstboot-prod-deploy-eu-central-1",
            "arn:aws:iam::121212121212:role/deployer",
        ])
    );
}

/// The statement `sid` of `statements`, its actions and its resources as text.
fn statement<'a>(statements: &'a [serde_json::Value], sid: &str) -> &'a serde_json::Value {
    statements
        .iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no statement {sid}"))
}

fn has_action(statement: &serde_json::Value, action: &str) -> bool {
    statement["Action"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == action)
}

#[test]
fn the_deploy_role_changes_the_dr_regions_replica_stack_by_name_through_the_execution_role() {
    let text = std::fs::read_to_string(repository().join("environments/prod.yaml")).unwrap();
    let with_dr = environment::parse("prod.yaml", &text).unwrap();
    assert!(with_dr.dr.is_some());
    let statements = deploy_policy_statements(&with_dr);
    let replica = "cloudformation:*:${AWS::AccountId}:stack/mst-prod-replica/*";
    // Creating a change set (and deleting the stack) only while passing an execution role.
    let create = statement(&statements, "ChangeThePipelineThroughTheExecutionRole");
    assert!(has_action(create, "cloudformation:CreateChangeSet"));
    assert!(create["Resource"].to_string().contains(replica), "{create}");
    assert!(
        create["Condition"]["ArnLike"]["cloudformation:RoleArn"]
            .to_string()
            .contains("role/mstboot-prod-cfn-exec-*"),
        "{create}"
    );
    let run = statement(&statements, "RunThePipelinesChangeSets");
    for action in [
        "cloudformation:DescribeChangeSet",
        "cloudformation:ExecuteChangeSet",
        "cloudformation:DeleteChangeSet",
    ] {
        assert!(has_action(run, action), "{action}: {run}");
    }
    assert!(run["Resource"].to_string().contains(replica), "{run}");
    // Scoped by name: never every stack, never the bootstrap stack.
    for changing in [create, run] {
        let resources = changing["Resource"].to_string();
        assert!(!resources.contains("stack/mst-prod-*"), "{resources}");
        assert!(!resources.contains("mst-prod-artifacts"), "{resources}");
        assert!(!resources.contains("\"*\""), "{resources}");
    }
    // `down --purge-data` empties the replica buckets and retires the replica key.
    let purge = statement(&statements, "PurgeDataBuckets")["Resource"].to_string();
    assert!(
        purge.contains("mst-prod-raw-dr-${AWS::AccountId}-*"),
        "{purge}"
    );
    assert!(
        purge.contains("mst-prod-curated-dr-${AWS::AccountId}-*"),
        "{purge}"
    );
    let key = statement(&statements, "RetireTheDataKey")["Condition"].to_string();
    assert!(key.contains("mst-prod-replica"), "{key}");

    // Without `dr:` there is no replica stack to change.
    let dr_section = "dr:\n  region: eu-north-1\n  rpo_minutes: 15\n  rto_minutes: 120\n";
    assert!(text.contains(dr_section));
    let without_dr = environment::parse("prod.yaml", &text.replacen(dr_section, "", 1)).unwrap();
    assert!(without_dr.dr.is_none());
    let statements = deploy_policy_statements(&without_dr);
    for sid in [
        "ChangeThePipelineThroughTheExecutionRole",
        "RunThePipelinesChangeSets",
    ] {
        let resources = statement(&statements, sid)["Resource"].to_string();
        assert!(
            !resources.contains("mst-prod-replica"),
            "{sid}: {resources}"
        );
    }
    assert!(
        !statement(&statements, "PurgeDataBuckets")["Resource"]
            .to_string()
            .contains("-dr-")
    );
}

#[test]
fn a_dr_region_alone_in_its_account_is_reached_through_its_own_deploy_role() {
    // Every region in a second account: prod's `account` holds only the DR region (eu-north-1).
    let text = std::fs::read_to_string(repository().join("environments/prod.yaml")).unwrap();
    let text = text.replacen(
        "deploy:\n",
        "deploy:\n  accounts:\n    eu-west-1: \"777788889999\"\n    eu-central-1: \"777788889999\"\n    us-east-1: \"777788889999\"\n",
        1,
    );
    // The VPN certificates are in the regions' account (ACM certificates are not shared).
    let text = text.replace(":444455556666:certificate/", ":777788889999:certificate/");
    let env = environment::parse("prod.yaml", &text).unwrap();
    let accounts: Vec<(String, String)> = stacks::pipeline::deploy_accounts(&env)
        .into_iter()
        .map(|(a, r)| (a.as_str().to_owned(), r.to_string()))
        .collect();
    assert_eq!(
        accounts,
        [
            ("777788889999".to_owned(), "eu-west-1".to_owned()),
            ("444455556666".to_owned(), "eu-north-1".to_owned()),
        ]
    );
    let statements = deploy_policy_statements(&env);
    assert_eq!(
        statement(&statements, "AssumeTheOtherAccountsDeployRoles")["Resource"],
        serde_json::json!([
            "arn:aws:iam::777788889999:role/mstboot-prod-deploy-eu-west-1",
            "arn:aws:iam::444455556666:role/mstboot-prod-deploy-eu-north-1",
        ])
    );
    // ... which the DR region's bootstrap stack holds.
    let dr_bootstrap = stacks::pipeline::dr_stacks(&env)
        .unwrap()
        .into_iter()
        .find(|s| s.kind == stacks::pipeline::StackKind::Artifacts)
        .unwrap()
        .template
        .to_json()
        .unwrap();
    assert_eq!(
        dr_bootstrap["Resources"]["DeployRole"]["Properties"]["RoleName"],
        serde_json::json!({"Fn::Sub": "mstboot-prod-deploy-${AWS::Region}"})
    );
}
