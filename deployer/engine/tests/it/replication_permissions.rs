//! The replication role as deployed (`policies/local/ReplicationRole.json`, assumed in a moto that
//! enforces IAM): what moto can judge of it, it allows, and it allows nothing more on the data.
//!
//! S3 replication calls no public API with the role that moto could replay: the role's actions are
//! checked here where moto attributes a request to them, and the others are listed with the reason
//! and the test that covers them (stacks/tests/it/replication.rs: the exact documented set, the KMS
//! conditions; stacks::kms_use: the KMS use the S3 actions imply).

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test, with its message.

use std::collections::BTreeSet;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination,
    ReplicationConfiguration, ReplicationRule, ReplicationRuleFilter, ReplicationRuleStatus,
    VersioningConfiguration,
};
use testkit::Moto;
use testkit::iam::RolePolicy;

const ROLE: &str = "ReplicationRole";
const REGION: &str = "us-east-1";
const DR_REGION: &str = "us-west-2";

/// The actions moto judges through a request made with the role: each is needed by the scenario.
const JUDGED: [(&str, &str); 1] = [(
    "s3:ListBucket",
    "ListObjectsV2 on the source buckets; moto also judges GetBucketReplication as s3:ListBucket",
)];

/// The role's other actions, and why moto cannot judge them.
const NOT_JUDGED: [(&str, &str); 10] = [
    (
        "s3:GetReplicationConfiguration",
        "moto judges GetBucketReplication as s3:ListBucket (its ACTION_MAP has no `replication`)",
    ),
    (
        "s3:GetObjectVersionForReplication",
        "S3 replication's own read: no public API; stacks/tests/it/replication.rs checks the grant",
    ),
    (
        "s3:GetObjectVersionAcl",
        "moto judges GetObjectAcl?versionId as s3:GetObjectAcl",
    ),
    (
        "s3:GetObjectVersionTagging",
        "moto judges GetObjectTagging?versionId as s3:GetObjectTagging",
    ),
    (
        "s3:ReplicateObject",
        "S3 replication's own write: no public API",
    ),
    ("s3:ReplicateDelete", "as s3:ReplicateObject"),
    ("s3:ReplicateTags", "as s3:ReplicateObject"),
    (
        "kms:Decrypt",
        "KMS use implied by SSE-KMS sources: moto does not judge it; stacks::kms_use checks it",
    ),
    (
        "kms:Encrypt",
        "KMS use implied by SSE-KMS replicas: stacks/tests/it/replication.rs checks key and conditions",
    ),
    (
        "sts:AssumeRole",
        "never granted: listed so a stray grant shows here (the trust policy is S3's)",
    ),
];

fn bucket(purpose: &str) -> String {
    format!("mst-local-{purpose}-123456789012-{REGION}")
}

fn replica(purpose: &str) -> String {
    format!("mst-local-{purpose}-dr-123456789012-{REGION}")
}

