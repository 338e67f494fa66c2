//! Shared helpers: deploying `local` to a moto server with fixture artifacts, and fixture
//! `bootstrap` scripts that speak the Runtime API with curl.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use engine::artifacts::{Artifact, zip_bootstrap};
use engine::aws::{Aws, AwsOptions};
use engine::change_set::Plan;
use engine::deploy::{Approver, Observer, Settings, Up};
use engine::events::StackEvent;
use environment::{Environment, Region};
use stacks::pipeline::ArtifactParameter;
use testkit::Moto;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A `bootstrap` that speaks the Runtime API with curl: it appends each event (one line) to
/// `$LAMBDA_TASK_ROOT/events`, and answers by the event's content: `"sleep"` sleeps 30 s, `"fail"`
/// posts an error, `"env"` answers with the function name and a template variable, anything else
/// is answered `{}` (or, for a Kinesis batch, a partial batch response naming the records whose data
/// is `fail-item`, when `$FAIL_ITEMS` is set).
pub const ECHO_BOOTSTRAP: &str = r#"#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
cd "$LAMBDA_TASK_ROOT" || exit 1
while true; do
  curl -sS -D headers -o event "$api/invocation/next" || exit 1
  id=$(grep -i '^lambda-runtime-aws-request-id:' headers | tr -d '\r' | cut -d' ' -f2)
  tr -d '\n' < event >> events; echo >> events
  case "$(cat event)" in
    '"sleep"') sleep 30 ;;
    '"fail"') curl -sS -X POST -H 'Lambda-Runtime-Function-Error-Type: Unhandled' \
        -d '{"errorType":"BadThing","errorMessage":"it broke"}' "$api/invocation/$id/error" >/dev/null ;;
    '"env"') curl -sS -X POST -d "{\"name\":\"$AWS_LAMBDA_FUNCTION_NAME\",\"memory\":\"$AWS_LAMBDA_FUNCTION_MEMORY_SIZE\",\"endpoint\":\"$AWS_ENDPOINT_URL\"}" \
        "$api/invocation/$id/response" >/dev/null ;;
    *) curl -sS -X POST -d '{}' "$api/invocation/$id/response" >/dev/null ;;
  esac
done
"#;

/// A `bootstrap` whose cold start fails: it reports an init error, as the Rust runtime does.
pub const INIT_ERROR_BOOTSTRAP: &str = r#"#!/bin/sh
curl -sS -X POST -H 'Lambda-Runtime-Function-Error-Type: Function.ConfigError' \
  -d '{"errorType":"Function.ConfigError","errorMessage":"INFLUX_URL is missing","stackTrace":[]}' \
  "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error" >/dev/null
exit 1
"#;

/// The fixture artifacts: every Lambda is [`ECHO_BOOTSTRAP`], the scraper a script that sleeps.
pub fn fixture_artifacts() -> Vec<Artifact> {
    ArtifactParameter::ALL
        .iter()
        .map(|&parameter| {
            let bytes = match parameter {
                ArtifactParameter::Scraper => b"#!/bin/sh\nexec sleep 600\n".to_vec(),
                _ => zip_bootstrap(ECHO_BOOTSTRAP.as_bytes()).unwrap(),
            };
            Artifact::new(parameter, bytes)
        })
        .collect()
}

/// `environments/local.yaml` pointed at `moto` (and, when given, its `influxdb` section at an
/// InfluxDB 1.x, database `quotes`).
pub fn local_environment_with(moto: &Moto, influx_v1: Option<&str>) -> Environment {
    let dir = tempfile_dir("env");
    let mut text = std::fs::read_to_string(workspace().join("environments/local.yaml"))
        .unwrap()
        .replace("http://127.0.0.1:5000", moto.endpoint());
    if let Some(url) = influx_v1 {
        let section = "url: http://127.0.0.1:8086\n  api: v1\n  database: quotes";
        assert!(
            text.contains(section),
            "local.yaml's influxdb section changed"
        );
        text = text.replace(
            section,
            &format!("url: {url}\n  api: v1\n  database: quotes"),
        );
    }
    std::fs::write(dir.join("local.yaml"), text).unwrap();
    environment::load(&dir.join("local.yaml")).unwrap()
}

