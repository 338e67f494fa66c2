//! AWS Glue Data Catalog.

use std::collections::BTreeMap;

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

/// `AWS::Glue::Table`: `Ref` is the table name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Table {
    /// The account's catalog.
    pub catalog_id: Expr,
    /// The database's name.
    pub database_name: Expr,
    /// The table's definition.
    pub table_input: TableInput,
}

/// A table's definition.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableInput {
    /// Lower-case name.
    pub name: String,
    /// What it holds.
    pub description: String,
    /// `EXTERNAL_TABLE`: the data lives in S3 and outlives the table.
    pub table_type: &'static str,
    /// Table properties (classification, partition projection, ...).
    pub parameters: BTreeMap<String, Expr>,
    /// Columns that come from the object key (`name=value/` folders), not from the files.
    pub partition_keys: Vec<Column>,
    /// Where the data is and how it is stored.
    pub storage_descriptor: StorageDescriptor,
}

/// A column: name and Hive type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Column {
    /// Lower-case name.
    pub name: &'static str,
    /// Hive type, such as `double` or `timestamp`.
    #[serde(rename = "Type")]
    pub kind: &'static str,
}

/// Where a table's data is and how it is stored.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StorageDescriptor {
    /// The columns the files hold.
    pub columns: Vec<Column>,
    /// `s3://bucket/prefix/`.
    pub location: Expr,
    /// Hadoop input format class.
    pub input_format: &'static str,
    /// Hadoop output format class.
    pub output_format: &'static str,
    /// How rows are (de)serialized.
    pub serde_info: SerdeInfo,
}

/// Serializer and deserializer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SerdeInfo {
    /// The SerDe class.
    pub serialization_library: &'static str,
    /// Its settings.
    pub parameters: BTreeMap<String, String>,
}

/// `AWS::Glue::Crawler`: `Ref` is the crawler name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Crawler {
    /// What it crawls.
    pub description: String,
    /// Role ARN.
    pub role: Expr,
    /// Target database; absent for catalog targets, which name their own database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_name: Option<Expr>,
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
#[serde(rename_all = "PascalCase")]
pub struct Targets {
    /// Existing catalog tables: the crawler reads their locations and never creates tables.
    pub catalog_targets: Vec<CatalogTarget>,
}

/// Existing tables of one database.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CatalogTarget {
    /// The database's name.
    pub database_name: Expr,
    /// Table names.
    pub tables: Vec<String>,
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
    Table => "AWS::Glue::Table",
    Crawler => "AWS::Glue::Crawler",
    SecurityConfiguration => "AWS::Glue::SecurityConfiguration",
);

impl Handle<Database> {
    /// The database's ARN.
    pub fn arn(&self) -> Expr {
        Expr::regional_arn("glue", [Expr::lit("database/"), self.reference()])
    }

    /// The ARN of the database's table `name`.
    pub fn table_arn(&self, name: &str) -> Expr {
        Expr::regional_arn(
            "glue",
            [
                Expr::lit("table/"),
                self.reference(),
                Expr::lit(format!("/{name}")),
            ],
        )
    }
}

/// The ARN of the region's Data Catalog.
pub fn catalog_arn() -> Expr {
    Expr::regional_arn("glue", [Expr::lit("catalog")])
}
