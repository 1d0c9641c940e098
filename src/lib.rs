//! iptlint: a static analyzer and linter for `iptables-save` dumps.
//!
//! The pipeline: [`source`] reads bytes, [`syntax`] parses lines with the pest
//! grammar in `grammar/`, [`model`] gives them meaning, [`graph`] links the
//! chains, [`checks`] find problems, [`suppress`] and [`config`] decide which
//! findings are wanted, [`render`] prints them, and [`cli`] ties it together. [`lint`] runs the whole `check` pipeline for one or more files.
//! [`analysis`] reasons about the packets each chain sees, for the checks
//! that depend on it.

// pest is built without its `std` feature (see Cargo.toml), and the parser
// pest_derive generates then names `alloc` at the crate root.
extern crate alloc;

#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
mod allocator;

pub mod analysis;
pub mod baseline;
pub mod checks;
pub mod cli;
pub mod collections;
pub mod config;
pub mod diagnostics;
pub mod dot;
pub mod explain;
pub mod fingerprint;
pub mod generate;
pub mod graph;
pub mod lint;
pub mod model;
pub mod prefetch;
pub mod render;
pub mod source;
pub mod suppress;
pub mod syntax;
