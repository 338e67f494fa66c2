//! `.gitlab-ci.yml` and `CODEOWNERS`: parsed and checked, so a pipeline edit that drops a stage, a job
//! or a rule fails here rather than on GitLab.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
use std::path::{Path, PathBuf};

use strict_yaml::{Document, Node, NodeKind};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn pipeline() -> Document {
    let text = std::fs::read_to_string(repo().join(".gitlab-ci.yml")).unwrap();
    Document::parse(".gitlab-ci.yml", &text).unwrap()
}

fn get<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    match &node.kind {
        NodeKind::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.scalar() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn at<'a>(node: &'a Node, path: &[&str]) -> &'a Node {
    path.iter().fold(node, |node, key| {
        get(node, key).unwrap_or_else(|| panic!("no `{}` in .gitlab-ci.yml", path.join(".")))
    })
}

fn scalars(node: &Node) -> Vec<String> {
    match &node.kind {
        NodeKind::Seq(items) => items
            .iter()
            .filter_map(|n| n.scalar().map(str::to_owned))
            .collect(),
        NodeKind::Scalar(text, _) => vec![text.clone()],
        NodeKind::Map(_) => Vec::new(),
    }
}

fn keys(node: &Node) -> Vec<String> {
    match &node.kind {
        NodeKind::Map(entries) => entries
            .iter()
            .filter_map(|(k, _)| k.scalar().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The `if`/`when` pairs of a job's rules.
fn rules(job: &Node) -> Vec<(String, Option<String>)> {
    match &at(job, &["rules"]).kind {
        NodeKind::Seq(items) => items
            .iter()
            .map(|rule| {
                (
                    at(rule, &["if"]).scalar().unwrap().to_owned(),
                    get(rule, "when").and_then(Node::scalar).map(str::to_owned),
                )
            })
            .collect(),
        _ => panic!("rules is not a list"),
    }
}

fn script(job: &Node) -> String {
    scalars(at(job, &["script"])).join("\n")
}

const DEFAULT_BRANCH: &str = "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH";
const MERGE_REQUEST: &str = "$CI_PIPELINE_SOURCE == \"merge_request_event\"";

#[test]
fn stages_and_jobs_are_the_agreed_ones() {
    let doc = pipeline();
    let root = doc.root();
    assert_eq!(
        scalars(at(root, &["stages"])),
        ["check", "synth", "review", "deploy"]
    );
    let jobs: Vec<(String, String)> = keys(root)
        .into_iter()
        .filter(|k| !["stages", "workflow", "variables", "default"].contains(&k.as_str()))
        // Hidden jobs (`.name`) are templates other jobs extend.
        .filter(|k| !k.starts_with('.'))
        .map(|k| {
            let stage = at(root, &[&k, "stage"]).scalar().unwrap().to_owned();
            (k, stage)
        })
        .collect();
    let expected = [
        ("fmt", "check"),
        ("clippy", "check"),
        ("test", "check"),
        ("synth", "synth"),
        ("policy-review", "review"),
        ("deploy-dev", "deploy"),
        ("deploy-prod-wave-1", "deploy"),
        ("deploy-prod-wave-2", "deploy"),
    ];
    assert_eq!(
        jobs,
        expected.map(|(j, s)| (j.to_owned(), s.to_owned())).to_vec()
    );
    // The Cargo cache is keyed by the lock file.
    assert_eq!(
        scalars(at(root, &["default", "cache", "key", "files"])),
        ["Cargo.lock"]
    );
}

#[test]
fn check_and_synth_jobs_run_the_suite_and_the_judges() {
    let doc = pipeline();
    let root = doc.root();
    assert!(script(at(root, &["fmt"])).contains("cargo fmt --all -- --check"));
    assert!(script(at(root, &["clippy"])).contains("-- -D warnings"));
    assert!(script(at(root, &["test"])).contains("cargo nextest run --workspace"));
    let synth = script(at(root, &["synth"]));
    assert!(synth.contains("for file in environments/*.yaml; do target/debug/deployer synth --env \"$(basename \"$file\" .yaml)\" --check; done"));
    assert!(synth.contains("bash .ci/judge"));
}

#[test]
fn the_policy_review_runs_on_merge_requests_and_reports() {
    let doc = pipeline();
    let job = at(doc.root(), &["policy-review"]);
    assert_eq!(rules(job), [(MERGE_REQUEST.to_owned(), None)]);
    let script = script(job);
    for needle in [
        "policy diff --env \"$env\" --base \"$CI_MERGE_REQUEST_DIFF_BASE_SHA\"",
        "--format markdown",
        // The template changes beside the IAM review.
        "deployer diff --env \"$env\" --offline --base \"$CI_MERGE_REQUEST_DIFF_BASE_SHA\" > \"review/$env-templates.txt\" || [ $? -eq 2 ]",
        // The JUnit report fails the roles that broaden: the default --fail-on, exit 2 tolerated.
        "review --format junit > \"review/$env.xml\" || [ $? -eq 2 ]",
        "if [ -n \"${POLICY_REVIEW_TOKEN:-}\" ]",
        "$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes",
    ] {
        assert!(
            script.contains(needle),
            "policy-review lacks `{needle}`:\n{script}"
        );
    }
    assert_eq!(at(job, &["artifacts", "when"]).scalar(), Some("always"));
    assert_eq!(scalars(at(job, &["artifacts", "paths"])), ["review/"]);
    assert_eq!(
        at(job, &["artifacts", "reports", "junit"]).scalar(),
        Some("review/*.xml")
    );
    assert_eq!(scalars(at(job, &["allow_failure", "exit_codes"])), ["2"]);
    assert_eq!(at(job, &["variables", "GIT_DEPTH"]).scalar(), Some("0"));
}

#[test]
fn dev_deploys_on_the_default_branch_and_prod_by_hand_in_waves_canary_first() {
    let doc = pipeline();
    let root = doc.root();
    let dev = at(root, &["deploy-dev"]);
    assert_eq!(rules(dev), [(DEFAULT_BRANCH.to_owned(), None)]);
    assert!(script(dev).contains("deployer up --env dev --yes"));

    // The waves cover prod's regions in rollout order, the canary alone first.
    let prod = std::fs::read_to_string(repo().join("environments/prod.yaml")).unwrap();
    let env = environment::parse("prod.yaml", &prod).unwrap();
    let regions: Vec<&str> = env.regions.iter().map(|r| r.as_str()).collect();
    let wave1 = at(root, &["deploy-prod-wave-1"]);
    let wave2 = at(root, &["deploy-prod-wave-2"]);
    for wave in [wave1, wave2] {
        assert_eq!(
            rules(wave),
            [(DEFAULT_BRANCH.to_owned(), Some("manual".to_owned()))]
        );
    }
    assert!(script(wave1).contains(&format!(
        "deployer up --env prod --region {} --yes",
        regions[0]
    )));
    assert!(script(wave2).contains(&format!(
        "for region in {}; do target/release/deployer up --env prod --region \"$region\" --yes; done",
        regions[1..].join(" ")
    )));
    assert_eq!(scalars(at(wave1, &["needs"])), ["deploy-dev"]);
    assert_eq!(scalars(at(wave2, &["needs"])), ["deploy-prod-wave-1"]);
}

#[test]
fn security_reviewers_own_the_policy_snapshot() {
    let owners = std::fs::read_to_string(repo().join("CODEOWNERS")).unwrap();
    let entries: Vec<Vec<&str>> = owners
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        entries.contains(&vec!["/policies/", "@mystocktracker/security"]),
        "{entries:?}"
    );
}

#[test]
fn deploy_jobs_get_the_deploy_role_through_gitlabs_oidc_token_and_hold_no_keys() {
    let text = std::fs::read_to_string(repo().join(".gitlab-ci.yml")).unwrap();
    for stored in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        assert!(!text.contains(stored), "{stored} in .gitlab-ci.yml");
    }
    let doc = pipeline();
    let root = doc.root();
    let oidc = at(root, &[".aws-oidc"]);
    assert_eq!(
        at(oidc, &["id_tokens", "AWS_ID_TOKEN", "aud"]).scalar(),
        Some(stacks::pipeline::GITLAB_AUDIENCE)
    );
    let before = scalars(at(oidc, &["before_script"])).join("\n");
    assert!(
        before.contains("export AWS_WEB_IDENTITY_TOKEN_FILE="),
        "{before}"
    );
    assert!(
        before.contains("\"$AWS_ID_TOKEN\" > \"$AWS_WEB_IDENTITY_TOKEN_FILE\""),
        "{before}"
    );
    // Each deploy job asks for the deploy role of its environment's first account and region,
    // which trusts exactly this project's pipelines on the branch the job runs on.
    for (job, env_name) in [
        ("deploy-dev", "dev"),
        ("deploy-prod-wave-1", "prod"),
        ("deploy-prod-wave-2", "prod"),
    ] {
        let node = at(root, &[job]);
        assert_eq!(scalars(at(node, &["extends"])), [".aws-oidc"], "{job}");
        let file = repo().join(format!("environments/{env_name}.yaml"));
        let env = environment::load(&file).unwrap();
        let (account, regions) = env.accounts().into_iter().next().unwrap();
        let expected = engine::aws::deploy_role(&env, &account, &regions[0]);
        assert_eq!(
            at(node, &["variables", "AWS_ROLE_ARN"]).scalar(),
            Some(expected.as_str()),
            "{job}"
        );
        let gitlab = env.deploy.as_ref().unwrap().gitlab.as_ref().unwrap();
        assert_eq!(
            gitlab.branch, "main",
            "{job}: the jobs run on the default branch, main"
        );
    }
}
