//! "Did you mean" suggestions.

/// The candidate closest to `input` by edit distance, if it is close enough to be a plausible typo:
/// at most one edit per four characters, plus one (`bufering` → `buffering`, `eu-west1` → `eu-west-1`).
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = 1 + input.chars().count() / 4;
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(input, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A help line: `did you mean `x`?` for a close candidate, otherwise the list of valid values.
pub fn did_you_mean(input: &str, candidates: &[&str]) -> String {
    match closest(input, candidates.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => {
            let all: Vec<String> = candidates.iter().map(|c| format!("`{c}`")).collect();
            format!("valid values are {}", all.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["buffering_seconds", "buffering_mb", "dynamic_partitioning"];
        assert_eq!(closest("bufering_seconds", keys), Some("buffering_seconds"));
        assert_eq!(closest("colour", keys), None);
        assert_eq!(
            did_you_mean("colour", &keys),
            "valid values are `buffering_seconds`, `buffering_mb`, `dynamic_partitioning`"
        );
    }
}
