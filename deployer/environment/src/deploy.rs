//! The `deploy:` section: which account each region is in, the role to assume per account, and who
//! may assume the deploy roles (IAM principals, GitLab pipelines through OIDC).

use std::collections::BTreeMap;

use strict_yaml::Value;

use crate::checks::{REGIONS, is_account_id};
use crate::decode::{account, region_help};
use crate::model::{AccountId, Deploy, GitLab, Region};

/// Decodes `deploy:`. `regions` and `default_account` are the top-level values (`None` when they
/// were already reported as invalid; the checks against them are then skipped).
pub(crate) fn decode(
    v: &Value<'_>,
    regions: Option<&[Region]>,
    default_account: Option<&AccountId>,
) -> Option<Deploy> {
    let map = v.map()?;
    let accounts = match map.optional_value("accounts") {
        None => Some(BTreeMap::new()),
        Some(v) => accounts(&v, regions),
    };
    let roles = match (map.optional_value("roles"), &accounts) {
        (None, _) => Some(BTreeMap::new()),
        (Some(v), Some(accounts)) => roles(&v, accounts, default_account),
        (Some(v), None) => {
            let _ = v.entries();
            None
        }
    };
    let principals = match map.optional_value("principals") {
        None => Some(Vec::new()),
        Some(v) => principals(&v),
    };
    let gitlab = match map.optional_value("gitlab") {
        None => Some(None),
        Some(v) => gitlab(&v).map(Some),
    };
    map.finish();
    if let (Some(principals), Some(None)) = (&principals, &gitlab)
        && principals.is_empty()
    {
        let at = v.key_span().unwrap_or(v.span());
        v.decoder().error(
            at,
            "`deploy` names nobody who may assume the deploy roles",
            "list the CI runner's role under `deploy.principals` (such as `arn:aws:iam::111122223333:role/ci-runner`), or set `deploy.gitlab` for GitLab's OIDC ID tokens",
        );
        return None;
    }
    Some(Deploy {
        accounts: accounts?,
        roles: roles?,
        principals: principals?,
        gitlab: gitlab?,
    })
}

fn accounts(v: &Value<'_>, regions: Option<&[Region]>) -> Option<BTreeMap<Region, AccountId>> {
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (k, val) in v.entries()? {
        let region = k.str().and_then(|name| {
            if !REGIONS.contains(&name) {
                k.error(
                    format!("unknown AWS region `{name}` in `deploy.accounts`"),
                    region_help(name),
                );
                return None;
            }
            let region = Region(name.to_owned());
            if regions.is_some_and(|listed| !listed.contains(&region)) {
                k.error(
                    format!("`deploy.accounts` places `{name}`, which is not in `regions`"),
                    format!("remove the `{name}` entry, or add `{name}` to `regions`"),
                );
                return None;
            }
            Some(region)
        });
        match (region, account(&val)) {
            (Some(region), Some(account)) => {
                out.insert(region, account);
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// The account and name of an IAM role ARN, `arn:aws:iam::<account>:role/<path/name>`.
pub(crate) fn role_arn_parts(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let name = resource.strip_prefix("role/")?;
    let valid_name = !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c));
    (is_account_id(account) && valid_name).then_some((account, name))
}

fn roles(
    v: &Value<'_>,
    accounts: &BTreeMap<Region, AccountId>,
    default_account: Option<&AccountId>,
) -> Option<BTreeMap<AccountId, String>> {
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (k, val) in v.entries()? {
        let key = account(&k).filter(|id| {
            let known =
                default_account.is_none_or(|d| d == id) || accounts.values().any(|a| a == id);
            if !known {
                k.error(
                    format!(
                        "`deploy.roles` names account `{}`, which no region is deployed to",
                        id.as_str()
                    ),
                    "use `account` or an account of `deploy.accounts`, or remove the entry",
                );
            }
            known
        });
        let arn = val.string().and_then(|arn| match role_arn_parts(&arn) {
            Some((in_account, _)) => {
                if let Some(key) = &key
                    && key.as_str() != in_account
                {
                    val.error(
                        format!("the role `{arn}` is in account `{in_account}`, not `{}`", key.as_str()),
                        "name a role of the account it is listed under: the deployer assumes it to act in that account",
                    );
                    return None;
                }
                Some(arn)
            }
            None => {
                val.error(
                    format!("`{arn}` is not an IAM role ARN"),
                    "write `arn:aws:iam::<12-digit account>:role/<name>`",
                );
                None
            }
        });
        match (key, arn) {
            (Some(key), Some(arn)) => {
                out.insert(key, arn);
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// `arn:aws:iam::<account>:role/<name>` or `arn:aws:iam::<account>:user/<name>`, or an account root.
fn is_principal_arn(arn: &str) -> bool {
    if role_arn_parts(arn).is_some() {
        return true;
    }
    let Some(rest) = arn.strip_prefix("arn:aws:iam::") else {
        return false;
    };
    let Some((account, resource)) = rest.split_once(':') else {
        return false;
    };
    is_account_id(account)
        && (resource == "root"
            || resource.strip_prefix("user/").is_some_and(|name| {
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
            }))
}

fn principals(v: &Value<'_>) -> Option<Vec<String>> {
    let items = v.items()?;
    let all: Vec<Option<String>> = items
        .iter()
        .map(|item| {
            let text = item.string()?;
            if is_principal_arn(&text) {
                return Some(text);
            }
            item.error(
                format!("`{text}` is not an IAM role or user ARN"),
                "write `arn:aws:iam::<12-digit account>:role/<name>` (such as the CI runner's role), `...:user/<name>` or `...:root`",
            );
            None
        })
        .collect();
    all.into_iter().collect()
}

fn gitlab(v: &Value<'_>) -> Option<GitLab> {
    let map = v.map()?;
    let host = match map.optional_value("host") {
        None => Some("gitlab.com".to_owned()),
        Some(v) => v.string().filter(|host| {
            let ok = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
                && host.contains('.');
            if !ok {
                v.error(
                    format!("`{host}` is not a host name"),
                    "write the GitLab instance's host without `https://`, such as `gitlab.com` or `gitlab.example.com`",
                );
            }
            ok
        }),
    };
    let project = map.required_value("project").and_then(|v| {
        v.string().filter(|path| {
            let ok = path.split('/').count() >= 2
                && path.split('/').all(|part| {
                    !part.is_empty()
                        && part
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                });
            if !ok {
                v.error(
                    format!("`{path}` is not a GitLab project path"),
                    "write the project's full path, group and name, such as `data-platform/mystocktracker`",
                );
            }
            ok
        })
    });
    let branch = map.required_value("branch").and_then(|v| {
        v.string().filter(|branch| {
            // The branch ends up in the trust policy's `sub` condition, where `*` and `?` match.
            let ok = !branch.is_empty()
                && !branch.contains(['*', '?', ':', ' '])
                && !branch.starts_with('/');
            if !ok {
                v.error(
                    format!("`{branch}` is not a branch name the trust policy can match exactly"),
                    "write one protected branch, such as `main`, without `*`, `?`, `:` or spaces",
                );
            }
            ok
        })
    });
    map.finish();
    Some(GitLab {
        host: host?,
        project: project?,
        branch: branch?,
    })
}
