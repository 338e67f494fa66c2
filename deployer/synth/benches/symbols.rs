//! Synthesis time against the number of symbols: `environments/prod.yaml` with its `symbols` list
//! replaced by N generated tickers (one flow list, as such a file is usually written), decoded and
//! synthesized in this process (no files written), for N = 1,000 to 20,000.
//!
//! `cargo bench -p synth --bench symbols` prints the figures; nothing is asserted. Linear growth
//! shows as a flat "per symbol" column.

use std::time::{Duration, Instant};

const SIZES: [usize; 5] = [1_000, 2_000, 5_000, 10_000, 20_000];
const RUNS: usize = 3;

/// The n-th generated ticker: `S` followed by base-26 letters (`SA`, `SB`, ..., `SAA`, ...).
fn ticker(mut n: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    letters.reverse();
    format!("S{}", String::from_utf8_lossy(&letters))
}

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../environments/prod.yaml");
    let base = std::fs::read_to_string(path).expect("environments/prod.yaml is readable");
    let line = base
        .lines()
        .find(|l| l.starts_with("symbols:"))
        .expect("prod.yaml has a `symbols:` line");
    println!("synthesis of prod.yaml (3 regions) with N symbols, best of {RUNS} runs:");
    println!(
        "{:>8} {:>12} {:>12} {:>12} {:>14}",
        "symbols", "decode ms", "synth ms", "total ms", "per symbol us"
    );
    for n in SIZES {
        let list: Vec<String> = (0..n).map(ticker).collect();
        let text = base.replace(line, &format!("symbols: [{}]", list.join(", ")));
        let mut best = (Duration::MAX / 4, Duration::MAX / 4);
        for _ in 0..RUNS {
            let started = Instant::now();
            let env = environment::parse("environments/prod.yaml", &text)
                .unwrap_or_else(|e| panic!("{e}"));
            let decoded = started.elapsed();
            // A limit may refuse so many symbols; the time to get there is what is measured.
            let _ = std::hint::black_box(synth::synthesize(&env, None));
            let total = started.elapsed();
            if total < best.0 + best.1 {
                best = (decoded, total - decoded);
            }
        }
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{n:>8} {:>12.1} {:>12.1} {:>12.1} {:>14.2}",
            ms(best.0),
            ms(best.1),
            ms(best.0 + best.1),
            (best.0 + best.1).as_secs_f64() * 1e6 / n as f64
        );
    }
}
