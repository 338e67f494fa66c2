//! Decoding a [`Document`] into typed values while collecting every problem.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;

use crate::diagnostic::{Diagnostic, Problems};
use crate::node::{Document, Node, NodeKind, ScalarStyle, Span};
use crate::suggest::closest;

/// The path of `key` inside the section at `path` (`network` + `vpc_cidr` → `network.vpc_cidr`).
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Holds the problems of one decode and the positions of every value read so far.
///
/// Decoding functions take `&Decoder` (problems go into a `RefCell`), so readers of nested sections can be
/// alive at the same time without threading `&mut` through every call.
#[derive(Debug)]
pub struct Decoder<'d> {
    doc: &'d Document,
    diagnostics: RefCell<Vec<Diagnostic>>,
    /// Path (`network.vpn_client_cidr`, `regions[1]`) → (key span if the value sits under a key, value span).
    positions: RefCell<HashMap<String, (Option<Span>, Span)>>,
}

impl<'d> Decoder<'d> {
    /// A decoder over `doc`, starting with the problems found while parsing it (duplicate keys).
    pub fn new(doc: &'d Document) -> Self {
        Decoder {
            doc,
            diagnostics: RefCell::new(doc.early.clone()),
            positions: RefCell::new(HashMap::new()),
        }
    }

    /// The document's root value.
    pub fn root(&self) -> Value<'_> {
        Value {
            dec: self,
            node: self.doc.root(),
            path: String::new(),
            key_span: None,
        }
    }

    /// The root as a map; a file whose top level is not a map is reported and gives `None`.
    pub fn root_map(&self) -> Option<MapReader<'_>> {
        self.root().map()
    }

    /// Reports a problem at `span`, with `help` saying how to fix it.
    pub fn error(&self, span: Span, message: impl Into<String>, help: impl Into<String>) {
        let d = self.doc.diagnostic(span, message.into(), Some(help.into()));
        self.diagnostics.borrow_mut().push(d);
    }

    /// Reports a problem with the file as a whole (such as its name).
    pub fn file_error(&self, message: impl Into<String>, help: impl Into<String>) {
        let d = Diagnostic::whole_file(self.doc.file(), message.into(), Some(help.into()));
        self.diagnostics.borrow_mut().push(d);
    }

    /// Where the value at `path` (such as `network.vpn_client_cidr` or `regions[0]`) is written, if it was
    /// read. Checks that involve several values use this to point at the one at fault.
    pub fn value_span(&self, path: &str) -> Option<Span> {
        self.positions.borrow().get(path).map(|(_, v)| *v)
    }

    /// Where the key of the value at `path` is written, if the value was read from a map.
    pub fn key_span(&self, path: &str) -> Option<Span> {
        self.positions.borrow().get(path).and_then(|(k, _)| *k)
    }

    /// True when a problem has been reported.
    pub fn has_errors(&self) -> bool {
        !self.diagnostics.borrow().is_empty()
    }

    /// The document being decoded.
    pub fn document(&self) -> &'d Document {
        self.doc
    }

    /// Ends the decode: the value if no problem was reported, otherwise all the problems.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Problems> {
        let mut diagnostics = self.diagnostics.into_inner();
        match value {
            Some(value) if diagnostics.is_empty() => Ok(value),
            _ => {
                if diagnostics.is_empty() {
                    // A decode function gave up without saying why: still fail, and say so.
                    diagnostics.push(Diagnostic::whole_file(
                        self.doc.file(),
                        "the file could not be decoded".into(),
                        Some("this is a bug in the decoder; please report it".into()),
                    ));
                }
                Err(self.doc.problems(diagnostics))
            }
        }
    }

    fn record(&self, path: &str, key_span: Option<Span>, span: Span) {
        self.positions
            .borrow_mut()
            .insert(path.to_owned(), (key_span, span));
    }
}

/// A value of the document being decoded, with its path (for messages) and position (for diagnostics).
#[derive(Debug, Clone)]
pub struct Value<'a> {
    dec: &'a Decoder<'a>,
    node: &'a Node,
    path: String,
    key_span: Option<Span>,
}

impl<'a> Value<'a> {
    /// The decoder, for reporting problems found by checks of the caller.
    pub fn decoder(&self) -> &'a Decoder<'a> {
        self.dec
    }

