//! The Client VPN client-connect handler: Client VPN calls it (synchronously, after the client's
//! certificate is authenticated) for every new connection, and it answers allow or deny from the
//! client's public address alone: allowed when the address lies in one of the environment's
//! `network.vpn.allowed_client_cidrs` (the function's [`Config`]), denied otherwise.
//!
//! It fails closed: a request that is not the documented JSON object, or that carries no usable
//! `public-ip`, is denied with a message the client shows, never an error (an error also denies,
//! but says nothing and is not counted). Every denial is logged as one JSON line with
//! `decision = "deny"` and its `reason`; the stack's metric filter counts them and an alarm fires
//! on a burst. See docs/vpn-connect.md.

use std::net::IpAddr;

use aws_lambda_events::event::clientvpn::ClientVpnConnectionHandlerRequest;
use ipnet::IpNet;
use serde::Serialize;

pub use lambda_contract::vpn_connect::Config;

/// The most characters Client VPN shows of `error-msg-on-denied-connection`.
pub const MAX_DENIED_MESSAGE_CHARS: usize = 255;

/// The schema version of the answer when the request names none this handler knows.
pub const DEFAULT_SCHEMA_VERSION: &str = "v3";

/// Request schema versions the answer echoes (the answer's fields are the same in each).
const KNOWN_SCHEMA_VERSIONS: [&str; 3] = ["v1", "v2", "v3"];

/// The answer to Client VPN, in its documented response schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Response {
    /// Whether the connection may proceed.
    pub allow: bool,
    /// What the client shows when the connection is denied (empty when allowed); at most
    /// [`MAX_DENIED_MESSAGE_CHARS`] characters.
    #[serde(rename = "error-msg-on-denied-connection")]
    pub error_msg_on_denied_connection: String,
    /// Posture compliance statuses: none (this handler judges the source address only).
    #[serde(rename = "posture-compliance-statuses")]
    pub posture_compliance_statuses: Vec<String>,
    /// The response schema version.
    #[serde(rename = "schema-version")]
    pub schema_version: String,
}

/// Why a connection was denied: the `reason` field of the log line, and the metric's dimension
/// in the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The request is not the documented JSON object.
    Malformed,
    /// The request has no `public-ip`, or an empty one.
    MissingAddress,
    /// `public-ip` is not an IP address.
    BadAddress,
    /// The address is outside every allowed network.
    NotAllowed,
}

impl Denial {
    /// The reason as logged.
    pub fn as_str(self) -> &'static str {
        match self {
            Denial::Malformed => "malformed-request",
            Denial::MissingAddress => "missing-public-ip",
            Denial::BadAddress => "invalid-public-ip",
            Denial::NotAllowed => "address-not-allowed",
        }
    }
}

/// A decision and what the log line says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The answer to Client VPN.
    pub response: Response,
    /// Why it was denied; `None` when allowed.
    pub denial: Option<Denial>,
}

/// Decides on one connection request (`event`, the invocation's payload as it arrived) and logs the
/// decision. Never fails: every problem with the request is a denial.
pub fn handle(config: &Config, event: &serde_json::Value) -> Response {
    let request = parse(event);
    let decision = decide(config, request.as_ref());
    let field = |get: fn(&ClientVpnConnectionHandlerRequest) -> &Option<String>| {
        request
            .as_ref()
            .and_then(|r| get(r).clone())
            .unwrap_or_default()
    };
    let connection_id = field(|r| &r.connection_id);
    let endpoint_id = field(|r| &r.endpoint_id);
    let common_name = field(|r| &r.common_name);
    let public_ip = field(|r| &r.public_ip);
    match decision.denial {
        None => tracing::info!(
            decision = "allow",
            connection_id,
            endpoint_id,
            common_name,
            public_ip,
            "connection allowed"
        ),
        Some(denial) => tracing::warn!(
            decision = "deny",
            reason = denial.as_str(),
            connection_id,
            endpoint_id,
            common_name,
            public_ip,
            message = decision.response.error_msg_on_denied_connection,
            "connection denied"
        ),
    }
    decision.response
}

/// The request, if the payload is the documented object (every field a string or absent).
pub fn parse(event: &serde_json::Value) -> Option<ClientVpnConnectionHandlerRequest> {
    if !event.is_object() {
        return None;
    }
    serde_json::from_value(event.clone()).ok()
}

/// The decision on `request` (`None`: the payload was not a request).
pub fn decide(config: &Config, request: Option<&ClientVpnConnectionHandlerRequest>) -> Decision {
    let schema_version = request
        .and_then(|r| r.schema_version.as_deref())
        .filter(|v| KNOWN_SCHEMA_VERSIONS.contains(v))
        .unwrap_or(DEFAULT_SCHEMA_VERSION)
        .to_owned();
    let deny = |denial: Denial, message: String| Decision {
        response: Response {
            allow: false,
            error_msg_on_denied_connection: message
                .chars()
                .take(MAX_DENIED_MESSAGE_CHARS)
                .collect(),
            posture_compliance_statuses: Vec::new(),
            schema_version: schema_version.clone(),
        },
        denial: Some(denial),
    };
    let Some(request) = request else {
        return deny(
            Denial::Malformed,
            "Connection refused: the VPN service sent a request this handler cannot read.".into(),
        );
    };
    let Some(text) = request
        .public_ip
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return deny(
            Denial::MissingAddress,
            "Connection refused: your public IP address was not given, so it cannot be checked."
                .into(),
        );
    };
    let Ok(address) = text.parse::<IpAddr>() else {
        return deny(
            Denial::BadAddress,
            format!("Connection refused: `{text}` is not an IP address."),
        );
    };
    if !is_allowed(&config.allowed_client_cidrs, address) {
        return deny(
            Denial::NotAllowed,
            format!(
                "Connection refused: {address} is not an allowed source address for this VPN. Connect from an allowed network, or ask an administrator to add yours."
            ),
        );
    }
    Decision {
        response: Response {
            allow: true,
            error_msg_on_denied_connection: String::new(),
            posture_compliance_statuses: Vec::new(),
            schema_version,
        },
        denial: None,
    }
}

/// Whether `address` lies in one of `allowed`. An IPv4 address written as IPv6 (`::ffff:a.b.c.d`)
/// is judged as the IPv4 address it is.
pub fn is_allowed(allowed: &[IpNet], address: IpAddr) -> bool {
    let address = address.to_canonical();
    allowed.iter().any(|net| net.contains(&address))
}
