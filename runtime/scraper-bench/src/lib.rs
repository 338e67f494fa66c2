//! The scraper's benchmarks live in `benches/`; this library is empty (see `Cargo.toml` for why they
//! are a package of their own).
