//! What a user must do after `up`, per region, computed from what was deployed: put the InfluxDB
//! token into its secret (unless it holds one), confirm the alert e-mail subscriptions (naming the
//! addresses that have not), where the scraper runs, and how to get the Grafana dashboards (in the
//! canary region).
//!
//! The resources are found by type in the synthesized pipeline template and by their physical ids in
//! the deployed stack, never by hand-copied names; nothing secret is read (whether the token is set
//! is the secret's version list, not its value).

use std::collections::BTreeMap;

use environment::Environment;
use serde_json::Value;

use crate::Error;
use crate::api_error;
use crate::aws::RegionClients;

/// The variable `deployer grafana --push` reads the service-account token from (the grafana crate's
/// `push::TOKEN_VAR`; the CLI's tests check they agree).
pub const GRAFANA_TOKEN_VAR: &str = "MST_GRAFANA_SERVICE_ACCOUNT_TOKEN";

/// Whether the InfluxDB token is in its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// The secret holds a value.
    Set {
        /// The secret's ARN.
        secret: String,
    },
    /// The secret exists with no value yet: the transform Lambda cannot write to InfluxDB.
    Missing {
        /// The secret's ARN.
        secret: String,
    },
    /// The stack reports no secret (an emulator whose CloudFormation skips secrets).
    NotCreated,
}

/// One alert address and whether it confirmed its subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The e-mail address, as the environment lists it.
    pub email: String,
    /// `Some(true)` confirmed, `Some(false)` pending, `None` not subscribed (not in the topic's list).
    pub confirmed: Option<bool>,
}

/// Why the alert addresses are not subscribed, when the stack made no subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionsMade {
    /// The stack has its subscriptions (their state is per address).
    Yes,
    /// The template's `AWS::SNS::Subscription` resources have no physical id: the emulator's
    /// CloudFormation skips them.
    SkippedByEmulator,
}

/// The next steps of one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextSteps {
    /// The region.
    pub region: String,
    /// The InfluxDB token's state.
    pub token: Token,
    /// The alert addresses.
    pub subscriptions: Vec<Subscription>,
    /// Whether the stack made the subscriptions at all.
    pub subscriptions_made: SubscriptionsMade,
    /// The scraper's Auto Scaling groups (one per shard), in shard order, as deployed.
    pub scraper_groups: Vec<String>,
    /// How to get the dashboards: in the canary region only.
    pub grafana: Option<GrafanaStep>,
}

/// Where the environment's Grafana dashboards and alert rules go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrafanaStep {
    /// Into your own Grafana, from the files `deployer grafana` writes.
    Files,
    /// Into the stack's Amazon Managed Grafana workspace.
    Workspace {
        /// The workspace id, such as `g-abc1234567`.
        id: String,
        /// The workspace's URL.
        url: String,
        /// The alert topic an SNS contact point of the workspace publishes to.
        topic: Option<String>,
    },
}

/// The logical id of the only resource of `kind` in a synthesized template.
fn logical_id_of<'a>(template: &'a Value, kind: &str) -> Option<&'a str> {
    let resources = template["Resources"].as_object()?;
    let mut found = resources
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(id, _)| id.as_str());
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// Physical ids of `stack`'s resources by logical id.
async fn physical_ids(
    clients: &RegionClients,
    stack: &str,
) -> Result<BTreeMap<String, String>, Error> {
    let resources =
        crate::status::stack_resources(&clients.cloudformation, clients.region.as_str(), stack)
            .await?;
    Ok(resources
        .iter()
        .filter_map(|r| Some((r.logical_resource_id()?, r.physical_resource_id()?)))
        // moto reports a skipped secret's id as the text "None".
        .filter(|(_, physical)| !physical.is_empty() && *physical != "None")
        .map(|(logical, physical)| (logical.to_owned(), physical.to_owned()))
        .collect())
}

