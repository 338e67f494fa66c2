//! The per-symbol state object and the pure part of its update: merge an object's windows,
//! compute the moves, claim the new alerts, prune.
//!
//! One small JSON object per symbol, `<STATE_PREFIX><SYMBOL>.json`:
//!
//! ```json
//! {"v":1,"symbol":"AAPL",
//!  "windows":[{"window":"2026-11-27T15:30Z","market_time":"2026-11-27T15:30:58Z","price":189.23}, ...],
//!  "alerts":["AAPL/2026-11-27T15:31Z/2026-11-27T15:30Z", ...]}
//! ```
//!
//! `windows` holds the last price of each recent window; `alerts` the ids of the alerts already
//! sent (claimed), `SYMBOL/window/previous window`.
//!
//! # Horizon
//!
//! Both are kept for [`HORIZON_MINUTES`] (3 days) before the newest window, plus the newest window
//! older than that (the reference price of the first window in the horizon, so a long weekend
//! keeps it). A few hundred windows per trading day make an object of some tens of kilobytes.
//! Rows of an object that arrives later than that (older than the horizon) are ignored: their
//! alerts may have been pruned, so computing them again could send an alert twice.
//!
//! # Never ahead of the clock
//!
//! The newest window sets the horizon, so one window in the future would make every real window
//! "older than the horizon" until that future came. [`State::claim`] therefore takes the clock:
//! windows priced after [`quote_record::latest_plausible`] (the clock plus the time-sanity
//! rule's lead) are ignored when they come from the object, and removed, with their alert ids,
//! when they are already in the state (written before the rule existed). The state never holds a
//! time later than the clock plus the lead when it is written.

use std::collections::BTreeSet;

use quote_record::Timestamp;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::window::{Last, Move, Threshold, Window, Windows, micros_rfc3339};

/// How far back from the newest window the state keeps windows and alert ids: 3 days.
pub const HORIZON_MINUTES: i64 = 3 * 24 * 60;

/// The version written in the `v` field.
pub const STATE_VERSION: u32 = 1;

/// One symbol's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    /// The last price of each window in the horizon (and the reference before it).
    pub windows: Windows,
    /// Ids of the alerts already sent.
    pub alerts: BTreeSet<String>,
}

/// A state object that cannot be read.
#[derive(Debug, Error)]
pub enum StateError {
    /// Not the JSON layout of [`State`].
    #[error("state object is not valid state JSON ({0}); delete it to start the symbol afresh")]
    Json(#[from] serde_json::Error),
    /// A window or time field does not parse.
    #[error("state object has a bad {field} value {value:?}; delete it to start the symbol afresh")]
    Field {
        /// Which field.
        field: &'static str,
        /// Its text.
        value: String,
    },
    /// A newer layout than this code understands.
    #[error(
        "state object has version {0}, this function reads version {STATE_VERSION}: deploy the newer function"
    )]
    Version(u32),
}

#[derive(Serialize, Deserialize)]
struct Doc {
    v: u32,
    symbol: String,
    windows: Vec<WindowDoc>,
    alerts: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct WindowDoc {
    window: String,
    market_time: String,
    price: f64,
}

/// What [`State::claim`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claim {
    /// Windows of the object that changed the state.
    pub windows_changed: usize,
    /// Windows of the object older than the horizon, ignored.
    pub windows_too_old: usize,
    /// Windows priced after the clock plus the lead: the object's ignored and the state's
    /// removed (see the module documentation).
    pub windows_from_future: usize,
    /// The moves that reached the threshold and were not claimed before: they are now.
    pub new_alerts: Vec<Move>,
}

impl State {
    /// Parses a state object.
    pub fn from_json(bytes: &[u8]) -> Result<Self, StateError> {
        let doc: Doc = serde_json::from_slice(bytes)?;
        if doc.v > STATE_VERSION {
            return Err(StateError::Version(doc.v));
        }
        let mut windows = Windows::new();
        for w in doc.windows {
            let window = Window::parse_iso(&w.window).ok_or_else(|| StateError::Field {
                field: "window",
                value: w.window.clone(),
            })?;
            let market_time =
                quote_record::Timestamp::parse_rfc3339(&w.market_time).map_err(|_| {
                    StateError::Field {
                        field: "market_time",
                        value: w.market_time.clone(),
                    }
                })?;
            if !(w.price.is_finite() && w.price > 0.0) {
                return Err(StateError::Field {
                    field: "price",
                    value: w.price.to_string(),
                });
            }
            windows.merge_one(
                window,
                Last {
                    market_time_us: market_time.unix_micros(),
                    price: w.price,
                },
            );
        }
        Ok(Self {
            windows,
            alerts: doc.alerts.into_iter().collect(),
        })
    }

