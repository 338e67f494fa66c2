//! Integration tests of the notify Lambda's handler against moto (S3 objects and state, SNS).
//!
//! Every test drives `notify::handle` with `S3Event`s deserialized from JSON shaped like the
//! events S3 delivers, over Parquet objects written like the to-parquet Lambda writes them, and
//! reads the e-mails back from the messages moto recorded as published. `permissions` runs the
//! handler under its own role on a moto that enforces IAM.

#![allow(clippy::unwrap_used)]

mod common;
mod delivery;
mod moves;
mod permissions;
mod runtime_api;
mod time_sanity;
