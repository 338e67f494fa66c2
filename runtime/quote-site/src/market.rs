//! The site's market: what each symbol is worth at each tick, which requests fail, pending jumps,
//! and the log of what was served. Pure and deterministic: every number comes from the seed, the
//! symbol, the tick index and the request count, never from a process-wide random source.
//!
//! The price of a symbol is `previous_close × (1 + w_k) × factor`:
//! - `previous_close` and the opening volume are drawn once per symbol from the seed;
//! - `w_k` is a random walk over ticks, each step uniform in `±step_pct`, reflected at
//!   `±drift_pct`: so two prices of one symbol never differ by more than about `2 × drift_pct`
//!   percent, and a site whose `drift_pct` is under half the alert threshold never triggers an
//!   alert by itself;
//! - `factor` is 1 until a jump ([`Market::jump`]): the next quote served is then exactly the last
//!   one moved by the jump's percentage, and the walk goes on from there.

use std::collections::{BTreeMap, HashMap, VecDeque};

use quote_record::{Symbol, Timestamp};
use serde::{Deserialize, Serialize};

use crate::SiteConfig;

/// The two page kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `GET /quote/{symbol}`: an HTML page.
    Html,
    /// `GET /api/quote/{symbol}`: a JSON document.
    Json,
}

impl Format {
    const fn index(self) -> usize {
        match self {
            Format::Html => 0,
            Format::Json => 1,
        }
    }
}

/// A quote as served: the values a page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServedQuote {
    /// Position in the log (1 for the first quote served), for `GET /served?since=SEQ`.
    pub seq: u64,
    /// The ticker.
    pub symbol: String,
    /// Which page showed it.
    pub format: Format,
    /// The price, rounded to cents as shown.
    pub price: f64,
    /// The change against the previous close in percent, rounded to hundredths as shown.
    pub change_pct: f64,
    /// The traded volume.
    pub volume: u64,
    /// The market time shown (the request's time, to the millisecond), RFC 3339.
    pub market_time: String,
    /// The tick (since the site started) whose walk step priced it.
    pub tick: u64,
    /// Whether a jump set this price.
    pub jumped: bool,
}

/// What one symbol's pages were answered with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolCounts {
    /// Quotes served (200), both formats.
    pub served: u64,
    /// Of those, HTML pages.
    pub html: u64,
    /// Of those, JSON documents.
    pub json: u64,
    /// Requests answered 429 (with `Retry-After`).
    pub too_many_requests: u64,
    /// Requests answered 500.
    pub server_errors: u64,
    /// Jumps applied to a served quote.
    pub jumps: u64,
}

/// The answer of `GET /served`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServedReport {
    /// Counts per symbol, over the site's whole life (never truncated).
    pub symbols: BTreeMap<String, SymbolCounts>,
    /// Quotes served, oldest first (filtered by the request's `symbol` and `since`).
    pub quotes: Vec<ServedQuote>,
    /// Quotes dropped from the front of the log because it reached its limit.
    pub dropped: u64,
}

/// How a quote-page request is answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// 200 with this quote.
    Quote(ServedQuote),
    /// 429 with `Retry-After` in seconds.
    TooManyRequests {
        /// The `Retry-After` value.
        retry_after_seconds: u32,
    },
    /// 500.
    ServerError,
}

/// The random walk of one symbol, advanced tick by tick.
#[derive(Debug, Clone)]
struct Walk {
    tick: u64,
    /// The walk's offset from the previous close, as a fraction (`0.001` is +0.1%).
    offset: f64,
    volume: u64,
}

#[derive(Debug)]
struct SymbolState {
    previous_close: f64,
    opening_volume: u64,
    walk: Walk,
    factor: f64,
    last_price: Option<f64>,
    pending_jump_pct: Option<f64>,
    requests: [u64; 2],
    counts: SymbolCounts,
}

/// The market behind the pages (see the module documentation).
#[derive(Debug)]
pub struct Market {
    config: SiteConfig,
    symbols: HashMap<Symbol, SymbolState>,
    served: VecDeque<ServedQuote>,
    next_seq: u64,
    dropped: u64,
}

// Salts keep the draws for different purposes independent.
const SALT_CLOSE: u64 = 1;
const SALT_VOLUME: u64 = 2;
const SALT_STEP: u64 = 3;
const SALT_TRADED: u64 = 4;
const SALT_ERROR: u64 = 5;

impl Market {
    /// An empty market for a validated `config`.
    pub fn new(config: SiteConfig) -> Self {
        Self {
            config,
            symbols: HashMap::new(),
            served: VecDeque::new(),
            next_seq: 1,
            dropped: 0,
        }
    }

