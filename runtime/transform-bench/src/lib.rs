//! The transform Lambda's benchmark lives in `benches/`; this library is empty (see `Cargo.toml` for
//! why it is a package of its own).
