//! What is known about the packets entering each chain, and what each chain
//! does with them.
//!
//! Two linear passes over each table's jump graph, in the order of its
//! strongly connected components:
//!
//! 1. **Entry sets**, callers first. Built-in chains start from "any
//!    packet". Walking a chain's rules in order keeps the set of packets
//!    still being evaluated (rules that end evaluation for every packet they
//!    match remove those packets when the set difference is exact); a jump
//!    or goto passes what is left, narrowed by the rule's matches, to its
//!    target, where it is joined with what other callers pass. A chain
//!    nothing passes packets to (in a restore fragment, a chain no rule
//!    jumps to; otherwise a chain reached only through rules that never run,
//!    or nothing at all) starts from "any packet" too, with
//!    [`Origin::Unreached`] or [`Origin::FragmentRoot`] recording why. Loops
//!    are iterated and widened to "any packet" after [`WIDEN_AFTER`] changes.
//! 2. **Verdicts**, callees first. A chain *always ends with a verdict* when
//!    every packet of its entry set gets a terminating target (ACCEPT, DROP,
//!    DNAT, ...) in it or in the chains it jumps or goes to, so none comes
//!    back to its caller. The same walk, now knowing which called chains
//!    always end with a verdict, finds rules no packet reaches, rules an
//!    earlier rule shadows, and the ways packets leave a chain without a
//!    verdict ([`Exit`]).
//!
//! Targets that may change marks or conntrack state (MARK, CONNMARK, CT,
//! and any called chain) make the walk forget what it knew about those.

use crate::collections::HashMap;

use petgraph::graph::NodeIndex;
use rayon::prelude::*;

use super::packets::{Dim, PacketSet, RuleSet};
#[cfg(test)]
use crate::graph::{Callees, components_of};
use crate::graph::{ChainGraph, DumpGraph};
use crate::model::{Action, Dump, Family, Flow, Rule, Table, TableKind};
use crate::prefetch;

/// Changes of one chain's entry set inside a loop before it is widened to
/// "any packet".
pub const WIDEN_AFTER: u32 = 4;

/// Earlier rules looked at, per index bucket, when checking whether one
/// shadows a later rule. Bounds the work on huge chains; past it a shadowed
/// rule may go unreported, never the other way round.
pub const SHADOW_SCAN_LIMIT: usize = 64;

/// Non-terminating targets that change nothing iptlint models.
const PURE_TARGETS: &[&str] = &[
    "LOG",
    "NFLOG",
    "ULOG",
    "TRACE",
    "AUDIT",
    "NFACCT",
    "IDLETIMER",
    "LED",
    "RATEEST",
    "SET",
    "TEE",
];

/// Why a chain's entry set is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A built-in chain: any packet.
    Builtin,
    /// A chain of a restore fragment that no rule jumps to: its callers live
    /// outside the fragment, assumed to pass any packet.
    FragmentRoot,
    /// Packets come from callers whose own entry sets are known.
    Reached,
    /// Nothing known passes packets to it; analysed as if any packet entered.
    Unreached,
}

impl Origin {
    /// Whether the entry set reflects real callers (or a hook).
    pub fn is_known(self) -> bool {
        !matches!(self, Origin::Unreached)
    }
}

/// A way packets leave a chain without a verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Exit {
    /// A RETURN (at this rule index) may match.
    Return {
        /// Index of the rule.
        rule: usize,
    },
    /// A goto into a chain that does not always end with a verdict.
    Goto {
        /// Index of the rule.
        rule: usize,
        /// Index of the chain it goes to, when declared.
        target: Option<usize>,
    },
    /// Packets reach the end of the chain.
    FallsOff {
        /// The last rule that ended evaluation for some but perhaps not all
        /// of the packets reaching it.
        last_partial: Option<usize>,
        /// What is known about the packets that fall off.
        packets: PacketSet,
    },
}

/// A run of rules at the end of a chain that no packet reaches.
#[derive(Debug, Clone, PartialEq)]
pub struct HiddenRun {
    /// Index of the first rule never evaluated.
    pub first: usize,
    /// How many rules, from `first` to the end of the chain.
    pub count: usize,
    /// The rule after which no packet is left.
    pub hidden_by: usize,
    /// Whether `hidden_by` on its own matches every packet entering the chain
    /// (otherwise earlier rules took some packets first).
    pub alone: bool,
}

/// A rule that never fires because an earlier one takes all its packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shadow {
    /// Index of the shadowed rule.
    pub rule: usize,
    /// Index of the earlier rule.
    pub by: usize,
    /// What the containment rests on.
    pub basis: ShadowBasis,
}

/// Why an earlier rule matches every packet a later one does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShadowBasis {
    /// The matches alone: the earlier rule's contain the later rule's.
    Matches,
    /// Only for the packets that can enter the chain.
    Entry,
    /// Only for the packets other earlier rules leave.
    EarlierRules,
}

