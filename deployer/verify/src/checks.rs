//! The resource checks: each function's state and last update, the event source mapping, the
//! delivery stream's status and the Glue table, through their own service APIs.

use aws_connect::CallError;
use aws_connect::rest::{Get, segment};
use environment::Environment;
use lambda_contract::prefixes;
use stacks::pipeline::{Names, QUOTES_TABLE};

use crate::deployed::logical;
use crate::report::{Outcome, Row, Stage};
use crate::{Clients, Deployed};

/// Why a check cannot run on the emulator, for its row.
const EMULATED: &str =
    "the emulator's CloudFormation skips this resource type; `deployer run` emulates it";

/// Runs every check. On an emulator (`emulated`), the delivery stream and the Glue table are
/// reported as emulated by `deployer run`.
pub async fn run(
    clients: &Clients,
    env: &Environment,
    deployed: &Deployed,
    emulated: bool,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for function in [logical::TRANSFORM, logical::TO_PARQUET, logical::NOTIFY] {
        rows.push(function_state(clients, deployed, function).await);
    }
    rows.push(event_source_mapping(clients, deployed).await);
    if emulated {
        rows.push(Row::new(
            Stage::Check,
            "delivery stream",
            Outcome::Emulated,
            EMULATED,
        ));
        rows.push(Row::new(
            Stage::Check,
            "glue table",
            Outcome::Emulated,
            EMULATED,
        ));
    } else {
        rows.push(delivery_stream(clients, deployed).await);
        rows.push(glue_table(clients, env, deployed).await);
    }
    rows
}

fn failed(name: &str, problem: String, hint: &str) -> Row {
    Row::new(
        Stage::Check,
        name,
        Outcome::failed(problem.clone(), hint),
        problem,
    )
}

/// `GetFunction`: state `Active`, last update `Successful`.
pub async fn function_state(clients: &Clients, deployed: &Deployed, function: &str) -> Row {
    let name = format!("function {function}");
    let physical = match deployed.require(function) {
        Ok(p) => p,
        Err(problem) => return failed(&name, problem, "deploy the pipeline with `deployer up`"),
    };
    let request = Get::path(format!("/2015-03-31/functions/{}", segment(physical)));
    let out = match clients.lambda.call("GetFunction", request).await {
        Ok(out) => out,
        Err(e) => {
            let error = CallError::new(format!("GetFunction {physical}"), &clients.region, &e);
            return failed(
                &name,
                error.to_string(),
                "check that the function exists (`deployer status`) and that your credentials may call lambda:GetFunction",
            );
        }
    };
    let config = &out["Configuration"];
    let state = config["State"].as_str();
    let update = config["LastUpdateStatus"].as_str();
    let reason = config["StateReason"]
        .as_str()
        .or(config["LastUpdateStatusReason"].as_str())
        .unwrap_or("no reason given");
    let hint = "read the function's configuration in the Lambda console (state reason) and redeploy with `deployer up`";
    if state != Some("Active") {
        let state = state.unwrap_or("unknown");
        return failed(
            &name,
            format!("{physical} is {state}, expected Active ({reason})"),
            hint,
        );
    }
    match update {
        Some("Successful") => Row::new(
            Stage::Check,
            name,
            Outcome::Passed,
            "Active, last update Successful",
        ),
        // Functions never updated may not report it.
        None => Row::new(
            Stage::Check,
            name,
            Outcome::Passed,
            "Active (no update reported)",
        ),
        Some(other) => failed(
            &name,
            format!("{physical}'s last update is {other}, expected Successful ({reason})"),
            hint,
        ),
    }
}

