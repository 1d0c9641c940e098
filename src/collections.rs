//! Hash maps and sets with foldhash instead of std's SipHash.
//!
//! The keys hashed on hot paths (chain indexes, rule positions, short
//! names, addresses) come from the dump, not from a network peer, so
//! SipHash's resistance to hash flooding buys nothing here; callgrind on a
//! 1,000-service dump put SipHash at 16% of all instructions of `check`.
//! Like std's, the hasher is seeded per map, so no order is reproducible
//! across runs and nothing may depend on iteration order.

/// A [`std::collections::HashMap`] hashed with foldhash.
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A [`std::collections::HashSet`] hashed with foldhash.
pub type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