/// What the analysis found about one chain.
#[derive(Debug, Clone)]
pub struct ChainFlow {
    /// What is known about the packets entering it. Boxed: the analysis
    /// keeps one per chain from its first pass to the end, and handing the
    /// box over instead of moving a few hundred bytes into a second vector
    /// kept two copies of 22 MB from being alive at once on a
    /// 10,000-service dump (the run's peak).
    pub entry: Box<PacketSet>,
    /// Why.
    pub origin: Origin,
    /// Part of a jump loop: its entry set was widened, and the kernel
    /// refuses the table if a built-in chain reaches the loop.
    pub in_loop: bool,
    /// Every packet entering it gets a verdict in it or in chains it calls.
    pub verdict: bool,
    /// When `verdict`: the rule after which no packet is left.
    pub verdict_rule: Option<usize>,
    /// Ways packets leave without a verdict (empty when `verdict`).
    pub exits: Vec<Exit>,
    /// Rules at its end no packet reaches.
    pub hidden: Option<HiddenRun>,
    /// Rules shadowed by earlier ones.
    pub shadows: Vec<Shadow>,
}

/// The analysis of one table.
#[derive(Debug, Clone)]
pub struct TableFlow {
    /// Per chain, in the table's chain order.
    pub chains: Vec<ChainFlow>,
}

/// The analysis of a dump: one [`TableFlow`] per table, in table order.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Per table.
    pub tables: Vec<TableFlow>,
}

impl Analysis {
    /// Analyse every table of `dump` (in parallel). `src` is the text the
    /// dump was built from.
    pub fn of(src: &str, dump: &Dump<'_>, graph: &DumpGraph) -> Analysis {
        let tables = dump
            .tables
            .par_iter()
            .zip(graph.tables.par_iter())
            .map(|(table, graph)| analyse_table(src, table, graph, dump.family))
            .collect();
        Analysis { tables }
    }
}

/// Whether `name` is a kube-proxy chain whose job is to end evaluation with
/// a DNAT (in the nat table): KUBE-SEP, KUBE-SVC, KUBE-SVL, KUBE-EXT,
/// KUBE-FW, KUBE-XLB.
pub fn is_kube_service_chain(table: &Table<'_>, name: &str) -> bool {
    table.kind == TableKind::Nat
        && [
            "KUBE-SEP-",
            "KUBE-SVC-",
            "KUBE-SVL-",
            "KUBE-EXT-",
            "KUBE-FW-",
            "KUBE-XLB-",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// How a rule that matches ends the chain's evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Evaluation continues with the next rule (perhaps after a call).
    No,
    /// The packet leaves the chain without a verdict (RETURN, or a goto into
    /// a chain that may return).
    ChainOnly,
    /// The packet gets a verdict.
    Verdict,
}

fn ending(rule: &Rule<'_>, verdict: &dyn Fn(Option<usize>) -> bool) -> Ending {
    let target_verdict = || rule.target.as_ref().is_some_and(|t| verdict(t.chain));
    match rule.flow() {
        Flow::Continue => Ending::No,
        Flow::Terminate => Ending::Verdict,
        Flow::Return => Ending::ChainOnly,
        Flow::Goto if target_verdict() => Ending::Verdict,
        Flow::Goto => Ending::ChainOnly,
        Flow::Call if target_verdict() => Ending::Verdict,
        Flow::Call => Ending::No,
    }
}

/// Whether packets that match `rule` and go on may have changed marks or
/// conntrack state.
fn may_mutate(rule: &Rule<'_>) -> bool {
    match &rule.target {
        None => false,
        Some(target) => match (&target.action, rule.flow()) {
            (Action::Chain, Flow::Call) => true,
            (Action::Extension(_), Flow::Continue) => !PURE_TARGETS.contains(&target.name.as_ref()),
            _ => false,
        },
    }
}

/// An earlier rule that ends evaluation, kept to find rules it shadows.
struct Ender {
    rule: u32,
    set: PacketSet,
    /// The mutation epoch it was recorded in, when its set constrains what
    /// targets change (then it is stale after the next mutation).
    epoch: Option<u32>,
}

/// Below this many earlier ending rules, a plain list is faster than buckets.
const INDEX_AFTER: usize = 16;

/// Earlier ending rules indexed by the single value of their most
/// selective dimension, so that a later rule is compared only with the
/// earlier rules that can contain it. The maps exist only once a chain has
/// more than [`INDEX_AFTER`] ending rules.
#[derive(Default)]
struct ShadowIndex {
    enders: Vec<Ender>,
    general: Vec<u32>,
    maps: Option<Box<IndexMaps>>,
    epoch: u32,
}

#[derive(Default)]
struct IndexMaps {
    by_destination: HashMap<u128, Vec<u32>>,
    by_source: HashMap<u128, Vec<u32>>,
    by_port: HashMap<u128, Vec<u32>>,
}

impl ShadowIndex {
    /// The bucket an ender with `set` belongs in, once the maps exist.
    fn bucket<'m>(maps: &'m mut IndexMaps, set: &PacketSet) -> Option<&'m mut Vec<u32>> {
        if let Some(addr) = set.destination.single() {
            Some(maps.by_destination.entry(addr).or_default())
        } else if let Some(addr) = set.source.single() {
            Some(maps.by_source.entry(addr).or_default())
        } else {
            set.destination_ports
                .single()
                .map(|port| maps.by_port.entry(port).or_default())
        }
    }

    fn insert(&mut self, rule: usize, set: PacketSet) {
        let id = self.enders.len() as u32;
        if self.enders.len() < INDEX_AFTER {
            self.general.push(id);
        } else {
            if self.maps.is_none() {
                // From now on in buckets, the first few included.
                let mut maps = Box::<IndexMaps>::default();
                let mut general = Vec::new();
                for &earlier in &self.general {
                    match Self::bucket(&mut maps, &self.enders[earlier as usize].set) {
                        Some(bucket) => bucket.push(earlier),
                        None => general.push(earlier),
                    }
                }
                self.general = general;
                self.maps = Some(maps);
            }
            let maps = self.maps.as_mut().expect("just made");
            match Self::bucket(maps, &set) {
                Some(bucket) => bucket.push(id),
                None => self.general.push(id),
            }
        }
        let epoch = set.constrains_mutable().then_some(self.epoch);
        self.enders.push(Ender {
            rule: rule as u32,
            set,
            epoch,
        });
    }

    /// The earliest recorded rule whose set contains `packets`, and its set.
    /// `keys` are `packets`' single destination, source and destination
    /// port, when single; `packets` is computed only when some earlier rule
    /// could contain it.
    fn find(
        &self,
        keys: [Option<u128>; 3],
        packets: impl FnOnce() -> PacketSet,
    ) -> Option<(usize, &PacketSet)> {
        let mut lists: Vec<&[u32]> = Vec::new();
        if let Some(maps) = &self.maps {
            for (key, map) in
                keys.iter()
                    .zip([&maps.by_destination, &maps.by_source, &maps.by_port])
            {
                if let Some(ids) = key.and_then(|key| map.get(&key)) {
                    lists.push(ids);
                }
            }
        }
        if !self.general.is_empty() {
            lists.push(&self.general);
        }
        if lists.is_empty() {
            return None;
        }
        let packets = packets();
        if packets.is_empty() {
            return None;
        }
        let mut best: Option<&Ender> = None;
        for ids in lists {
            for &id in ids.iter().take(SHADOW_SCAN_LIMIT) {
                let ender = &self.enders[id as usize];
                if best.is_some_and(|b| b.rule <= ender.rule) {
                    break;
                }
                if ender.epoch.is_some_and(|e| e != self.epoch) {
                    continue;
                }
                if packets.subset_of(&ender.set) {
                    best = Some(ender);
                    break;
                }
            }
        }
        best.map(|ender| (ender.rule as usize, &ender.set))
    }
}