    /// The node.
    pub fn node(&self) -> &'a Node {
        self.node
    }

    /// Where the value is written.
    pub fn span(&self) -> Span {
        self.node.span
    }

    /// Where its key is written, when the value sits under a key.
    pub fn key_span(&self) -> Option<Span> {
        self.key_span
    }

    /// The value's path, such as `scraper.sources[0].url`; empty for the root.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// True for YAML null (`~`, `null` or nothing).
    pub fn is_null(&self) -> bool {
        self.node.is_null()
    }

    /// Reports a problem positioned at this value.
    pub fn error(&self, message: impl Into<String>, help: impl Into<String>) {
        self.dec.error(self.node.span, message, help);
    }

    /// Decodes the value as `T`.
    pub fn decode<T: Decode>(&self) -> Option<T> {
        T::decode(self)
    }

    /// How the value reads in a message: `the string "abc"`, `the integer 12`, `a list`, `a map`, `null`.
    pub fn describe(&self) -> String {
        match &self.node.kind {
            NodeKind::Seq(_) => "a list".into(),
            NodeKind::Map(_) => "a map".into(),
            NodeKind::Scalar(..) if self.is_null() => "nothing (null)".into(),
            NodeKind::Scalar(text, ScalarStyle::Plain) if parse_int(text).is_some() => {
                format!("the number {text}")
            }
            NodeKind::Scalar(text, ScalarStyle::Plain) if parse_bool(text).is_some() => {
                format!("the boolean {text}")
            }
            NodeKind::Scalar(text, _) => format!("the string {text:?}"),
        }
    }

    /// Reports that a value of kind `expected` (such as `an integer`) was wanted.
    pub fn type_error(&self, expected: &str, help: impl Into<String>) {
        self.error(
            format!(
                "expected {expected} for `{}`, found {}",
                self.path,
                self.describe()
            ),
            help,
        );
    }

    /// The text of a scalar as written (after unquoting). Unquoted numbers and booleans are accepted and keep
    /// their source text, so `account: 012345678901` keeps its leading zero. Null, lists and maps are errors.
    pub fn str(&self) -> Option<&'a str> {
        match &self.node.kind {
            NodeKind::Scalar(text, _) if !self.is_null() => Some(text),
            _ => {
                self.type_error(
                    "a string",
                    "write a text value; quote it if it contains `: ` or `#`",
                );
                None
            }
        }
    }

    /// [`Value::str`], owned.
    pub fn string(&self) -> Option<String> {
        self.str().map(str::to_owned)
    }

    /// An unquoted decimal integer within `range`.
    pub fn u64_in(&self, range: RangeInclusive<u64>) -> Option<u64> {
        let n = match &self.node.kind {
            NodeKind::Scalar(text, ScalarStyle::Plain) => parse_int(text),
            _ => None,
        };
        let Some(n) = n else {
            let help = match &self.node.kind {
                NodeKind::Scalar(text, ScalarStyle::Quoted) if parse_int(text).is_some() => {
                    "remove the quotes: numbers are written without them".to_owned()
                }
                _ => format!(
                    "write a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            };
            self.type_error("an integer", help);
            return None;
        };
        match u64::try_from(n) {
            Ok(n) if range.contains(&n) => Some(n),
            _ => {
                self.error(
                    format!(
                        "`{}` must be from {} to {}, found {n}",
                        self.path,
                        range.start(),
                        range.end()
                    ),
                    format!("set a value from {} to {}", range.start(), range.end()),
                );
                None
            }
        }
    }

    /// An unquoted decimal integer within `range`.
    pub fn u32_in(&self, range: RangeInclusive<u32>) -> Option<u32> {
        let wide = u64::from(*range.start())..=u64::from(*range.end());
        // The range check above guarantees the value fits.
        self.u64_in(wide).and_then(|n| u32::try_from(n).ok())
    }

    /// An unquoted number (integer or decimal; `.inf` and `.nan` as YAML writes them).
    pub fn f64(&self) -> Option<f64> {
        let n = match &self.node.kind {
            NodeKind::Scalar(text, ScalarStyle::Plain) => parse_float(text),
            _ => None,
        };
        if n.is_none() {
            self.type_error("a number", "write a number such as `1.5`, without quotes");
        }
        n
    }

    /// An unquoted `true` or `false`.
    pub fn bool(&self) -> Option<bool> {
        let b = match &self.node.kind {
            NodeKind::Scalar(text, ScalarStyle::Plain) => parse_bool(text),
            _ => None,
        };
        if b.is_none() {
            self.type_error(
                "`true` or `false`",
                "write `true` or `false`, without quotes",
            );
        }
        b
    }

    /// The items of a list, each with its path (`regions[0]`) and position recorded.
    pub fn items(&self) -> Option<Vec<Value<'a>>> {
        let NodeKind::Seq(items) = &self.node.kind else {
            self.type_error("a list", "write a list as `[a, b]` or as `- a` lines");
            return None;
        };
        Some(
            items
                .iter()
                .enumerate()
                .map(|(i, node)| {
                    let path = format!("{}[{i}]", self.path);
                    self.dec.record(&path, None, node.span);
                    Value {
                        dec: self.dec,
                        node,
                        path,
                        key_span: None,
                    }
                })
                .collect(),
        )
    }

    /// The value as a map with fixed keys, read through a [`MapReader`].
    pub fn map(&self) -> Option<MapReader<'a>> {
        let NodeKind::Map(entries) = &self.node.kind else {
            let help = if self.path.is_empty() {
                "write the settings as `key: value` lines".to_owned()
            } else {
                format!(
                    "write `{}` as indented `key: value` lines or as `{{key: value}}`",
                    self.path
                )
            };
            if self.path.is_empty() {
                self.error(
                    format!(
                        "expected a map of settings at the top level, found {}",
                        self.describe()
                    ),
                    help,
                );
            } else {
                self.type_error("a map", help);
            }
            return None;
        };
        Some(MapReader {
            value: self.clone(),
            entries,
            used: entries.iter().map(|_| Cell::new(false)).collect(),
            asked: RefCell::new(Vec::new()),
            missing: RefCell::new(Vec::new()),
        })
    }

    /// The entries of a map whose keys are data (tags, per-region settings): (key, value) pairs in source
    /// order, each value with path `<path>.<key>`.
    pub fn entries(&self) -> Option<Vec<(Value<'a>, Value<'a>)>> {
        let NodeKind::Map(entries) = &self.node.kind else {
            self.type_error(
                "a map",
                format!("write `{}` as `key: value` lines", self.path),
            );
            return None;
        };
        Some(
            entries
                .iter()
                .map(|(k, v)| {
                    let path = join(&self.path, k.scalar().unwrap_or_default());
                    self.dec.record(&path, Some(k.span), v.span);
                    let key = Value {
                        dec: self.dec,
                        node: k,
                        path: format!("{path} (key)"),
                        key_span: None,
                    };
                    let value = Value {
                        dec: self.dec,
                        node: v,
                        path,
                        key_span: Some(k.span),
                    };
                    (key, value)
                })
                .collect(),
        )
    }

    /// Where a "missing key" problem in this map is reported: its key if it has one (the section's name),
    /// otherwise the map itself.
    fn anchor(&self) -> Span {
        self.key_span.unwrap_or(Span {
            start: self.node.span.start,
            end: self.node.span.start,
        })
    }

    fn section(&self) -> String {
        if self.path.is_empty() {
            "at the top level".to_owned()
        } else {
            format!("in `{}`", self.path)
        }
    }
}

