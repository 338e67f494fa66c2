//! The Lambda Runtime API for tests: the server is `lambda-host`'s (the one `deployer run` hosts
//! the pipeline's functions with), wrapped so that a test gets a panic naming what did arrive
//! instead of an `Option`. [`RuntimeApi::start`] listens on a free `127.0.0.1` port, the test points
//! the binary's `AWS_LAMBDA_RUNTIME_API` at [`lambda_host::RuntimeApi::address`] (or uses
//! [`LambdaProcess::spawn`]), queues events with [`lambda_host::RuntimeApi::invoke`] (deadline
//! [`lambda_host::DEFAULT_TIMEOUT`] after the function takes it), and waits (bounded) for what the
//! function posted back.

use std::ops::Deref;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub use lambda_host::Report;

/// The ARN every invocation names as the invoked function.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:testkit";

/// [`lambda_host::RuntimeApi`] with panicking waits; dereferences to it.
pub struct RuntimeApi(lambda_host::RuntimeApi);

impl Deref for RuntimeApi {
    type Target = lambda_host::RuntimeApi;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl RuntimeApi {
    /// Listens on a free `127.0.0.1` port; invocations name [`FUNCTION_ARN`].
    pub fn start() -> Self {
        Self(
            lambda_host::RuntimeApi::bind(FUNCTION_ARN)
                .unwrap_or_else(|e| panic!("cannot bind a loopback port for the Runtime API: {e}")),
        )
    }

    /// The response or error posted for `request_id` within `timeout`; panics (listing what did
    /// arrive) otherwise.
    pub fn wait_result(&self, request_id: &str, timeout: Duration) -> Report {
        self.0.result(request_id, timeout).unwrap_or_else(|| {
            panic!(
                "no result for {request_id} within {timeout:?}; reports: {:?}",
                self.reports()
            )
        })
    }

    /// The init error's type header and parsed body, waiting up to `timeout`; panics (listing what
    /// did arrive) otherwise.
    pub fn wait_init_error(&self, timeout: Duration) -> (Option<String>, String) {
        self.0.init_error(timeout).unwrap_or_else(|| {
            panic!(
                "no init error within {timeout:?}; reports: {:?}",
                self.reports()
            )
        })
    }
}

/// A Lambda binary running against a [`RuntimeApi`], its output in a log file; killed on drop.
pub struct LambdaProcess {
    child: Option<Child>,
    log: PathBuf,
}

impl LambdaProcess {
    /// Runs `binary` (`env!("CARGO_BIN_EXE_<name>")`) with `AWS_LAMBDA_RUNTIME_API` pointing at
    /// `api`, the variables Lambda itself sets (function name, memory, version), dummy AWS
    /// credentials, no instance metadata, and `env` on top. Nothing else of the test's environment
    /// reaches it, so a variable a test leaves out is really unset.
    pub fn spawn(binary: &str, api: &RuntimeApi, env: &[(&str, &str)]) -> Self {
        let dir = crate::fresh_dir("lambda");
        let log = dir.join("lambda.log");
        let out = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot clone a file handle: {e}"));
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", "testkit")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(env.iter().copied())
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {binary}: {e}"));
        Self {
            child: Some(child),
            log,
        }
    }

    /// The process id while it runs (for reading `/proc/<id>/status`).
    pub fn id(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// What the function wrote to stdout and stderr so far (its JSON log lines).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The exit status, waiting up to `timeout`; `None` while it still runs.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for LambdaProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(dir) = self.log.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