/// `ListEventSourceMappings` of the transform function: one mapping from the quote stream,
/// `Enabled`.
pub async fn event_source_mapping(clients: &Clients, deployed: &Deployed) -> Row {
    let name = "event source mapping";
    let hint = "the transform Lambda reads the stream through this mapping: check it in the Lambda console (Triggers) and redeploy with `deployer up`";
    let (function, stream) = match (
        deployed.require(logical::TRANSFORM),
        deployed.require(logical::STREAM),
    ) {
        (Ok(f), Ok(s)) => (f, s),
        (Err(problem), _) | (_, Err(problem)) => return failed(name, problem, hint),
    };
    let request = Get::path("/2015-03-31/event-source-mappings/").query("FunctionName", function);
    let out = match clients
        .lambda
        .call("ListEventSourceMappings", request)
        .await
    {
        Ok(out) => out,
        Err(e) => {
            let error = CallError::new(
                format!("ListEventSourceMappings {function}"),
                &clients.region,
                &e,
            );
            return failed(name, error.to_string(), hint);
        }
    };
    // The stream's ARN ends in `:stream/<name>`.
    let suffix = format!(":stream/{stream}");
    let mappings = out["EventSourceMappings"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mapping = mappings.iter().find(|m| {
        m["EventSourceArn"]
            .as_str()
            .is_some_and(|a| a.ends_with(&suffix))
    });
    let Some(mapping) = mapping else {
        return failed(
            name,
            format!("{function} has no event source mapping from stream {stream}"),
            hint,
        );
    };
    match mapping["State"].as_str() {
        Some("Enabled") => Row::new(
            Stage::Check,
            name,
            Outcome::Passed,
            format!("{stream} -> {function}: Enabled"),
        ),
        other => failed(
            name,
            format!(
                "the mapping {stream} -> {function} is {}, expected Enabled ({})",
                other.unwrap_or("in no state"),
                mapping["StateTransitionReason"]
                    .as_str()
                    .or(mapping["LastProcessingResult"].as_str())
                    .unwrap_or("no reason given")
            ),
            hint,
        ),
    }
}

/// `DescribeDeliveryStream`: status `ACTIVE`.
pub async fn delivery_stream(clients: &Clients, deployed: &Deployed) -> Row {
    let name = "delivery stream";
    let hint = "Firehose lands the stream in the raw bucket: read the delivery stream's error in the Firehose console and redeploy with `deployer up`";
    let physical = match deployed.require(logical::DELIVERY_STREAM) {
        Ok(p) => p,
        Err(problem) => return failed(name, problem, hint),
    };
    let out = match clients
        .firehose
        .call(
            "DescribeDeliveryStream",
            serde_json::json!({ "DeliveryStreamName": physical }),
        )
        .await
    {
        Ok(out) => out,
        Err(e) => {
            let error = CallError::new(
                format!("DescribeDeliveryStream {physical}"),
                &clients.region,
                &e,
            );
            return failed(name, error.to_string(), hint);
        }
    };
    let description = &out["DeliveryStreamDescription"];
    match description["DeliveryStreamStatus"].as_str() {
        Some("ACTIVE") => Row::new(
            Stage::Check,
            name,
            Outcome::Passed,
            format!("{physical}: ACTIVE"),
        ),
        other => {
            let reason = description["FailureDescription"]["Details"]
                .as_str()
                .unwrap_or("no failure reported");
            failed(
                name,
                format!(
                    "{physical} is {}, expected ACTIVE ({reason})",
                    other.unwrap_or("unknown")
                ),
                hint,
            )
        }
    }
}

/// `GetTable`: the quotes table exists and its location is the curated prefix.
pub async fn glue_table(clients: &Clients, env: &Environment, deployed: &Deployed) -> Row {
    let name = "glue table";
    let hint = "Athena reads the curated Parquet through this table: check it in the Glue console and redeploy with `deployer up`";
    let database = Names::new(env).glue_database();
    let curated = match deployed.require(logical::CURATED_BUCKET) {
        Ok(b) => b,
        Err(problem) => return failed(name, problem, hint),
    };
    let expected = format!("s3://{curated}/{}", prefixes::QUOTES);
    let out = match clients
        .glue
        .call(
            "GetTable",
            serde_json::json!({ "DatabaseName": database, "Name": QUOTES_TABLE }),
        )
        .await
    {
        Ok(out) => out,
        Err(e) => {
            let error = CallError::new(
                format!("GetTable {database}.{QUOTES_TABLE}"),
                &clients.region,
                &e,
            );
            return failed(name, error.to_string(), hint);
        }
    };
    let location = out["Table"]["StorageDescriptor"]["Location"]
        .as_str()
        .unwrap_or_default();
    if location.trim_end_matches('/') == expected.trim_end_matches('/') {
        Row::new(
            Stage::Check,
            name,
            Outcome::Passed,
            format!("{database}.{QUOTES_TABLE} at {location}"),
        )
    } else {
        failed(
            name,
            format!("{database}.{QUOTES_TABLE} is at {location:?}, expected {expected}"),
            hint,
        )
    }
}
