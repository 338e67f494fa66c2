//! The scraper's network and instance: a VPC with a public subnet for the NAT gateway and two private
//! subnets, VPC endpoints for the AWS APIs the scraper calls, the scraper's instances (one Auto Scaling
//! group of one per shard, from one launch template), and the Client VPN that is the only way in.

use environment::{Environment, Region};
use ipnet::Ipv4Net;

use crate::iam::actions::{kinesis, s3};
use crate::iam::uses::Use;
use crate::iam::{PolicyDocument, Statement};
use crate::resources::ec2::{
    BlockDeviceMapping, ClientConnectOptions, ClientVpnAuthorizationRule, ClientVpnEndpoint,
    ClientVpnTargetNetworkAssociation, ConnectionLogOptions, Ebs, EgressRule, ElasticIp, FlowLog,
    GatewayAttachment, IamInstanceProfile, IngressRule, InternetGateway, LaunchTemplate,
    LaunchTemplateData, LaunchTemplateRef, MetadataOptions, Monitoring, MutualAuthentication,
    NatGateway, Route, RouteTable, SecurityGroup, Subnet, SubnetRouteTableAssociation,
    TagSpecification, Vpc, VpcEndpoint, VpnAuthentication, name_tag,
};
use crate::resources::iam::InstanceProfile;
use crate::resources::s3::objects_arn;
use crate::template::{Expr, Handle, Options, Template, pseudo};

use super::BuildError;
use super::ingest::QuoteStream;
use super::keys::{DataKey, add_log_group};
use super::parameters::{ArtifactParameter, Parameters};
use super::roles::{TrustedService, component_role};
use super::scraper::{
    CONFIGURATION_PREFIX, STREAM_NAME_PLACEHOLDER, ShardConfiguration, shard_configurations,
};
use super::vpn_connect::VpnConnect;
use crate::resources::autoscaling::{AutoScalingGroup, GroupTag};
use scraper_config::Shard;

/// The scraper's Auto Scaling groups (one per shard) and, outside local environments, its VPN endpoint.
#[derive(Debug, Clone)]
pub(super) struct Scraper {
    pub groups: Vec<Handle<AutoScalingGroup>>,
    pub vpn: Option<Handle<ClientVpnEndpoint>>,
}

/// The name of the scraper's systemd unit (`journalctl -u` takes it).
pub const SCRAPER_UNIT: &str = "mystocktracker-scraper";

/// The systemd unit the user-data installs as [`SCRAPER_UNIT`] (kept beside the scraper's code).
const SYSTEMD_UNIT: &str =
    include_str!("../../../runtime/scraper/systemd/mystocktracker-scraper.service");

/// Amazon Linux 2023 reads its package repositories from this AWS-owned bucket through the S3 gateway
/// endpoint, so the endpoint policy must let `dnf` through.
const AL2023_REPOSITORY_BUCKET_PREFIX: &str = "al2023-repos-";
const AL2023_REPOSITORY_BUCKET_SUFFIX: &str = "-de612dc2";

/// The VPC's four equal quarters: public (NAT), private A (scraper, VPN), private B, and one spare.
fn quarters(vpc: Ipv4Net) -> [Ipv4Net; 3] {
    let mut parts = vpc.subnets(vpc.prefix_len() + 2).into_iter().flatten();
    let mut next = || parts.next().unwrap_or(vpc);
    [next(), next(), next()]
}

/// The VPC endpoint service name of an AWS service in the stack's region.
fn endpoint_service(service: &str) -> Expr {
    Expr::concat([
        Expr::lit("com.amazonaws."),
        pseudo::region(),
        Expr::lit(format!(".{service}")),
    ])
}

fn az(index: u32) -> Expr {
    Expr::Select(index, Box::new(Expr::AvailabilityZones))
}

fn tag(env: &Environment, what: &str) -> Vec<crate::resources::Tag> {
    name_tag(Expr::lit(format!("mst-{}-{what}", env.name.as_str())))
}

