//! AWS Glue Data Catalog.

use serde::Serialize;

use super::resource_types;
use crate::template::{Expr, Handle};

/// `AWS::Glue::Database`: `Ref` is the database name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Database {
    /// The account's catalog.
    pub catalog_id: Expr,
    /// Name and description.
    pub database_input: DatabaseInput,
}

/// Database settings.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DatabaseInput {
    /// Lower-case name.
    pub name: String,
    /// What it holds.
    pub description: String,
}

/// `AWS::Glue::Crawler`: `Ref` is the crawler name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Crawler {
    /// What it crawls.
    pub description: String,
    /// Role ARN.
    pub role: Expr,
    /// Target database.
    pub database_name: Expr,
    /// What to crawl.
    pub targets: Targets,
    /// When.
    pub schedule: Schedule,
    /// What to do with schema changes.
    pub schema_change_policy: SchemaChangePolicy,
    /// The security configuration's name.
    pub crawler_security_configuration: Expr,
    /// Crawler options as a JSON string.
    pub configuration: String,
}

/// Crawl targets.
#[derive(Debug, Clone, Serialize)]
pub struct Targets {
    /// S3 paths.
    #[serde(rename = "S3Targets")]
    pub s3_targets: Vec<S3Target>,
}

/// An S3 path.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3Target {
    /// `s3://bucket/prefix/`.
    pub path: Expr,
}

/// Schedule.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Schedule {
    /// `cron(...)`.
    pub schedule_expression: String,
}

/// Schema change handling.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SchemaChangePolicy {
    /// `UPDATE_IN_DATABASE` or `LOG`.
    pub update_behavior: &'static str,
    /// `LOG`, `DEPRECATE_IN_DATABASE` or `DELETE_FROM_DATABASE`.
    pub delete_behavior: &'static str,
}

/// `AWS::Glue::SecurityConfiguration`: `Ref` is its name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityConfiguration {
    /// Name (unique in the account and region).
    pub name: Expr,
    /// Encryption settings.
    pub encryption_configuration: GlueEncryption,
}

/// Glue encryption settings.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GlueEncryption {
    /// S3 data written by Glue.
    pub s3_encryptions: Vec<S3Encryption>,
    /// Glue's CloudWatch logs.
    #[serde(rename = "CloudWatchEncryption")]
    pub cloudwatch_encryption: CloudWatchEncryption,
    /// Job bookmarks.
    pub job_bookmarks_encryption: JobBookmarksEncryption,
}

/// S3 encryption.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3Encryption {
    /// `SSE-KMS`.
    pub s3_encryption_mode: &'static str,
    /// Key ARN.
    pub kms_key_arn: Expr,
}

/// Logs encryption.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CloudWatchEncryption {
    /// `SSE-KMS`.
    #[serde(rename = "CloudWatchEncryptionMode")]
    pub cloudwatch_encryption_mode: &'static str,
    /// Key ARN.
    pub kms_key_arn: Expr,
}

/// Bookmark encryption.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobBookmarksEncryption {
    /// `CSE-KMS`.
    pub job_bookmarks_encryption_mode: &'static str,
    /// Key ARN.
    pub kms_key_arn: Expr,
}

resource_types!(
    Database => "AWS::Glue::Database",
    Crawler => "AWS::Glue::Crawler",
    SecurityConfiguration => "AWS::Glue::SecurityConfiguration",
);

impl Handle<Database> {
    /// The database's ARN.
    pub fn arn(&self) -> Expr {
        Expr::regional_arn("glue", [Expr::lit("database/"), self.reference()])
    }

    /// The ARN pattern of the database's tables.
    pub fn tables_arn(&self) -> Expr {
        Expr::regional_arn(
            "glue",
            [Expr::lit("table/"), self.reference(), Expr::lit("/*")],
        )
    }
}

/// The ARN of the region's Data Catalog.
pub fn catalog_arn() -> Expr {
    Expr::regional_arn("glue", [Expr::lit("catalog")])
}
