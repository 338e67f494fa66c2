//! The real `vpn-connect` binary under a fake Lambda Runtime API (`testkit::RuntimeApi`): a missing
//! or bad allow-list is an init error naming the variable; allowed and denied requests are answered
//! in the documented response schema; a payload that is not JSON at all is still denied, not failed;
//! every denial is one JSON log line with `decision = "deny"` and its reason (what the stack's metric
//! filter counts).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{Value, json};
use testkit::{LambdaProcess, Report, RuntimeApi};

const BINARY: &str = env!("CARGO_BIN_EXE_vpn-connect");
const WAIT: Duration = Duration::from_secs(60);

#[test]
fn a_bad_allow_list_is_an_init_error_naming_it() {
    for env in [vec![], vec![("ALLOWED_CLIENT_CIDRS", "203.0.113.7/24")]] {
        let api = RuntimeApi::start();
        let mut lambda = LambdaProcess::spawn(BINARY, &api, &env);
        let (error_type, body) = api.wait_init_error(WAIT);
        assert_eq!(error_type.as_deref(), Some("Function.ConfigError"));
        let body: Value = serde_json::from_str(&body).unwrap();
        let message = body["errorMessage"].as_str().unwrap();
        assert!(message.contains("ALLOWED_CLIENT_CIDRS"), "{message}");
        let status = lambda.wait_exit(Duration::from_secs(10));
        assert!(status.is_some_and(|s| !s.success()), "{}", lambda.log());
        assert_eq!(api.polls(), 0);
    }
}

fn answer(api: &RuntimeApi, lambda: &LambdaProcess, event: String) -> Value {
    let id = api.invoke(event);
    match api.wait_result(&id, WAIT) {
        Report::Response { body, .. } => serde_json::from_str(&body).unwrap(),
        other => panic!("{other:?}\n{}", lambda.log()),
    }
}

#[test]
fn requests_are_answered_and_denials_logged_for_the_metric_filter() {
    let api = RuntimeApi::start();
    let lambda = LambdaProcess::spawn(
        BINARY,
        &api,
        &[("ALLOWED_CLIENT_CIDRS", "203.0.113.0/24,2001:db8::/32")],
    );
    let request = |ip: &str| {
        json!({
            "connection-id": "cvpn-connection-0a1b2c3d4e5f60718",
            "endpoint-id": "cvpn-endpoint-0a1b2c3d4e5f60718",
            "common-name": "operator",
            "username": "",
            "platform": "mac",
            "platform-version": "14.5",
            "public-ip": ip,
            "client-openvpn-version": "2.6.8",
            "schema-version": "v3"
        })
        .to_string()
    };
    assert_eq!(
        answer(&api, &lambda, request("203.0.113.44")),
        json!({"allow": true, "error-msg-on-denied-connection": "", "posture-compliance-statuses": [], "schema-version": "v3"})
    );
    assert_eq!(answer(&api, &lambda, request("2001:db8::9"))["allow"], true);
    let denied = answer(&api, &lambda, request("192.0.2.1"));
    assert_eq!(denied["allow"], false);
    assert!(
        denied["error-msg-on-denied-connection"]
            .as_str()
            .unwrap()
            .contains("192.0.2.1")
    );
    // Not JSON: the runtime cannot even decode it; Client VPN denies a failed invocation too.
    let id = api.invoke("{not json");
    assert!(
        matches!(api.wait_result(&id, WAIT), Report::Error { .. }),
        "{}",
        lambda.log()
    );
    assert_eq!(answer(&api, &lambda, "[1, 2]".to_owned())["allow"], false);

    let lines: Vec<Value> = lambda
        .log()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let denials: Vec<&Value> = lines.iter().filter(|l| l["decision"] == "deny").collect();
    let reasons: Vec<&str> = denials
        .iter()
        .map(|l| l["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["address-not-allowed", "malformed-request"]);
    assert_eq!(denials[0]["public_ip"], "192.0.2.1");
    assert_eq!(denials[0]["level"], "WARN");
    assert_eq!(lines.iter().filter(|l| l["decision"] == "allow").count(), 2);
}
