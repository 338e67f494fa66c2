//! The Glue database and the typed table over the curated Parquet data, the crawler that reports when
//! the files drift from that table, and the Athena workgroup with its saved queries.

use std::collections::BTreeMap;

use environment::Environment;

use crate::iam::Statement;
use crate::iam::uses::Use;
use crate::resources::athena::{
    EncryptionConfiguration, NamedQuery, ResultConfiguration, WorkGroup, WorkGroupConfiguration,
};
use crate::resources::glue::{
    CatalogTarget, CloudWatchEncryption, Column, Crawler, Database, DatabaseInput, GlueEncryption,
    JobBookmarksEncryption, S3Encryption, Schedule, SchemaChangePolicy, SecurityConfiguration,
    SerdeInfo, StorageDescriptor, Table, TableInput, Targets, catalog_arn,
};
use crate::template::{Expr, Handle, Options, Template, pseudo};

use super::keys::DataKey;
use super::roles::{TrustedService, component_role};
use super::storage::{Buckets, prefixes};
use super::{BuildError, Names};

/// The curated table's name, in the environment's database (`mst_<env>.quotes`).
pub const QUOTES_TABLE: &str = "quotes";

/// The columns of the curated Parquet files, in file order, with their Hive types: the fields of
/// `quote_record::arrow::schema()` (a test compares the two lists). `symbol` is not among them: it is
/// a partition key, read from the object key.
pub const QUOTE_COLUMNS: &[Column] = &[
    Column {
        name: "price",
        kind: "double",
    },
    Column {
        name: "currency",
        kind: "string",
    },
    Column {
        name: "change_pct",
        kind: "double",
    },
    Column {
        name: "volume",
        kind: "bigint",
    },
    Column {
        name: "market_time",
        kind: "timestamp",
    },
    Column {
        name: "scraped_at",
        kind: "timestamp",
    },
    Column {
        name: "source",
        kind: "string",
    },
];

/// The partition keys, in folder order: `quotes/symbol=<S>/dt=<YYYY-MM-DD>/`.
pub const PARTITION_KEYS: &[Column] = &[
    Column {
        name: "symbol",
        kind: "string",
    },
    Column {
        name: "dt",
        kind: "string",
    },
];

/// The first day partition projection considers; days before it are never listed.
const FIRST_DAY: &str = "2020-01-01";

/// The saved Athena queries: one place for their SQL, which docs/data-and-athena.md quotes. Each filters on `dt`, so
/// partition projection reads only the days asked for, and each runs against the workgroup's database,
/// so the table name is unqualified. "Yesterday" is UTC, like `dt` (the UTC date of `market_time`); to
/// look at another day, replace the `dt` expression with a literal such as `'2026-11-27'`.
pub mod queries {
    /// The latest price of each symbol, from the last seven days of partitions.
    pub const LATEST_PRICE: &str = "\
SELECT symbol,
       max_by(price, market_time) AS price,
       max_by(currency, market_time) AS currency,
       max(market_time) AS market_time
FROM quotes
WHERE dt >= CAST(current_date - INTERVAL '7' DAY AS varchar)
GROUP BY symbol
ORDER BY symbol";

    /// Open, high, low and close of each symbol for yesterday.
    pub const DAILY_OHLC: &str = "\
SELECT symbol,
       min_by(price, market_time) AS open,
       max(price) AS high,
       min(price) AS low,
       max_by(price, market_time) AS close,
       count(*) AS quotes
FROM quotes
WHERE dt = CAST(current_date - INTERVAL '1' DAY AS varchar)
GROUP BY symbol
ORDER BY symbol";

    /// Yesterday's biggest movers: close against open in percent, largest moves (up or down) first.
    pub const BIGGEST_MOVERS: &str = "\
WITH daily AS (
    SELECT symbol,
           min_by(price, market_time) AS open,
           max_by(price, market_time) AS close
    FROM quotes
    WHERE dt = CAST(current_date - INTERVAL '1' DAY AS varchar)
    GROUP BY symbol
)
SELECT symbol,
       open,
       close,
       round((close - open) / open * 100, 2) AS move_pct
FROM daily
ORDER BY abs(close - open) / open DESC
LIMIT 20";

    /// Every saved query: logical id, name, description, SQL.
    pub const ALL: &[(&str, &str, &str, &str)] = &[
        (
            "LatestPriceQuery",
            "Latest price per symbol",
            "The latest price of each symbol in the last seven days of data.",
            LATEST_PRICE,
        ),
        (
            "DailyOhlcQuery",
            "Daily open-high-low-close",
            "Yesterday's (UTC) open, high, low and close per symbol; change the dt filter for another day.",
            DAILY_OHLC,
        ),
        (
            "BiggestMoversQuery",
            "Biggest movers of the day",
            "Yesterday's (UTC) close against open per symbol, largest moves first; change the dt filter for another day.",
            BIGGEST_MOVERS,
        ),
    ];
}

