//! EC2 Auto Scaling as the engine calls it: Query calls through `aws_connect::query` (no SDK crate,
//! so no SDK mocks), answered by `testkit::mocks::direct_config` in Auto Scaling's XML.

use std::sync::{Arc, Mutex};

use aws_connect::query::{AUTOSCALING, QueryClient};

/// A request's form parameters, name and value, in order.
pub type Form = Vec<(String, String)>;

/// An Auto Scaling client and the requests it answered.
#[derive(Debug, Clone)]
pub struct AutoScaling {
    /// The client the engine is given.
    pub client: QueryClient,
    asked: Arc<Mutex<Vec<Form>>>,
}

impl AutoScaling {
    /// The form parameters of each request answered so far, in order.
    pub fn requests(&self) -> Vec<Form> {
        self.asked.lock().unwrap().clone()
    }
}

/// The value of the form parameter `name` of a request (test values need no decoding).
pub fn param<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// Auto Scaling in `eu-west-1` answering each request's form parameters with `answer`: an HTTP
/// status and the XML body ([`groups_page`], [`error`]).
pub fn answering(
    answer: impl Fn(&[(String, String)]) -> (u16, String) + Send + Sync + 'static,
) -> AutoScaling {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&asked);
    let config = testkit::mocks::direct_config(move |request| {
        let form: Form = request
            .body
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        recorded.lock().unwrap().push(form.clone());
        answer(&form)
    });
    AutoScaling {
        client: QueryClient::new(&config, "eu-west-1", AUTOSCALING),
        asked,
    }
}

/// Auto Scaling that a test expects no call to: every request is refused.
pub fn unused() -> QueryClient {
    answering(|_| error("AccessDenied", "unexpected call")).client
}

/// One group of a `DescribeAutoScalingGroups` answer: its name and instances (id, lifecycle state,
/// health), with some of the other members Auto Scaling sends.
pub fn group(name: &str, instances: &[(&str, &str, &str)]) -> String {
    let instances: String = instances
        .iter()
        .map(|(id, lifecycle, health)| {
            format!(
                "<member><InstanceId>{id}</InstanceId><InstanceType>t4g.micro</InstanceType>\
                 <AvailabilityZone>eu-west-1a</AvailabilityZone><LifecycleState>{lifecycle}</LifecycleState>\
                 <HealthStatus>{health}</HealthStatus><ProtectedFromScaleIn>false</ProtectedFromScaleIn></member>"
            )
        })
        .collect();
    format!(
        "<member><AutoScalingGroupName>{name}</AutoScalingGroupName><MinSize>1</MinSize><MaxSize>1</MaxSize>\
         <AvailabilityZones><member>eu-west-1a</member></AvailabilityZones>\
         <Instances>{instances}</Instances><Tags/></member>"
    )
}

/// A `DescribeAutoScalingGroups` answer of `groups` ([`group`]), with `NextToken` when given.
pub fn groups_page(groups: &[String], next_token: Option<&str>) -> (u16, String) {
    let next = next_token
        .map(|token| format!("<NextToken>{token}</NextToken>"))
        .unwrap_or_default();
    let body = format!(
        "<?xml version=\"1.0\"?>\n<DescribeAutoScalingGroupsResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\
         <DescribeAutoScalingGroupsResult><AutoScalingGroups>{}</AutoScalingGroups>{next}</DescribeAutoScalingGroupsResult>\
         <ResponseMetadata><RequestId>7c6e177f-example</RequestId></ResponseMetadata>\
         </DescribeAutoScalingGroupsResponse>",
        groups.concat()
    );
    (200, body)
}

/// An Auto Scaling error answer (`ErrorResponse`) with `code` and `message`.
pub fn error(code: &str, message: &str) -> (u16, String) {
    let body = format!(
        "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><Error><Type>Sender</Type>\
         <Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
    );
    (403, body)
}
