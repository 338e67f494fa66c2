//! The per-region artifacts bucket the deployer uploads Lambda zips and the scraper binary to.

use crate::resources::s3::{
    AbortIncompleteMultipartUpload, Bucket, BucketEncryption, EncryptionByDefault, EncryptionRule,
    Lifecycle, LifecycleRule, NoncurrentVersionExpiration, OwnershipControls, PublicAccessBlock,
    Versioning,
};
use crate::template::{Options, Template};

use super::storage::add_tls_only_policy;
use super::{BuildError, Names};

/// Days an artifact is kept. Keys are content hashes and `deployer up` uploads whatever a deployment
/// refers to that is missing, so expiry only removes artifacts no deployment has used for a year.
const ARTIFACT_RETENTION_DAYS: u32 = 365;

pub(super) fn template(names: &Names) -> Result<Template, BuildError> {
    let mut t = Template::new(
        "MyStockTracker artifacts bucket: Lambda zips and the scraper binary, by content hash.",
    );
    let bucket = t.add(
        "ArtifactsBucket",
        Bucket {
            bucket_name: Some(names.artifacts_bucket()),
            bucket_encryption: BucketEncryption {
                server_side_encryption_configuration: vec![EncryptionRule {
                    server_side_encryption_by_default: EncryptionByDefault { sse_algorithm: "AES256", kms_master_key_id: None },
                    bucket_key_enabled: false,
                }],
            },
            public_access_block_configuration: PublicAccessBlock::all(),
            ownership_controls: OwnershipControls::bucket_owner_enforced(),
            versioning_configuration: Versioning { status: "Enabled" },
            lifecycle_configuration: Lifecycle {
                rules: vec![LifecycleRule {
                    id: "ExpireUnusedArtifacts".into(),
                    status: "Enabled",
                    prefix: None,
                    expiration_in_days: Some(ARTIFACT_RETENTION_DAYS),
                    noncurrent_version_expiration: Some(NoncurrentVersionExpiration { noncurrent_days: 7 }),
                    abort_incomplete_multipart_upload: Some(AbortIncompleteMultipartUpload { days_after_initiation: 1 }),
                }],
            },
            logging_configuration: None,
            notification_configuration: None,
            replication_configuration: None,
        },
        Options::retained()
            .skip_checkov(
                "CKV_AWS_145",
                "Build artifacts (public code, no data); SSE-S3 lets Lambda and the scraper instance read them without cross-stack key grants.",
            )
            .skip_checkov(
                "CKV_AWS_18",
                "Written only by the deployer; every change is a CloudFormation deployment recorded by CloudTrail.",
            ),
    )?;
    add_tls_only_policy(&mut t, "ArtifactsBucketPolicy", &bucket, Vec::new())?;
    t.output(
        "ArtifactsBucketName",
        "Bucket for the pipeline's code artifacts",
        bucket.reference(),
    )?;
    Ok(t)
}
