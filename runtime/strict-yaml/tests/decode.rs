//! Behaviour of the generic decoder: every problem collected, positioned and rendered.

use strict_yaml::{Decoder, Document, Problems};

/// Decodes a tiny `firehose`-like config: `name` (required string), `threads` (1-64), `verbose` (bool),
/// `ratio` (float), `names` (list of strings).
fn decode(text: &str) -> Result<(String, u32, bool), Problems> {
    let doc = Document::parse("cfg.yaml", text)?;
    let dec = Decoder::new(&doc);
    let out = dec.root_map().and_then(|root| {
        let name: Option<String> = root.required("name");
        let threads = root
            .optional_value("threads")
            .map_or(Some(4), |v| v.u32_in(1..=64));
        let verbose = root.optional_or("verbose", false);
        let _ratio: Option<f64> = root.optional("ratio");
        let _names: Option<Vec<String>> = root.optional("names");
        if let Some(section) = root.optional_value("buffering").and_then(|v| v.map()) {
            let _: u32 = section.optional_or("buffering_seconds", 60);
            let _: u32 = section.optional_or("buffering_mb", 64);
            section.finish();
        }
        root.finish();
        Some((name?, threads?, verbose))
    });
    dec.finish(out)
}

#[test]
fn decodes_valid_input_with_defaults() {
    assert_eq!(decode("name: a\n").unwrap(), ("a".into(), 4, false));
    assert_eq!(
        decode("name: a\nthreads: 8\nverbose: true\nratio: .5\nnames: [x, 'y']\n").unwrap(),
        ("a".into(), 8, true)
    );
}

#[test]
fn renders_unknown_key_like_rustc() {
    let err = decode("name: a\nbuffering:\n    bufering_seconds: 60\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "error: unknown key `bufering_seconds` in `buffering`\n \
         --> cfg.yaml:3:5\n  |\n3 |     bufering_seconds: 60\n  |     ^^^^^^^^^^^^^^^^\n  \
         = help: did you mean `buffering_seconds`?\n\nerror: cfg.yaml has 1 problem"
    );
    let d = &err.diagnostics()[0];
    assert_eq!((d.line, d.column, &d.file[..]), (3, 5, "cfg.yaml"));
    assert_eq!(d.span.bytes(), 23..39);
}

#[test]
fn lists_valid_keys_when_nothing_is_close() {
    let err = decode("name: a\ncolour: red\n").unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!(d.message, "unknown top-level key `colour`");
    assert_eq!(
        d.help.as_deref(),
        Some(
            "valid keys at the top level are `name`, `threads`, `verbose`, `ratio`, `names`, `buffering`"
        )
    );
}

#[test]
fn collects_every_problem_in_file_order() {
    let err = decode("threads: \"8\"\nverbose: yes\nratio: abc\nnames: x\nnmae: b\n").unwrap_err();
    let got: Vec<(usize, usize, &str)> = err
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.column, d.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                1,
                10,
                "expected an integer for `threads`, found the string \"8\""
            ),
            (
                2,
                10,
                "expected `true` or `false` for `verbose`, found the string \"yes\""
            ),
            (
                3,
                8,
                "expected a number for `ratio`, found the string \"abc\""
            ),
            (4, 8, "expected a list for `names`, found the string \"x\""),
            (5, 1, "unknown top-level key `nmae`"),
        ]
    );
    // The misspelt key explains the missing `name`: one problem, not two.
    assert_eq!(
        err.diagnostics()[4].help.as_deref(),
        Some("did you mean `name`?")
    );
    assert_eq!(
        err.diagnostics()[0].help.as_deref(),
        Some("remove the quotes: numbers are written without them")
    );
    assert!(err.to_string().ends_with("error: cfg.yaml has 5 problems"));
}

#[test]
fn reports_range_and_missing_keys() {
    let err = decode("threads: 0\n").unwrap_err();
    let got: Vec<(usize, usize, &str, Option<&str>)> = err
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.column, d.message.as_str(), d.help.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (
                1,
                1,
                "missing top-level key `name`",
                Some("add `name: <value>` at the top level")
            ),
            (
                1,
                10,
                "`threads` must be from 1 to 64, found 0",
                Some("set a value from 1 to 64")
            ),
        ]
    );
}

#[test]
fn rejects_duplicate_keys_naming_both_positions() {
    let err = decode("name: a\nbuffering:\n  buffering_mb: 64\n  buffering_mb: 65\n").unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!((d.line, d.column), (4, 3));
    assert_eq!(
        d.message,
        "duplicate key `buffering_mb` in `buffering`, first defined at line 3, column 3"
    );
}

#[test]
fn rejects_a_top_level_that_is_not_a_map() {
    let err = decode("- a\n- b\n").unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!((d.line, d.column), (1, 1));
    assert_eq!(
        d.message,
        "expected a map of settings at the top level, found a list"
    );
}

#[test]
fn reports_syntax_errors_with_position() {
    let err = decode("name: a\n  threads: [1\n").unwrap_err();
    let d = &err.diagnostics()[0];
    assert!(d.message.starts_with("invalid YAML: "), "{}", d.message);
    assert_eq!(d.line, 2);
    let err = decode("").unwrap_err();
    assert_eq!(err.diagnostics()[0].message, "the file is empty");
}

#[test]
fn rejects_aliases() {
    let err = decode("name: &n a\nnames: [*n]\n").unwrap_err();
    assert_eq!(
        err.diagnostics()[0].message,
        "YAML aliases are not supported"
    );
    assert_eq!(
        (err.diagnostics()[0].line, err.diagnostics()[0].column),
        (2, 9)
    );
}

/// The text of `key`'s value in a one-level map, cut from the document by its span.
#[allow(clippy::unwrap_used)] // a test helper: a panic is the failure
fn value_text(text: &str, key: &str) -> String {
    let doc = Document::parse("cfg.yaml", text).unwrap();
    let dec = Decoder::new(&doc);
    let value = dec.root_map().unwrap().get(key).unwrap();
    text[value.span().bytes()].to_owned()
}

#[test]
fn positions_are_exact_after_non_ascii_text_and_on_long_lines() {
    // After a two-byte character on the same line, and on a line after one.
    assert_eq!(value_text("{name: é, threads: 99}\n", "threads"), "99");
    assert_eq!(
        value_text("name: \"ü\" # ö\nthreads: 42\n", "threads"),
        "42"
    );
    assert_eq!(value_text("name: \"€\"\nthreads: 7", "threads"), "7");
    // A long ASCII line (a flow list of many items) before and after a non-ASCII one.
    let items: Vec<String> = (0..2000).map(|i| format!("S{i}")).collect();
    let text = format!(
        "names: [{}]\nname: é\nthreads: 3\nratio: [{}, x]\n",
        items.join(", "),
        items.join(", ")
    );
    assert_eq!(value_text(&text, "threads"), "3");
    let doc = Document::parse("cfg.yaml", &text).unwrap();
    let dec = Decoder::new(&doc);
    let root = dec.root_map().unwrap();
    for key in ["names", "ratio"] {
        let list = root.get(key).unwrap().items().unwrap();
        assert_eq!(&text[list[1999].span().bytes()], "S1999", "{key}");
    }
    let ratio = root.get("ratio").unwrap().items().unwrap();
    assert_eq!(&text[ratio[2000].span().bytes()], "x");
}