/// What one walk over a chain's rules found.
#[derive(Debug, Default)]
pub struct Walk {
    /// Ways packets leave without a verdict.
    pub exits: Vec<Exit>,
    /// The rule after which no packet is left, if any.
    pub emptied_by: Option<usize>,
    /// Rules never reached.
    pub hidden: Option<HiddenRun>,
    /// Shadowed rules (only when asked for).
    pub shadows: Vec<Shadow>,
}

/// Walk the rules of `table.chains[chain]` for the packets `entry`.
///
/// `verdict(Some(i))` says whether chain `i` always ends with a verdict
/// (`verdict(None)`, whether a jump to an undeclared chain counts as one);
/// `on_jump(target, packets)`, when given, receives what each jump or goto
/// passes on;
/// shadows are looked for when `src` (the dump's text) is given.
pub fn walk_chain(
    table: &Table<'_>,
    family: Family,
    chain: usize,
    entry: &PacketSet,
    verdict: &dyn Fn(Option<usize>) -> bool,
    mut on_jump: Option<&mut dyn FnMut(usize, PacketSet)>,
    src: Option<&str>,
) -> Walk {
    let rules = &table.chains[chain].rules;
    let mut out = Walk::default();
    let mut remaining = entry.clone();
    // What reaches each rule before earlier rules take their share: the
    // entry set, widened by targets that change marks or conntrack state,
    // never narrowed. A rule nothing reaches is still shadowed by an earlier
    // rule that takes all it could match. Built only when needed.
    let mut reach_widened = false;
    let reach = |widened: bool| {
        let mut reach = entry.clone();
        if widened {
            reach.widen_mutable();
        }
        reach
    };
    let mut last_partial = None;
    let mut alone = false;
    // Earlier rules that end evaluation, made at the first one that has a
    // rule after it (none of them can shadow anything otherwise).
    let mut index: Option<ShadowIndex> = None;
    let mut epoch = 0u32;
    for (i, rule) in rules.iter().enumerate() {
        if remaining.is_empty() {
            if let Some(hidden_by) = out.emptied_by {
                out.hidden = Some(HiddenRun {
                    first: i,
                    count: rules.len() - i,
                    hidden_by,
                    alone,
                });
            }
            break;
        }
        let rule_set = RuleSet::of(rule, family);
        let end = ending(rule, verdict);
        // Whether some packet reaching this rule may match it.
        let may_match = remaining.intersects(&rule_set.set);
        let jump_target = rule.jump_target();
        if let (Some(index), Some(src)) = (&index, src)
            && !rule_set.opaque
        {
            let unreached;
            let base = if may_match {
                &remaining
            } else {
                unreached = reach(reach_widened);
                &unreached
            };
            let keys = [
                base.destination.meet(&rule_set.set.destination).single(),
                base.source.meet(&rule_set.set.source).single(),
                base.destination_ports
                    .meet(&rule_set.set.destination_ports)
                    .single(),
            ];
            if let Some((by, earlier)) = index.find(keys, || base.meet(&rule_set.set))
                && !rules[by].is_copy_of(rule, src)
            {
                let basis = if rule_set.set.subset_of(earlier) {
                    ShadowBasis::Matches
                } else if reach(reach_widened).meet(&rule_set.set).subset_of(earlier) {
                    ShadowBasis::Entry
                } else {
                    ShadowBasis::EarlierRules
                };
                out.shadows.push(Shadow { rule: i, by, basis });
            }
        }
        if may_match && end == Ending::ChainOnly {
            out.exits.push(match rule.flow() {
                Flow::Return => Exit::Return { rule: i },
                _ => Exit::Goto {
                    rule: i,
                    target: rule.target.as_ref().and_then(|t| t.chain),
                },
            });
        }
        if let Some(target) = jump_target
            && may_match
            && let Some(on_jump) = &mut on_jump
        {
            on_jump(target, remaining.meet(&rule_set.set));
        }
        if end != Ending::No {
            if rule_set.exact {
                remaining.subtract(&rule_set.set);
                if remaining.is_empty() {
                    out.emptied_by = Some(i);
                    alone = entry.subset_of(&rule_set.set);
                } else if may_match {
                    last_partial = Some(i);
                }
                if src.is_some() && i + 1 < rules.len() {
                    index
                        .get_or_insert_with(|| ShadowIndex {
                            epoch,
                            ..ShadowIndex::default()
                        })
                        .insert(i, rule_set.set);
                }
            } else if may_match {
                last_partial = Some(i);
            }
        } else if may_match && may_mutate(rule) {
            remaining.widen_mutable();
            epoch += 1;
            if let Some(index) = &mut index {
                index.epoch = epoch;
            }
            reach_widened = true;
        }
    }
    if out.hidden.is_none() && !remaining.is_empty() {
        out.exits.push(Exit::FallsOff {
            last_partial,
            packets: remaining,
        });
    }
    out
}

