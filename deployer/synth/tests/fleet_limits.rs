//! An environment of 10,000 symbols (prod.yaml's regions and sources, 14 scraper instances, as the
//! environment check recommends) synthesizes within every limit `synthesize` checks: template sizes,
//! the 16 KB user data, the Glue projection parameters.
#![allow(clippy::unwrap_used)]

#[test]
fn ten_thousand_symbols_synthesize_within_every_limit() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../environments/prod.yaml");
    let mut env = environment::load(std::path::Path::new(path)).unwrap();
    env.symbols = (0..10_000)
        .map(|i| quote_record::Symbol::parse(&format!("T{i}")).unwrap())
        .collect();
    env.scraper.instances = environment::fleet::recommended_instances(&env);
    assert!(env.scraper.instances >= 14, "{}", env.scraper.instances);
    let synthesis = synth::synthesize(&env, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(synthesis.regions.len(), env.regions.len());
}
