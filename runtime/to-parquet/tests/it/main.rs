//! Integration tests of the to-parquet Lambda: conversion, S3 on moto, permissions and the runtime API.
//!
//! One test binary for the crate (each file a module) so the crate and its dependencies are
//! linked once.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

mod common;
mod convert;
mod large_object;
mod permissions;
mod runtime_api;
mod s3;
mod time_sanity;
