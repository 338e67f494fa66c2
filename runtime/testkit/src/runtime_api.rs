//! A fake Lambda Runtime API, so that a test can run a Lambda's real `bootstrap` binary the way
//! Lambda does: [`RuntimeApi::start`] listens on a free `127.0.0.1` port (plain HTTP/1.1, one
//! thread per connection, std only), the test points the binary's `AWS_LAMBDA_RUNTIME_API` at
//! [`RuntimeApi::address`] (or uses [`LambdaProcess::spawn`]), queues events with
//! [`RuntimeApi::invoke`], and waits (bounded) for what the function posted back.
//!
//! It serves the custom-runtime protocol (`2018-06-01`):
//! - `GET /runtime/invocation/next`: the oldest queued event, with the
//!   `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms` (now + 5 minutes),
//!   `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id` headers; it blocks while
//!   the queue is empty, like the real API between invocations.
//! - `POST /runtime/invocation/{id}/response`, `POST /runtime/invocation/{id}/error` and
//!   `POST /runtime/init/error`: recorded as [`Report`]s (with the
//!   `Lambda-Runtime-Function-Error-Type` header) and answered `202`.
//!
//! Anything else is answered `404` and recorded as [`Report::Unexpected`], so that a test sees it.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PREFIX: &str = "/2018-06-01/runtime";

/// The ARN every invocation names as the invoked function.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:testkit";

/// What the function posted to the Runtime API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// `POST /runtime/invocation/{id}/response`: the handler's result.
    Response {
        /// The invocation.
        request_id: String,
        /// The body (the handler's JSON result).
        body: String,
    },
    /// `POST /runtime/invocation/{id}/error`: the handler failed.
    Error {
        /// The invocation.
        request_id: String,
        /// The `Lambda-Runtime-Function-Error-Type` header.
        error_type: Option<String>,
        /// The body (`{"errorType", "errorMessage"}`).
        body: String,
    },
    /// `POST /runtime/init/error`: the cold start failed.
    InitError {
        /// The `Lambda-Runtime-Function-Error-Type` header.
        error_type: Option<String>,
        /// The body (`{"errorType", "errorMessage", "stackTrace"}`).
        body: String,
    },
    /// A request the protocol does not have (answered 404).
    Unexpected {
        /// Method and path, such as `POST /2018-06-01/runtime/oops`.
        request: String,
    },
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, String)>,
    reports: Vec<Report>,
    invocations: u64,
    polls: u64,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking connection thread cannot leave the state half-changed: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, report: Report) {
        self.lock().reports.push(report);
        self.changed.notify_all();
    }
}

