//! The handler against moto's S3, driven by real-shaped S3 events; the output is read back by an
//! independent reader (DuckDB, Hive partitioning) and compared with the input.
#![allow(clippy::unwrap_used)]

use crate::common::s3::*;
use crate::common::*;
use testkit::Moto;
use testkit::s3::objects;

fn lines(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(valid_line).collect()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("to-parquet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn plain_gzip_and_concatenated_objects_read_back_equal_through_duckdb() {
    let moto = Moto::start();
    let function = function(&moto).await;
    let (a, b, c) = (lines(0..300), lines(300..700), lines(700..1000));
    let mut with_invalid = a.clone();
    with_invalid.insert(10, INVALID_LINES[0].into());
    with_invalid.insert(20, INVALID_LINES[2].into());
    // Firehose names, plus the characters S3 events encode: spaces, '+', '=', '%', non-ASCII.
    let sources: [(&str, Vec<u8>); 3] = [
        (
            "raw/symbol=AAPL/dt=2026-11-26/mst test+1 é%20=.json",
            (with_invalid.join("\n") + "\n").into_bytes(),
        ),
        (
            "raw/symbol=MSFT/dt=2026-11-26/mst-test-2-2026-11-26-15-00-00-b2c4.gz",
            gzip((b.join("\n") + "\n").as_bytes(), 2),
        ),
        (
            "raw/symbol=X/dt=2026-11-27/no delimiter",
            c.concat().into_bytes(),
        ),
    ];
    for (key, body) in &sources {
        function
            .s3
            .put_object()
            .bucket(RAW)
            .key(*key)
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
    }
    let keys: Vec<&str> = sources.iter().map(|(k, _)| *k).collect();
    let summary = to_parquet::handle(&function, event(RAW, &keys))
        .await
        .unwrap();
    assert_eq!(
        (summary.objects, summary.valid, summary.invalid),
        (3, 1000, 2)
    );

    let curated = objects(&function.s3, CURATED, "quotes/").await;
    // Each source writes one file per partition it holds (4 symbols x 2 days at most).
    assert_eq!(
        curated.len(),
        8 + 8 + 8,
        "{:?}",
        curated.iter().map(|o| &o.0).collect::<Vec<_>>()
    );
    assert!(curated.iter().all(|(k, _)| k.ends_with(".parquet")));
    assert!(
        curated
            .iter()
            .any(|(k, _)| k.contains("/mst_test_1_é_20=-") || k.contains("/mst_test_1___20_-")),
        "{:?}",
        curated.iter().map(|o| &o.0).collect::<Vec<_>>()
    );
    let dir = temp_dir("duckdb");
    download(&dir, &curated);
    let (schema, rows) = duckdb_read(&dir);
    let all: Vec<String> = [a, b, c].concat();
    assert_eq!(rows, expected_rows(&all));
    let schema: Vec<(&str, &str)> = schema
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        schema,
        [
            ("price", "DOUBLE"),
            ("currency", "VARCHAR"),
            ("change_pct", "DOUBLE"),
            ("volume", "BIGINT"),
            ("market_time", "TIMESTAMP WITH TIME ZONE"),
            ("scraped_at", "TIMESTAMP WITH TIME ZONE"),
            ("source", "VARCHAR"),
            // DuckDB lists Hive partition columns by name.
            ("dt", "VARCHAR"),
            ("symbol", "VARCHAR"),
        ]
    );

    let quarantine = objects(&function.s3, RAW, "quarantine/to-parquet/").await;
    assert_eq!(quarantine.len(), 1);
    let text = String::from_utf8(quarantine[0].1.clone()).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(text.contains("\"reason\":\"price_not_positive\""));
    assert!(text.contains(
        "\"source\":\"s3://mst-test-raw/raw/symbol=AAPL/dt=2026-11-26/mst test+1 é%20=.json\""
    ));

    // A retry (Lambda re-delivers the same event) rewrites the same keys with the same bytes.
    let again = to_parquet::handle(&function, event(RAW, &keys))
        .await
        .unwrap();
    assert_eq!(again.written, summary.written);
    assert_eq!(objects(&function.s3, CURATED, "quotes/").await, curated);
    assert_eq!(
        objects(&function.s3, RAW, "quarantine/to-parquet/").await,
        quarantine
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn large_partitions_are_written_as_multipart_uploads() {
    let moto = Moto::start();
    let mut function = function(&moto).await;
    function.config.curated_prefix = "big/".into();
    function.part_bytes = to_parquet::upload::MIN_PART_BYTES;
    // 400k rows of one symbol and day with high-entropy prices: over 5 MiB of zstd Parquet, so at
    // least one full part and a last one.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let rows = 400_000u64;
    let text: String = (0..rows)
        .map(|i| {
            format!(
                "{{\"symbol\":\"AAPL\",\"price\":{}.{:06},\"currency\":\"USD\",\"change_pct\":{}.{:06},\"volume\":{},\"market_time\":\"2026-11-27T{:02}:{:02}:{:02}.{:06}Z\",\"scraped_at\":\"2026-11-27T23:59:59Z\",\"source\":\"s\"}}\n",
                1 + next() % 5000, next() % 1_000_000, next() % 5, next() % 1_000_000, next() % 1_000_000_000, i * 24 / rows, (i / 60) % 60, i % 60, next() % 1_000_000
            )
        })
        .collect();
    let key = "raw/big object.json";
    function
        .s3
        .put_object()
        .bucket(RAW)
        .key(key)
        .body(text.clone().into_bytes().into())
        .send()
        .await
        .unwrap();
    let summary = to_parquet::handle(&function, event(RAW, &[key]))
        .await
        .unwrap();
    assert_eq!(summary.valid, rows);
    let curated = objects(&function.s3, CURATED, "big/").await;
    assert_eq!(curated.len(), 1);
    let (got, _) = read_parquet("p", curated[0].1.clone());
    assert_eq!(got.len() as u64, rows);
    let head = function
        .s3
        .head_object()
        .bucket(CURATED)
        .key(&curated[0].0)
        .send()
        .await
        .unwrap();
    let etag = head.e_tag().unwrap();
    assert!(
        etag.contains('-'),
        "a multipart ETag ends in -<parts>, got {etag} for {} bytes",
        curated[0].1.len()
    );
}

#[tokio::test]
async fn a_vanished_object_is_skipped_and_a_missing_bucket_fails() {
    let moto = Moto::start();
    let function = function(&moto).await;
    let summary = to_parquet::handle(&function, event(RAW, &["raw/gone.gz"]))
        .await
        .unwrap();
    assert_eq!((summary.objects, summary.vanished), (0, 1));
    let error = to_parquet::handle(&function, event("no-such-bucket", &["raw/x"]))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("cannot read s3://no-such-bucket/raw/x"),
        "{error}"
    );
}
