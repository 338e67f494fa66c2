//! Disaster recovery in the generated stacks: with `dr:` (prod.yaml) every region's raw and curated
//! buckets replicate to the DR region's replica buckets with S3 Replication Time Control, under the
//! replica key, with a role holding exactly the documented permissions, and alarms on the replication
//! metrics; without it (dev.yaml) nothing of it exists.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
use std::collections::BTreeSet;

use environment::Environment;
use serde_json::{Value, json};
use stacks::kms_use;
use stacks::pipeline::{self, REPLICA_KEY_PARAMETER, StackKind};

fn env(name: &str) -> Environment {
    let path = format!("{}/../environments/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
    environment::load(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{e}"))
}

fn pipeline_of(env: &Environment) -> Value {
    pipeline::stacks(env, env.canary_region())
        .unwrap()
        .into_iter()
        .find(|s| s.kind == StackKind::Pipeline)
        .unwrap()
        .template
        .to_json()
        .unwrap()
}

fn replica_of(env: &Environment) -> Value {
    let stack = pipeline::replica_stack(env).unwrap().unwrap();
    assert_eq!(stack.kind, StackKind::Replica);
    assert_eq!(stack.name, format!("mst-{}-replica", env.name.as_str()));
    stack.template.to_json().unwrap()
}

fn sub(value: &Value) -> String {
    value["Fn::Sub"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| value.to_string())
}

fn of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id, &r["Properties"]))
        .collect()
}

#[test]
fn each_data_bucket_replicates_with_rtc_metrics_and_the_replica_key() {
    let env = env("prod");
    let template = pipeline_of(&env);
    for (bucket, purpose) in [("RawBucket", "raw"), ("CuratedBucket", "curated")] {
        let properties = &template["Resources"][bucket]["Properties"];
        assert_eq!(properties["VersioningConfiguration"]["Status"], "Enabled");
        let config = &properties["ReplicationConfiguration"];
        assert_eq!(
            config["Role"],
            json!({"Fn::GetAtt": ["ReplicationRole", "Arn"]})
        );
        let rules = config["Rules"].as_array().unwrap();
        assert_eq!(rules.len(), 1, "{bucket}");
        let rule = &rules[0];
        assert_eq!(rule["Id"], pipeline::REPLICATION_RULE_ID);
        assert_eq!(rule["Status"], "Enabled");
        assert_eq!(rule["Filter"], json!({"Prefix": ""}));
        // Decision: deletions in the source region never reach the copy meant to survive them.
        assert_eq!(
            rule["DeleteMarkerReplication"],
            json!({"Status": "Disabled"})
        );
        assert_eq!(
            rule["SourceSelectionCriteria"],
            json!({"SseKmsEncryptedObjects": {"Status": "Enabled"}})
        );
        let destination = &rule["Destination"];
        assert_eq!(
            sub(&destination["Bucket"]),
            format!(
                "arn:${{AWS::Partition}}:s3:::mst-prod-{purpose}-dr-${{AWS::AccountId}}-${{AWS::Region}}"
            )
        );
        assert_eq!(
            destination["EncryptionConfiguration"],
            json!({"ReplicaKmsKeyID": {"Ref": REPLICA_KEY_PARAMETER}})
        );
        assert_eq!(
            destination["ReplicationTime"],
            json!({"Status": "Enabled", "Time": {"Minutes": 15}})
        );
        assert_eq!(
            destination["Metrics"],
            json!({"Status": "Enabled", "EventThreshold": {"Minutes": 15}})
        );
        // The bucket waits for the role's policy: S3 checks the role when it takes the rule.
        let depends = template["Resources"][bucket]["DependsOn"].to_string();
        assert!(depends.contains("ReplicationPolicy"), "{bucket}: {depends}");
    }
    assert_eq!(
        template["Parameters"][REPLICA_KEY_PARAMETER]["AllowedPattern"]
            .as_str()
            .map(|p| p.contains(":kms:")),
        Some(true)
    );
}

