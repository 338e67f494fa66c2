//! CloudFormation intrinsics of the synthesized template resolved against the deployed stack:
//! `Ref`, `Fn::GetAtt`, `Fn::Sub` (both forms), `Fn::Join` and `Fn::Select`, with the pseudo
//! parameters, the stack's parameters and each resource's physical id as CloudFormation reported it
//! (`DescribeStackResources`). Attributes are derived from the physical id the way the service forms
//! them (a stream's ARN from its name, a queue's from its URL): moto's change-set stacks report no
//! outputs, and these are the documented ARN formats.

use std::collections::BTreeMap;

use serde_json::Value;

/// A deployed resource: its type and physical id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// Such as `AWS::Kinesis::Stream`.
    pub resource_type: String,
    /// What `Ref` returns (a name, URL or ARN, depending on the type).
    pub physical_id: String,
}

/// Why a value could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// `Ref` or `Fn::GetAtt` names a logical id the deployed stack does not have.
    #[error(
        "`{0}` is not a resource of the deployed stack nor a parameter: run `deployer up` for this environment first"
    )]
    Unknown(String),
    /// The resource exists but the emulator did not create it (moto reports the physical id `None`
    /// for types it skips).
    #[error(
        "`{0}` was not created by the emulator (it skips this resource type): the local run must provide it"
    )]
    NotCreated(String),
    /// An attribute this resolver does not know how to form.
    #[error("`Fn::GetAtt` {0}.{1} of a {2} is not supported by the local run")]
    Attribute(String, String, String),
    /// An intrinsic this resolver does not implement, or a malformed one.
    #[error("cannot resolve {0}")]
    Unsupported(String),
}

/// Resolves template values against one deployed stack.
#[derive(Debug, Clone)]
pub struct Resolver {
    account: String,
    region: String,
    stack_name: String,
    parameters: BTreeMap<String, String>,
    resources: BTreeMap<String, Deployed>,
}

impl Resolver {
    /// A resolver for `stack_name` in `account` and `region`, with the stack's parameter values and
    /// its resources (logical id → deployed resource).
    pub fn new(
        account: impl Into<String>,
        region: impl Into<String>,
        stack_name: impl Into<String>,
        parameters: BTreeMap<String, String>,
        resources: BTreeMap<String, Deployed>,
    ) -> Self {
        Self {
            account: account.into(),
            region: region.into(),
            stack_name: stack_name.into(),
            parameters,
            resources,
        }
    }

    /// The deployed resources, by logical id.
    pub fn resources(&self) -> &BTreeMap<String, Deployed> {
        &self.resources
    }

    /// Replaces a resource's physical id: the local run's stand-in for a resource the emulator
    /// skipped (the InfluxDB token secret).
    pub fn provide(&mut self, logical_id: &str, resource_type: &str, physical_id: String) {
        self.resources.insert(
            logical_id.to_owned(),
            Deployed {
                resource_type: resource_type.to_owned(),
                physical_id,
            },
        );
    }

