//! `deployer bootstrap` then `up` across two accounts of a moto server this test starts: moto keeps
//! every account apart, and credentials of a role assumed in account B act in account B (checked
//! here with STS and by where the stacks, roles and buckets end up).
//!
//! The environment has `dr:` (local.yaml's, us-west-2, in account A): its DR region gets a
//! bootstrap stack of its own, and `up` deploys the replica stack there, acting as account A's
//! deploy role, with that stack's execution role as the `RoleARN`. moto 5.2.5 does not judge
//! these policies: with IAM on (`INITIAL_NO_AUTH_ACTION_COUNT`) it authorizes every non-S3 action
//! against the resource `*` only, so any statement scoped to a stack's ARN would be refused.
//! Whether the deploy role allows the calls is checked against the policies themselves
//! (`stacks/tests/it/deploy_role_calls.rs`, `stacks/tests/it/handler_permissions.rs`); this test checks
//! the wiring: which stack, in which account, with which role.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use engine::artifacts::zip_bootstrap;
use engine::aws::{Aws, AwsOptions};
use environment::Region;
use testkit::Moto;

const ACCOUNT_A: &str = "123456789012";
const ACCOUNT_B: &str = "222233334444";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mst-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Tiny real artifacts: zips with an executable `bootstrap` script, and a scraper script.
fn fixtures(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    // Every Lambda's code (the scraper's binary is not a zip).
    for name in stacks::pipeline::ArtifactParameter::ALL
        .into_iter()
        .filter(|p| *p != stacks::pipeline::ArtifactParameter::Scraper)
        .map(|p| p.crate_name())
    {
        let zip = zip_bootstrap(format!("#!/bin/sh\necho {name}\n").as_bytes()).unwrap();
        std::fs::write(dir.join(format!("{name}.zip")), zip).unwrap();
    }
    std::fs::write(dir.join("scraper"), b"#!/bin/sh\necho scraper\n").unwrap();
}

/// `environments/two.yaml`: `local.yaml` pointed at this moto, with a second region in account B
/// and a `deploy:` section (the caller, moto's default user, may assume the deploy roles).
fn environment(dir: &Path, endpoint: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let text = std::fs::read_to_string(workspace().join("environments/local.yaml"))
        .unwrap()
        .replace("http://127.0.0.1:5000", endpoint)
        .replace("regions: [us-east-1]", "regions: [us-east-1, eu-west-1]");
    let text = format!(
        "{text}\ndeploy:\n  accounts:\n    eu-west-1: \"{ACCOUNT_B}\"\n  principals: [\"arn:aws:iam::{ACCOUNT_A}:user/moto\"]\n"
    );
    std::fs::write(dir.join("two.yaml"), text).unwrap();
}

