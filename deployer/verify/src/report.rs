//! The report: one row per resource check, hop and the cleanup, printed as a table.

use std::fmt;
use std::time::Duration;

/// What a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// A resource check.
    Check,
    /// A hop of the canary.
    Hop,
    /// Removing the canary.
    Cleanup,
}

/// A row's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// As expected.
    Passed,
    /// Not as expected.
    Failed {
        /// What was expected where, and what was found.
        problem: String,
        /// What to look at.
        hint: String,
    },
    /// Not checkable on the emulator: `deployer run` emulates this part (neither passed nor
    /// failed).
    Emulated,
    /// Not looked at, because an earlier hop failed.
    NotReached,
}

impl Outcome {
    /// A failure.
    pub fn failed(problem: impl Into<String>, hint: impl Into<String>) -> Outcome {
        Outcome::Failed {
            problem: problem.into(),
            hint: hint.into(),
        }
    }

    fn word(&self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed { .. } => "FAILED",
            Outcome::Emulated => "emulated by `deployer run`",
            Outcome::NotReached => "not reached",
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Check, hop or cleanup.
    pub stage: Stage,
    /// What was checked, such as `function Transform` or `influxdb`.
    pub name: String,
    /// The result.
    pub outcome: Outcome,
    /// For hops: from putting the canary until the hop was seen.
    pub latency: Option<Duration>,
    /// What was found (or, for a failure, the problem).
    pub detail: String,
}

impl Row {
    /// A row without latency.
    pub fn new(
        stage: Stage,
        name: impl Into<String>,
        outcome: Outcome,
        detail: impl Into<String>,
    ) -> Row {
        Row {
            stage,
            name: name.into(),
            outcome,
            latency: None,
            detail: detail.into(),
        }
    }
}

/// The result of verifying one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The environment.
    pub environment: String,
    /// The region.
    pub region: String,
    /// Checks, then hops, then the cleanup.
    pub rows: Vec<Row>,
}

impl Report {
    /// An empty report.
    pub fn new(environment: &str, region: &str) -> Report {
        Report {
            environment: environment.to_owned(),
            region: region.to_owned(),
            rows: Vec::new(),
        }
    }

    /// True when no row failed (emulated rows are not failures).
    pub fn passed(&self) -> bool {
        self.first_broken().is_none()
    }

    /// The first failed row: a resource check, else the first broken hop, else the cleanup.
    pub fn first_broken(&self) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| matches!(r.outcome, Outcome::Failed { .. }))
    }
}

fn latency_text(latency: Option<Duration>) -> String {
    latency.map_or_else(|| "-".to_owned(), |l| format!("{:.1} s", l.as_secs_f64()))
}

impl fmt::Display for Report {
    /// The table, then one verdict line; a failure names the first broken row with what was
    /// expected where, and a hint.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "verify {} in {}:", self.environment, self.region)?;
        let cells: Vec<[String; 4]> = self
            .rows
            .iter()
            .map(|r| {
                let name = match r.stage {
                    Stage::Check => format!("check  {}", r.name),
                    Stage::Hop => format!("hop    {}", r.name),
                    Stage::Cleanup => format!("clean  {}", r.name),
                };
                [
                    name,
                    r.outcome.word().to_owned(),
                    latency_text(r.latency),
                    r.detail.clone(),
                ]
            })
            .collect();
        let header = ["what", "result", "latency", "detail"].map(str::to_owned);
        let mut widths = [0; 3];
        for row in std::iter::once(&header).chain(&cells) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(&cells) {
            let line = format!(
                "  {:<w0$}  {:<w1$}  {:>w2$}  {}",
                row[0],
                row[1],
                row[2],
                row[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            );
            writeln!(f, "{}", line.trim_end())?;
        }
        match self.first_broken() {
            None => writeln!(f, "verify passed: every check and hop is as expected"),
            Some(row) => {
                let (problem, hint) = match &row.outcome {
                    Outcome::Failed { problem, hint } => (problem.as_str(), hint.as_str()),
                    _ => ("", ""),
                };
                let what = match row.stage {
                    Stage::Check => "check",
                    Stage::Hop => "hop",
                    Stage::Cleanup => "cleanup",
                };
                writeln!(f, "verify FAILED at {what} {}: {problem}", row.name)?;
                writeln!(f, "  hint: {hint}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut r = Report::new("prod", "eu-west-1");
        r.rows.push(Row::new(
            Stage::Check,
            "function Transform",
            Outcome::Passed,
            "Active, last update Successful",
        ));
        r.rows.push(Row::new(
            Stage::Check,
            "delivery stream",
            Outcome::Emulated,
            "moto skips Firehose",
        ));
        let mut hop = Row::new(Stage::Hop, "influxdb", Outcome::Passed, "2 points");
        hop.latency = Some(Duration::from_millis(1500));
        r.rows.push(hop);
        r
    }

    #[test]
    fn emulated_rows_do_not_fail_and_the_first_failure_is_named() {
        let mut r = sample();
        assert!(r.passed());
        assert!(
            r.to_string()
                .ends_with("verify passed: every check and hop is as expected\n"),
            "{r}"
        );
        r.rows.push(Row::new(
            Stage::Hop,
            "raw",
            Outcome::failed("no raw object", "check Firehose"),
            "no raw object",
        ));
        r.rows.push(Row::new(
            Stage::Hop,
            "curated",
            Outcome::failed("no Parquet", "check to-parquet"),
            "",
        ));
        assert!(!r.passed());
        assert_eq!(r.first_broken().map(|b| b.name.as_str()), Some("raw"));
        let text = r.to_string();
        assert!(
            text.contains("verify FAILED at hop raw: no raw object\n  hint: check Firehose\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "  hop    influxdb            passed                        1.5 s  2 points\n"
            ),
            "{text}"
        );
        assert!(text.contains("emulated by `deployer run`"), "{text}");
    }
}
