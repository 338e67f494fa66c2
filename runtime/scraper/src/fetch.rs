//! Fetching pages: per-host rate limit, rotated User-Agents and proxies (a failing proxy is benched),
//! per-request timeout, and retries of 429/503 (and 502/504, connection errors) that honour `Retry-After`
//! with exponential backoff and jitter, bounded by a number of attempts and by the tick's deadline.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{RETRY_AFTER, USER_AGENT};
use tokio::time::Instant;

/// The largest body read; a bigger page is refused rather than held in memory.
pub const MAX_BODY_BYTES: usize = 8 << 20;

/// How the fetcher behaves; [`FetchSettings::from_config`] gives the daemon's.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// Whole-request timeout (connect, headers and body).
    pub timeout: Duration,
    /// Requests per second allowed to one host (`host:port`).
    pub requests_per_second_per_host: f64,
    /// User-Agents, rotated per request.
    pub user_agents: Vec<String>,
    /// Proxy URLs, rotated; empty for direct connections.
    pub proxies: Vec<String>,
    /// Attempts per page within a tick (first try included).
    pub max_attempts: u32,
    /// First backoff step; doubled on each retry, plus up to 50% jitter.
    pub backoff_base: Duration,
    /// How long a proxy that failed to connect is left out of the rotation.
    pub proxy_bench: Duration,
}

impl FetchSettings {
    /// The settings of a configuration: 3 attempts, 500 ms backoff base, 60 s proxy bench.
    pub fn from_config(config: &scraper_config::ScraperConfig) -> Self {
        Self {
            timeout: Duration::from_secs(u64::from(config.timeout_seconds)),
            requests_per_second_per_host: config.requests_per_second_per_host,
            user_agents: config.user_agents.clone(),
            proxies: config.proxies.clone(),
            max_attempts: 3,
            backoff_base: Duration::from_millis(500),
            proxy_bench: Duration::from_secs(60),
        }
    }
}

/// Why a page could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The server answered with a status that is not 200, after the retries allowed.
    #[error("HTTP {status} after {attempts} attempt(s)")]
    Status {
        /// The last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
    },
    /// The server asked to wait (429/503 `Retry-After`, or the host's rate limit) past the tick's end.
    #[error("asked to wait {wait_ms} ms (HTTP {status}), past the tick's end")]
    WaitPastDeadline {
        /// The status that asked for the wait (0 for the local rate limit).
        status: u16,
        /// The wait in milliseconds.
        wait_ms: u64,
    },
    /// No response within the timeout.
    #[error("timed out after {timeout_ms} ms")]
    Timeout {
        /// The timeout in milliseconds.
        timeout_ms: u64,
    },
    /// Connecting or reading failed.
    #[error("request failed after {attempts} attempt(s): {message}")]
    Transport {
        /// The error chain, as text.
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The body is larger than [`MAX_BODY_BYTES`].
    #[error("the body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// The fetcher could not be built (a bad proxy URL).
    #[error("HTTP client: {0}")]
    Client(String),
}

impl FetchError {
    /// A stable short code for logs.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Status { .. } => "http_status",
            FetchError::WaitPastDeadline { .. } => "retry_after_past_deadline",
            FetchError::Timeout { .. } => "timeout",
            FetchError::Transport { .. } => "transport",
            FetchError::TooLarge => "too_large",
            FetchError::Client(_) => "client",
        }
    }
}

/// A page fetched, and how many retries it took.
#[derive(Debug)]
pub struct Fetched {
    /// The body (UTF-8, invalid sequences replaced).
    pub body: String,
}

/// The outcome of one page: its body or why not, and the retries spent either way.
#[derive(Debug)]
pub struct FetchOutcome {
    /// Body or error.
    pub result: Result<Fetched, FetchError>,
    /// Retries made (attempts after the first).
    pub retries: u32,
}

/// Per-host spacing of requests: each host gets one request every `1/rate` seconds (a GCRA without
/// burst), and a host that asked to wait (`Retry-After`) gets nothing before that time.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<HashMap<String, Instant>>,
}

impl RateLimiter {
    /// A limiter allowing `per_second` requests per second per host.
    pub fn new(per_second: f64) -> Self {
        let interval = if per_second.is_finite() && per_second > 0.0 {
            Duration::from_secs_f64((1.0 / per_second).min(86_400.0))
        } else {
            Duration::ZERO
        };
        Self {
            interval,
            next: Mutex::new(HashMap::new()),
        }
    }