/// [`components_of`] the jump graph, for the tests.
#[cfg(test)]
fn components_callees_first(graph: &ChainGraph) -> Vec<Vec<NodeIndex>> {
    components_of(&Callees::of(graph))
        .iter()
        .map(<[NodeIndex]>::to_vec)
        .collect()
}

fn analyse_table(src: &str, table: &Table<'_>, graph: &ChainGraph, family: Family) -> TableFlow {
    let n = table.chains.len();
    // Reverse topological order: callees before callers.
    let callees = graph.callee_rows();
    let components = graph.components();
    let mut component_of = vec![0usize; n];
    for (c, component) in components.iter().enumerate() {
        for node in component {
            component_of[node.index()] = c;
        }
    }
    // Self-loops from one sequential pass over the edges: `find_edge` walks a
    // node's edge list, slow for KUBE-SERVICES' ten thousand jumps.
    let mut self_loop = vec![false; n];
    for edge in graph.graph.raw_edges() {
        if edge.source() == edge.target() {
            self_loop[edge.source().index()] = true;
        }
    }
    let cyclic = |component: &[NodeIndex]| component.len() > 1 || self_loop[component[0].index()];
    let fragment = table.is_fragment();

    // Whether a chain may give a verdict at all (a terminating target in it
    // or in a chain it jumps to), callees first; loops count as "may". A
    // chain none of whose callees may give one gets its final answer from
    // pass 1; the others are walked again in pass 2, so pass 1 spares them
    // the search for shadowed rules.
    let mut may_verdict = vec![false; n];
    // The chain `distance` places after the one at `c` in components order.
    let after = |c: usize, distance: usize| components.get(c + distance).map(|k| k[0].index());
    for (c, component) in components.iter().enumerate() {
        if let Some(next) = after(c, 2) {
            prefetch::chain_record(table, next);
        }
        if let Some(next) = after(c, 1) {
            prefetch::chain_rules(table, next);
        }
        let looping = cyclic(component);
        for node in component {
            let chain = node.index();
            may_verdict[chain] = looping
                || table.chains[chain]
                    .rules
                    .iter()
                    .any(|rule| match rule.flow() {
                        Flow::Terminate => true,
                        Flow::Call | Flow::Goto => {
                            rule.jump_target().is_some_and(|callee| may_verdict[callee])
                        }
                        Flow::Return | Flow::Continue => false,
                    });
        }
    }
    // Once per chain up front: walking petgraph's edge lists again for
    // each question was a third of this function's own time.
    let rewalked_chains: Vec<bool> = (0..n)
        .map(|chain| {
            callees
                .of_chain(chain)
                .iter()
                .any(|&callee| may_verdict[callee as usize])
        })
        .collect();
    let rewalked = |chain: usize| rewalked_chains[chain];

    // Pass 1, callers first: entry sets. Each chain is walked with its final
    // entry set and no known verdicts; that walk is already the answer for a
    // chain none of whose callees turns out to give a verdict.
    let mut entries: Vec<Option<Box<PacketSet>>> = vec![None; n];
    let mut origins: Vec<Origin> = vec![Origin::Unreached; n];
    let mut walks: Vec<Option<Walk>> = (0..n).map(|_| None).collect();
    let mut changes: Vec<u32> = vec![0; n];
    let mut queued = vec![false; n];
    for (i, chain) in table.chains.iter().enumerate() {
        if chain.builtin {
            entries[i] = Some(Box::new(PacketSet::any(family)));
            origins[i] = Origin::Builtin;
        }
    }
    let no_verdicts = |_: Option<usize>| false;
    // A chain nothing known passes packets to starts from "any packet".
    let seed = |chain: usize, entries: &mut [Option<Box<PacketSet>>], origins: &mut [Origin]| {
        entries[chain] = Some(Box::new(PacketSet::any(family)));
        let has_callers = graph.callers(chain).next().is_some();
        origins[chain] =
            if fragment && !has_callers && !is_kube_service_chain(table, &table.chains[chain].name)
            {
                Origin::FragmentRoot
            } else {
                Origin::Unreached
            };
    };
    // The chain `distance` places after the one at `c` in reverse order.
    let before =
        |c: usize, distance: usize| c.checked_sub(distance).map(|k| components[k][0].index());
    for (c, component) in components.iter().enumerate().rev() {
        prefetch::walk_ahead(table, |distance| before(c, distance));
        let looping = cyclic(component);
        // Members some caller outside the loop reached go first; the others
        // are seeded with "any packet" only if the loop leaves them unreached,
        // so that one unreached member does not flood the loop with "any".
        let mut work: Vec<usize> = component
            .iter()
            .map(|n| n.index())
            .filter(|&chain| entries[chain].is_some())
            .collect();
        if work.is_empty() {
            let first = component[0].index();
            seed(first, &mut entries, &mut origins);
            work.push(first);
        }
        for &chain in &work {
            queued[chain] = true;
        }
        let mut cursor = 0;
        loop {
            while let Some(chain) = work.pop() {
                queued[chain] = false;
                let known = origins[chain].is_known();
                let entry = entries[chain].take().expect("seeded");
                let mut to_self: Option<PacketSet> = None;
                let mut changed: Vec<usize> = Vec::new();
                let walk = walk_chain(
                    table,
                    family,
                    chain,
                    &entry,
                    &no_verdicts,
                    Some(&mut |target, packets| {
                        if target == chain {
                            match &mut to_self {
                                Some(existing) => {
                                    existing.absorb(&packets);
                                }
                                None => to_self = Some(packets),
                            }
                            return;
                        }
                        if known && origins[target] == Origin::Unreached {
                            origins[target] = Origin::Reached;
                        }
                        let grew = match &mut entries[target] {
                            slot @ None => {
                                *slot = Some(Box::new(packets));
                                true
                            }
                            Some(existing) => existing.absorb(&packets),
                        };
                        if grew && looping && component_of[target] == c {
                            changed.push(target);
                        }
                    }),
                    (!looping && !rewalked(chain)).then_some(src),
                );
                if !looping && !rewalked(chain) {
                    walks[chain] = Some(walk);
                }
                let mut entry = entry;
                if let Some(packets) = to_self
                    && entry.absorb(&packets)
                {
                    changed.push(chain);
                }
                entries[chain] = Some(entry);
                for target in changed {
                    // Inside a loop: walk the target again, widening to "any
                    // packet" once it has changed often enough.
                    changes[target] += 1;
                    if changes[target] > WIDEN_AFTER {
                        entries[target] = Some(Box::new(PacketSet::any(family)));
                    }
                    if !queued[target] && changes[target] <= WIDEN_AFTER + 1 {
                        queued[target] = true;
                        work.push(target);
                    }
                }
            }
            while cursor < component.len() && entries[component[cursor].index()].is_some() {
                cursor += 1;
            }
            match component.get(cursor).map(|n| n.index()) {
                Some(unreached) => {
                    seed(unreached, &mut entries, &mut origins);
                    queued[unreached] = true;
                    work.push(unreached);
                }
                None => break,
            }
        }
    }

    // Pass 2, callees first: verdicts. A chain is walked again only when
    // one of its callees always gives a verdict (or it is part of a loop).
    let mut verdicts = vec![false; n];
    let mut flows: Vec<Option<ChainFlow>> = (0..n).map(|_| None).collect();
    for (c, component) in components.iter().enumerate() {
        // Only the chains walked again read their rules here.
        let walked_again = |distance: usize| {
            components
                .get(c + distance)
                .filter(|next| rewalked(next[0].index()) || cyclic(next))
                .map(|next| next[0].index())
        };
        prefetch::walk_ahead(table, walked_again);
        let in_loop = cyclic(component);
        for node in component {
            let chain = node.index();
            let entry = entries[chain].take().expect("every chain has an entry set");
            let stale = callees
                .of_chain(chain)
                .iter()
                .any(|&callee| verdicts[callee as usize]);
            let walk = match walks[chain].take() {
                Some(walk) if !stale => walk,
                _ => {
                    let verdict_of = |target: Option<usize>| target.is_some_and(|t| verdicts[t]);
                    walk_chain(table, family, chain, &entry, &verdict_of, None, Some(src))
                }
            };
            let verdict = walk.exits.is_empty();
            verdicts[chain] = verdict;
            flows[chain] = Some(ChainFlow {
                entry,
                origin: origins[chain],
                in_loop,
                verdict,
                verdict_rule: if verdict { walk.emptied_by } else { None },
                exits: walk.exits,
                hidden: walk.hidden,
                shadows: walk.shadows,
            });
        }
    }
    TableFlow {
        chains: flows
            .into_iter()
            .map(|f| f.expect("every chain is in one component"))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::build::build;

    struct Fixture {
        src: String,
    }

    impl Fixture {
        fn new(src: &str) -> Self {
            Fixture {
                src: src.to_string(),
            }
        }

        fn with<R>(&self, f: impl FnOnce(&Table<'_>, &TableFlow) -> R) -> R {
            let parsed = build(&self.src);
            assert!(!parsed.has_syntax_errors(), "{:?}", parsed.diagnostics);
            let graph = DumpGraph::build(&parsed.dump);
            let analysis = Analysis::of(&self.src, &parsed.dump, &graph);
            f(&parsed.dump.tables[0], &analysis.tables[0])
        }
    }

    fn flow<'t>(table: &Table<'_>, flows: &'t TableFlow, name: &str) -> &'t ChainFlow {
        &flows.chains[table.chain_index(name).unwrap()]
    }

    const KUBE: &str = "*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-A - [0:0]
:KUBE-SEP-1 - [0:0]
:KUBE-SEP-2 - [0:0]
:KUBE-MARK-MASQ - [0:0]
-A PREROUTING -j KUBE-SERVICES
-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j KUBE-SVC-A
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-SVC-A ! -s 10.244.0.0/16 -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j KUBE-MARK-MASQ
-A KUBE-SVC-A -m statistic --mode random --probability 0.5 -j KUBE-SEP-1
-A KUBE-SVC-A -j KUBE-SEP-2
-A KUBE-SVC-A -j ACCEPT
-A KUBE-SEP-1 -s 10.244.0.5/32 -j KUBE-MARK-MASQ
-A KUBE-SEP-1 -p tcp -m tcp -j DNAT --to-destination 10.244.0.5:443
-A KUBE-SEP-2 -s 10.244.0.6/32 -j KUBE-MARK-MASQ
-A KUBE-SEP-2 -p tcp -m tcp -j DNAT --to-destination 10.244.0.6:443
COMMIT
";

    #[test]
    fn entry_sets_follow_the_jumps() {
        Fixture::new(KUBE).with(|table, flows| {
            assert!(flow(table, flows, "PREROUTING").entry.is_any());
            assert!(flow(table, flows, "KUBE-SERVICES").entry.is_any());
            let svc = flow(table, flows, "KUBE-SVC-A");
            assert_eq!(svc.entry.describe(), "tcp to 10.96.0.1/32 port 443");
            assert_eq!(svc.origin, Origin::Reached);
            let sep = flow(table, flows, "KUBE-SEP-1");
            assert_eq!(sep.entry.describe(), "tcp to 10.96.0.1/32 port 443");
            // KUBE-MARK-MASQ is called from the service and both endpoints.
            let masq = flow(table, flows, "KUBE-MARK-MASQ");
            assert!(masq.entry.protocols.contains(6) && !masq.entry.protocols.contains(17));
        });
    }

    #[test]
    fn verdicts_and_the_rule_after_the_last_jump() {
        Fixture::new(KUBE).with(|table, flows| {
            assert!(flow(table, flows, "KUBE-SEP-1").verdict);
            assert!(flow(table, flows, "KUBE-SEP-2").verdict);
            assert!(!flow(table, flows, "KUBE-MARK-MASQ").verdict);
            let svc = flow(table, flows, "KUBE-SVC-A");
            assert!(svc.verdict);
            assert_eq!(svc.verdict_rule, Some(2));
            let hidden = svc.hidden.as_ref().expect("the ACCEPT is never reached");
            assert_eq!((hidden.first, hidden.count, hidden.hidden_by), (3, 1, 2));
            assert!(hidden.alone);
            assert!(!flow(table, flows, "PREROUTING").verdict);
        });
    }

    #[test]
    fn a_dnat_for_the_wrong_protocol_does_not_end_evaluation() {
        let src = KUBE.replace(
            "-A KUBE-SEP-2 -p tcp -m tcp -j DNAT",
            "-A KUBE-SEP-2 -p udp -m udp -j DNAT",
        );
        Fixture::new(&src).with(|table, flows| {
            let sep = flow(table, flows, "KUBE-SEP-2");
            assert!(!sep.verdict);
            assert!(matches!(
                sep.exits.as_slice(),
                [Exit::FallsOff {
                    last_partial: None,
                    ..
                }]
            ));
            let svc = flow(table, flows, "KUBE-SVC-A");
            assert!(svc.verdict, "the ACCEPT takes what KUBE-SEP-2 returns");
            assert!(svc.hidden.is_none(), "the ACCEPT now runs");
        });
    }

    #[test]
    fn udp_services_are_not_tcp() {
        let src = KUBE
            .replace("-p tcp -m tcp --dport 443", "-p udp -m udp --dport 53")
            .replace("-p tcp -m tcp -j DNAT", "-p udp -m udp -j DNAT");
        Fixture::new(&src).with(|table, flows| {
            assert!(flow(table, flows, "KUBE-SEP-1").verdict);
            assert!(flow(table, flows, "KUBE-SVC-A").hidden.is_some());
        });
    }

    #[test]
    fn return_and_goto_exits() {
        let src = "*filter
:INPUT ACCEPT [0:0]
:A - [0:0]
:B - [0:0]
:C - [0:0]
-A INPUT -p tcp -g A
-A INPUT -j B
-A A -p tcp -m tcp --dport 22 -j RETURN
-A A -j DROP
-A B -j C
-A B -j DROP
-A C -m conntrack --ctstate ESTABLISHED -j ACCEPT
COMMIT
";
        Fixture::new(src).with(|table, flows| {
            let a = flow(table, flows, "A");
            assert_eq!(a.entry.describe(), "tcp");
            assert!(!a.verdict);
            assert_eq!(a.exits, vec![Exit::Return { rule: 0 }]);
            // B's entry set is what is left after the goto: not tcp.
            let b = flow(table, flows, "B");
            assert!(!b.entry.protocols.contains(6));
            assert!(b.verdict, "C may return but B drops what comes back");
            let c = flow(table, flows, "C");
            assert!(matches!(
                c.exits.as_slice(),
                [Exit::FallsOff {
                    last_partial: Some(0),
                    ..
                }]
            ));
        });
    }

    #[test]
    fn rules_after_complementary_rules_are_hidden() {
        let src = "*filter
:FORWARD DROP [0:0]
-A FORWARD -i eth0 -j ACCEPT
-A FORWARD ! -i eth0 -j DROP
-A FORWARD -j LOG
-A FORWARD -j ACCEPT
COMMIT
";
        Fixture::new(src).with(|_, flows| {
            let hidden = flows.chains[1].hidden.as_ref().unwrap();
            assert_eq!((hidden.first, hidden.count, hidden.hidden_by), (2, 2, 1));
            assert!(!hidden.alone);
        });
    }

    #[test]
    fn marks_are_forgotten_after_targets_that_change_them() {
        let src = "*mangle
:PREROUTING ACCEPT [0:0]
-A PREROUTING -m mark --mark 0x1 -j ACCEPT
-A PREROUTING -j MARK --set-mark 0x1
-A PREROUTING -m mark ! --mark 0x1 -j ACCEPT
-A PREROUTING -m mark --mark 0x1 -j ACCEPT
-A PREROUTING -j DROP
COMMIT
";
        Fixture::new(src).with(|_, flows| {
            let prerouting = &flows.chains[0];
            // After the MARK, both mark rules may match: nothing is hidden
            // until the pair of them, which covers every mark.
            let hidden = prerouting.hidden.as_ref().unwrap();
            assert_eq!(hidden.first, 4);
            // The third rule is not shadowed by the first: the MARK in
            // between changes the marks it looked at.
            assert!(prerouting.shadows.is_empty(), "{:?}", prerouting.shadows);
        });
    }

    #[test]
    fn shadowed_rules_are_found_through_the_index() {
        let src = "*filter
:INPUT ACCEPT [0:0]
-A INPUT -d 10.0.0.1/32 -p tcp -m tcp --dport 80 -j ACCEPT
-A INPUT -s 192.168.0.0/16 -j DROP
-A INPUT -p tcp -m multiport --dports 22,443 -j ACCEPT
-A INPUT -d 10.0.0.1/32 -p tcp -m tcp --dport 80 -j DROP
-A INPUT -s 192.168.1.0/24 -p udp -j ACCEPT
-A INPUT -p tcp -m tcp --dport 443 -j LOG
-A INPUT -p tcp -m tcp --dport 443 -j REJECT
-A INPUT -d 10.0.0.2/32 -p tcp -m tcp --dport 80 -j DROP
COMMIT
";
        Fixture::new(src).with(|_, flows| {
            let shadows: Vec<(usize, usize)> = flows.chains[0]
                .shadows
                .iter()
                .map(|s| (s.rule, s.by))
                .collect();
            // Rule 4 never matches because rule 1 took its sources; rules 5
            // and 6 (LOG too) see nothing that rule 2 has not accepted.
            assert_eq!(shadows, vec![(3, 0), (4, 1), (5, 2), (6, 2)]);
        });
    }

    #[test]
    fn loops_terminate() {
        let mut src = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
        for i in 0..50 {
            src.push_str(&format!(":C{i} - [0:0]\n"));
        }
        src.push_str("-A INPUT -j C0\n");
        for i in 0..50 {
            src.push_str(&format!(
                "-A C{i} -s 10.0.{i}.0/24 -j C{}\n-A C{i} -p tcp -j C{}\n",
                (i + 1) % 50,
                (i * 7) % 50
            ));
        }
        src.push_str("COMMIT\n");
        Fixture::new(&src).with(|_, flows| {
            assert!(flows.chains.iter().all(|c| !c.verdict));
        });
    }

    #[test]
    fn fragments_start_from_their_uncalled_chains() {
        let src = "*nat
:KUBE-SERVICES - [0:0]
:KUBE-SVC-A - [0:0]
:KUBE-SEP-1 - [0:0]
:KUBE-SEP-STALE - [0:0]
-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j KUBE-SVC-A
-A KUBE-SVC-A -j KUBE-SEP-1
-A KUBE-SEP-1 -p tcp -m tcp -j DNAT --to-destination 10.244.0.5:443
-A KUBE-SEP-STALE -p tcp -m tcp -j DNAT --to-destination 10.244.0.9:443
COMMIT
";
        Fixture::new(src).with(|table, flows| {
            assert_eq!(
                flow(table, flows, "KUBE-SERVICES").origin,
                Origin::FragmentRoot
            );
            assert_eq!(flow(table, flows, "KUBE-SVC-A").origin, Origin::Reached);
            assert!(flow(table, flows, "KUBE-SVC-A").verdict);
            // A stale endpoint chain's callers are unknown, not "anything".
            assert_eq!(
                flow(table, flows, "KUBE-SEP-STALE").origin,
                Origin::Unreached
            );
        });
    }

    #[test]
    fn components_come_callees_first() {
        // The pass order relies on callees coming before callers.
        let src = "*filter\n:INPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A INPUT -j A\n-A A -j B\nCOMMIT\n";
        let parsed = build(src);
        let graph = DumpGraph::build(&parsed.dump);
        let order: Vec<usize> = components_callees_first(&graph.tables[0])
            .into_iter()
            .flatten()
            .map(|n| n.index())
            .collect();
        let table = &parsed.dump.tables[0];
        let position = |name| {
            let chain = table.chain_index(name).unwrap();
            order.iter().position(|&c| c == chain).unwrap()
        };
        assert!(position("B") < position("A"));
        assert!(position("A") < position("INPUT"));
    }

    #[test]
    fn components_agree_with_kosaraju_and_come_in_order() {
        let mut rng = fastrand::Rng::with_seed(7);
        for round in 0..40 {
            let chains = 1 + rng.usize(..40);
            let mut src = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
            for i in 0..chains {
                src.push_str(&format!(":C{i} - [0:0]\n"));
            }
            for _ in 0..rng.usize(..chains * 3) {
                let (a, b) = (rng.usize(..chains), rng.usize(..chains));
                src.push_str(&format!("-A C{a} -j C{b}\n"));
            }
            src.push_str("-A INPUT -j C0\nCOMMIT\n");
            let parsed = build(&src);
            let graph = DumpGraph::build(&parsed.dump);
            let ours = components_callees_first(&graph.tables[0]);
            let normalise = |components: Vec<Vec<NodeIndex>>| {
                let mut sets: Vec<Vec<usize>> = components
                    .into_iter()
                    .map(|c| {
                        let mut c: Vec<usize> = c.into_iter().map(|n| n.index()).collect();
                        c.sort_unstable();
                        c
                    })
                    .collect();
                sets.sort();
                sets
            };
            let theirs = petgraph::algo::kosaraju_scc(&graph.tables[0].graph);
            assert_eq!(normalise(ours.clone()), normalise(theirs), "round {round}");
            let mut component_of = vec![0; graph.tables[0].graph.node_count()];
            for (c, component) in ours.iter().enumerate() {
                for node in component {
                    component_of[node.index()] = c;
                }
            }
            for edge in graph.tables[0].graph.raw_edges() {
                let (from, to) = (edge.source().index(), edge.target().index());
                assert!(component_of[to] <= component_of[from], "round {round}");
            }
        }
    }

    #[test]
    fn components_of_a_very_long_line_of_chains() {
        let n = 200_000;
        let mut src = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
        for i in 0..n {
            src.push_str(&format!(":C{i} - [0:0]\n"));
        }
        src.push_str("-A INPUT -j C0\n");
        for i in 0..n - 1 {
            src.push_str(&format!("-A C{i} -j C{}\n", i + 1));
        }
        src.push_str("COMMIT\n");
        let parsed = build(&src);
        let graph = DumpGraph::build(&parsed.dump);
        let components = components_callees_first(&graph.tables[0]);
        // One per chain: the line and the three built-in chains of filter.
        assert_eq!(components.len(), n + 3);
        // The last chain of the line comes first.
        let last = parsed.dump.tables[0]
            .chain_index(&format!("C{}", n - 1))
            .unwrap();
        assert_eq!(components[0], vec![NodeIndex::new(last)]);
        let analysis = Analysis::of(&src, &parsed.dump, &graph);
        assert!(analysis.tables[0].chains.iter().all(|c| !c.verdict));
    }
}
