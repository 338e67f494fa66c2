//! Drift detection: has anyone changed the deployed resources outside CloudFormation?

use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{
    StackDriftDetectionStatus, StackDriftStatus, StackResourceDriftStatus,
};

use crate::{Error, api_error};

/// A stack's drift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// `IN_SYNC`, `DRIFTED`, `NOT_CHECKED` or `UNKNOWN`.
    pub status: StackDriftStatus,
    /// Drifted resources: (logical id, type, `MODIFIED` or `DELETED`).
    pub drifted: Vec<(String, String, StackResourceDriftStatus)>,
}

/// Runs drift detection on `stack` and waits for its result.
pub async fn detect(
    client: &Client,
    region: &str,
    stack: &str,
    poll: Duration,
) -> Result<Drift, Error> {
    let id = client
        .detect_stack_drift()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| api_error(format!("DetectStackDrift {stack}"), region, e))?
        .stack_drift_detection_id()
        .unwrap_or_default()
        .to_owned();
    let status = loop {
        let status = client
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(&id)
            .send()
            .await
            .map_err(|e| {
                api_error(
                    format!("DescribeStackDriftDetectionStatus {stack}"),
                    region,
                    e,
                )
            })?;
        match status.detection_status() {
            Some(StackDriftDetectionStatus::DetectionComplete) => break status,
            Some(StackDriftDetectionStatus::DetectionInProgress) => tokio::time::sleep(poll).await,
            Some(StackDriftDetectionStatus::DetectionFailed) => {
                return Err(Error::Other(format!(
                    "drift detection of {stack} in {region} failed: {}",
                    status
                        .detection_status_reason()
                        .unwrap_or("no reason given")
                )));
            }
            // No status, or one newer than the SDK: not a result to report.
            other => {
                return Err(Error::Other(format!(
                    "drift detection of {stack} in {region} reported {}; run it again",
                    other.map_or("no status", StackDriftDetectionStatus::as_str)
                )));
            }
        }
    };
    let mut drifted = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .describe_stack_resource_drifts()
            .stack_name(stack)
            .stack_resource_drift_status_filters(StackResourceDriftStatus::Modified)
            .stack_resource_drift_status_filters(StackResourceDriftStatus::Deleted)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| api_error(format!("DescribeStackResourceDrifts {stack}"), region, e))?;
        for d in page.stack_resource_drifts() {
            // The filter asks for MODIFIED and DELETED only; a drift without a status is neither.
            let Some(how) = d.stack_resource_drift_status() else {
                continue;
            };
            drifted.push((
                d.logical_resource_id().unwrap_or_default().to_owned(),
                d.resource_type().unwrap_or_default().to_owned(),
                how.clone(),
            ));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok(Drift {
        status: status
            .stack_drift_status()
            .cloned()
            .unwrap_or(StackDriftStatus::UnknownValue),
        drifted,
    })
}
