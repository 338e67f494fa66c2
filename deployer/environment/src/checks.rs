//! Value checks that need no context: names, addresses and formats. Each returns why a value is wrong.

/// Commercial AWS regions known to this version of the deployer (GovCloud and China are separate partitions
/// with their own ARNs, which the stacks do not handle).
pub(crate) const REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// Commercial regions where CloudFormation offers `AWS::Grafana::Workspace` (Amazon Managed Grafana),
/// from the resource provider schemas of cfn-lint 1.58.0 (schema date 2026-10-20).
pub(crate) const GRAFANA_WORKSPACE_REGIONS: &[&str] = &[
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "us-east-1",
    "us-east-2",
    "us-west-2",
];

/// The retention periods (days) CloudWatch Logs accepts.
pub(crate) const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// `^[a-z][a-z0-9-]{0,19}$`: environment names end up in stack, bucket and role names.
pub(crate) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 20
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Exactly 12 ASCII digits.
pub(crate) fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// A practical e-mail address check: what SNS and mail servers accept in practice, without the RFC 5322
/// corner cases (quoted local parts, IP literals) nobody uses for an on-call address.
pub(crate) fn email_problem(address: &str) -> Option<&'static str> {
    let Some((local, domain)) = address.split_once('@') else {
        return Some("it has no `@`");
    };
    if address.len() > 254 {
        return Some("it is longer than 254 characters");
    }
    if local.is_empty() || local.len() > 64 {
        return Some("the part before `@` must have 1 to 64 characters");
    }
    if !local
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
    {
        return Some("the part before `@` has a character mail servers do not accept");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Some("the part before `@` has a misplaced `.`");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Some("the domain has no `.` (such as `example.com`)");
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if !labels.iter().all(|l| label_ok(l)) {
        return Some("the domain is not a valid host name");
    }
    let tld = labels.last().copied().unwrap_or_default();
    if tld.len() < 2 || !tld.chars().all(|c| c.is_ascii_alphabetic()) {
        return Some("the domain's last part must be letters, such as `com`");
    }
    None
}

/// Why `arn` is not an ACM certificate ARN in `region`, if it is not.
pub(crate) fn certificate_arn_problem(arn: &str, region: &str) -> Option<String> {
    let shape = "an ACM certificate ARN looks like `arn:aws:acm:<region>:<12-digit account>:certificate/<id>`";
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_, partition, service, arn_region, account, resource] = parts[..] else {
        return Some(shape.into());
    };
    let id = resource.strip_prefix("certificate/").unwrap_or_default();
    if arn_ != "arn"
        || partition != "aws"
        || service != "acm"
        || !is_account_id(account)
        || id.is_empty()
        || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Some(shape.into());
    }
    if arn_region != region {
        return Some(format!(
            "the certificate is in region `{arn_region}`, but it is listed under `{region}`"
        ));
    }
    None
}

/// Why `cidr` is not a usable IPv4 network, and the corrected value where there is one.
pub(crate) fn parse_cidr(cidr: &str) -> Result<ipnet::Ipv4Net, (String, String)> {
    let net: ipnet::Ipv4Net = cidr.parse().map_err(|_| {
        (
            format!("`{cidr}` is not an IPv4 CIDR"),
            "write an address and a prefix length, such as `10.40.0.0/16`".to_owned(),
        )
    })?;
    if net.trunc() != net {
        return Err((
            format!("`{cidr}` has host bits set: it is not a network address"),
            format!("use the network address `{}`", net.trunc()),
        ));
    }
    Ok(net)
}

/// A CloudWatch `cron(...)` expression has six fields: minutes hours day-of-month month day-of-week year.
pub(crate) fn is_cron(expr: &str) -> bool {
    expr.strip_prefix("cron(")
        .and_then(|rest| rest.strip_suffix(')'))
        .is_some_and(|inner| inner.split_whitespace().count() == 6)
}

/// Characters AWS allows in tag keys and values: letters, digits, spaces and `_ . : / = + - @`.
pub(crate) fn is_tag_text(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["oncall@example.com", "a.b+alerts@mail.example.co.uk"] {
            assert_eq!(email_problem(ok), None, "{ok}");
        }
        for bad in [
            "oncall",
            "@example.com",
            "a@example",
            "a..b@example.com",
            "a@-x.com",
            "a b@x.com",
        ] {
            assert!(email_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn arns_and_names() {
        let arn =
            "arn:aws:acm:eu-west-1:123456789012:certificate/0b1c2d3e-0000-4000-8000-000000000001";
        assert_eq!(certificate_arn_problem(arn, "eu-west-1"), None);
        assert!(certificate_arn_problem(arn, "us-east-1").is_some());
        assert!(
            certificate_arn_problem("arn:aws:acm:eu-west-1:1234:certificate/x", "eu-west-1")
                .is_some()
        );
        assert!(
            is_env_name("prod")
                && is_env_name("dev-2")
                && !is_env_name("Prod")
                && !is_env_name("2x")
        );
        assert!(
            is_cron("cron(15 3 * * ? *)") && !is_cron("cron(15 3 * *)") && !is_cron("rate(1 day)")
        );
    }
}
