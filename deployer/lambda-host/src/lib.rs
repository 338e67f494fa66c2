//! A Lambda Runtime API server, so that a function's real `bootstrap` runs on this machine the way
//! Lambda runs it: [`RuntimeApi::bind`] listens on a free `127.0.0.1` port (plain HTTP/1.1, one
//! thread per connection, std only), the process gets `AWS_LAMBDA_RUNTIME_API` =
//! [`RuntimeApi::address`], events are queued with [`RuntimeApi::invoke_with_timeout`], and what
//! the function posts back is read with [`RuntimeApi::take`] or [`RuntimeApi::wait_for`].
//!
//! It serves the custom-runtime protocol (`2018-06-01`):
//! - `GET /runtime/invocation/next`: the oldest queued event, with the
//!   `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms` (the moment the event is handed
//!   out plus its timeout), `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`
//!   headers; it blocks while the queue is empty, like the real API between invocations.
//! - `POST /runtime/invocation/{id}/response`, `POST /runtime/invocation/{id}/error` and
//!   `POST /runtime/init/error`: recorded as [`Report`]s (with the
//!   `Lambda-Runtime-Function-Error-Type` header) and answered `202`.
//!
//! Anything else is answered `404` and recorded as [`Report::Unexpected`].
//!
//! The server only serves: enforcing the timeout (killing the process) is the caller's job, which
//! [`RuntimeApi::taken_at`] makes possible. `deployer run` (crate `local-run`) hosts the pipeline's
//! functions with it; `testkit` wraps it for the Lambdas' tests.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The path prefix of every route.
pub const PREFIX: &str = "/2018-06-01/runtime";

/// The deadline an event queued with [`RuntimeApi::invoke`] gets: Lambda's largest timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(900);

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

impl Report {
    /// The invocation a response or error answers.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Report::Response { request_id, .. } | Report::Error { request_id, .. } => {
                Some(request_id)
            }
            _ => None,
        }
    }
}

