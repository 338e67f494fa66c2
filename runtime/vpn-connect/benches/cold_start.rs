//! The handler's cold start, printed (not asserted): the time from starting the binary to its first
//! request for work at the Runtime API (Lambda's init phase), and to the answer of the first
//! connection request, over several fresh processes. `bench.sh` passes the `artifact`-profile
//! `bootstrap` it zipped (`VPN_CONNECT_BOOTSTRAP`) and runs this harness from the workspace's test
//! build; without the variable the harness's own build of the binary runs.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use testkit::{LambdaProcess, Report, RuntimeApi};

const RUNS: usize = 15;
const WAIT: Duration = Duration::from_secs(30);

fn main() {
    let binary = std::env::var("VPN_CONNECT_BOOTSTRAP")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_vpn-connect").to_owned());
    let request = serde_json::json!({
        "connection-id": "cvpn-connection-0123456789abcdef0",
        "endpoint-id": "cvpn-endpoint-0123456789abcdef0",
        "common-name": "operator.example.com",
        "username": "",
        "platform": "linux",
        "platform-version": "6.1",
        "public-ip": "203.0.113.10",
        "client-openvpn-version": "2.6.8",
        "schema-version": "v3"
    })
    .to_string();
    let mut init = Vec::new();
    let mut first_answer = Vec::new();
    for _ in 0..RUNS {
        let api = RuntimeApi::start();
        let started = Instant::now();
        let lambda = LambdaProcess::spawn(
            &binary,
            &api,
            &[("ALLOWED_CLIENT_CIDRS", "203.0.113.0/24,2001:db8::/32")],
        );
        while api.polls() == 0 {
            assert!(started.elapsed() < WAIT, "no poll: {}", lambda.log());
            std::thread::sleep(Duration::from_micros(200));
        }
        init.push(started.elapsed());
        let id = api.invoke(request.clone());
        let report = api.wait_result(&id, WAIT);
        first_answer.push(started.elapsed());
        assert!(matches!(report, Report::Response { .. }), "{report:?}");
        drop(lambda);
    }
    let show = |name: &str, mut times: Vec<Duration>| {
        times.sort();
        println!(
            "vpn-connect {name}: median {:.1} ms, max {:.1} ms over {RUNS} cold starts",
            times[RUNS / 2].as_secs_f64() * 1e3,
            times[RUNS - 1].as_secs_f64() * 1e3
        );
    };
    println!("binary: {binary}");
    show("init (start to first poll)", init);
    show("start to first answer", first_answer);
}