fn s3(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

/// moto with IAM, the source buckets (versioned, one object, a replication rule) and the replicas.
async fn deployed(moto: &Moto) {
    let admin = s3(&moto.sdk_config(REGION).await);
    let admin_dr = s3(&moto.sdk_config(DR_REGION).await);
    for purpose in ["raw", "curated"] {
        testkit::s3::create_bucket(&admin, &bucket(purpose)).await;
        testkit::s3::create_bucket(&admin_dr, &replica(purpose)).await;
        admin
            .put_bucket_versioning()
            .bucket(bucket(purpose))
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        admin
            .put_object()
            .bucket(bucket(purpose))
            .key("quotes/symbol=AAPL/dt=2026-12-06/part.parquet")
            .body(ByteStream::from_static(b"PAR1"))
            .send()
            .await
            .unwrap();
        let rule = ReplicationRule::builder()
            .id("ReplicateToDr")
            .priority(1)
            .status(ReplicationRuleStatus::Enabled)
            .filter(ReplicationRuleFilter::builder().prefix("").build())
            .delete_marker_replication(
                DeleteMarkerReplication::builder()
                    .status(DeleteMarkerReplicationStatus::Disabled)
                    .build(),
            )
            .destination(
                Destination::builder()
                    .bucket(format!("arn:aws:s3:::{}", replica(purpose)))
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        admin
            .put_bucket_replication()
            .bucket(bucket(purpose))
            .replication_configuration(
                ReplicationConfiguration::builder()
                    .role("arn:aws:iam::123456789012:role/replication")
                    .rules(rule)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
}

fn bindings() -> [(&'static str, &'static str); 2] {
    [
        ("DataKey", "1234abcd-12ab-34cd-56ef-1234567890ab"),
        (
            "ReplicaKeyArn",
            "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ac",
        ),
    ]
}

fn error_text<E: std::fmt::Debug>(result: Result<impl Sized, E>) -> String {
    match result {
        Ok(_) => "allowed".to_owned(),
        Err(e) => format!("{e:?}"),
    }
}

#[test]
fn every_action_of_the_role_is_judged_here_or_explained() {
    let policy = RolePolicy::local(ROLE);
    let listed: BTreeSet<String> = JUDGED
        .iter()
        .chain(NOT_JUDGED.iter())
        .map(|(a, _)| (*a).to_owned())
        .filter(|a| a != "sts:AssumeRole")
        .collect();
    assert_eq!(policy.actions(), listed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_reads_the_source_buckets_configuration_and_nothing_more_of_the_data() {
    let moto = Moto::start_with_iam();
    deployed(&moto).await;
    let policy = RolePolicy::local(ROLE);
    let role = moto.assume_role(REGION, &policy, &bindings()).await;
    let as_role = s3(&role.config);
    for purpose in ["raw", "curated"] {
        let source = bucket(purpose);
        let read = as_role
            .get_bucket_replication()
            .bucket(&source)
            .send()
            .await
            .unwrap();
        assert_eq!(
            read.replication_configuration().unwrap().rules()[0].id(),
            Some("ReplicateToDr")
        );
        let listed = as_role
            .list_objects_v2()
            .bucket(&source)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.key_count(), Some(1));
        // Replication reads versions with its own actions: the role cannot GetObject, nor write
        // to the source, nor list or write the replicas with the ordinary actions.
        for (what, result) in [
            (
                "GetObject on the source",
                error_text(
                    as_role
                        .get_object()
                        .bucket(&source)
                        .key("quotes/symbol=AAPL/dt=2026-12-06/part.parquet")
                        .send()
                        .await,
                ),
            ),
            (
                "PutObject on the source",
                error_text(
                    as_role
                        .put_object()
                        .bucket(&source)
                        .key("x")
                        .body(ByteStream::from_static(b"x"))
                        .send()
                        .await,
                ),
            ),
            (
                "PutObject on the replica",
                error_text(
                    as_role
                        .put_object()
                        .bucket(replica(purpose))
                        .key("x")
                        .body(ByteStream::from_static(b"x"))
                        .send()
                        .await,
                ),
            ),
            (
                "ListObjectsV2 on the replica",
                error_text(
                    as_role
                        .list_objects_v2()
                        .bucket(replica(purpose))
                        .send()
                        .await,
                ),
            ),
        ] {
            assert!(result.contains("AccessDenied"), "{what}: {result}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_list_bucket_the_configuration_cannot_be_read() {
    let moto = Moto::start_with_iam();
    deployed(&moto).await;
    let policy = RolePolicy::local(ROLE).without(JUDGED[0].0);
    let role = moto.assume_role(REGION, &policy, &bindings()).await;
    let as_role = s3(&role.config);
    let result = error_text(
        as_role
            .get_bucket_replication()
            .bucket(bucket("raw"))
            .send()
            .await,
    );
    assert!(result.contains("AccessDenied"), "{result}");
}
