//! The function host with fixture `bootstrap` scripts: results, function errors, init failures
//! and timeouts reported as Lambda reports them, and a new process after each failure.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use local_run::function::{FunctionConfig, FunctionHost, Outcome};

use crate::common::{ECHO_BOOTSTRAP, INIT_ERROR_BOOTSTRAP, tempfile_dir};

fn host(script: &str, timeout: Duration) -> (FunctionHost, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile_dir("function");
    let binary = dir.join("bootstrap");
    std::fs::write(&binary, script).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    let environment = BTreeMap::from([
        ("PATH".to_owned(), std::env::var("PATH").unwrap()),
        ("LAMBDA_TASK_ROOT".to_owned(), dir.display().to_string()),
        (
            "AWS_LAMBDA_FUNCTION_NAME".to_owned(),
            "mst-local-Echo".to_owned(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(),
            "256".to_owned(),
        ),
        (
            "AWS_ENDPOINT_URL".to_owned(),
            "http://127.0.0.1:1".to_owned(),
        ),
    ]);
    let config = FunctionConfig {
        logical_id: "Echo".into(),
        name: "mst-local-Echo".into(),
        arn: "arn:aws:lambda:us-east-1:123456789012:function:mst-local-Echo".into(),
        binary,
        environment,
        timeout,
        memory_mb: 256,
        log: dir.join("echo.log"),
    };
    (FunctionHost::new(config).unwrap(), dir)
}

fn events(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("events"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_an_error_and_the_environment_come_back_from_one_warm_process() {
    let (host, dir) = host(ECHO_BOOTSTRAP, Duration::from_secs(10));
    assert_eq!(
        host.invoke("{\"a\":1}".into()).await,
        Outcome::Success("{}".into())
    );
    let env = host.invoke("\"env\"".into()).await;
    assert_eq!(
        env,
        Outcome::Success(
            r#"{"name":"mst-local-Echo","memory":"256","endpoint":"http://127.0.0.1:1"}"#.into()
        )
    );
    let error = host.invoke("\"fail\"".into()).await;
    assert_eq!(
        error,
        Outcome::FunctionError {
            error_type: "BadThing".into(),
            message: "it broke".into()
        }
    );
    assert_eq!(error.to_string(), "BadThing: it broke");
    let stats = host.stats();
    assert_eq!(
        stats.invocations.load(std::sync::atomic::Ordering::Relaxed),
        3
    );
    assert_eq!(stats.errors.load(std::sync::atomic::Ordering::Relaxed), 1);
    // One cold start: the process stayed warm across the three invocations, error included.
    assert_eq!(
        stats.cold_starts.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_eq!(events(&dir), ["{\"a\":1}", "\"env\"", "\"fail\""]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overrun_is_killed_at_the_timeout_and_reported_as_task_timed_out() {
    let (host, dir) = host(ECHO_BOOTSTRAP, Duration::from_secs(1));
    let started = Instant::now();
    let outcome = host.invoke("\"sleep\"".into()).await;
    let took = started.elapsed();
    let Outcome::TimedOut {
        request_id,
        timeout,
    } = &outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(*timeout, Duration::from_secs(1));
    assert_eq!(
        outcome.to_string(),
        format!("{request_id} Task timed out after 1.00 seconds")
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(10),
        "{took:?}"
    );
    // The next invocation gets a new process (a second cold start) and succeeds.
    assert_eq!(
        host.invoke("{}".into()).await,
        Outcome::Success("{}".into())
    );
    let stats = host.stats();
    assert_eq!(stats.timeouts.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(
        stats.cold_starts.load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    assert_eq!(events(&dir), ["\"sleep\"", "{}"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_init_error_fails_the_invocation_with_the_functions_error_and_is_tried_again() {
    let (host, dir) = host(INIT_ERROR_BOOTSTRAP, Duration::from_secs(5));
    for _ in 0..2 {
        let outcome = host.invoke("{}".into()).await;
        assert_eq!(
            outcome,
            Outcome::InitFailed {
                error_type: "Function.ConfigError".into(),
                message: "INFLUX_URL is missing".into()
            }
        );
    }
    let stats = host.stats();
    assert_eq!(
        stats
            .init_failures
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    assert_eq!(
        stats.cold_starts.load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    assert!(events(&dir).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_that_exits_at_init_is_a_runtime_exit_error() {
    let (host, _dir) = host(
        "#!/bin/sh\necho 'no config' >&2\nexit 3\n",
        Duration::from_secs(5),
    );
    let outcome = host.invoke("{}".into()).await;
    let Outcome::InitFailed {
        error_type,
        message,
    } = &outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(error_type, "Runtime.ExitError");
    assert!(message.contains("exit status: 3"), "{message}");
}
