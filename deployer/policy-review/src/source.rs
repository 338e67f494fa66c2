//! Where snapshots come from: a directory of `<Role>.json` files, the same directory at a git
//! revision (through the `git` command, so no git library is compiled in), or, with the `aws`
//! feature, the live roles of a deployed environment ([`deployed`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use synth::{RoleSnapshot, Snapshot};

use crate::Error;

#[cfg(feature = "aws")]
pub mod deployed;

fn parse(path: &str, text: &str) -> Result<RoleSnapshot, Error> {
    serde_json::from_str(text).map_err(|source| Error::Json {
        path: path.to_owned(),
        source,
    })
}

/// The snapshot in `dir` (`policies/<env>`): every `*.json` file. A missing directory is an empty
/// snapshot (an environment with no roles yet).
pub fn from_dir(dir: &Path) -> Result<Snapshot, Error> {
    let io = |source| Error::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut roles = BTreeMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Snapshot::default()),
        Err(e) => return Err(io(e)),
    };
    let mut paths: Vec<_> = entries
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    paths.sort();
    for path in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        let role = parse(&path.display().to_string(), &text)?;
        roles.insert(role.role.clone(), role);
    }
    Ok(Snapshot { roles })
}

fn git(repo: &Path, args: &[&str]) -> Result<Vec<u8>, Error> {
    let failed = |message: String| Error::Git {
        args: args.join(" "),
        message,
    };
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .map_err(|e| failed(format!("could not run git: {e}")))?;
    if !output.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    Ok(output.stdout)
}

/// Fails clearly on a revision that does not exist (ls-tree on a missing path prints nothing).
fn check_revision(repo: &Path, rev: &str) -> Result<(), Error> {
    git(
        repo,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .map(|_| ())
    .map_err(|_| Error::Git {
        args: format!("rev-parse {rev}"),
        message: format!("no commit `{rev}` in {}", repo.display()),
    })
}

/// The snapshot in `dir` as committed at revision `rev` of the repository `dir` is in. `dir` is
/// relative to `repo` (the working directory git runs in). A directory missing at `rev` is an empty
/// snapshot; a revision that does not exist is an error.
pub fn from_git(repo: &Path, rev: &str, dir: &Path) -> Result<Snapshot, Error> {
    check_revision(repo, rev)?;
    let dir_text = dir.to_string_lossy();
    let dir_text = dir_text.trim_end_matches('/');
    let listing = git(
        repo,
        &[
            "ls-tree",
            "-z",
            "--name-only",
            rev,
            "--",
            &format!("{dir_text}/"),
        ],
    )?;
    let mut roles = BTreeMap::new();
    for path in listing
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .filter(|p| p.ends_with(".json"))
    {
        // `./` makes the path relative to the working directory, as ls-tree printed it.
        let text = git(repo, &["show", &format!("{rev}:./{path}")])?;
        let role = parse(&format!("{rev}:{path}"), &String::from_utf8_lossy(&text))?;
        roles.insert(role.role.clone(), role);
    }
    Ok(Snapshot { roles })
}

/// Every file under `dir` (subfolders included) as committed at revision `rev`, by its path
/// relative to `dir` with `/`: how `policy diff` and `diff --offline` read a base revision's
/// snapshots. `dir` is relative to `repo`. A directory missing at `rev` has no files; a revision
/// that does not exist is an error.
pub fn files_at(repo: &Path, rev: &str, dir: &Path) -> Result<BTreeMap<String, String>, Error> {
    check_revision(repo, rev)?;
    let dir_text = dir.to_string_lossy();
    let dir_text = dir_text.trim_end_matches('/');
    let listing = git(
        repo,
        &[
            "ls-tree",
            "-r",
            "-z",
            "--name-only",
            rev,
            "--",
            &format!("{dir_text}/"),
        ],
    )?;
    // ls-tree prints paths relative to the working directory; `dir` may be `./x` or `x`.
    let prefix = format!("{}/", dir_text.trim_start_matches("./"));
    let mut files = BTreeMap::new();
    for path in listing
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
    {
        // `./` makes the path relative to the working directory, as ls-tree printed it.
        let text = git(repo, &["show", &format!("{rev}:./{path}")])?;
        let name = path.strip_prefix(&prefix).unwrap_or(&path).to_owned();
        files.insert(name, String::from_utf8_lossy(&text).into_owned());
    }
    Ok(files)
}

/// The short name of a revision for reports (`abc1234`), or the revision as given when git cannot
/// shorten it.
pub fn short_rev(repo: &Path, rev: &str) -> String {
    git(repo, &["rev-parse", "--short", rev])
        .map(|out| String::from_utf8_lossy(&out).trim().to_owned())
        .unwrap_or_else(|_| rev.to_owned())
}
