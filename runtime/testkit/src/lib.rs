//! Real servers for tests, each started on a free `127.0.0.1` port with its state in a fresh
//! temporary directory, and killed (and its directory removed) on drop.
//!
//! - [`Influx1`]: InfluxDB 1.x (`influxd`, Debian package `influxdb`; `INFLUXD` overrides the binary).
//! - [`VictoriaMetrics`]: VictoriaMetrics single node (Debian package `victoria-metrics`;
//!   `VICTORIA_METRICS` overrides the binary).
//! - [`Moto`]: the moto AWS emulator (`moto_server`, PyPI `moto[server]`; `MST_MOTO_SERVER` overrides
//!   the binary, else the `.ci/setup-tools` virtualenv's is used).
//! - [`tools_python`]: that virtualenv's Python, for independent readers such as DuckDB.
//! - [`QuoteSite`]: the bundled local quote site (`runtime/quote-site`), in this process on its own
//!   threads: deterministic quote pages (HTML and JSON), injected 429/500s, what it served, jumps.
//! - [`s3`] (feature `aws`): S3 event notifications shaped like real ones, and objects read back.
//! - [`iam`] (feature `aws`): a component's role as deployed (`policies/local/<Role>.json`),
//!   assumed in a moto started with [`Moto::start_with_iam`], which enforces IAM.
//! - [`runtime_api`]: the Lambda Runtime API of `lambda-host` ([`RuntimeApi`]) and a Lambda binary run against
//!   it ([`LambdaProcess`]), to test a function's real `bootstrap`: cold start, init errors,
//!   responses.
//! - [`stand_in`]: a scripted HTTP endpoint recording what a client sent, for an API the emulator
//!   lacks (EC2's Client VPN) or an answer it never gives (throttling, a broken response).
//!
//! A missing binary is a test failure with the command that installs it, never a skip: a test that
//! silently does not run proves nothing. Everything here panics on failure, which is what a test
//! helper should do; it is a dev-dependency only.

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[cfg(feature = "iam")]
pub mod iam;
#[cfg(feature = "mocks")]
pub mod mocks;
pub mod runtime_api;
#[cfg(feature = "aws")]
pub mod s3;
pub mod stand_in;

/// The quote site's crate, for [`QuoteSite::start_with`]'s settings and [`QuoteSite::served`]'s report.
pub use quote_site;
pub use runtime_api::{FUNCTION_ARN, LambdaProcess, Report, RuntimeApi};

/// How long a server may take to answer after it was spawned (moto imports a lot of Python, and
/// the machine may be busy compiling).
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// A port that was free a moment ago. Servers are told to listen on it; if another process takes it
/// in between, the server exits at once and [`Server::spawn`] tries another port.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot bind a loopback port to find a free one")
}

/// A new, empty directory under the system temporary directory.
fn fresh_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!(
        "testkit-{name}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// A blocking HTTP agent for loopback requests: every status is a response, not an error, and every
/// request has a deadline.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent()
}

