//! Stack events: reading the ones that are new since an operation began, oldest first.

use std::collections::HashSet;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::primitives::DateTimeFormat;
use aws_sdk_cloudformation::types::ResourceStatus;

use crate::{Error, api_error};

/// One stack event, as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvent {
    /// CloudFormation's event id.
    pub id: String,
    /// RFC 3339 time.
    pub timestamp: String,
    /// Logical id (the stack's own name for stack-level events).
    pub logical_id: String,
    /// Resource type (`AWS::CloudFormation::Stack` for stack-level events).
    pub resource_type: String,
    /// Status, such as `CREATE_COMPLETE` (a stack-level event carries the stack's status).
    pub status: ResourceStatus,
    /// Status reason, when given.
    pub reason: Option<String>,
}

impl StackEvent {
    /// True for an event about the stack itself rather than one of its resources.
    pub fn is_stack_event(&self) -> bool {
        self.resource_type == "AWS::CloudFormation::Stack"
    }

    /// True when the status is a failure (`..._FAILED`).
    pub fn is_failure(&self) -> bool {
        match self.status {
            ResourceStatus::CreateFailed
            | ResourceStatus::DeleteFailed
            | ResourceStatus::ExportFailed
            | ResourceStatus::ExportRollbackFailed
            | ResourceStatus::ImportFailed
            | ResourceStatus::ImportRollbackFailed
            | ResourceStatus::RollbackFailed
            | ResourceStatus::UpdateFailed
            | ResourceStatus::UpdateRollbackFailed => true,
            // In-progress and complete statuses, and `ResourceStatus::Unknown(_)`: a status newer
            // than the SDK, read by its name.
            ref other => other.as_str().ends_with("_FAILED"),
        }
    }

    /// True when the status ends an operation on the resource successfully (`..._COMPLETE`,
    /// `DELETE_SKIPPED`), as progress counts it.
    pub fn is_complete(&self) -> bool {
        match self.status {
            ResourceStatus::CreateComplete
            | ResourceStatus::DeleteComplete
            | ResourceStatus::DeleteSkipped
            | ResourceStatus::ExportComplete
            | ResourceStatus::ExportRollbackComplete
            | ResourceStatus::ImportComplete
            | ResourceStatus::ImportRollbackComplete
            | ResourceStatus::RollbackComplete
            | ResourceStatus::UpdateComplete
            | ResourceStatus::UpdateRollbackComplete => true,
            // In-progress and failed statuses, and `ResourceStatus::Unknown(_)`: a status newer
            // than the SDK, read by its name.
            ref other => other.as_str().ends_with("_COMPLETE"),
        }
    }

    /// True for a failure of a resource, not counting cancellations caused by another failure.
    pub fn is_resource_failure(&self) -> bool {
        !self.is_stack_event()
            && self.is_failure()
            && !self
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("cancelled") || r.contains("canceled"))
    }
}

/// Remembers which events were already reported.
#[derive(Debug, Default)]
pub struct EventCursor {
    seen: HashSet<String>,
}

impl EventCursor {
    /// A cursor that treats every event already in the stack's history as seen, so only what
    /// happens from now on is reported.
    pub async fn starting_now(
        client: &Client,
        region: &str,
        stack: &str,
    ) -> Result<EventCursor, Error> {
        let mut cursor = EventCursor::default();
        // Only the newest page: older events cannot come back as new.
        match client
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await
        {
            Ok(page) => {
                for event in page.stack_events() {
                    cursor
                        .seen
                        .insert(event.event_id().unwrap_or_default().to_owned());
                }
            }
            Err(error) if is_missing_stack(&error) => {}
            Err(error) => {
                return Err(api_error(
                    format!("DescribeStackEvents {stack}"),
                    region,
                    error,
                ));
            }
        }
        Ok(cursor)
    }

    /// The events not reported yet, oldest first. Pages back only until a seen event.
    pub async fn poll(
        &mut self,
        client: &Client,
        region: &str,
        stack: &str,
    ) -> Result<Vec<StackEvent>, Error> {
        let mut fresh = Vec::new();
        let mut token: Option<String> = None;
        'pages: loop {
            let page = client
                .describe_stack_events()
                .stack_name(stack)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| api_error(format!("DescribeStackEvents {stack}"), region, e))?;
            for event in page.stack_events() {
                let id = event.event_id().unwrap_or_default().to_owned();
                if self.seen.contains(&id) {
                    break 'pages;
                }
                fresh.push(convert(event));
            }
            match page.next_token() {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        fresh.reverse();
        for event in &fresh {
            self.seen.insert(event.id.clone());
        }
        Ok(fresh)
    }
}

/// The newest event of a stack, if any.
pub async fn latest(
    client: &Client,
    region: &str,
    stack: &str,
) -> Result<Option<StackEvent>, Error> {
    let page = client
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| api_error(format!("DescribeStackEvents {stack}"), region, e))?;
    Ok(page.stack_events().first().map(convert))
}

fn convert(event: &aws_sdk_cloudformation::types::StackEvent) -> StackEvent {
    StackEvent {
        id: event.event_id().unwrap_or_default().to_owned(),
        timestamp: event
            .timestamp()
            .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
            .unwrap_or_default(),
        logical_id: event.logical_resource_id().unwrap_or_default().to_owned(),
        resource_type: event.resource_type().unwrap_or_default().to_owned(),
        // An event always has a status; an empty one is an unknown value, which counts as
        // neither a failure nor a completion.
        status: event
            .resource_status()
            .cloned()
            .unwrap_or_else(|| ResourceStatus::from("")),
        reason: event.resource_status_reason().map(str::to_owned),
    }
}

/// True when the error says the stack does not exist (CloudFormation's `ValidationError`).
pub fn is_missing_stack<E, R>(error: &aws_sdk_cloudformation::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_cloudformation::error::ProvideErrorMetadata,
{
    error.as_service_error().is_some_and(|e| {
        e.code() == Some("ValidationError")
            && e.message().is_some_and(|m| m.contains("does not exist"))
    })
}
