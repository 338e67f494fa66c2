//! One output convention for every command: `--output text` for people, `--output json` for
//! scripts. JSON output is one object per line, each starting with its schema,
//! `"schema": "mystocktracker.<command>/1"` (docs/deploying.md, "Output"), and a `type` saying what
//! the line is. The version is bumped on any incompatible change of that command's objects.

use serde_json::{Map, Value};

/// How a command prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// For people: plain lines (progress bars on a terminal where a command has them).
    #[default]
    Text,
    /// For scripts: one JSON object per line, each with its schema version.
    Json,
}

/// The `--output` option.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct OutputArgs {
    /// Output format: `text`, or `json` (one object per line, with a schema version).
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

/// The version of every command's JSON objects (the `N` of `mystocktracker.<command>/N`).
pub const JSON_VERSION: u32 = 1;

/// `object` as one JSON line of `command`'s output, its schema first.
pub fn json_line(command: &str, object: Value) -> String {
    let mut line = Map::new();
    line.insert(
        "schema".into(),
        Value::from(format!("mystocktracker.{command}/{JSON_VERSION}")),
    );
    match object {
        Value::Object(fields) => line.extend(fields),
        other => {
            line.insert("value".into(), other);
        }
    }
    Value::Object(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_starts_with_its_schema() {
        let line = json_line(
            "status",
            serde_json::json!({"type": "stack", "status": "CREATE_COMPLETE"}),
        );
        assert_eq!(
            line,
            r#"{"schema":"mystocktracker.status/1","type":"stack","status":"CREATE_COMPLETE"}"#
        );
    }
}