pub(super) fn add(
    t: &mut Template,
    env: &Environment,
    region: &Region,
    params: &Parameters,
    key: &DataKey,
    stream: &QuoteStream,
    vpn_connect: Option<&VpnConnect>,
) -> Result<Scraper, BuildError> {
    let net = &env.network;
    let vpc_cidr = net.vpc_cidr.to_string();
    let vpc = t.add(
        "Vpc",
        Vpc {
            cidr_block: vpc_cidr.clone(),
            enable_dns_hostnames: true,
            enable_dns_support: true,
            tags: tag(env, "vpc"),
        },
        Options::none(),
    )?;
    let [public_cidr, private_a_cidr, private_b_cidr] = quarters(net.vpc_cidr);
    let subnet = |t: &mut Template, id: &str, cidr: Ipv4Net, zone: u32, name: &str| {
        t.add(
            id,
            Subnet {
                vpc_id: vpc.reference(),
                cidr_block: cidr.to_string(),
                availability_zone: az(zone),
                map_public_ip_on_launch: false,
                tags: tag(env, name),
            },
            Options::none(),
        )
    };
    let public = subnet(t, "PublicSubnet", public_cidr, 0, "public")?;
    let private_a = subnet(t, "PrivateSubnetA", private_a_cidr, 0, "private-a")?;
    let private_b = subnet(t, "PrivateSubnetB", private_b_cidr, 1, "private-b")?;

    // Egress for scraping: internet gateway for the public subnet, one NAT gateway for the private ones.
    let gateway = t.add(
        "InternetGateway",
        InternetGateway {
            tags: tag(env, "igw"),
        },
        Options::none(),
    )?;
    let attachment = t.add(
        "InternetGatewayAttachment",
        GatewayAttachment {
            vpc_id: vpc.reference(),
            internet_gateway_id: gateway.reference(),
        },
        Options::none(),
    )?;
    let public_routes = t.add(
        "PublicRouteTable",
        RouteTable {
            vpc_id: vpc.reference(),
            tags: tag(env, "public"),
        },
        Options::none(),
    )?;
    t.add(
        "PublicDefaultRoute",
        Route {
            route_table_id: public_routes.reference(),
            destination_cidr_block: "0.0.0.0/0",
            gateway_id: Some(gateway.reference()),
            nat_gateway_id: None,
        },
        Options::none().depends_on(&attachment),
    )?;
    t.add(
        "PublicSubnetRoutes",
        SubnetRouteTableAssociation {
            route_table_id: public_routes.reference(),
            subnet_id: public.reference(),
        },
        Options::none(),
    )?;
    let nat_ip = t.add(
        "NatAddress",
        ElasticIp {
            domain: "vpc",
            tags: tag(env, "nat"),
        },
        Options::none().depends_on(&attachment),
    )?;
    let nat = t.add(
        "NatGateway",
        NatGateway {
            allocation_id: nat_ip.allocation_id(),
            subnet_id: public.reference(),
            tags: tag(env, "nat"),
        },
        Options::none(),
    )?;
    let private_routes = t.add(
        "PrivateRouteTable",
        RouteTable {
            vpc_id: vpc.reference(),
            tags: tag(env, "private"),
        },
        Options::none(),
    )?;
    t.add(
        "PrivateDefaultRoute",
        Route {
            route_table_id: private_routes.reference(),
            destination_cidr_block: "0.0.0.0/0",
            gateway_id: None,
            nat_gateway_id: Some(nat.reference()),
        },
        Options::none(),
    )?;
    for (id, subnet) in [
        ("PrivateSubnetARoutes", &private_a),
        ("PrivateSubnetBRoutes", &private_b),
    ] {
        t.add(
            id,
            SubnetRouteTableAssociation {
                route_table_id: private_routes.reference(),
                subnet_id: subnet.reference(),
            },
            Options::none(),
        )?;
    }

    // Endpoints: Kinesis and S3 traffic stays inside AWS's network, limited to this pipeline's resources.
    let endpoint_group = t.add(
        "EndpointSecurityGroup",
        SecurityGroup {
            group_description: "Interface endpoints: HTTPS from the scraper only".into(),
            vpc_id: vpc.reference(),
            // Set by `add_instance`: HTTPS from the scraper's security group, the endpoints' only user.
            security_group_ingress: Vec::new(),
            security_group_egress: vec![EgressRule {
                description: "Responses stay inside the VPC".into(),
                ip_protocol: "tcp",
                from_port: 443,
                to_port: 443,
                cidr_ip: vpc_cidr.clone(),
            }],
            tags: tag(env, "endpoints"),
        },
        Options::none(),
    )?;
    t.add(
        "KinesisEndpoint",
        VpcEndpoint {
            vpc_id: vpc.reference(),
            service_name: endpoint_service("kinesis-streams"),
            vpc_endpoint_type: "Interface",
            subnet_ids: vec![private_a.reference(), private_b.reference()],
            security_group_ids: vec![endpoint_group.reference()],
            private_dns_enabled: Some(true),
            route_table_ids: Vec::new(),
            policy_document: PolicyDocument::new(vec![
                Statement::through_endpoint(
                    &[kinesis::PUT_RECORDS],
                    [stream.arn()],
                    pseudo::account_id(),
                )
                .sid("PutQuotesOnly"),
            ]),
        },
        Options::none(),
    )?;
    let artifacts_bucket = params.artifacts_bucket.reference();
    let al2023_repos = Expr::concat([
        Expr::lit(AL2023_REPOSITORY_BUCKET_PREFIX),
        pseudo::region(),
        Expr::lit(AL2023_REPOSITORY_BUCKET_SUFFIX),
    ]);
    t.add(
        "S3Endpoint",
        VpcEndpoint {
            vpc_id: vpc.reference(),
            service_name: endpoint_service("s3"),
            vpc_endpoint_type: "Gateway",
            subnet_ids: Vec::new(),
            security_group_ids: Vec::new(),
            private_dns_enabled: None,
            route_table_ids: vec![private_routes.reference()],
            policy_document: PolicyDocument::new(vec![
                Statement::through_endpoint(
                    &[s3::GET_OBJECT, s3::GET_OBJECT_VERSION],
                    [objects_arn(&artifacts_bucket, "")],
                    pseudo::account_id(),
                )
                .sid("ReadArtifacts"),
                Statement::through_endpoint_from_anyone(
                    &[s3::GET_OBJECT],
                    [objects_arn(&al2023_repos, "")],
                )
                .sid("ReadAmazonLinuxPackages"),
            ]),
        },
        Options::none(),
    )?;

    add_flow_logs(t, env, key, &vpc)?;
    let vpn = add_vpn(t, env, region, key, &vpc, &private_a, vpn_connect)?;
    let groups = add_instance(
        t,
        env,
        region,
        params,
        key,
        stream,
        &vpc,
        &[&private_a, &private_b],
        vpn.as_ref().map(|v| &v.group),
        &endpoint_group,
    )?;
    Ok(Scraper {
        groups,
        vpn: vpn.map(|v| v.endpoint),
    })
}

