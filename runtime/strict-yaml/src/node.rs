//! The positioned YAML tree and its construction from the parser's event stream.

use std::sync::Arc;

use saphyr_parser::{Event, Parser};

use crate::diagnostic::{Diagnostic, Problems};

/// A position in a source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters (what an editor shows).
    pub column: usize,
    /// Byte offset into the text.
    pub offset: usize,
}

/// A range of a source text: `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    /// First character.
    pub start: Pos,
    /// One past the last character.
    pub end: Pos,
}

impl Span {
    /// The byte range of the span, for slicing the source text.
    pub fn bytes(&self) -> std::ops::Range<usize> {
        self.start.offset..self.end.offset
    }
}

/// How a scalar was written; decoding needs it because `"15"` is a string while `15` is a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    /// Unquoted: subject to YAML's type resolution (numbers, booleans, null).
    Plain,
    /// Single- or double-quoted: always a string.
    Quoted,
    /// A `|` or `>` block: always a string.
    Block,
}

/// What a node is.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar: its text after unescaping, and how it was written.
    Scalar(String, ScalarStyle),
    /// A sequence (list).
    Seq(Vec<Node>),
    /// A mapping, in source order; keys are always scalars (others are rejected when parsing).
    /// Duplicate keys are reported when parsing and only the first entry is kept.
    Map(Vec<(Node, Node)>),
}

/// One node of the tree with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The node's content.
    pub kind: NodeKind,
    /// Where it is written.
    pub span: Span,
}

impl Node {
    /// The scalar text of the node, if it is a scalar.
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(text, _) => Some(text),
            _ => None,
        }
    }

    /// True for YAML's null: an empty plain scalar, `~` or `null`.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar(text, ScalarStyle::Plain)
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }
}

/// A parsed YAML file: its name, its text and its tree.
#[derive(Debug, Clone)]
pub struct Document {
    file: String,
    text: Arc<str>,
    root: Node,
    /// Byte offset of the start of each line (index 0 is line 1).
    line_starts: Vec<usize>,
    /// Per line, the byte offset of the first non-ASCII byte at or after its start (the text's
    /// length when none): up to there a character column is a byte count.
    next_non_ascii: Vec<usize>,
    /// Problems found while building the tree that do not stop decoding (duplicate keys).
    pub(crate) early: Vec<Diagnostic>,
}

impl Document {
    /// Parses `text`, named `file` in diagnostics. Syntax errors stop here; other problems (duplicate
    /// keys) are kept and reported by the [`crate::Decoder`] together with the decoding problems.
    pub fn parse(file: &str, text: &str) -> Result<Self, Problems> {
        let text: Arc<str> = Arc::from(text);
        let line_starts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let next_non_ascii = next_non_ascii(&text, &line_starts);
        let mut doc = Document {
            file: file.to_owned(),
            text,
            root: Node {
                kind: NodeKind::Map(Vec::new()),
                span: Span::default(),
            },
            line_starts,
            next_non_ascii,
            early: Vec::new(),
        };
        let text = Arc::clone(&doc.text);
        let mut builder = Builder {
            doc: &doc,
            stack: Vec::new(),
            root: None,
            documents: 0,
            errors: Vec::new(),
        };
        for item in Parser::new_from_str(&text) {
            match item {
                Ok((event, span)) => builder.event(event, builder.doc.span(span)),
                Err(err) => {
                    let m = err.marker();
                    let pos = doc.pos(m.line(), m.col());
                    builder.errors.push(doc.diagnostic(
                        Span {
                            start: pos,
                            end: pos,
                        },
                        format!("invalid YAML: {}", err.info()),
                        Some("check the indentation, quotes and `:` separators around here".into()),
                    ));
                    break;
                }
            }
        }
        let Builder { root, errors, .. } = builder;
        if !errors.is_empty() {
            return Err(doc.problems(errors));
        }
        let Some(root) = root else {
            let start = doc.pos(1, 0);
            return Err(doc.problems(vec![doc.diagnostic(
                Span { start, end: start },
                "the file is empty".into(),
                Some("write the settings as a map of `key: value` lines".into()),
            )]));
        };
        let mut early = Vec::new();
        let root = dedup(&doc, root, "", &mut early);
        doc.root = root;
        doc.early = early;
        Ok(doc)
    }

    /// The file name used in diagnostics.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The source text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The root node.
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// A diagnostic for this file at `span`.
    pub fn diagnostic(&self, span: Span, message: String, help: Option<String>) -> Diagnostic {
        Diagnostic {
            file: self.file.clone(),
            line: span.start.line,
            column: span.start.column,
            message,
            help,
            span,
        }
    }

    pub(crate) fn problems(&self, diagnostics: Vec<Diagnostic>) -> Problems {
        Problems::new(&self.file, &self.text, diagnostics)
    }

    /// Converts the parser's (1-based line, 0-based character column) into a [`Pos`] with a byte offset.
    ///
    /// Constant time on ASCII text: counting characters from the line's start would make every
    /// position of a long line cost its column, and a one-line list of N symbols cost N² in all.
    fn pos(&self, line: usize, col: usize) -> Pos {
        let line = line.clamp(1, self.line_starts.len());
        let start = self.line_starts[line - 1];
        let offset = if start + col <= self.next_non_ascii[line - 1] {
            start + col
        } else {
            let rest = &self.text[start..];
            start + rest.char_indices().nth(col).map_or(rest.len(), |(i, _)| i)
        };
        Pos {
            line,
            column: col + 1,
            offset,
        }
    }

    fn span(&self, span: saphyr_parser::Span) -> Span {
        Span {
            start: self.pos(span.start.line(), span.start.col()),
            end: self.pos(span.end.line(), span.end.col()),
        }
    }
}

