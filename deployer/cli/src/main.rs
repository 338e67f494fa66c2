//! `deployer`: synthesizes, reviews and deploys the MyStockTracker pipeline.

fn main() {}
