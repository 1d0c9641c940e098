//! Reasoning about packets and traffic.
//!
//! [`packets`] says which packets each rule matches, and [`context`] which
//! packets enter each chain and what becomes of them; the checks
//! `unreachable-rule`, `shadowed-rule` and `missing-terminal` read that
//! [`Analysis`], computed once per run and shared through
//! [`crate::checks::Context::analysis`]. [`probability`] computes the exact
//! distribution of outcomes of one new connection entering a chain,
//! following the kernel's evaluation order and its quantised
//! `--probability`; [`services`] recognises kube-proxy services in a nat
//! table and uses it to say where each service's traffic goes.

pub mod context;
pub mod packets;
pub mod probability;
pub mod services;

pub use context::{Analysis, ChainFlow, Exit, HiddenRun, Origin, Shadow, ShadowBasis, TableFlow};
pub use packets::{PacketSet, RuleSet};
