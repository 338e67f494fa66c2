//! Stable uids: derived from the environment and the object's name only, so a re-generation or a
//! re-push addresses the same objects. Grafana allows at most 40 characters of letters, digits,
//! `-` and `_`.

use sha2::{Digest, Sha256};

/// Grafana's longest uid.
pub const MAX_UID_LEN: usize = 40;

/// `mst-<env>-<object>`; when longer than [`MAX_UID_LEN`], its first 31 characters, `-` and 8 hex
/// digits of the SHA-256 of the whole text (so two long names stay distinct). Characters other
/// than letters, digits, `-` and `_` become `-`.
pub fn uid(env: &str, object: &str) -> String {
    let full: String = format!("mst-{env}-{object}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if full.len() <= MAX_UID_LEN {
        return full;
    }
    let digest = Sha256::digest(full.as_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", &full[..MAX_UID_LEN - 9])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_read_as_they_are_and_long_ones_are_hashed_within_the_limit() {
        assert_eq!(uid("prod", "quotes"), "mst-prod-quotes");
        assert_eq!(uid("prod", "a.b c"), "mst-prod-a-b-c");
        let a = uid(
            "a-twenty-char-envname",
            "transform-iterator-age-eu-central-1",
        );
        let b = uid(
            "a-twenty-char-envname",
            "transform-iterator-age-eu-central-2",
        );
        assert_eq!(a.len(), MAX_UID_LEN);
        assert_ne!(a, b);
        assert_eq!(
            a,
            uid(
                "a-twenty-char-envname",
                "transform-iterator-age-eu-central-1"
            )
        );
    }
}
