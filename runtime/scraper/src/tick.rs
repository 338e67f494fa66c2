//! One tick: every symbol × source fetched concurrently (bounded), each page turned into a record or a
//! counted, logged failure naming the symbol, the source and the locator.

use std::sync::Arc;

use quote_record::{Quote, Symbol, Timestamp};
use scraper_config::{ScraperConfig, SourceConfig};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::extract::{CompileError, ExtractError, Extractor};
use crate::fetch::{FetchError, FetchSettings, Fetcher};

/// Why one page gave no record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FailureKind {
    /// The page could not be fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The page was fetched but gave no valid record.
    #[error(transparent)]
    Extract(#[from] ExtractError),
}

/// One page that gave no record.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The symbol.
    pub symbol: Symbol,
    /// The source's name.
    pub source: String,
    /// The URL fetched.
    pub url: String,
    /// Why.
    pub kind: FailureKind,
}

impl Failure {
    /// The locator that failed, when a locator did.
    pub fn locator(&self) -> Option<&str> {
        match &self.kind {
            FailureKind::Extract(e) => e.locator(),
            FailureKind::Fetch(_) => None,
        }
    }
}

/// What a tick produced.
#[derive(Debug, Default)]
pub struct TickReport {
    /// Pages fetched (HTTP 200 with a body).
    pub fetched: u64,
    /// Records made, in (symbol, source) order of the configuration.
    pub records: Vec<Quote>,
    /// Pages that gave no record.
    pub failures: Vec<Failure>,
    /// HTTP retries made.
    pub retried: u64,
    /// True when shutdown or the tick's deadline cut the tick short.
    pub interrupted: bool,
    /// Pages abandoned unfinished when the tick was cut short (no record, counted as failed).
    pub abandoned: u64,
}

/// Everything a tick needs, shared by its tasks.
#[derive(Debug)]
pub struct Scrape {
    fetcher: Fetcher,
    sources: Vec<(SourceConfig, Extractor)>,
    symbols: Vec<Symbol>,
    concurrency: usize,
}

/// Why a [`Scrape`] could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A locator does not compile.
    #[error(transparent)]
    Locator(#[from] CompileError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

impl Scrape {
    /// Compiles the sources' locators and builds the HTTP clients.
    pub fn new(config: &ScraperConfig, settings: FetchSettings) -> Result<Self, SetupError> {
        let sources = config
            .sources
            .iter()
            .map(|s| Ok((s.clone(), Extractor::new(s)?)))
            .collect::<Result<Vec<_>, CompileError>>()?;
        Ok(Self {
            fetcher: Fetcher::new(settings)?,
            sources,
            symbols: config.symbols.clone(),
            concurrency: usize::try_from(config.concurrency).unwrap_or(1).max(1),
        })
    }

    /// Runs one tick; fetches still running at `deadline` or when `shutdown` turns true are abandoned.
    pub async fn tick(
        self: &Arc<Self>,
        deadline: Instant,
        mut shutdown: watch::Receiver<bool>,
    ) -> TickReport {
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let mut tasks = JoinSet::new();
        let mut n = 0usize;
        for symbol in &self.symbols {
            for (si, _) in self.sources.iter().enumerate() {
                let this = Arc::clone(self);
                let permits = Arc::clone(&permits);
                let symbol = *symbol;
                let job = n;
                n += 1;
                tasks.spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    (job, this.page(&symbol, si, deadline).await)
                });
            }
        }
        let mut results: Vec<(usize, PageResult)> = Vec::with_capacity(n);
        let mut report = TickReport::default();
        loop {
            tokio::select! {
                next = tasks.join_next() => match next {
                    Some(Ok(r)) => results.push(r),
                    Some(Err(e)) => tracing::error!(error = %e, "page task failed"),
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(unfinished = tasks.len(), "tick deadline reached; unfinished pages abandoned");
                    report.interrupted = true;
                    break;
                }
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        report.interrupted = true;
                        break;
                    }
                }
            }
        }
        report.abandoned = tasks.len() as u64;
        tasks.abort_all();
        results.sort_unstable_by_key(|(job, _)| *job);
        for (_, r) in results {
            report.retried += u64::from(r.retries);
            if r.fetched {
                report.fetched += 1;
            }
            match r.outcome {
                Ok(q) => report.records.push(q),
                Err(f) => report.failures.push(f),
            }
        }
        report
    }

    async fn page(&self, symbol: &Symbol, si: usize, deadline: Instant) -> PageResult {
        let (source, extractor) = &self.sources[si];
        let url = source.url_for(symbol);
        let fetched = self.fetcher.get(&url, deadline).await;
        let fail = |kind: FailureKind| {
            let f = Failure {
                symbol: *symbol,
                source: source.name.clone(),
                url: url.clone(),
                kind,
            };
            match &f.kind {
                FailureKind::Extract(e) => tracing::warn!(
                    symbol = f.symbol.as_str(),
                    source = f.source,
                    url = f.url,
                    locator = e.locator().unwrap_or_default(),
                    code = e.code(),
                    error = %e,
                    "page gave no record"
                ),
                FailureKind::Fetch(e) => tracing::warn!(
                    symbol = f.symbol.as_str(),
                    source = f.source,
                    url = f.url,
                    code = e.code(),
                    error = %e,
                    "page not fetched"
                ),
            }
            f
        };
        match fetched.result {
            Err(e) => PageResult {
                fetched: false,
                retries: fetched.retries,
                outcome: Err(fail(e.into())),
            },
            Ok(page) => PageResult {
                fetched: true,
                retries: fetched.retries,
                outcome: extractor
                    .extract(symbol, &page.body, now())
                    .map_err(|e| fail(e.into())),
            },
        }
    }
}

struct PageResult {
    fetched: bool,
    retries: u32,
    outcome: Result<Quote, Failure>,
}

/// The current time as a record timestamp.
pub fn now() -> Timestamp {
    Timestamp::now()
}
