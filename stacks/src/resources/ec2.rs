//! Amazon EC2 and VPC.

use serde::Serialize;

use super::{Tag, resource_types};
use crate::iam::PolicyDocument;
use crate::template::{Expr, Handle};

/// `AWS::EC2::VPC`: `Ref` is the VPC id.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Vpc {
    /// IPv4 range.
    pub cidr_block: String,
    /// DNS hostnames (needed for interface endpoints' private DNS).
    pub enable_dns_hostnames: bool,
    /// DNS resolution.
    pub enable_dns_support: bool,
    /// Name tag.
    pub tags: Vec<Tag>,
}

/// `AWS::EC2::Subnet`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subnet {
    /// The VPC.
    pub vpc_id: Expr,
    /// IPv4 range.
    pub cidr_block: String,
    /// Availability zone.
    pub availability_zone: Expr,
    /// Never: instances get public addresses only through the NAT gateway.
    pub map_public_ip_on_launch: bool,
    /// Name tag.
    pub tags: Vec<Tag>,
}

/// `AWS::EC2::InternetGateway`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InternetGateway {
    /// Name tag.
    pub tags: Vec<Tag>,
}

/// `AWS::EC2::VPCGatewayAttachment`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GatewayAttachment {
    /// The VPC.
    pub vpc_id: Expr,
    /// The internet gateway.
    pub internet_gateway_id: Expr,
}

/// `AWS::EC2::EIP` for the NAT gateway.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ElasticIp {
    /// `vpc`.
    pub domain: &'static str,
    /// Name tag.
    pub tags: Vec<Tag>,
}

/// `AWS::EC2::NatGateway`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NatGateway {
    /// The elastic IP's allocation id.
    pub allocation_id: Expr,
    /// The public subnet.
    pub subnet_id: Expr,
    /// Name tag.
    pub tags: Vec<Tag>,
}

/// `AWS::EC2::RouteTable`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RouteTable {
    /// The VPC.
    pub vpc_id: Expr,
    /// Name tag.
    pub tags: Vec<Tag>,
}

/// `AWS::EC2::Route`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Route {
    /// The table.
    pub route_table_id: Expr,
    /// Destination.
    pub destination_cidr_block: &'static str,
    /// Through an internet gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<Expr>,
    /// Through a NAT gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<Expr>,
}

/// `AWS::EC2::SubnetRouteTableAssociation`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubnetRouteTableAssociation {
    /// The table.
    pub route_table_id: Expr,
    /// The subnet.
    pub subnet_id: Expr,
}

/// `AWS::EC2::SecurityGroup`: `Ref` is the group id.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroup {
    /// What it protects.
    pub group_description: String,
    /// The VPC.
    pub vpc_id: Expr,
    /// Inbound rules.
    pub security_group_ingress: Vec<IngressRule>,
    /// Outbound rules.
    pub security_group_egress: Vec<EgressRule>,
    /// Name tag.
    pub tags: Vec<Tag>,
}

/// An inbound rule.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IngressRule {
    /// Why.
    pub description: String,
    /// `tcp`.
    pub ip_protocol: &'static str,
    /// First port.
    pub from_port: u16,
    /// Last port.
    pub to_port: u16,
    /// Source range (or a source security group).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_ip: Option<String>,
    /// Source security group (or a source range).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_security_group_id: Option<Expr>,
}

/// An outbound rule.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EgressRule {
    /// Why.
    pub description: String,
    /// `tcp` or `udp`.
    pub ip_protocol: &'static str,
    /// First port.
    pub from_port: u16,
    /// Last port.
    pub to_port: u16,
    /// Destination range.
    pub cidr_ip: String,
}

/// `AWS::EC2::VPCEndpoint`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpcEndpoint {
    /// The VPC.
    pub vpc_id: Expr,
    /// `com.amazonaws.<region>.<service>`.
    pub service_name: Expr,
    /// `Interface` or `Gateway`.
    pub vpc_endpoint_type: &'static str,
    /// Interface endpoints: where the network interfaces go.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subnet_ids: Vec<Expr>,
    /// Interface endpoints: their security groups.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_group_ids: Vec<Expr>,
    /// Interface endpoints: resolve the service's public name to the endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_dns_enabled: Option<bool>,
    /// Gateway endpoints: the route tables that get a route.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub route_table_ids: Vec<Expr>,
    /// What may pass through the endpoint.
    pub policy_document: PolicyDocument,
}