/// Reads a response body as text, panicking with the request in the message.
fn body_text(what: &str, resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> String {
    let mut resp = resp.unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = resp.status();
    // ureq's default limit is 10 MB; an export of a benchmark's samples is larger.
    let text = resp
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_string()
        .unwrap_or_else(|e| panic!("{what}: cannot read the body: {e}"));
    assert!(status.is_success(), "{what}: HTTP {status}: {text}");
    text
}

/// One server process: how to start it, where it keeps its state and where it listens.
struct Server {
    name: &'static str,
    program: OsString,
    install_hint: &'static str,
    /// Builds the arguments for a port and state directory (and may write config files there).
    args: fn(&Path, u16) -> Vec<OsString>,
    /// A path that answers once the server is ready.
    ready_path: &'static str,
    /// Environment variables set for the process, on top of the test's.
    envs: Vec<(&'static str, String)>,
    dir: PathBuf,
    port: u16,
    url: String,
    child: Option<Child>,
}

impl Server {
    fn new(
        name: &'static str,
        program: OsString,
        install_hint: &'static str,
        args: fn(&Path, u16) -> Vec<OsString>,
        ready_path: &'static str,
        envs: Vec<(&'static str, String)>,
    ) -> Self {
        let mut server = Self {
            name,
            program,
            install_hint,
            args,
            ready_path,
            envs,
            dir: fresh_dir(name),
            port: 0,
            url: String::new(),
            child: None,
        };
        // A port taken between `free_port` and the server's bind makes it exit: try a few ports.
        for attempt in 1..=3 {
            server.port = free_port();
            server.url = format!("http://127.0.0.1:{}", server.port);
            match server.spawn() {
                Ok(()) => return server,
                Err(log) if attempt == 3 => panic!(
                    "{name} exited before answering ({} attempts); its log:\n{log}",
                    attempt
                ),
                Err(_) => {}
            }
        }
        unreachable!("the loop returns or panics")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.name))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Starts the process on `self.port` and waits until it answers. `Err(log)` when it exited
    /// first (typically: the port was taken); panics when it never answers or cannot be run.
    fn spawn(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", self.log_path().display()));
        let log_err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot clone a file handle: {e}"));
        let child = Command::new(&self.program)
            .args((self.args)(&self.dir, self.port))
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) => panic!(
                "cannot run `{}` ({e}): these tests need {}. {}",
                self.program.to_string_lossy(),
                self.name,
                self.install_hint
            ),
        };
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        let agent = agent();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(format!("({status})\n{}", self.log()));
            }
            let probe = agent
                .get(format!("{}{}", self.url, self.ready_path))
                .config()
                .timeout_global(Some(Duration::from_secs(2)))
                .build()
                .call();
            if probe.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill();
                panic!(
                    "{} did not answer {}{} within {READY_TIMEOUT:?}; its log:\n{}",
                    self.name,
                    self.url,
                    self.ready_path,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn restart(&mut self) {
        self.kill();
        // The same port: clients configured with the old URL must find the server again.
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Err(log) = self.spawn() {
            assert!(
                Instant::now() < deadline,
                "{} did not restart on port {}; its log:\n{log}",
                self.name,
                self.port
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn program(env_var: &str, default: &str) -> OsString {
    std::env::var_os(env_var).unwrap_or_else(|| default.into())
}

/// The virtualenv `.ci/setup-tools` makes (`$MST_TOOLS/venv`, default `~/.cache/mystocktracker/venv`):
/// moto, the judges and DuckDB.
fn tools_venv() -> PathBuf {
    let tools = std::env::var_os("MST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/mystocktracker")
        });
    tools.join("venv")
}

/// `$MST_MOTO_SERVER`, else the tools virtualenv's `moto_server` if it exists, else `moto_server` on
/// `PATH`.
fn moto_program() -> OsString {
    if let Some(path) = std::env::var_os("MST_MOTO_SERVER") {
        return path;
    }
    let venv = tools_venv().join("bin/moto_server");
    if venv.exists() {
        venv.into_os_string()
    } else {
        "moto_server".into()
    }
}

/// The Python of the tools virtualenv (`$MST_PYTHON` overrides it), which has `duckdb`; panics with
/// the command to run when it is missing.
pub fn tools_python() -> PathBuf {
    let python = std::env::var_os("MST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| tools_venv().join("bin/python"));
    assert!(
        python.exists(),
        "{} does not exist: run `bash .ci/setup-tools` (it makes the tools virtualenv) or set MST_PYTHON",
        python.display()
    );
    python
}

/// InfluxDB 1.x (`influxd`) with authentication off, reporting and monitoring off.
pub struct Influx1 {
    server: Server,
}

impl Influx1 {
    /// Starts `influxd` (or `$INFLUXD`) and waits until `/ping` answers.
    pub fn start() -> Self {
        let server = Server::new(
            "influxd",
            program("INFLUXD", "influxd"),
            "Install InfluxDB 1.x with `apt-get install -y influxdb`, or set INFLUXD to the binary.",
            |dir, http| {
                let rpc = free_port();
                let d = dir.display();
                let config = format!(
                    "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\
                     [meta]\n  dir = \"{d}/meta\"\n\
                     [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
                     [monitor]\n  store-enabled = false\n\
                     [http]\n  enabled = true\n  bind-address = \"127.0.0.1:{http}\"\n  auth-enabled = false\n  log-enabled = false\n\
                     [ifql]\n  enabled = false\n[continuous_queries]\n  enabled = false\n"
                );
                let path = dir.join("influxdb.conf");
                std::fs::write(&path, config)
                    .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
                vec!["-config".into(), path.into()]
            },
            "/ping",
            Vec::new(),
        );
        Self { server }
    }

    /// Base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// Runs an InfluxQL query (`POST /query`, `epoch=ns`) and returns the JSON answer as text.
    pub fn query(&self, db: &str, q: &str) -> String {
        body_text(
            &format!("influxd query {q:?}"),
            agent()
                .post(format!("{}/query", self.server.url))
                .query("db", db)
                .query("epoch", "ns")
                .query("q", q)
                .send_empty(),
        )
    }

    /// `CREATE DATABASE name`.
    pub fn create_database(&self, name: &str) {
        self.query("", &format!("CREATE DATABASE \"{name}\""));
    }

    /// Writes line protocol (`POST /write?db=..&precision=ns`), expecting 204.
    pub fn write(&self, db: &str, body: &str) {
        body_text(
            "influxd write",
            agent()
                .post(format!("{}/write", self.server.url))
                .query("db", db)
                .query("precision", "ns")
                .send(body),
        );
    }

    /// Kills the server, keeping its data and port: requests fail with "connection refused" until
    /// [`Influx1::restart`].
    pub fn stop(&mut self) {
        self.server.kill();
    }

    /// Starts the server again on the same port and data, and waits until it answers.
    pub fn restart(&mut self) {
        self.server.restart();
    }
}

/// VictoriaMetrics single node, retention 100 years (test data has fixed dates).
///
/// It answers writes before the data are searchable: [`VictoriaMetrics::export`] calls
/// `/internal/force_flush` first.
pub struct VictoriaMetrics {
    server: Server,
}

impl VictoriaMetrics {
    /// Starts `victoria-metrics` (or `$VICTORIA_METRICS`) and waits until `/health` answers.
    pub fn start() -> Self {
        let server = Server::new(
            "victoria-metrics",
            program("VICTORIA_METRICS", "victoria-metrics"),
            "Install it with `apt-get install -y victoria-metrics`, or set VICTORIA_METRICS to the binary.",
            |dir, port| {
                vec![
                    format!("-storageDataPath={}", dir.join("data").display()).into(),
                    format!("-httpListenAddr=127.0.0.1:{port}").into(),
                    "-retentionPeriod=100y".into(),
                    "-loggerLevel=ERROR".into(),
                ]
            },
            "/health",
            Vec::new(),
        );
        Self { server }
    }

    /// Base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// Makes everything written so far searchable (`GET /internal/force_flush`).
    pub fn force_flush(&self) {
        body_text(
            "victoria-metrics force_flush",
            agent()
                .get(format!("{}/internal/force_flush", self.server.url))
                .call(),
        );
    }

    /// Flushes, then returns the raw samples of the series matching `selector` (such as
    /// `{__name__=~"quote_.*"}`) as JSON lines (`/api/v1/export`): one object per series with
    /// `metric` (labels), `values` and `timestamps` (milliseconds).
    pub fn export(&self, selector: &str) -> String {
        self.force_flush();
        body_text(
            "victoria-metrics export",
            agent()
                .get(format!("{}/api/v1/export", self.server.url))
                .query("match[]", selector)
                .call(),
        )
    }
}

/// The moto AWS emulator (`moto_server -H 127.0.0.1 -p PORT`).
///
/// [`Moto::start`] accepts any credentials and judges no permission. [`Moto::start_with_iam`]
/// turns moto's IAM authorization on: every request must be signed by credentials moto knows (an
/// IAM user's access key, or an assumed role's) and is checked against that identity's policies
/// (see [`iam`] for what moto judges and what it does not).
pub struct Moto {
    server: Server,
    /// The access key requests are signed with by [`Moto::sdk_config`].
    admin: AccessKey,
}

/// An access key id and its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// `AKIA…` for a user's key (anything for a server without IAM).
    pub id: String,
    /// The secret access key.
    pub secret: String,
}

/// The account moto puts every resource in (its default; no request names another here).
pub const MOTO_ACCOUNT: &str = "123456789012";

/// The IAM user [`Moto::start_with_iam`] makes for the tests' own set-up and read-back.
pub const ADMIN_USER: &str = "testkit-admin";

/// The requests [`Moto::start_with_iam`] makes before moto starts checking: `CreateUser`,
/// `PutUserPolicy`, `CreateAccessKey`. moto counts every request its authorization sees, from the
/// first, and judges those after the first `INITIAL_NO_AUTH_ACTION_COUNT`.
const ADMIN_SETUP_REQUESTS: usize = 3;

impl Moto {
    /// Starts `$MST_MOTO_SERVER` (default: the tools virtualenv's, else `moto_server` on `PATH`)
    /// and waits until it answers. No authorization: any credentials are accepted. The server
    /// loads `python/sitecustomize.py`, whose fixes change no verdict and which emulates
    /// CloudFormation's resource import (an `IMPORT` change set into a new stack), which moto
    /// 5.2.5 lacks (see that file).
    pub fn start() -> Self {
        Self {
            server: Self::spawn(Vec::new()),
            admin: AccessKey {
                id: "testing".into(),
                secret: "testing".into(),
            },
        }
    }

    /// Starts moto with IAM authorization on (`INITIAL_NO_AUTH_ACTION_COUNT`): its first requests
    /// make the IAM user [`ADMIN_USER`] with an `Allow * on *` policy and an access key, and every
    /// later request must be signed by a key moto knows and is allowed only if that identity's
    /// policies allow it. [`Moto::sdk_config`] signs with the admin's key (the tests' set-up and
    /// read-back); [`Moto::assume_role`] (feature `aws`) gives a component its role's credentials.
    ///
    /// Like every server [`Moto`] starts, it loads `python/sitecustomize.py`, fixes to moto 5.2.5
    /// that change no verdict; two matter here:
    /// it checks the signature of a form the Rust SDK sent as the SDK encoded it (a space is
    /// `%20`; moto re-encodes it as `+` and refuses the signature), and it answers AccessDenied in
    /// the shape of the request's protocol (JSON for Kinesis and Secrets Manager, AWS's query
    /// shape for SNS), so the SDK reads the code and message as it would from AWS.
    ///
    /// Do not [`Moto::reset`] such a server: the reset removes the admin user, and moto only lets
    /// the first requests through unsigned.
    pub fn start_with_iam() -> Self {
        let server = Self::spawn(vec![(
            "INITIAL_NO_AUTH_ACTION_COUNT",
            ADMIN_SETUP_REQUESTS.to_string(),
        )]);
        let iam = |params: &[(&str, &str)]| -> String {
            let mut request = agent()
                .post(&server.url)
                // moto routes a request by its signature's credential scope; these few are not
                // checked, so the signature itself can be anything.
                .header(
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=testkit/20260101/us-east-1/iam/aws4_request, \
                     SignedHeaders=host, Signature=0",
                );
            request = request.header("Content-Type", "application/x-www-form-urlencoded");
            let mut form: Vec<(&str, &str)> = vec![("Version", "2010-05-08")];
            form.extend_from_slice(params);
            body_text(
                &format!("moto IAM {}", params[0].1),
                request.send_form(form),
            )
        };
        iam(&[("Action", "CreateUser"), ("UserName", ADMIN_USER)]);
        iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", ADMIN_USER),
            ("PolicyName", "admin"),
            (
                "PolicyDocument",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            ),
        ]);
        let key = iam(&[("Action", "CreateAccessKey"), ("UserName", ADMIN_USER)]);
        let element = |name: &str| -> String {
            let open = format!("<{name}>");
            let close = format!("</{name}>");
            key.split_once(&open)
                .and_then(|(_, rest)| rest.split_once(&close))
                .map(|(value, _)| value.to_owned())
                .unwrap_or_else(|| panic!("moto CreateAccessKey: no {name} in {key}"))
        };
        let admin = AccessKey {
            id: element("AccessKeyId"),
            secret: element("SecretAccessKey"),
        };
        Self { server, admin }
    }

    fn spawn(mut envs: Vec<(&'static str, String)>) -> Server {
        // `python/sitecustomize.py`, moto's fixes (listed at the top of that file; docs/local.md,
        // "moto's fixes"). `.ci/local-up` loads it too.
        envs.push((
            "PYTHONPATH",
            concat!(env!("CARGO_MANIFEST_DIR"), "/python").to_owned(),
        ));
        Server::new(
            "moto",
            moto_program(),
            "Run `bash .ci/setup-tools` (it installs moto[server] into its virtualenv) or set \
             MST_MOTO_SERVER to moto_server's path.",
            |_, port| {
                vec![
                    "-H".into(),
                    "127.0.0.1".into(),
                    "-p".into(),
                    port.to_string().into(),
                ]
            },
            "/moto-api/",
            envs,
        )
    }

    /// The access key [`Moto::sdk_config`] signs with: the admin's on a server with IAM, dummy
    /// values otherwise.
    pub fn admin_key(&self) -> &AccessKey {
        &self.admin
    }

    /// The endpoint URL for AWS SDK clients, `http://127.0.0.1:PORT` (S3 needs path-style addressing).
    pub fn endpoint(&self) -> &str {
        &self.server.url
    }

    /// The loopback port it listens on (for a proxy in front of it, say).
    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// Everything moto's models hold, as JSON text (`GET /moto-api/data.json`): per service and
    /// model, the instances with their attributes (SNS topics list their `sent_notifications`).
    pub fn data_json(&self) -> String {
        body_text(
            "moto data.json",
            agent()
                .get(format!("{}/moto-api/data.json", self.server.url))
                .call(),
        )
    }

    /// An AWS SDK configuration for this server (feature `aws`): its endpoint, `region`, the
    /// [`Moto::admin_key`] (on a server with IAM, allowed everything), and the Lambdas' HTTP client. Build S3 clients from it with
    /// `lambda_support::s3_client`, which turns path-style addressing on for an endpoint override.
    #[cfg(feature = "aws")]
    pub async fn sdk_config(&self, region: &'static str) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region))
            .credentials_provider(aws_credential_types::Credentials::new(
                &self.admin.id,
                &self.admin.secret,
                None,
                None,
                "testkit",
            ))
            .endpoint_url(self.endpoint())
            .http_client(lambda_support::aws_http_client())
            .load()
            .await
    }

    /// Clears every service's state (`POST /moto-api/reset`). Panics on a server started with
    /// [`Moto::start_with_iam`], whose admin user the reset would remove.
    pub fn reset(&self) {
        assert!(
            self.admin.id == "testing",
            "moto reset: this server checks IAM and the reset would remove its admin user; start a new one"
        );
        body_text(
            "moto reset",
            agent()
                .post(format!("{}/moto-api/reset", self.server.url))
                .send_empty(),
        );
    }
}

/// The bundled local quote site (`runtime/quote-site`) on a free `127.0.0.1` port, served by this
/// process's threads and stopped on drop. Point a scraper source at [`QuoteSite::html_url`] or
/// [`QuoteSite::json_url`]; [`QuoteSite::served`] says exactly what it served.
pub struct QuoteSite {
    site: quote_site::QuoteSite,
}

impl QuoteSite {
    /// Starts the site with its defaults (seed 42, 1 s ticks, 2% of requests 429 and 1% 500).
    pub fn start() -> Self {
        Self::start_with(quote_site::SiteConfig::default())
    }

    /// Starts the site with `config` (such as `SiteConfig::without_errors()`).
    pub fn start_with(config: quote_site::SiteConfig) -> Self {
        let site = quote_site::QuoteSite::start(config, 0)
            .unwrap_or_else(|e| panic!("cannot start the quote site: {e}"));
        Self { site }
    }

    /// Base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.site.url()
    }

    /// The HTML page's URL template, `http://127.0.0.1:PORT/quote/{symbol}` (a source's `url`).
    pub fn html_url(&self) -> String {
        format!("{}/quote/{{symbol}}", self.site.url())
    }

    /// The JSON document's URL template, `http://127.0.0.1:PORT/api/quote/{symbol}`.
    pub fn json_url(&self) -> String {
        format!("{}/api/quote/{{symbol}}", self.site.url())
    }

    /// Counts per symbol and every quote served so far (what `GET /served` answers).
    pub fn served(&self) -> quote_site::ServedReport {
        self.site.served()
    }

    /// Makes the next quote of `symbol` move `pct` percent from the last one served (what
    /// `POST /jump?symbol=..&pct=..` does).
    pub fn jump(&self, symbol: &str, pct: f64) {
        let symbol = quote_record::Symbol::parse(symbol)
            .unwrap_or_else(|e| panic!("`{symbol}` is not a ticker: {e}"));
        self.site.jump(&symbol, pct);
    }
}
