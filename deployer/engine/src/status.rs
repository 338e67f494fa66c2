//! What is deployed: per stack, its status, last event and outputs.

use aws_sdk_cloudformation::Client;

use crate::Error;
use crate::change_set::describe_stack;
use crate::events::{self, StackEvent};

/// One stack's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackStatus {
    /// Stack name.
    pub stack: String,
    /// Its status, `None` when it is not deployed.
    pub status: Option<String>,
    /// Status reason.
    pub reason: Option<String>,
    /// The newest event.
    pub last_event: Option<StackEvent>,
    /// Outputs.
    pub outputs: Vec<(String, String)>,
}

impl StackStatus {
    /// True while an operation runs.
    pub fn in_progress(&self) -> bool {
        self.status
            .as_deref()
            .is_some_and(|s| s.ends_with("_IN_PROGRESS") && s != "REVIEW_IN_PROGRESS")
    }
}

/// Reads `stack`'s state.
pub async fn stack_status(
    client: &Client,
    region: &str,
    stack: &str,
) -> Result<StackStatus, Error> {
    let Some(deployed) = describe_stack(client, region, stack).await? else {
        return Ok(StackStatus {
            stack: stack.to_owned(),
            status: None,
            reason: None,
            last_event: None,
            outputs: Vec::new(),
        });
    };
    Ok(StackStatus {
        stack: stack.to_owned(),
        status: Some(deployed.status),
        reason: deployed.reason,
        last_event: events::latest(client, region, stack).await?,
        outputs: deployed.outputs,
    })
}
