//! Integration tests of the transform Lambda's handler against real servers started by `testkit`:
//! InfluxDB 1.x (v1 API), VictoriaMetrics (v2 API), moto (S3 quarantine, Secrets Manager token),
//! and a tiny local HTTP stub where a server must misbehave on cue (401, 500, refused points);
//! `permissions` runs the binary under its own role on a moto that enforces IAM.
//!
//! Every test drives `transform::handle` with `KinesisEvent`s deserialized from JSON shaped like
//! the events Lambda delivers (`fixtures/kinesis_quotes.json`, made by `fixtures/make_fixtures.py`).

#![allow(clippy::unwrap_used)]

mod bisect;
mod common;
mod failures;
mod influx1;
mod permissions;
mod runtime_api;
mod stub;
mod time_sanity;
mod token;
mod victoria;
