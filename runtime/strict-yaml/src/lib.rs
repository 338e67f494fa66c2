//! Strict YAML decoding with positioned diagnostics.
//!
//! Configuration files written by people deserve better errors than "invalid type at line 3": this crate
//! parses YAML into a tree that keeps the position of every key and value ([`Document`]), and decodes it
//! with a [`Decoder`] that *collects* problems instead of stopping at the first one. Every map is read
//! through a [`MapReader`] that knows which keys the caller asked for, so keys nobody asked for are
//! reported as unknown, with a "did you mean" suggestion. Semantic checks of the caller report through the
//! same decoder, positioned at the offending value, so the user sees every problem of a file in one run,
//! rendered like rustc's diagnostics ([`Problems`]).
//!
//! ```
//! use strict_yaml::{Decoder, Document};
//!
//! let doc = Document::parse("app.yaml", "name: demo\nthreads: 4\n").unwrap();
//! let dec = Decoder::new(&doc);
//! let config = dec.root_map().map(|root| {
//!     let name: Option<String> = root.required("name");
//!     let threads: u32 = root.optional_or("threads", 1);
//!     root.finish();
//!     (name, threads)
//! });
//! let (name, threads) = dec.finish(config).unwrap();
//! assert_eq!((name.as_deref(), threads), (Some("demo"), 4));
//! ```

mod decode;
mod diagnostic;
mod node;
mod suggest;

pub use decode::{Decode, Decoder, MapReader, Value};
pub use diagnostic::{Diagnostic, Problems};
pub use node::{Document, Node, NodeKind, Pos, ScalarStyle, Span};
pub use suggest::{closest, did_you_mean};
