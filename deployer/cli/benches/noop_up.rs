//! Placeholder until the no-op benchmark lands.

fn main() {}