/// Reads a map with a fixed set of keys. Every key the caller asks for is marked as known; [`MapReader::finish`]
/// reports the keys nobody asked for (with a suggestion) and the missing required ones.
#[derive(Debug)]
#[must_use = "call finish() to report unknown and missing keys"]
pub struct MapReader<'a> {
    value: Value<'a>,
    entries: &'a [(Node, Node)],
    used: Vec<Cell<bool>>,
    asked: RefCell<Vec<String>>,
    missing: RefCell<Vec<String>>,
}

impl<'a> MapReader<'a> {
    /// The map as a value (its span, path and decoder).
    pub fn value(&self) -> &Value<'a> {
        &self.value
    }

    /// True when `key` is written in the map. Does not mark the key as read.
    pub fn contains(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k.scalar() == Some(key))
    }

    /// The value under `key`, null included, marking the key as known.
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        self.asked.borrow_mut().push(key.to_owned());
        let i = self
            .entries
            .iter()
            .position(|(k, _)| k.scalar() == Some(key))?;
        self.used[i].set(true);
        let (k, v) = &self.entries[i];
        let path = join(&self.value.path, key);
        self.value.dec.record(&path, Some(k.span), v.span);
        Some(Value {
            dec: self.value.dec,
            node: v,
            path,
            key_span: Some(k.span),
        })
    }

    /// The value under `key`, which must be present and not null.
    pub fn required_value(&self, key: &str) -> Option<Value<'a>> {
        match self.get(key) {
            Some(v) if v.is_null() => {
                v.error(
                    format!("`{}` has no value", v.path),
                    format!("write a value after `{key}:`"),
                );
                None
            }
            Some(v) => Some(v),
            None => {
                self.missing.borrow_mut().push(key.to_owned());
                None
            }
        }
    }

    /// The value under `key` if present; an explicit null counts as absent.
    pub fn optional_value(&self, key: &str) -> Option<Value<'a>> {
        self.get(key).filter(|v| !v.is_null())
    }

    /// Decodes the required `key`; `None` if it is missing or invalid (the problem is reported).
    pub fn required<T: Decode>(&self, key: &str) -> Option<T> {
        self.required_value(key).and_then(|v| T::decode(&v))
    }

    /// Decodes `key` if present; `None` if absent (or null) and also if invalid (then the problem is reported,
    /// so the decode as a whole fails anyway).
    pub fn optional<T: Decode>(&self, key: &str) -> Option<T> {
        self.optional_value(key).and_then(|v| T::decode(&v))
    }

    /// Decodes `key`, or gives `default` when it is absent (or invalid, with the problem reported).
    pub fn optional_or<T: Decode>(&self, key: &str, default: T) -> T {
        self.optional(key).unwrap_or(default)
    }

    /// Reports unknown keys, each with the closest known key as a suggestion (or the list of known keys), and
    /// missing required keys, except one that an unknown key looks like a misspelling of (one problem, not two).
    pub fn finish(self) {
        let asked = self.asked.into_inner();
        let mut missing = self.missing.into_inner();
        let dec = self.value.dec;
        for ((k, _), used) in self.entries.iter().zip(&self.used) {
            if used.get() {
                continue;
            }
            let name = k.scalar().unwrap_or_default();
            let message = if self.value.path.is_empty() {
                format!("unknown top-level key `{name}`")
            } else {
                format!("unknown key `{name}` in `{}`", self.value.path)
            };
            let help = match closest(name, asked.iter().map(String::as_str)) {
                Some(close) => {
                    missing.retain(|m| m != close);
                    format!("did you mean `{close}`?")
                }
                None if asked.is_empty() => format!("`{}` takes no keys", self.value.path),
                None => {
                    let mut valid: Vec<String> = asked.iter().map(|k| format!("`{k}`")).collect();
                    valid.dedup();
                    format!(
                        "valid keys {} are {}",
                        self.value.section(),
                        valid.join(", ")
                    )
                }
            };
            dec.error(k.span, message, help);
        }
        for key in missing {
            let message = if self.value.path.is_empty() {
                format!("missing top-level key `{key}`")
            } else {
                format!("missing key `{key}` in `{}`", self.value.path)
            };
            dec.error(
                self.value.anchor(),
                message,
                format!("add `{key}: <value>` {}", self.value.section()),
            );
        }
    }
}