pub(super) fn add(
    t: &mut Template,
    env: &Environment,
    names: &Names,
    key: &DataKey,
    buckets: &Buckets,
) -> Result<Handle<Crawler>, BuildError> {
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
    let table = add_table(t, env, &database, buckets)?;
    let crawler = add_crawler(t, env, names, key, buckets, &database, &table)?;
    add_athena(t, env, names, key, buckets, &database)?;
    Ok(crawler)
}

/// `s3://<curated bucket>/quotes/` followed by `rest`.
fn quotes_location(buckets: &Buckets, rest: &str) -> Expr {
    Expr::concat([
        Expr::lit("s3://"),
        buckets.curated.reference(),
        Expr::lit(format!("/{}{rest}", prefixes::QUOTES)),
    ])
}

/// The table Athena queries. Its partitions are projected from the environment's symbols and the
/// calendar, so new data is visible as soon as it is written, without a crawler run or `MSCK REPAIR`.
fn add_table(
    t: &mut Template,
    env: &Environment,
    database: &Handle<Database>,
    buckets: &Buckets,
) -> Result<Handle<Table>, BuildError> {
    let symbols: Vec<&str> = env.symbols.iter().map(|s| s.as_str()).collect();
    let text = |value: &str| Expr::lit(value);
    let parameters = BTreeMap::from([
        ("classification".to_owned(), text("parquet")),
        ("parquet.compression".to_owned(), text("ZSTD")),
        ("projection.enabled".to_owned(), text("true")),
        ("projection.symbol.type".to_owned(), text("enum")),
        (
            "projection.symbol.values".to_owned(),
            text(&symbols.join(",")),
        ),
        ("projection.dt.type".to_owned(), text("date")),
        ("projection.dt.format".to_owned(), text("yyyy-MM-dd")),
        (
            "projection.dt.range".to_owned(),
            text(&format!("{FIRST_DAY},NOW")),
        ),
        ("projection.dt.interval".to_owned(), text("1")),
        ("projection.dt.interval.unit".to_owned(), text("DAYS")),
        // `${symbol}` and `${dt}` are Athena's placeholders: `Expr::concat` renders this as `Fn::Sub`
        // and escapes them (`${!symbol}`), so CloudFormation leaves them for Athena.
        (
            "storage.location.template".to_owned(),
            quotes_location(buckets, "symbol=${symbol}/dt=${dt}/"),
        ),
    ]);
    let table = t.add(
        "QuotesTable",
        Table {
            catalog_id: pseudo::account_id(),
            database_name: database.reference(),
            table_input: TableInput {
                name: QUOTES_TABLE.to_owned(),
                description: "Quotes as Parquet (zstd), one folder per symbol and UTC day of market_time".into(),
                table_type: "EXTERNAL_TABLE",
                parameters,
                partition_keys: PARTITION_KEYS.to_vec(),
                storage_descriptor: StorageDescriptor {
                    columns: QUOTE_COLUMNS.to_vec(),
                    location: quotes_location(buckets, ""),
                    input_format: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    output_format: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    serde_info: SerdeInfo {
                        serialization_library:
                            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                        parameters: BTreeMap::from([(
                            "serialization.format".to_owned(),
                            "1".to_owned(),
                        )]),
                    },
                },
            },
        },
        Options::none(),
    )?;
    Ok(table)
}

