//! The pages: a served quote rendered as the HTML page and the JSON document the local
//! environment's sources read (`environments/local.yaml`).
//!
//! HTML shows numbers the way quote pages do (thousands separators, a signed percentage, the time
//! as text of a `<time>` element); JSON gives plain numbers and the market time in Unix
//! milliseconds, so both of the scraper's number and time paths run.

use std::fmt::Write as _;

use crate::market::ServedQuote;

/// The currency every quote is in.
pub const CURRENCY: &str = "USD";

/// The HTML page of a quote: `span.price`, `span.change-pct`, `span.volume` and
/// `time.market-time` (RFC 3339 as the element's text and `datetime`).
pub fn html(q: &ServedQuote) -> String {
    let symbol = &q.symbol;
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{symbol} quote</title></head>\n\
         <body><main class=\"quote\" data-symbol=\"{symbol}\">\n\
         <h1>{symbol}</h1>\n\
         <p>Last <span class=\"price\">{price}</span> <span class=\"currency\">{CURRENCY}</span></p>\n\
         <p>Change <span class=\"change-pct\">{change}%</span></p>\n\
         <p>Volume <span class=\"volume\">{volume}</span></p>\n\
         <p>As of <time class=\"market-time\" datetime=\"{time}\">{time}</time></p>\n\
         </main></body></html>\n",
        price = grouped_cents(q.price),
        change = signed_hundredths(q.change_pct),
        volume = grouped(q.volume),
        time = q.market_time,
    )
}

/// The JSON document of a quote: `{"quote": {"symbol", "price", "change_pct", "volume",
/// "currency", "market_time"}}`, `market_time` in Unix milliseconds.
pub fn json(q: &ServedQuote) -> String {
    let millis = quote_record::Timestamp::parse_rfc3339(&q.market_time)
        .map(|t| t.unix_nanos() / 1_000_000)
        .unwrap_or_default();
    serde_json::json!({
        "quote": {
            "symbol": q.symbol,
            "price": q.price,
            "change_pct": q.change_pct,
            "volume": q.volume,
            "currency": CURRENCY,
            "market_time": millis,
        }
    })
    .to_string()
}

/// `1234.5` → `1,234.50`.
fn grouped_cents(x: f64) -> String {
    let cents = (x * 100.0).round() as u64;
    format!("{}.{:02}", grouped(cents / 100), cents % 100)
}

/// `0.4` → `+0.40`, `-1.25` → `-1.25`.
fn signed_hundredths(x: f64) -> String {
    let sign = if x < 0.0 { '-' } else { '+' };
    let hundredths = (x.abs() * 100.0).round() as u64;
    format!("{sign}{}.{:02}", hundredths / 100, hundredths % 100)
}

/// `51234567` → `51,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        let _ = out.write_char(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_pages_show_them() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(51_234_567), "51,234,567");
        assert_eq!(grouped_cents(1234.5), "1,234.50");
        assert_eq!(grouped_cents(0.07), "0.07");
        assert_eq!(signed_hundredths(0.4), "+0.40");
        assert_eq!(signed_hundredths(-1.25), "-1.25");
        assert_eq!(signed_hundredths(0.0), "+0.00");
    }
}
