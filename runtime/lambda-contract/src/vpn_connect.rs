//! The vpn-connect Lambda's environment: the source addresses the Client VPN endpoint admits.
//!
//! Client VPN calls the function (its client-connect handler) for every new connection with the
//! client's public address; the function allows the connection only when that address lies in one
//! of [`Config::allowed_client_cidrs`]. The environment model checks `network.vpn.allowed_client_cidrs`
//! with [`parse_client_cidr`], so what `deployer synth` accepts is what the function accepts.

use ipnet::IpNet;

use crate::vars::{ConfigError, Vars};

/// The allowed source networks: IPv4 or IPv6 CIDRs separated by commas, such as
/// `203.0.113.0/24,2001:db8::/32`.
pub const ALLOWED_CLIENT_CIDRS: &str = "ALLOWED_CLIENT_CIDRS";

/// The prefix AWS requires of a client-connect handler's function name.
pub const FUNCTION_NAME_PREFIX: &str = "AWSClientVPN-";

/// The most networks the list may hold: the variable stays far below Lambda's 4 KB environment.
pub const MAX_CLIENT_CIDRS: usize = 64;

/// Everything the function reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The source networks a client may connect from (`ALLOWED_CLIENT_CIDRS`); never empty.
    pub allowed_client_cidrs: Vec<IpNet>,
}

/// One allowed source network, or why it is not one: an IPv4 or IPv6 CIDR whose host bits are
/// zero (`203.0.113.7/24` is refused: write `203.0.113.0/24`, or `203.0.113.7/32` for one address).
pub fn parse_client_cidr(text: &str) -> Result<IpNet, String> {
    let net: IpNet = text.trim().parse().map_err(|_| {
        format!("`{text}` is not a CIDR: write an address and a prefix length, such as `203.0.113.0/24` or `2001:db8::/48`")
    })?;
    if net.trunc() != net {
        return Err(format!(
            "`{text}` has host bits set: write the network `{}`, or `{}/{}` for that one address",
            net.trunc(),
            net.addr(),
            net.max_prefix_len()
        ));
    }
    Ok(net)
}

impl Config {
    /// The function's environment variables.
    pub fn into_variables<V>(self, literal: impl Fn(String) -> V) -> Vec<(&'static str, V)> {
        let list: Vec<String> = self
            .allowed_client_cidrs
            .iter()
            .map(ToString::to_string)
            .collect();
        vec![(ALLOWED_CLIENT_CIDRS, literal(list.join(",")))]
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (a variable name to its value), for tests.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(lookup);
        let value = vars.required(ALLOWED_CLIENT_CIDRS)?;
        let invalid = |reason| ConfigError::Invalid {
            name: ALLOWED_CLIENT_CIDRS,
            value: value.clone(),
            reason,
        };
        let allowed_client_cidrs = value
            .split(',')
            .map(|part| parse_client_cidr(part).map_err(|_| invalid("expected comma-separated CIDRs with no host bits set, such as 203.0.113.0/24,2001:db8::/48")))
            .collect::<Result<Vec<_>, _>>()?;
        if allowed_client_cidrs.len() > MAX_CLIENT_CIDRS {
            return Err(invalid("more than 64 networks: merge them into wider ones"));
        }
        Ok(Self {
            allowed_client_cidrs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use crate::vars::lookup_in as lookup;

    #[test]
    fn ipv4_and_ipv6_networks_read_back_as_written() {
        let written = Config {
            allowed_client_cidrs: vec![
                "203.0.113.0/24".parse().unwrap(),
                "198.51.100.7/32".parse().unwrap(),
                "2001:db8::/48".parse().unwrap(),
            ],
        };
        let vars: HashMap<&str, String> =
            written.clone().into_variables(|v| v).into_iter().collect();
        assert_eq!(
            vars[ALLOWED_CLIENT_CIDRS],
            "203.0.113.0/24,198.51.100.7/32,2001:db8::/48"
        );
        let read = Config::from_lookup(|name| vars.get(name).cloned()).unwrap();
        assert_eq!(read, written);
    }

    #[test]
    fn bad_lists_are_refused_naming_the_variable() {
        assert_eq!(
            Config::from_lookup(lookup(&[])),
            Err(ConfigError::Missing(ALLOWED_CLIENT_CIDRS))
        );
        for bad in [
            "203.0.113.7/24",
            "nonsense",
            "203.0.113.0/24,",
            "10.0.0.0/33",
        ] {
            let err = Config::from_lookup(lookup(&[(ALLOWED_CLIENT_CIDRS, bad)])).expect_err(bad);
            assert!(
                err.to_string().contains("ALLOWED_CLIENT_CIDRS"),
                "{bad}: {err}"
            );
        }
        let many = vec!["10.0.0.0/8"; MAX_CLIENT_CIDRS + 1].join(",");
        assert!(Config::from_lookup(lookup(&[(ALLOWED_CLIENT_CIDRS, &many)])).is_err());
    }

    #[test]
    fn host_bits_are_explained() {
        let why = parse_client_cidr("203.0.113.7/24").unwrap_err();
        assert!(why.contains("`203.0.113.0/24`"), "{why}");
        assert!(why.contains("`203.0.113.7/32`"), "{why}");
        let why = parse_client_cidr("2001:db8::1/64").unwrap_err();
        assert!(why.contains("`2001:db8::1/128`"), "{why}");
    }
}
