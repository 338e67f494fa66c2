//! What moto's IAM enforcement judges, as `docs/permissions.md` states it: S3 resources are judged
//! (a role may write under its prefix and nowhere else), conditions are not (`s3:prefix`), a
//! Kinesis or SNS statement naming an ARN never matches (hence `RolePolicy::document`'s `*`), and
//! denials and SNS messages with spaces read as they would from AWS (`python/sitecustomize.py`).
#![allow(clippy::unwrap_used)]

use serde_json::json;
use testkit::Moto;
use testkit::iam::RolePolicy;

const REGION: &str = "eu-west-1";

/// A role with one statement per service: S3 writes under `in/`, a list of the bucket limited to
/// `in/` by a condition, PutRecords on the stream `s`, Publish on the topic `t`.
fn role() -> RolePolicy {
    RolePolicy::from_statements(
        "ProbeRole",
        vec![
            json!({"Sid": "Write", "Effect": "Allow", "Action": ["s3:PutObject"],
                   "Resource": ["arn:${AWS::Partition}:s3:::probe-bucket/in/*"]}),
            json!({"Sid": "List", "Effect": "Allow", "Action": ["s3:ListBucket"],
                   "Resource": ["arn:${AWS::Partition}:s3:::probe-bucket"],
                   "Condition": {"StringLike": {"s3:prefix": ["in/*"]}}}),
            json!({"Sid": "Put", "Effect": "Allow", "Action": ["kinesis:PutRecords"],
                   "Resource": ["arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/s"]}),
            json!({"Sid": "Publish", "Effect": "Allow", "Action": ["sns:Publish"],
                   "Resource": ["${Topic}"]}),
        ],
    )
}

#[tokio::test]
async fn s3_resources_are_judged_conditions_are_not_and_other_services_judge_the_action() {
    let moto = Moto::start_with_iam();
    let admin = moto.sdk_config(REGION).await;
    let admin_s3 = lambda_support::s3_client(&admin);
    testkit::s3::create_bucket(&admin_s3, "probe-bucket").await;
    aws_sdk_kinesis::Client::new(&admin)
        .create_stream()
        .stream_name("s")
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let topic = aws_sdk_sns::Client::new(&admin)
        .create_topic()
        .name("t")
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();

    let role = moto
        .assume_role(REGION, &role(), &[("Topic", &topic)])
        .await;
    let s3 = lambda_support::s3_client(&role.config);
    let put = |key: &'static str| {
        s3.put_object()
            .bucket("probe-bucket")
            .key(key)
            .body(b"x".to_vec().into())
            .send()
    };
    put("in/a").await.unwrap();
    let denied = format!("{:?}", put("out/a").await.unwrap_err());
    assert!(denied.contains("AccessDenied"), "{denied}");
    // The `s3:prefix` condition allows listing `in/` only; moto does not evaluate it.
    s3.list_objects_v2()
        .bucket("probe-bucket")
        .prefix("out/")
        .send()
        .await
        .unwrap();

    // Kinesis and SNS: judged by action on `*` (the document widened them), with AWS's error shapes.
    aws_sdk_kinesis::Client::new(&role.config)
        .put_records()
        .stream_name("s")
        .records(
            aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                .data(b"x".to_vec().into())
                .partition_key("k")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let sns = aws_sdk_sns::Client::new(&role.config);
    sns.publish()
        .topic_arn(&topic)
        .subject("a subject with spaces")
        .message("a message with spaces + signs & 100%")
        .send()
        .await
        .unwrap();
    let denied = aws_sdk_kinesis::Client::new(&role.config)
        .list_streams()
        .send()
        .await
        .unwrap_err();
    let denied = error_text(&denied);
    assert!(
        denied.contains("AccessDeniedException") && denied.contains("kinesis:ListStreams"),
        "{denied}"
    );

    // The Kinesis statement as written (its stream's ARN) never matches: moto checks it against `*`.
    let as_written = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["kinesis:PutRecords"],
        "Resource": ["arn:aws:kinesis:eu-west-1:123456789012:stream/s"]}]});
    let role = moto
        .assume_role_with_document(REGION, "AsWritten", &as_written)
        .await;
    let denied = aws_sdk_kinesis::Client::new(&role.config)
        .put_records()
        .stream_name("s")
        .records(
            aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                .data(b"x".to_vec().into())
                .partition_key("k")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    let denied = error_text(&denied);
    assert!(denied.contains("kinesis:PutRecords"), "{denied}");
}

fn error_text(e: &impl std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
