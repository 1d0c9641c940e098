//! Asking the processor to start loading a chain's rules before a walk
//! reads them.
//!
//! The analyses read the rules of a large dump in an order that has
//! nothing to do with where they lie in memory: kube-proxy writes chains
//! sorted by name, so the `KUBE-SEP-*` chains of one service are scattered
//! over the whole model, and a walk that follows jumps waits for one cache
//! miss after another (the chain, its rules, each rule's matches). perf put
//! most of the time of the first function to read a rule in each analysis
//! on those loads. A prefetch of what a walk is about to read lets those
//! misses overlap with each other and with the work on the current chain.
//! A prefetch is only a hint: it never faults and changes no result.

use crate::model::Table;

/// Start loading the cache line at `pointer`.
#[inline(always)]
pub fn line<T>(pointer: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 reads nothing architecturally and never faults,
    // whatever the address; SSE is part of the x86_64 baseline.
    #[allow(unused_unsafe)]
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(pointer.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = pointer;
}

/// Rules of a chain whose matches are prefetched at once: enough for the
/// chains of a kube-proxy service, and a bound on the work of a prefetch
/// into a chain of thousands of rules, read one by one anyway.
const RULES_AHEAD: usize = 16;

/// Cache lines of one rule's match vector prefetched at once (four
/// matches: kube-proxy's rules have one to four).
const MATCH_LINES_AHEAD: usize = 6;

/// Cache lines of a chain's rule array prefetched at once: the whole of
/// the first four rules (a rule spans five lines; the walks read its target,
/// its match vector and its addresses, which lie in different lines).
const RULE_LINES_AHEAD: usize = 20;

/// Start loading the first `max_lines` cache lines of `items`.
fn lines_of<T>(items: &[T], max_lines: usize) {
    let start = items.as_ptr().cast::<u8>();
    for offset in (0..std::mem::size_of_val(items))
        .step_by(64)
        .take(max_lines)
    {
        line(start.wrapping_add(offset));
    }
}

/// The chains the first rules of chain `chain` jump or go to (reads its
/// record and rules).
fn callees<'t>(table: &'t Table<'_>, chain: usize) -> impl Iterator<Item = usize> + 't {
    table
        .chains
        .get(chain)
        .into_iter()
        .flat_map(|record| record.rules.iter().take(RULES_AHEAD))
        .filter_map(|rule| rule.jump_target())
}

/// One step of a walk along an order of chains, where `ahead(d)` is the
/// chain `d` places further in that order: ask for the record of the chain
/// three ahead, the rules of the one two ahead and the matches of the next
/// one, each step reading what the step before asked for.
pub fn walk_ahead(table: &Table<'_>, ahead: impl Fn(usize) -> Option<usize>) {
    if let Some(chain) = ahead(3) {
        chain_record(table, chain);
    }
    if let Some(chain) = ahead(2) {
        chain_rules(table, chain);
    }
    if let Some(chain) = ahead(1) {
        chain_matches(table, chain);
    }
}

/// Prefetch the matches of the first rules of chain `chain`, and the chain
/// records of the chains they jump to (read the chain's own record and
/// rule array, which should be on their way already: see [`chain_record`]
/// and [`chain_rules`]).
pub fn chain_matches(table: &Table<'_>, chain: usize) {
    let Some(record) = table.chains.get(chain) else {
        return;
    };
    for rule in record.rules.iter().take(RULES_AHEAD) {
        // A match is 96 bytes: a rule's matches span several lines.
        lines_of(&rule.matches, MATCH_LINES_AHEAD);
        if let Some(callee) = rule.jump_target() {
            chain_record(table, callee);
        }
    }
}

/// [`chain_matches`] of each chain the first rules of `chain` jump to
/// (reads their rules, prefetched by [`callee_rules`]).
pub fn callee_matches(table: &Table<'_>, chain: usize) {
    for callee in callees(table, chain) {
        chain_matches(table, callee);
    }
}

/// Prefetch the record of chain `chain` (its name, its rule vector).
pub fn chain_record(table: &Table<'_>, chain: usize) {
    if let Some(record) = table.chains.get(chain) {
        line(record);
    }
}

/// Prefetch the first rules of chain `chain` (reads its record).
pub fn chain_rules(table: &Table<'_>, chain: usize) {
    if let Some(record) = table.chains.get(chain) {
        lines_of(&record.rules, RULE_LINES_AHEAD);
    }
}

/// Prefetch the rule arrays of the chains the first rules of `chain` jump
/// to (reads their records, prefetched by [`chain_matches`]).
pub fn callee_rules(table: &Table<'_>, chain: usize) {
    for callee in callees(table, chain) {
        chain_rules(table, callee);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::build::build;

    #[test]
    fn any_chain_index_is_a_harmless_hint() {
        let src = "*nat\n:PREROUTING ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A PREROUTING -j A\n-A A -p tcp -m tcp --dport 80 -j B\n-A A -j C\n-A B -j DNAT --to-destination 10.0.0.1\nCOMMIT\n";
        let parsed = build(src);
        let table = &parsed.dump.tables[0];
        let before = format!("{table:?}");
        // Past the end, and a jump to an undeclared chain (`C`), included.
        for chain in 0..table.chains.len() + 2 {
            chain_record(table, chain);
            chain_rules(table, chain);
            chain_matches(table, chain);
            callee_rules(table, chain);
            callee_matches(table, chain);
        }
        chain_matches(table, usize::MAX);
        assert_eq!(format!("{table:?}"), before);
    }
}
