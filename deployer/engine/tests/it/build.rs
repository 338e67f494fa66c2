//! The artifact builder on a real (tiny) workspace: five runtime crates built in release mode,
//! checked for glibc, zipped reproducibly; and a workspace lacking them fails with their names.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use engine::artifacts::{ArtifactError, MAX_GLIBC, build, max_glibc};
use stacks::pipeline::ArtifactParameter;

fn workspace(name: &str, crates: &[&str]) -> PathBuf {
    let root = std::env::temp_dir().join(format!("mst-build-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let members: Vec<String> = crates.iter().map(|c| format!("\"{c}\"")).collect();
    std::fs::write(
        root.join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"3\"\nmembers = [{}]\n\n[profile.artifact]\ninherits = \"release\"\n",
            members.join(", ")
        ),
    )
    .unwrap();
    for name in crates {
        let dir = root.join(name).join("src");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            root.join(name).join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n{}",
                // The scraper's package and binary names differ, as in the real workspace.
                if *name == "scraper-daemon" {
                    "[[bin]]\nname = \"scraper\"\npath = \"src/main.rs\"\n"
                } else {
                    ""
                }
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("main.rs"),
            format!("fn main() {{ println!(\"{name}\"); }}\n"),
        )
        .unwrap();
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .arg("generate-lockfile")
        .arg("--offline")
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(status.success());
    root
}

fn target(root: &Path) -> PathBuf {
    root.join("target")
}

#[test]
fn runtime_crates_are_built_checked_and_zipped_reproducibly() {
    let root = workspace(
        "all",
        &[
            "transform",
            "to-parquet",
            "notify",
            "scraper-daemon",
            "vpn-connect",
        ],
    );
    let binary_glibc = {
        // What the host toolchain produces decides the expected outcome: the check must refuse a
        // binary needing more than 2.34 and accept the others.
        let result = build(&root, Some(&target(&root)));
        let transform = std::fs::read(target(&root).join("artifact/transform")).unwrap();
        (max_glibc(&transform).unwrap(), result)
    };
    match binary_glibc {
        (
            Some(found),
            Err(ArtifactError::GlibcTooNew {
                name,
                found: reported,
            }),
        ) => {
            assert!(found > MAX_GLIBC);
            assert_eq!(reported, found);
            assert_eq!(name, "transform");
        }
        (found, Ok(artifacts)) => {
            assert!(found.is_none_or(|f| f <= MAX_GLIBC), "{found:?}");
            let keys: Vec<String> = artifacts.iter().map(|a| a.key()).collect();
            assert_eq!(artifacts.len(), 5);
            assert!(
                keys[0].starts_with("transform/") && keys[0].ends_with(".zip"),
                "{keys:?}"
            );
            assert!(
                keys[3].starts_with("scraper/") && keys[3].ends_with(".bin"),
                "{keys:?}"
            );
            assert_eq!(artifacts[3].parameter, ArtifactParameter::Scraper);
            assert!(
                keys[4].starts_with("vpn-connect/") && keys[4].ends_with(".zip"),
                "{keys:?}"
            );
            // Building again gives the same keys: zips are reproducible.
            let again = build(&root, Some(&target(&root))).unwrap();
            assert_eq!(keys, again.iter().map(|a| a.key()).collect::<Vec<_>>());
        }
        other => panic!("unexpected: {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn missing_runtime_crates_are_named_with_the_way_out() {
    let root = workspace("missing", &["transform"]);
    let error = build(&root, Some(&target(&root))).unwrap_err();
    assert_eq!(
        error.to_string(),
        "runtime crate(s) `to-parquet`, `notify`, `scraper-daemon`, `vpn-connect` not found in the workspace: build them, or pass prebuilt files with --artifacts DIR (DIR/transform.zip, DIR/to-parquet.zip, DIR/notify.zip, DIR/scraper, DIR/vpn-connect.zip)"
    );
    let _ = std::fs::remove_dir_all(&root);
}
