//! The canary pair: two quotes of [`CANARY_SYMBOL`], one minute apart, whose prices differ by
//! twice the environment's alert threshold, marked with this run's `source`.

use quote_record::{
    CANARY_SOURCE_PREFIX, CANARY_SYMBOL, Currency, Quote, QuoteFields, Symbol, Timestamp,
};

/// Nanoseconds in a minute: notify's windows are UTC minutes of `market_time`.
const MINUTE_NANOS: i64 = 60_000_000_000;

/// The first quote's price.
pub const BASE_PRICE: f64 = 100.0;

/// One run's canary.
#[derive(Debug, Clone, PartialEq)]
pub struct Canary {
    /// This run's `source` tag: [`CANARY_SOURCE_PREFIX`] and the put time in milliseconds.
    pub source: String,
    /// The pair, in `market_time` order: the first priced one minute before the second.
    pub quotes: [Quote; 2],
}

impl Canary {
    /// The pair for a threshold of `threshold_pct` percent, the second quote priced at `now`.
    pub fn new(threshold_pct: f64, now: Timestamp) -> Result<Canary, String> {
        let symbol = Symbol::parse(CANARY_SYMBOL).map_err(|e| e.to_string())?;
        let currency = Currency::parse("USD").map_err(|e| e.to_string())?;
        let source = format!("{CANARY_SOURCE_PREFIX}{}", now.unix_nanos() / 1_000_000);
        // Twice the threshold: a move notify must alert on, with room for float rounding.
        let moved = BASE_PRICE * (1.0 + 2.0 * threshold_pct / 100.0);
        let quote = |price: f64, change_pct: f64, market_time: Timestamp| {
            Quote::try_from(QuoteFields {
                symbol,
                price,
                currency,
                change_pct,
                volume: None,
                market_time,
                scraped_at: now,
                source: source.clone(),
            })
            .map_err(|e| e.to_string())
        };
        let first = quote(
            BASE_PRICE,
            0.0,
            Timestamp::from_unix_nanos(now.unix_nanos() - MINUTE_NANOS),
        )?;
        let second = quote(moved, 2.0 * threshold_pct, now)?;
        Ok(Canary {
            source,
            quotes: [first, second],
        })
    }

    /// The symbol.
    pub fn symbol(&self) -> &str {
        CANARY_SYMBOL
    }

    /// The two prices, in order.
    pub fn prices(&self) -> [f64; 2] {
        [self.quotes[0].price(), self.quotes[1].price()]
    }

    /// The Kinesis payloads (the record's JSON, as the scraper writes it).
    pub fn payloads(&self) -> [String; 2] {
        [self.quotes[0].to_json(), self.quotes[1].to_json()]
    }

    /// The UTC dates (`YYYY-MM-DD`) of the quotes' `market_time`, without repeats: the
    /// `dt=` partitions they land in.
    pub fn dates(&self) -> Vec<String> {
        let mut dates: Vec<String> = self
            .quotes
            .iter()
            .map(|q| {
                let mut d = String::new();
                q.market_time().write_utc_date(&mut d);
                d
            })
            .collect();
        dates.dedup();
        dates
    }

    /// The id notify gives the pair's alert, `SYMBOL/window/previous window`, windows as
    /// `YYYY-MM-DDTHH:MMZ` (notify's `Move::id`; the integration test runs the real notify against
    /// it).
    pub fn alert_id(&self) -> String {
        format!(
            "{}/{}/{}",
            CANARY_SYMBOL,
            window_iso(self.quotes[1].market_time()),
            window_iso(self.quotes[0].market_time())
        )
    }
}

/// The start of `t`'s UTC minute, `YYYY-MM-DDTHH:MMZ`.
fn window_iso(t: Timestamp) -> String {
    let start = t.unix_nanos().div_euclid(MINUTE_NANOS) * MINUTE_NANOS;
    let mut text = Timestamp::from_unix_nanos(start).to_string();
    text.truncate(16);
    text.push('Z');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pair_moves_twice_the_threshold_across_two_windows() {
        let now =
            Timestamp::parse_rfc3339("2026-11-27T15:31:05.250Z").unwrap_or(Timestamp::UNIX_EPOCH);
        let canary = Canary::new(1.5, now).expect("valid");
        assert_eq!(canary.prices(), [100.0, 103.0]);
        assert_eq!(canary.source, "mst-verify-1795793465250");
        assert_eq!(
            canary.alert_id(),
            "MST-CANARY/2026-11-27T15:31Z/2026-11-27T15:30Z"
        );
        assert_eq!(canary.dates(), ["2026-11-27"]);
        let payload = &canary.payloads()[0];
        let back = Quote::from_json(payload.as_bytes()).expect("valid record");
        assert!(back.symbol().is_canary());
        assert_eq!(back.source(), canary.source);
        assert_eq!(back.market_time().to_string(), "2026-11-27T15:30:05.250Z");
    }
}