/// An event waiting for the function.
struct Queued {
    id: String,
    event: String,
    timeout: Duration,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Queued>,
    reports: Vec<Report>,
    /// When each invocation was handed out (removed by [`RuntimeApi::forget`]).
    taken: HashMap<String, Instant>,
    invocations: u64,
    polls: u64,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    function_arn: String,
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

/// The Runtime API server of one function; stops listening on drop.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl RuntimeApi {
    /// Listens on a free `127.0.0.1` port and serves in background threads; every invocation names
    /// `function_arn` as the invoked function.
    pub fn bind(function_arn: impl Into<String>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            function_arn: function_arn.into(),
        });
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
        Ok(Self { addr, shared })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`: `127.0.0.1:PORT` (no scheme, as Lambda sets it).
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// The ARN invocations name as the invoked function.
    pub fn function_arn(&self) -> &str {
        &self.shared.function_arn
    }

    /// Queues an event with [`DEFAULT_TIMEOUT`] and returns its request id.
    pub fn invoke(&self, event: impl Into<String>) -> String {
        self.invoke_with_timeout(event, DEFAULT_TIMEOUT)
    }

    /// Queues an event (the JSON the function receives) whose deadline is `timeout` after the
    /// function takes it, and returns its request id (UUID-shaped, unique in this process).
    pub fn invoke_with_timeout(&self, event: impl Into<String>, timeout: Duration) -> String {
        let id = request_id();
        let mut state = self.shared.lock();
        state.invocations += 1;
        state.queue.push_back(Queued {
            id: id.clone(),
            event: event.into(),
            timeout,
        });
        drop(state);
        self.shared.changed.notify_all();
        id
    }

    /// Removes a queued event the function has not taken yet; false when it was taken (or unknown).
    pub fn cancel(&self, request_id: &str) -> bool {
        let mut state = self.shared.lock();
        let before = state.queue.len();
        state.queue.retain(|q| q.id != request_id);
        before != state.queue.len()
    }

    /// When the function took `request_id` from `GET /runtime/invocation/next`; `None` while it is
    /// queued. Its deadline is this moment plus the timeout it was queued with.
    pub fn taken_at(&self, request_id: &str) -> Option<Instant> {
        self.shared.lock().taken.get(request_id).copied()
    }

    /// Drops what is kept about `request_id` (when it was taken): the caller is done with it.
    pub fn forget(&self, request_id: &str) {
        self.shared.lock().taken.remove(request_id);
    }

    /// Everything posted so far and not taken by [`RuntimeApi::take`], in arrival order.
    pub fn reports(&self) -> Vec<Report> {
        self.shared.lock().reports.clone()
    }

    /// Removes and returns the first report `pick` accepts, if any (a long-running host takes what
    /// it has read, so reports do not pile up).
    pub fn take(&self, pick: impl Fn(&Report) -> bool) -> Option<Report> {
        let mut state = self.shared.lock();
        let index = state.reports.iter().position(pick)?;
        Some(state.reports.remove(index))
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

    /// The response or error posted for `request_id`, waiting up to `timeout`.
    pub fn result(&self, request_id: &str, timeout: Duration) -> Option<Report> {
        self.wait_for(timeout, |r| {
            (r.request_id() == Some(request_id)).then(|| r.clone())
        })
    }

    /// The first init error's type header and body, waiting up to `timeout`.
    pub fn init_error(&self, timeout: Duration) -> Option<(Option<String>, String)> {
        self.wait_for(timeout, |r| match r {
            Report::InitError { error_type, body } => Some((error_type.clone(), body.clone())),
            _ => None,
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

/// A UUID-shaped request id (version 4 layout), unique in this process: a counter and the clock.
fn request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let pid = u64::from(std::process::id());
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (nanos >> 16) as u32,
        (nanos & 0xffff) as u16,
        pid & 0xfff,
        (n >> 48) & 0xfff,
        n & 0xffff_ffff_ffff
    )
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
        if let Some(Queued { id, event, timeout }) = state.queue.pop_front() {
            state.taken.insert(id.clone(), Instant::now());
            drop(state);
            shared.changed.notify_all();
            let deadline_ms = SystemTime::now()
                .checked_add(timeout)
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_millis())
                .unwrap_or_default();
            let headers = vec![
                ("Lambda-Runtime-Aws-Request-Id", id.clone()),
                ("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string()),
                (
                    "Lambda-Runtime-Invoked-Function-Arn",
                    shared.function_arn.clone(),
                ),
                (
                    "Lambda-Runtime-Trace-Id",
                    format!(
                        "Root=1-{}-{:0>24.24};Parent=0000000000000000;Sampled=0",
                        &id[..8],
                        id.replace('-', "")
                    ),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use super::*;

    const ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:test";

    /// A minimal blocking HTTP/1.1 exchange: method, path, extra headers and body; returns the
    /// status code, the headers (lower-case names) and the body.
    fn call(
        address: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, HashMap<String, String>, String) {
        let mut stream = TcpStream::connect(address).unwrap();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes()).unwrap();
        let mut reader = BufReader::new(stream);
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        let code = status.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut found = HashMap::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            let name = name.to_ascii_lowercase();
            if name == "content-length" {
                length = value.trim().parse().unwrap();
            }
            found.insert(name, value.trim().to_owned());
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        (code, found, String::from_utf8(body).unwrap())
    }

    fn now_ms() -> u128 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis()
    }

    #[test]
    fn serves_queued_events_with_their_deadline_and_records_what_comes_back() {
        let api = RuntimeApi::bind(ARN).unwrap();
        let address = api.address();
        let id = api.invoke_with_timeout(r#"{"Records":[]}"#, Duration::from_secs(3));
        assert_eq!(api.taken_at(&id), None);
        let before = now_ms();

        let (code, headers, body) = call(
            &address,
            "GET",
            &format!("{PREFIX}/invocation/next"),
            &[],
            "",
        );
        assert_eq!(code, 200);
        assert_eq!(body, r#"{"Records":[]}"#);
        assert_eq!(headers["lambda-runtime-aws-request-id"], id);
        assert_eq!(headers["lambda-runtime-invoked-function-arn"], ARN);
        assert!(headers["lambda-runtime-trace-id"].starts_with("Root=1-"));
        let deadline: u128 = headers["lambda-runtime-deadline-ms"].parse().unwrap();
        // The deadline is the moment of hand-out plus the event's own timeout.
        assert!(
            (before + 3_000..=now_ms() + 3_000).contains(&deadline),
            "{deadline} vs {before}"
        );
        assert!(api.taken_at(&id).is_some());
        assert_eq!(api.polls(), 1);

        let (code, _, _) = call(
            &address,
            "POST",
            &format!("{PREFIX}/invocation/{id}/response"),
            &[],
            "{\"ok\":true}",
        );
        assert_eq!(code, 202);
        assert_eq!(
            api.result(&id, Duration::from_secs(5)),
            Some(Report::Response {
                request_id: id.clone(),
                body: "{\"ok\":true}".to_owned()
            })
        );

        call(
            &address,
            "POST",
            &format!("{PREFIX}/init/error"),
            &[("Lambda-Runtime-Function-Error-Type", "Function.ConfigError")],
            "{}",
        );
        assert_eq!(
            api.init_error(Duration::from_secs(5)),
            Some((Some("Function.ConfigError".to_owned()), "{}".to_owned()))
        );

        let (code, _, _) = call(&address, "GET", &format!("{PREFIX}/nope"), &[], "");
        assert_eq!(code, 404);
        assert!(api.reports().contains(&Report::Unexpected {
            request: "GET /2018-06-01/runtime/nope".to_owned()
        }));

        // Taking a report removes it; the others stay.
        let taken = api.take(|r| r.request_id() == Some(id.as_str()));
        assert!(matches!(taken, Some(Report::Response { .. })));
        assert_eq!(api.take(|r| r.request_id() == Some(id.as_str())), None);
        assert_eq!(api.reports().len(), 2);
    }

    #[test]
    fn a_cancelled_event_is_never_handed_out() {
        let api = RuntimeApi::bind(ARN).unwrap();
        let first = api.invoke("1");
        let second = api.invoke("2");
        assert!(api.cancel(&first));
        let (_, headers, body) = call(
            &api.address(),
            "GET",
            &format!("{PREFIX}/invocation/next"),
            &[],
            "",
        );
        assert_eq!(body, "2");
        assert_eq!(headers["lambda-runtime-aws-request-id"], second);
        assert!(!api.cancel(&second), "already taken");
        assert_ne!(first, second);
    }

    #[test]
    fn waiting_for_a_report_that_never_comes_ends_at_the_timeout() {
        let api = RuntimeApi::bind(ARN).unwrap();
        assert_eq!(
            api.wait_for(Duration::from_millis(50), |r| Some(r.clone())),
            None
        );
    }
}
