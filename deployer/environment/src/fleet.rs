//! How many scraper instances an environment needs for its symbols and interval: the sizing advice
//! `deployer synth` prints as a hint (never an error: the figures are estimates).

use crate::Environment;

/// Pages one scraper instance is planned to fetch and parse per second. The scraper's parse benchmark
/// (`cargo bench -p scraper-bench --bench parse`, figures in docs/scraper.md) measures about 300 HTML
/// pages per second per core; a burstable `t3` instance sustains well under one core, and TLS, DNS and
/// retries cost on top, so the plan keeps a wide margin.
pub const PLANNED_PAGES_PER_SECOND_PER_INSTANCE: f64 = 50.0;

/// The pages per second the environment asks for: every symbol from every source once per interval.
pub fn pages_per_second(env: &Environment) -> f64 {
    (env.symbols.len() * env.scraper.sources.len()) as f64
        / f64::from(env.scraper.interval_seconds.max(1))
}

/// The fleet size that keeps each instance within [`PLANNED_PAGES_PER_SECOND_PER_INSTANCE`], capped at
/// [`scraper_config::MAX_SHARDS`].
pub fn recommended_instances(env: &Environment) -> u32 {
    let needed = (pages_per_second(env) / PLANNED_PAGES_PER_SECOND_PER_INSTANCE).ceil();
    // At most MAX_SHARDS (64) after the clamp, so the conversion is exact.
    needed.clamp(1.0, f64::from(scraper_config::MAX_SHARDS)) as u32
}

/// Sizing hints for `env`: one when it has fewer instances than recommended, one when the per-host
/// rate limit cannot serve every symbol within an interval whatever the fleet size.
pub fn hints(env: &Environment) -> Vec<String> {
    let mut hints = Vec::new();
    let pages = pages_per_second(env);
    let recommended = recommended_instances(env);
    if env.scraper.instances < recommended {
        hints.push(format!(
            "{} symbols from {} sources every {} s is {pages:.0} pages a second; at about {PLANNED_PAGES_PER_SECOND_PER_INSTANCE:.0} \
             per instance that needs {recommended} scraper instances, and `scraper.instances` is {}: \
             set `scraper.instances: {recommended}` (or raise `scraper.interval_seconds`)",
            env.symbols.len(),
            env.scraper.sources.len(),
            env.scraper.interval_seconds,
            env.scraper.instances,
        ));
    }
    // Sources per host: each asks the host for every symbol once per interval.
    let mut sources_per_host = std::collections::BTreeMap::<&str, usize>::new();
    for source in &env.scraper.sources {
        if let Some((_, host)) = scraper_config::decode::http_host(&source.url) {
            *sources_per_host.entry(host).or_default() += 1;
        }
    }
    let busiest = sources_per_host.values().copied().max().unwrap_or(1);
    // The fleet shares each host's rate, so more instances do not raise it.
    let per_host =
        (env.symbols.len() * busiest) as f64 / f64::from(env.scraper.interval_seconds.max(1));
    if per_host > env.scraper.requests_per_second_per_host {
        hints.push(format!(
            "every symbol once per interval and source needs {per_host:.1} requests a second to each source host, \
             above `scraper.requests_per_second_per_host: {}` (shared by the whole fleet): ticks will run \
             late; raise the rate limit if the source allows it, or raise `scraper.interval_seconds`",
            env.scraper.requests_per_second_per_host
        ));
    }
    hints
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use super::*;

    /// The shipped local environment with `symbols` symbols, `instances` instances, one source and a
    /// generous rate limit.
    fn env(symbols: usize, instances: u32, interval: u32) -> Environment {
        let file =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments/local.yaml");
        let mut env = crate::load(&file).unwrap();
        env.symbols = (0..symbols)
            .map(|i| quote_record::Symbol::parse(&format!("S{i}")).unwrap())
            .collect();
        env.scraper.instances = instances;
        env.scraper.interval_seconds = interval;
        env.scraper.sources.truncate(1);
        env.scraper.requests_per_second_per_host = 1000.0;
        env
    }

    #[test]
    fn a_rate_limit_below_the_need_is_named_whatever_the_fleet() {
        let mut slow = env(100, 1, 10);
        slow.scraper.requests_per_second_per_host = 2.0;
        let hints = hints(&slow);
        assert_eq!(hints.len(), 1, "{hints:?}");
        assert!(hints[0].contains("10.0 requests a second"), "{}", hints[0]);
    }

    #[test]
    fn the_recommendation_follows_pages_per_second() {
        // 10,000 symbols every 15 s from one source: 667 pages a second, 14 instances at 50 each.
        let big = env(10_000, 1, 15);
        assert_eq!(recommended_instances(&big), 14);
        let hints = hints(&big);
        assert_eq!(hints.len(), 1, "{hints:?}");
        assert!(
            hints[0].contains("set `scraper.instances: 14`"),
            "{}",
            hints[0]
        );
        assert!(super::hints(&env(10_000, 14, 15)).is_empty());
        assert_eq!(recommended_instances(&env(10, 1, 15)), 1);
    }
}

#[cfg(test)]
mod instances_tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    fn local_with(instances: &str) -> String {
        let file =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments/local.yaml");
        std::fs::read_to_string(file).unwrap().replace(
            "scraper:\n",
            &format!("scraper:\n  instances: {instances}\n"),
        )
    }

    #[test]
    fn instances_default_to_one_and_read_back() {
        let file =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments/local.yaml");
        assert_eq!(crate::load(&file).unwrap().scraper.instances, 1);
        let env = crate::parse("local.yaml", &local_with("2")).unwrap();
        assert_eq!(env.scraper.instances, 2);
    }

    #[test]
    fn a_shard_without_symbols_and_an_out_of_range_count_are_positioned_errors() {
        let text = local_with("16");
        let line = text.lines().position(|l| l == "  instances: 16").unwrap() + 1;
        let crate::LoadError::Invalid(problems) = crate::parse("local.yaml", &text).unwrap_err()
        else {
            panic!("expected problems")
        };
        let d = &problems.diagnostics()[0];
        assert_eq!((d.line, d.column), (line, 14));
        assert!(d.message.contains("leaves shard"), "{}", d.message);
        assert!(d.message.contains("(3 symbols in all)"), "{}", d.message);
        assert!(
            d.help
                .as_deref()
                .unwrap()
                .contains("lower `scraper.instances`")
        );
        let crate::LoadError::Invalid(problems) =
            crate::parse("local.yaml", &local_with("65")).unwrap_err()
        else {
            panic!("expected problems")
        };
        assert_eq!(problems.diagnostics().len(), 1);
    }
}