fn deployer(args: &[&str], environments: &Path) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_deployer"))
        .args(args)
        .arg("--environments")
        .arg(environments)
        .current_dir(workspace())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .env_remove("GITLAB_USER_LOGIN")
        .env_remove("CI_JOB_ID")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run deployer");
    eprintln!(
        "$ deployer {}\n{}{}exit: {:?}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        output.status.code()
    );
    output
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn stack_names(aws: &Aws, region: &Region) -> Vec<String> {
    let cfn = aws.region(region).cloudformation;
    let stacks = cfn.describe_stacks().send().await.unwrap();
    let mut names: Vec<String> = stacks
        .stacks()
        .iter()
        .filter(|s| {
            s.stack_status()
                .is_some_and(|st| !st.as_str().starts_with("DELETE"))
        })
        .map(|s| s.stack_name().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_then_up_across_two_accounts() {
    let moto = Moto::start();
    let work = tempdir("bootstrap");
    let artifacts = work.join("artifacts");
    fixtures(&artifacts);
    let envs = work.join("environments");
    environment(&envs, moto.endpoint());
    let art = artifacts.to_str().unwrap();
    let env = environment::load(&envs.join("two.yaml")).unwrap();
    let (us, eu) = (env.regions[0].clone(), env.regions[1].clone());

    // moto: a role assumed in account B acts in account B.
    let base = Aws::load(&env, &AwsOptions::default()).await;
    let in_b = base
        .assume(
            &format!("arn:aws:iam::{ACCOUNT_B}:role/OrganizationAccountAccessRole"),
            "test",
        )
        .await;
    let who = in_b.sts().get_caller_identity().send().await.unwrap();
    assert_eq!(who.account(), Some(ACCOUNT_B));

    // Not bootstrapped: `up` stops before any change and names the command to run.
    let early = deployer(
        &[
            "up",
            "--env",
            "two",
            "--artifacts",
            art,
            "--yes",
            "--no-verify",
        ],
        &envs,
    );
    assert_eq!(early.status.code(), Some(1), "{}", text(&early));
    // The DR region's replica stack comes first, so its bootstrap stack is the first missing.
    let dr = env.dr.as_ref().unwrap().region.clone();
    assert_eq!(dr.as_str(), "us-west-2");
    assert!(
        text(&early).contains("mst-two-artifacts in us-west-2 (account 123456789012) does not exist: run `deployer bootstrap --env two`"),
        "{}",
        text(&early)
    );
    assert!(stack_names(&base, &us).await.is_empty());
    assert!(stack_names(&base, &dr).await.is_empty());

    // The caller's own account first; account B's region is left for B's credentials.
    let first = deployer(&["bootstrap", "--env", "two", "--yes"], &envs);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert!(
        text(&first).contains("us-east-1 (account 123456789012) mst-two-artifacts: bootstrapped")
    );
    assert!(
        text(&first).contains("us-west-2 (account 123456789012) mst-two-artifacts: bootstrapped"),
        "the DR region is bootstrapped with its account: {}",
        text(&first)
    );
    assert!(
        text(&first).contains("eu-west-1 (account 222233334444)"),
        "{}",
        text(&first)
    );
    let second = deployer(
        &[
            "bootstrap",
            "--env",
            "two",
            "--yes",
            "--role-arn",
            &format!("arn:aws:iam::{ACCOUNT_B}:role/OrganizationAccountAccessRole"),
        ],
        &envs,
    );
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    assert!(
        text(&second).contains("eu-west-1 (account 222233334444) mst-two-artifacts: bootstrapped")
    );
    // The bootstrap roles and bucket are in each region's own account.
    let iam = |aws: &Aws| {
        aws_connect::query::QueryClient::new(aws.sdk_config(), "us-east-1", aws_connect::query::IAM)
    };
    // Whether the role exists: IAM answers it, or says NoSuchEntity (anything else fails the test).
    let has_role = |iam: aws_connect::query::QueryClient, role: &'static str| async move {
        use aws_sdk_cloudformation::error::ProvideErrorMetadata as _;
        match iam.call("GetRole", &[("RoleName", role)]).await {
            Ok(_) => true,
            Err(error) if error.code() == Some("NoSuchEntity") => false,
            Err(error) => panic!("GetRole {role}: {error:?}"),
        }
    };
    let (iam_a, iam_b) = (iam(&base), iam(&in_b));
    for role in [
        "mstboot-two-deploy-eu-west-1",
        "mstboot-two-cfn-exec-eu-west-1",
    ] {
        assert!(has_role(iam_b.clone(), role).await, "{role} in account B");
    }
    assert!(!has_role(iam_a.clone(), "mstboot-two-deploy-eu-west-1").await);
    assert!(has_role(iam_a.clone(), "mstboot-two-deploy-us-east-1").await);
    // The DR region's execution role, in the DR region's account only.
    assert!(has_role(iam_a.clone(), "mstboot-two-cfn-exec-us-west-2").await);
    assert!(!has_role(iam_b.clone(), "mstboot-two-cfn-exec-us-west-2").await);

    // `up` assumes each account's deploy role and deploys each region into its account.
    let up = deployer(
        &[
            "up",
            "--env",
            "two",
            "--artifacts",
            art,
            "--yes",
            "--no-verify",
        ],
        &envs,
    );
    assert_eq!(up.status.code(), Some(0), "{}", text(&up));
    assert!(
        text(&up).contains("us-east-1: deployed (account 123456789012)"),
        "{}",
        text(&up)
    );
    assert!(
        text(&up).contains("eu-west-1: deployed (account 222233334444)"),
        "{}",
        text(&up)
    );
    assert_eq!(
        stack_names(&base, &us).await,
        ["mst-two-artifacts", "mst-two-pipeline"]
    );
    assert_eq!(
        stack_names(&in_b, &eu).await,
        ["mst-two-artifacts", "mst-two-pipeline"]
    );
    assert!(
        stack_names(&base, &eu).await.is_empty(),
        "nothing of B's region lands in A"
    );
    // The replica stack in the DR region's account, deployed with the DR region's execution role.
    assert_eq!(
        stack_names(&base, &dr).await,
        ["mst-two-artifacts", "mst-two-replica"]
    );
    let replica = base
        .region(&dr)
        .cloudformation
        .describe_stacks()
        .stack_name("mst-two-replica")
        .send()
        .await
        .unwrap();
    assert_eq!(
        replica.stacks()[0].role_arn(),
        Some(format!("arn:aws:iam::{ACCOUNT_A}:role/mstboot-two-cfn-exec-us-west-2").as_str())
    );
    let pipeline = base
        .region(&us)
        .cloudformation
        .describe_stacks()
        .stack_name("mst-two-pipeline")
        .send()
        .await
        .unwrap();
    assert_eq!(
        pipeline.stacks()[0].role_arn(),
        Some(format!("arn:aws:iam::{ACCOUNT_A}:role/mstboot-two-cfn-exec-us-east-1").as_str())
    );
    let artifacts_b = in_b
        .region(&eu)
        .s3
        .list_objects_v2()
        .bucket(format!("mst-two-artifacts-{ACCOUNT_B}-eu-west-1"))
        .send()
        .await
        .unwrap();
    assert!(artifacts_b.key_count().unwrap_or_default() >= 4);

    // A second `up` changes nothing, and the bootstrap stacks were never touched by it.
    let again = deployer(
        &[
            "up",
            "--env",
            "two",
            "--artifacts",
            art,
            "--yes",
            "--no-verify",
        ],
        &envs,
    );
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        text(&again).contains("eu-west-1: unchanged (account 222233334444)"),
        "{}",
        text(&again)
    );
}