    /// The account id.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The value of `value` as text (numbers and booleans as CloudFormation passes them to string
    /// properties).
    pub fn resolve(&self, value: &Value) -> Result<String, ResolveError> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Object(map) if map.len() == 1 => {
                let (name, arg) = map.iter().next().ok_or_else(|| unsupported(value))?;
                match (name.as_str(), arg) {
                    ("Ref", Value::String(id)) => self.reference(id),
                    ("Fn::GetAtt", Value::Array(parts)) => match parts.as_slice() {
                        [Value::String(id), Value::String(attr)] => self.attribute(id, attr),
                        _ => Err(unsupported(value)),
                    },
                    ("Fn::GetAtt", Value::String(dotted)) => {
                        let (id, attr) =
                            dotted.split_once('.').ok_or_else(|| unsupported(value))?;
                        self.attribute(id, attr)
                    }
                    ("Fn::Sub", Value::String(body)) => self.substitute(body, &BTreeMap::new()),
                    ("Fn::Sub", Value::Array(parts)) => match parts.as_slice() {
                        [Value::String(body), Value::Object(vars)] => {
                            let vars = vars
                                .iter()
                                .map(|(k, v)| Ok((k.clone(), self.resolve(v)?)))
                                .collect::<Result<_, ResolveError>>()?;
                            self.substitute(body, &vars)
                        }
                        _ => Err(unsupported(value)),
                    },
                    ("Fn::Join", Value::Array(parts)) => match parts.as_slice() {
                        [Value::String(separator), Value::Array(items)] => Ok(items
                            .iter()
                            .map(|item| self.resolve(item))
                            .collect::<Result<Vec<_>, _>>()?
                            .join(separator)),
                        _ => Err(unsupported(value)),
                    },
                    ("Fn::Select", Value::Array(parts)) => match parts.as_slice() {
                        [index, Value::Array(items)] => {
                            let index: usize = self
                                .resolve(index)?
                                .parse()
                                .map_err(|_| unsupported(value))?;
                            items
                                .get(index)
                                .map(|item| self.resolve(item))
                                .ok_or_else(|| unsupported(value))?
                        }
                        _ => Err(unsupported(value)),
                    },
                    _ => Err(unsupported(value)),
                }
            }
            _ => Err(unsupported(value)),
        }
    }

    /// The resolver in the shape the Firehose emulation (`local_firehose::DeliveryConfig::
    /// from_resource`) takes: an intrinsic to its physical value, `None` when it cannot be resolved.
    pub fn as_fn(&self) -> impl Fn(&Value) -> Option<String> + '_ {
        move |value| self.resolve(value).ok()
    }

    fn reference(&self, id: &str) -> Result<String, ResolveError> {
        match id {
            "AWS::AccountId" => return Ok(self.account.clone()),
            "AWS::Region" => return Ok(self.region.clone()),
            "AWS::Partition" => return Ok("aws".to_owned()),
            "AWS::URLSuffix" => return Ok("amazonaws.com".to_owned()),
            "AWS::StackName" => return Ok(self.stack_name.clone()),
            _ => {}
        }
        if let Some(value) = self.parameters.get(id) {
            return Ok(value.clone());
        }
        let deployed = self.deployed(id)?;
        Ok(deployed.physical_id.clone())
    }

    fn deployed(&self, id: &str) -> Result<&Deployed, ResolveError> {
        let deployed = self
            .resources
            .get(id)
            .ok_or_else(|| ResolveError::Unknown(id.to_owned()))?;
        if deployed.physical_id.is_empty() || deployed.physical_id == "None" {
            return Err(ResolveError::NotCreated(id.to_owned()));
        }
        Ok(deployed)
    }

    fn attribute(&self, id: &str, attr: &str) -> Result<String, ResolveError> {
        let deployed = self.deployed(id)?;
        let physical = deployed.physical_id.as_str();
        let (account, region) = (self.account.as_str(), self.region.as_str());
        let last_segment = |text: &str| text.rsplit('/').next().unwrap_or(text).to_owned();
        let value = match (deployed.resource_type.as_str(), attr) {
            ("AWS::Kinesis::Stream", "Arn") => {
                format!("arn:aws:kinesis:{region}:{account}:stream/{physical}")
            }
            ("AWS::S3::Bucket", "Arn") => format!("arn:aws:s3:::{physical}"),
            ("AWS::SQS::Queue", "Arn") => {
                format!("arn:aws:sqs:{region}:{account}:{}", last_segment(physical))
            }
            ("AWS::SQS::Queue", "QueueUrl") => physical.to_owned(),
            ("AWS::SQS::Queue", "QueueName") => last_segment(physical),
            ("AWS::SNS::Topic", "TopicArn") => physical.to_owned(),
            ("AWS::SNS::Topic", "TopicName") => {
                physical.rsplit(':').next().unwrap_or(physical).to_owned()
            }
            ("AWS::Lambda::Function", "Arn") => {
                format!("arn:aws:lambda:{region}:{account}:function:{physical}")
            }
            ("AWS::KMS::Key", "Arn") => format!("arn:aws:kms:{region}:{account}:key/{physical}"),
            ("AWS::KMS::Key", "KeyId") => physical.to_owned(),
            ("AWS::IAM::Role", "Arn") => format!("arn:aws:iam::{account}:role/{physical}"),
            ("AWS::Logs::LogGroup", "Arn") => {
                format!("arn:aws:logs:{region}:{account}:log-group:{physical}:*")
            }
            ("AWS::SecretsManager::Secret", "Id") => physical.to_owned(),
            (kind, _) => {
                return Err(ResolveError::Attribute(
                    id.to_owned(),
                    attr.to_owned(),
                    kind.to_owned(),
                ));
            }
        };
        Ok(value)
    }

    /// `Fn::Sub`: `${Name}`, `${Name.Attribute}` and `${!Literal}` (which stays `${Literal}`).
    fn substitute(
        &self,
        body: &str,
        vars: &BTreeMap<String, String>,
    ) -> Result<String, ResolveError> {
        let mut out = String::with_capacity(body.len());
        let mut rest = body;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| ResolveError::Unsupported(format!("Fn::Sub {body:?}")))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = vars.get(name) {
                out.push_str(value);
            } else if let Some((id, attr)) = name.split_once('.')
                && !name.starts_with("AWS::")
            {
                out.push_str(&self.attribute(id, attr)?);
            } else {
                out.push_str(&self.reference(name)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn unsupported(value: &Value) -> ResolveError {
    ResolveError::Unsupported(value.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use serde_json::json;

    use super::*;

    fn resolver() -> Resolver {
        let deployed = |t: &str, p: &str| Deployed {
            resource_type: t.to_owned(),
            physical_id: p.to_owned(),
        };
        Resolver::new(
            "123456789012",
            "us-east-1",
            "mst-local-pipeline",
            BTreeMap::from([("TransformCodeKey".to_owned(), "transform/ab.zip".to_owned())]),
            BTreeMap::from([
                (
                    "QuoteStream".to_owned(),
                    deployed("AWS::Kinesis::Stream", "s-1"),
                ),
                (
                    "FailedEventsQueue".to_owned(),
                    deployed("AWS::SQS::Queue", "http://127.0.0.1:5000/123456789012/q-1"),
                ),
                (
                    "InfluxTokenSecret".to_owned(),
                    deployed("AWS::SecretsManager::Secret", "None"),
                ),
            ]),
        )
    }

    #[test]
    fn intrinsics_resolve_against_the_deployed_stack() {
        let r = resolver();
        assert_eq!(r.resolve(&json!({"Ref": "QuoteStream"})).unwrap(), "s-1");
        assert_eq!(
            r.resolve(&json!({"Ref": "TransformCodeKey"})).unwrap(),
            "transform/ab.zip"
        );
        assert_eq!(
            r.resolve(&json!({"Fn::GetAtt": ["QuoteStream", "Arn"]}))
                .unwrap(),
            "arn:aws:kinesis:us-east-1:123456789012:stream/s-1"
        );
        assert_eq!(
            r.resolve(&json!({"Fn::GetAtt": ["FailedEventsQueue", "Arn"]}))
                .unwrap(),
            "arn:aws:sqs:us-east-1:123456789012:q-1"
        );
        assert_eq!(
            r.resolve(&json!({"Fn::Sub": "mst-${AWS::AccountId}-${AWS::Region}-${QuoteStream}/${!Literal}/${FailedEventsQueue.QueueName}"}))
                .unwrap(),
            "mst-123456789012-us-east-1-s-1/${Literal}/q-1"
        );
        assert_eq!(
            r.resolve(
                &json!({"Fn::Sub": ["${A}:${AWS::Partition}", {"A": {"Ref": "QuoteStream"}}]})
            )
            .unwrap(),
            "s-1:aws"
        );
        assert_eq!(
            r.resolve(&json!({"Fn::Join": ["/", ["a", {"Ref": "AWS::StackName"}]]}))
                .unwrap(),
            "a/mst-local-pipeline"
        );
        assert_eq!(r.resolve(&json!(3)).unwrap(), "3");
    }

    #[test]
    fn what_cannot_be_resolved_says_why() {
        let r = resolver();
        assert_eq!(
            r.resolve(&json!({"Ref": "Nope"})),
            Err(ResolveError::Unknown("Nope".into()))
        );
        assert_eq!(
            r.resolve(&json!({"Ref": "InfluxTokenSecret"})),
            Err(ResolveError::NotCreated("InfluxTokenSecret".into()))
        );
        assert!(matches!(
            r.resolve(&json!({"Fn::GetAtt": ["QuoteStream", "ConsumerArn"]})),
            Err(ResolveError::Attribute(..))
        ));
        assert!(matches!(
            r.resolve(&json!({"Fn::ImportValue": "x"})),
            Err(ResolveError::Unsupported(_))
        ));
        let f = r.as_fn();
        assert_eq!(f(&json!({"Ref": "QuoteStream"})).as_deref(), Some("s-1"));
        assert_eq!(f(&json!({"Ref": "Nope"})), None);
    }
}