/// `AWS::EC2::LaunchTemplate`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LaunchTemplate {
    /// The instance settings.
    pub launch_template_data: LaunchTemplateData,
}

/// Instance settings.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LaunchTemplateData {
    /// AMI id.
    pub image_id: Expr,
    /// Instance type.
    pub instance_type: String,
    /// Instance profile.
    pub iam_instance_profile: IamInstanceProfile,
    /// Instance metadata service settings.
    pub metadata_options: MetadataOptions,
    /// Disks.
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    /// Security groups.
    pub security_group_ids: Vec<Expr>,
    /// Detailed monitoring.
    pub monitoring: Monitoring,
    /// EBS-optimized.
    pub ebs_optimized: bool,
    /// Base64 user data.
    pub user_data: Expr,
}

/// Instance profile reference.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IamInstanceProfile {
    /// Profile ARN.
    pub arn: Expr,
}

/// IMDS settings.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetadataOptions {
    /// `required`: IMDSv2 only.
    pub http_tokens: &'static str,
    /// `enabled`.
    pub http_endpoint: &'static str,
    /// 1: tokens do not leave the instance.
    pub http_put_response_hop_limit: u32,
    /// `enabled`: the instance reads its own tags (the scraper its shard) from the metadata service.
    pub instance_metadata_tags: &'static str,
}

/// A disk.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BlockDeviceMapping {
    /// `/dev/xvda`.
    pub device_name: &'static str,
    /// The volume.
    pub ebs: Ebs,
}

/// An EBS volume.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ebs {
    /// Encrypted at rest.
    pub encrypted: bool,
    /// KMS key.
    pub kms_key_id: Expr,
    /// GiB.
    pub volume_size: u32,
    /// `gp3`.
    pub volume_type: &'static str,
    /// Removed with the instance.
    pub delete_on_termination: bool,
}

/// Detailed monitoring.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Monitoring {
    /// On.
    pub enabled: bool,
}

/// `AWS::EC2::Instance` launched from a template.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Instance {
    /// The launch template and version.
    pub launch_template: LaunchTemplateRef,
    /// The image, repeated from the launch template; only for emulators (moto's instance handler
    /// requires `ImageId` and ignores the launch template's). Same value, so no effect on AWS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<Expr>,
    /// The subnet.
    pub subnet_id: Expr,
    /// Name tag.
    pub tags: Vec<Tag>,
}

/// A launch template version.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LaunchTemplateRef {
    /// Template id.
    pub launch_template_id: Expr,
    /// Version number.
    pub version: Expr,
}

/// `AWS::EC2::ClientVpnEndpoint`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientVpnEndpoint {
    /// What it is for.
    pub description: String,
    /// Addresses given to clients.
    pub client_cidr_block: String,
    /// ACM server certificate.
    pub server_certificate_arn: String,
    /// Mutual TLS.
    pub authentication_options: Vec<VpnAuthentication>,
    /// Connection logging.
    pub connection_log_options: ConnectionLogOptions,
    /// The VPC.
    pub vpc_id: Expr,
    /// Security groups of the endpoint's network interfaces.
    pub security_group_ids: Vec<Expr>,
    /// Only VPC traffic goes through the tunnel.
    pub split_tunnel: bool,
    /// `udp` or `tcp`.
    pub transport_protocol: &'static str,
    /// Hours before a client must reconnect.
    pub session_timeout_hours: u32,
    /// The client-connect handler that authorizes each new connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_connect_options: Option<ClientConnectOptions>,
    /// Tags given to the endpoint when it is created.
    pub tag_specifications: Vec<TagSpecification>,
}

/// The tags a resource is created with (`TagSpecifications`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagSpecification {
    /// The EC2 resource type, such as `client-vpn-endpoint`.
    pub resource_type: &'static str,
    /// The tags.
    pub tags: Vec<Tag>,
}

