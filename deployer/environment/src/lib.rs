//! The environment model: one YAML file per deployment target, decoded strictly and validated as a whole.

mod model;

pub use model::*;