/// The next steps after deploying `stack` (synthesized as `template`) in `clients`' region.
pub async fn next_steps(
    clients: &RegionClients,
    env: &Environment,
    stack: &str,
    template: &Value,
) -> Result<NextSteps, Error> {
    let region = clients.region.as_str();
    let ids = physical_ids(clients, stack).await?;
    let physical = |kind: &str| {
        logical_id_of(template, kind)
            .and_then(|id| ids.get(id))
            .cloned()
    };

    let token = match physical("AWS::SecretsManager::Secret") {
        None => Token::NotCreated,
        Some(secret) => {
            let described = clients
                .secretsmanager
                .describe_secret()
                .secret_id(&secret)
                .send()
                .await
                .map_err(|e| api_error(format!("DescribeSecret {secret}"), region, e))?;
            let has_value = described
                .version_ids_to_stages()
                .is_some_and(|versions| !versions.is_empty());
            if has_value {
                Token::Set { secret }
            } else {
                Token::Missing { secret }
            }
        }
    };

    let mut listed: BTreeMap<String, bool> = BTreeMap::new();
    if let Some(topic) = physical("AWS::SNS::Topic") {
        let mut next = None;
        loop {
            let page = clients
                .sns
                .list_subscriptions_by_topic()
                .topic_arn(&topic)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| api_error(format!("ListSubscriptionsByTopic {topic}"), region, e))?;
            for subscription in page.subscriptions() {
                if subscription.protocol() == Some("email")
                    && let Some(endpoint) = subscription.endpoint()
                {
                    let pending = subscription.subscription_arn() == Some("PendingConfirmation");
                    listed.insert(endpoint.to_ascii_lowercase(), !pending);
                }
            }
            next = page.next_token().map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
    }
    let subscriptions = env
        .alerts
        .emails
        .iter()
        .map(|email| Subscription {
            email: email.to_string(),
            confirmed: listed.get(&email.to_string().to_ascii_lowercase()).copied(),
        })
        .collect();

    // Each address is an `AWS::SNS::Subscription` (with the canary's filter policy); none of them
    // deployed means the CloudFormation that ran the template skipped the type (moto does).
    let declared: Vec<&str> = template["Resources"]
        .as_object()
        .map(|resources| {
            resources
                .iter()
                .filter(|(_, r)| r["Type"].as_str() == Some("AWS::SNS::Subscription"))
                .map(|(id, _)| id.as_str())
                .collect()
        })
        .unwrap_or_default();
    let subscriptions_made =
        if !declared.is_empty() && declared.iter().all(|id| !ids.contains_key(*id)) {
            SubscriptionsMade::SkippedByEmulator
        } else {
            SubscriptionsMade::Yes
        };

    let grafana = (region == env.canary_region().as_str()).then(|| {
        match physical("AWS::Grafana::Workspace") {
            // The documented form of a workspace's endpoint.
            Some(id) => GrafanaStep::Workspace {
                url: format!("https://{id}.grafana-workspace.{region}.amazonaws.com"),
                id,
                topic: physical("AWS::SNS::Topic"),
            },
            None => GrafanaStep::Files,
        }
    });

    Ok(NextSteps {
        region: region.to_owned(),
        token,
        subscriptions,
        subscriptions_made,
        scraper_groups: (0..env.scraper.instances)
            .filter_map(|i| ids.get(&stacks::pipeline::shard_group_id(i)).cloned())
            .collect(),
        grafana,
    })
}

