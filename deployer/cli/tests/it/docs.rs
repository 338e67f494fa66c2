//! The documentation tells the truth about the CLI and about itself: every `deployer` command and
//! flag that README.md or a page under `docs/` shows (in code, where a reader copies from) exists in
//! that command's `--help`, and every relative link of every Markdown file resolves to a file.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Every Markdown file of the repository, outside build output and hidden folders.
fn markdown_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "target" || name == "out" {
                continue;
            }
            if path.is_dir() {
                walk(&path, found);
            } else if name.ends_with(".md") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&repo(), &mut found);
    found.sort();
    found
}

/// The user documentation: README.md and `docs/`.
fn user_docs() -> Vec<PathBuf> {
    let docs = repo().join("docs");
    markdown_files()
        .into_iter()
        .filter(|p| p.starts_with(&docs) || *p == repo().join("README.md"))
        .collect()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repo())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The code a page shows, with the line each piece starts on: fenced blocks line by line (a
/// trailing `\` joins the next line) and inline code spans.
fn code_of(markdown: &str) -> Vec<(usize, String)> {
    let mut code = Vec::new();
    let mut in_fence = false;
    let mut pending: Option<(usize, String)> = None;
    for (index, line) in markdown.lines().enumerate() {
        let number = index + 1;
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            let (start, mut joined) = pending.take().unwrap_or((number, String::new()));
            let text = line.trim_end();
            match text.strip_suffix('\\') {
                Some(head) => {
                    joined.push_str(head);
                    joined.push(' ');
                    pending = Some((start, joined));
                }
                None => {
                    joined.push_str(text);
                    code.push((start, joined));
                }
            }
            continue;
        }
        let mut spans = line.split('`');
        spans.next();
        while let Some(span) = spans.next() {
            code.push((number, span.to_string()));
            spans.next();
        }
    }
    code
}

/// A `deployer` invocation found in code: the subcommand words and the `--flags` after them.
#[derive(Debug)]
struct Invocation {
    words: Vec<String>,
    flags: Vec<String>,
}

/// Whether a shell word runs the deployer: `deployer`, a path ending in `/deployer`, `"$deployer"`.
fn is_deployer(word: &str) -> bool {
    let word = word.trim_matches(|c| matches!(c, '"' | '\'' | '$' | '{' | '}'));
    word == "deployer" || word.ends_with("/deployer")
}

/// `NAME=value`, a variable assignment before a command.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })
}

/// Shell words that end a command.
fn ends_command(word: &str) -> bool {
    matches!(
        word,
        "|" | "||" | "&&" | ";" | "#" | ">" | "2>" | ">>" | "&"
    ) || word.starts_with('#')
        || word.starts_with('>')
}

fn invocations(code: &str) -> Vec<Invocation> {
    let words: Vec<&str> = code.split_whitespace().collect();
    let mut found = Vec::new();
    for (i, word) in words.iter().enumerate() {
        // `cargo run -p deployer -- synth` runs it; `-p deployer` alone (a build) does not.
        if !is_deployer(word) {
            continue;
        }
        // A command starts a line (after a prompt or variable assignments) or follows a shell
        // operator; `deployer` elsewhere is prose or program output.
        let starts_command = words[..i]
            .iter()
            .rev()
            .all(|w| *w == "$" || is_assignment(w))
            || matches!(
                words[i - 1],
                "&&" | "||" | "|" | ";" | "(" | "then" | "do" | "time" | "exec" | "-p"
            );
        if !starts_command {
            continue;
        }
        let mut rest = words[i + 1..].iter().copied().peekable();
        if i > 0 && words[i - 1] == "-p" {
            if rest.peek() != Some(&"--") {
                continue;
            }
            rest.next();
        }
        let mut invocation = Invocation {
            words: Vec::new(),
            flags: Vec::new(),
        };
        let mut in_words = true;
        for word in rest {
            if ends_command(word) {
                break;
            }
            if let Some(flag) = word.strip_prefix("--") {
                in_words = false;
                let name = flag.split('=').next().unwrap_or_default();
                if !name.is_empty() {
                    invocation.flags.push(format!("--{name}"));
                }
            } else if in_words
                && invocation.words.len() < 2
                && word.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                && !word.starts_with('-')
            {
                invocation.words.push(word.to_string());
            } else {
                in_words = false;
            }
        }
        if !invocation.words.is_empty() || !invocation.flags.is_empty() {
            found.push(invocation);
        }
    }
    found
}

/// `deployer <words> --help`, cached; `None` when the command does not exist.
fn help(cache: &mut BTreeMap<Vec<String>, Option<String>>, words: &[String]) -> Option<String> {
    cache
        .entry(words.to_vec())
        .or_insert_with(|| {
            let output = Command::new(env!("CARGO_BIN_EXE_deployer"))
                .args(words)
                .arg("--help")
                .output()
                .unwrap();
            output
                .status
                .success()
                .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
        })
        .clone()
}

