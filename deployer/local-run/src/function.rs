//! One Lambda function hosted on this machine: its real `bootstrap` as a process behind its own
//! Runtime API (`lambda-host`), one invocation at a time (each function has one execution
//! environment, which keeps a shard's batches in order).
//!
//! As Lambda does: the process starts on the first invocation (cold start) and stays for the next
//! ones; an invocation gets the deadline of the function's timeout (`Lambda-Runtime-Deadline-Ms`),
//! and one that overruns it is killed and reported `Task timed out after N.NN seconds`; an init
//! error (`/runtime/init/error`, or the process exiting before it asks for work) fails the
//! invocation with the function's error type, and the next invocation starts a new process.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lambda_host::{Report, RuntimeApi};
use tokio::sync::Mutex;

/// How long a cold start may take before the invocation fails (Lambda's init phase limit).
pub const INIT_LIMIT: Duration = Duration::from_secs(10);

/// How often a running invocation is checked (result posted, process exited, deadline passed).
const POLL: Duration = Duration::from_millis(5);

/// Everything needed to run one function.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// The template's logical id, such as `Transform`.
    pub logical_id: String,
    /// The deployed function's name (`AWS_LAMBDA_FUNCTION_NAME`).
    pub name: String,
    /// The function's ARN (`Lambda-Runtime-Invoked-Function-Arn`).
    pub arn: String,
    /// The `bootstrap` executable.
    pub binary: PathBuf,
    /// The complete process environment (the template's variables and Lambda's own).
    pub environment: BTreeMap<String, String>,
    /// The template's `Timeout`.
    pub timeout: Duration,
    /// The template's `MemorySize` in MB (reported and passed as `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`;
    /// not enforced on this machine).
    pub memory_mb: u32,
    /// Where the process's stdout and stderr go (appended).
    pub log: PathBuf,
}

/// How one invocation ended, in Lambda's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The function returned this body.
    Success(String),
    /// The function returned an error (`X-Amz-Function-Error: Unhandled`).
    FunctionError {
        /// `errorType`.
        error_type: String,
        /// `errorMessage`.
        message: String,
    },
    /// The invocation overran the function's timeout; the process was killed.
    TimedOut {
        /// The request.
        request_id: String,
        /// The timeout it overran.
        timeout: Duration,
    },
    /// The cold start failed: an init error was posted, the process exited before asking for work,
    /// or it did not ask within [`INIT_LIMIT`].
    InitFailed {
        /// The error type (`Runtime.ExitError` when the process just exited).
        error_type: String,
        /// What happened.
        message: String,
    },
    /// The process exited during the invocation.
    Crashed {
        /// The request.
        request_id: String,
        /// The exit status.
        status: String,
    },
}

impl Outcome {
    /// True for [`Outcome::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success(_))
    }
}

impl fmt::Display for Outcome {
    /// What Lambda would return as the invocation's error (or `success`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Success(_) => f.write_str("success"),
            Outcome::FunctionError {
                error_type,
                message,
            } => write!(f, "{error_type}: {message}"),
            Outcome::TimedOut {
                request_id,
                timeout,
            } => write!(
                f,
                "{request_id} Task timed out after {:.2} seconds",
                timeout.as_secs_f64()
            ),
            Outcome::InitFailed {
                error_type,
                message,
            } => write!(f, "init failed: {error_type}: {message}"),
            Outcome::Crashed { request_id, status } => write!(
                f,
                "RequestId: {request_id} Error: Runtime exited with error: {status} (Runtime.ExitError)"
            ),
        }
    }
}

/// Counters of one function, for the live view.
#[derive(Debug, Default)]
pub struct FunctionStats {
    /// Invocations started.
    pub invocations: AtomicU64,
    /// Invocations that returned an error.
    pub errors: AtomicU64,
    /// Invocations that timed out.
    pub timeouts: AtomicU64,
    /// Invocations failed by a cold start.
    pub init_failures: AtomicU64,
    /// Invocations whose process crashed.
    pub crashes: AtomicU64,
    /// Cold starts (processes started).
    pub cold_starts: AtomicU64,
}