/// For each line starting at `line_starts[i]`, the offset of the first non-ASCII byte at or after
/// it, or `text.len()`: one backward pass over the lines.
fn next_non_ascii(text: &str, line_starts: &[usize]) -> Vec<usize> {
    let mut out = vec![text.len(); line_starts.len()];
    let mut next = text.len();
    let mut end = text.len();
    for (line, &start) in line_starts.iter().enumerate().rev() {
        if let Some(first) = text.as_bytes()[start..end]
            .iter()
            .position(|b| !b.is_ascii())
        {
            next = start + first;
        }
        end = start;
        out[line] = next;
    }
    out
}

/// Builds the tree from parser events.
struct Builder<'a> {
    doc: &'a Document,
    /// Open containers: the node under construction and, for maps, a pending key.
    stack: Vec<(Node, Option<Node>)>,
    root: Option<Node>,
    documents: usize,
    errors: Vec<Diagnostic>,
}

impl Builder<'_> {
    fn event(&mut self, event: Event<'_>, span: Span) {
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents == 2 {
                    self.errors.push(self.doc.diagnostic(
                        span,
                        "a second YAML document in the same file".into(),
                        Some("remove the `---` line; one file holds one document".into()),
                    ));
                }
            }
            Event::Alias(_) => self.errors.push(self.doc.diagnostic(
                span,
                "YAML aliases are not supported".into(),
                Some("write the value out in full, so that every value has one position".into()),
            )),
            Event::Scalar(text, style, _, tag) => {
                if tag.is_some() {
                    self.errors.push(self.doc.diagnostic(
                        span,
                        "YAML tags are not supported".into(),
                        Some("remove the `!` tag; quote the value if it must be a string".into()),
                    ));
                }
                let style = match style {
                    saphyr_parser::ScalarStyle::Plain => ScalarStyle::Plain,
                    saphyr_parser::ScalarStyle::SingleQuoted
                    | saphyr_parser::ScalarStyle::DoubleQuoted => ScalarStyle::Quoted,
                    saphyr_parser::ScalarStyle::Literal | saphyr_parser::ScalarStyle::Folded => {
                        ScalarStyle::Block
                    }
                };
                self.push(Node {
                    kind: NodeKind::Scalar(text.into_owned(), style),
                    span,
                });
            }
            Event::SequenceStart(_, ref tag) | Event::MappingStart(_, ref tag) => {
                if tag.is_some() {
                    self.errors.push(self.doc.diagnostic(
                        span,
                        "YAML tags are not supported".into(),
                        Some("remove the `!` tag".into()),
                    ));
                }
                let kind = if matches!(event, Event::SequenceStart(..)) {
                    NodeKind::Seq(Vec::new())
                } else {
                    NodeKind::Map(Vec::new())
                };
                self.stack.push((Node { kind, span }, None));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((mut node, _)) = self.stack.pop() {
                    // A block collection's end event sits wherever the next token starts; the last child's
                    // end is the honest end of the collection. Flow collections end at their bracket.
                    let last_end = match &node.kind {
                        NodeKind::Seq(items) => items.last().map(|n| n.span.end),
                        NodeKind::Map(entries) => entries.last().map(|(_, v)| v.span.end),
                        NodeKind::Scalar(..) => None,
                    };
                    let closes_flow = self
                        .doc
                        .text
                        .get(span.bytes())
                        .is_some_and(|t| t.ends_with([']', '}']));
                    node.span.end = if closes_flow {
                        span.end
                    } else {
                        last_end.unwrap_or(node.span.end)
                    };
                    self.push(node);
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }

    /// Adds a finished node to the open container, or makes it the root.
    fn push(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some((parent, pending)) => match &mut parent.kind {
                NodeKind::Seq(items) => items.push(node),
                NodeKind::Map(entries) => match pending.take() {
                    None => {
                        if node.scalar().is_none() {
                            self.errors.push(self.doc.diagnostic(
                                node.span,
                                "a map key must be a plain value, not a list or a map".into(),
                                Some("use a name such as `key:` here".into()),
                            ));
                        }
                        *pending = Some(node);
                    }
                    Some(key) => entries.push((key, node)),
                },
                NodeKind::Scalar(..) => {}
            },
        }
    }
}

/// Reports duplicate keys (naming both positions) and keeps the first entry of each key, recursively.
fn dedup(doc: &Document, node: Node, path: &str, out: &mut Vec<Diagnostic>) -> Node {
    let Node { kind, span } = node;
    let kind = match kind {
        NodeKind::Scalar(..) => kind,
        NodeKind::Seq(items) => NodeKind::Seq(
            items
                .into_iter()
                .enumerate()
                .map(|(i, n)| dedup(doc, n, &format!("{path}[{i}]"), out))
                .collect(),
        ),
        NodeKind::Map(entries) => {
            let mut kept: Vec<(Node, Node)> = Vec::with_capacity(entries.len());
            for (key, value) in entries {
                let name = key.scalar().unwrap_or_default().to_owned();
                if let Some((first, _)) = kept.iter().find(|(k, _)| k.scalar() == Some(&name)) {
                    let section = if path.is_empty() {
                        "at the top level".to_owned()
                    } else {
                        format!("in `{path}`")
                    };
                    out.push(doc.diagnostic(
                        key.span,
                        format!(
                            "duplicate key `{name}` {section}, first defined at line {}, column {}",
                            first.span.start.line, first.span.start.column
                        ),
                        Some("remove one of the two entries; YAML keeps only one".into()),
                    ));
                    continue;
                }
                let child = crate::decode::join(path, &name);
                let value = dedup(doc, value, &child, out);
                kept.push((key, value));
            }
            NodeKind::Map(kept)
        }
    };
    Node { kind, span }
}
