//! What is deployed in the region: the pipeline stack's resources by logical id (CloudFormation's
//! `ListStackResources`; stack outputs are not used, as an emulator may not report them).

use std::collections::BTreeMap;

use aws_connect::CallError;
use environment::Environment;
use stacks::pipeline::{Names, StackKind};

use crate::{Clients, VerifyError};

/// The logical ids of the pipeline template that `verify` reads (`stacks::pipeline` names them;
/// a test checks each is in the synthesized template).
pub mod logical {
    /// The transform Lambda.
    pub const TRANSFORM: &str = "Transform";
    /// The to-parquet Lambda.
    pub const TO_PARQUET: &str = "ToParquet";
    /// The notify Lambda.
    pub const NOTIFY: &str = "Notify";
    /// The Kinesis quote stream.
    pub const STREAM: &str = "QuoteStream";
    /// The raw bucket.
    pub const RAW_BUCKET: &str = "RawBucket";
    /// The curated bucket.
    pub const CURATED_BUCKET: &str = "CuratedBucket";
    /// The alert topic.
    pub const TOPIC: &str = "AlertTopic";
    /// The InfluxDB token's secret.
    pub const INFLUX_TOKEN: &str = "InfluxTokenSecret";
    /// The Firehose delivery stream.
    pub const DELIVERY_STREAM: &str = "RawDeliveryStream";
    /// Every id above.
    pub const ALL: &[&str] = &[
        TRANSFORM,
        TO_PARQUET,
        NOTIFY,
        STREAM,
        RAW_BUCKET,
        CURATED_BUCKET,
        TOPIC,
        INFLUX_TOKEN,
        DELIVERY_STREAM,
    ];
}

/// The pipeline stack's resources: logical id to physical id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployed {
    /// The stack's name.
    pub stack: String,
    /// Logical id to physical id, for every resource CloudFormation lists (an emulator leaves out
    /// the types it skips, or lists them with the physical id `None`).
    pub resources: BTreeMap<String, String>,
}

impl Deployed {
    /// Reads the pipeline stack's resources of `env` in the clients' region.
    pub async fn find(clients: &Clients, env: &Environment) -> Result<Deployed, VerifyError> {
        let stack = Names::new(env).stack(StackKind::Pipeline);
        let mut resources = BTreeMap::new();
        let mut next: Option<String> = None;
        loop {
            let page = match clients
                .cloudformation
                .list_stack_resources()
                .stack_name(&stack)
                .set_next_token(next.take())
                .send()
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    let error =
                        CallError::new(format!("ListStackResources {stack}"), &clients.region, &e);
                    if missing_stack(&error) {
                        return Err(VerifyError::NotDeployed {
                            stack,
                            region: clients.region.clone(),
                            env: env.name.as_str().to_owned(),
                        });
                    }
                    return Err(error.into());
                }
            };
            for r in page.stack_resource_summaries() {
                if let (Some(logical), Some(physical)) =
                    (r.logical_resource_id(), r.physical_resource_id())
                {
                    resources.insert(logical.to_owned(), physical.to_owned());
                }
            }
            match page.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => break,
            }
        }
        Ok(Deployed { stack, resources })
    }

    /// The physical id of `logical`, unless it is absent or an emulator's placeholder (`None`).
    pub fn get(&self, logical: &str) -> Option<&str> {
        self.resources
            .get(logical)
            .map(String::as_str)
            .filter(|p| !p.is_empty() && *p != "None")
    }

    /// The physical id of `logical`, or a sentence saying it is missing.
    pub fn require(&self, logical: &str) -> Result<&str, String> {
        self.get(logical).ok_or_else(|| {
            format!(
                "{logical} is not among the resources of stack {}: the stack is incomplete (run `deployer status` and `deployer up`)",
                self.stack
            )
        })
    }
}

/// CloudFormation answers `ValidationError: Stack with id X does not exist` for a missing stack.
fn missing_stack(error: &CallError) -> bool {
    matches!(
        &error.failure,
        aws_connect::Failure::Service { message: Some(m), .. } if m.contains("does not exist")
    )
}
