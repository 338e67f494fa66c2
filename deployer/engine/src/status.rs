//! What is deployed: per stack, its status, last event and outputs; and what a CloudFormation stack
//! status means for the engine ([`phase`]).

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::StackStatus;

use crate::Error;
use crate::change_set::describe_stack;
use crate::events::{self, StackEvent};

/// Where a stack is in its life, as the engine acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// An operation is running: wait for it.
    InProgress,
    /// Only the holder of an unexecuted change set (`REVIEW_IN_PROGRESS`): deploying it is a create.
    ReviewOnly,
    /// A create, update or import completed.
    Complete,
    /// The last update or import failed and was rolled back; the stack can be updated.
    RolledBack,
    /// A failed first creation: it can only be deleted.
    FailedCreate,
    /// An operation failed and left the stack needing attention (`UPDATE_ROLLBACK_FAILED`,
    /// `DELETE_FAILED`, ...).
    Failed,
    /// Deleted.
    Deleted,
    /// A status this version of the SDK does not know, and not one in progress.
    Unknown,
}

impl Phase {
    /// True while an operation runs (not counting `REVIEW_IN_PROGRESS`, where nothing runs).
    pub fn in_progress(self) -> bool {
        self == Phase::InProgress
    }
}

/// What `status` means for the engine. A status newer than this SDK is in progress when its name
/// says so (`..._IN_PROGRESS`: waiting is the safe reading), else [`Phase::Unknown`], which nothing
/// treats as a success.
pub fn phase(status: &StackStatus) -> Phase {
    match status {
        StackStatus::CreateInProgress
        | StackStatus::DeleteInProgress
        | StackStatus::ImportInProgress
        | StackStatus::ImportRollbackInProgress
        | StackStatus::RollbackInProgress
        | StackStatus::UpdateCompleteCleanupInProgress
        | StackStatus::UpdateInProgress
        | StackStatus::UpdateRollbackCompleteCleanupInProgress
        | StackStatus::UpdateRollbackInProgress => Phase::InProgress,
        StackStatus::ReviewInProgress => Phase::ReviewOnly,
        StackStatus::CreateComplete | StackStatus::UpdateComplete | StackStatus::ImportComplete => {
            Phase::Complete
        }
        StackStatus::UpdateRollbackComplete | StackStatus::ImportRollbackComplete => {
            Phase::RolledBack
        }
        StackStatus::CreateFailed | StackStatus::RollbackComplete | StackStatus::RollbackFailed => {
            Phase::FailedCreate
        }
        StackStatus::DeleteFailed
        | StackStatus::ImportRollbackFailed
        | StackStatus::UpdateFailed
        | StackStatus::UpdateRollbackFailed => Phase::Failed,
        StackStatus::DeleteComplete => Phase::Deleted,
        // `StackStatus::Unknown(_)` (and variants added to the SDK later).
        unknown if unknown.as_str().ends_with("_IN_PROGRESS") => Phase::InProgress,
        _ => Phase::Unknown,
    }
}

/// One stack's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackState {
    /// Stack name.
    pub stack: String,
    /// Its status, `None` when it is not deployed.
    pub status: Option<StackStatus>,
    /// Status reason.
    pub reason: Option<String>,
    /// The newest event.
    pub last_event: Option<StackEvent>,
    /// Outputs.
    pub outputs: Vec<(String, String)>,
}

impl StackState {
    /// True while an operation runs.
    pub fn in_progress(&self) -> bool {
        self.status.as_ref().is_some_and(|s| phase(s).in_progress())
    }
}

/// Reads `stack`'s state.
pub async fn stack_status(client: &Client, region: &str, stack: &str) -> Result<StackState, Error> {
    let Some(deployed) = describe_stack(client, region, stack).await? else {
        return Ok(StackState {
            stack: stack.to_owned(),
            status: None,
            reason: None,
            last_event: None,
            outputs: Vec::new(),
        });
    };
    Ok(StackState {
        stack: stack.to_owned(),
        status: Some(deployed.status),
        reason: deployed.reason,
        last_event: events::latest(client, region, stack).await?,
        outputs: deployed.outputs,
    })
}

/// Every resource CloudFormation lists for `stack` (all pages), as `ListStackResources` gives them.
pub async fn stack_resources(
    client: &Client,
    region: &str,
    stack: &str,
) -> Result<Vec<aws_sdk_cloudformation::types::StackResourceSummary>, Error> {
    let mut resources = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_stack_resources()
            .stack_name(stack)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| crate::api_error(format!("ListStackResources {stack}"), region, e))?;
        resources.extend_from_slice(page.stack_resource_summaries());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(resources);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_what_the_engine_does_with_them() {
        assert_eq!(phase(&StackStatus::UpdateInProgress), Phase::InProgress);
        assert_eq!(
            phase(&StackStatus::UpdateRollbackCompleteCleanupInProgress),
            Phase::InProgress
        );
        assert_eq!(phase(&StackStatus::ReviewInProgress), Phase::ReviewOnly);
        assert!(!phase(&StackStatus::ReviewInProgress).in_progress());
        assert_eq!(phase(&StackStatus::ImportComplete), Phase::Complete);
        assert_eq!(
            phase(&StackStatus::UpdateRollbackComplete),
            Phase::RolledBack
        );
        assert_eq!(phase(&StackStatus::RollbackComplete), Phase::FailedCreate);
        assert_eq!(phase(&StackStatus::UpdateRollbackFailed), Phase::Failed);
        assert_eq!(phase(&StackStatus::DeleteComplete), Phase::Deleted);
    }

    #[test]
    fn statuses_newer_than_the_sdk_are_waited_for_or_unknown_never_complete() {
        assert_eq!(
            phase(&StackStatus::from("MIGRATE_IN_PROGRESS")),
            Phase::InProgress
        );
        assert_eq!(
            phase(&StackStatus::from("MIGRATE_COMPLETE")),
            Phase::Unknown
        );
    }
}