    /// Reserves the next slot for `host`; `Err(slot)` without reserving when it is after `deadline`.
    pub fn reserve(&self, host: &str, deadline: Instant) -> Result<Instant, Instant> {
        let now = Instant::now();
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let slot = next.get(host).copied().unwrap_or(now).max(now);
        if slot > deadline {
            return Err(slot);
        }
        next.insert(host.to_owned(), slot + self.interval);
        Ok(slot)
    }

    /// No request to `host` before `until`.
    pub fn defer(&self, host: &str, until: Instant) {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let entry = next.entry(host.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
    }
}

#[derive(Debug)]
struct Route {
    /// The proxy URL, `None` for direct.
    proxy: Option<String>,
    client: reqwest::Client,
    benched_until: Mutex<Option<Instant>>,
}

/// The HTTP side of the scraper. Cheap to share (`Arc`); all methods take `&self`.
#[derive(Debug)]
pub struct Fetcher {
    settings: FetchSettings,
    routes: Vec<Route>,
    next_route: AtomicUsize,
    next_agent: AtomicUsize,
    limiter: RateLimiter,
}

impl Fetcher {
    /// Builds one HTTP client per proxy (or one direct client). Environment proxy variables are ignored:
    /// only the configured proxies are used.
    pub fn new(settings: FetchSettings) -> Result<Self, FetchError> {
        let build = |proxy: Option<&str>| -> Result<reqwest::Client, FetchError> {
            let mut b = reqwest::Client::builder()
                .timeout(settings.timeout)
                .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
                .redirect(reqwest::redirect::Policy::limited(5))
                .no_proxy();
            if let Some(p) = proxy {
                b = b.proxy(
                    reqwest::Proxy::all(p)
                        .map_err(|e| FetchError::Client(format!("proxy `{p}`: {e}")))?,
                );
            }
            b.build().map_err(|e| FetchError::Client(e.to_string()))
        };
        let routes = if settings.proxies.is_empty() {
            vec![Route {
                proxy: None,
                client: build(None)?,
                benched_until: Mutex::new(None),
            }]
        } else {
            settings
                .proxies
                .iter()
                .map(|p| {
                    Ok(Route {
                        proxy: Some(p.clone()),
                        client: build(Some(p))?,
                        benched_until: Mutex::new(None),
                    })
                })
                .collect::<Result<_, FetchError>>()?
        };
        Ok(Self {
            limiter: RateLimiter::new(settings.requests_per_second_per_host),
            settings,
            routes,
            next_route: AtomicUsize::new(0),
            next_agent: AtomicUsize::new(0),
        })
    }

    /// The next route in rotation that is not benched; when all are, the one whose bench ends first.
    fn route(&self) -> &Route {
        let now = Instant::now();
        let n = self.routes.len();
        let start = self.next_route.fetch_add(1, Ordering::Relaxed);
        let bench = |r: &Route| *r.benched_until.lock().unwrap_or_else(|p| p.into_inner());
        for i in 0..n {
            let r = &self.routes[(start + i) % n];
            if bench(r).is_none_or(|until| until <= now) {
                return r;
            }
        }
        self.routes
            .iter()
            .min_by_key(|r| bench(r))
            .unwrap_or(&self.routes[start % n])
    }

    fn user_agent(&self) -> &str {
        let i = self.next_agent.fetch_add(1, Ordering::Relaxed);
        self.settings
            .user_agents
            .get(i % self.settings.user_agents.len().max(1))
            .map_or(scraper_config::DEFAULT_USER_AGENT, String::as_str)
    }

    /// The backoff before retry `n` (1-based): base·2^(n-1) plus up to 50% jitter.
    fn backoff(&self, n: u32) -> Duration {
        let exp = self.settings.backoff_base * 2u32.saturating_pow(n.saturating_sub(1).min(16));
        exp + exp.mul_f64(fastrand::f64() * 0.5)
    }

