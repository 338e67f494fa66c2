//! Dynamic partitioning with inline parsing: the `MetadataExtraction` processor's JQ query, run
//! on each record by a real jq implementation (jaq: `jaq-core` with the `jaq-std` and
//! `jaq-json` definitions), not a subset written for this query.
//!
//! Firehose runs the query (`JsonParsingEngine` `JQ-1.6`) on the record parsed as JSON; its
//! first output must be an object, and each of its values becomes the partition key of that
//! name. A record that is not JSON, a query that fails or yields no object, a key whose value is
//! null, empty, an array or an object, or a key the prefix needs but the object lacks: each makes
//! the record a `DynamicPartitioning.MetadataExtractionFailed` error (the error codes and messages
//! are those AWS writes for such records). jaq differs from jq 1.6 in a few corners: error texts,
//! and some operations on null (jq 1.6 slices `null[0:10]` to null, so the key is null; jaq fails
//! the query); the record fails extraction either way, with another message. Field access,
//! slicing and string functions on present values behave the same.

use std::collections::BTreeMap;
use std::fmt;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;

/// Error code of a record whose partition keys could not be extracted.
pub const METADATA_EXTRACTION_FAILED: &str = "DynamicPartitioning.MetadataExtractionFailed";

/// A compiled partitioning query.
pub struct PartitionQuery {
    text: String,
    filter: jaq_core::Filter<data::JustLut<Val>>,
}

impl fmt::Debug for PartitionQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PartitionQuery").field(&self.text).finish()
    }
}

/// Why a record has no partition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExtractionFailed {
    /// What went wrong, as Firehose's error record says it.
    pub message: String,
}

impl ExtractionFailed {
    fn new(message: impl Into<String>) -> Self {
        ExtractionFailed {
            message: message.into(),
        }
    }
}

impl PartitionQuery {
    /// Parses and compiles `text`; the error says where it does not parse or which name is
    /// undefined.
    pub fn compile(text: &str) -> Result<PartitionQuery, String> {
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let arena = Arena::default();
        let modules = Loader::new(defs)
            .load(
                &arena,
                File {
                    code: text,
                    path: (),
                },
            )
            .map_err(|errors| {
                let what: Vec<String> = errors.iter().map(|(_, e)| format!("{e:?}")).collect();
                format!("it does not parse: {}", what.join("; "))
            })?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errors| {
                let what: Vec<String> = errors
                    .iter()
                    .flat_map(|(_, es)| {
                        es.iter()
                            .map(|(name, undefined)| format!("{name} ({undefined:?})"))
                    })
                    .collect();
                format!("it does not compile, undefined: {}", what.join(", "))
            })?;
        Ok(PartitionQuery {
            text: text.to_owned(),
            filter,
        })
    }

    /// The query as the template wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The partition keys of one record (its bytes as read from the stream).
    pub fn keys(&self, record: &[u8]) -> Result<BTreeMap<String, String>, ExtractionFailed> {
        let input = jaq_json::read::parse_single(record)
            .map_err(|_| ExtractionFailed::new("Non JSON record provided"))?;
        let ctx = Ctx::<data::JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
        let first = self
            .filter
            .id
            .run((ctx, input))
            .map(unwrap_valr)
            .next()
            .ok_or_else(|| ExtractionFailed::new("the partitioning query produced no output"))?
            .map_err(|e| ExtractionFailed::new(format!("the partitioning query failed: {e}")))?;
        let Val::Obj(object) = first else {
            return Err(ExtractionFailed::new(format!(
                "the partitioning query must produce an object, not {first}"
            )));
        };
        let mut keys = BTreeMap::new();
        for (name, value) in object.iter() {
            let name = string_of(name).ok_or_else(|| {
                ExtractionFailed::new(format!("partition key name {name} is not a string"))
            })?;
            let text = match value {
                Val::TStr(_) | Val::BStr(_) => string_of(value).unwrap_or_default(),
                Val::Num(_) | Val::Bool(_) => value.to_string(),
                Val::Null => String::new(),
                Val::Arr(_) | Val::Obj(_) => {
                    return Err(ExtractionFailed::new(format!(
                        "partition key {name} must be a string, number or boolean, not {value}"
                    )));
                }
            };
            if text.is_empty() {
                return Err(ExtractionFailed::new(
                    "partitionKeys values must not be null or empty",
                ));
            }
            keys.insert(name, text);
        }
        Ok(keys)
    }
}

