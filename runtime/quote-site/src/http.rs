//! A small HTTP/1.1 server on std threads: one thread per connection, keep-alive, request bodies
//! read by `Content-Length` (and ignored by the site), no chunked requests, no TLS. Enough for
//! the scraper's HTTP client and for `curl`; it listens on loopback only.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Longest request line or header line accepted.
const MAX_LINE: u64 = 8 * 1024;
/// Most headers accepted in one request.
const MAX_HEADERS: usize = 100;
/// Largest request body read (and discarded).
const MAX_BODY: u64 = 1 << 20;
/// An idle keep-alive connection is closed after this long.
const IDLE: Duration = Duration::from_secs(60);

/// A request as the site needs it.
#[derive(Debug)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query's `key=value` pairs, in order (no percent-decoding: the site's values are plain).
    pub query: Vec<(String, String)>,
}

impl Request {
    /// The first value of `key` in the query.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// Body.
    pub body: String,
}

impl Response {
    /// A response with a body of `content_type`.
    pub fn new(status: u16, content_type: &'static str, body: impl Into<String>) -> Self {
        Self {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A plain-text response (errors say what was wrong and how to ask instead).
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self::new(status, "text/plain; charset=utf-8", body)
    }
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

struct Shared {
    stopping: AtomicBool,
    open: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
}

/// A listening server; [`Server::stop`] (or drop) closes the listener and every open connection.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `handler` on `listener` in background threads.
    pub fn start(
        listener: TcpListener,
        handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            stopping: AtomicBool::new(false),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        });
        let handler: Arc<Handler> = Arc::new(handler);
        let accept_shared = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("quote-site-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if accept_shared.stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let id = accept_shared.next_id.fetch_add(1, Ordering::Relaxed);
                    if let Ok(clone) = stream.try_clone() {
                        lock(&accept_shared.open).insert(id, clone);
                    }
                    let (shared, handler) = (Arc::clone(&accept_shared), Arc::clone(&handler));
                    let spawned = std::thread::Builder::new()
                        .name("quote-site-conn".into())
                        .spawn(move || {
                            serve(stream, &*handler);
                            lock(&shared.open).remove(&id);
                        });
                    if spawned.is_err() {
                        // Out of threads: this connection is dropped, the next may fare better.
                        lock(&accept_shared.open).remove(&id);
                    }
                }
            })?;
        Ok(Self {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes every open connection and waits for the accept thread.
    pub fn stop(&mut self) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the accept loop, which then sees `stopping`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for (_, stream) in lock(&self.shared.open).drain() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking connection thread cannot leave the map half-changed: keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Answers requests on one connection until it closes, asks to close, or idles.
fn serve(stream: TcpStream, handler: &Handler) {
    let _ = stream.set_read_timeout(Some(IDLE));
    let _ = stream.set_nodelay(true);
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut writer = write_half;
    loop {
        let (response, keep_alive) = match read_request(&mut reader) {
            Ok(Some((request, keep_alive))) => (handler(&request), keep_alive),
            Ok(None) => return,
            Err(problem) => (Response::text(400, format!("{problem}\n")), false),
        };
        if write_response(&mut writer, &response, keep_alive).is_err() || !keep_alive {
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// The next request and whether the connection stays open after it; `None` at a clean end.
fn read_request(
    reader: &mut BufReader<TcpStream>,
) -> Result<Option<(Request, bool)>, &'static str> {
    let Some(line) = read_line(reader)? else {
        return Ok(None);
    };
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err("bad request line: expected `METHOD /path HTTP/1.1`");
    };
    let mut keep_alive = version == "HTTP/1.1";
    let mut body_len = 0u64;
    for _ in 0..=MAX_HEADERS {
        let Some(header) = read_line(reader)? else {
            return Ok(None);
        };
        if header.is_empty() {
            let mut body = reader.by_ref().take(body_len.min(MAX_BODY));
            std::io::copy(&mut body, &mut std::io::sink()).map_err(|_| "cannot read the body")?;
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let query = query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (k.to_owned(), v.to_owned())
                })
                .collect();
            let request = Request {
                method: method.to_owned(),
                path: path.to_owned(),
                query,
            };
            return Ok(Some((request, keep_alive)));
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err("bad header line: expected `Name: value`");
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            body_len = value.parse().map_err(|_| "bad Content-Length")?;
            if body_len > MAX_BODY {
                return Err("request body too large (the site reads no body)");
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("chunked request bodies are not supported (the site reads no body)");
        } else if name.eq_ignore_ascii_case("connection") {
            keep_alive = !value.eq_ignore_ascii_case("close")
                && (keep_alive || value.eq_ignore_ascii_case("keep-alive"));
        }
    }
    Err("too many headers")
}

/// One CRLF- or LF-terminated line without its terminator; `None` at end of stream or idle timeout.
fn read_line(reader: &mut BufReader<TcpStream>) -> Result<Option<String>, &'static str> {
    let mut buf = Vec::new();
    match reader.by_ref().take(MAX_LINE).read_until(b'\n', &mut buf) {
        Ok(0) | Err(_) => return Ok(None),
        Ok(_) => {}
    }
    if buf.last() != Some(&b'\n') {
        return Err("line too long");
    }
    let text = String::from_utf8(buf).map_err(|_| "a request line or header is not UTF-8")?;
    Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()))
}

fn write_response(
    out: &mut TcpStream,
    response: &Response,
    keep_alive: bool,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: {}\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len(),
        if keep_alive { "keep-alive" } else { "close" },
    );
    for (name, value) in &response.headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(response.body.as_bytes())?;
    out.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "",
    }
}