    /// Fetches `url`, retrying within `deadline`.
    pub async fn get(&self, url: &str, deadline: Instant) -> FetchOutcome {
        let host = host_key(url);
        let mut retries = 0;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.limiter.reserve(&host, deadline) {
                Ok(slot) => tokio::time::sleep_until(slot).await,
                Err(slot) => {
                    return FetchOutcome {
                        result: Err(FetchError::WaitPastDeadline {
                            status: 0,
                            wait_ms: millis(slot.saturating_duration_since(Instant::now())),
                        }),
                        retries,
                    };
                }
            }
            let route = self.route();
            let sent = route
                .client
                .get(url)
                .header(USER_AGENT, self.user_agent())
                .send()
                .await;
            // What to do next: Ok = done; Err((error, Some(wait))) = retry after `wait`.
            let step: Result<Fetched, (FetchError, Option<Duration>, u16)> = match sent {
                Ok(resp) if resp.status() == StatusCode::OK => match read_body(resp).await {
                    Ok(body) => Ok(Fetched { body }),
                    Err(e) => Err((e, None, 0)),
                },
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = resp
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after);
                    let err = FetchError::Status {
                        status: status.as_u16(),
                        attempts: attempt,
                    };
                    match status.as_u16() {
                        429 | 503 => {
                            let wait = retry_after.unwrap_or_default().max(self.backoff(attempt));
                            Err((err, Some(wait), status.as_u16()))
                        }
                        502 | 504 => Err((err, Some(self.backoff(attempt)), status.as_u16())),
                        _ => Err((err, None, status.as_u16())),
                    }
                }
                Err(e) if e.is_timeout() => {
                    if route.proxy.is_some() && e.is_connect() {
                        self.bench(route);
                    }
                    Err((
                        FetchError::Timeout {
                            timeout_ms: millis(self.settings.timeout),
                        },
                        None,
                        0,
                    ))
                }
                Err(e) => {
                    if route.proxy.is_some() && (e.is_connect() || e.is_request()) {
                        self.bench(route);
                    }
                    Err((
                        FetchError::Transport {
                            message: error_chain(&e),
                            attempts: attempt,
                        },
                        Some(self.backoff(attempt)),
                        0,
                    ))
                }
            };
            match step {
                Ok(f) => {
                    return FetchOutcome {
                        result: Ok(f),
                        retries,
                    };
                }
                Err((err, None, _)) => {
                    return FetchOutcome {
                        result: Err(err),
                        retries,
                    };
                }
                Err((err, Some(wait), status)) => {
                    if attempt >= self.settings.max_attempts {
                        return FetchOutcome {
                            result: Err(err),
                            retries,
                        };
                    }
                    let until = Instant::now() + wait;
                    if until > deadline {
                        return FetchOutcome {
                            result: Err(FetchError::WaitPastDeadline {
                                status,
                                wait_ms: millis(wait),
                            }),
                            retries,
                        };
                    }
                    if status == 429 || status == 503 {
                        // The host asked everyone to slow down, not just this request.
                        self.limiter.defer(&host, until);
                    }
                    tracing::debug!(url, status, wait_ms = millis(wait), "retrying");
                    retries += 1;
                    tokio::time::sleep_until(until).await;
                }
            }
        }
    }

    fn bench(&self, route: &Route) {
        let until = Instant::now() + self.settings.proxy_bench;
        *route
            .benched_until
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(until);
        tracing::warn!(
            proxy = route.proxy.as_deref().unwrap_or_default(),
            bench_seconds = self.settings.proxy_bench.as_secs(),
            "proxy failed; benched"
        );
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

async fn read_body(mut resp: reqwest::Response) -> Result<String, FetchError> {
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(FetchError::TooLarge);
    }
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(FetchError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) if e.is_timeout() => {
                return Err(FetchError::Timeout { timeout_ms: 0 });
            }
            Err(e) => {
                return Err(FetchError::Transport {
                    message: error_chain(&e),
                    attempts: 1,
                });
            }
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// An error and its sources, `: `-separated (reqwest's Display alone hides the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// `host:port` of a URL (the rate limit's key); the whole URL when it has no `//`.
pub fn host_key(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .to_ascii_lowercase()
}

/// `Retry-After`: delta-seconds or an HTTP date (a date in the past means no wait).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        let d = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn host_keys() {
        assert_eq!(
            host_key("https://Q.example.com:8443/a?b"),
            "q.example.com:8443"
        );
        assert_eq!(host_key("http://u:p@127.0.0.1:9/x"), "127.0.0.1:9");
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_spaces_requests_per_host() {
        let l = RateLimiter::new(2.0);
        let far = Instant::now() + Duration::from_secs(60);
        let a = l.reserve("h", far).unwrap();
        let b = l.reserve("h", far).unwrap();
        let c = l.reserve("other", far).unwrap();
        assert_eq!(b - a, Duration::from_millis(500));
        assert_eq!(c, a);
        l.defer("h", a + Duration::from_secs(10));
        assert_eq!(l.reserve("h", far).unwrap() - a, Duration::from_secs(10));
        assert!(l.reserve("h", a + Duration::from_secs(5)).is_err());
    }
}
