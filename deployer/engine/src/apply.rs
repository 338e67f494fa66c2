//! Executing a change set and waiting for the stack to settle, reporting events as they come.

use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::StackStatus;

use crate::change_set::{Plan, describe_stack};
use crate::error::{FailureStatus, ResourceFailure};
use crate::events::{EventCursor, StackEvent};
use crate::status::{Phase, phase};
use crate::{Error, api_error};

/// How a stack operation ended successfully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Final status (`CREATE_COMPLETE`, `UPDATE_COMPLETE`, `IMPORT_COMPLETE`, `DELETE_COMPLETE`).
    pub status: StackStatus,
    /// The stack's outputs.
    pub outputs: Vec<(String, String)>,
}

/// Executes `plan`'s change set and waits until the stack settles. On failure the wait goes on
/// through the rollback, and the error names the first resource that failed and why.
pub async fn execute(
    client: &Client,
    plan: &Plan,
    poll: Duration,
    on_event: &mut (dyn FnMut(&StackEvent) + Send),
) -> Result<Applied, Error> {
    let mut cursor = EventCursor::starting_now(client, &plan.region, &plan.stack).await?;
    client
        .execute_change_set()
        .stack_name(&plan.stack)
        .change_set_name(&plan.change_set_id)
        .send()
        .await
        .map_err(|e| api_error(format!("ExecuteChangeSet {}", plan.stack), &plan.region, e))?;
    wait(
        client,
        &plan.region,
        &plan.stack,
        &mut cursor,
        poll,
        on_event,
        Goal::Apply,
    )
    .await
}

/// What a wait expects the stack to reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// `CREATE_COMPLETE`, `UPDATE_COMPLETE` or `IMPORT_COMPLETE`.
    Apply,
    /// `DELETE_COMPLETE` (or gone).
    Delete,
}

/// Polls events and status until the stack is no longer in progress.
pub async fn wait(
    client: &Client,
    region: &str,
    stack: &str,
    cursor: &mut EventCursor,
    poll: Duration,
    on_event: &mut (dyn FnMut(&StackEvent) + Send),
    goal: Goal,
) -> Result<Applied, Error> {
    let mut failures: Vec<StackEvent> = Vec::new();
    loop {
        let mut report = |events: Vec<StackEvent>| {
            for event in events {
                if event.is_resource_failure() {
                    failures.push(event.clone());
                }
                on_event(&event);
            }
        };
        report(cursor.poll(client, region, stack).await.or_else(|e| {
            // A deleted stack's events can no longer be read by name: nothing more to report.
            if goal == Goal::Delete {
                Ok(Vec::new())
            } else {
                Err(e)
            }
        })?);
        let deployed = describe_stack(client, region, stack).await?;
        let (status, reason, outputs) = match deployed {
            None if goal == Goal::Delete => (StackStatus::DeleteComplete, None, Vec::new()),
            None => {
                return Err(Error::Other(format!(
                    "{stack} in {region} disappeared while deploying"
                )));
            }
            Some(d) => (d.status, d.reason, d.outputs),
        };
        let phase = phase(&status);
        // REVIEW_IN_PROGRESS: an executed create has not started yet.
        if matches!(phase, Phase::InProgress | Phase::ReviewOnly) {
            tokio::time::sleep(poll).await;
            continue;
        }
        let ok = match goal {
            Goal::Apply => phase == Phase::Complete,
            Goal::Delete => phase == Phase::Deleted,
        };
        if ok {
            return Ok(Applied { status, outputs });
        }
        let failure = failures
            .first()
            .map(|e| ResourceFailure {
                logical_id: e.logical_id.clone(),
                resource_type: e.resource_type.clone(),
                status: FailureStatus::Resource(e.status.clone()),
                reason: e.reason.clone().unwrap_or_default(),
            })
            .map(Box::new)
            .or_else(|| {
                reason
                    .map(|reason| ResourceFailure {
                        logical_id: stack.to_owned(),
                        resource_type: "AWS::CloudFormation::Stack".into(),
                        status: FailureStatus::Stack(status.clone()),
                        reason,
                    })
                    .map(Box::new)
            });
        return Err(Error::StackFailed {
            stack: stack.to_owned(),
            region: region.to_owned(),
            status,
            failure,
        });
    }
}
