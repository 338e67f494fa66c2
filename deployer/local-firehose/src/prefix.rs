//! Firehose's S3 key prefixes: `Prefix` and `ErrorOutputPrefix` with their `!{namespace:value}`
//! expressions, parsed once from the template and expanded for each object.
//!
//! Emulated, as "Custom prefixes for Amazon S3 objects" documents them:
//! - `!{timestamp:PATTERN}`: the approximate arrival time (UTC) of the oldest record of the object,
//!   formatted with a Java `DateTimeFormatter` pattern; every instance in a prefix is the same
//!   instant. Pattern letters supported: `yyyy`/`uuuu` (year), `yy`, `MM`/`M`, `dd`/`d`, `HH`/`H`,
//!   `mm`/`m`, `ss`/`s`; text in single quotes is literal (`''` is a quote); other characters
//!   that are not letters are literal. Any other letter is refused when the template is read.
//! - `!{firehose:random-string}`: 11 random characters, new for each instance and each object.
//! - `!{firehose:error-output-type}` (only in `ErrorOutputPrefix`): why the records failed.
//! - `!{partitionKeyFromQuery:NAME}`: the key `NAME` of the record's dynamic-partitioning query.
//! - A `Prefix` without a `timestamp` expression on a stream without dynamic partitioning gets
//!   `!{timestamp:yyyy/MM/dd/HH/}` appended, as Firehose does.
//!
//! Not emulated (refused): `!{partitionKeyFromLambda:...}` (no Lambda processor), custom time
//! zones, and the 512-character limit on an evaluated prefix is not checked.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

/// Which of the destination's two prefixes a [`Prefix`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixKind {
    /// `Prefix`: delivered records.
    Data,
    /// `ErrorOutputPrefix`: records Firehose could not process.
    Error,
}

/// A parsed prefix: literal text and expressions, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    text: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Timestamp(Vec<TimePart>),
    PartitionKey(String),
    ErrorOutputType,
    RandomString,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TimePart {
    Literal(String),
    /// A field, zero-padded to `width` digits (`yy` is the year modulo 100, two digits).
    Field {
        field: Field,
        width: usize,
    },
    /// `yy`: the last two digits of the year.
    ShortYear,
}

/// What a prefix could not be read as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PrefixError(pub String);

/// The values an object's prefix is expanded with.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    /// Approximate arrival time of the oldest record in the object.
    pub arrival: DateTime,
    /// The records' partition keys (from the dynamic-partitioning query).
    pub keys: &'a BTreeMap<String, String>,
    /// `!{firehose:error-output-type}`, for the error prefix.
    pub error_output_type: Option<&'a str>,
}

impl Prefix {
    /// Parses `text` as the destination's `kind` prefix. `partitioning` says whether dynamic
    /// partitioning is on (a data prefix without a timestamp then gets no default time prefix).
    pub fn parse(text: &str, kind: PrefixKind, partitioning: bool) -> Result<Prefix, PrefixError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("!{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| {
                PrefixError(format!(
                    "`!{{` at character {} is not closed by `}}`",
                    text.len() - rest.len() + start
                ))
            })?;
            parts.push(parse_expression(&after[..end], kind)?);
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        let has_timestamp = parts.iter().any(|p| matches!(p, Part::Timestamp(_)));
        if kind == PrefixKind::Data && !partitioning && !has_timestamp {
            parts.push(Part::Timestamp(parse_time_pattern("yyyy/MM/dd/HH/")?));
        }
        if kind == PrefixKind::Error
            && parts.iter().any(|p| !matches!(p, Part::Literal(_)))
            && !parts.contains(&Part::ErrorOutputType)
        {
            return Err(PrefixError(
                "an ErrorOutputPrefix with expressions must contain !{firehose:error-output-type}"
                    .to_owned(),
            ));
        }
        Ok(Prefix {
            text: text.to_owned(),
            parts,
        })
    }

    /// The prefix as the template wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The names of the `!{partitionKeyFromQuery:NAME}` expressions, in order.
    pub fn partition_keys(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::PartitionKey(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// True when the prefix has a `!{firehose:random-string}` expression.
    pub fn has_random_string(&self) -> bool {
        self.parts.contains(&Part::RandomString)
    }

    /// The evaluated prefix. `random` makes each `!{firehose:random-string}`; a missing partition
    /// key expands to nothing (callers check [`Self::partition_keys`] against the record first).
    pub fn expand(&self, values: &Values<'_>, random: &mut dyn FnMut() -> String) -> String {
        let time = UtcFields::of(values.arrival);
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Timestamp(pattern) => time.format(pattern, &mut out),
                Part::PartitionKey(name) => {
                    out.push_str(values.keys.get(name).map_or("", String::as_str));
                }
                Part::ErrorOutputType => out.push_str(values.error_output_type.unwrap_or("")),
                Part::RandomString => out.push_str(&random()),
            }
        }
        out
    }
}