/// Flow logs of the whole VPC (accepted and rejected traffic) to a log group encrypted with the data
/// key, delivered by a role only the flow logs service of this account can assume and that may only
/// write to that group.
fn add_flow_logs(
    t: &mut Template,
    env: &Environment,
    key: &DataKey,
    vpc: &Handle<Vpc>,
) -> Result<(), BuildError> {
    let log_group = add_log_group(t, "FlowLogsLogGroup", env, key)?;
    let (role, policy) = component_role(
        t,
        "FlowLogs",
        TrustedService::VpcFlowLogs,
        "VPC flow logs: delivers the VPC's flow records to their log group",
        key,
        vec![
            Statement::grant(
                &[Use::FlowLogsDeliverRecords],
                [log_group.group_and_streams_arn()],
            )
            .sid("DeliverFlowRecords"),
        ],
    )?;
    t.add(
        "VpcFlowLog",
        FlowLog {
            resource_id: vpc.reference(),
            resource_type: "VPC",
            traffic_type: "ALL",
            log_destination_type: "cloud-watch-logs",
            log_group_name: log_group.reference(),
            deliver_logs_permission_arn: role.arn(),
            max_aggregation_interval: 600,
            tags: tag(env, "flow-logs"),
        },
        Options::none().depends_on(&policy),
    )?;
    Ok(())
}

/// The VPN endpoint and the security group its client traffic comes from.
struct Vpn {
    endpoint: Handle<ClientVpnEndpoint>,
    group: Handle<SecurityGroup>,
}

