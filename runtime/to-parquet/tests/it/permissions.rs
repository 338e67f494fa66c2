//! The handler under its own role as deployed (`policies/local/ToParquetRole.json`, assumed in a
//! moto that enforces IAM): it reads a raw object and writes Parquet and the quarantine; without
//! any one of the actions it calls, the invocation fails with moto's AccessDenied and the error
//! names the action.
#![allow(clippy::unwrap_used)]

use crate::common::s3::*;
use crate::common::*;
use lambda_contract::prefixes;
use testkit::Moto;
use testkit::iam::RolePolicy;
use testkit::s3::objects;

const REGION: &str = "eu-west-1";
const ROLE: &str = "ToParquetRole";

/// The role's actions the function's code calls: each is needed by this scenario.
const CALLED: [&str; 2] = ["s3:GetObject", "s3:PutObject"];

/// The role's other actions, and why no test of the code can exercise them.
const NOT_CALLED_BY_THE_CODE: [(&str, &str); 7] = [
    (
        "s3:ListBucket",
        "makes S3 answer 404 (not 403) for a raw object that is gone; moto answers 404 without it",
    ),
    (
        "s3:AbortMultipartUpload",
        "called only to clean up after another failure, whose error the invocation reports; a denied abort is logged and the bucket's lifecycle rule is the backstop",
    ),
    (
        "kms:Decrypt",
        "KMS use implied by the SSE-KMS buckets: moto does not judge it; stacks::kms_use checks it",
    ),
    ("kms:GenerateDataKey", "implied KMS use, as kms:Decrypt"),
    (
        "sqs:SendMessage",
        "Lambda sends failed events to the on-failure destination with the function's role",
    ),
    ("logs:CreateLogStream", "Lambda writes the function's logs"),
    ("logs:PutLogEvents", "Lambda writes the function's logs"),
];

/// moto with IAM and the buckets the role's grants name (their names from the policy).
struct Deployed {
    moto: Moto,
    admin: aws_sdk_s3::Client,
    raw: String,
    curated: String,
}

impl Deployed {
    async fn start() -> Self {
        let moto = Moto::start_with_iam();
        let policy = RolePolicy::local(ROLE);
        let raw = policy.bucket_for(prefixes::RAW, REGION);
        let curated = policy.bucket_for(prefixes::QUOTES, REGION);
        let admin = lambda_support::s3_client(&moto.sdk_config(REGION).await);
        for bucket in [&raw, &curated] {
            testkit::s3::create_bucket(&admin, bucket).await;
        }
        Self {
            moto,
            admin,
            raw,
            curated,
        }
    }

    /// Puts a raw object of valid lines and one invalid line under `name`, and runs the handler
    /// on its event signing with `policy`'s role.
    async fn convert(
        &self,
        policy: &RolePolicy,
        name: &str,
    ) -> Result<to_parquet::Summary, to_parquet::handler::HandlerError> {
        let key = format!("{}symbol=MSFT/dt=2026-11-26/{name}.json", prefixes::RAW);
        let mut lines: Vec<String> = (0..3).map(valid_line).collect();
        lines.push(INVALID_LINES[0].to_owned());
        self.admin
            .put_object()
            .bucket(&self.raw)
            .key(&key)
            .body((lines.join("\n") + "\n").into_bytes().into())
            .send()
            .await
            .unwrap();
        let role = self.moto.assume_role(REGION, policy, &[]).await;
        let function = function_with(&role.config, &self.raw, &self.curated);
        to_parquet::handle(&function, event(&self.raw, &[&key])).await
    }
}

#[tokio::test]
async fn reads_raw_and_writes_parquet_and_quarantine_under_its_own_role() {
    let deployed = Deployed::start().await;
    let summary = deployed
        .convert(&RolePolicy::local(ROLE), "a")
        .await
        .unwrap();
    assert_eq!((summary.objects, summary.valid, summary.invalid), (1, 3, 1));
    let curated = objects(&deployed.admin, &deployed.curated, prefixes::QUOTES).await;
    assert!(!curated.is_empty());
    let rows: Vec<Row> = curated
        .into_iter()
        .flat_map(|(key, bytes)| {
            let partition = key
                .trim_start_matches(prefixes::QUOTES)
                .rsplit_once('/')
                .unwrap()
                .0
                .to_owned();
            read_parquet(&partition, bytes).0
        })
        .collect();
    assert_eq!(
        sorted(rows),
        expected_rows(&(0..3).map(valid_line).collect::<Vec<_>>())
    );
    let quarantine = prefixes::quarantine(lambda_contract::to_parquet::QUARANTINE_NAME);
    let quarantined = objects(&deployed.admin, &deployed.raw, &quarantine).await;
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
}

#[tokio::test]
async fn without_any_action_it_calls_the_invocation_fails_naming_the_action() {
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
        let name = action.replace(':', "-");
        let error = deployed
            .convert(&full.without(action), &name)
            .await
            .expect_err(&format!("without {action} the invocation must fail"))
            .to_string();
        assert!(error.contains("AccessDenied"), "without {action}: {error}");
        assert!(error.contains(action), "without {action}: {error}");
    }
}
