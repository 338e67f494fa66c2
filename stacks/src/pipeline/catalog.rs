//! The Glue database and the crawler that catalogs the curated Parquet data for Athena.

use environment::Environment;

use crate::iam::Statement;
use crate::iam::actions::{glue, kms, logs, s3};
use crate::resources::glue::{
    CloudWatchEncryption, Crawler, Database, DatabaseInput, GlueEncryption, JobBookmarksEncryption,
    S3Encryption, S3Target, Schedule, SchemaChangePolicy, SecurityConfiguration, Targets,
    catalog_arn,
};
use crate::template::{Expr, Options, Template, pseudo};

use super::keys::DataKey;
use super::roles::{TrustedService, component_role};
use super::storage::{Buckets, prefixes};
use super::{BuildError, Names};

pub(super) fn add(
    t: &mut Template,
    env: &Environment,
    names: &Names,
    key: &DataKey,
    buckets: &Buckets,
) -> Result<(), BuildError> {
    let database =
        t.add(
            "QuotesDatabase",
            Database {
                catalog_id: pseudo::account_id(),
                database_input: DatabaseInput {
                    name: names.glue_database(),
                    description:
                        "MyStockTracker curated quotes (Parquet, partitioned by symbol and date)"
                            .into(),
                },
            },
            Options::none(),
        )?;
    let security_name = names.regional("crawler");
    let security = t.add(
        "CrawlerSecurityConfiguration",
        SecurityConfiguration {
            name: Expr::lit(security_name.clone()),
            encryption_configuration: GlueEncryption {
                s3_encryptions: vec![S3Encryption {
                    s3_encryption_mode: "SSE-KMS",
                    kms_key_arn: key.arn(),
                }],
                cloudwatch_encryption: CloudWatchEncryption {
                    cloudwatch_encryption_mode: "SSE-KMS",
                    kms_key_arn: key.arn(),
                },
                job_bookmarks_encryption: JobBookmarksEncryption {
                    job_bookmarks_encryption_mode: "CSE-KMS",
                    kms_key_arn: key.arn(),
                },
            },
        },
        Options::none(),
    )?;
    // Crawlers log to `/aws-glue/crawlers-role/<role>-<security configuration>`, a group Glue creates.
    let crawler_logs =
        Expr::regional_arn("logs", [Expr::lit("log-group:/aws-glue/crawlers-role/*")]);
    let (role, policy) = component_role(
        t,
        "Crawler",
        TrustedService::Glue,
        "Glue crawler: reads the curated Parquet data and maintains its table in the catalog",
        vec![
            Statement::allow(&[s3::LIST_BUCKET], [buckets.curated.arn()])
                .sid("ListCuratedData")
                .condition(
                    "StringLike",
                    "s3:prefix",
                    [Expr::lit(format!("{}*", prefixes::QUOTES))],
                ),
            Statement::allow(
                &[s3::GET_OBJECT],
                [buckets.curated.objects_arn(prefixes::QUOTES)],
            )
            .sid("ReadCuratedData"),
            Statement::allow(
                &[
                    glue::GET_DATABASE,
                    glue::GET_TABLE,
                    glue::GET_TABLES,
                    glue::CREATE_TABLE,
                    glue::UPDATE_TABLE,
                    glue::GET_PARTITION,
                    glue::GET_PARTITIONS,
                    glue::BATCH_GET_PARTITION,
                    glue::CREATE_PARTITION,
                    glue::BATCH_CREATE_PARTITION,
                    glue::UPDATE_PARTITION,
                    glue::BATCH_UPDATE_PARTITION,
                ],
                [catalog_arn(), database.arn(), database.tables_arn()],
            )
            .sid("MaintainQuotesTables"),
            Statement::allow(
                &[kms::DECRYPT, kms::ENCRYPT, kms::GENERATE_DATA_KEY],
                [key.arn()],
            )
            .sid("UseDataKey"),
            Statement::allow(
                &[
                    logs::CREATE_LOG_GROUP,
                    logs::CREATE_LOG_STREAM,
                    logs::PUT_LOG_EVENTS,
                ],
                [crawler_logs],
            )
            .sid("WriteCrawlerLogs"),
        ],
    )?;
    t.add(
        "QuotesCrawler",
        Crawler {
            description: "Catalogs the curated quotes (quotes/symbol=/dt=) for Athena".into(),
            role: role.arn(),
            database_name: database.reference(),
            targets: Targets {
                s3_targets: vec![S3Target {
                    path: Expr::concat([Expr::lit("s3://"), buckets.curated.reference(), Expr::lit(format!("/{}", prefixes::QUOTES))]),
                }],
            },
            schedule: Schedule { schedule_expression: env.catalog.crawler_schedule.clone() },
            schema_change_policy: SchemaChangePolicy { update_behavior: "UPDATE_IN_DATABASE", delete_behavior: "LOG" },
            crawler_security_configuration: security.reference(),
            // One table for the whole prefix, partitions from the symbol=/dt= folders.
            configuration: r#"{"Version":1.0,"Grouping":{"TableGroupingPolicy":"CombineCompatibleSchemas"},"CrawlerOutput":{"Partitions":{"AddOrUpdateBehavior":"InheritFromTable"}}}"#.into(),
        },
        Options::none().depends_on(&policy),
    )?;
    Ok(())
}
