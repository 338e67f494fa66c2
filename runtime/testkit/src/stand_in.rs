//! A scripted HTTP/1.1 endpoint on a free 127.0.0.1 port, for clients of an API the emulator does
//! not have (moto has no Client VPN) or for answers it never gives (a throttled or broken AWS).
//! Every request is recorded whole, and each is answered by the test's closure, so a test asserts
//! both what the client sent (signed for which service, with which parameters) and what it made
//! of the answer. Each answer closes its connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// `POST`, `GET`, ...
    pub method: String,
    /// The path and query.
    pub target: String,
    /// The headers in order, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body (read up to its `Content-Length`).
    pub body: String,
}

/// What the stand-in answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status line's code and reason, such as `200 OK`.
    pub status: String,
    /// The body's content type.
    pub content_type: String,
    /// The body.
    pub body: String,
}

/// The running endpoint; it stops with the test process.
#[derive(Debug)]
pub struct StandIn {
    endpoint: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Recorded {
    /// The value of the header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The decoded value of `name` in a form-encoded body (`a=1&b=x%20y`).
    pub fn form_value(&self, name: &str) -> Option<String> {
        self.body.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key) == name).then(|| decode(value))
        })
    }
}

impl Answer {
    /// A `200 OK` XML answer.
    pub fn xml(body: impl Into<String>) -> Answer {
        Answer::xml_with_status("200 OK", body)
    }

    /// An XML answer with `status` (such as `400 Bad Request`).
    pub fn xml_with_status(status: &str, body: impl Into<String>) -> Answer {
        Answer {
            status: status.to_owned(),
            content_type: "text/xml;charset=UTF-8".to_owned(),
            body: body.into(),
        }
    }
}

impl StandIn {
    /// Listens on a free loopback port and answers each request with `answer`.
    pub fn start(answer: impl Fn(&Recorded) -> Answer + Send + 'static) -> StandIn {
        let listener =
            TcpListener::bind("127.0.0.1:0").expect("cannot bind a loopback port for a stand-in");
        let endpoint = format!(
            "http://{}",
            listener
                .local_addr()
                .expect("a bound listener has an address")
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let Some(request) = read_request(&stream) else {
                    continue;
                };
                let reply = answer(&request);
                recorded
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(request);
                let _ = write_answer(stream, &reply);
            }
        });
        StandIn { endpoint, requests }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The requests answered so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

fn read_request(stream: &TcpStream) -> Option<Recorded> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0usize);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Recorded {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn write_answer(mut stream: TcpStream, answer: &Answer) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        answer.status,
        answer.content_type,
        answer.body.len(),
        answer.body
    )?;
    stream.flush()
}

/// Form decoding: `+` is a space, `%XX` a byte.
fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
    use super::*;

    #[test]
    fn requests_are_recorded_and_answered_by_the_closure() {
        let stand_in = StandIn::start(|request| {
            Answer::xml(format!(
                "<Echo>{}</Echo>",
                request.form_value("Name").unwrap()
            ))
        });
        let agent = crate::agent();
        let mut response = agent
            .post(format!("{}/path?q=1", stand_in.endpoint()))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send("Action=Do&Name=a%20b%2Bc+d")
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.body_mut().read_to_string().unwrap(),
            "<Echo>a b+c d</Echo>"
        );
        let requests = stand_in.requests();
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert_eq!(request.method, "POST");
        assert_eq!(request.target, "/path?q=1");
        assert_eq!(
            request.header("CONTENT-TYPE"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(request.form_value("Action").as_deref(), Some("Do"));
        assert_eq!(request.form_value("Missing"), None);
    }
}
