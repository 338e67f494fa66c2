//! The state objects in S3, updated with conditional writes so that concurrent invocations lose
//! nothing.
//!
//! [`StateStore::update`] is an optimistic read-modify-write loop: GET the object (its ETag, or
//! `NoSuchKey`: absent), apply a change, PUT it back with `If-Match: <etag>` (or
//! `If-None-Match: *` when it was absent). When another invocation wrote in between, S3 answers
//! 412 `PreconditionFailed` (or 409 `ConditionalRequestConflict` while a concurrent conditional
//! write is in flight, or 404 `NoSuchKey` when the object was deleted): read again and redo the
//! change on the newer state, up to [`MAX_ATTEMPTS`] times with a small jittered backoff. The
//! change is a merge (see [`crate::state`]), so redoing it on a newer state keeps both writers'
//! windows and claims.

use std::hash::{BuildHasher as _, Hasher as _};
use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata as _, SdkError};
use aws_sdk_s3::operation::put_object::PutObjectError;
use aws_sdk_s3::primitives::ByteStream;
use thiserror::Error;
use tracing::debug;

use crate::state::{State, StateError};

/// Conditional-write attempts per update before giving up (the invocation then fails and is
/// retried by Lambda).
pub const MAX_ATTEMPTS: u32 = 10;

/// A state update that failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// GetObject failed (other than a missing object).
    #[error(
        "cannot read state object s3://{bucket}/{key}: {message} (check s3:GetObject and s3:ListBucket on the state prefix)"
    )]
    Get {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The SDK error with its source chain.
        message: String,
    },
    /// PutObject failed (other than a lost race).
    #[error(
        "cannot write state object s3://{bucket}/{key}: {message} (check s3:PutObject on the state prefix)"
    )]
    Put {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The SDK error with its source chain.
        message: String,
    },
    /// The object exists but is not state JSON.
    #[error("state object s3://{bucket}/{key}: {source}")]
    Corrupt {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// Why.
        source: StateError,
    },
    /// Every attempt lost the race to another writer.
    #[error(
        "state object s3://{bucket}/{key} changed under every one of {MAX_ATTEMPTS} conditional writes; the event is retried"
    )]
    Contended {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
}

/// What [`StateStore::update`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated<R> {
    /// The change's result on the state that was written (or found unchanged).
    pub result: R,
    /// Whether a PUT was needed (the change changed something).
    pub written: bool,
    /// Conditional writes that lost a race and were redone.
    pub conflicts: u32,
}

/// The state objects: `s3://<bucket>/<prefix><SYMBOL>.json`.
#[derive(Debug, Clone)]
pub struct StateStore {
    s3: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

/// Renders an SDK error with its source chain (the top-level Display is only "service error").
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

impl StateStore {
    /// The store in `bucket` under `prefix` (ending in `/`).
    pub fn new(
        s3: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Self {
        Self {
            s3,
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    /// The key of a symbol's state object.
    pub fn key(&self, symbol: &str) -> String {
        format!("{}{symbol}.json", self.prefix)
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Reads a symbol's state and its ETag (`None`: no object yet).
    pub async fn load(&self, symbol: &str) -> Result<(State, Option<String>), StoreError> {
        let key = self.key(symbol);
        let get_err = |message: String| StoreError::Get {
            bucket: self.bucket.clone(),
            key: key.clone(),
            message,
        };
        match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(out) => {
                let etag = out.e_tag().map(str::to_owned);
                let body = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| get_err(error_chain(&e)))?
                    .into_bytes();
                let state = State::from_json(&body).map_err(|source| StoreError::Corrupt {
                    bucket: self.bucket.clone(),
                    key: key.clone(),
                    source,
                })?;
                Ok((state, etag))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                Ok((State::default(), None))
            }
            Err(e) => Err(get_err(error_chain(&e))),
        }
    }

    /// Applies `change` to a symbol's state and writes it back conditionally, redoing it on a
    /// fresh read when another writer got there first. `change` may run several times (each on
    /// the newest state); the result of the run that was written is returned.
    pub async fn update<R>(
        &self,
        symbol: &str,
        mut change: impl FnMut(&mut State) -> R,
    ) -> Result<Updated<R>, StoreError> {
        let key = self.key(symbol);
        let mut conflicts = 0;
        for attempt in 1..=MAX_ATTEMPTS {
            let (mut state, etag) = self.load(symbol).await?;
            let before = state.clone();
            let result = change(&mut state);
            if state == before {
                return Ok(Updated {
                    result,
                    written: false,
                    conflicts,
                });
            }
            let mut put = self
                .s3
                .put_object()
                .bucket(&self.bucket)
                .key(&key)
                .content_type("application/json")
                .body(ByteStream::from(state.to_json(symbol).into_bytes()));
            put = match &etag {
                Some(etag) => put.if_match(etag),
                None => put.if_none_match("*"),
            };
            match put.send().await {
                Ok(_) => {
                    return Ok(Updated {
                        result,
                        written: true,
                        conflicts,
                    });
                }
                Err(e) if lost_race(&e) => {
                    conflicts += 1;
                    debug!(
                        key,
                        attempt,
                        code = e.code(),
                        "state object changed since it was read; reading it again"
                    );
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e) => {
                    return Err(StoreError::Put {
                        bucket: self.bucket.clone(),
                        key,
                        message: error_chain(&e),
                    });
                }
            }
        }
        Err(StoreError::Contended {
            bucket: self.bucket.clone(),
            key,
        })
    }
}

/// Whether a conditional PutObject failed because the object changed since it was read.
fn lost_race(e: &SdkError<PutObjectError, HttpResponse>) -> bool {
    let status = e.raw_response().map(|r| r.status().as_u16());
    matches!(
        e.code(),
        Some("PreconditionFailed" | "ConditionalRequestConflict" | "NoSuchKey")
    ) || matches!(status, Some(409 | 412))
}

/// 10 ms doubling per attempt up to 320 ms, with up to 100% random jitter added (so that two
/// invocations that collided do not collide again in lockstep).
fn backoff(attempt: u32) -> Duration {
    let base = 10u64 << attempt.saturating_sub(1).min(5);
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    Duration::from_millis(base + random % (base + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        for attempt in 1..=MAX_ATTEMPTS {
            let d = backoff(attempt);
            let base = 10u64 << (attempt - 1).min(5);
            assert!(d >= Duration::from_millis(base) && d <= Duration::from_millis(2 * base));
        }
    }
}