fn parse_expression(body: &str, kind: PrefixKind) -> Result<Part, PrefixError> {
    let (namespace, value) = body.split_once(':').ok_or_else(|| {
        PrefixError(format!(
            "`!{{{body}}}` is not of the form !{{namespace:value}}"
        ))
    })?;
    match (namespace, value) {
        ("timestamp", pattern) => Ok(Part::Timestamp(parse_time_pattern(pattern)?)),
        ("firehose", "random-string") => Ok(Part::RandomString),
        ("firehose", "error-output-type") if kind == PrefixKind::Error => Ok(Part::ErrorOutputType),
        ("firehose", "error-output-type") => Err(PrefixError(
            "!{firehose:error-output-type} is only allowed in ErrorOutputPrefix".to_owned(),
        )),
        ("partitionKeyFromQuery", name) if !name.is_empty() => {
            Ok(Part::PartitionKey(name.to_owned()))
        }
        ("partitionKeyFromLambda", _) => Err(PrefixError(
            "!{partitionKeyFromLambda:...} needs a Lambda processor, which `deployer run` does not emulate; partition with a MetadataExtraction query (!{partitionKeyFromQuery:...})".to_owned(),
        )),
        _ => Err(PrefixError(format!(
            "`!{{{body}}}` is not an expression Firehose knows (timestamp:, firehose:random-string, firehose:error-output-type, partitionKeyFromQuery:)"
        ))),
    }
}

fn parse_time_pattern(pattern: &str) -> Result<Vec<TimePart>, PrefixError> {
    let mut parts = Vec::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted literal; `''` is one quote.
            let mut literal = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(PrefixError(format!(
                            "the timestamp pattern `{pattern}` has an unclosed quote"
                        )));
                    }
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        literal.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        literal.push(other);
                        i += 1;
                    }
                }
            }
            if literal.is_empty() {
                literal.push('\'');
            }
            parts.push(TimePart::Literal(literal));
        } else if c.is_ascii_alphabetic() {
            let run = chars[i..].iter().take_while(|&&x| x == c).count();
            let part = match (c, run) {
                ('y' | 'u', 4) => TimePart::Field {
                    field: Field::Year,
                    width: 4,
                },
                ('y' | 'u', 2) => TimePart::ShortYear,
                ('M', 1 | 2) => TimePart::Field {
                    field: Field::Month,
                    width: run,
                },
                ('d', 1 | 2) => TimePart::Field {
                    field: Field::Day,
                    width: run,
                },
                ('H', 1 | 2) => TimePart::Field {
                    field: Field::Hour,
                    width: run,
                },
                ('m', 1 | 2) => TimePart::Field {
                    field: Field::Minute,
                    width: run,
                },
                ('s', 1 | 2) => TimePart::Field {
                    field: Field::Second,
                    width: run,
                },
                _ => {
                    return Err(PrefixError(format!(
                        "the timestamp pattern `{pattern}` uses `{}`, which `deployer run` does not emulate (supported: yyyy, yy, MM, M, dd, d, HH, H, mm, m, ss, s and 'quoted text')",
                        c.to_string().repeat(run)
                    )));
                }
            };
            parts.push(part);
            i += run;
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_ascii_alphabetic() && chars[i] != '\'' {
                i += 1;
            }
            parts.push(TimePart::Literal(chars[start..i].iter().collect()));
        }
    }
    Ok(parts)
}

