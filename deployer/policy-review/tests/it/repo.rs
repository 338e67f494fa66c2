//! A temporary git repository holding `policies/test/`, one commit per snapshot revision.

use std::path::{Path, PathBuf};
use std::process::Command;

use policy_review::{Catalog, PolicyDiff, diff_snapshots, source};
use serde_json::{Value, json};

pub struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    pub fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo { dir };
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        repo.git(&["config", "user.email", "test@example.com"]);
        repo.git(&["config", "user.name", "Test"]);
        repo.git(&["config", "commit.gpgsign", "false"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .arg("-C")
            .arg(self.dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    fn policies(&self) -> PathBuf {
        self.dir.path().join("policies/test")
    }

    /// Replaces `policies/test/` with `roles` and commits; returns the commit id.
    pub fn commit(&self, roles: &[Value]) -> String {
        let dir = self.policies();
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        for role in roles {
            let name = role["role"].as_str().unwrap();
            let text = serde_json::to_string_pretty(role).unwrap() + "\n";
            std::fs::write(dir.join(format!("{name}.json")), text).unwrap();
        }
        self.git(&["add", "-A", "."]);
        self.git(&["commit", "--quiet", "--allow-empty", "-m", "snapshot"]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// The diff between two committed revisions.
    pub fn diff(&self, base: &str, head: &str) -> PolicyDiff {
        let dir = Path::new("policies/test");
        let old = source::from_git(self.path(), base, dir).unwrap();
        let new = source::from_git(self.path(), head, dir).unwrap();
        diff_snapshots("test", "base", &old, "head", &new, &Catalog::default())
    }
}

/// A Lambda role snapshot with these permission statements.
pub fn lambda_role(name: &str, permissions: Value) -> Value {
    role(
        name,
        json!([{
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com"]},
            "Action": ["sts:AssumeRole"]
        }]),
        permissions,
    )
}

/// A role snapshot.
pub fn role(name: &str, trust: Value, permissions: Value) -> Value {
    json!({
        "role": name,
        "stack": "mst-test-pipeline",
        "description": "test role",
        "trust": trust,
        "permissions": permissions,
    })
}

/// Commits `base` then `head` in a fresh repository and compares them.
pub fn compare(base: &[Value], head: &[Value]) -> PolicyDiff {
    let repo = Repo::new();
    let old = repo.commit(base);
    let new = repo.commit(head);
    repo.diff(&old, &new)
}
