//! Durations on the command line: `90`, `90s`, `5m`, `2m30s`, `1h`.

use std::time::Duration;

/// Parses `90` (seconds), `90s`, `5m`, `2m30s` or `1h`: whole numbers, each followed by `h`, `m` or
/// `s` (a bare number is seconds). The error says what was expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let expected = || {
        format!(
            "invalid duration {text:?}: expected seconds (90) or units such as 90s, 5m, 2m30s, 1h"
        )
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(expected());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| expected());
    }
    let mut seconds: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(expected()),
        };
        let n: u64 = number.parse().map_err(|_| expected())?;
        seconds = n
            .checked_mul(unit)
            .and_then(|s| seconds.checked_add(s))
            .ok_or_else(expected)?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(expected());
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_minutes_hours_and_combinations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2m30s"), Ok(Duration::from_secs(150)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "m", "5x", "1.5m", "5m3", "-5s"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("expected seconds"), "{bad}: {err}");
        }
    }
}