/// The crawler crawls the typed table (a catalog target), not the S3 prefix: it cannot create tables,
/// and with `LOG` update and delete behaviours it never rewrites the table's schema, only reports in its
/// logs when the files drift from it. It still registers the partitions it finds, which Athena ignores
/// (projection) but other catalog readers can use.
fn add_crawler(
    t: &mut Template,
    env: &Environment,
    names: &Names,
    key: &DataKey,
    buckets: &Buckets,
    database: &Handle<Database>,
    table: &Handle<Table>,
) -> Result<Handle<Crawler>, BuildError> {
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
    // With a security configuration, crawlers log to `/aws-glue/crawlers-role/<role>-<configuration>`,
    // a group Glue creates and then encrypts with the configuration's key by calling
    // `logs:AssociateKmsKey` as this role (AWS's `AWSGlueServiceRole` grants it on `/aws-glue/*`;
    // the crawler needs only its own prefix). CloudWatch Logs then uses the key itself, under the key
    // policy's CloudWatch Logs statement. The role name inside the group name is generated, so the
    // grant stops at the prefix.
    let crawler_logs =
        Expr::regional_arn("logs", [Expr::lit("log-group:/aws-glue/crawlers-role/*")]);
    let (role, policy) = component_role(
        t,
        "Crawler",
        TrustedService::Glue,
        "Glue crawler: reads the curated Parquet data, reports schema drift of its table and registers partitions",
        key,
        vec![
            Statement::grant(&[Use::CrawlerListsCuratedData], [buckets.curated.arn()])
                .sid("ListCuratedData")
                .condition(
                    "StringLike",
                    "s3:prefix",
                    [Expr::lit(format!("{}*", prefixes::QUOTES))],
                ),
            Statement::grant(
                &[Use::CrawlerReadsCuratedData],
                [buckets.curated.objects_arn(prefixes::QUOTES)],
            )
            .sid("ReadCuratedData"),
            // Only the one table, and no table writes: with a catalog target and `LOG` behaviours the
            // crawler reads the table's definition and registers the partitions it finds (Athena does
            // not read them: the table projects its partitions), nothing else.
            Statement::grant(
                &[Use::CrawlerMaintainsPartitions],
                [
                    catalog_arn(),
                    database.arn(),
                    database.table_arn(QUOTES_TABLE),
                ],
            )
            .sid("MaintainQuotesPartitions"),
            // The crawler writes nothing to S3 (the security configuration's S3 and bookmark settings
            // apply to jobs), so the data key statement derived from these uses only decrypts.
            Statement::grant(&[Use::CrawlerWritesEncryptedLogs], [crawler_logs])
                .sid("WriteEncryptedCrawlerLogs"),
        ],
    )?;
    Ok(t.add(
        "QuotesCrawler",
        Crawler {
            description: "Reports drift of the curated Parquet files from the quotes table and registers its partitions".into(),
            role: role.arn(),
            // A catalog target names its database; the crawler's own database is for S3 targets.
            database_name: None,
            targets: Targets {
                catalog_targets: vec![CatalogTarget {
                    database_name: database.reference(),
                    tables: vec![QUOTES_TABLE.to_owned()],
                }],
            },
            schedule: Schedule {
                schedule_expression: env.catalog.crawler_schedule.clone(),
            },
            schema_change_policy: SchemaChangePolicy {
                update_behavior: "LOG",
                delete_behavior: "LOG",
            },
            crawler_security_configuration: security.reference(),
            // New partitions take the table's schema rather than one inferred from their files.
            configuration:
                r#"{"Version":1.0,"CrawlerOutput":{"Partitions":{"AddOrUpdateBehavior":"InheritFromTable"}}}"#
                    .into(),
        },
        // The table is named by its fixed name in the target, so the dependency is explicit.
        Options::none().depends_on(&policy).depends_on(table),
    )?)
}

/// The workgroup every query of the environment runs in, and the saved queries.
fn add_athena(
    t: &mut Template,
    env: &Environment,
    names: &Names,
    key: &DataKey,
    buckets: &Buckets,
    database: &Handle<Database>,
) -> Result<(), BuildError> {
    let workgroup = t.add(
        "AthenaWorkGroup",
        WorkGroup {
            name: names.athena_workgroup(),
            description: format!(
                "MyStockTracker queries over {}.{QUOTES_TABLE}; results encrypted with the data key",
                names.glue_database()
            ),
            recursive_delete_option: true,
            work_group_configuration: WorkGroupConfiguration {
                enforce_work_group_configuration: true,
                publish_cloud_watch_metrics_enabled: true,
                bytes_scanned_cutoff_per_query: u64::from(env.athena.bytes_scanned_limit_gb)
                    * 1_000_000_000,
                result_configuration: ResultConfiguration {
                    output_location: Expr::concat([
                        Expr::lit("s3://"),
                        buckets.curated.reference(),
                        Expr::lit(format!("/{}", prefixes::ATHENA_RESULTS)),
                    ]),
                    expected_bucket_owner: pseudo::account_id(),
                    encryption_configuration: EncryptionConfiguration {
                        encryption_option: "SSE_KMS",
                        kms_key: key.arn(),
                    },
                },
            },
        },
        Options::none(),
    )?;
    for (id, name, description, sql) in queries::ALL {
        t.add(
            id,
            NamedQuery {
                name: (*name).to_owned(),
                description: (*description).to_owned(),
                database: database.reference(),
                work_group: workgroup.reference(),
                query_string: (*sql).to_owned(),
            },
            Options::none(),
        )?;
    }
    Ok(())
}