/// The Client VPN endpoint with mutual-TLS authentication, when the region has certificates (every
/// region outside local environments, as validation requires).
fn add_vpn(
    t: &mut Template,
    env: &Environment,
    region: &Region,
    key: &DataKey,
    vpc: &Handle<Vpc>,
    subnet: &Handle<Subnet>,
    vpn_connect: Option<&VpnConnect>,
) -> Result<Option<Vpn>, BuildError> {
    let Some(certificates) = env.network.vpn.get(region) else {
        return Ok(None);
    };
    let vpc_cidr = env.network.vpc_cidr.to_string();
    let group = t.add(
        "VpnSecurityGroup",
        SecurityGroup {
            group_description: "Client VPN: SSH from VPN clients into the VPC".into(),
            vpc_id: vpc.reference(),
            security_group_ingress: Vec::new(),
            security_group_egress: vec![EgressRule {
                description: "SSH to instances in the VPC".into(),
                ip_protocol: "tcp",
                from_port: 22,
                to_port: 22,
                cidr_ip: vpc_cidr.clone(),
            }],
            tags: tag(env, "vpn"),
        },
        Options::none(),
    )?;
    let log_group = add_log_group(t, "VpnLogGroup", env, key)?;
    let endpoint = t.add(
        "ClientVpnEndpoint",
        ClientVpnEndpoint {
            description: format!(
                "MyStockTracker {}: administrator access to the scraper",
                env.name.as_str()
            ),
            client_cidr_block: env.network.vpn_client_cidr.to_string(),
            server_certificate_arn: certificates.server_certificate_arn.clone(),
            authentication_options: vec![VpnAuthentication {
                kind: "certificate-authentication",
                mutual_authentication: MutualAuthentication {
                    client_root_certificate_chain_arn: certificates
                        .client_root_certificate_arn
                        .clone(),
                },
            }],
            connection_log_options: ConnectionLogOptions {
                enabled: true,
                cloudwatch_log_group: log_group.reference(),
            },
            vpc_id: vpc.reference(),
            security_group_ids: vec![group.reference()],
            split_tunnel: true,
            transport_protocol: "udp",
            session_timeout_hours: 8,
            // Every new connection is authorized by the handler: only allowed source addresses.
            client_connect_options: vpn_connect.map(|handler| ClientConnectOptions {
                enabled: true,
                lambda_function_arn: handler.function.arn(),
            }),
            tag_specifications: vec![TagSpecification {
                resource_type: "client-vpn-endpoint",
                tags: name_tag(Expr::lit(super::names::Names::new(env).vpn_endpoint())),
            }],
        },
        Options::none(),
    )?;
    t.add(
        "ClientVpnSubnetAssociation",
        ClientVpnTargetNetworkAssociation {
            client_vpn_endpoint_id: endpoint.reference(),
            subnet_id: subnet.reference(),
        },
        Options::none(),
    )?;
    t.add(
        "ClientVpnAuthorizeVpc",
        ClientVpnAuthorizationRule {
            description: "VPN clients may reach the VPC".into(),
            client_vpn_endpoint_id: endpoint.reference(),
            target_network_cidr: vpc_cidr,
            authorize_all_groups: true,
        },
        Options::none(),
    )?;
    Ok(Some(Vpn { endpoint, group }))
}

