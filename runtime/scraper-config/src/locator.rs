//! The locator syntax of `sources[].fields`.
//!
//! - HTML sources: a CSS selector; the value is the text of the first matching element (its descendant
//!   text, whitespace trimmed). `selector@attribute` reads that attribute of the first match instead, such
//!   as `time@datetime` or `meta[itemprop=price]@content`. The split is at the last `@` that is outside
//!   brackets, quotes and parentheses, and followed only by an attribute name (`[A-Za-z_:][-A-Za-z0-9_:.]*`),
//!   so an `@` inside an attribute selector (`a[href^="mailto:x@y"]`) stays part of the selector.
//! - JSON sources: a JSONPath subset: `$` followed by steps `.name`, `['name']` / `["name"]` (any key) and
//!   `[index]` (a non-negative array index). No wildcards, filters, slices or recursive descent: a
//!   locator names exactly one value.

use std::fmt;

/// A parsed locator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locator {
    /// A CSS selector with an optional attribute.
    Html(HtmlLocator),
    /// A JSON path.
    Json(JsonPath),
}

/// A CSS selector, and the attribute to read instead of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlLocator {
    /// The CSS selector (not checked here; the scraper compiles it).
    pub selector: String,
    /// The attribute to read, when the locator was `selector@attribute`.
    pub attribute: Option<String>,
}

/// A JSON path: the steps after `$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    /// Steps from the document root.
    pub steps: Vec<JsonStep>,
}

/// One step of a [`JsonPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonStep {
    /// A member of an object.
    Key(String),
    /// An element of an array.
    Index(usize),
}

/// Why a locator's text is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocatorError {
    /// The locator is empty or blank.
    #[error("the locator is empty")]
    Empty,
    /// `selector@` with nothing before the `@`.
    #[error("`@{0}` has no selector before it")]
    NoSelector(String),
    /// A JSON path that does not start with `$`.
    #[error("a JSON path starts with `$`")]
    NoRoot,
    /// A JSON path step that cannot be read.
    #[error("unexpected `{found}` at character {at} of the JSON path; expected {expected}")]
    Syntax {
        /// What was found (a character, or "end").
        found: String,
        /// Character position (1-based).
        at: usize,
        /// What would have been valid.
        expected: &'static str,
    },
}

impl HtmlLocator {
    /// Splits `text` into selector and attribute.
    pub fn parse(text: &str) -> Result<Self, LocatorError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(LocatorError::Empty);
        }
        let (selector, attribute) = match attribute_split(text) {
            Some(at) => (text[..at].trim(), Some(text[at + 1..].to_owned())),
            None => (text, None),
        };
        if selector.is_empty() {
            return Err(LocatorError::NoSelector(attribute.unwrap_or_default()));
        }
        Ok(Self {
            selector: selector.to_owned(),
            attribute,
        })
    }
}

/// The byte index of the `@` that starts the attribute part, if there is one.
fn attribute_split(text: &str) -> Option<usize> {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut split = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '(') => depth += 1,
            (None, ']' | ')') => depth -= 1,
            (None, '@') if depth == 0 => split = Some(i),
            _ => {}
        }
    }
    let at = split?;
    let name = &text[at + 1..];
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
    (first_ok && rest_ok).then_some(at)
}

