//! The queries over the quotes, in InfluxQL (InfluxDB 1.x, and 2.x through its database mapping)
//! and PromQL (VictoriaMetrics' Prometheus API over the same line-protocol writes).
//!
//! Names come from the record's encoder (`quote_record::influx`); the move is the notify Lambda's
//! rule (`lambda_contract::notify`): the last price of each one-minute window of `market_time`
//! against the last price of the previous window that has one, in percent.
//!
//! Dashboard queries use Grafana's macros, which Grafana replaces before sending: `$timeFilter`
//! (InfluxQL: `time >= <from>ms and time <= <to>ms`), `$__interval` (such as `1m`), `$__range`
//! (the dashboard's range, such as `21600s`) and `$symbol` (the template variable: a regex
//! alternation, `(AAPL|BRK\.B)`; see docs/grafana.md). Alert-rule queries name the environment's
//! symbols themselves.

use environment::Environment;
use lambda_contract::notify::WINDOW_SECONDS;
use quote_record::influx::{FIELD_CHANGE_PCT, FIELD_PRICE, FIELD_VOLUME, MEASUREMENT, TAG_SYMBOL};

/// How far back the price-move rule looks for the previous window with a price: three days, so
/// a Monday-morning window is compared with Friday's close (the notify Lambda's state keeps the
/// same horizon).
pub const REFERENCE_LOOKBACK_SECONDS: u32 = 3 * 24 * 3600;

/// How far back the staleness rule looks for symbols that had quotes at all: a week.
pub const SEEN_WITHIN_SECONDS: u32 = 7 * 24 * 3600;

/// The quote fields charted per symbol.
pub const CHARTED_FIELDS: [&str; 3] = [FIELD_PRICE, FIELD_CHANGE_PCT, FIELD_VOLUME];

/// Which query language Grafana speaks to the quote store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// InfluxQL through the `influxdb` data source.
    InfluxQl,
    /// PromQL through the `prometheus` data source (VictoriaMetrics).
    PromQl,
}

/// The symbols of `env` as a regex alternation, `(AAPL|BRK\.B)`, each escaped for regex (symbols
/// are `[A-Z0-9.-]`, so only `.` needs it). This is also what Grafana makes of `$symbol` when
/// every symbol is selected.
pub fn symbols_regex<S: AsRef<str>>(symbols: &[S]) -> String {
    let escaped: Vec<String> = symbols
        .iter()
        .map(|s| s.as_ref().replace('.', "\\."))
        .collect();
    format!("({})", escaped.join("|"))
}

/// The environment's symbols as text.
pub fn symbol_names(env: &Environment) -> Vec<String> {
    env.symbols.iter().map(|s| s.as_str().to_owned()).collect()
}

/// The VictoriaMetrics metric of a field: `<measurement>_<field>` (VictoriaMetrics' default
/// `-influxMeasurementFieldSeparator`).
pub fn metric(field: &str) -> String {
    format!("{MEASUREMENT}_{field}")
}

/// InfluxQL queries.
pub mod influxql {
    use super::*;

    /// The condition on the symbol tag: `"symbol" =~ /^<alternation>$/`.
    fn symbol_match(alternation: &str) -> String {
        format!("\"{TAG_SYMBOL}\" =~ /^{alternation}$/")
    }

    /// The last value of `field` per symbol and `$__interval` (a dashboard panel).
    pub fn field_over_time(field: &str) -> String {
        format!(
            "SELECT last(\"{field}\") AS \"{field}\" FROM \"{MEASUREMENT}\" WHERE {} AND $timeFilter GROUP BY time($__interval), \"{TAG_SYMBOL}\" fill(none)",
            symbol_match("$symbol")
        )
    }

    /// The latest price, change and volume per symbol in the dashboard's range (the table).
    pub fn latest_quotes() -> String {
        let columns: Vec<String> = CHARTED_FIELDS
            .iter()
            .map(|f| format!("last(\"{f}\") AS \"{f}\""))
            .collect();
        format!(
            "SELECT {} FROM \"{MEASUREMENT}\" WHERE {} AND $timeFilter GROUP BY \"{TAG_SYMBOL}\"",
            columns.join(", "),
            symbol_match("$symbol")
        )
    }

    /// The move in percent of each window's last price against the previous window with a price
    /// (`fill(none)` skips empty windows), per symbol; `alternation` selects the symbols
    /// (`$symbol` on a dashboard, [`symbols_regex`] in a rule).
    pub fn window_moves(alternation: &str) -> String {
        let last = format!("last(\"{FIELD_PRICE}\")");
        format!(
            "SELECT 100 * difference({last}) / ({last} - difference({last})) AS \"move_pct\" FROM \"{MEASUREMENT}\" WHERE {} AND $timeFilter GROUP BY time({WINDOW_SECONDS}s), \"{TAG_SYMBOL}\" fill(none)",
            symbol_match(alternation)
        )
    }