#[test]
fn the_replica_stack_holds_a_versioned_encrypted_replica_of_each_bucket_of_each_region() {
    let env = env("prod");
    let template = replica_of(&env);
    let buckets = of_type(&template, "AWS::S3::Bucket");
    let mut names = BTreeSet::new();
    for (id, properties) in &buckets {
        assert_eq!(
            properties["VersioningConfiguration"]["Status"], "Enabled",
            "{id}"
        );
        assert_eq!(
            properties["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"], true,
            "{id}"
        );
        if id.as_str() == "AccessLogsBucket" {
            continue;
        }
        let default = &properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"];
        assert_eq!(default["SSEAlgorithm"], "aws:kms", "{id}");
        assert!(
            sub(&default["KMSMasterKeyID"]).contains("${ReplicaKey}"),
            "{id}"
        );
        names.insert(sub(&properties["BucketName"]));
    }
    // What each region's pipeline names as its destinations, with that region filled in.
    let mut expected = BTreeSet::new();
    for region in &env.regions {
        for purpose in ["raw", "curated"] {
            expected.insert(format!(
                "mst-prod-{purpose}-dr-${{AWS::AccountId}}-{region}"
            ));
        }
    }
    assert_eq!(names, expected);
    let keys = of_type(&template, "AWS::KMS::Key");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].1["EnableKeyRotation"], true);
    let aliases = of_type(&template, "AWS::KMS::Alias");
    assert_eq!(aliases[0].1["AliasName"], "alias/mst-prod-replica");
    // No role lives in the DR region: replication runs as the source regions' role.
    assert!(of_type(&template, "AWS::IAM::Role").is_empty());
}