/// The text of a string value, without quotes.
fn string_of(value: &Val) -> Option<String> {
    match value {
        Val::TStr(bytes) | Val::BStr(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query the stacks write (`stacks/src/pipeline/ingest.rs`), as text here so that this
    /// unit test stands alone; `src/contract_tests.rs` runs the query of every shipped template.
    const QUERY: &str = "{symbol: .symbol, dt: .market_time[0:10]}";

    fn keys(query: &str, record: &str) -> Result<Vec<(String, String)>, String> {
        PartitionQuery::compile(query)
            .unwrap()
            .keys(record.as_bytes())
            .map(|k| k.into_iter().collect())
            .map_err(|e| e.message)
    }

    #[test]
    fn extracts_the_symbol_and_the_date_of_market_time() {
        let record = r#"{"v":1,"symbol":"BRK.B","price":1.5,"market_time":"2026-11-27T23:59:59Z"}"#;
        assert_eq!(
            keys(QUERY, record).unwrap(),
            [
                ("dt".to_owned(), "2026-11-27".to_owned()),
                ("symbol".to_owned(), "BRK.B".to_owned())
            ]
        );
        // Numbers and booleans are keys too (their JSON text).
        assert_eq!(
            keys("{n: .n, b: .b}", r#"{"n":42,"b":true}"#).unwrap(),
            [
                ("b".to_owned(), "true".to_owned()),
                ("n".to_owned(), "42".to_owned())
            ]
        );
        // The standard library is there: string functions, alternatives.
        assert_eq!(
            keys(
                r#"{s: (.symbol | ascii_downcase | split(".") | join("_"))}"#,
                r#"{"symbol":"BRK.B"}"#
            )
            .unwrap(),
            [("s".to_owned(), "brk_b".to_owned())]
        );
    }

    #[test]
    fn failures_say_what_firehose_says() {
        assert_eq!(
            keys(QUERY, "not json").unwrap_err(),
            "Non JSON record provided"
        );
        assert_eq!(
            keys("{symbol: .symbol, dt: .dt}", r#"{"symbol":"AAPL"}"#).unwrap_err(),
            "partitionKeys values must not be null or empty"
        );
        // jq 1.6 slices null to null (then the key is null); jaq refuses to slice null. Either
        // way the record fails extraction; only the message differs.
        assert_eq!(
            keys(QUERY, r#"{"symbol":"AAPL"}"#).unwrap_err(),
            "the partitioning query failed: cannot use null as rangeable (array or string)"
        );
        assert_eq!(
            keys(
                QUERY,
                r#"{"symbol":"","market_time":"2026-11-27T00:00:00Z"}"#
            )
            .unwrap_err(),
            "partitionKeys values must not be null or empty"
        );
        assert!(
            keys(QUERY, r#"{"symbol":"A","market_time":5}"#)
                .unwrap_err()
                .starts_with("the partitioning query failed")
        );
        assert!(
            keys(".symbol", r#"{"symbol":"A"}"#)
                .unwrap_err()
                .contains("must produce an object")
        );
        assert!(keys("empty", "{}").unwrap_err().contains("no output"));
        assert!(
            keys("{a: .a}", r#"{"a":[1]}"#)
                .unwrap_err()
                .contains("must be a string")
        );
    }

    #[test]
    fn a_query_that_does_not_compile_is_refused_with_the_reason() {
        assert!(
            PartitionQuery::compile("{symbol: .symbol")
                .unwrap_err()
                .contains("does not parse")
        );
        assert!(
            PartitionQuery::compile("{s: nosuchfn(.a)}")
                .unwrap_err()
                .contains("nosuchfn")
        );
    }

    #[test]
    fn queries_can_be_shared_between_tasks() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<PartitionQuery>();
    }
}
