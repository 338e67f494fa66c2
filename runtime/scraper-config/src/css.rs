//! CSS selector syntax, checked by the very parser the scraper extracts with (the crates.io `scraper`
//! crate): the deployer's environment check and the scraper's configuration decoder both call
//! [`parse_selector`] through [`crate::decode::check_locator`], and the scraper's extractor compiles its
//! selectors with it, so a selector `deployer synth` accepts is one the scraper can use.

use html::Selector;

/// A CSS selector the parser refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct SelectorError {
    /// Why, in words (the parser's own texts ask to report most errors as bugs, so they are rephrased).
    pub reason: String,
}

/// Compiles `selector` (the part of an HTML locator before `@`).
pub fn parse_selector(selector: &str) -> Result<Selector, SelectorError> {
    Selector::parse(selector).map_err(|e| SelectorError { reason: reason(e) })
}

/// A readable reason for a selector error.
fn reason(e: html::error::SelectorErrorKind) -> String {
    use html::error::SelectorErrorKind as K;
    match e {
        K::UnexpectedSelectorParseError(kind) => {
            // `ClassNeedsIdent` → `class needs ident`
            let name = format!("{kind:?}");
            let name = name.split('(').next().unwrap_or_default();
            let mut words = String::new();
            for c in name.chars() {
                if c.is_uppercase() && !words.is_empty() {
                    words.push(' ');
                }
                words.extend(c.to_lowercase());
            }
            words
        }
        K::UnexpectedToken => "unexpected token".to_owned(),
        K::EndOfLine => "unexpected end".to_owned(),
        other => other.to_string().to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_selectors_compile() {
        for s in [
            "span.price",
            "div > span[data-field=\"price\"]",
            "time",
            "#q .v:first-child",
        ] {
            assert!(parse_selector(s).is_ok(), "{s}");
        }
    }

    #[test]
    fn invalid_selectors_are_refused_with_a_reason() {
        for s in ["div[", "..price", "span.", "a >", "p:no-such-class"] {
            let e = parse_selector(s).expect_err(s);
            assert!(!e.reason.is_empty(), "{s}");
            assert!(!e.reason.contains("report"), "{s}: {}", e.reason);
        }
    }
}
