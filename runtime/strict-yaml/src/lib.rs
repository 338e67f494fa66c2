//! Strict YAML decoding with positioned diagnostics.
