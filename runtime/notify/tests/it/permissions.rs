//! The handler under its own role as deployed (`policies/local/NotifyRole.json`, assumed in a moto
//! that enforces IAM): it reads the curated object, claims the alert in its state object with a
//! conditional write and publishes the e-mail; without any one of the actions it calls, the
//! invocation fails with moto's AccessDenied and the error names the action.

use notify::Notify;
use testkit::iam::RolePolicy;

use crate::common::{Env, REGION, ROLE, at, clock};

/// The role's actions the function's code calls: each is needed by this scenario.
const CALLED: [&str; 3] = ["s3:GetObject", "s3:PutObject", "sns:Publish"];

/// The role's other actions, and why no test of the code can exercise them.
const NOT_CALLED_BY_THE_CODE: [(&str, &str); 6] = [
    (
        "s3:ListBucket",
        "makes S3 answer 404 (not 403) for a symbol's first, missing state object; moto answers 404 without it",
    ),
    (
        "kms:Decrypt",
        "KMS use implied by the SSE-KMS bucket and the encrypted topic: moto does not judge it; stacks::kms_use checks it",
    ),
    ("kms:GenerateDataKey", "implied KMS use, as kms:Decrypt"),
    (
        "sqs:SendMessage",
        "Lambda sends failed events to the on-failure destination with the function's role",
    ),
    ("logs:CreateLogStream", "Lambda writes the function's logs"),
    ("logs:PutLogEvents", "Lambda writes the function's logs"),
];

/// The handler signing with `policy`'s role, assumed in `env`'s moto.
async fn notify_as(env: &Env, policy: &RolePolicy) -> Notify {
    let role = env
        .moto
        .assume_role(REGION, policy, &[("AlertTopic", &env.topic_arn)])
        .await;
    Notify::from_config(&env.config(None), &role.config).with_clock(clock)
}

#[tokio::test]
async fn reads_claims_and_publishes_under_its_own_role() {
    let env = Env::start_with_iam().await;
    let notify = notify_as(&env, &RolePolicy::local(ROLE)).await;
    let key = env
        .put_quotes("AAPL", "a", &[(&at(30, 5), 100.0), (&at(31, 5), 102.0)])
        .await;
    let outcome = env.run(&notify, &[&key]).await.unwrap();
    assert_eq!(outcome.published, 1);
    let subjects: Vec<String> = env.published().into_iter().map(|(s, _)| s).collect();
    assert_eq!(subjects, ["1 symbol moved >=1%: AAPL +2.00%"]);
    assert_eq!(env.state("AAPL").await.alerts.len(), 1);

    // The next object updates the state object written above (a conditional write on its ETag).
    let key = env.put_quotes("AAPL", "b", &[(&at(32, 5), 102.5)]).await;
    env.run(&notify, &[&key]).await.unwrap();
    assert_eq!(env.published().len(), 1, "a 0.49% move mails nothing");
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

    let env = Env::start_with_iam().await;
    for (i, action) in CALLED.into_iter().enumerate() {
        let notify = notify_as(&env, &full.without(action)).await;
        // A symbol of its own: no state from an earlier run.
        let symbol = format!("S{i}");
        let key = env
            .put_quotes(&symbol, "a", &[(&at(30, 5), 100.0), (&at(31, 5), 102.0)])
            .await;
        let error = env
            .run(&notify, &[&key])
            .await
            .expect_err(&format!("without {action} the invocation must fail"))
            .to_string();
        assert!(error.contains("AccessDenied"), "without {action}: {error}");
        assert!(error.contains(action), "without {action}: {error}");
    }
    assert!(env.published().is_empty(), "{:?}", env.published());
}
