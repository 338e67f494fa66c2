//! The real `transform` binary under its own role as deployed (`policies/local/TransformRole.json`,
//! assumed in a moto that enforces IAM, its credentials given as Lambda gives them): it reads the
//! token secret and writes the quarantine, and without any one of the actions it calls the batch
//! is retried and its log names moto's AccessDenied and the action.

use std::time::Duration;

use lambda_contract::prefixes;
use lambda_contract::transform::{Config, InfluxApi, InfluxConfig, QUARANTINE_NAME};
use serde_json::Value;
use testkit::iam::{AssumedRole, RolePolicy};
use testkit::{Influx1, LambdaProcess, Moto, Report, RuntimeApi};

use crate::common::*;

const BINARY: &str = env!("CARGO_BIN_EXE_transform");
const WAIT: Duration = Duration::from_secs(60);
/// The region `LambdaProcess` runs functions in.
const REGION: &str = "eu-west-1";
const ROLE: &str = "TransformRole";

/// The role's actions the function's code calls: each is needed by this scenario.
const CALLED: [&str; 2] = ["secretsmanager:GetSecretValue", "s3:PutObject"];

/// The role's other actions, and why no test of the code can exercise them.
const NOT_CALLED_BY_THE_CODE: [(&str, &str); 10] = [
    (
        "kinesis:DescribeStream",
        "Lambda's event source mapping reads the stream and hands the function its records",
    ),
    ("kinesis:DescribeStreamSummary", "the event source mapping"),
    ("kinesis:GetRecords", "the event source mapping"),
    ("kinesis:GetShardIterator", "the event source mapping"),
    ("kinesis:ListShards", "the event source mapping"),
    (
        "kms:Decrypt",
        "KMS use implied by the encrypted stream, secret and bucket: moto does not judge it; stacks::kms_use checks it",
    ),
    ("kms:GenerateDataKey", "implied KMS use, as kms:Decrypt"),
    (
        "sqs:SendMessage",
        "Lambda sends failed batches to the on-failure destination with the function's role",
    ),
    ("logs:CreateLogStream", "Lambda writes the function's logs"),
    ("logs:PutLogEvents", "Lambda writes the function's logs"),
];

/// What a scenario runs against: InfluxDB, moto with IAM, and what the stack would have made.
struct Deployed {
    influx: Influx1,
    moto: Moto,
    bucket: String,
    secret_arn: String,
}

impl Deployed {
    /// The resources the role's grants name: the quarantine bucket (its name from the policy) and
    /// the token secret (any name: CloudFormation names it, the grant is on its ARN).
    async fn start() -> Self {
        let (influx, moto) = (Influx1::start(), Moto::start_with_iam());
        influx.create_database("quotes");
        let bucket = RolePolicy::local(ROLE).bucket_for(&quarantine_prefix(), REGION);
        let admin = moto.sdk_config(REGION).await;
        testkit::s3::create_bucket(&s3(&admin), &bucket).await;
        let secret_arn = put_secret(&admin, "ignored-by-influx-1.x-without-auth").await;
        Self {
            influx,
            moto,
            bucket,
            secret_arn,
        }
    }

    async fn assume(&self, policy: &RolePolicy) -> AssumedRole {
        self.moto
            .assume_role(REGION, policy, &[("InfluxTokenSecret", &self.secret_arn)])
            .await
    }

    /// Runs the binary under `role` on the fixture event: its response and its log.
    fn run(&self, role: &AssumedRole) -> (Value, String) {
        let config = Config {
            influx: InfluxConfig {
                url: self.influx.url().to_owned(),
                api: InfluxApi::V1 {
                    database: "quotes".into(),
                },
                timeout: Duration::from_secs(5),
            },
            token_secret_id: self.secret_arn.clone(),
            quarantine_bucket: self.bucket.clone(),
            quarantine_prefix: quarantine_prefix(),
        };
        let mut env = config.into_variables(|s| s);
        env.push(("AWS_ENDPOINT_URL", self.moto.endpoint().to_owned()));
        let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend(role.env());
        let api = RuntimeApi::start();
        let lambda = LambdaProcess::spawn(BINARY, &api, &env);
        let id = api.invoke(fixture_json().to_string());
        let Report::Response { body, .. } = api.wait_result(&id, WAIT) else {
            panic!("not a response: {:?}\n{}", api.reports(), lambda.log());
        };
        (serde_json::from_str(&body).unwrap(), lambda.log())
    }
}

fn quarantine_prefix() -> String {
    prefixes::quarantine(QUARANTINE_NAME)
}

#[tokio::test]
async fn reads_the_token_and_quarantines_under_its_own_role() {
    let deployed = Deployed::start().await;
    let role = deployed.assume(&RolePolicy::local(ROLE)).await;
    let (response, log) = deployed.run(&role);
    assert_eq!(
        response["batchItemFailures"],
        Value::Array(Vec::new()),
        "{log}"
    );
    assert!(!log.contains("AccessDenied"), "{log}");

    let (valid, invalid) = split(&fixture());
    let points = deployed
        .influx
        .query("quotes", "SELECT count(price) FROM quote");
    assert!(
        points.contains(&format!("\"values\":[[0,{}]]", valid.len())),
        "{points}"
    );
    let admin = deployed.moto.sdk_config(REGION).await;
    let quarantined =
        testkit::s3::objects(&s3(&admin), &deployed.bucket, &quarantine_prefix()).await;
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    let lines = std::str::from_utf8(&quarantined[0].1)
        .unwrap()
        .lines()
        .count();
    assert_eq!(lines, invalid.len());
}

#[tokio::test]
async fn without_any_action_it_calls_the_batch_is_retried_naming_the_action() {
    let full = RolePolicy::local(ROLE);
    let mut classified: Vec<&str> = CALLED.to_vec();
    classified.extend(NOT_CALLED_BY_THE_CODE.iter().map(|(action, _)| *action));
    classified.sort();
    assert_eq!(
        full.actions()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        classified,
        "every action of {ROLE} is either called here or listed with the reason it cannot be"
    );

    let deployed = Deployed::start().await;
    for action in CALLED {
        let role = deployed.assume(&full.without(action)).await;
        let (response, log) = deployed.run(&role);
        assert_ne!(
            response["batchItemFailures"],
            Value::Array(Vec::new()),
            "without {action}\n{log}"
        );
        let denial = log
            .lines()
            .find(|line| line.contains("AccessDenied"))
            .unwrap_or_else(|| panic!("without {action}: no AccessDenied in the log\n{log}"));
        assert!(denial.contains(action), "without {action}: {denial}");
    }
}
