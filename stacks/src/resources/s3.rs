//! Amazon S3.

use serde::Serialize;

use super::resource_types;
use crate::iam::PolicyDocument;
use crate::template::{Expr, Handle};

/// `AWS::S3::Bucket`: `Ref` is the bucket name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Bucket {
    /// The bucket's name; set when other resources must know it before the bucket exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<Expr>,
    /// Default encryption.
    pub bucket_encryption: BucketEncryption,
    /// Public access blocked in all four ways.
    pub public_access_block_configuration: PublicAccessBlock,
    /// Object ownership (ACLs off).
    pub ownership_controls: OwnershipControls,
    /// Versioning.
    pub versioning_configuration: Versioning,
    /// Expiration rules.
    pub lifecycle_configuration: Lifecycle,
    /// Server access logging.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging_configuration: Option<Logging>,
    /// Event notifications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_configuration: Option<Notifications>,
    /// Replication to another bucket (disaster recovery).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication_configuration: Option<ReplicationConfiguration>,
}

/// A bucket's replication: the role S3 replicates with, and the rules.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicationConfiguration {
    /// The replication role's ARN.
    pub role: Expr,
    /// The rules.
    pub rules: Vec<ReplicationRule>,
}

/// One replication rule (the V2 schema: with `Filter`, `Priority` and `DeleteMarkerReplication`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicationRule {
    /// The rule's id: the `RuleId` dimension of its CloudWatch metrics.
    pub id: String,
    /// `Enabled`.
    pub status: &'static str,
    /// Rule priority (one rule: 1).
    pub priority: u32,
    /// Which objects: an empty prefix is every object.
    pub filter: ReplicationFilter,
    /// Whether delete markers are replicated.
    pub delete_marker_replication: StatusOnly,
    /// Which encrypted objects are replicated.
    pub source_selection_criteria: SourceSelectionCriteria,
    /// Where replicas go.
    pub destination: ReplicationDestination,
}

/// A rule's object filter.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicationFilter {
    /// Key prefix (empty: all objects).
    pub prefix: String,
}

/// A `{"Status": ...}` setting.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatusOnly {
    /// `Enabled` or `Disabled`.
    pub status: &'static str,
}

/// Encrypted-object selection.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SourceSelectionCriteria {
    /// Replicate SSE-KMS objects (off by default).
    pub sse_kms_encrypted_objects: StatusOnly,
}

/// A replication destination.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicationDestination {
    /// The destination bucket's ARN.
    pub bucket: Expr,
    /// The key that encrypts replicas.
    pub encryption_configuration: ReplicaEncryption,
    /// S3 Replication Time Control.
    pub replication_time: ReplicationTime,
    /// Replication metrics and the late-replication event threshold.
    pub metrics: ReplicationMetrics,
}

/// The key that encrypts replicas.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaEncryption {
    /// A key ARN or alias ARN in the destination's region.
    #[serde(rename = "ReplicaKmsKeyID")]
    pub replica_kms_key_id: Expr,
}

/// S3 Replication Time Control.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicationTime {
    /// `Enabled`.
    pub status: &'static str,
    /// The bound (15 minutes is the only value S3 accepts).
    pub time: Minutes,
}

/// Replication metrics.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicationMetrics {
    /// `Enabled`.
    pub status: &'static str,
    /// After how long an object counts as replicated late.
    pub event_threshold: Minutes,
}

/// A duration in minutes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Minutes {
    /// Minutes.
    pub minutes: u32,
}

/// Default encryption.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketEncryption {
    /// One rule.
    pub server_side_encryption_configuration: Vec<EncryptionRule>,
}

impl BucketEncryption {
    /// SSE-KMS with the given key and S3 Bucket Keys (fewer KMS calls).
    pub fn kms(key_arn: Expr) -> Self {
        Self {
            server_side_encryption_configuration: vec![EncryptionRule {
                server_side_encryption_by_default: EncryptionByDefault {
                    sse_algorithm: "aws:kms",
                    kms_master_key_id: Some(key_arn),
                },
                bucket_key_enabled: true,
            }],
        }
    }
}

/// An encryption rule.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptionRule {
    /// Algorithm and key.
    pub server_side_encryption_by_default: EncryptionByDefault,
    /// Use an S3 Bucket Key.
    pub bucket_key_enabled: bool,
}

/// Algorithm and key.
#[derive(Debug, Clone, Serialize)]
pub struct EncryptionByDefault {
    /// `aws:kms`.
    #[serde(rename = "SSEAlgorithm")]
    pub sse_algorithm: &'static str,
    /// KMS key ARN.
    #[serde(rename = "KMSMasterKeyID", skip_serializing_if = "Option::is_none")]
    pub kms_master_key_id: Option<Expr>,
}