/// A fresh directory under the system temporary directory.
pub fn tempfile_dir(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "local-run-{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Yes;

impl Approver for Yes {
    fn approve(&self, _: &Region, _: &Plan) -> Result<bool, String> {
        Ok(true)
    }
}

struct Quiet;

impl Observer for Quiet {
    fn plan(&self, _: &Region, _: &Plan) {}
    fn started(&self, _: &Region, _: &str, _: usize) {}
    fn event(&self, _: &Region, _: &str, _: &StackEvent) {}
    fn finished(&self, _: &Region, _: &str, _: &Result<engine::apply::Applied, String>) {}
    fn note(&self, _: &Region, _: &str) {}
}

/// A deployment of `local` to a fresh moto.
pub struct Deployment {
    pub moto: Moto,
    pub env: Environment,
    pub synthesis: synth::Synthesis,
    pub aws: Aws,
}

impl Deployment {
    /// The local-run options for this deployment.
    pub fn options(&self, run_dir: PathBuf) -> local_run::Options {
        local_run::Options {
            env: self.env.clone(),
            region: self.synthesis.regions[0].clone(),
            sdk: self.aws.sdk_config().clone(),
            endpoint: self.moto.endpoint().to_owned(),
            run_dir,
            secret_value: String::new(),
            scraper: true,
        }
    }

    /// Clients of the region.
    pub fn clients(&self) -> local_run::Clients {
        local_run::Clients::new(self.aws.sdk_config(), self.env.canary_region().as_str())
    }
}

/// Starts moto and deploys `local` with `artifacts` through the engine.
pub async fn deploy(artifacts: Vec<Artifact>) -> Deployment {
    deploy_with(artifacts, None).await
}

/// [`deploy`], with the `influxdb` section pointed at an InfluxDB 1.x when given.
pub async fn deploy_with(artifacts: Vec<Artifact>, influx_v1: Option<&str>) -> Deployment {
    let moto = Moto::start();
    let env = local_environment_with(&moto, influx_v1);
    deploy_environment(moto, env, artifacts).await
}

/// Deploys `env` (pointed at `moto`) with `artifacts` through the engine, as `deployer up` does.
pub async fn deploy_environment(
    moto: Moto,
    env: Environment,
    artifacts: Vec<Artifact>,
) -> Deployment {
    let synthesis = synth::synthesize(&env, None).unwrap();
    let aws = Aws::load(&env, &AwsOptions::default()).await;
    let up = Up {
        env: &env,
        regions: synthesis
            .regions
            .iter()
            .map(|r| (r, aws.region(&r.region)))
            .collect(),
        dr: synthesis.dr.as_ref().map(|r| (r, aws.region(&r.region))),
        artifacts: &artifacts,
        parallel: 1,
        settings: Settings {
            poll: std::time::Duration::from_millis(200),
            ..Settings::default()
        },
        gate: None,
        resume: false,
    };
    let results = engine::deploy::up(&up, &Yes, &Quiet).await;
    for (region, result) in &results {
        assert!(!result.stops_rollout(), "{region}: {result:?}");
    }
    drop(up);
    Deployment {
        moto,
        env,
        synthesis,
        aws,
    }
}

/// The binary that ships for `parameter` (the `artifact` profile, as `deployer up` builds it, by
/// `engine::artifacts::build_binary`), in this test's target directory: a no-op once built, as
/// `.ci/run`'s artifacts step does. The same command each time, so no test rebuilds another's
/// dependencies with other features.
pub fn shipped_binary(parameter: ArtifactParameter) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // <target>/debug/deps/it-<hash>
    let target_dir = exe.parent().unwrap().parent().unwrap().parent().unwrap();
    engine::artifacts::build_binary(&workspace(), Some(target_dir), parameter).unwrap()
}

pub fn rfc3339(time: SystemTime) -> String {
    aws_smithy_types::DateTime::from(time)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap()
}