/// A UTC instant's calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UtcFields {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl UtcFields {
    /// The fields of `time`, read from its RFC 3339 form (`YYYY-MM-DDTHH:MM:SS[.f]Z`, always UTC);
    /// an instant outside the years 0001-9999 is clamped to the Unix epoch.
    pub(crate) fn of(time: DateTime) -> UtcFields {
        let text = time.fmt(Format::DateTime).unwrap_or_default();
        let field = |range: std::ops::Range<usize>| {
            text.get(range)
                .and_then(|t| t.parse::<u32>().ok())
                .unwrap_or(0)
        };
        if text.len() < 20 {
            return UtcFields {
                year: 1970,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0,
            };
        }
        UtcFields {
            year: field(0..4),
            month: field(5..7),
            day: field(8..10),
            hour: field(11..13),
            minute: field(14..16),
            second: field(17..19),
        }
    }

    /// `yyyy-MM-dd-HH-mm-ss`, the time in Firehose's object names.
    pub(crate) fn object_name_time(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}-{:02}-{:02}-{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    fn format(&self, pattern: &[TimePart], out: &mut String) {
        for part in pattern {
            // Writing to a String cannot fail.
            let _ = match part {
                TimePart::Literal(text) => out.write_str(text),
                TimePart::ShortYear => write!(out, "{:02}", self.year % 100),
                TimePart::Field { field, width } => {
                    let value = match field {
                        Field::Year => self.year,
                        Field::Month => self.month,
                        Field::Day => self.day,
                        Field::Hour => self.hour,
                        Field::Minute => self.minute,
                        Field::Second => self.second,
                    };
                    write!(out, "{value:0width$}")
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime {
        DateTime::from_secs(secs)
    }

    /// 2026-11-27T09:05:03Z.
    const T: i64 = 1_795_770_303;

    fn expand(prefix: &Prefix, keys: &[(&str, &str)], error: Option<&str>) -> String {
        let keys = keys
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut n = 0;
        prefix.expand(
            &Values {
                arrival: at(T),
                keys: &keys,
                error_output_type: error,
            },
            &mut || {
                n += 1;
                format!("r{n}")
            },
        )
    }

    #[test]
    fn the_arrival_time_fills_timestamp_patterns_in_utc() {
        assert_eq!(
            UtcFields::of(at(T)).object_name_time(),
            "2026-11-27-09-05-03"
        );
        let p = Prefix::parse(
            "raw/dt=!{timestamp:yyyy-MM-dd}/h=!{timestamp:H}/!{timestamp:'year='yy'/m='M/d/m/s}/",
            PrefixKind::Data,
            false,
        )
        .unwrap();
        assert_eq!(
            expand(&p, &[], None),
            "raw/dt=2026-11-27/h=9/year=26/m=11/27/5/3/"
        );
        let quote = Prefix::parse("!{timestamp:'it''s' uuuu}", PrefixKind::Data, false).unwrap();
        assert_eq!(expand(&quote, &[], None), "it's 2026");
    }

    #[test]
    fn partition_keys_error_type_and_random_strings_are_substituted() {
        let p = Prefix::parse(
            "raw/symbol=!{partitionKeyFromQuery:symbol}/dt=!{partitionKeyFromQuery:dt}/!{firehose:random-string}-!{firehose:random-string}/",
            PrefixKind::Data,
            true,
        )
        .unwrap();
        assert_eq!(p.partition_keys().collect::<Vec<_>>(), ["symbol", "dt"]);
        assert!(p.has_random_string());
        assert_eq!(
            expand(&p, &[("symbol", "BRK.B"), ("dt", "2026-11-27")], None),
            "raw/symbol=BRK.B/dt=2026-11-27/r1-r2/"
        );
        let e = Prefix::parse(
            "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/",
            PrefixKind::Error,
            true,
        )
        .unwrap();
        assert_eq!(
            expand(&e, &[], Some("metadata-extraction-failed")),
            "errors/metadata-extraction-failed/dt=2026-11-27/"
        );
    }

    #[test]
    fn a_prefix_without_a_timestamp_gets_the_default_time_prefix_unless_partitioned() {
        let plain = Prefix::parse("raw/", PrefixKind::Data, false).unwrap();
        assert_eq!(expand(&plain, &[], None), "raw/2026/11/27/09/");
        let partitioned = Prefix::parse("raw/", PrefixKind::Data, true).unwrap();
        assert_eq!(expand(&partitioned, &[], None), "raw/");
        let error = Prefix::parse("errors/", PrefixKind::Error, false).unwrap();
        assert_eq!(expand(&error, &[], Some("x")), "errors/");
    }

    #[test]
    fn refuses_what_firehose_refuses_or_is_not_emulated() {
        let err = |text: &str, kind| Prefix::parse(text, kind, true).unwrap_err().0;
        assert!(
            err("raw/!{firehose:error-output-type}/", PrefixKind::Data)
                .contains("only allowed in ErrorOutputPrefix")
        );
        assert!(
            err("errors/!{timestamp:yyyy}/", PrefixKind::Error)
                .contains("must contain !{firehose:error-output-type}")
        );
        assert!(err("raw/!{partitionKeyFromLambda:a}/", PrefixKind::Data).contains("Lambda"));
        assert!(err("raw/!{timestamp:yyyy-DDD}/", PrefixKind::Data).contains("`DDD`"));
        assert!(err("raw/!{timestamp:yyyy/", PrefixKind::Data).contains("not closed"));
        assert!(err("raw/!{nope:x}/", PrefixKind::Data).contains("not an expression"));
        assert!(err("raw/!{timestamp:'a}/", PrefixKind::Data).contains("unclosed quote"));
    }
}
