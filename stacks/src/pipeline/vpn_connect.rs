//! The VPN's client-connect handler: the vpn-connect Lambda (named `AWSClientVPN-…`, as Client VPN
//! requires), which admits a connection only from the region's allowed source networks; a metric
//! filter counting its denials and an alarm on a burst of them.
//!
//! Client VPN invokes the function through its service-linked role
//! (`AWSServiceRoleForClientVPNConnections`, which may invoke `AWSClientVPN-*` functions), so no
//! resource-based permission is added. AWS recommends provisioned concurrency for connect handlers
//! so that scaling never throttles (a throttled call denies the connection); reserved concurrency
//! gives the same guarantee for a handful of operators without a version and alias to publish.

use environment::{Environment, Region};
use lambda_contract::vpn_connect;

use crate::iam::Statement;
use crate::resources::cloudwatch::Alarm;
use crate::resources::lambda::Function;
use crate::resources::logs::{MetricFilter, MetricTransformation};
use crate::template::{Expr, Handle, Options, Template};

use super::BuildError;
use super::Names;
use super::alerts::AlertTopic;
use super::functions::{Failures, FunctionSpec, add_function, variables};
use super::keys::DataKey;
use super::parameters::{ArtifactParameter, Parameters};

/// The function's logical id (also the prefix of its role's and log group's).
pub const FUNCTION_ID: &str = "VpnConnect";

/// The purpose part of the function's name: `AWSClientVPN-mst-<env>-vpn-connect`.
const FUNCTION_PURPOSE: &str = "vpn-connect";

/// The purpose part of the denial alarm's name, `mst-<env>-vpn-denials`.
const ALARM_PURPOSE: &str = "vpn-denials";

/// The metric the denials are counted in (namespace [`metric_namespace`]).
pub const DENIALS_METRIC: &str = "VpnDeniedConnections";

/// Concurrency reserved for the handler: connections of a few operators at once, never throttled
/// by the pipeline's other functions.
pub const RESERVED_CONCURRENCY: u32 = 5;

/// Denials within [`ALARM_PERIOD_SECONDS`] that make a burst: more than a mistyped profile or
/// two, as from someone probing the endpoint with a stolen certificate.
pub const DENIAL_BURST: f64 = 5.0;

/// The alarm's period.
pub const ALARM_PERIOD_SECONDS: u32 = 300;

/// The filter pattern matching the handler's denial log lines (`decision` is a field of its JSON
/// lines, see runtime/vpn-connect).
pub const DENIAL_PATTERN: &str = r#"{ $.decision = "deny" }"#;

/// The namespace of the environment's own metrics, `MyStockTracker/<env>`.
pub fn metric_namespace(env: &Environment) -> String {
    format!("MyStockTracker/{}", env.name.as_str())
}

/// The handler's function name (at most 49 characters: environment names have at most 20).
pub fn function_name(env: &Environment) -> String {
    format!(
        "{}{}",
        vpn_connect::FUNCTION_NAME_PREFIX,
        Names::new(env).regional(FUNCTION_PURPOSE)
    )
}

/// The denial alarm's name.
pub fn alarm_name(env: &Environment) -> String {
    Names::new(env).regional(ALARM_PURPOSE)
}

/// What the endpoint and the alert topic refer to.
#[derive(Debug, Clone)]
pub(super) struct VpnConnect {
    pub function: Handle<Function>,
    pub alarm: Handle<Alarm>,
}

/// Adds the handler for `region`'s VPN: nothing when the region has no VPN (local environments).
pub(super) fn add(
    t: &mut Template,
    env: &Environment,
    region: &Region,
    params: &mut Parameters,
    key: &DataKey,
    topic: &AlertTopic,
) -> Result<Option<VpnConnect>, BuildError> {
    if !env.network.vpn.contains_key(region) {
        return Ok(None);
    }
    params.add_vpn_connect(t)?;
    let config = vpn_connect::Config {
        allowed_client_cidrs: env.network.allowed_client_cidrs(region).to_vec(),
    };
    let added = add_function(
        t,
        env,
        params,
        key,
        FunctionSpec {
            name: FUNCTION_ID,
            artifact: ArtifactParameter::VpnConnect,
            description: "Client VPN client-connect handler: admits connections only from the allowed source networks",
            memory_mb: 128,
            // Client VPN waits at most 30 s; the decision takes microseconds.
            timeout_seconds: 10,
            variables: variables(config.into_variables(Expr::lit)),
            // Nothing beyond its own logs (added by `add_function`): the decision needs no AWS call.
            statements: Vec::<Statement>::new(),
            failures: Failures::Caller,
            function_name: Some(function_name(env)),
            reserved_concurrency: Some(RESERVED_CONCURRENCY),
        },
    )?;
    let filter = t.add(
        "VpnDeniedConnectionsFilter",
        MetricFilter {
            log_group_name: added.log_group.reference(),
            filter_pattern: DENIAL_PATTERN.to_owned(),
            metric_transformations: vec![MetricTransformation {
                metric_namespace: metric_namespace(env),
                metric_name: DENIALS_METRIC,
                metric_value: "1",
                unit: "Count",
            }],
        },
        Options::none(),
    )?;
    let alarm = t.add(
        "VpnDenialsAlarm",
        Alarm {
            alarm_name: alarm_name(env),
            alarm_description: format!(
                "{DENIAL_BURST} or more VPN connections denied within {} minutes: someone holding a client certificate is connecting from outside the allowed networks. Read the reasons and addresses in the {} function's log group; revoke the certificate (deployer vpn revoke) if it is not an operator's.",
                ALARM_PERIOD_SECONDS / 60,
                function_name(env)
            ),
            namespace: metric_namespace(env),
            metric_name: DENIALS_METRIC,
            dimensions: Vec::new(),
            statistic: "Sum",
            period: ALARM_PERIOD_SECONDS,
            evaluation_periods: 1,
            threshold: DENIAL_BURST,
            comparison_operator: "GreaterThanOrEqualToThreshold",
            treat_missing_data: "notBreaching",
            alarm_actions: vec![topic.arn()],
            ok_actions: vec![topic.arn()],
        },
        Options::none().depends_on(&filter),
    )?;
    Ok(Some(VpnConnect {
        function: added.function,
        alarm,
    }))
}