/// The replication role's statements, as (actions, resources) texts, in document order.
fn replication_statements(template: &Value) -> Vec<Value> {
    template["Resources"]["ReplicationPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .clone()
}

fn texts(value: &Value) -> Vec<String> {
    value.as_array().unwrap().iter().map(sub).collect()
}

#[test]
fn the_replication_role_has_exactly_the_documented_permissions() {
    let template = pipeline_of(&env("prod"));
    let raw = "arn:${AWS::Partition}:s3:::mst-prod-raw-${AWS::AccountId}-${AWS::Region}";
    let curated = "arn:${AWS::Partition}:s3:::mst-prod-curated-${AWS::AccountId}-${AWS::Region}";
    let raw_dr = "arn:${AWS::Partition}:s3:::mst-prod-raw-dr-${AWS::AccountId}-${AWS::Region}";
    let curated_dr =
        "arn:${AWS::Partition}:s3:::mst-prod-curated-dr-${AWS::AccountId}-${AWS::Region}";
    // "Setting up permissions for live replication" and "Replicating encrypted objects".
    let documented: Vec<(Vec<&str>, Vec<String>)> = vec![
        (
            vec!["s3:GetReplicationConfiguration", "s3:ListBucket"],
            vec![raw.to_owned(), curated.to_owned()],
        ),
        (
            vec![
                "s3:GetObjectVersionAcl",
                "s3:GetObjectVersionForReplication",
                "s3:GetObjectVersionTagging",
            ],
            vec![format!("{raw}/*"), format!("{curated}/*")],
        ),
        (
            vec![
                "s3:ReplicateDelete",
                "s3:ReplicateObject",
                "s3:ReplicateTags",
            ],
            vec![format!("{raw_dr}/*"), format!("{curated_dr}/*")],
        ),
        (
            vec!["kms:Decrypt"],
            vec![
                "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/${DataKey}".into(),
            ],
        ),
        (
            vec!["kms:Encrypt"],
            vec![format!("${{{REPLICA_KEY_PARAMETER}}}")],
        ),
    ];
    let statements = replication_statements(&template);
    let granted: Vec<(Vec<String>, Vec<String>)> = statements
        .iter()
        .map(|s| {
            assert_eq!(s["Effect"], "Allow");
            let resources = s["Resource"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| match r.get("Ref") {
                    Some(Value::String(id)) => format!("${{{id}}}"),
                    _ => sub(r),
                })
                .collect();
            (texts(&s["Action"]), resources)
        })
        .collect();
    let documented: Vec<(Vec<String>, Vec<String>)> = documented
        .into_iter()
        .map(|(a, r)| (a.into_iter().map(str::to_owned).collect(), r))
        .collect();
    assert_eq!(granted, documented);

    // The KMS statements carry the conditions the documentation gives.
    let decrypt = &statements[3]["Condition"];
    assert_eq!(
        texts(&decrypt["StringEquals"]["kms:ViaService"]),
        ["s3.${AWS::Region}.amazonaws.com"]
    );
    assert_eq!(
        texts(&decrypt["StringLike"]["kms:EncryptionContext:aws:s3:arn"]),
        [
            raw.to_owned(),
            format!("{raw}/*"),
            curated.to_owned(),
            format!("{curated}/*")
        ]
    );
    let encrypt = &statements[4]["Condition"];
    assert_eq!(
        texts(&encrypt["StringEquals"]["kms:ViaService"]),
        ["s3.eu-north-1.amazonaws.com"]
    );
    assert_eq!(
        texts(&encrypt["StringLike"]["kms:EncryptionContext:aws:s3:arn"]),
        [
            raw_dr.to_owned(),
            format!("{raw_dr}/*"),
            curated_dr.to_owned(),
            format!("{curated_dr}/*")
        ]
    );
    // Only S3, for these buckets of this account, may assume it.
    let trust = &template["Resources"]["ReplicationRole"]["Properties"]["AssumeRolePolicyDocument"]
        ["Statement"][0];
    assert_eq!(trust["Principal"], json!({"Service": ["s3.amazonaws.com"]}));
    assert_eq!(
        texts(&trust["Condition"]["ArnLike"]["aws:SourceArn"]),
        [raw, curated]
    );
}

#[test]
fn the_kms_check_sees_replication_decrypting_the_source_and_reports_a_missing_grant() {
    let mut template = pipeline_of(&env("prod"));
    let report = kms_use::check(&template);
    assert!(report.missing.is_empty(), "{:#?}", report.missing);
    for bucket in ["RawBucket", "CuratedBucket"] {
        assert!(
            report.uses.contains(&(
                "ReplicationRole".to_owned(),
                "s3:GetObjectVersionForReplication".to_owned(),
                bucket.to_owned()
            )),
            "{:#?}",
            report.uses
        );
    }
    let statements =
        template["Resources"]["ReplicationPolicy"]["Properties"]["PolicyDocument"]["Statement"]
            .as_array_mut()
            .unwrap();
    statements.retain(|s| s["Sid"] != "DecryptSourceObjects");
    let missing = kms_use::check(&template).missing;
    let found: BTreeSet<(String, String, String)> = missing
        .iter()
        .map(|f| (f.who.clone(), f.resource.clone(), f.missing.clone()))
        .collect();
    assert_eq!(
        found,
        BTreeSet::from([
            (
                "ReplicationRole".to_owned(),
                "CuratedBucket".to_owned(),
                "kms:Decrypt".to_owned()
            ),
            (
                "ReplicationRole".to_owned(),
                "RawBucket".to_owned(),
                "kms:Decrypt".to_owned()
            ),
        ])
    );
    assert!(missing.iter().all(|f| f.doc.contains("replication")));
}

#[test]
fn the_kms_use_table_names_encrypt_for_replicas_and_decrypt_for_sources() {
    let row = |action: &str| {
        kms_use::ROLE_USES
            .iter()
            .find(|row| row.action == action)
            .unwrap_or_else(|| panic!("no row for {action}"))
    };
    let read = row("s3:GetObjectVersionForReplication");
    assert_eq!((read.kms, read.via), (&["kms:Decrypt"][..], "s3"));
    let write = row("s3:ReplicateObject");
    assert_eq!((write.kms, write.via), (&["kms:Encrypt"][..], "s3"));
    assert!(
        write
            .doc
            .ends_with("replication-config-for-kms-objects.html")
    );
}

#[test]
fn replication_metrics_are_alarmed_to_the_alert_topic_at_the_rpo() {
    let env = env("prod");
    let template = pipeline_of(&env);
    let alarms: Vec<(&String, &Value)> = of_type(&template, "AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|(_, p)| p["Namespace"] == "AWS/S3")
        .collect();
    let metrics: BTreeSet<(String, String)> = alarms
        .iter()
        .map(|(_, p)| {
            let source = p["Dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["Name"] == "SourceBucket")
                .map(|d| d["Value"].to_string())
                .unwrap();
            (p["MetricName"].as_str().unwrap().to_owned(), source)
        })
        .collect();
    let mut expected = BTreeSet::new();
    for metric in [
        "ReplicationLatency",
        "OperationsPendingReplication",
        "OperationFailedReplication",
    ] {
        for bucket in ["RawBucket", "CuratedBucket"] {
            expected.insert((metric.to_owned(), json!({"Ref": bucket}).to_string()));
        }
    }
    assert_eq!(metrics, expected);
    let published: Vec<String> =
        template["Resources"]["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "PipelineAlarmsPublish")
            .map(|s| s["Condition"]["ArnEquals"]["aws:SourceArn"].to_string())
            .into_iter()
            .collect();
    for (id, properties) in &alarms {
        assert_eq!(
            properties["AlarmActions"],
            json!([{"Ref": "AlertTopic"}]),
            "{id}"
        );
        assert!(
            published[0].contains(&format!("\"{id}\"")),
            "{id} may not publish"
        );
        if properties["MetricName"] == "ReplicationLatency" {
            let rpo = env.dr.as_ref().unwrap().rpo_minutes;
            assert_eq!(properties["Threshold"], json!(f64::from(rpo * 60)));
        }
    }
}

#[test]
fn without_dr_nothing_replicates() {
    let env = env("dev");
    assert!(env.dr.is_none());
    assert!(pipeline::replica_stack(&env).unwrap().is_none());
    let template = pipeline_of(&env);
    assert!(template["Resources"].get("ReplicationRole").is_none());
    assert!(template["Parameters"].get(REPLICA_KEY_PARAMETER).is_none());
    for bucket in ["RawBucket", "CuratedBucket"] {
        assert!(
            template["Resources"][bucket]["Properties"]
                .get("ReplicationConfiguration")
                .is_none()
        );
    }
}

/// prod.yaml with eu-central-1 placed in another account than the DR region's (eu-north-1, in
/// prod's `account`).
fn prod_with_a_region_in_another_account() -> Environment {
    let path = format!("{}/../environments/prod.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replacen(
            "deploy:\n",
            "deploy:\n  accounts:\n    eu-central-1: \"777788889999\"\n",
            1,
        )
        // The region's VPN certificates are in its own account (ACM certificates are not shared).
        .replace(
            "arn:aws:acm:eu-central-1:444455556666:",
            "arn:aws:acm:eu-central-1:777788889999:",
        );
    environment::parse("prod.yaml", &text).unwrap_or_else(|e| panic!("{e}"))
}

/// `Fn::Sub` text with the stack's account and region filled in.
fn resolved(value: &Value, account: &str, region: &str) -> String {
    sub(value)
        .replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", "aws")
}

#[test]
fn a_region_in_another_account_replicates_into_the_dr_accounts_buckets_with_its_named_role() {
    let env = prod_with_a_region_in_another_account();
    let (source_account, dr_account) = ("777788889999", "444455556666");
    let region = env
        .regions
        .iter()
        .find(|r| r.as_str() == "eu-central-1")
        .unwrap();
    assert_eq!(env.account_of(region).as_str(), source_account);
    assert_eq!(
        pipeline::replica_account(&env).unwrap().as_str(),
        dr_account
    );
    let pipeline = pipeline::stacks(&env, region)
        .unwrap()
        .into_iter()
        .find(|s| s.kind == StackKind::Pipeline)
        .unwrap()
        .template
        .to_json()
        .unwrap();
    let replica = replica_of(&env);

    // The role has the fixed name the replicas' policies name.
    let role = &pipeline["Resources"]["ReplicationRole"]["Properties"];
    assert_eq!(
        resolved(&role["RoleName"], source_account, "eu-central-1"),
        "mst-prod-replication-eu-central-1"
    );
    let role_arn = "arn:aws:iam::777788889999:role/mst-prod-replication-eu-central-1";

    // Each rule's destination, resolved in the source stack's own account, is a bucket of the
    // replica stack resolved in the DR region's account.
    let replica_names: BTreeSet<String> = of_type(&replica, "AWS::S3::Bucket")
        .iter()
        .map(|(_, p)| resolved(&p["BucketName"], dr_account, "eu-north-1"))
        .collect();
    for (bucket, purpose) in [("RawBucket", "raw"), ("CuratedBucket", "curated")] {
        let destination = &pipeline["Resources"][bucket]["Properties"]["ReplicationConfiguration"]
            ["Rules"][0]["Destination"]["Bucket"];
        let destination = resolved(destination, source_account, "eu-central-1");
        let name = format!("mst-prod-{purpose}-dr-{dr_account}-eu-central-1");
        assert_eq!(destination, format!("arn:aws:s3:::{name}"));
        assert!(replica_names.contains(&name), "{name}: {replica_names:?}");

        // That replica's policy lets exactly that role of that account write replicas; the
        // replica of a region in the DR region's own account needs no such statement.
        let policy_of = |source: &str| -> Vec<Value> {
            let id = format!(
                "{}{source}ReplicaPolicy",
                if purpose == "raw" { "Raw" } else { "Curated" }
            );
            replica["Resources"][id.as_str()]["Properties"]["PolicyDocument"]["Statement"]
                .as_array()
                .unwrap_or_else(|| panic!("no {id}"))
                .clone()
        };
        let statements = policy_of("EuCentral1");
        let across = statements
            .iter()
            .find(|s| s["Sid"] == "ReplicationFromTheSourceAccount")
            .unwrap_or_else(|| panic!("{statements:?}"));
        assert_eq!(
            resolved(&across["Principal"]["AWS"][0], dr_account, "eu-north-1"),
            "arn:aws:iam::777788889999:root"
        );
        assert_eq!(
            resolved(
                &across["Condition"]["ArnEquals"]["aws:PrincipalArn"][0],
                dr_account,
                "eu-north-1"
            ),
            role_arn
        );
        assert_eq!(
            across["Action"],
            json!([
                "s3:ReplicateDelete",
                "s3:ReplicateObject",
                "s3:ReplicateTags"
            ])
        );
        assert_eq!(
            resolved(&across["Resource"][0], dr_account, "eu-north-1"),
            format!("arn:aws:s3:::{name}/*")
        );
        assert!(
            policy_of("EuWest1")
                .iter()
                .all(|s| s["Sid"] != "ReplicationFromTheSourceAccount")
        );
    }

    // The replica key lets that role encrypt, only through S3 in the DR region and only for
    // its own region's replicas.
    let key = &of_type(&replica, "AWS::KMS::Key")[0].1["KeyPolicy"]["Statement"];
    let across = key
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "ReplicationFromOtherAccounts")
        .unwrap_or_else(|| panic!("{key}"));
    assert!(
        across["Action"]
            .as_array()
            .unwrap()
            .contains(&json!("kms:Encrypt"))
    );
    assert_eq!(across["Resource"], "*");
    let principals: Vec<String> = across["Principal"]["AWS"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| resolved(p, dr_account, "eu-north-1"))
        .collect();
    assert_eq!(principals, ["arn:aws:iam::777788889999:root"]);
    let roles: Vec<String> = across["Condition"]["ArnEquals"]["aws:PrincipalArn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| resolved(p, dr_account, "eu-north-1"))
        .collect();
    assert_eq!(roles, [role_arn]);
    assert_eq!(
        across["Condition"]["StringEquals"]["kms:ViaService"],
        json!(["s3.eu-north-1.amazonaws.com"])
    );
    let context = across["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"].to_string();
    assert!(context.contains("eu-central-1"), "{context}");
    assert!(!context.contains("eu-west-1"), "{context}");
}

#[test]
fn with_every_region_in_the_dr_account_nothing_is_granted_across_accounts() {
    let env = env("prod");
    let replica = replica_of(&env).to_string();
    assert!(!replica.contains("ReplicationFromTheSourceAccount"));
    assert!(!replica.contains("ReplicationFromOtherAccounts"));
    let pipeline = pipeline_of(&env);
    // Unnamed role; the destination in the stack's own account.
    assert!(
        pipeline["Resources"]["ReplicationRole"]["Properties"]
            .get("RoleName")
            .is_none()
    );
    assert_eq!(
        sub(
            &pipeline["Resources"]["RawBucket"]["Properties"]["ReplicationConfiguration"]["Rules"]
                [0]["Destination"]["Bucket"]
        ),
        "arn:${AWS::Partition}:s3:::mst-prod-raw-dr-${AWS::AccountId}-${AWS::Region}"
    );
}
