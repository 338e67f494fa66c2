//! Diagnostics and their rustc-like rendering.

use std::fmt;

use crate::node::Span;

/// One problem in a file, positioned at the text it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name as given to [`crate::Document::parse`].
    pub file: String,
    /// 1-based line; 0 for a problem with the file as a whole (its name, for example).
    pub line: usize,
    /// 1-based column in characters; 0 with `line` 0.
    pub column: usize,
    /// What is wrong, in one line.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// The offending text.
    pub span: Span,
}

impl Diagnostic {
    /// A problem with the file as a whole rather than with some text in it.
    pub fn whole_file(file: &str, message: String, help: Option<String>) -> Self {
        Diagnostic {
            file: file.to_owned(),
            line: 0,
            column: 0,
            message,
            help,
            span: Span::default(),
        }
    }

    /// Renders the diagnostic like rustc does, quoting the offending line of `source` (the file's text).
    pub fn render(&self, source: &str) -> String {
        let mut out = format!("error: {}\n", self.message);
        if self.line == 0 {
            out.push_str(&format!(" --> {}\n", self.file));
            if let Some(help) = &self.help {
                out.push_str(&format!("  = help: {help}\n"));
            }
            return out;
        }
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        out.push_str(&format!(
            "{pad}--> {}:{}:{}\n",
            self.file, self.line, self.column
        ));
        let text = source.lines().nth(self.line - 1).unwrap_or("");
        out.push_str(&format!("{pad} |\n{number} | {text}\n"));
        // Underline the span's part of this line; at least one caret so an empty span still points.
        let line_chars = text.chars().count();
        let start = self.column.saturating_sub(1).min(line_chars);
        let span_chars = if self.span.end.line == self.line {
            self.span.end.column.saturating_sub(self.column)
        } else {
            line_chars - start
        };
        let carets = "^".repeat(span_chars.max(1));
        out.push_str(&format!("{pad} | {}{carets}\n", " ".repeat(start)));
        if let Some(help) = &self.help {
            out.push_str(&format!("{pad} = help: {help}\n"));
        }
        out
    }
}

/// All problems found in one file: the error of a failed decode.
///
/// Its `Display` renders every diagnostic followed by a summary line such as
/// `error: environments/prod.yaml has 3 problems`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Problems {
    file: String,
    source_text: String,
    diagnostics: Vec<Diagnostic>,
}

impl Problems {
    /// Problems of `file`, whose text is `source` (needed to quote the offending lines). They are
    /// ordered by position, problems with the whole file first, so the output reads top to bottom.
    pub fn new(file: &str, source: &str, mut diagnostics: Vec<Diagnostic>) -> Self {
        diagnostics.sort_by_key(|d| (d.line, d.column));
        Problems {
            file: file.to_owned(),
            source_text: source.to_owned(),
            diagnostics,
        }
    }

    /// The diagnostics, in file order.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The file the problems are in.
    pub fn file(&self) -> &str {
        &self.file
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            writeln!(f, "{}", d.render(&self.source_text))?;
        }
        let n = self.diagnostics.len();
        let noun = if n == 1 { "problem" } else { "problems" };
        write!(f, "error: {} has {n} {noun}", self.file)
    }
}
