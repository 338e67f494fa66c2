//! A tiny HTTP/1.1 server on a free loopback port that answers every request with a status (and
//! body) chosen by the test, and records what it received (the `Authorization` header and the
//! lines of the gzip body). It stands in for InfluxDB where the test needs it to misbehave on cue.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request as the stub saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub target: String,
    pub authorization: Option<String>,
    pub lines: usize,
    /// The body's lines (decompressed).
    pub body: String,
    /// The status the stub answered.
    pub status: u16,
}

type Respond = dyn Fn(&Request, usize) -> (u16, String) + Send + Sync;

pub struct Stub {
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Stub {
    /// Answers the n-th request (from 0) with the status `respond(&request, n)` (and a JSON error
    /// body when it is 400 or more).
    pub fn start(respond: impl Fn(&Request, usize) -> u16 + Send + Sync + 'static) -> Self {
        Self::scripted(move |request, n| {
            let status = respond(request, n);
            let body = if status >= 400 {
                "{\"error\":\"stub says no\"}"
            } else {
                ""
            };
            (status, body.to_owned())
        })
    }

    /// Answers the n-th request (from 0) with the status and body `respond(&request, n)`.
    pub fn scripted(
        respond: impl Fn(&Request, usize) -> (u16, String) + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let respond: Arc<Respond> = Arc::new(respond);
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (seen, respond) = (seen.clone(), respond.clone());
                std::thread::spawn(move || serve(stream, &seen, &*respond));
            }
        });
        Self { url, requests }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<Request>>, respond: &Respond) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let target = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let (mut length, mut authorization, mut gzip) = (0usize, None, false);
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap();
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap(),
                "authorization" => authorization = Some(value.to_owned()),
                "content-encoding" => gzip = value == "gzip",
                _ => {}
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let text = if gzip {
            let mut text = String::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_string(&mut text)
                .unwrap();
            text
        } else {
            String::from_utf8(body).unwrap()
        };
        let mut request = Request {
            target,
            authorization,
            lines: text.lines().count(),
            body: text,
            status: 0,
        };
        let (status, body) = {
            // Numbered and recorded under one lock, so that n is the request's rank.
            let mut seen = seen.lock().unwrap();
            let (status, body) = respond(&request, seen.len());
            request.status = status;
            seen.push(request);
            (status, body)
        };
        let _ = write!(
            writer,
            "HTTP/1.1 {status} Stub\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
    }
}
