//! Which scraper instance owns which symbol: rendezvous (highest-random-weight) hashing, defined once.
//!
//! Every symbol is scored against every shard index with a fixed 64-bit hash and goes to the shard with
//! the highest score. The owner of a symbol depends only on the symbol and the shard count, so the
//! deployer (which writes one configuration per shard) and anything that checks the fleet agree without
//! talking to each other; and going from `n` to `n + 1` shards moves only the symbols the new shard wins,
//! about `1 / (n + 1)` of them, while no symbol moves between two old shards.
//!
//! The hash is part of the contract: changing it reshuffles every symbol at the next deployment.

use quote_record::Symbol;
use serde::Serialize;

/// The most scraper instances an environment may ask for.
pub const MAX_SHARDS: u32 = 64;

/// One scraper instance's place in the fleet: shard `index` of `count` (`0 <= index < count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Shard {
    /// This instance's shard, from 0.
    pub index: u32,
    /// How many shards the fleet has, 1 to [`MAX_SHARDS`].
    pub count: u32,
}

impl Shard {
    /// The whole fleet in one instance: shard 0 of 1.
    pub const ALONE: Shard = Shard { index: 0, count: 1 };

    /// Every shard of a fleet of `count`, in index order.
    pub fn all(count: u32) -> impl Iterator<Item = Shard> {
        (0..count).map(move |index| Shard { index, count })
    }

    /// Whether this shard owns `symbol`.
    pub fn owns(self, symbol: &Symbol) -> bool {
        owner(symbol, self.count) == self.index
    }

    /// The symbols of `symbols` this shard owns, in their original order.
    pub fn select(self, symbols: &[Symbol]) -> Vec<Symbol> {
        symbols.iter().filter(|s| self.owns(s)).cloned().collect()
    }

    /// This shard's share of a per-host request rate: the fleet as a whole stays within `rate`.
    pub fn share_of_rate(self, rate: f64) -> f64 {
        rate / f64::from(self.count.max(1))
    }
}

/// The shard (0 to `count - 1`) that owns `symbol` in a fleet of `count`; 0 when `count` is 0 or 1.
pub fn owner(symbol: &Symbol, count: u32) -> u32 {
    let key = fnv1a(symbol.as_str().as_bytes());
    let mut best = (0u32, 0u64);
    for index in 0..count.max(1) {
        let score = mix(key ^ mix(u64::from(index) + 1));
        // Ties (astronomically rare) go to the lower index, so the result stays deterministic.
        if index == 0 || score > best.1 {
            best = (index, score);
        }
    }
    best.0
}

/// FNV-1a, 64 bits: a fixed, documented hash of the symbol's bytes (the standard library's hasher is
/// randomly keyed and may change between Rust versions, so it cannot be a contract).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// SplitMix64's finalizer: spreads every input bit over the output, so scores of one symbol against
/// different shards are independent enough for an even split.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use super::*;

    /// `count` distinct valid tickers, `S0` .. `S<count-1>`.
    fn symbols(count: usize) -> Vec<Symbol> {
        (0..count)
            .map(|i| Symbol::parse(&format!("S{i}")).unwrap())
            .collect()
    }

    #[test]
    fn every_symbol_is_owned_by_exactly_one_shard_for_1_to_16_shards() {
        let all = symbols(2_000);
        for count in 1..=16 {
            let mut owners = vec![0u32; all.len()];
            for shard in Shard::all(count) {
                for (i, symbol) in all.iter().enumerate() {
                    if shard.owns(symbol) {
                        owners[i] += 1;
                    }
                }
            }
            assert!(owners.iter().all(|&n| n == 1), "count {count}: {owners:?}");
            // And no shard is starved: each holds at least half its fair share.
            for shard in Shard::all(count) {
                let held = shard.select(&all).len();
                assert!(
                    held * 2 * count as usize >= all.len(),
                    "count {count}: shard {} holds only {held}",
                    shard.index
                );
            }
        }
    }

    /// From 4 to 5 shards each symbol moves with probability 1/5 (to the new shard, and only there).
    /// With n = 10,000 symbols the count moved is Binomial(n, 0.2): mean 2,000, standard deviation
    /// sqrt(n * 0.2 * 0.8) = 40. The band is ±5 standard deviations (1,800..2,200): a correct hash fails
    /// it with probability below 1e-6, while a hash that reshuffles (moving 80 %) or never moves fails.
    #[test]
    fn going_from_4_to_5_shards_moves_about_one_fifth_and_only_to_the_new_shard() {
        let all = symbols(10_000);
        let mut moved = 0;
        for symbol in &all {
            let before = owner(symbol, 4);
            let after = owner(symbol, 5);
            if before != after {
                assert_eq!(after, 4, "{symbol:?} moved between two old shards");
                moved += 1;
            }
        }
        assert!((1_800..=2_200).contains(&moved), "moved {moved} of 10000");
    }

    #[test]
    fn ownership_is_a_fixed_function_of_the_symbol() {
        // Pinned values: a change here reshuffles every deployed fleet, so it must be deliberate.
        let owners: Vec<u32> = ["AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "TSLA"]
            .iter()
            .map(|s| owner(&Symbol::parse(s).unwrap(), 4))
            .collect();
        assert_eq!(owners, PINNED_OWNERS_OF_4);
        assert_eq!(owner(&Symbol::parse("AAPL").unwrap(), 1), 0);
    }

    const PINNED_OWNERS_OF_4: [u32; 6] = [3, 1, 3, 0, 0, 0];

    #[test]
    fn the_rate_is_divided_across_the_fleet() {
        let shard = Shard { index: 1, count: 4 };
        assert!((shard.share_of_rate(2.0) - 0.5).abs() < 1e-12);
        assert!((Shard::ALONE.share_of_rate(2.0) - 2.0).abs() < 1e-12);
    }
}