#[allow(clippy::too_many_arguments)] // Each argument is a distinct resource the instance is wired to.
fn add_instance(
    t: &mut Template,
    env: &Environment,
    region: &Region,
    params: &Parameters,
    key: &DataKey,
    stream: &QuoteStream,
    vpc: &Handle<Vpc>,
    subnets: &[&Handle<Subnet>],
    vpn_group: Option<&Handle<SecurityGroup>>,
    endpoint_group: &Handle<SecurityGroup>,
) -> Result<Vec<Handle<AutoScalingGroup>>, BuildError> {
    let binary_key = params.key(ArtifactParameter::Scraper)?;
    let binary_arn = Expr::global_arn(
        "s3",
        [
            params.artifacts_bucket.reference(),
            Expr::lit("/"),
            binary_key.clone(),
        ],
    );
    let configurations_arn = Expr::global_arn(
        "s3",
        [
            params.artifacts_bucket.reference(),
            Expr::lit(format!("/{CONFIGURATION_PREFIX}/*")),
        ],
    );
    // The groups' names are generated (`<stack>-ScraperShard<i>-<suffix>`): a replacing update makes
    // a new group, which needs a new name.
    // The stack's name is fixed by the environment, so the policy names it literally (a live policy
    // then reads the same as the snapshot).
    let stack_name = super::Names::new(env).stack(super::StackKind::Pipeline);
    let groups_arn = Expr::regional_arn(
        "autoscaling",
        [Expr::lit(format!(
            "autoScalingGroup:*:autoScalingGroupName/{stack_name}-ScraperShard*"
        ))],
    );
    let stack_arn = Expr::regional_arn(
        "cloudformation",
        [Expr::lit(format!("stack/{stack_name}/*"))],
    );
    let (role, _policy) = component_role(
        t,
        "Scraper",
        TrustedService::Ec2,
        "Scraper instance: puts quote records on the stream, fetches its own binary",
        key,
        vec![
            Statement::grant(&[Use::ScraperPutsQuotes], [stream.arn()]).sid("PutQuotes"),
            Statement::grant(&[Use::ScraperFetchesItsBinary], [binary_arn])
                .sid("FetchScraperBinary"),
            Statement::grant(&[Use::ScraperFetchesItsConfiguration], [configurations_arn])
                .sid("FetchScraperConfiguration"),
            Statement::grant_on_any_resource(&[Use::ScraperPublishesHeartbeat])?
                .sid("PublishHeartbeat")
                .condition(
                    "StringEquals",
                    "cloudwatch:namespace",
                    [Expr::lit(HEARTBEAT_NAMESPACE)],
                ),
            Statement::grant(&[Use::ScraperReportsStall], [groups_arn]).sid("ReportStalledScraper"),
            Statement::grant(&[Use::ScraperSignalsReady], [stack_arn]).sid("SignalShardReady"),
        ],
    )?;
    let profile = t.add(
        "ScraperInstanceProfile",
        InstanceProfile {
            roles: vec![role.reference()],
        },
        Options::none(),
    )?;

    // Client VPN source-NATs clients to its own interfaces in the subnet, so SSH is allowed from the
    // VPN endpoint's security group (only VPN clients come through it) and from explicit admin CIDRs.
    let mut ingress: Vec<IngressRule> = vpn_group
        .map(|group| IngressRule {
            description: format!(
                "SSH from Client VPN clients ({})",
                env.network.vpn_client_cidr
            ),
            ip_protocol: "tcp",
            from_port: 22,
            to_port: 22,
            cidr_ip: None,
            source_security_group_id: Some(group.reference()),
        })
        .into_iter()
        .collect();
    ingress.extend(env.network.admin_cidrs.iter().map(|cidr| IngressRule {
        description: "SSH from an administrator network".into(),
        ip_protocol: "tcp",
        from_port: 22,
        to_port: 22,
        cidr_ip: Some(cidr.to_string()),
        source_security_group_id: None,
    }));
    let group = t.add(
        "ScraperSecurityGroup",
        SecurityGroup {
            group_description: "Scraper instance: SSH only through the VPN, HTTPS out".into(),
            vpc_id: vpc.reference(),
            security_group_ingress: ingress,
            security_group_egress: vec![EgressRule {
                description: "HTTPS to quote sources and AWS APIs".into(),
                ip_protocol: "tcp",
                from_port: 443,
                to_port: 443,
                cidr_ip: "0.0.0.0/0".into(),
            }],
            tags: tag(env, "scraper"),
        },
        Options::none(),
    )?;
    t.modify(endpoint_group, &[], |endpoints| {
        endpoints.security_group_ingress = vec![IngressRule {
            description: "HTTPS from the scraper".into(),
            ip_protocol: "tcp",
            from_port: 443,
            to_port: 443,
            cidr_ip: None,
            source_security_group_id: Some(group.reference()),
        }];
    });
    let configurations = shard_configurations(env, region.as_str())?;
    let user_data = user_data(env, params, stream, &configurations)?;
    let template = t.add(
        "ScraperLaunchTemplate",
        LaunchTemplate {
            launch_template_data: LaunchTemplateData {
                image_id: params.ami.reference(),
                instance_type: env.scraper.instance_type.clone(),
                iam_instance_profile: IamInstanceProfile { arn: profile.arn() },
                metadata_options: MetadataOptions {
                    http_tokens: "required",
                    http_endpoint: "enabled",
                    http_put_response_hop_limit: 1,
                    instance_metadata_tags: "enabled",
                },
                block_device_mappings: vec![BlockDeviceMapping {
                    device_name: "/dev/xvda",
                    ebs: Ebs {
                        encrypted: true,
                        kms_key_id: key.arn(),
                        volume_size: 8,
                        volume_type: "gp3",
                        delete_on_termination: true,
                    },
                }],
                security_group_ids: vec![group.reference()],
                monitoring: Monitoring { enabled: true },
                ebs_optimized: true,
                user_data: user_data.base64(),
            },
        },
        Options::none(),
    )?;
    // One group of one per shard. Each is replaced (new group first, old one deleted once the new
    // instance has signalled its first tick) when the launch template changes: binary, configuration
    // or AMI. Each shard waits for the one before it, so a rollout replaces one shard at a time and
    // the others keep scraping.
    let mut groups: Vec<Handle<AutoScalingGroup>> = Vec::new();
    for shard in Shard::all(env.scraper.instances) {
        let mut options = Options::none().replaced_after_signals(1, SIGNAL_TIMEOUT);
        if let Some(previous) = groups.last() {
            options = options.depends_on(previous);
        }
        let group = t.add(
            &shard_group_id(shard.index),
            AutoScalingGroup {
                launch_template: LaunchTemplateRef {
                    launch_template_id: template.reference(),
                    version: template.latest_version(),
                },
                min_size: "1".into(),
                max_size: "1".into(),
                desired_capacity: "1".into(),
                vpc_zone_identifier: subnets.iter().map(|s| s.reference()).collect(),
                health_check_type: "EC2",
                health_check_grace_period: HEALTH_CHECK_GRACE_SECONDS,
                tags: vec![
                    GroupTag {
                        key: "Name".into(),
                        value: Expr::lit(format!(
                            "mst-{}-scraper-{}",
                            env.name.as_str(),
                            shard.index
                        )),
                        propagate_at_launch: true,
                    },
                    GroupTag {
                        key: SHARD_TAG.into(),
                        value: Expr::lit(shard.index.to_string()),
                        propagate_at_launch: true,
                    },
                ],
            },
            options,
        )?;
        groups.push(group);
    }
    Ok(groups)
}

