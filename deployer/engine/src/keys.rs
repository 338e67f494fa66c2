//! The engine's KMS calls: whether a kept key can be adopted or is already pending deletion
//! (`DescribeKey`), `down --purge-data` scheduling a retained key's deletion, and the replica key
//! found by its alias (`ListAliases`). Direct JSON calls of [`aws_connect::json`] ([`KMS`]): KMS's
//! generated crate compiles every one of its operations for these three.
//!
//! [`KMS`]: aws_connect::json::KMS

use aws_connect::json::JsonClient;
use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;
use serde_json::{Value, json};

use crate::{Error, api_error};

/// A key as `DescribeKey` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The key id (not its ARN).
    pub id: String,
    /// Its state as KMS names it: `Enabled`, `Disabled`, `PendingDeletion`, ...
    pub state: String,
}

impl Key {
    /// Whether the key still encrypts and decrypts once enabled: not pending deletion, import or
    /// replica deletion, and not unavailable.
    pub fn is_usable(&self) -> bool {
        matches!(self.state.as_str(), "Enabled" | "Disabled")
    }

    /// Whether the key's deletion is already scheduled.
    pub fn is_pending_deletion(&self) -> bool {
        self.state == "PendingDeletion"
    }
}

/// `DescribeKey` of `key` (an id, ARN or alias); `None` when KMS does not know it.
pub async fn describe(kms: &JsonClient, key: &str) -> Result<Option<Key>, Error> {
    let answer = match kms.call("DescribeKey", json!({ "KeyId": key })).await {
        Ok(answer) => answer,
        Err(error) if error.code() == Some("NotFoundException") => return Ok(None),
        Err(error) => return Err(api_error(format!("DescribeKey {key}"), kms.region(), error)),
    };
    let metadata = &answer["KeyMetadata"];
    let text = |name: &str| metadata[name].as_str().unwrap_or_default().to_owned();
    Ok(Some(Key {
        id: text("KeyId"),
        state: text("KeyState"),
    }))
}

/// Schedules the deletion of `key` after `days` (7 to 30), during which it can still be cancelled.
pub async fn schedule_deletion(kms: &JsonClient, key: &str, days: u8) -> Result<(), Error> {
    kms.call(
        "ScheduleKeyDeletion",
        json!({ "KeyId": key, "PendingWindowInDays": days }),
    )
    .await
    .map_err(|e| api_error(format!("ScheduleKeyDeletion {key}"), kms.region(), e))?;
    Ok(())
}

/// The id of the key `alias` (`alias/...`) points at, following `ListAliases`' pages; `None` when
/// the alias does not exist or points at no key. (Not `DescribeKey` on the alias: moto 5.2.5 fails
/// it with a 500 for a key CloudFormation made.)
pub async fn alias_target(kms: &JsonClient, alias: &str) -> Result<Option<String>, Error> {
    let mut marker: Option<String> = None;
    loop {
        let input = match &marker {
            Some(marker) => json!({ "Marker": marker }),
            None => json!({}),
        };
        let page = kms.call("ListAliases", input).await.map_err(|e| {
            api_error(
                format!("ListAliases (looking for {alias})"),
                kms.region(),
                e,
            )
        })?;
        let aliases = page["Aliases"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if let Some(found) = aliases.iter().find(|a| a["AliasName"] == alias) {
            return Ok(found["TargetKeyId"].as_str().map(str::to_owned));
        }
        match page["NextMarker"].as_str() {
            Some(next) if page["Truncated"] == Value::Bool(true) && !next.is_empty() => {
                marker = Some(next.to_owned());
            }
            _ => return Ok(None),
        }
    }
}
