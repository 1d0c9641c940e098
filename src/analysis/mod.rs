//! Analyses of what a dump does to traffic, beyond single findings.
//!
//! [`probability`] computes the exact distribution of outcomes of one new
//! connection entering a chain, following the kernel's evaluation order and
//! its quantised `--probability`; [`services`] recognises kube-proxy services
//! in a nat table and uses it to say where each service's traffic goes;
//! [`shares`] gives every rule the share of its service's traffic it carries.

pub mod probability;
pub mod services;
pub mod shares;