/// Why a function could not be hosted at all.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The Runtime API could not listen.
    #[error("cannot start the Runtime API for {function}: {source}")]
    Listen {
        /// The function.
        function: String,
        /// The socket error.
        source: std::io::Error,
    },
}

struct Running {
    child: Child,
    started: Instant,
    /// True once it asked for work (its cold start is over).
    ready: bool,
}

/// A hosted function: see the module documentation.
pub struct FunctionHost {
    config: FunctionConfig,
    api: RuntimeApi,
    process: Mutex<Option<Running>>,
    /// Polls of `/invocation/next` seen when the current process started.
    polls_at_start: AtomicU64,
    stats: Arc<FunctionStats>,
}

impl FunctionHost {
    /// Listens for the function's Runtime API; the process starts on the first invocation.
    pub fn new(config: FunctionConfig) -> Result<Self, HostError> {
        let api = RuntimeApi::bind(config.arn.clone()).map_err(|source| HostError::Listen {
            function: config.logical_id.clone(),
            source,
        })?;
        Ok(Self {
            config,
            api,
            process: Mutex::new(None),
            polls_at_start: AtomicU64::new(0),
            stats: Arc::new(FunctionStats::default()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &FunctionConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> Arc<FunctionStats> {
        Arc::clone(&self.stats)
    }

    /// Invokes the function with `event` (JSON text) and waits for the outcome; never runs two
    /// invocations at once.
    pub async fn invoke(&self, event: String) -> Outcome {
        let mut process = self.process.lock().await;
        self.stats.invocations.fetch_add(1, Ordering::Relaxed);
        if process.is_none() {
            match self.spawn() {
                Ok(running) => *process = Some(running),
                Err(message) => {
                    return self.failed(Outcome::InitFailed {
                        error_type: "Runtime.InvalidEntrypoint".into(),
                        message,
                    });
                }
            }
        }
        let id = self.api.invoke_with_timeout(event, self.config.timeout);
        let outcome = self.wait(&id, &mut process).await;
        self.api.forget(&id);
        self.failed(outcome)
    }

    /// Counts a failure, logs it as Lambda reports it, and passes the outcome on.
    fn failed(&self, outcome: Outcome) -> Outcome {
        let counter = match &outcome {
            Outcome::Success(_) => return outcome,
            Outcome::FunctionError { .. } => &self.stats.errors,
            Outcome::TimedOut { .. } => &self.stats.timeouts,
            Outcome::InitFailed { .. } => &self.stats.init_failures,
            Outcome::Crashed { .. } => &self.stats.crashes,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            function = self.config.logical_id,
            log = %self.config.log.display(),
            "{outcome}"
        );
        outcome
    }

    async fn wait(&self, id: &str, process: &mut Option<Running>) -> Outcome {
        loop {
            if let Some(report) = self.api.take(|r| r.request_id() == Some(id)) {
                return match report {
                    Report::Response { body, .. } => Outcome::Success(body),
                    Report::Error {
                        error_type, body, ..
                    } => {
                        let parsed: serde_json::Value =
                            serde_json::from_str(&body).unwrap_or_default();
                        Outcome::FunctionError {
                            error_type: parsed["errorType"]
                                .as_str()
                                .map(str::to_owned)
                                .or(error_type)
                                .unwrap_or_else(|| "Unhandled".to_owned()),
                            message: parsed["errorMessage"]
                                .as_str()
                                .map(str::to_owned)
                                .unwrap_or(body),
                        }
                    }
                    _ => continue,
                };
            }
            let Some(running) = process.as_mut() else {
                return Outcome::InitFailed {
                    error_type: "Runtime.Unknown".into(),
                    message: "no process".into(),
                };
            };
            if !running.ready && self.api.polls() > self.polls_at_start.load(Ordering::Relaxed) {
                running.ready = true;
            }
            if let Some(Report::InitError { error_type, body }) =
                self.api.take(|r| matches!(r, Report::InitError { .. }))
            {
                self.api.cancel(id);
                self.stop_process(process);
                let parsed: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                return Outcome::InitFailed {
                    error_type: parsed["errorType"]
                        .as_str()
                        .map(str::to_owned)
                        .or(error_type)
                        .unwrap_or_else(|| "Runtime.Unknown".to_owned()),
                    message: parsed["errorMessage"]
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or(body),
                };
            }
            if let Ok(Some(status)) = running.child.try_wait() {
                let taken = self.api.taken_at(id).is_some();
                *process = None;
                if !taken {
                    self.api.cancel(id);
                    return Outcome::InitFailed {
                        error_type: "Runtime.ExitError".into(),
                        message: format!("Runtime exited with error: {status}"),
                    };
                }
                return Outcome::Crashed {
                    request_id: id.to_owned(),
                    status: status.to_string(),
                };
            }
            match self.api.taken_at(id) {
                Some(taken) if taken.elapsed() > self.config.timeout => {
                    self.stop_process(process);
                    return Outcome::TimedOut {
                        request_id: id.to_owned(),
                        timeout: self.config.timeout,
                    };
                }
                None if !running.ready && running.started.elapsed() > INIT_LIMIT => {
                    self.api.cancel(id);
                    self.stop_process(process);
                    return Outcome::InitFailed {
                        error_type: "Runtime.InitTimeout".into(),
                        message: format!(
                            "the function did not finish its cold start within {} s",
                            INIT_LIMIT.as_secs()
                        ),
                    };
                }
                _ => {}
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn spawn(&self) -> Result<Running, String> {
        let open = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.config.log)
        };
        let (out, err) = match (open(), open()) {
            (Ok(out), Ok(err)) => (out, err),
            (Err(e), _) | (_, Err(e)) => {
                return Err(format!(
                    "cannot open the log {}: {e}",
                    self.config.log.display()
                ));
            }
        };
        let dir = self
            .config
            .binary
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default();
        self.polls_at_start
            .store(self.api.polls(), Ordering::Relaxed);
        let child = Command::new(&self.config.binary)
            .env_clear()
            .envs(&self.config.environment)
            .env("AWS_LAMBDA_RUNTIME_API", self.api.address())
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.config.binary.display()))?;
        self.stats.cold_starts.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            function = self.config.logical_id,
            memory_mb = self.config.memory_mb,
            timeout_seconds = self.config.timeout.as_secs_f64(),
            "INIT_START (cold start)"
        );
        Ok(Running {
            child,
            started: Instant::now(),
            ready: false,
        })
    }

    fn stop_process(&self, process: &mut Option<Running>) {
        if let Some(mut running) = process.take() {
            let _ = running.child.kill();
            let _ = running.child.wait();
        }
    }

    /// Waits for the running invocation to end (draining), then stops the process.
    pub async fn shutdown(&self) {
        let mut process = self.process.lock().await;
        self.stop_process(&mut process);
    }
}

impl Drop for FunctionHost {
    fn drop(&mut self) {
        if let Some(mut running) = self.process.get_mut().take() {
            let _ = running.child.kill();
            let _ = running.child.wait();
        }
    }
}

/// What invokes a function: [`FunctionHost`], or a stand-in in tests of the triggers.
pub trait Invoke: Send + Sync {
    /// Invokes with `event` (JSON text) and returns how it ended.
    fn invoke(&self, event: String) -> impl Future<Output = Outcome> + Send;
    /// The function's ARN.
    fn arn(&self) -> &str;
}

impl Invoke for FunctionHost {
    fn invoke(&self, event: String) -> impl Future<Output = Outcome> + Send {
        FunctionHost::invoke(self, event)
    }

    fn arn(&self) -> &str {
        &self.config.arn
    }
}