    /// The object's JSON text.
    pub fn to_json(&self, symbol: &str) -> String {
        let doc = Doc {
            v: STATE_VERSION,
            symbol: symbol.to_owned(),
            windows: self
                .windows
                .iter()
                .map(|(w, l)| WindowDoc {
                    window: w.iso(),
                    market_time: micros_rfc3339(l.market_time_us),
                    price: l.price,
                })
                .collect(),
            alerts: self.alerts.iter().cloned().collect(),
        };
        // Plain data with string keys: serialization cannot fail.
        serde_json::to_string(&doc).unwrap_or_default()
    }

    /// The first window inside the horizon, given the newest window.
    fn cutoff(newest: Window) -> Window {
        Window(newest.0.saturating_sub(HORIZON_MINUTES))
    }

    /// Merges an object's windows, computes every move of the merged history that reaches
    /// `threshold`, claims those not claimed before (adds their ids), and prunes to the horizon.
    /// Returns the newly claimed alerts. Running it again with the same windows claims nothing:
    /// that is what makes a retry send nothing twice.
    ///
    /// `now` is the clock: nothing priced after it plus the lead is merged, and such windows
    /// already in the state are removed first (see the module documentation).
    pub fn claim(
        &mut self,
        symbol: &str,
        object: &Windows,
        threshold: Threshold,
        now: Timestamp,
    ) -> Claim {
        let mut claim = Claim::default();
        let latest_us = quote_record::latest_plausible(now).unix_micros();
        claim.windows_from_future = self.drop_after(latest_us, symbol);
        let plausible: Windows;
        let object = if object.iter().any(|(_, l)| l.market_time_us > latest_us) {
            let mut kept = object.clone();
            claim.windows_from_future += kept.drop_priced_after(latest_us);
            plausible = kept;
            &plausible
        } else {
            object
        };
        let newest = match (self.windows.newest(), object.newest()) {
            (Some(a), Some(b)) => a.max(b),
            (a, b) => match a.or(b) {
                Some(n) => n,
                None => return claim,
            },
        };
        let cutoff = Self::cutoff(newest);
        for (window, last) in object.iter() {
            if window < cutoff {
                claim.windows_too_old += 1;
            } else if self.windows.merge_one(window, last) {
                claim.windows_changed += 1;
            }
        }
        self.prune(cutoff, symbol);
        for m in self.windows.moves(threshold, cutoff) {
            if self.alerts.insert(m.id(symbol)) {
                claim.new_alerts.push(m);
            }
        }
        claim
    }

    /// Removes claims (when the e-mail could not be sent). Returns how many were there.
    pub fn release<'a>(&mut self, ids: impl IntoIterator<Item = &'a String>) -> usize {
        ids.into_iter().filter(|id| self.alerts.remove(*id)).count()
    }

    /// Drops windows and alert ids before `cutoff` (keeping the reference window).
    fn prune(&mut self, cutoff: Window, symbol: &str) {
        self.windows.prune_before(cutoff);
        // Keep ids we cannot read, rather than lose a claim.
        self.alerts
            .retain(|id| alert_window(id, symbol).is_none_or(|w| w >= cutoff));
    }

    /// Drops the windows priced after `latest_us` and the alert ids of windows starting after
    /// it: what a record from the future left before the time-sanity rule. Returns how many
    /// windows were dropped.
    fn drop_after(&mut self, latest_us: i64, symbol: &str) -> usize {
        let dropped = self.windows.drop_priced_after(latest_us);
        if dropped > 0 {
            self.alerts.retain(|id| {
                alert_window(id, symbol).is_none_or(|w| w.start_micros() <= latest_us)
            });
        }
        dropped
    }
}

