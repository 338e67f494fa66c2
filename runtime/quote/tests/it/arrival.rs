//! The time-sanity rule ([`Quote::check_arrival`]): records within the window around the arrival
//! time are accepted, records outside it rejected with the field and the bound, the bounds are
//! inclusive to the nanosecond, and the verdict does not depend on how the JSON is written.

// Tests may unwrap (workspace policy); helpers outside #[test] functions need saying so.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use quote_record::{
    Currency, Field, Invalid, MAX_ARRIVAL_AGE_NANOS, MAX_ARRIVAL_LEAD_NANOS,
    MAX_MARKET_TIME_LEAD_NANOS, Quote, QuoteFields, Symbol, Timestamp, check_arrival_time,
    latest_plausible,
};

const LEAD: i64 = MAX_ARRIVAL_LEAD_NANOS;
const AGE: i64 = MAX_ARRIVAL_AGE_NANOS;

fn ts(nanos: i64) -> Timestamp {
    Timestamp::from_unix_nanos(nanos)
}

fn quote(market_time: i64, scraped_at: i64) -> Quote {
    Quote::try_from(QuoteFields {
        symbol: Symbol::parse("AAPL").unwrap(),
        price: 189.23,
        currency: Currency::parse("USD").unwrap(),
        change_pct: -0.42,
        volume: Some(51_234_567),
        market_time: ts(market_time),
        scraped_at: ts(scraped_at),
        source: "quote-page".into(),
    })
    .unwrap()
}

/// What the rule should say about one time `offset` nanoseconds after the arrival time.
fn expected(field: Field, time: i64, arrived_at: i64) -> Result<(), Invalid> {
    let offset = i128::from(time) - i128::from(arrived_at);
    let (time, arrived_at) = (ts(time), ts(arrived_at));
    if offset > i128::from(LEAD) {
        Err(Invalid::AheadOfArrival {
            field,
            time,
            arrived_at,
        })
    } else if offset < -i128::from(AGE) {
        Err(Invalid::TooOld {
            field,
            time,
            arrived_at,
        })
    } else {
        Ok(())
    }
}

/// Offsets around the interesting places: inside the window, near each bound, far outside.
fn offset() -> impl Strategy<Value = i64> {
    prop_oneof![
        -AGE..=LEAD,
        (LEAD - 1_000..LEAD + 1_000),
        (-AGE - 1_000..-AGE + 1_000),
        LEAD..LEAD.saturating_mul(100_000),
        (-AGE.saturating_mul(100)..-AGE),
    ]
}

/// Arrival times in the centuries a record can hold (the bounds saturate at the ends).
fn arrival() -> impl Strategy<Value = i64> {
    prop_oneof![
        1_700_000_000_000_000_000i64..1_900_000_000_000_000_000,
        any::<i64>(),
    ]
}

