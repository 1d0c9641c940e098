//! Reasoning about packets: which packets each rule matches ([`packets`]),
//! and which packets enter each chain and what becomes of them ([`context`]).
//!
//! The checks `unreachable-rule`, `shadowed-rule` and `missing-terminal`
//! read the [`Analysis`] of a dump, computed once per run and shared through
//! [`crate::checks::Context::analysis`].

pub mod context;
pub mod packets;

pub use context::{Analysis, ChainFlow, Exit, HiddenRun, Origin, Shadow, ShadowBasis, TableFlow};
pub use packets::{PacketSet, RuleSet};
