//! The bundled local quote site: quote pages for the scraper without the internet.
//!
//! An HTTP server on `127.0.0.1` (binary `quote-site`, or [`QuoteSite::start`] in a test) serving
//! the pages `environments/local.yaml`'s sources read, priced by a deterministic random walk
//! ([`market`]), failing now and then like a real site, and telling tests exactly what it served:
//!
//! | Request | Answer |
//! |---|---|
//! | `GET /quote/{SYMBOL}` | The HTML page ([`pages::html`]): `span.price`, `span.change-pct`, `span.volume`, `time.market-time`. |
//! | `GET /api/quote/{SYMBOL}` | The JSON document ([`pages::json`]): `$.quote.price`, `.change_pct`, `.volume`, `.currency`, `.market_time` (Unix ms). |
//! | `GET /served[?symbol=S][&since=SEQ]` | A [`ServedReport`]: counts per symbol and the quotes served (200s only). |
//! | `POST /jump?symbol=S&pct=P` | The next quote of `S` moves exactly `P` percent from the last one. |
//! | `GET /health` | `ok`. |
//!
//! Any valid ticker has a quote (its own walk from the seed). A quote request is answered 429
//! (with `Retry-After`) or 500 at the configured rates, decided per symbol and format by the
//! request count, so a seed gives the same answers to the same requests.

pub mod http;
pub mod market;
pub mod pages;

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use quote_record::{Symbol, Timestamp};

pub use market::{Answer, Format, Market, ServedQuote, ServedReport, SymbolCounts};

/// How the site behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteConfig {
    /// Seed of every draw: prices, volumes, errors.
    pub seed: u64,
    /// How often prices move.
    pub tick: Duration,
    /// Share of quote requests answered 429 with `Retry-After`, 0 to 1.
    pub too_many_requests_rate: f64,
    /// Share of quote requests answered 500, 0 to 1 (with the 429 rate at most 1).
    pub server_error_rate: f64,
    /// The `Retry-After` of a 429, in seconds.
    pub retry_after_seconds: u32,
    /// The walk stays within this many percent of the previous close (or of a jump's level).
    pub drift_pct: f64,
    /// Largest move per tick, in percent; smaller than `drift_pct`.
    pub step_pct: f64,
    /// Quotes kept for `GET /served` (the oldest are dropped and counted beyond it).
    pub served_limit: usize,
}

impl Default for SiteConfig {
    /// Seed 42, 1 s ticks, 2% of requests 429 (`Retry-After: 1`), 1% 500, a walk within ±0.25%
    /// (so it never moves 1% on its own: only jumps make alerts) in steps of at most 0.02%.
    fn default() -> Self {
        Self {
            seed: 42,
            tick: Duration::from_secs(1),
            too_many_requests_rate: 0.02,
            server_error_rate: 0.01,
            retry_after_seconds: 1,
            drift_pct: 0.25,
            step_pct: 0.02,
            served_limit: 1_000_000,
        }
    }
}

impl SiteConfig {
    /// The defaults with no 429 or 500: every request gets a quote.
    pub fn without_errors() -> Self {
        Self {
            too_many_requests_rate: 0.0,
            server_error_rate: 0.0,
            ..Self::default()
        }
    }

    /// Every problem of the settings, each a sentence naming the setting; empty when valid.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let rate = |name: &str, r: f64, problems: &mut Vec<String>| {
            if !(0.0..=1.0).contains(&r) {
                problems.push(format!("{name} must be between 0 and 1, found {r}"));
            }
        };
        rate("the 429 rate", self.too_many_requests_rate, &mut problems);
        rate("the 500 rate", self.server_error_rate, &mut problems);
        if self.too_many_requests_rate + self.server_error_rate > 1.0 {
            problems.push("the 429 and 500 rates together must be at most 1".to_owned());
        }
        if self.tick.is_zero() {
            problems.push("the tick must be longer than 0".to_owned());
        }
        if !(self.drift_pct.is_finite() && self.drift_pct > 0.0 && self.drift_pct < 50.0) {
            problems.push(format!(
                "the drift must be above 0 and below 50 percent, found {}",
                self.drift_pct
            ));
        }
        if !(self.step_pct.is_finite() && self.step_pct > 0.0 && self.step_pct < self.drift_pct) {
            problems.push(format!(
                "the step must be above 0 and below the drift ({}), found {}",
                self.drift_pct, self.step_pct
            ));
        }
        if self.served_limit == 0 {
            problems.push("the served-quotes limit must be at least 1".to_owned());
        }
        problems
    }
}

/// Why the site could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The settings are invalid.
    #[error("invalid quote-site settings: {}", .0.join("; "))]
    Invalid(Vec<String>),
    /// The port could not be bound (taken, or not allowed).
    #[error(
        "cannot listen on 127.0.0.1:{port}: {source}; stop what uses the port, or choose another (port 0 picks a free one)"
    )]
    Bind {
        /// The port asked for.
        port: u16,
        /// The error.
        source: std::io::Error,
    },
    /// The server thread could not start.
    #[error("cannot start the server thread: {0}")]
    Thread(std::io::Error),
}

struct Site {
    market: Mutex<Market>,
    started: Instant,
    tick: Duration,
}

impl Site {
    fn market(&self) -> MutexGuard<'_, Market> {
        // The market's updates cannot be left half-done by a panic elsewhere: keep serving.
        self.market.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tick now: whole ticks since the site started.
    fn tick_now(&self) -> u64 {
        let ticks = self.started.elapsed().as_nanos() / self.tick.as_nanos().max(1);
        u64::try_from(ticks).unwrap_or(u64::MAX)
    }