/// The logical id of shard `index`'s Auto Scaling group (the heartbeat signals it by this id).
pub fn shard_group_id(index: u32) -> String {
    format!("ScraperShard{index}")
}

/// The instance tag holding its shard index, read by the first boot from the metadata service.
pub const SHARD_TAG: &str = "mst-shard";

/// The CloudWatch namespace of the scraper's heartbeat metrics (dimensions `Environment`, `Shard`).
pub const HEARTBEAT_NAMESPACE: &str = "MyStockTracker/Scraper";

/// How long a new shard instance has to boot, install and tick before its group's creation (or
/// replacement) fails and CloudFormation rolls back.
const SIGNAL_TIMEOUT: &str = "PT15M";

/// Seconds after launch before EC2 status checks count against a new instance.
const HEALTH_CHECK_GRACE_SECONDS: u32 = 300;

/// Ticks without a heartbeat after which the heartbeat timer marks the instance unhealthy.
pub const STALE_TICKS: u32 = 4;

/// The heartbeat's age, in seconds, past which the instance is marked unhealthy: [`STALE_TICKS`]
/// intervals, and never less than three timer runs.
pub fn stale_seconds(interval_seconds: u32) -> u32 {
    (STALE_TICKS * interval_seconds).max(180)
}

/// The heartbeat timer's script, unit and timer (kept beside the scraper's code).
const HEARTBEAT_SCRIPT: &str =
    include_str!("../../../runtime/scraper/systemd/mystocktracker-heartbeat.sh");
const HEARTBEAT_SERVICE: &str =
    include_str!("../../../runtime/scraper/systemd/mystocktracker-heartbeat.service");
const HEARTBEAT_TIMER: &str =
    include_str!("../../../runtime/scraper/systemd/mystocktracker-heartbeat.timer");

