//! The canary: quotes `deployer verify` puts into the stream to follow them through the pipeline.
//!
//! They carry a reserved symbol that no environment may list (the scraper never produces it), so
//! every component can tell them apart: notify marks their alert so no e-mail subscription
//! receives it, and `verify` removes them from InfluxDB and the buckets afterwards
//! (`docs/verify.md`).

use crate::Symbol;

/// The reserved canary symbol. A valid symbol by the record's rule (so the canary takes the real
/// code path everywhere), and not a listed ticker: exchanges do not use a `-CANARY` suffix.
pub const CANARY_SYMBOL: &str = "MST-CANARY";

/// The start of every canary quote's `source`, followed by the run's id, so that each run finds
/// its own records.
pub const CANARY_SOURCE_PREFIX: &str = "mst-verify-";

impl Symbol {
    /// True for [`CANARY_SYMBOL`].
    pub fn is_canary(&self) -> bool {
        self.as_str() == CANARY_SYMBOL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canary_symbol_is_a_valid_symbol_and_recognised() {
        let canary = Symbol::parse(CANARY_SYMBOL).expect("valid by the record's rule");
        assert!(canary.is_canary());
        assert!(!Symbol::parse("AAPL").expect("valid").is_canary());
        assert!(crate::check_source(&format!("{CANARY_SOURCE_PREFIX}1795793400123")).is_ok());
    }
}
