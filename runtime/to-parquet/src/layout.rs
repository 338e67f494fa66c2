//! Where outputs go: the curated layout `<prefix>symbol=<S>/dt=<YYYY-MM-DD>/<name>.parquet` and the
//! quarantine key, both derived from the source object only, so a retry writes the same keys.

use quote_record::{Quote, Symbol};
use sha2::{Digest as _, Sha256};

/// A curated partition: the record's symbol and the UTC date of its `market_time`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    /// The symbol.
    pub symbol: Symbol,
    /// Days since 1970-01-01 (UTC) of `market_time`.
    pub unix_days: i64,
}

impl PartitionKey {
    /// The partition a quote belongs to.
    pub fn of(quote: &Quote) -> Self {
        Self {
            symbol: *quote.symbol(),
            unix_days: quote.market_time().unix_days(),
        }
    }

    /// `symbol=<S>/dt=<YYYY-MM-DD>` (symbols are `[A-Z0-9.-]`: nothing to escape).
    pub fn path(&self) -> String {
        let mut out = format!("symbol={}/dt=", self.symbol.as_str());
        quote_record::Timestamp::from_unix_nanos(self.unix_days * 86_400 * 1_000_000_000)
            .write_utc_date(&mut out);
        out
    }
}

/// The name every output of one source object shares: the source file's name without its
/// extension, reduced to `[A-Za-z0-9._-]`, then 16 hex digits of the SHA-256 of the full
/// `bucket/key` so that two sources with the same file name never collide.
pub fn output_stem(bucket: &str, key: &str) -> String {
    let file = key.rsplit('/').next().unwrap_or(key);
    let file = file.strip_suffix(".gz").unwrap_or(file);
    let file = file
        .rsplit_once('.')
        .filter(|(stem, ext)| !stem.is_empty() && matches!(*ext, "json" | "jsonl" | "ndjson"))
        .map_or(file, |(stem, _)| stem);
    let mut name: String = file
        .chars()
        .take(120)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let digest = Sha256::digest(format!("{bucket}/{key}").as_bytes());
    if !name.is_empty() {
        name.push('-');
    }
    for byte in &digest[..8] {
        name.push_str(&format!("{byte:02x}"));
    }
    name
}

/// The curated object key of a partition's file.
pub fn parquet_key(prefix: &str, partition: &PartitionKey, stem: &str) -> String {
    format!("{prefix}{}/{stem}.parquet", partition.path())
}

/// The quarantine object key of a source object's invalid records.
pub fn quarantine_key(prefix: &str, stem: &str) -> String {
    format!("{prefix}{stem}.jsonl")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_paths_use_the_utc_date_of_market_time() {
        let q = Quote::from_json(br#"{"symbol":"BRK.B","price":1.5,"currency":"USD","change_pct":0,"market_time":"2026-11-27T23:59:59Z","scraped_at":"2026-11-28T00:00:01Z","source":"s"}"#).unwrap();
        let key = PartitionKey::of(&q);
        assert_eq!(key.path(), "symbol=BRK.B/dt=2026-11-27");
        assert_eq!(
            parquet_key("quotes/", &key, "f-0011223344556677"),
            "quotes/symbol=BRK.B/dt=2026-11-27/f-0011223344556677.parquet"
        );
    }

    #[test]
    fn stems_are_safe_stable_and_distinct() {
        let a = output_stem(
            "raw",
            "raw/symbol=A/dt=2026-11-27/mst-prod-1-2026-11-27-15-30-01-ab12.gz",
        );
        assert!(a.starts_with("mst-prod-1-2026-11-27-15-30-01-ab12-"), "{a}");
        assert_eq!(a.len(), "mst-prod-1-2026-11-27-15-30-01-ab12-".len() + 16);
        assert_eq!(
            a,
            output_stem(
                "raw",
                "raw/symbol=A/dt=2026-11-27/mst-prod-1-2026-11-27-15-30-01-ab12.gz"
            )
        );
        let b = output_stem(
            "raw",
            "raw/symbol=B/dt=2026-11-27/mst-prod-1-2026-11-27-15-30-01-ab12.gz",
        );
        assert_ne!(a, b, "same file name under another prefix");
        let odd = output_stem("raw", "raw/a b+c%é?.jsonl");
        assert!(odd.starts_with("a_b_c___-"), "{odd}");
        assert!(output_stem("raw", "raw/").len() == 16);
    }
}