/// The window of an alert id `SYMBOL/window/prev`, if it reads.
fn alert_window(id: &str, symbol: &str) -> Option<Window> {
    id.get(symbol.len() + 1..)
        .and_then(|rest| rest.split('/').next())
        .and_then(Window::parse_iso)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_795_793_400_000_000; // 2026-11-27T15:30:00Z
    const MIN: i64 = 60_000_000;
    const DAY: i64 = 24 * 60 * MIN;

    /// The clock of the tests: ten days after T0.
    fn now() -> Timestamp {
        Timestamp::from_unix_nanos((T0 + 10 * DAY) * 1_000)
    }

    fn object(prices: &[(i64, f64)]) -> Windows {
        let mut w = Windows::new();
        for &(minute, price) in prices {
            w.observe(T0 + minute * MIN + 5_000_000, price);
        }
        w
    }

    #[test]
    fn json_round_trip() {
        let mut s = State::default();
        let c = s.claim(
            "AAPL",
            &object(&[(0, 100.0), (1, 101.0), (2, 0.30000000000000004)]),
            Threshold::default(),
            now(),
        );
        assert_eq!(c.new_alerts.len(), 2);
        let text = s.to_json("AAPL");
        assert!(text.starts_with(r#"{"v":1,"symbol":"AAPL","windows":[{"window":"2026-11-27T15:30Z","market_time":"2026-11-27T15:30:05Z","price":100.0}"#), "{text}");
        assert!(
            text.contains(r#""alerts":["AAPL/2026-11-27T15:31Z/2026-11-27T15:30Z","#),
            "{text}"
        );
        assert_eq!(State::from_json(text.as_bytes()).unwrap(), s);
        assert!(matches!(
            State::from_json(br#"{"v":2,"symbol":"A","windows":[],"alerts":[]}"#),
            Err(StateError::Version(2))
        ));
        let bad = State::from_json(
            br#"{"v":1,"symbol":"A","windows":[{"window":"x","market_time":"2026-11-27T15:30:05Z","price":1}],"alerts":[]}"#,
        )
        .unwrap_err();
        assert!(bad.to_string().contains("window"), "{bad}");
    }

    #[test]
    fn claims_once_and_releases() {
        let mut s = State::default();
        let o = object(&[(0, 100.0), (1, 101.0)]);
        let first = s.claim("A", &o, Threshold::default(), now());
        assert_eq!(first.new_alerts.len(), 1);
        assert_eq!(first.windows_changed, 2);
        let again = s.claim("A", &o, Threshold::default(), now());
        assert_eq!(again, Claim::default());
        let ids: Vec<String> = first.new_alerts.iter().map(|m| m.id("A")).collect();
        assert_eq!(s.release(&ids), 1);
        assert_eq!(
            s.claim("A", &o, Threshold::default(), now())
                .new_alerts
                .len(),
            1
        );
    }

    #[test]
    fn order_of_objects_does_not_matter() {
        let a = object(&[(0, 100.0), (1, 100.5)]);
        let b = object(&[(2, 102.0), (3, 100.0)]);
        let t = Threshold::default();
        let mut ab = State::default();
        let n1 = ab.claim("A", &a, t, now()).new_alerts.len()
            + ab.claim("A", &b, t, now()).new_alerts.len();
        let mut ba = State::default();
        let n2 = ba.claim("A", &b, t, now()).new_alerts.len()
            + ba.claim("A", &a, t, now()).new_alerts.len();
        assert_eq!(ab, ba);
        assert_eq!((n1, n2), (2, 2)); // 100.5 -> 102 and 102 -> 100
    }

    #[test]
    fn prunes_to_the_horizon() {
        let mut s = State::default();
        let t = Threshold::default();
        s.claim(
            "A",
            &object(&[(0, 100.0), (1, 110.0), (2, 120.0)]),
            t,
            now(),
        );
        assert_eq!(s.alerts.len(), 2);
        // Four days later: the old windows go except the reference (minute 2), and their alerts.
        let later = 4 * 24 * 60;
        let c = s.claim("A", &object(&[(later, 130.0)]), t, now());
        assert_eq!(c.new_alerts.len(), 1);
        assert_eq!(s.windows.len(), 2);
        assert_eq!(s.alerts.len(), 1);
        // An object older than the horizon is ignored.
        let c = s.claim("A", &object(&[(1, 50.0)]), t, now());
        assert_eq!(c.windows_too_old, 1);
        assert!(c.new_alerts.is_empty());
    }

    #[test]
    fn never_ahead_of_the_clock() {
        let t = Threshold::default();
        let lead_us = quote_record::MAX_ARRIVAL_LEAD_NANOS / 1_000;
        let now_us = now().unix_micros();
        // A state poisoned before the rule existed: a window four years ahead, and its alert.
        let mut s = State::default();
        s.windows.merge_one(
            Window::of_micros(T0),
            Last {
                market_time_us: T0,
                price: 100.0,
            },
        );
        let future = now_us + 4 * 365 * DAY;
        s.windows.merge_one(
            Window::of_micros(future),
            Last {
                market_time_us: future,
                price: 150.0,
            },
        );
        let future_id = format!(
            "A/{}/{}",
            Window::of_micros(future).iso(),
            Window::of_micros(T0).iso()
        );
        s.alerts.insert(future_id.clone());
        // An object with a real move one day before the clock, a price exactly at the clock plus
        // the lead (kept) and one a minute later (ignored).
        let day_before = T0 + 9 * DAY;
        let mut o = object(&[(9 * 24 * 60, 100.0), (9 * 24 * 60 + 1, 102.0)]);
        o.observe(now_us + lead_us, 103.0);
        o.observe(now_us + lead_us + MIN, 500.0);
        let c = s.claim("A", &o, t, now());
        assert_eq!(c.windows_from_future, 2, "{c:?}");
        assert_eq!(
            c.windows_too_old, 0,
            "the poisoned window no longer sets the horizon"
        );
        assert_eq!(c.new_alerts.len(), 1, "{c:?}");
        assert_eq!(c.new_alerts[0].window, Window::of_micros(day_before + MIN));
        assert!(!s.alerts.contains(&future_id));
        assert!(
            s.windows
                .iter()
                .all(|(_, l)| l.market_time_us <= now_us + lead_us)
        );
        assert_eq!(
            s.windows.newest(),
            Some(Window::of_micros(now_us + lead_us))
        );
        // Nothing left to drop the second time.
        let again = s.claim("A", &o, t, now());
        assert_eq!((again.windows_from_future, again.new_alerts.len()), (1, 0));
    }
}