/// A type that can be decoded from a YAML value, reporting its own problems through the value's decoder.
pub trait Decode: Sized {
    /// Decodes `value`; on failure reports why (via [`Value::error`]) and returns `None`.
    fn decode(value: &Value<'_>) -> Option<Self>;
}

impl Decode for String {
    fn decode(value: &Value<'_>) -> Option<Self> {
        value.string()
    }
}

impl Decode for bool {
    fn decode(value: &Value<'_>) -> Option<Self> {
        value.bool()
    }
}

impl Decode for u32 {
    fn decode(value: &Value<'_>) -> Option<Self> {
        value.u32_in(0..=u32::MAX)
    }
}

impl Decode for u64 {
    fn decode(value: &Value<'_>) -> Option<Self> {
        value.u64_in(0..=u64::MAX)
    }
}

impl Decode for f64 {
    fn decode(value: &Value<'_>) -> Option<Self> {
        value.f64()
    }
}

impl<T: Decode> Decode for Vec<T> {
    /// Decodes every item, so that all bad items are reported, not just the first.
    fn decode(value: &Value<'_>) -> Option<Self> {
        let decoded: Vec<Option<T>> = value.items()?.iter().map(T::decode).collect();
        decoded.into_iter().collect()
    }
}

impl<T: Decode> Decode for BTreeMap<String, T> {
    fn decode(value: &Value<'_>) -> Option<Self> {
        let decoded: Vec<Option<(String, T)>> = value
            .entries()?
            .iter()
            .map(|(k, v)| Some((k.string()?, T::decode(v)?)))
            .collect();
        decoded.into_iter().collect()
    }
}

/// YAML 1.2 core-schema decimal integer (`-12`, `+3`, `0`). Octal and hex forms are not accepted: a config
/// value written `0x10` is more likely a mistake than an intent.
fn parse_int(text: &str) -> Option<i128> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// YAML 1.2 core-schema float, including integers and `.inf`/`.nan` (which semantic checks can reject).
fn parse_float(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    // Rust also parses `inf`, `nan` and `infinity`, which YAML does not: allow only number characters.
    if text.is_empty()
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
    {
        return None;
    }
    text.parse().ok()
}

/// YAML 1.2 core-schema booleans. YAML 1.1's `yes`/`no`/`on`/`off` are not booleans (the "Norway problem").
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}