/// Whether `help` documents `flag` (as `--flag` not followed by more of a longer flag's name).
fn documents_flag(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(at, _)| {
        help[at + flag.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-'))
    })
}

/// The longest prefix of `words` that names an existing (sub)command, and its help.
fn command_of(
    cache: &mut BTreeMap<Vec<String>, Option<String>>,
    words: &[String],
) -> Result<(Vec<String>, String), String> {
    // `deployer help <command>` is clap's: it exists for every command that does.
    let words = words.strip_prefix(&["help".to_owned()]).unwrap_or(words);
    let top = help(cache, &[]).unwrap();
    let mut known = Vec::new();
    let mut known_help = top;
    for word in words {
        let mut candidate = known.clone();
        candidate.push(word.clone());
        match help(cache, &candidate) {
            Some(text) => {
                known = candidate;
                known_help = text;
            }
            // A positional value after a complete command (`deployer completions bash`) is fine;
            // an unknown first word is not.
            None if known.is_empty() => return Err(format!("no command `deployer {word}`")),
            None => break,
        }
    }
    Ok((known, known_help))
}

#[test]
fn every_command_and_flag_the_docs_show_exists_in_help() {
    let mut cache = BTreeMap::new();
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in user_docs() {
        let markdown = fs::read_to_string(&file).unwrap();
        for (line, code) in code_of(&markdown) {
            for invocation in invocations(&code) {
                checked += 1;
                let (command, text) = match command_of(&mut cache, &invocation.words) {
                    Ok(found) => found,
                    Err(problem) => {
                        problems.push(format!("{}:{line}: {problem}", relative(&file)));
                        continue;
                    }
                };
                for flag in &invocation.flags {
                    if !documents_flag(&text, flag) {
                        problems.push(format!(
                            "{}:{line}: `deployer {}` has no flag {flag} (see `deployer {} --help`)",
                            relative(&file),
                            command.join(" "),
                            command.join(" "),
                        ));
                    }
                }
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} invocations found: is the scan broken?"
    );
    assert!(
        problems.is_empty(),
        "the docs show commands or flags the deployer does not have:\n{}",
        problems.join("\n")
    );
}

/// The targets of inline links `[text](target)` on a page, with their line.
fn links_of(markdown: &str) -> Vec<(usize, String)> {
    let mut links = Vec::new();
    let mut in_fence = false;
    for (index, line) in markdown.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Outside inline code spans: `[a](b)` in code is not a link.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].split_whitespace().next().unwrap_or_default();
            links.push((index + 1, target.to_string()));
            rest = &after[end..];
        }
    }
    links
}

#[test]
fn every_relative_link_of_every_markdown_file_resolves() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        let markdown = fs::read_to_string(&file).unwrap();
        for (line, target) in links_of(&markdown) {
            let is_external = target.contains("://") || target.starts_with("mailto:");
            let path = target.split('#').next().unwrap_or_default();
            if is_external || path.is_empty() {
                continue;
            }
            checked += 1;
            let resolved = file.parent().unwrap().join(path);
            if !resolved.exists() {
                problems.push(format!(
                    "{}:{line}: link to {target} does not resolve",
                    relative(&file)
                ));
            }
        }
    }
    assert!(
        checked > 10,
        "only {checked} links found: is the scan broken?"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_scan_finds_commands_and_flags_and_stops_at_shell_operators() {
    let found = invocations(
        "cargo run -p deployer -- policy diff --env prod --format=markdown | tee out && deployer up --yes",
    );
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].words, ["policy", "diff"]);
    assert_eq!(found[0].flags, ["--env", "--format"]);
    assert_eq!(found[1].words, ["up"]);
    assert_eq!(found[1].flags, ["--yes"]);
    assert!(invocations("cargo build -p deployer --release").is_empty());
    assert!(
        invocations("the version the deployer checked (get-object --version-id)").is_empty(),
        "prose and program output are not commands"
    );
    assert_eq!(
        invocations("$ AWS_PROFILE=ci deployer diff --env prod")[0].words,
        ["diff"]
    );
    let joined = code_of("```sh\n\"$deployer\" synth \\\n  --check\n```\n");
    assert_eq!(invocations(&joined[0].1)[0].flags, ["--check"]);
}

#[test]
fn a_flag_the_help_lacks_or_an_unknown_command_is_reported() {
    let mut cache = BTreeMap::new();
    let (_, text) = command_of(&mut cache, &["synth".to_string()]).unwrap();
    assert!(documents_flag(&text, "--env"));
    assert!(!documents_flag(&text, "--no-such-flag"));
    assert!(
        !documents_flag(&text, "--en"),
        "a prefix of a flag is not the flag"
    );
    assert!(command_of(&mut cache, &["no-such-command".to_string()]).is_err());
    assert!(command_of(&mut cache, &["help".to_string(), "synth".to_string()]).is_ok());
    assert!(command_of(&mut cache, &["help".to_string(), "nope".to_string()]).is_err());
}