impl NextSteps {
    /// The steps as lines for people: what to do, with the exact command where there is one.
    pub fn lines(&self, env: &str) -> Vec<String> {
        let region = &self.region;
        let mut lines = Vec::new();
        match &self.token {
            Token::Missing { secret } => lines.push(format!(
                "put the InfluxDB token into its secret (until then the transform Lambda cannot write): \
                 aws secretsmanager put-secret-value --region {region} --secret-id {secret} --secret-string \"$INFLUX_TOKEN\""
            )),
            Token::Set { secret } => lines.push(format!("InfluxDB token: set in {secret}")),
            Token::NotCreated => lines.push(
                "InfluxDB token: the stack reports no secret (the emulator's CloudFormation skips \
                 Secrets Manager secrets); the local run provides the token itself"
                    .to_owned(),
            ),
        }
        let pending: Vec<&str> = self
            .subscriptions
            .iter()
            .filter(|s| s.confirmed == Some(false))
            .map(|s| s.email.as_str())
            .collect();
        let missing: Vec<&str> = self
            .subscriptions
            .iter()
            .filter(|s| s.confirmed.is_none())
            .map(|s| s.email.as_str())
            .collect();
        let confirmed = self
            .subscriptions
            .iter()
            .filter(|s| s.confirmed == Some(true))
            .count();
        if !pending.is_empty() {
            lines.push(format!(
                "alert e-mails: {} must confirm (the message \"AWS Notification - Subscription Confirmation\" went to each); no alert reaches them until then",
                pending.join(", ")
            ));
        }
        if self.subscriptions_made == SubscriptionsMade::SkippedByEmulator {
            lines.push(
                "alert e-mails: no subscription was made (the emulator's CloudFormation skips \
                 SNS subscriptions); alerts are published to the topic"
                    .to_owned(),
            );
        } else if !missing.is_empty() {
            lines.push(format!(
                "alert e-mails: {} not subscribed to the alert topic; run `deployer diff --env {env}` to see why",
                missing.join(", ")
            ));
        }
        if pending.is_empty() && missing.is_empty() && confirmed > 0 {
            lines.push(format!(
                "alert e-mails: all {confirmed} address(es) confirmed"
            ));
        }
        if !self.scraper_groups.is_empty() {
            lines.push(format!(
                "scraper: {} shard(s), each an Auto Scaling group of one ({}); heartbeats: deployer status --env {env} --region {region}; SSH only through the Client VPN; logs: journalctl -u {}",
                self.scraper_groups.len(),
                self.scraper_groups.join(", "),
                stacks::pipeline::SCRAPER_UNIT
            ));
        }
        match &self.grafana {
            Some(GrafanaStep::Files) => lines.push(format!(
                "grafana: dashboards and alert rules for your Grafana: deployer grafana --env {env} (docs/grafana.md)"
            )),
            Some(GrafanaStep::Workspace { id, url, topic }) => lines.push(format!(
                "grafana: workspace {id} at {url}: give people access (IAM Identity Center users, or finish its SAML configuration), \
                 create a service account token in it, then: {GRAFANA_TOKEN_VAR}=<token> deployer grafana --env {env} --push --url {url}; \
                 its alerts reach people through an AWS SNS contact point on the alert topic {} (docs/grafana.md)",
                topic.as_deref().unwrap_or("AlertTopic (see deployer status)"),
            )),
            None => {}
        }
        lines.push(format!(
            "every output: deployer status --env {env} --region {region}"
        ));
        lines
    }

