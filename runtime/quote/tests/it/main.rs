//! Integration tests of the quote record: validation, arrival, properties and InfluxDB.
//!
//! One test binary for the crate (each file a module) so the crate and its dependencies are
//! linked once.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

mod arrival;
mod influxdb;
mod properties;
mod validation;
