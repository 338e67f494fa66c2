//! The quote record of the MyStockTracker pipeline (schema version 1, see DESIGN.md).
//!
//! Every component uses this one definition of the record, its validation and its encodings.

mod symbol;

pub use symbol::{Symbol, SymbolError};