impl JsonPath {
    /// Parses `$.a.b[0]['c d']`.
    pub fn parse(text: &str) -> Result<Self, LocatorError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(LocatorError::Empty);
        }
        let chars: Vec<char> = text.chars().collect();
        if chars[0] != '$' {
            return Err(LocatorError::NoRoot);
        }
        let err = |at: usize, expected: &'static str| LocatorError::Syntax {
            found: chars
                .get(at)
                .map_or_else(|| "end".to_owned(), |c| c.to_string()),
            at: at + 1,
            expected,
        };
        let mut steps = Vec::new();
        let mut i = 1;
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    let start = i + 1;
                    let mut end = start;
                    while end < chars.len()
                        && (chars[end].is_alphanumeric() || matches!(chars[end], '_' | '-' | '$'))
                    {
                        end += 1;
                    }
                    if end == start {
                        return Err(err(start, "a member name (letters, digits, `_`, `-`)"));
                    }
                    steps.push(JsonStep::Key(chars[start..end].iter().collect()));
                    i = end;
                }
                '[' => match chars.get(i + 1) {
                    Some(&q @ ('\'' | '"')) => {
                        let start = i + 2;
                        let Some(len) = chars[start..].iter().position(|&c| c == q) else {
                            return Err(err(chars.len(), "a closing quote"));
                        };
                        let end = start + len;
                        if chars.get(end + 1) != Some(&']') {
                            return Err(err(end + 1, "`]`"));
                        }
                        steps.push(JsonStep::Key(chars[start..end].iter().collect()));
                        i = end + 2;
                    }
                    Some(c) if c.is_ascii_digit() => {
                        let start = i + 1;
                        let mut end = start;
                        while end < chars.len() && chars[end].is_ascii_digit() {
                            end += 1;
                        }
                        if chars.get(end) != Some(&']') {
                            return Err(err(end, "a digit or `]`"));
                        }
                        let digits: String = chars[start..end].iter().collect();
                        let index = digits
                            .parse()
                            .map_err(|_| err(start, "an array index that fits in memory"))?;
                        steps.push(JsonStep::Index(index));
                        i = end + 1;
                    }
                    _ => return Err(err(i + 1, "an array index or a quoted member name")),
                },
                _ => return Err(err(i, "`.` or `[`")),
            }
        }
        Ok(Self { steps })
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for step in &self.steps {
            match step {
                JsonStep::Key(k)
                    if !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '$')) =>
                {
                    write!(f, ".{k}")?;
                }
                JsonStep::Key(k) if !k.contains('\'') => write!(f, "['{k}']")?,
                JsonStep::Key(k) => write!(f, "[\"{k}\"]")?,
                JsonStep::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_attribute_split() {
        let l = HtmlLocator::parse("time@datetime").unwrap();
        assert_eq!(
            (l.selector.as_str(), l.attribute.as_deref()),
            ("time", Some("datetime"))
        );
        let l = HtmlLocator::parse("meta[itemprop=price] @content").unwrap();
        assert_eq!(
            (l.selector.as_str(), l.attribute.as_deref()),
            ("meta[itemprop=price]", Some("content"))
        );
        let l = HtmlLocator::parse(r#"a[href="mailto:x@y"]"#).unwrap();
        assert_eq!(l.attribute, None);
        let l = HtmlLocator::parse("span.price").unwrap();
        assert_eq!((l.selector.as_str(), l.attribute), ("span.price", None));
        assert_eq!(
            HtmlLocator::parse("@content"),
            Err(LocatorError::NoSelector("content".into()))
        );
        assert_eq!(HtmlLocator::parse("  "), Err(LocatorError::Empty));
    }

    #[test]
    fn json_paths() {
        let p = JsonPath::parse("$.quote.prices[0]['last price']").unwrap();
        assert_eq!(
            p.steps,
            vec![
                JsonStep::Key("quote".into()),
                JsonStep::Key("prices".into()),
                JsonStep::Index(0),
                JsonStep::Key("last price".into()),
            ]
        );
        assert_eq!(p.to_string(), "$.quote.prices[0]['last price']");
        assert_eq!(JsonPath::parse("$").unwrap().steps, vec![]);
        assert_eq!(JsonPath::parse("quote.price"), Err(LocatorError::NoRoot));
        assert!(matches!(
            JsonPath::parse("$.a..b"),
            Err(LocatorError::Syntax { at: 5, .. })
        ));
        assert!(matches!(
            JsonPath::parse("$.a[*]"),
            Err(LocatorError::Syntax { .. })
        ));
        assert!(matches!(
            JsonPath::parse("$.a[1"),
            Err(LocatorError::Syntax { .. })
        ));
        assert!(matches!(
            JsonPath::parse("$a"),
            Err(LocatorError::Syntax { at: 2, .. })
        ));
    }
}