/// The first-boot script: find the instance's shard (its tag), fetch the scraper (the pinned object
/// version, checking its SHA-256, which is its S3 key) and the shard's configuration (checking its
/// SHA-256, which is its key), put the stream's name in, install the hardened systemd unit and the
/// heartbeat timer, and start both.
fn user_data(
    env: &Environment,
    params: &Parameters,
    stream: &QuoteStream,
    configurations: &[ShardConfiguration],
) -> Result<Expr, BuildError> {
    let mut shard_keys = String::from("case \"$shard\" in\n");
    for configuration in configurations {
        shard_keys.push_str(&format!(
            "  {}) config_key=\"{}\" ;;\n",
            configuration.shard.index, configuration.key
        ));
    }
    shard_keys.push_str("  *) echo \"no configuration for shard '$shard'\" >&2; exit 1 ;;\nesac\n");
    Ok(Expr::concat([
        Expr::lit(
            "#!/bin/bash\n\
             # MyStockTracker scraper: installed once, at first boot.\n\
             set -euo pipefail\n\
             install -d -m 0755 /opt/mystocktracker /etc/mystocktracker\n\
             token=$(curl -sSf -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')\n\
             metadata() { curl -sSf -H \"X-aws-ec2-metadata-token: $token\" \"http://169.254.169.254/latest/meta-data/$1\"; }\n",
        ),
        Expr::lit(format!("shard=$(metadata tags/instance/{SHARD_TAG})\n")),
        Expr::lit("instance_id=$(metadata instance-id)\n"),
        Expr::lit(shard_keys),
        Expr::lit("key=\""),
        params.key(ArtifactParameter::Scraper)?,
        Expr::lit("\"\nversion=\""),
        params.version(ArtifactParameter::Scraper)?,
        Expr::lit("\"\nbucket=\""),
        params.artifacts_bucket.reference(),
        Expr::lit("\"\nregion=\""),
        pseudo::region(),
        Expr::lit(
            "\"\n# The object version the deployer verified: a later write to the key is not fetched.\n\
             aws s3api get-object --region \"$region\" --bucket \"$bucket\" --key \"$key\" --version-id \"$version\" /opt/mystocktracker/scraper.download > /dev/null\n\
             # The key is the binary's SHA-256: refuse anything else.\n\
             echo \"$(basename \"$key\" .bin)  /opt/mystocktracker/scraper.download\" | sha256sum --check --quiet\n\
             install -m 0755 /opt/mystocktracker/scraper.download /opt/mystocktracker/scraper\n\
             rm -f /opt/mystocktracker/scraper.download\n\
             # The shard's configuration, checked the same way: its key is its SHA-256.\n\
             aws s3api get-object --region \"$region\" --bucket \"$bucket\" --key \"$config_key\" /etc/mystocktracker/scraper.download > /dev/null\n\
             echo \"$(basename \"$config_key\" .json)  /etc/mystocktracker/scraper.download\" | sha256sum --check --quiet\n",
        ),
        Expr::lit(format!("sed 's/{STREAM_NAME_PLACEHOLDER}/")),
        stream.reference(),
        Expr::lit(
            "/' /etc/mystocktracker/scraper.download > /etc/mystocktracker/scraper.yaml\n\
             rm -f /etc/mystocktracker/scraper.download\n\
             chmod 0644 /etc/mystocktracker/scraper.yaml\n\
             cat > /etc/mystocktracker/heartbeat.env <<ENV\n\
             MST_ENVIRONMENT=",
        ),
        Expr::lit(env.name.as_str()),
        Expr::lit("\nMST_REGION=$region\nMST_STACK="),
        pseudo::stack_name(),
        Expr::lit(format!(
            "\nMST_SHARD=$shard\nMST_INSTANCE_ID=$instance_id\nMST_STALE_SECONDS={}\nMST_NAMESPACE={HEARTBEAT_NAMESPACE}\nENV\n",
            stale_seconds(env.scraper.interval_seconds)
        )),
        Expr::lit(format!(
            "cat > /opt/mystocktracker/heartbeat <<'SCRIPT'\n{HEARTBEAT_SCRIPT}SCRIPT\nchmod 0755 /opt/mystocktracker/heartbeat\n\
             cat > /etc/systemd/system/mystocktracker-heartbeat.service <<'UNIT'\n{HEARTBEAT_SERVICE}UNIT\n\
             cat > /etc/systemd/system/mystocktracker-heartbeat.timer <<'UNIT'\n{HEARTBEAT_TIMER}UNIT\n\
             cat > /etc/systemd/system/{SCRAPER_UNIT}.service <<'UNIT'\n{SYSTEMD_UNIT}UNIT\n\
             systemctl daemon-reload\n\
             systemctl enable --now {SCRAPER_UNIT}.service mystocktracker-heartbeat.timer\n",
        )),
    ]))
}