/// A Client VPN endpoint's client-connect handler.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientConnectOptions {
    /// Whether the handler is called.
    pub enabled: bool,
    /// The handler's ARN (a function named `AWSClientVPN-…`).
    pub lambda_function_arn: Expr,
}

/// One authentication option.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpnAuthentication {
    /// `certificate-authentication`.
    #[serde(rename = "Type")]
    pub kind: &'static str,
    /// Client certificate chain.
    pub mutual_authentication: MutualAuthentication,
}

/// Client certificate chain.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MutualAuthentication {
    /// ACM ARN of the client root certificate chain.
    pub client_root_certificate_chain_arn: String,
}

/// Connection logging.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionLogOptions {
    /// On.
    pub enabled: bool,
    /// Log group name.
    #[serde(rename = "CloudwatchLogGroup")]
    pub cloudwatch_log_group: Expr,
}

/// `AWS::EC2::ClientVpnTargetNetworkAssociation`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientVpnTargetNetworkAssociation {
    /// The endpoint.
    pub client_vpn_endpoint_id: Expr,
    /// The subnet.
    pub subnet_id: Expr,
}

/// `AWS::EC2::ClientVpnAuthorizationRule`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientVpnAuthorizationRule {
    /// Why.
    pub description: String,
    /// The endpoint.
    pub client_vpn_endpoint_id: Expr,
    /// Reachable range.
    pub target_network_cidr: String,
    /// Every authenticated client (certificate authentication has no groups).
    pub authorize_all_groups: bool,
}

/// `AWS::EC2::FlowLog` of a VPC to a CloudWatch Logs group.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlowLog {
    /// The VPC id.
    pub resource_id: Expr,
    /// `VPC`.
    pub resource_type: &'static str,
    /// `ALL`, `ACCEPT` or `REJECT`.
    pub traffic_type: &'static str,
    /// `cloud-watch-logs`.
    pub log_destination_type: &'static str,
    /// The log group's name.
    pub log_group_name: Expr,
    /// The role the flow logs service assumes to write to the group.
    pub deliver_logs_permission_arn: Expr,
    /// Seconds over which packets are aggregated into a record (60 or 600).
    pub max_aggregation_interval: u32,
    /// Name tag.
    pub tags: Vec<Tag>,
}

resource_types!(
    FlowLog => "AWS::EC2::FlowLog",
    Vpc => "AWS::EC2::VPC",
    Subnet => "AWS::EC2::Subnet",
    InternetGateway => "AWS::EC2::InternetGateway",
    GatewayAttachment => "AWS::EC2::VPCGatewayAttachment",
    ElasticIp => "AWS::EC2::EIP",
    NatGateway => "AWS::EC2::NatGateway",
    RouteTable => "AWS::EC2::RouteTable",
    Route => "AWS::EC2::Route",
    SubnetRouteTableAssociation => "AWS::EC2::SubnetRouteTableAssociation",
    SecurityGroup => "AWS::EC2::SecurityGroup",
    VpcEndpoint => "AWS::EC2::VPCEndpoint",
    LaunchTemplate => "AWS::EC2::LaunchTemplate",
    Instance => "AWS::EC2::Instance",
    ClientVpnEndpoint => "AWS::EC2::ClientVpnEndpoint",
    ClientVpnTargetNetworkAssociation => "AWS::EC2::ClientVpnTargetNetworkAssociation",
    ClientVpnAuthorizationRule => "AWS::EC2::ClientVpnAuthorizationRule",
);

impl Handle<ElasticIp> {
    /// The allocation id.
    pub fn allocation_id(&self) -> Expr {
        self.get_att("AllocationId")
    }
}

impl Handle<LaunchTemplate> {
    /// The newest version number.
    pub fn latest_version(&self) -> Expr {
        self.get_att("LatestVersionNumber")
    }
}

/// A `Name` tag.
pub fn name_tag(value: Expr) -> Vec<Tag> {
    vec![Tag {
        key: "Name".into(),
        value,
    }]
}