/// The fake Runtime API server; stops listening on drop.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl RuntimeApi {
    /// Listens on a free `127.0.0.1` port and serves in background threads.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("cannot bind a loopback port for the Runtime API: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("no local address: {e}"));
        let shared = Arc::new(Shared::default());
        let accept_shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_shared.lock().closed {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let conn_shared = Arc::clone(&accept_shared);
                std::thread::spawn(move || serve(stream, &conn_shared));
            }
        });
        Self { addr, shared }
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`: `127.0.0.1:PORT` (no scheme, as Lambda sets it).
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an event (the JSON the function receives) and returns its request id.
    pub fn invoke(&self, event: impl Into<String>) -> String {
        let mut state = self.shared.lock();
        state.invocations += 1;
        let id = format!("testkit-request-{}", state.invocations);
        state.queue.push_back((id.clone(), event.into()));
        drop(state);
        self.shared.changed.notify_all();
        id
    }

    /// Everything posted so far, in arrival order.
    pub fn reports(&self) -> Vec<Report> {
        self.shared.lock().reports.clone()
    }

    /// How many times the function asked for its next event (1 once it has finished its cold
    /// start and waits for work).
    pub fn polls(&self) -> u64 {
        self.shared.lock().polls
    }

    /// The first report `pick` maps to `Some`, waiting up to `timeout` for it; `None` on timeout.
    pub fn wait_for<T>(&self, timeout: Duration, pick: impl Fn(&Report) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(found) = state.reports.iter().find_map(&pick) {
                return Some(found);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The response or error posted for `request_id` within `timeout`; panics (listing what did
    /// arrive) otherwise.
    pub fn wait_result(&self, request_id: &str, timeout: Duration) -> Report {
        self.wait_for(timeout, |r| match r {
            Report::Response { request_id: id, .. } | Report::Error { request_id: id, .. }
                if id == request_id =>
            {
                Some(r.clone())
            }
            _ => None,
        })
        .unwrap_or_else(|| {
            panic!(
                "no result for {request_id} within {timeout:?}; reports: {:?}",
                self.reports()
            )
        })
    }

    /// The init error's type header and parsed body, waiting up to `timeout`; panics (listing what
    /// did arrive) otherwise.
    pub fn wait_init_error(&self, timeout: Duration) -> (Option<String>, String) {
        self.wait_for(timeout, |r| match r {
            Report::InitError { error_type, body } => Some((error_type.clone(), body.clone())),
            _ => None,
        })
        .unwrap_or_else(|| {
            panic!(
                "no init error within {timeout:?}; reports: {:?}",
                self.reports()
            )
        })
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.changed.notify_all();
        // Wakes the accept loop so that it sees `closed` and returns (freeing the port).
        let _ = TcpStream::connect(self.addr);
    }
}

/// One parsed request.
struct Request {
    method: String,
    path: String,
    error_type: Option<String>,
    body: String,
}

/// Serves one keep-alive connection until the client closes it.
fn serve(stream: TcpStream, shared: &Shared) {
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut writer = write_half;
    while let Some(request) = read_request(&mut reader) {
        let answer = route(request, shared);
        let Some((status, headers, body)) = answer else {
            return;
        };
        let mut head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        if writer.write_all(head.as_bytes()).is_err()
            || writer.write_all(body.as_bytes()).is_err()
            || writer.flush().is_err()
        {
            return;
        }
    }
}

type Answer = (&'static str, Vec<(&'static str, String)>, String);

/// The answer to a request; `None` when the server is closing (the connection is dropped).
fn route(request: Request, shared: &Shared) -> Option<Answer> {
    let accepted = || Some(("202 Accepted", Vec::new(), r#"{"status":"OK"}"#.to_owned()));
    let Some(rest) = request.path.strip_prefix(PREFIX) else {
        return not_found(request, shared);
    };
    let invocation = rest.strip_prefix("/invocation/");
    match (request.method.as_str(), rest, invocation) {
        ("GET", "/invocation/next", _) => next_event(shared),
        ("POST", "/init/error", _) => {
            shared.record(Report::InitError {
                error_type: request.error_type,
                body: request.body,
            });
            accepted()
        }
        ("POST", _, Some(tail)) if tail.ends_with("/response") => {
            shared.record(Report::Response {
                request_id: tail.trim_end_matches("/response").to_owned(),
                body: request.body,
            });
            accepted()
        }
        ("POST", _, Some(tail)) if tail.ends_with("/error") => {
            shared.record(Report::Error {
                request_id: tail.trim_end_matches("/error").to_owned(),
                error_type: request.error_type,
                body: request.body,
            });
            accepted()
        }
        _ => not_found(request, shared),
    }
}

fn not_found(request: Request, shared: &Shared) -> Option<Answer> {
    shared.record(Report::Unexpected {
        request: format!("{} {}", request.method, request.path),
    });
    Some((
        "404 Not Found",
        Vec::new(),
        r#"{"errorMessage":"unknown path"}"#.to_owned(),
    ))
}

/// Blocks until an event is queued (or the server closes), then hands it out.
fn next_event(shared: &Shared) -> Option<Answer> {
    let mut state = shared.lock();
    state.polls += 1;
    shared.changed.notify_all();
    loop {
        if state.closed {
            return None;
        }
        if let Some((id, event)) = state.queue.pop_front() {
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default();
            let headers = vec![
                ("Lambda-Runtime-Aws-Request-Id", id.clone()),
                ("Lambda-Runtime-Deadline-Ms", (now_ms + 300_000).to_string()),
                (
                    "Lambda-Runtime-Invoked-Function-Arn",
                    FUNCTION_ARN.to_owned(),
                ),
                (
                    "Lambda-Runtime-Trace-Id",
                    format!("Root=1-00000000-{id:0>24.24};Parent=0000000000000000;Sampled=0"),
                ),
            ];
            return Some(("200 OK", headers, event));
        }
        state = shared
            .changed
            .wait_timeout(state, Duration::from_millis(200))
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// Reads one HTTP/1.1 request (`Content-Length` or chunked body); `None` at the end of the
/// connection or on a malformed request.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let (mut length, mut chunked, mut error_type) = (0usize, false, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse().ok()?,
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "lambda-runtime-function-error-type" => error_type = Some(value.to_owned()),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some(Request {
        method,
        path,
        error_type,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .new_agent()
    }

    #[test]
    fn serves_queued_events_and_records_what_comes_back() {
        let api = RuntimeApi::start();
        let base = format!("http://{}{PREFIX}", api.address());
        let id = api.invoke(r#"{"Records":[]}"#);
        let agent = agent();

        let mut next = agent
            .get(format!("{base}/invocation/next"))
            .call()
            .expect("next");
        assert_eq!(next.status(), 200);
        let header = |name: &str| {
            next.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(header("Lambda-Runtime-Aws-Request-Id"), Some(id.clone()));
        assert_eq!(
            header("Lambda-Runtime-Invoked-Function-Arn").as_deref(),
            Some(FUNCTION_ARN)
        );
        assert!(header("Lambda-Runtime-Trace-Id").is_some_and(|t| t.starts_with("Root=1-")));
        let deadline: u128 = header("Lambda-Runtime-Deadline-Ms")
            .and_then(|d| d.parse().ok())
            .expect("a deadline in ms");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        assert!(deadline > now, "{deadline} <= {now}");
        assert_eq!(
            next.body_mut().read_to_string().expect("body"),
            r#"{"Records":[]}"#
        );
        assert_eq!(api.polls(), 1);

        let posted = agent
            .post(format!("{base}/invocation/{id}/response"))
            .send("{\"ok\":true}")
            .expect("response");
        assert_eq!(posted.status(), 202);
        assert_eq!(
            api.wait_result(&id, Duration::from_secs(5)),
            Report::Response {
                request_id: id.clone(),
                body: "{\"ok\":true}".to_owned()
            }
        );

        agent
            .post(format!("{base}/init/error"))
            .header("Lambda-Runtime-Function-Error-Type", "Function.ConfigError")
            .send("{}")
            .expect("init error");
        assert_eq!(
            api.wait_init_error(Duration::from_secs(5)),
            (Some("Function.ConfigError".to_owned()), "{}".to_owned())
        );

        let unknown = agent.get(format!("{base}/nope")).call().expect("404");
        assert_eq!(unknown.status(), 404);
        assert!(api.reports().contains(&Report::Unexpected {
            request: "GET /2018-06-01/runtime/nope".to_owned()
        }));
    }

    #[test]
    fn waiting_for_a_report_that_never_comes_ends_at_the_timeout() {
        let api = RuntimeApi::start();
        assert_eq!(
            api.wait_for(Duration::from_millis(50), |r| Some(r.clone())),
            None
        );
    }
}
