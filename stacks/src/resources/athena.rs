//! Amazon Athena.

use serde::Serialize;

use super::resource_types;
use crate::template::Expr;

/// `AWS::Athena::WorkGroup`: `Ref` is the workgroup name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WorkGroup {
    /// Name, unique in the account and region.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Delete the workgroup with its query history and named queries; without it, deleting the stack
    /// fails once anyone has run a query. Query results stay in S3.
    pub recursive_delete_option: bool,
    /// Settings every query of the workgroup runs with.
    pub work_group_configuration: WorkGroupConfiguration,
}

/// Settings of a workgroup.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WorkGroupConfiguration {
    /// Queries cannot override these settings (result location and encryption).
    pub enforce_work_group_configuration: bool,
    /// Per-query metrics (bytes scanned, run time) in CloudWatch.
    pub publish_cloud_watch_metrics_enabled: bool,
    /// A query that would scan more bytes than this is cancelled (at least 10 MB).
    pub bytes_scanned_cutoff_per_query: u64,
    /// Where and how results are written.
    pub result_configuration: ResultConfiguration,
}

/// Where and how query results are written.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResultConfiguration {
    /// `s3://bucket/prefix/`.
    pub output_location: Expr,
    /// The account that must own the results bucket (a guard against a bucket name taken over).
    pub expected_bucket_owner: Expr,
    /// Encryption of the results.
    pub encryption_configuration: EncryptionConfiguration,
}

/// Encryption of query results.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptionConfiguration {
    /// `SSE_KMS`.
    pub encryption_option: &'static str,
    /// Key ARN.
    pub kms_key: Expr,
}

/// `AWS::Athena::NamedQuery`: a saved query shown in the workgroup's console.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamedQuery {
    /// Short title.
    pub name: String,
    /// What it answers.
    pub description: String,
    /// The database unqualified table names resolve in.
    pub database: Expr,
    /// The workgroup it belongs to.
    pub work_group: Expr,
    /// The SQL.
    pub query_string: String,
}

resource_types!(
    WorkGroup => "AWS::Athena::WorkGroup",
    NamedQuery => "AWS::Athena::NamedQuery",
);