    /// The number of quotes per symbol in the query's range (the price-move rule's "has recent
    /// data" part).
    pub fn quote_count(alternation: &str) -> String {
        format!(
            "SELECT count(\"{FIELD_PRICE}\") AS \"quotes\" FROM \"{MEASUREMENT}\" WHERE {} AND $timeFilter GROUP BY \"{TAG_SYMBOL}\"",
            symbol_match(alternation)
        )
    }

    /// Quotes per symbol in the last `stale_seconds`, and 0 for a symbol quoted within
    /// [`SEEN_WITHIN_SECONDS`] but not since (the second subquery gives every such symbol a 0
    /// row; `max` keeps the real count where there is one).
    pub fn recent_quotes(alternation: &str, stale_seconds: u32) -> String {
        let m = symbol_match(alternation);
        format!(
            "SELECT max(\"recent\") AS \"recent_quotes\" FROM \
             (SELECT count(\"{FIELD_PRICE}\") AS \"recent\" FROM \"{MEASUREMENT}\" WHERE {m} AND time > now() - {stale_seconds}s GROUP BY \"{TAG_SYMBOL}\"), \
             (SELECT count(\"{FIELD_PRICE}\") * 0 AS \"recent\" FROM \"{MEASUREMENT}\" WHERE {m} AND time > now() - {SEEN_WITHIN_SECONDS}s GROUP BY \"{TAG_SYMBOL}\") \
             GROUP BY \"{TAG_SYMBOL}\""
        )
    }
}

/// PromQL queries (VictoriaMetrics). Series of one symbol from several sources are combined with
/// `max by (symbol)`.
pub mod promql {
    use super::*;

    /// `max by (symbol) (last_over_time(<metric>{symbol=~"<alternation>"}[<range>] <offset>))`.
    fn last_per_symbol(field: &str, alternation: &str, range: &str, offset: &str) -> String {
        format!(
            "max by ({TAG_SYMBOL}) (last_over_time({}{{{TAG_SYMBOL}=~\"{alternation}\"}}[{range}]{offset}))",
            metric(field)
        )
    }

    /// The last value of `field` per symbol and `$__interval` (a dashboard panel, range query).
    pub fn field_over_time(field: &str) -> String {
        last_per_symbol(field, "$symbol", "$__interval", "")
    }

    /// The latest value of `field` per symbol in the dashboard's range (the table, instant query).
    pub fn latest(field: &str) -> String {
        last_per_symbol(field, "$symbol", "$__range", "")
    }

    /// The move in percent of the last price in the window before the evaluation time against
    /// the last price before that window (within [`REFERENCE_LOOKBACK_SECONDS`]). Windows end at
    /// the evaluation time rather than on UTC minutes.
    pub fn window_move(alternation: &str) -> String {
        let window = format!("{WINDOW_SECONDS}s");
        format!(
            "100 * ({} / {} - 1)",
            last_per_symbol(FIELD_PRICE, alternation, &window, ""),
            last_per_symbol(
                FIELD_PRICE,
                alternation,
                &format!("{REFERENCE_LOOKBACK_SECONDS}s"),
                &format!(" offset {window}")
            )
        )
    }

    /// Quotes per symbol in the last `stale_seconds`, or 0 for a symbol quoted within
    /// [`SEEN_WITHIN_SECONDS`] but not since.
    pub fn recent_quotes(alternation: &str, stale_seconds: u32) -> String {
        let count = |seconds: u32| {
            format!(
                "sum by ({TAG_SYMBOL}) (count_over_time({}{{{TAG_SYMBOL}=~\"{alternation}\"}}[{seconds}s]))",
                metric(FIELD_PRICE)
            )
        };
        format!(
            "{} or 0 * {}",
            count(stale_seconds),
            count(SEEN_WITHIN_SECONDS)
        )
    }

    /// The symbols' alternation as a PromQL string's content: the regex escapes doubled.
    pub fn alternation<S: AsRef<str>>(symbols: &[S]) -> String {
        symbols_regex(symbols).replace('\\', "\\\\")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_alternations_escape_the_dot() {
        assert_eq!(symbols_regex(&["AAPL", "BRK.B"]), "(AAPL|BRK\\.B)");
        assert_eq!(promql::alternation(&["BRK.B"]), "(BRK\\\\.B)");
    }
}
