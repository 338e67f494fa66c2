//! The handler against requests in the shape AWS documents for Client VPN's client-connect handler
//! (connection authorization): allowed and denied IPv4 and IPv6 sources, malformed requests and
//! requests without an address, each answer checked field by field against the response schema.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use vpn_connect::{
    Config, DEFAULT_SCHEMA_VERSION, Denial, MAX_DENIED_MESSAGE_CHARS, decide, handle, parse,
};

fn config() -> Config {
    Config::from_lookup(|name| {
        (name == "ALLOWED_CLIENT_CIDRS")
            .then(|| "203.0.113.0/24,198.51.100.7/32,2001:db8:1000::/48".to_owned())
    })
    .unwrap()
}

/// A request as Client VPN sends it, from `public_ip`.
fn request(public_ip: &str) -> Value {
    json!({
        "connection-id": "cvpn-connection-04e7e1b2f0daf9460",
        "endpoint-id": "cvpn-endpoint-0f13eab7f860433cc",
        "common-name": "operator.mystocktracker.example.com",
        "username": "",
        "platform": "linux",
        "platform-version": "6.1.0",
        "public-ip": public_ip,
        "client-openvpn-version": "2.6.8",
        "schema-version": "v3"
    })
}

/// The answer as it goes back to Client VPN, checked against the documented response schema: exactly
/// the four fields, each with its type. Returns (allow, message).
fn answer(event: &Value) -> (bool, String) {
    let body = serde_json::to_value(handle(&config(), event)).unwrap();
    let object = body.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "allow",
            "error-msg-on-denied-connection",
            "posture-compliance-statuses",
            "schema-version"
        ]
    );
    let allow = object["allow"].as_bool().expect("allow is a boolean");
    let message = object["error-msg-on-denied-connection"]
        .as_str()
        .expect("the message is a string")
        .to_owned();
    assert!(
        message.chars().count() <= MAX_DENIED_MESSAGE_CHARS,
        "{message}"
    );
    assert_eq!(
        object["posture-compliance-statuses"],
        json!([]),
        "no posture statuses"
    );
    assert!(object["schema-version"].is_string());
    // An allowed connection carries no message; a denied one always says why.
    assert_eq!(allow, message.is_empty(), "{message}");
    (allow, message)
}

#[test]
fn addresses_inside_an_allowed_network_are_allowed() {
    for ip in [
        "203.0.113.0",
        "203.0.113.255",
        "198.51.100.7",
        "2001:db8:1000::1",
        "2001:db8:1000:ffff:ffff:ffff:ffff:ffff",
        // IPv4 written as IPv6 by a dual-stack front end is the IPv4 address.
        "::ffff:203.0.113.9",
        " 203.0.113.10 ",
    ] {
        assert_eq!(answer(&request(ip)), (true, String::new()), "{ip}");
    }
}

#[test]
fn addresses_outside_every_allowed_network_are_denied_naming_the_address() {
    for ip in [
        "203.0.114.1",
        "198.51.100.8",
        "10.0.0.1",
        "2001:db8:1001::1",
        "::1",
        "::ffff:198.51.100.9",
    ] {
        let (allow, message) = answer(&request(ip));
        assert!(!allow, "{ip}");
        let shown = ip.parse::<std::net::IpAddr>().unwrap().to_string();
        assert!(message.contains(&shown), "{ip}: {message}");
        assert!(
            message.contains("not an allowed source address"),
            "{message}"
        );
    }
    let decision = decide(&config(), parse(&request("192.0.2.1")).as_ref());
    assert_eq!(decision.denial, Some(Denial::NotAllowed));
}

#[test]
fn malformed_requests_are_denied_with_a_message() {
    let mut numbers = request("203.0.113.10");
    numbers["public-ip"] = json!(3405803786u32);
    let mut nested = request("203.0.113.10");
    nested["common-name"] = json!({"cn": "x"});
    for event in [
        json!(null),
        json!("203.0.113.10"),
        json!(["203.0.113.10"]),
        json!(42),
        numbers,
        nested,
    ] {
        let (allow, message) = answer(&event);
        assert!(!allow, "{event}");
        assert!(message.contains("cannot read"), "{message}");
        assert_eq!(
            decide(&config(), parse(&event).as_ref()).denial,
            Some(Denial::Malformed)
        );
    }
}

#[test]
fn a_request_without_an_address_is_denied() {
    let mut missing = request("");
    missing.as_object_mut().unwrap().remove("public-ip");
    let mut null = request("");
    null["public-ip"] = Value::Null;
    for event in [missing, null, request(""), request("   ")] {
        let (allow, message) = answer(&event);
        assert!(!allow, "{event}");
        assert!(
            message.contains("public IP address was not given"),
            "{message}"
        );
        assert_eq!(
            decide(&config(), parse(&event).as_ref()).denial,
            Some(Denial::MissingAddress)
        );
    }
    let (allow, message) = answer(&request("203.0.113.300"));
    assert!(!allow);
    assert!(
        message.contains("`203.0.113.300` is not an IP address"),
        "{message}"
    );
}

#[test]
fn the_schema_version_follows_the_request() {
    let body = |event: &Value| serde_json::to_value(handle(&config(), event)).unwrap();
    let mut v1 = request("203.0.113.10");
    v1["schema-version"] = json!("v1");
    assert_eq!(body(&v1)["schema-version"], "v1");
    assert_eq!(body(&request("203.0.113.10"))["schema-version"], "v3");
    let mut unknown = request("203.0.113.10");
    unknown["schema-version"] = json!("v99");
    assert_eq!(body(&unknown)["schema-version"], DEFAULT_SCHEMA_VERSION);
    assert_eq!(body(&json!(null))["schema-version"], DEFAULT_SCHEMA_VERSION);
}

#[test]
fn a_long_address_is_cut_to_the_message_limit() {
    let long = "x".repeat(400);
    let (allow, message) = answer(&request(&long));
    assert!(!allow);
    assert_eq!(message.chars().count(), MAX_DENIED_MESSAGE_CHARS);
}

#[test]
fn awss_own_example_request_parses() {
    // The request of the aws_lambda_events fixture (AWS's example): schema v1, fields empty.
    let event = json!({
        "connection-id": "cvpn-connection-04e7e1b2f0daf9460",
        "endpoint-id": "cvpn-endpoint-0f13eab7f860433cc",
        "common-name": "",
        "username": "username",
        "platform": "",
        "platform-version": "",
        "public-ip": "10.11.12.13",
        "client-openvpn-version": "",
        "schema-version": "v1"
    });
    let parsed = parse(&event).unwrap();
    assert_eq!(parsed.public_ip.as_deref(), Some("10.11.12.13"));
    let (allow, message) = answer(&event);
    assert!(!allow);
    assert!(message.contains("10.11.12.13"));
}
