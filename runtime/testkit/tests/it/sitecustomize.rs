//! `python/sitecustomize.py`'s changes to moto that must not change an answer, checked against
//! moto's own code in the tools virtualenv.

use std::process::Command;

/// Runs `python/checks/<script>` with the tools virtualenv's Python, asserts it exited 0 and
/// printed each of `expected`, and prints its report.
fn check(script: &str, expected: &[&str]) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python/checks")
        .join(script);
    let output = Command::new(testkit::tools_python())
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    for line in expected {
        assert!(stdout.contains(line), "expected {line:?} in:\n{stdout}");
    }
    println!("{stdout}");
}

/// Fix 6 (moto's Kinesis shard in time independent of its size) answers every read, and the
/// newest and oldest sequence numbers, exactly as moto's own implementation.
#[test]
fn the_kinesis_shard_fix_answers_as_motos_own_shard() {
    check("kinesis_shard.py", &["40000 reads answered as moto's own"]);
}

/// Fixes 7 and 8: moto's module list read once equals moto's own listing, and
/// `data.json?service=sns` answers exactly the full dump's `sns` part (with 0 and 2,000 S3 objects
/// held), while a query without `service` still answers moto's full dump.
#[test]
fn the_module_list_and_the_sns_dump_answer_as_motos_own_code() {
    check(
        "moto_dump_and_modules.py",
        &[
            "modules, as moto's own",
            "data.json?service=sns answered the full dump's sns part, with 0 and 2000 S3 objects held",
        ],
    );
}