/// Public access block settings.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublicAccessBlock {
    /// Reject public ACLs.
    pub block_public_acls: bool,
    /// Reject public bucket policies.
    pub block_public_policy: bool,
    /// Ignore public ACLs.
    pub ignore_public_acls: bool,
    /// Restrict public buckets.
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// Every kind of public access blocked.
    pub fn all() -> Self {
        Self {
            block_public_acls: true,
            block_public_policy: true,
            ignore_public_acls: true,
            restrict_public_buckets: true,
        }
    }
}

/// Object ownership.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OwnershipControls {
    /// One rule.
    pub rules: Vec<OwnershipRule>,
}

impl OwnershipControls {
    /// The bucket owner owns every object; ACLs are disabled.
    pub fn bucket_owner_enforced() -> Self {
        Self {
            rules: vec![OwnershipRule {
                object_ownership: "BucketOwnerEnforced",
            }],
        }
    }
}

/// An ownership rule.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OwnershipRule {
    /// `BucketOwnerEnforced`.
    pub object_ownership: &'static str,
}

/// Versioning.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Versioning {
    /// `Enabled`.
    pub status: &'static str,
}

/// Lifecycle rules.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Lifecycle {
    /// The rules.
    pub rules: Vec<LifecycleRule>,
}

/// One lifecycle rule.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LifecycleRule {
    /// Rule name.
    pub id: String,
    /// `Enabled`.
    pub status: &'static str,
    /// Only objects under this prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Days after which current versions expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_in_days: Option<u32>,
    /// When older versions expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noncurrent_version_expiration: Option<NoncurrentVersionExpiration>,
    /// When abandoned multipart uploads are removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort_incomplete_multipart_upload: Option<AbortIncompleteMultipartUpload>,
}

/// Expiration of noncurrent versions.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NoncurrentVersionExpiration {
    /// Days after becoming noncurrent.
    pub noncurrent_days: u32,
}

/// Cleanup of abandoned multipart uploads.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AbortIncompleteMultipartUpload {
    /// Days after the upload started.
    pub days_after_initiation: u32,
}

/// Server access logging.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Logging {
    /// The bucket receiving the logs.
    pub destination_bucket_name: Expr,
    /// Key prefix of the logs.
    pub log_file_prefix: String,
}

/// Event notifications.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Notifications {
    /// Lambda targets.
    pub lambda_configurations: Vec<LambdaNotification>,
}

/// A Lambda target of bucket events.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LambdaNotification {
    /// The event, such as `s3:ObjectCreated:*`.
    pub event: &'static str,
    /// The function's ARN.
    pub function: Expr,
    /// Which keys trigger it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<NotificationFilter>,
}

/// A key filter.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationFilter {
    /// Prefix and suffix rules.
    #[serde(rename = "S3Key")]
    pub s3_key: KeyFilter,
}

/// Prefix and suffix rules.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyFilter {
    /// The rules.
    pub rules: Vec<FilterRule>,
}

/// One rule.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilterRule {
    /// `prefix` or `suffix`.
    pub name: &'static str,
    /// The value.
    pub value: String,
}

impl NotificationFilter {
    /// Keys starting with `prefix` and ending with `suffix` (either may be empty).
    pub fn keys(prefix: &str, suffix: &str) -> Self {
        let mut rules = Vec::new();
        if !prefix.is_empty() {
            rules.push(FilterRule {
                name: "prefix",
                value: prefix.to_owned(),
            });
        }
        if !suffix.is_empty() {
            rules.push(FilterRule {
                name: "suffix",
                value: suffix.to_owned(),
            });
        }
        Self {
            s3_key: KeyFilter { rules },
        }
    }
}

/// `AWS::S3::BucketPolicy`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketPolicy {
    /// The bucket's name.
    pub bucket: Expr,
    /// The policy.
    pub policy_document: PolicyDocument,
}

resource_types!(Bucket => "AWS::S3::Bucket", BucketPolicy => "AWS::S3::BucketPolicy");

/// A bucket's ARN and its objects' ARNs from its name: usable before the bucket exists, which breaks
/// the cycle between a bucket's notifications and the Lambda permission that names the bucket.
pub fn bucket_arn(name: &Expr) -> Expr {
    Expr::global_arn("s3", [name.clone()])
}

/// The ARN pattern of the objects under `prefix` (empty for all objects) in the named bucket.
pub fn objects_arn(name: &Expr, prefix: &str) -> Expr {
    Expr::global_arn("s3", [name.clone(), Expr::lit(format!("/{prefix}*"))])
}

impl Handle<Bucket> {
    /// The bucket's ARN.
    pub fn arn(&self) -> Expr {
        bucket_arn(&self.reference())
    }

    /// The ARN pattern of the objects under `prefix` (empty for all objects).
    pub fn objects_arn(&self, prefix: &str) -> Expr {
        objects_arn(&self.reference(), prefix)
    }
}
