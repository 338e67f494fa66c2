//! IAM-style pattern coverage: does one action or resource pattern admit everything another admits?
//!
//! IAM patterns have two wildcards: `*` matches any run of characters (across `:` and `/`), `?`
//! matches exactly one. Everything else, `${...}` placeholders included, is literal text.

use crate::normalize::{Condition, Grant};

/// Whether `pattern` contains an IAM wildcard.
pub fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

/// Whether the IAM pattern `pattern` matches the concrete text `text` (`*` and `?` in `text` are
/// ordinary characters).
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Classic two-pointer glob match with backtracking to the last `*`.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || (p[i] != '*' && p[i] == t[j])) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// Whether every text `narrow` matches is also matched by `wide`: `arn:…:bucket/*` covers
/// `arn:…:bucket/quotes/*`, `s3:Get*` covers `s3:GetObject`, and every pattern covers itself.
///
/// A `*` in `wide` absorbs anything in `narrow`, wildcards included; a `?` in `wide` absorbs one
/// character or a `?` of `narrow`, never a `*`; a literal only matches the same literal.
pub fn covers(wide: &str, narrow: &str) -> bool {
    let w: Vec<char> = wide.chars().collect();
    let n: Vec<char> = narrow.chars().collect();
    // reach[i][j]: wide[i..] covers narrow[j..]. Filled from the end.
    let mut reach = vec![vec![false; n.len() + 1]; w.len() + 1];
    reach[w.len()][n.len()] = true;
    for i in (0..w.len()).rev() {
        for j in (0..=n.len()).rev() {
            reach[i][j] = match w[i] {
                '*' => reach[i + 1][j] || (j < n.len() && reach[i][j + 1]),
                '?' => j < n.len() && n[j] != '*' && reach[i + 1][j + 1],
                c => j < n.len() && n[j] == c && reach[i + 1][j + 1],
            };
        }
    }
    reach[0][0]
}

/// Whether the conditions `wide` are implied by `narrow`: every condition of `wide` appears in
/// `narrow` with the same operator and key, and `narrow` admits no value `wide` does not. A grant
/// with fewer or looser conditions is wider.
pub fn conditions_cover(wide: &[Condition], narrow: &[Condition]) -> bool {
    wide.iter().all(|w| {
        narrow
            .iter()
            .any(|n| n.operator == w.operator && n.key == w.key && condition_values_cover(w, n))
    })
}

/// Whether condition `narrow` (same operator and key as `wide`) admits no more than `wide` does.
///
/// For positive operators (`StringEquals`, `StringLike`, `ArnLike`, …) a request passes when it
/// matches any listed value, so fewer (or narrower) values are tighter. For negated operators
/// (`StringNotEquals`, …) a request passes when it matches none, so more values are tighter.
/// Other operators (`Bool`, `Null`, numeric and date comparisons) must be equal.
pub fn condition_values_cover(wide: &Condition, narrow: &Condition) -> bool {
    let op = wide.operator.to_ascii_lowercase();
    let like = op.contains("like");
    if op.starts_with("bool")
        || op.starts_with("null")
        || op.starts_with("numeric")
        || op.starts_with("date")
    {
        return wide.values == narrow.values;
    }
    if op.contains("not") {
        // Every value `wide` excludes must still be excluded.
        wide.values.iter().all(|w| narrow.values.contains(w))
    } else {
        narrow.values.iter().all(|n| {
            wide.values
                .iter()
                .any(|w| if like { covers(w, n) } else { w == n })
        })
    }
}

/// Whether grant `wide` admits every request grant `narrow` admits (same scope and effect; action
/// and resource patterns cover; same principal or a wildcard one; conditions implied).
pub fn grant_covers(wide: &Grant, narrow: &Grant) -> bool {
    wide.scope == narrow.scope
        && wide.effect == narrow.effect
        && wide.action.negated == narrow.action.negated
        && wide.resource.negated == narrow.resource.negated
        && if wide.action.negated {
            wide.action.key == narrow.action.key
        } else {
            covers(&wide.action.key, &narrow.action.key)
        }
        && if wide.resource.negated {
            wide.resource.pattern == narrow.resource.pattern
        } else {
            covers(&wide.resource.pattern, &narrow.resource.pattern)
        }
        && match (&wide.principal, &narrow.principal) {
            // A `NotPrincipal` grant only covers the same one (its pattern excludes).
            (Some(w), Some(n)) if w.kind.starts_with("NOT ") => w == n,
            (Some(w), Some(n)) => w.kind == n.kind && covers(&w.value, &n.value),
            (None, None) => true,
            _ => false,
        }
        && conditions_cover(&wide.conditions, &narrow.conditions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matching() {
        assert!(matches("s3:get*", "s3:getobject"));
        assert!(matches("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("*", ""));
        assert!(!matches("b/*", "a/x"));
        assert!(matches("*/*/z", "a/b/c/z"));
    }

    #[test]
    fn coverage_of_patterns() {
        assert!(covers("b/*", "b/quotes/*"));
        assert!(!covers("b/quotes/*", "b/*"));
        assert!(covers("*", "anything/*"));
        assert!(covers("b/quotes/*", "b/quotes/*"));
        assert!(covers("s3:get*", "s3:getobject"));
        assert!(!covers("s3:getobject", "s3:get*"));
        assert!(covers("a?c", "abc"));
        assert!(covers("a?c", "a?c"));
        assert!(!covers("a?c", "a*c"));
        assert!(covers("a*", "a?"));
        assert!(covers("${X}/*", "${X}/raw/*"));
        assert!(!covers("b/raw/*", "b/errors/*"));
        assert!(covers("**", "x"));
    }

    fn condition(operator: &str, key: &str, values: &[&str]) -> Condition {
        Condition {
            operator: operator.into(),
            key: key.into(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[test]
    fn condition_implication() {
        let prefix = condition("StringLike", "s3:prefix", &["quotes/*"]);
        let narrower = condition("StringLike", "s3:prefix", &["quotes/a/*"]);
        let wider = condition("StringLike", "s3:prefix", &["*"]);
        assert!(conditions_cover(&[], std::slice::from_ref(&prefix)));
        assert!(!conditions_cover(std::slice::from_ref(&prefix), &[]));
        assert!(condition_values_cover(&prefix, &narrower));
        assert!(!condition_values_cover(&prefix, &wider));
        let not = condition("StringNotEquals", "aws:SourceVpc", &["vpc-1"]);
        let not_more = condition("StringNotEquals", "aws:SourceVpc", &["vpc-1", "vpc-2"]);
        assert!(condition_values_cover(&not, &not_more));
        assert!(!condition_values_cover(&not_more, &not));
        let secure = condition("Bool", "aws:SecureTransport", &["true"]);
        assert!(condition_values_cover(&secure, &secure.clone()));
        assert!(!condition_values_cover(
            &secure,
            &condition("Bool", "aws:SecureTransport", &["false"])
        ));
    }
}