/// The RFC 3339 forms of one instant that the reader accepts: `Z`, `z`, `+00:00`, `t`, and the
/// fraction padded with zeros.
fn spellings(t: Timestamp) -> Vec<String> {
    let canonical = t.to_string();
    let body = canonical.strip_suffix('Z').unwrap();
    let padded = if body.contains('.') {
        format!("{body}000")
    } else {
        format!("{body}.000000000")
    };
    vec![
        canonical.clone(),
        format!("{body}z"),
        format!("{body}+00:00"),
        format!("{padded}Z"),
        canonical.replacen('T', "t", 1),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// Within the window both times are accepted; outside, the first time out (market_time, then
    /// scraped_at) is the reason, with the right bound.
    #[test]
    fn accepts_inside_rejects_outside(at in arrival(), scraped in offset(), market_lead in -1_000_000_000_000i64..=MAX_MARKET_TIME_LEAD_NANOS) {
        let scraped_at = at.saturating_add(scraped);
        let market_time = scraped_at.saturating_add(market_lead);
        let q = quote(market_time, scraped_at);
        let want = expected(Field::MarketTime, market_time, at)
            .and_then(|()| expected(Field::ScrapedAt, scraped_at, at));
        prop_assert_eq!(q.check_arrival(ts(at)), want.clone());
        if let Err(reason) = want {
            prop_assert!(matches!(reason.code(), "time_ahead_of_arrival" | "time_too_old"));
        }
    }

    /// The bounds are inclusive: exactly the lead ahead and exactly the age behind pass, one
    /// nanosecond more fails, for any arrival time far enough from the ends of the range.
    #[test]
    fn bounds_are_exact(at in -9_000_000_000_000_000_000i64..9_000_000_000_000_000_000) {
        for field in [Field::MarketTime, Field::ScrapedAt] {
            prop_assert_eq!(check_arrival_time(field, ts(at + LEAD), ts(at)), Ok(()));
            prop_assert_eq!(check_arrival_time(field, ts(at - AGE), ts(at)), Ok(()));
            prop_assert_eq!(
                check_arrival_time(field, ts(at + LEAD + 1), ts(at)),
                Err(Invalid::AheadOfArrival { field, time: ts(at + LEAD + 1), arrived_at: ts(at) })
            );
            prop_assert_eq!(
                check_arrival_time(field, ts(at - AGE - 1), ts(at)),
                Err(Invalid::TooOld { field, time: ts(at - AGE - 1), arrived_at: ts(at) })
            );
        }
        prop_assert_eq!(latest_plausible(ts(at)), ts(at + LEAD));
        prop_assert_eq!(check_arrival_time(Field::MarketTime, latest_plausible(ts(at)), ts(at)), Ok(()));
    }

    /// The verdict on a record read from JSON depends only on its instants: not on the order of
    /// the keys, nor on how each time is spelled.
    #[test]
    fn independent_of_key_order_and_spelling(
        at in 1_700_000_000_000_000_000i64..1_900_000_000_000_000_000,
        scraped in offset(),
        market_lead in -1_000_000_000_000i64..=MAX_MARKET_TIME_LEAD_NANOS,
        order in Just((0..8).collect::<Vec<usize>>()).prop_shuffle(),
        spelling in (0usize..5, 0usize..5),
    ) {
        let scraped_at = at.saturating_add(scraped);
        let market_time = scraped_at.saturating_add(market_lead);
        let q = quote(market_time, scraped_at);
        let want = q.check_arrival(ts(at));
        let pairs = [
            ("\"v\"", "1".to_owned()),
            ("\"symbol\"", "\"AAPL\"".to_owned()),
            ("\"price\"", "189.23".to_owned()),
            ("\"currency\"", "\"USD\"".to_owned()),
            ("\"change_pct\"", "-0.42".to_owned()),
            ("\"volume\"", "51234567".to_owned()),
            ("\"market_time\"", format!("\"{}\"", spellings(q.market_time())[spelling.0])),
            ("\"scraped_at\"", format!("\"{}\"", spellings(q.scraped_at())[spelling.1])),
        ];
        let mut json = String::from("{\"source\":\"quote-page\"");
        for i in order {
            json.push_str(&format!(",{}:{}", pairs[i].0, pairs[i].1));
        }
        json.push('}');
        let read = Quote::from_json(json.as_bytes()).unwrap();
        prop_assert_eq!(&read, &q, "{}", json);
        prop_assert_eq!(read.check_arrival(ts(at)), want);
    }
}

#[test]
fn messages_say_what_by_how_much_and_the_bound() {
    let at = Timestamp::parse_rfc3339("2026-11-27T15:30:02.5Z").unwrap();
    let future = Timestamp::parse_rfc3339("2031-01-01T00:00:00Z").unwrap();
    let ahead = quote(future.unix_nanos(), future.unix_nanos())
        .check_arrival(at)
        .unwrap_err();
    assert_eq!(ahead.code(), "time_ahead_of_arrival");
    assert_eq!(ahead.field(), Some(Field::MarketTime));
    assert_eq!(
        ahead.to_string(),
        "market_time 2031-01-01T00:00:00Z is 1495d 8h 29m 57.5s ahead of the arrival time \
         2026-11-27T15:30:02.500Z; at most 5m is allowed"
    );

    let epoch = quote(0, at.unix_nanos()).check_arrival(at).unwrap_err();
    assert_eq!(epoch.code(), "time_too_old");
    assert_eq!(
        epoch.to_string(),
        "market_time 1970-01-01T00:00:00Z is 20784d 15h 30m 2.5s before the arrival time \
         2026-11-27T15:30:02.500Z; at most 400d is allowed"
    );

    // The scraper's clock years ahead, with a page time that agrees with it.
    let scraped = quote(at.unix_nanos(), future.unix_nanos())
        .check_arrival(at)
        .unwrap_err();
    assert_eq!(scraped.field(), Some(Field::ScrapedAt));
    assert!(
        scraped
            .to_string()
            .starts_with("scraped_at 2031-01-01T00:00:00Z is 1495d"),
        "{scraped}"
    );
}
