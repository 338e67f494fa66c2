//! Test support shared by the end-to-end tests and the benchmark.

pub mod moto;
