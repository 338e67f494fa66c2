//! The resource checks and the whole run's reporting over SDK-level mocks (`aws-smithy-mocks`):
//! what AWS answers for a healthy pipeline passes; each broken resource is the row named, with
//! what was expected; an emulator's skipped types are reported as emulated.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use aws_sdk_cloudformation::operation::list_stack_resources::ListStackResourcesOutput;
use aws_sdk_cloudformation::types::{ResourceStatus, StackResourceSummary};
use aws_smithy_mocks::{Rule, mock};
use environment::Environment;
use verify::deployed::logical;
use verify::{Clients, Deployed, Outcome, VerifyError, checks};

/// Builds a client of any service crate over mock rules.
macro_rules! client {
    ($krate:ident, $rules:expr) => {
        testkit::mock_client!($krate, $rules, |c: $krate::config::Builder| c.retry_config(
            $krate::config::retry::RetryConfig::standard().with_max_attempts(1)
        ))
    };
}

const STREAM: &str = "mst-prod-pipeline-QuoteStream-1";
const CURATED: &str = "mst-prod-curated-444455556666-eu-west-1";

fn env() -> Environment {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    environment::load(&root.join("environments/prod.yaml")).unwrap()
}

fn deployed() -> Deployed {
    Deployed {
        stack: "mst-prod-pipeline".into(),
        resources: BTreeMap::from(
            [
                (logical::TRANSFORM, "mst-prod-Transform-1"),
                (logical::TO_PARQUET, "mst-prod-ToParquet-1"),
                (logical::NOTIFY, "mst-prod-Notify-1"),
                (logical::STREAM, STREAM),
                (logical::CURATED_BUCKET, CURATED),
                (logical::DELIVERY_STREAM, "mst-prod-RawDeliveryStream-1"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        ),
    }
}

/// What a healthy pipeline's services answer; `broken` replaces one answer.
struct Answers {
    /// The functions' `State` and `LastUpdateStatus`, as Lambda's JSON spells them.
    function_state: &'static str,
    last_update: &'static str,
    mapping_state: &'static str,
    /// The delivery stream's `DeliveryStreamStatus`, as Firehose's JSON spells it.
    delivery: &'static str,
    table_location: Option<String>,
}

impl Default for Answers {
    fn default() -> Self {
        Answers {
            function_state: "Active",
            last_update: "Successful",
            mapping_state: "Enabled",
            delivery: "ACTIVE",
            table_location: Some(format!("s3://{CURATED}/quotes/")),
        }
    }
}

fn clients(a: Answers) -> Clients {
    // Lambda's GetFunction and ListEventSourceMappings, REST-JSON reads of `aws_connect` (no SDK
    // crate): answered as Lambda does, the mappings for the transform function only.
    let (state, update, mapping_state) = (a.function_state, a.last_update, a.mapping_state);
    let lambda = testkit::mocks::direct_config(move |request| {
        let not_found = || {
            let body = serde_json::json!({
                "Type": "User",
                "message": format!("Function not found: {}", request.path)
            });
            (404, body.to_string())
        };
        if request.method != "GET" {
            return not_found();
        }
        if let Some(function) = request.path.strip_prefix("/2015-03-31/functions/") {
            let configuration = serde_json::json!({
                "FunctionName": function,
                "State": state,
                "StateReason": "The function's role cannot be assumed",
                "LastUpdateStatus": update,
            });
            return (
                200,
                serde_json::json!({ "Configuration": configuration }).to_string(),
            );
        }
        if request.path == "/2015-03-31/event-source-mappings/?FunctionName=mst-prod-Transform-1" {
            let mapping = serde_json::json!({
                "EventSourceArn": format!("arn:aws:kinesis:eu-west-1:444455556666:stream/{STREAM}"),
                "State": mapping_state,
                "StateTransitionReason": "USER_INITIATED",
            });
            return (
                200,
                serde_json::json!({ "EventSourceMappings": [mapping] }).to_string(),
            );
        }
        not_found()
    });
    // Firehose's DescribeDeliveryStream, a JSON call of `aws_connect` (no SDK crate): answered as
    // Firehose does, for our delivery stream only.
    let delivery = a.delivery;
    let firehose = testkit::mocks::direct_config(move |request| {
        let asked: serde_json::Value = serde_json::from_str(&request.body).unwrap_or_default();
        if request.target.as_deref() == Some("Firehose_20150804.DescribeDeliveryStream")
            && asked["DeliveryStreamName"] == "mst-prod-RawDeliveryStream-1"
        {
            (
                200,
                serde_json::json!({
                    "DeliveryStreamDescription": {
                        "DeliveryStreamName": "mst-prod-RawDeliveryStream-1",
                        "DeliveryStreamARN": "arn:aws:firehose:eu-west-1:444455556666:deliverystream/x",
                        "DeliveryStreamStatus": delivery,
                        "DeliveryStreamType": "KinesisStreamAsSource",
                        "VersionId": "1",
                        "Destinations": [],
                        "HasMoreDestinations": false
                    }
                })
                .to_string(),
            )
        } else {
            (
                400,
                serde_json::json!({
                    "__type": "ResourceNotFoundException",
                    "message": "Firehose stream not found."
                })
                .to_string(),
            )
        }
    });
    // Glue's GetTable, a JSON call of `aws_connect` (no SDK crate): answered as Glue does, the
    // table only for the quotes table of `mst_prod`.
    let table_location = a.table_location;
    let glue = testkit::mocks::direct_config(move |request| {
        let asked: serde_json::Value = serde_json::from_str(&request.body).unwrap_or_default();
        let ours = request.target.as_deref() == Some("AWSGlue.GetTable")
            && asked["DatabaseName"] == "mst_prod"
            && asked["Name"] == "quotes";
        match (&table_location, ours) {
            (Some(location), true) => (
                200,
                serde_json::json!({
                    "Table": {
                        "Name": "quotes",
                        "DatabaseName": "mst_prod",
                        "StorageDescriptor": { "Location": location }
                    }
                })
                .to_string(),
            ),
            _ => (
                400,
                serde_json::json!({
                    "__type": "EntityNotFoundException",
                    "Message": "Table quotes not found."
                })
                .to_string(),
            ),
        }
    });
    let no_rules: [&Rule; 0] = [];
    Clients {
        region: "eu-west-1".into(),
        cloudformation: client!(aws_sdk_cloudformation, no_rules),
        lambda: aws_connect::rest::RestClient::new(&lambda, "eu-west-1", aws_connect::rest::LAMBDA),
        kinesis: client!(aws_sdk_kinesis, no_rules),
        firehose: aws_connect::json::JsonClient::new(
            &firehose,
            "eu-west-1",
            aws_connect::json::FIREHOSE,
        ),
        glue: aws_connect::json::JsonClient::new(&glue, "eu-west-1", aws_connect::json::GLUE),
        s3: client!(aws_sdk_s3, no_rules),
        secrets: client!(aws_sdk_secretsmanager, no_rules),
        http: verify::clients::http_client(),
        emulator_endpoint: None,
    }
}

fn summary(rows: &[verify::Row]) -> Vec<(String, bool)> {
    rows.iter()
        .map(|r| (r.name.clone(), r.outcome == Outcome::Passed))
        .collect()
}

fn failure(rows: &[verify::Row], name: &str) -> String {
    let failed: Vec<&verify::Row> = rows
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed { .. }))
        .collect();
    assert_eq!(failed.len(), 1, "exactly one broken row: {rows:#?}");
    assert_eq!(failed[0].name, name);
    match &failed[0].outcome {
        Outcome::Failed { problem, hint } => {
            assert!(!hint.is_empty());
            problem.clone()
        }
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn a_healthy_pipeline_passes_every_check() {
    let rows = checks::run(&clients(Answers::default()), &env(), &deployed(), false).await;
    assert_eq!(
        summary(&rows),
        [
            ("function Transform".to_owned(), true),
            ("function ToParquet".to_owned(), true),
            ("function Notify".to_owned(), true),
            ("event source mapping".to_owned(), true),
            ("delivery stream".to_owned(), true),
            ("glue table".to_owned(), true),
        ]
    );
    assert_eq!(rows[4].detail, "mst-prod-RawDeliveryStream-1: ACTIVE");
    assert_eq!(
        rows[5].detail,
        format!("mst_prod.quotes at s3://{CURATED}/quotes/")
    );
}

#[tokio::test]
async fn each_broken_resource_is_the_row_named_with_what_was_expected() {
    let env = env();
    let failed_function = checks::function_state(
        &clients(Answers {
            function_state: "Failed",
            ..Answers::default()
        }),
        &deployed(),
        logical::NOTIFY,
    )
    .await;
    assert_eq!(
        failed_function.outcome,
        Outcome::failed(
            "mst-prod-Notify-1 is Failed, expected Active (The function's role cannot be assumed)",
            "read the function's configuration in the Lambda console (state reason) and redeploy with `deployer up`"
        )
    );
    let rows = checks::run(
        &clients(Answers {
            last_update: "Failed",
            ..Answers::default()
        }),
        &env,
        &deployed(),
        false,
    )
    .await;
    assert_eq!(
        rows.iter().filter(|r| r.outcome != Outcome::Passed).count(),
        3,
        "all three functions"
    );
    assert!(
        failure(&rows[..1], "function Transform")
            .contains("last update is Failed, expected Successful")
    );

    let rows = checks::run(
        &clients(Answers {
            mapping_state: "Disabled",
            ..Answers::default()
        }),
        &env,
        &deployed(),
        false,
    )
    .await;
    assert_eq!(
        failure(&rows, "event source mapping"),
        format!(
            "the mapping {STREAM} -> mst-prod-Transform-1 is Disabled, expected Enabled (USER_INITIATED)"
        )
    );

    let rows = checks::run(
        &clients(Answers {
            delivery: "CREATING_FAILED",
            ..Answers::default()
        }),
        &env,
        &deployed(),
        false,
    )
    .await;
    assert_eq!(
        failure(&rows, "delivery stream"),
        "mst-prod-RawDeliveryStream-1 is CREATING_FAILED, expected ACTIVE (no failure reported)"
    );

    let rows = checks::run(
        &clients(Answers {
            table_location: Some("s3://elsewhere/quotes/".into()),
            ..Answers::default()
        }),
        &env,
        &deployed(),
        false,
    )
    .await;
    assert_eq!(
        failure(&rows, "glue table"),
        format!(
            "mst_prod.quotes is at \"s3://elsewhere/quotes/\", expected s3://{CURATED}/quotes/"
        )
    );
    let rows = checks::run(
        &clients(Answers {
            table_location: None,
            ..Answers::default()
        }),
        &env,
        &deployed(),
        false,
    )
    .await;
    let missing = failure(&rows, "glue table");
    assert!(
        missing.starts_with("GetTable mst_prod.quotes (eu-west-1)"),
        "{missing}"
    );

    // A resource missing from the stack is named too.
    let mut incomplete = deployed();
    incomplete.resources.remove(logical::DELIVERY_STREAM);
    let rows = checks::run(&clients(Answers::default()), &env, &incomplete, false).await;
    assert!(
        failure(&rows, "delivery stream")
            .contains("RawDeliveryStream is not among the resources of stack mst-prod-pipeline")
    );
}

#[tokio::test]
async fn on_the_emulator_firehose_and_glue_are_reported_emulated_not_passed_or_failed() {
    let rows = checks::run(&clients(Answers::default()), &env(), &deployed(), true).await;
    let emulated: Vec<&str> = rows
        .iter()
        .filter(|r| r.outcome == Outcome::Emulated)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(emulated, ["delivery stream", "glue table"]);
    let mut report = verify::Report::new("local", "us-east-1");
    report.rows = rows;
    assert!(report.passed());
    assert!(
        report.to_string().contains("emulated by `deployer run`"),
        "{report}"
    );
}

#[tokio::test]
async fn a_missing_stack_is_an_error_saying_to_deploy_first() {
    let list = mock!(aws_sdk_cloudformation::Client::list_stack_resources).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                "<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id mst-prod-pipeline does not exist</Message></Error><RequestId>1</RequestId></ErrorResponse>",
            ),
        )
    });
    let mut c = clients(Answers::default());
    c.cloudformation = client!(aws_sdk_cloudformation, [&list]);
    let error = verify::verify_with(&c, &env(), Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(error, VerifyError::NotDeployed { .. }));
    assert_eq!(
        error.to_string(),
        "stack mst-prod-pipeline is not deployed in eu-west-1: run `deployer up --env prod` first (or pick another --region)"
    );

    // Resources come from every page of ListStackResources.
    let pages = mock!(aws_sdk_cloudformation::Client::list_stack_resources)
        .sequence()
        .output(|| {
            ListStackResourcesOutput::builder()
                .stack_resource_summaries(summary_of("Transform", "fn-1"))
                .next_token("page-2")
                .build()
        })
        .output(|| {
            ListStackResourcesOutput::builder()
                .stack_resource_summaries(summary_of("QuoteStream", "stream-1"))
                .build()
        })
        .build();
    c.cloudformation = client!(aws_sdk_cloudformation, [&pages]);
    let found = Deployed::find(&c, &env()).await.unwrap();
    assert_eq!(found.get("Transform"), Some("fn-1"));
    assert_eq!(found.get("QuoteStream"), Some("stream-1"));
}

fn summary_of(logical: &str, physical: &str) -> StackResourceSummary {
    StackResourceSummary::builder()
        .logical_resource_id(logical)
        .physical_resource_id(physical)
        .resource_type("AWS::Lambda::Function")
        .resource_status(ResourceStatus::CreateComplete)
        .last_updated_timestamp(aws_sdk_cloudformation::primitives::DateTime::from_secs(0))
        .build()
}

/// The logical ids verify reads are the ones `stacks` generates.
#[test]
fn the_logical_ids_verify_reads_are_in_the_pipeline_template() {
    let env = env();
    let stacks = stacks::pipeline::stacks(&env, env.canary_region()).unwrap();
    let pipeline = stacks
        .iter()
        .find(|s| s.kind == stacks::pipeline::StackKind::Pipeline)
        .unwrap();
    let template = pipeline.template.to_json().unwrap();
    for id in logical::ALL {
        assert!(
            template["Resources"].get(*id).is_some(),
            "{id} is not in the template"
        );
    }
}
