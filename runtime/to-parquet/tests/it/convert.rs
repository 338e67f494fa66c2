//! The conversion without S3: every input shape gives the same rows, bytes are deterministic, row
//! groups and early flushes keep memory bounded, and broken input is quarantined, not dropped.
#![allow(clippy::unwrap_used)]

use crate::common::*;
use to_parquet::{Converter, Options, Output};

/// Converts `input` fed in `chunk`-byte pieces; returns (partition path -> file bytes, quarantine).
fn convert(input: &[u8], chunk: usize, options: Options) -> (Vec<(String, Vec<u8>)>, Vec<u8>) {
    let mut converter = Converter::new(options);
    let mut files: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
    let mut quarantine = Vec::new();
    let mut take = |output: Output, bytes: Vec<u8>| match output {
        Output::Partition(p) => files.entry(p.path()).or_default().extend(bytes),
        Output::Quarantine => quarantine.extend(bytes),
    };
    for piece in input.chunks(chunk) {
        converter.push(piece).unwrap();
        for (output, bytes) in converter.take_ready(1) {
            take(output, bytes);
        }
    }
    for (output, bytes) in converter.finish().unwrap() {
        take(output, bytes);
    }
    (files.into_iter().collect(), quarantine)
}

fn rows_of(files: &[(String, Vec<u8>)]) -> Vec<Row> {
    sorted(
        files
            .iter()
            .flat_map(|(p, b)| read_parquet(p, b.clone()).0)
            .collect(),
    )
}

fn lines(n: usize) -> Vec<String> {
    (0..n).map(valid_line).collect()
}

#[test]
fn newline_gzip_and_concatenated_inputs_give_the_same_rows() {
    let valid = lines(500);
    let expected = expected_rows(&valid);
    let newline = valid.join("\n") + "\n";
    let concatenated = valid.concat();
    let gzipped = gzip(newline.as_bytes(), 3);
    for (name, input) in [
        ("newline", newline.as_bytes().to_vec()),
        ("concatenated", concatenated.into_bytes()),
        ("gzip, 3 members", gzipped),
    ] {
        for chunk in [1, 777, input.len()] {
            let (files, quarantine) = convert(&input, chunk, Options::new("s3://raw/k", created()));
            assert_eq!(rows_of(&files), expected, "{name}, chunks of {chunk}");
            assert!(quarantine.is_empty(), "{name}");
            assert_eq!(files.len(), 8, "{name}: 4 symbols x 2 days");
        }
    }
}

#[test]
fn invalid_records_are_quarantined_with_reasons_and_offsets() {
    let mut all: Vec<String> = lines(20);
    all.insert(3, INVALID_LINES[0].into());
    all.insert(9, INVALID_LINES[1].into());
    all.insert(12, INVALID_LINES[2].into());
    all.push(INVALID_LINES[3].into());
    let input = all.join("\n");
    let (files, quarantine) = convert(
        input.as_bytes(),
        64,
        Options::new("s3://raw/a b.json", created()),
    );
    assert_eq!(rows_of(&files), expected_rows(&lines(20)));
    let entries: Vec<serde_json::Value> = String::from_utf8(quarantine)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let reasons: Vec<&str> = entries
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "price_not_positive",
            "bad_symbol",
            "not_an_object",
            "truncated"
        ]
    );
    for (entry, line) in entries.iter().zip([3, 9, 12, all.len() - 1]) {
        let offset: usize = all[..line].iter().map(|l| l.len() + 1).sum();
        assert_eq!(entry["offset"], offset as u64);
        assert_eq!(entry["source"], "s3://raw/a b.json");
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD
            .decode(entry["data_base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(data, all[line].as_bytes());
        assert!(!entry["message"].as_str().unwrap().is_empty());
    }
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    let input = (lines(300).join("\n") + "\n" + INVALID_LINES[0]).into_bytes();
    let first = convert(&input, 1000, Options::new("s3://raw/k", created()));
    let second = convert(&input, 333, Options::new("s3://raw/k", created()));
    assert_eq!(first, second);
}

#[test]
fn buffered_rows_are_written_as_row_groups_when_the_buffer_is_full() {
    let valid = lines(2000);
    let input = valid.join("\n").into_bytes();
    let mut options = Options::new("s3://raw/k", created());
    options.row_group_rows = 100;
    let (files, _) = convert(&input, 4096, options);
    let mut rows = Vec::new();
    for (partition, bytes) in &files {
        let (r, groups) = read_parquet(partition, bytes.clone());
        // 250 rows per partition, interleaved: every write of 100 buffered rows gives each
        // partition with rows in it one row group, so no group holds more than 100 rows.
        assert!(groups >= 3, "{partition}: {groups} row groups");
        rows.extend(r);
    }
    assert_eq!(sorted(rows), expected_rows(&valid));
    // With the default buffer the same input is one row group per file.
    let (whole, _) = convert(&input, 4096, Options::new("s3://raw/k", created()));
    for (partition, bytes) in &whole {
        assert_eq!(read_parquet(partition, bytes.clone()).1, 1, "{partition}");
    }
}

#[test]
fn a_corrupt_gzip_keeps_what_was_read_and_says_where_it_broke() {
    let valid = lines(200);
    let mut input = gzip((valid.join("\n") + "\n").as_bytes(), 2);
    let half = input.len() / 2;
    for byte in &mut input[half..half + 64] {
        *byte ^= 0x5a;
    }
    let (files, quarantine) = convert(&input, 4096, Options::new("s3://raw/k.gz", created()));
    let got = rows_of(&files);
    assert!(!got.is_empty() && got.len() < 200, "{} rows", got.len());
    let expected = expected_rows(&valid);
    assert!(got.iter().all(|row| expected.contains(row)));
    let text = String::from_utf8(quarantine).unwrap();
    assert!(text.contains("\"reason\":\"corrupt_gzip\""), "{text}");
}

#[test]
fn files_carry_their_source_and_the_writer_settings() {
    let input = lines(50).join("\n").into_bytes();
    let (files, _) = convert(
        &input,
        4096,
        Options::new("s3://raw/raw/symbol=X/f.gz", created()),
    );
    let reader =
        parquet::file::reader::SerializedFileReader::new(bytes::Bytes::from(files[0].1.clone()))
            .unwrap();
    use parquet::file::reader::FileReader as _;
    let meta = reader.metadata();
    let kv = meta.file_metadata().key_value_metadata().unwrap();
    assert!(kv.iter().any(|kv| kv.key == "mystocktracker.source"
        && kv.value.as_deref() == Some("s3://raw/raw/symbol=X/f.gz")));
    let group = meta.row_group(0);
    for column in group.columns() {
        assert_eq!(column.compression().to_string(), "ZSTD(ZstdLevel(1))");
        assert!(
            column.statistics().is_some(),
            "{} has statistics",
            column.column_path()
        );
    }
    let currency = group
        .columns()
        .iter()
        .find(|c| c.column_path().string() == "currency")
        .unwrap();
    assert!(
        currency.dictionary_page_offset().is_some(),
        "currency is dictionary-encoded"
    );
    let price = group
        .columns()
        .iter()
        .find(|c| c.column_path().string() == "price")
        .unwrap();
    assert!(price.dictionary_page_offset().is_none(), "price is not");
}