    /// The steps as one JSON object (`up --output json`, type `next_steps`).
    pub fn json(&self) -> Value {
        let (token_state, secret) = match &self.token {
            Token::Set { secret } => ("set", Some(secret.as_str())),
            Token::Missing { secret } => ("missing", Some(secret.as_str())),
            Token::NotCreated => ("not_created", None),
        };
        serde_json::json!({
            "type": "next_steps",
            "region": self.region,
            "influxdb_token": {"state": token_state, "secret": secret},
            "subscriptions": self.subscriptions.iter().map(|s| serde_json::json!({
                "email": s.email,
                "state": match s.confirmed { Some(true) => "confirmed", Some(false) => "pending", None => "not_subscribed" },
            })).collect::<Vec<_>>(),
            "scraper_groups": self.scraper_groups,
            "subscriptions_made": self.subscriptions_made == SubscriptionsMade::Yes,
            "grafana": match &self.grafana {
                None => Value::Null,
                Some(GrafanaStep::Files) => serde_json::json!({"kind": "files"}),
                Some(GrafanaStep::Workspace { id, url, topic }) => serde_json::json!({
                    "kind": "workspace", "id": id, "url": url, "alert_topic": topic,
                }),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(token: Token, confirmed: &[Option<bool>]) -> NextSteps {
        NextSteps {
            region: "eu-west-1".into(),
            token,
            subscriptions: confirmed
                .iter()
                .enumerate()
                .map(|(i, c)| Subscription {
                    email: format!("ops{i}@example.com"),
                    confirmed: *c,
                })
                .collect(),
            scraper_groups: vec!["mst-prod-pipeline-ScraperShard0-AbC".into()],
            subscriptions_made: SubscriptionsMade::Yes,
            grafana: None,
        }
    }

    #[test]
    fn a_first_deploy_says_what_to_do_with_the_exact_commands() {
        let secret = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:InfluxTokenSecret-AbCd";
        let first = steps(
            Token::Missing {
                secret: secret.into(),
            },
            &[Some(false), Some(true), None],
        );
        assert_eq!(
            first.lines("prod"),
            [
                format!(
                    "put the InfluxDB token into its secret (until then the transform Lambda cannot write): aws secretsmanager put-secret-value --region eu-west-1 --secret-id {secret} --secret-string \"$INFLUX_TOKEN\""
                ),
                "alert e-mails: ops0@example.com must confirm (the message \"AWS Notification - Subscription Confirmation\" went to each); no alert reaches them until then".to_owned(),
                "alert e-mails: ops2@example.com not subscribed to the alert topic; run `deployer diff --env prod` to see why".to_owned(),
                "scraper: 1 shard(s), each an Auto Scaling group of one (mst-prod-pipeline-ScraperShard0-AbC); heartbeats: deployer status --env prod --region eu-west-1; SSH only through the Client VPN; logs: journalctl -u mystocktracker-scraper".to_owned(),
                "every output: deployer status --env prod --region eu-west-1".to_owned(),
            ]
        );
        let json = first.json();
        assert_eq!(json["influxdb_token"]["state"], "missing");
        assert_eq!(json["subscriptions"][0]["state"], "pending");
        assert_eq!(json["subscriptions"][2]["state"], "not_subscribed");

        let later = steps(
            Token::Set {
                secret: secret.into(),
            },
            &[Some(true), Some(true)],
        );
        let lines = later.lines("prod");
        assert_eq!(lines[0], format!("InfluxDB token: set in {secret}"));
        assert_eq!(lines[1], "alert e-mails: all 2 address(es) confirmed");
    }

    #[test]
    fn the_canary_region_says_where_the_dashboards_go() {
        let mut own = steps(Token::NotCreated, &[]);
        own.grafana = Some(GrafanaStep::Files);
        assert!(own.lines("prod").contains(
            &"grafana: dashboards and alert rules for your Grafana: deployer grafana --env prod (docs/grafana.md)".to_owned()
        ));
        assert_eq!(own.json()["grafana"]["kind"], "files");

        let mut managed = steps(Token::NotCreated, &[]);
        let topic = "arn:aws:sns:eu-west-1:111122223333:mst-prod-pipeline-AlertTopic-X";
        managed.grafana = Some(GrafanaStep::Workspace {
            id: "g-abc1234567".into(),
            url: "https://g-abc1234567.grafana-workspace.eu-west-1.amazonaws.com".into(),
            topic: Some(topic.into()),
        });
        let line = managed
            .lines("prod")
            .into_iter()
            .find(|l| l.starts_with("grafana: "))
            .expect("a grafana step");
        assert!(line.contains("workspace g-abc1234567 at https://g-abc1234567.grafana-workspace.eu-west-1.amazonaws.com"), "{line}");
        assert!(line.contains(&format!("{GRAFANA_TOKEN_VAR}=<token> deployer grafana --env prod --push --url https://g-abc1234567.grafana-workspace.eu-west-1.amazonaws.com")), "{line}");
        assert!(line.contains(topic), "{line}");
        assert_eq!(managed.json()["grafana"]["id"], "g-abc1234567");

        // Other regions: no Grafana step.
        assert!(
            !steps(Token::NotCreated, &[])
                .lines("prod")
                .iter()
                .any(|l| l.starts_with("grafana"))
        );
    }

    #[test]
    fn resources_are_found_by_type_in_the_template_and_only_when_unique() {
        let template = serde_json::json!({"Resources": {
            "A": {"Type": "AWS::SNS::Topic"},
            "B": {"Type": "AWS::SecretsManager::Secret"},
            "C": {"Type": "AWS::SNS::Topic"},
        }});
        assert_eq!(
            logical_id_of(&template, "AWS::SecretsManager::Secret"),
            Some("B")
        );
        assert_eq!(logical_id_of(&template, "AWS::SNS::Topic"), None);
        assert_eq!(logical_id_of(&template, "AWS::EC2::Instance"), None);
    }
}
