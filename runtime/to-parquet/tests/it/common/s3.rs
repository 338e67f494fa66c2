//! The moto side: clients, buckets, real-shaped S3 events, and reading the outputs back.

use std::path::Path;

use aws_lambda_events::event::s3::S3Event;
use testkit::Moto;
use to_parquet::Config;
use to_parquet::handler::ToParquet;

pub const RAW: &str = "mst-test-raw";
pub const CURATED: &str = "mst-test-curated";

/// The variables the stack gives the function (for the buckets [`RAW`] and [`CURATED`]), its
/// binary pointed at `moto`: for `testkit::LambdaProcess::spawn`.
pub fn binary_env(moto: &Moto) -> [(&'static str, &str); 5] {
    [
        ("CURATED_BUCKET", CURATED),
        ("CURATED_PREFIX", "quotes/"),
        ("QUARANTINE_BUCKET", RAW),
        ("QUARANTINE_PREFIX", "quarantine/to-parquet/"),
        ("AWS_ENDPOINT_URL", moto.endpoint()),
    ]
}

/// The function against moto, with buckets made and the configuration the stack sets.
pub async fn function(moto: &Moto) -> ToParquet {
    let sdk = moto.sdk_config("eu-west-1").await;
    for bucket in [RAW, CURATED] {
        testkit::s3::create_bucket(&lambda_support::s3_client(&sdk), bucket).await;
    }
    function_with(&sdk, RAW, CURATED)
}

/// The function signing with `sdk`'s credentials, with the configuration the stack sets for the
/// buckets `raw` and `curated`.
pub fn function_with(sdk: &aws_config::SdkConfig, raw: &str, curated: &str) -> ToParquet {
    use lambda_contract::prefixes;
    ToParquet::new(
        lambda_support::s3_client(sdk),
        Config {
            curated_bucket: curated.into(),
            curated_prefix: prefixes::QUOTES.into(),
            quarantine_bucket: raw.into(),
            quarantine_prefix: prefixes::quarantine(lambda_contract::to_parquet::QUARANTINE_NAME),
        },
    )
}

/// A real-shaped `ObjectCreated:Put` event for `bucket/key` (as S3 sends it to Lambda), at
/// [`super::CREATED`].
pub fn event(bucket: &str, keys: &[&str]) -> S3Event {
    event_at(bucket, keys, super::CREATED)
}

/// [`event`] with the event time `created` (RFC 3339).
pub fn event_at(bucket: &str, keys: &[&str], created: &str) -> S3Event {
    let event = testkit::s3::object_created("eu-west-1", bucket, keys);
    let mut json = serde_json::to_value(event).unwrap();
    for record in json["Records"].as_array_mut().unwrap() {
        record["eventTime"] = created.into();
    }
    serde_json::from_value(json).unwrap()
}

/// Reads `dir/quotes/**/*.parquet` with DuckDB (Hive partitioning): the schema as (name, type) and
/// the rows in `Row` form, sorted.
pub fn duckdb_read(dir: &Path) -> (Vec<(String, String)>, Vec<super::Row>) {
    let script = r#"
import duckdb, json, sys
glob = sys.argv[1] + "/quotes/**/*.parquet"
source = f"read_parquet('{glob}', hive_partitioning = true, hive_types = {{'symbol': 'VARCHAR', 'dt': 'VARCHAR'}})"
schema = duckdb.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()
rows = duckdb.sql(f"""SELECT 'symbol=' || symbol || '/dt=' || dt, price, currency, change_pct, volume,
    epoch_us(market_time), epoch_us(scraped_at), source FROM {source}""").fetchall()
print(json.dumps({"schema": [[c[0], c[1]] for c in schema], "rows": rows}))
"#;
    let output = std::process::Command::new(testkit::tools_python())
        .arg("-c")
        .arg(script)
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "duckdb: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let schema = value["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c[0].as_str().unwrap().to_owned(),
                c[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let rows = value["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_owned(),
                r[1].as_f64().unwrap(),
                r[2].as_str().unwrap().to_owned(),
                r[3].as_f64().unwrap(),
                r[4].as_i64(),
                r[5].as_i64().unwrap(),
                r[6].as_i64().unwrap(),
                r[7].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (schema, super::sorted(rows))
}

/// Writes `objects` under `dir`, keeping their keys as paths.
pub fn download(dir: &Path, objects: &[(String, Vec<u8>)]) {
    for (key, bytes) in objects {
        let path = dir.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}