    /// The previous close of `symbol` (the reference of `change_pct`), drawn from the seed.
    pub fn previous_close(&self, symbol: &Symbol) -> f64 {
        // 20.00 to 500.00, in cents.
        let cents = 2_000 + draw(self.config.seed, symbol, SALT_CLOSE, 0) % 48_001;
        cents as f64 / 100.0
    }

    /// The price the walk gives `symbol` at `tick`, before any jump: the same for every market
    /// with the same seed and walk settings.
    pub fn walk_price(&self, symbol: &Symbol, tick: u64) -> f64 {
        let mut walk = Walk {
            tick: 0,
            offset: 0.0,
            volume: 0,
        };
        self.advance(symbol, &mut walk, tick);
        round_cents(self.previous_close(symbol) * (1.0 + walk.offset))
    }

    fn state(&mut self, symbol: &Symbol) -> &mut SymbolState {
        let previous_close = self.previous_close(symbol);
        // 1 to 50 million shares traded before the site started.
        let opening_volume =
            1_000_000 + draw(self.config.seed, symbol, SALT_VOLUME, 0) % 49_000_001;
        self.symbols.entry(*symbol).or_insert_with(|| SymbolState {
            previous_close,
            opening_volume,
            walk: Walk {
                tick: 0,
                offset: 0.0,
                volume: 0,
            },
            factor: 1.0,
            last_price: None,
            pending_jump_pct: None,
            requests: [0; 2],
            counts: SymbolCounts::default(),
        })
    }

    /// Moves `walk` to `tick` (from its start when `tick` is behind it).
    fn advance(&self, symbol: &Symbol, walk: &mut Walk, tick: u64) {
        if tick < walk.tick {
            *walk = Walk {
                tick: 0,
                offset: 0.0,
                volume: 0,
            };
        }
        let drift = self.config.drift_pct / 100.0;
        let step = self.config.step_pct / 100.0;
        while walk.tick < tick {
            walk.tick += 1;
            let u = unit(draw(self.config.seed, symbol, SALT_STEP, walk.tick));
            let mut offset = walk.offset + (2.0 * u - 1.0) * step;
            // Reflect at the band's edges (a step is smaller than the band, so once is enough).
            if offset > drift {
                offset = 2.0 * drift - offset;
            } else if offset < -drift {
                offset = -2.0 * drift - offset;
            }
            walk.offset = offset;
            // 100 to 10,000 shares per tick, in round lots.
            walk.volume += 100 * (1 + draw(self.config.seed, symbol, SALT_TRADED, walk.tick) % 100);
        }
    }

    /// Answers the `format` page of `symbol` at `tick`, at wall-clock time `now`: an error at the
    /// configured rates (decided by the symbol's request count for that format, so the same
    /// sequence of requests gets the same answers), otherwise a quote, logged for `/served`.
    pub fn answer(&mut self, symbol: &Symbol, format: Format, tick: u64, now: Timestamp) -> Answer {
        let seed = self.config.seed;
        let (rate_429, rate_500) = (
            self.config.too_many_requests_rate,
            self.config.server_error_rate,
        );
        let retry_after_seconds = self.config.retry_after_seconds;
        let state = self.state(symbol);
        let n = state.requests[format.index()];
        state.requests[format.index()] += 1;
        // One draw per request: below the 429 rate is a 429, the next band a 500.
        let u = unit(draw(
            seed,
            symbol,
            SALT_ERROR,
            n.wrapping_mul(2) + format.index() as u64,
        ));
        if u < rate_429 {
            state.counts.too_many_requests += 1;
            return Answer::TooManyRequests {
                retry_after_seconds,
            };
        }
        if u < rate_429 + rate_500 {
            state.counts.server_errors += 1;
            return Answer::ServerError;
        }
        let quote = self.price(symbol, format, tick, now);
        Answer::Quote(quote)
    }

    /// Prices a served quote and logs it.
    fn price(&mut self, symbol: &Symbol, format: Format, tick: u64, now: Timestamp) -> ServedQuote {
        let mut walk = self.state(symbol).walk.clone();
        self.advance(symbol, &mut walk, tick);
        let state = self.state(symbol);
        state.walk = walk;
        let walk_value = state.previous_close * (1.0 + state.walk.offset);
        let jumped = state.pending_jump_pct.take();
        let exact = match jumped {
            Some(pct) => {
                let from = state
                    .last_price
                    .unwrap_or_else(|| round_cents(walk_value * state.factor));
                let to = from * (1.0 + pct / 100.0);
                // The walk continues from the jumped price.
                state.factor = to / walk_value;
                state.counts.jumps += 1;
                to
            }
            None => walk_value * state.factor,
        };
        let price = round_cents(exact).max(0.01);
        state.last_price = Some(price);
        let change_pct = round_hundredths((price / state.previous_close - 1.0) * 100.0);
        let volume = state.opening_volume + state.walk.volume;
        state.counts.served += 1;
        match format {
            Format::Html => state.counts.html += 1,
            Format::Json => state.counts.json += 1,
        }
        let millis = now.unix_nanos() - now.unix_nanos().rem_euclid(1_000_000);
        let quote = ServedQuote {
            seq: self.next_seq,
            symbol: symbol.as_str().to_owned(),
            format,
            price,
            change_pct,
            volume,
            market_time: Timestamp::from_unix_nanos(millis).to_string(),
            tick,
            jumped: jumped.is_some(),
        };
        self.next_seq += 1;
        if self.served.len() >= self.config.served_limit {
            self.served.pop_front();
            self.dropped += 1;
        }
        self.served.push_back(quote.clone());
        quote
    }

