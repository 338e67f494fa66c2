//! A moto server for one test: started on a free loopback port, reset on request, killed on drop.
//!
//! `MST_MOTO_SERVER` names the `moto_server` executable (`.ci/run` exports it); without it the
//! virtualenv `.ci/setup-tools` makes is tried. A missing moto fails the test with what to run: an
//! end-to-end test that silently skips proves nothing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    port: u16,
}

fn server_path() -> PathBuf {
    if let Ok(path) = std::env::var("MST_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let tools = std::env::var("MST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/mystocktracker")
        });
    tools.join("venv/bin/moto_server")
}

impl Moto {
    /// Starts moto and waits until it answers.
    pub fn start() -> Moto {
        let server = server_path();
        assert!(
            server.exists(),
            "moto is not installed: {} does not exist. Run `bash .ci/setup-tools` (it installs moto[server] into its virtualenv) or set MST_MOTO_SERVER to moto_server's path.",
            server.display()
        );
        // A free port: bind port 0, read the port, release it for moto.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while moto.request("GET", "/moto-api/").is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not answer on port {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// Clears every service's state.
    pub fn reset(&self) {
        let answer = self.request("POST", "/moto-api/reset").expect("moto reset");
        assert!(
            answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
            "{answer}"
        );
    }

    fn request(&self, method: &str, path: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        if answer.is_empty() {
            return Err(std::io::Error::other("empty answer"));
        }
        Ok(answer)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