    fn handle(&self, request: &http::Request) -> http::Response {
        let path = request.path.as_str();
        let method = request.method.as_str();
        let page = if let Some(symbol) = path.strip_prefix("/quote/") {
            Some((symbol, Format::Html))
        } else {
            path.strip_prefix("/api/quote/")
                .map(|symbol| (symbol, Format::Json))
        };
        match (method, page, path) {
            ("GET", Some((symbol, format)), _) => self.quote(symbol, format),
            ("GET", None, "/served") => self.served(request),
            ("POST", None, "/jump") => self.jump(request),
            ("GET", None, "/health") => http::Response::text(200, "ok\n"),
            (_, Some(_), _) | (_, None, "/served" | "/jump" | "/health") => http::Response::text(
                405,
                format!("{method} is not allowed on {path}: see the quote-site documentation\n"),
            ),
            _ => http::Response::text(
                404,
                format!(
                    "no page at {path}: use /quote/SYMBOL, /api/quote/SYMBOL, /served, POST /jump?symbol=S&pct=P or /health\n"
                ),
            ),
        }
    }

    fn quote(&self, symbol: &str, format: Format) -> http::Response {
        let Ok(symbol) = Symbol::parse(symbol) else {
            return http::Response::text(
                404,
                format!("`{symbol}` is not a ticker: no quote page\n"),
            );
        };
        let tick = self.tick_now();
        let answer = self
            .market()
            .answer(&symbol, format, tick, Timestamp::now());
        match answer {
            Answer::Quote(q) => {
                tracing::debug!(symbol = %q.symbol, price = q.price, jumped = q.jumped, "quote served");
                match format {
                    Format::Html => {
                        http::Response::new(200, "text/html; charset=utf-8", pages::html(&q))
                    }
                    Format::Json => http::Response::new(200, "application/json", pages::json(&q)),
                }
            }
            Answer::TooManyRequests {
                retry_after_seconds,
            } => {
                tracing::info!(symbol = %symbol.as_str(), "answered 429 (injected)");
                let mut response = http::Response::text(429, "too many requests (injected)\n");
                response
                    .headers
                    .push(("retry-after", retry_after_seconds.to_string()));
                response
            }
            Answer::ServerError => {
                tracing::info!(symbol = %symbol.as_str(), "answered 500 (injected)");
                http::Response::text(500, "server error (injected)\n")
            }
        }
    }

    fn served(&self, request: &http::Request) -> http::Response {
        let symbol = match request.param("symbol").map(Symbol::parse) {
            None => None,
            Some(Ok(s)) => Some(s),
            Some(Err(_)) => return http::Response::text(400, "`symbol` is not a ticker\n"),
        };
        let since = match request.param("since").map(str::parse::<u64>) {
            None => 0,
            Some(Ok(n)) => n,
            Some(Err(_)) => {
                return http::Response::text(
                    400,
                    "`since` must be a sequence number (the last `seq` seen)\n",
                );
            }
        };
        let report = self.market().report(symbol.as_ref(), since);
        match serde_json::to_string(&report) {
            Ok(body) => http::Response::new(200, "application/json", body),
            Err(e) => http::Response::text(500, format!("cannot encode the report: {e}\n")),
        }
    }

    fn jump(&self, request: &http::Request) -> http::Response {
        let Some(Ok(symbol)) = request.param("symbol").map(Symbol::parse) else {
            return http::Response::text(
                400,
                "`symbol` is missing or not a ticker: POST /jump?symbol=AAPL&pct=5\n",
            );
        };
        let pct = request.param("pct").and_then(|p| p.parse::<f64>().ok());
        let Some(pct) = pct.filter(|p| p.is_finite() && *p > -100.0 && *p != 0.0) else {
            return http::Response::text(
                400,
                "`pct` must be a number above -100 and not 0, such as `5` or `-3`: POST /jump?symbol=AAPL&pct=5\n",
            );
        };
        self.market().jump(&symbol, pct);
        tracing::info!(symbol = %symbol.as_str(), pct, "jump pending");
        http::Response::new(
            200,
            "application/json",
            serde_json::json!({"symbol": symbol.as_str(), "pct": pct, "pending": true}).to_string(),
        )
    }
}

/// A running quote site; stopped on drop.
pub struct QuoteSite {
    site: Arc<Site>,
    server: http::Server,
}

impl QuoteSite {
    /// Starts the site on `127.0.0.1:port` (`0` for a free port).
    pub fn start(config: SiteConfig, port: u16) -> Result<Self, StartError> {
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(StartError::Invalid(problems));
        }
        let listener = TcpListener::bind(("127.0.0.1", port))
            .map_err(|source| StartError::Bind { port, source })?;
        let site = Arc::new(Site {
            tick: config.tick,
            market: Mutex::new(Market::new(config)),
            started: Instant::now(),
        });
        let handler_site = Arc::clone(&site);
        let server = http::Server::start(listener, move |r| handler_site.handle(r))
            .map_err(StartError::Thread)?;
        Ok(Self { site, server })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// What `GET /served` answers (all symbols, from the start of the log).
    pub fn served(&self) -> ServedReport {
        self.site.market().report(None, 0)
    }

    /// What `POST /jump?symbol=..&pct=..` does.
    pub fn jump(&self, symbol: &Symbol, pct: f64) {
        self.site.market().jump(symbol, pct);
    }

    /// Stops listening and closes every connection (also done on drop).
    pub fn stop(&mut self) {
        self.server.stop();
    }
}