    /// Makes the next quote served for `symbol` move by `pct` percent from the last one served
    /// (from the walk's current price when none was served yet). A second jump before that
    /// quote replaces the first.
    pub fn jump(&mut self, symbol: &Symbol, pct: f64) {
        self.state(symbol).pending_jump_pct = Some(pct);
    }

    /// The counts per symbol and the logged quotes of `symbol` (all when `None`) after `since`.
    pub fn report(&self, symbol: Option<&Symbol>, since: u64) -> ServedReport {
        ServedReport {
            symbols: self
                .symbols
                .iter()
                .map(|(s, state)| (s.as_str().to_owned(), state.counts.clone()))
                .collect(),
            quotes: self
                .served
                .iter()
                .filter(|q| q.seq > since && symbol.is_none_or(|s| q.symbol == s.as_str()))
                .cloned()
                .collect(),
            dropped: self.dropped,
        }
    }
}

/// A 64-bit draw from the seed, the symbol, a salt and an index (SplitMix64 finalizer over each
/// input in turn; FNV-1a for the symbol, so no process-wide hasher state is involved).
fn draw(seed: u64, symbol: &Symbol, salt: u64, index: u64) -> u64 {
    let mut name = 0xcbf2_9ce4_8422_2325_u64;
    for b in symbol.as_str().bytes() {
        name = (name ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    [name, salt, index]
        .into_iter()
        .fold(mix(seed), |acc, x| mix(acc ^ x))
}

fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A draw as a number in `[0, 1)`.
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Rounded to cents: the nearest `f64` to the decimal shown, so the scraper reads back this value.
fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round_hundredths(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(s: &str) -> Symbol {
        Symbol::parse(s).unwrap()
    }

    fn quote(m: &mut Market, s: &str, tick: u64) -> ServedQuote {
        match m.answer(&sym(s), Format::Html, tick, Timestamp::now()) {
            Answer::Quote(q) => q,
            other => panic!("expected a quote, got {other:?}"),
        }
    }

    #[test]
    fn same_seed_same_walk_other_seed_other_walk() {
        let a = Market::new(SiteConfig::without_errors());
        let b = Market::new(SiteConfig::without_errors());
        let c = Market::new(SiteConfig {
            seed: 7,
            ..SiteConfig::without_errors()
        });
        let walk = |m: &Market, s: &str| -> Vec<f64> {
            (0..200).map(|k| m.walk_price(&sym(s), k)).collect()
        };
        assert_eq!(walk(&a, "AAPL"), walk(&b, "AAPL"));
        assert_ne!(walk(&a, "AAPL"), walk(&c, "AAPL"));
        assert_ne!(walk(&a, "AAPL"), walk(&a, "MSFT"));
        // It moves: a walk, not a constant.
        let prices = walk(&a, "AAPL");
        assert!(prices.windows(2).filter(|w| w[0] != w[1]).count() > 100);
    }

    #[test]
    fn served_prices_follow_the_walk_tick_by_tick() {
        let mut m = Market::new(SiteConfig::without_errors());
        let reference = Market::new(SiteConfig::without_errors());
        // Out of order and repeated ticks too: the walk is a function of the tick.
        for tick in [0, 1, 1, 5, 9, 30, 31] {
            let q = quote(&mut m, "NVDA", tick);
            assert_eq!(
                q.price,
                reference.walk_price(&sym("NVDA"), tick),
                "tick {tick}"
            );
            assert_eq!(q.tick, tick);
        }
    }

    #[test]
    fn the_walk_stays_in_its_band() {
        let config = SiteConfig::without_errors();
        let mut m = Market::new(config.clone());
        let s = sym("MSFT");
        let close = m.previous_close(&s);
        let (lo, hi) = (0..20_000)
            .map(|k| quote(&mut m, "MSFT", k).price)
            .fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p), hi.max(p)));
        let band = config.drift_pct / 100.0;
        assert!(lo >= close * (1.0 - band) - 0.01, "{lo} vs {close}");
        assert!(hi <= close * (1.0 + band) + 0.01, "{hi} vs {close}");
        // ... and uses it (a walk stuck near the close would not be one).
        assert!(hi - lo > close * band, "{lo}..{hi} around {close}");
    }

    #[test]
    fn volume_grows_and_change_is_against_the_previous_close() {
        let mut m = Market::new(SiteConfig::without_errors());
        let a = quote(&mut m, "AAPL", 3);
        let b = quote(&mut m, "AAPL", 50);
        assert!(b.volume > a.volume);
        let close = m.previous_close(&sym("AAPL"));
        let expected = ((b.price / close - 1.0) * 100.0 * 100.0).round() / 100.0;
        assert_eq!(b.change_pct, expected);
    }

    #[test]
    fn a_jump_moves_the_next_quote_by_its_percentage_once() {
        let mut m = Market::new(SiteConfig::without_errors());
        let before = quote(&mut m, "AAPL", 10);
        m.jump(&sym("AAPL"), 5.0);
        let jumped = quote(&mut m, "AAPL", 11);
        assert!(jumped.jumped && !before.jumped);
        let moved = jumped.price / before.price - 1.0;
        assert!((moved - 0.05).abs() < 0.01 / before.price, "moved {moved}");
        // The walk goes on from the new level: later quotes stay near it, not back at the old one.
        for tick in 12..400 {
            let q = quote(&mut m, "AAPL", tick);
            assert!(!q.jumped);
            assert!((q.price / jumped.price - 1.0).abs() < 0.006, "{q:?}");
        }
        assert_eq!(m.report(None, 0).symbols["AAPL"].jumps, 1);
        // A jump down.
        let last = quote(&mut m, "AAPL", 400);
        m.jump(&sym("AAPL"), -3.0);
        let down = quote(&mut m, "AAPL", 400);
        assert!((down.price / last.price - 0.97).abs() < 0.01 / last.price);
    }

    #[test]
    fn errors_come_at_the_configured_rates_and_repeat_for_a_seed() {
        let config = SiteConfig {
            too_many_requests_rate: 0.05,
            server_error_rate: 0.02,
            ..SiteConfig::default()
        };
        let run = |config: &SiteConfig| -> Vec<&'static str> {
            let mut m = Market::new(config.clone());
            (0..20_000)
                .map(|i| {
                    let s = sym(["AAPL", "MSFT", "NVDA", "BRK.B"][i % 4]);
                    let format = if i % 3 == 0 {
                        Format::Json
                    } else {
                        Format::Html
                    };
                    match m.answer(&s, format, 0, Timestamp::now()) {
                        Answer::Quote(_) => "200",
                        Answer::TooManyRequests {
                            retry_after_seconds,
                        } => {
                            assert_eq!(retry_after_seconds, config.retry_after_seconds);
                            "429"
                        }
                        Answer::ServerError => "500",
                    }
                })
                .collect()
        };
        let first = run(&config);
        assert_eq!(first, run(&config));
        let share = |code| first.iter().filter(|c| **c == code).count() as f64 / 20_000.0;
        // Binomial standard deviation at 20,000 draws is under 0.0016: 0.01 is a wide margin.
        assert!(
            (share("429") - 0.05).abs() < 0.01,
            "429 share {}",
            share("429")
        );
        assert!(
            (share("500") - 0.02).abs() < 0.01,
            "500 share {}",
            share("500")
        );
        let other = run(&SiteConfig { seed: 99, ..config });
        assert_ne!(first, other);
    }

    #[test]
    fn the_report_counts_everything_and_the_log_pages() {
        let mut m = Market::new(SiteConfig {
            served_limit: 3,
            ..SiteConfig::without_errors()
        });
        for tick in 0..4 {
            quote(&mut m, "AAPL", tick);
        }
        let _ = m.answer(&sym("MSFT"), Format::Json, 0, Timestamp::now());
        let report = m.report(None, 0);
        assert_eq!(report.symbols["AAPL"].served, 4);
        assert_eq!(report.symbols["AAPL"].html, 4);
        assert_eq!(report.symbols["MSFT"].json, 1);
        // The log kept the last three; the counts kept everything.
        assert_eq!(report.dropped, 2);
        let seqs: Vec<u64> = report.quotes.iter().map(|q| q.seq).collect();
        assert_eq!(seqs, [3, 4, 5]);
        let aapl = m.report(Some(&sym("AAPL")), 3);
        assert_eq!(aapl.quotes.len(), 1);
        assert_eq!(aapl.quotes[0].seq, 4);
    }
}
